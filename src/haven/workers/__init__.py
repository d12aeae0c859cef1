"""Background work: mention pollers, the inbound pipeline, the outbox sender."""
