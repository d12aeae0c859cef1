"""Request fault injection (``/2/*`` only) and its controls, ``/_sim/faults``.

:class:`RequestFaults` sits just outside the routes. For each ``/2/*`` request it first waits
``latency_ms``, then asks :meth:`Faults.pick_error` whether to fail it:

* ``429``: X's 429 body with ``x-rate-limit-remaining: 0`` and a reset ``rate_limit_reset_seconds``
  ahead (``x-rate-limit-limit`` is the endpoint's real limit when the request reached its handler,
  else 0). The real counters are not touched.
* ``500`` / ``503``: the generic ``about:blank`` problem.
* ``timeout``: hold the request ``timeout_seconds`` (or until the client gives up), then close the
  connection without a byte (see :mod:`xsim.connection`).

For a write (POST, PUT, PATCH, DELETE), with probability ``after_effect_share`` the real handler
runs first and its answer is thrown away: the tweet *is* created, the client only sees the failure.
Such requests are counted as ``after_effect`` besides their kind. ``/_sim/*``, the pages, static
files and the token endpoints are never faulted.
"""

from __future__ import annotations

import asyncio
import math
from typing import Annotated

from fastapi import APIRouter, Depends
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from xsim.connection import drop_connection, wait_for_disconnect
from xsim.errors import JSON, PROBLEM_JSON, generic
from xsim.faults import FaultConfig, FaultKind, Faults
from xsim.middleware import remember_quota, remembered_quota
from xsim.ratelimit import Quota
from xsim.simulator import Simulator, get_sim

WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})

router = APIRouter(prefix="/_sim/faults")
Sim = Annotated[Simulator, Depends(get_sim)]


def faultable(path: str) -> bool:
    """Whether requests to ``path`` may be faulted: the v2 API, but not its token endpoints."""
    return path.startswith("/2/") and not path.startswith("/2/oauth2/")


async def _discard(message: Message) -> None:
    """The ``send`` of a handler whose answer is lost."""


async def _client_still_waiting(receive: Receive, seconds: float) -> bool:
    """Wait up to ``seconds``; False as soon as the client hangs up."""
    try:
        await asyncio.wait_for(wait_for_disconnect(receive), timeout=seconds)
    except TimeoutError:
        return True
    return False


class RequestFaults:
    """ASGI middleware injecting the configured request faults; see the module docstring."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not faultable(scope["path"]):
            await self.app(scope, receive, send)
            return
        sim: Simulator = scope["app"].state.sim
        faults = sim.faults
        config = faults.config
        if config.latency_ms:
            await asyncio.sleep(config.latency_ms / 1000)
        kind = faults.pick_error()
        if kind is None:
            await self.app(scope, receive, send)
            return
        if scope["method"] in WRITE_METHODS and faults.chance(config.after_effect_share):
            faults.record("after_effect")
            await self.app(scope, receive, _discard)
        if kind == "timeout":
            if await _client_still_waiting(receive, config.timeout_seconds):
                await drop_connection(scope, receive)
            return
        await self._failure(kind, scope, sim)(scope, receive, send)

    @staticmethod
    def _failure(kind: FaultKind, scope: Scope, sim: Simulator) -> JSONResponse:
        status = int(kind)
        if status == 429:
            known = remembered_quota(scope)
            quota = Quota(
                limit=known.limit if known else 0,
                remaining=0,
                reset=math.ceil(sim.clock()) + sim.faults.config.rate_limit_reset_seconds,
                exceeded=True,
            )
            remember_quota(Request(scope), quota)  # sent by ResponseHeaders, like a real 429
        error = generic(status)
        return JSONResponse(error.body, status_code=status, media_type=PROBLEM_JSON)


def _view(faults: Faults) -> JSON:
    return {"config": faults.config.model_dump(), "counts": dict(sorted(faults.counts.items()))}


@router.get("")
async def get_faults(sim: Sim) -> JSON:
    """The fault configuration in force and the faults injected since it was set."""
    return _view(sim.faults)


@router.post("")
async def set_faults(config: FaultConfig, sim: Sim) -> JSON:
    """Replace the whole configuration (unset fields take their defaults) and zero the counts."""
    sim.faults.configure(config)
    return _view(sim.faults)


@router.delete("")
async def clear_faults(sim: Sim) -> JSON:
    """Back to no faults at all."""
    sim.faults.reset()
    return _view(sim.faults)
