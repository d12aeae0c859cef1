"""Inbound: raw events stored once, then processed into conversations."""
