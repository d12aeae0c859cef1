"""The one-command demo: seed data, a customer scenario, and the process that runs it all."""
