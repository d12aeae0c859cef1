"""The bank's own secure chat as a channel: Haven is the network, so delivery is a stored event."""
