"""The agent console: server-rendered pages, their static files and the console WebSocket."""
