"""Error bodies in the shapes the X API v2 returns them (contract §2).

Problems (RFC 7807 objects with ``type`` and ``title``) go out as
``application/problem+json``; the legacy v1.1 ``{"errors":[{"code",…}]}`` shape
(used by ``/oauth2/token``) as ``application/json``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from http import HTTPStatus
from typing import Any

JSON = dict[str, Any]

PROBLEMS = "https://api.twitter.com/2/problems/"
PROBLEM_JSON = "application/problem+json"


class ApiError(Exception):
    """An error response; raised anywhere in a request, rendered by the app's handler."""

    def __init__(self, status: int, body: JSON, *, media_type: str = PROBLEM_JSON) -> None:
        super().__init__(status, body)
        self.status = status
        self.body = body
        self.media_type = media_type


def generic(status: int, detail: str | None = None) -> ApiError:
    """The ``about:blank`` problem X uses for plain HTTP errors (401, 403, 404, 429 …)."""
    title = HTTPStatus(status).phrase
    return ApiError(
        status, {"title": title, "type": "about:blank", "status": status, "detail": detail or title}
    )


def unauthorized() -> ApiError:
    return generic(401)


def too_many_requests() -> ApiError:
    return generic(429)


def forbidden(detail: str) -> ApiError:
    return generic(403, detail)


def unsupported_authentication() -> ApiError:
    return ApiError(
        403,
        {
            "title": "Unsupported Authentication",
            "detail": (
                "Authenticating with OAuth 2.0 Application-Only is forbidden for this endpoint.  "
                "Supported authentication types are [OAuth 1.0a User Context, "
                "OAuth 2.0 User Context]."
            ),
            "type": PROBLEMS + "unsupported-authentication",
            "status": 403,
        },
    )


def app_only_authentication(used: str) -> ApiError:
    """403 for user auth (``used`` names it) on an endpoint that takes only the app bearer token."""
    return ApiError(
        403,
        {
            "title": "Unsupported Authentication",
            "detail": (
                f"Authenticating with {used} is forbidden for this endpoint.  "
                "Supported authentication types are [OAuth 2.0 Application-Only]."
            ),
            "type": PROBLEMS + "unsupported-authentication",
            "status": 403,
        },
    )


def not_authorized_for_resource(detail: str) -> ApiError:
    return ApiError(
        403,
        {
            "title": "Authorization Error",
            "detail": detail,
            "type": PROBLEMS + "not-authorized-for-resource",
            "status": 403,
        },
    )


def invalid_request(message: str, parameters: dict[str, list[str]] | None = None) -> ApiError:
    error: JSON = {"message": message}
    if parameters is not None:
        error["parameters"] = parameters
    return ApiError(
        400,
        {
            "errors": [error],
            "title": "Invalid Request",
            "detail": "One or more parameters to your request was invalid.",
            "type": PROBLEMS + "invalid-request",
        },
    )


def invalid_body(errors: Iterable[Mapping[str, Any]]) -> ApiError:
    """400 for a request body that is not JSON or does not fit the schema.

    ``errors`` are pydantic error dicts with locations relative to the body; they are
    written as JSON paths (``$.reply.in_reply_to_tweet_id``).
    """
    messages = []
    for error in errors:
        if error["type"] == "json_invalid":
            messages.append("Request body is not valid JSON")
            continue
        path = "$" + "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in error["loc"])
        messages.append(f"{path}: {error['msg']}")
    return invalid_request("; ".join(messages))


def invalid_parameter(name: str, value: str, message: str) -> ApiError:
    """400 for one bad query parameter, e.g. ``max_results=0``."""
    return invalid_request(message, {name: [value]})


def resource_not_found(resource_type: str, parameter: str, value: str) -> JSON:
    """A partial error: goes in ``errors`` of a 200 response."""
    return {
        "value": value,
        "detail": f"Could not find {resource_type} with {parameter}: [{value}].",
        "title": "Not Found Error",
        "resource_type": resource_type,
        "parameter": parameter,
        "resource_id": value,
        "type": PROBLEMS + "resource-not-found",
    }


def legacy(status: int, code: int, message: str, label: str | None = None) -> ApiError:
    """The v1.1 error shape, still served by ``/oauth2/token``."""
    error: JSON = {"code": code, "message": message}
    if label:
        error["label"] = label
    return ApiError(status, {"errors": [error]}, media_type="application/json")
