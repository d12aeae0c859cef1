"""Messages in and out, and the outbox that carries outbound ones."""
