"""Domain errors that the web and API layers turn into clear responses."""

from __future__ import annotations


class HavenError(Exception):
    """Base for errors whose message is safe to show to the caller."""

    status_code = 400

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NotFound(HavenError):
    status_code = 404


class Forbidden(HavenError):
    status_code = 403


class Conflict(HavenError):
    status_code = 409


class Invalid(HavenError):
    status_code = 422
