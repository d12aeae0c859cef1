"""Customers and their identities per channel."""
