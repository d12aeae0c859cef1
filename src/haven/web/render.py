"""Rendering console pages: Jinja2 with autoescaping, and the CSRF cookie every form relies on."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from haven.security.csrf import CSRF_COOKIE, csrf_token_for

templates = Jinja2Templates(directory=Path(__file__).parent / "templates")


def render(
    request: Request, template: str, context: dict[str, Any] | None = None, status_code: int = 200
) -> HTMLResponse:
    csrf_token = csrf_token_for(request)
    response = templates.TemplateResponse(
        request,
        template,
        {"csrf_token": csrf_token, **(context or {})},
        status_code=status_code,
    )
    response.headers["cache-control"] = "no-store"
    if request.cookies.get(CSRF_COOKIE) != csrf_token:
        response.set_cookie(
            CSRF_COOKIE,
            csrf_token,
            httponly=True,
            samesite="strict",
            secure=request.app.state.runtime.settings.cookie_secure,
            path="/",
        )
    return response
