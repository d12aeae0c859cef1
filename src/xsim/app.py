"""The ASGI application: ``create_app()`` wires routes, error handlers and middleware."""

from __future__ import annotations

import logging
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from xsim import aaa, admin, api, dms, injection, pages, stream_api, traffic_api
from xsim.config import SimConfig
from xsim.connection import XsimApp
from xsim.errors import ApiError, generic, invalid_body, invalid_parameter
from xsim.middleware import BodySizeLimit, ResponseHeaders
from xsim.simulator import Simulator

log = logging.getLogger(__name__)


def create_app(config: SimConfig | None = None) -> FastAPI:
    """A fresh simulator; ``config`` defaults to ``SimConfig()`` (``XSIM_*`` environment)."""
    # XsimApp: FastAPI that can hang up on a client (timeout faults, dropped streams).
    app = XsimApp(title="xsim", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.sim = Simulator(config or SimConfig())
    app.include_router(api.router)
    app.include_router(admin.router)
    app.include_router(pages.router)
    app.include_router(dms.router)
    app.include_router(dms.sim_router)
    app.include_router(aaa.router)
    app.include_router(aaa.sim_router)
    app.include_router(stream_api.router)
    app.include_router(stream_api.sim_router)
    app.include_router(injection.router)
    app.include_router(traffic_api.router)
    aaa.close_on_shutdown(app, app.state.sim)
    app.mount("/static", StaticFiles(directory=Path(__file__).parent / "static"), name="static")

    app.exception_handler(ApiError)(_api_error)
    app.exception_handler(RequestValidationError)(_validation_error)
    app.exception_handler(StarletteHTTPException)(_http_error)
    app.exception_handler(Exception)(_unexpected_error)

    app.add_middleware(injection.RequestFaults)  # innermost: sees capped bodies, gets all headers
    app.add_middleware(BodySizeLimit)
    app.add_middleware(ResponseHeaders)  # outermost, so early refusals get the headers too
    return app


def _render(error: ApiError) -> JSONResponse:
    return JSONResponse(error.body, status_code=error.status, media_type=error.media_type)


async def _api_error(request: Request, error: ApiError) -> JSONResponse:
    return _render(error)


async def _validation_error(request: Request, error: RequestValidationError) -> JSONResponse:
    body_errors = []
    for detail in error.errors():
        source, *location = detail["loc"]
        if source != "body":
            name = ".".join(map(str, location))
            value = str(detail.get("input", ""))
            message = f"The `{name}` {source} parameter value [{value}] is invalid: {detail['msg']}"
            return _render(invalid_parameter(name, value, message))
        body_errors.append({**detail, "loc": tuple(location)})
    return _render(invalid_body(body_errors))


async def _http_error(request: Request, error: StarletteHTTPException) -> JSONResponse:
    return _render(generic(error.status_code))


async def _unexpected_error(request: Request, error: Exception) -> JSONResponse:
    log.exception("xsim: unhandled error on %s %s", request.method, request.url.path)
    return _render(generic(500))
