"""create_app(): routers, middleware, error pages and the lifespan that starts the runtime."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from sqlalchemy import text
from starlette.exceptions import HTTPException as StarletteHTTPException

from haven.api import v1
from haven.config import Settings, get_settings
from haven.handoff.verifiers import Verifiers
from haven.kit.errors import HavenError
from haven.migrate import current_revision, head_revision
from haven.realtime import console_ws
from haven.runtime import Runtime
from haven.security.throttle import SlidingWindowLimiter
from haven.web import admin_pages, channel_pages, chat_pages, demo_pages, handoff_pages, hooks, pages
from haven.web.auth import NotAuthenticated
from haven.web.render import render
from haven.web.security_headers import SecurityHeadersMiddleware
from haven.workers.runner import Workers

log = logging.getLogger(__name__)


def _wants_json(request: Request) -> bool:
    return request.url.path.startswith(("/api/", "/healthz", "/hooks/"))


def _error(request: Request, status_code: int, detail: str) -> Response:
    if _wants_json(request):
        return JSONResponse({"detail": detail}, status_code=status_code)
    return render(request, "error.html", {"status_code": status_code, "detail": detail}, status_code)


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(NotAuthenticated)
    async def not_authenticated(request: Request, _exc: NotAuthenticated) -> Response:
        if _wants_json(request):
            return JSONResponse(
                {"detail": "missing or invalid token"},
                status_code=401,
                headers={"WWW-Authenticate": "Bearer"},
            )
        return RedirectResponse("/login", status_code=303)

    @app.exception_handler(HavenError)
    async def haven_error(request: Request, exc: HavenError) -> Response:
        return _error(request, exc.status_code, exc.message)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError) -> Response:
        if _wants_json(request):
            errors = [
                {"loc": list(e.get("loc", ())), "msg": e.get("msg", ""), "type": e.get("type", "")}
                for e in exc.errors()
            ]
            return JSONResponse({"detail": errors}, status_code=422)
        return _error(request, 422, "The form was not filled in correctly.")

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        return _error(request, exc.status_code, str(exc.detail))


def create_app(settings: Settings | None = None, *, runtime: Runtime | None = None) -> FastAPI:
    """Build the ASGI app. Pass ``runtime`` to share one (and its settings) with other servers."""
    settings = runtime.settings if runtime else (settings or get_settings())

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        own_runtime = runtime is None
        app.state.runtime = runtime or Runtime.build(settings)
        if own_runtime:
            await app.state.runtime.start()
        workers = Workers(app.state.runtime) if settings.run_workers else None
        if workers:
            workers.start()
        try:
            yield
        finally:
            if workers:
                await workers.stop()
            await app.state.verifiers.aclose()
            if own_runtime:
                await app.state.runtime.close()

    app = FastAPI(
        title="Haven API",
        version="1",
        description="Social customer care for regulated businesses. Authenticate with "
        "`Authorization: Bearer <personal access token>` (see `haven token create`).",
        lifespan=lifespan,
        docs_url="/api/docs",
        redoc_url=None,
    )
    if runtime is not None:
        app.state.runtime = runtime
    app.state.login_limiter = SlidingWindowLimiter(
        settings.login_attempts_per_window, settings.login_window_seconds
    )
    app.state.handoff_limiter = SlidingWindowLimiter(
        settings.handoff_attempts_per_window, settings.handoff_window_seconds
    )
    app.state.verifiers = Verifiers.from_settings(settings)
    app.add_middleware(
        SecurityHeadersMiddleware,
        hsts=settings.public_base_url.startswith("https"),
        # The sign-in form's redirect goes to the bank's OpenID provider (CSP form-action covers it).
        form_targets=[settings.oidc_issuer] if settings.oidc_issuer else [],
    )
    _install_error_handlers(app)
    app.mount("/static", StaticFiles(directory=Path(__file__).parent / "web" / "static"), "static")
    app.include_router(pages.router)
    app.include_router(channel_pages.router)
    app.include_router(admin_pages.router)
    app.include_router(v1.router)
    app.include_router(console_ws.router)
    app.include_router(hooks.router)
    app.include_router(chat_pages.router)
    app.include_router(handoff_pages.router)
    app.include_router(demo_pages.router)

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", include_in_schema=False)
    async def readyz(request: Request) -> Response:
        rt: Runtime = request.app.state.runtime
        try:
            async with rt.database.reader() as session:
                await session.execute(text("SELECT 1"))
            revision = await current_revision(rt.database.engine)
        except Exception as exc:
            log.warning("readiness check failed: %s", type(exc).__name__)
            return JSONResponse({"status": "unavailable", "database": "unreachable"}, 503)
        if revision != head_revision():
            return JSONResponse(
                {
                    "status": "unavailable",
                    "database": "migrations pending",
                    "current": revision,
                    "head": head_revision(),
                },
                503,
            )
        return JSONResponse({"status": "ok", "revision": revision})

    return app
