"""Realtime: the event bus and the WebSocket endpoints that carry its events to consoles."""
