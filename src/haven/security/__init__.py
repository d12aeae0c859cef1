"""Passwords, secrets, sessions, CSRF and field encryption."""
