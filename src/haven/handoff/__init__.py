"""The secure handoff: invitations, identity verification, live chat, secure forms, satisfaction."""
