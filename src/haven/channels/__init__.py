"""Channels: how Haven reads from and writes to each network."""
