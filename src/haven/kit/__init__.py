"""Small generic helpers with no domain knowledge."""
