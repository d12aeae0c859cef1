"""The demo phone: where one-time codes "arrive" when no real SMS or e-mail gateway is configured.

It exists only with ``HAVEN_CODE_SENDER=demo_phone``, which production settings refuse.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from haven.handoff.verifiers import Verifiers
from haven.kit.errors import NotFound
from haven.web.render import render

router = APIRouter(include_in_schema=False)


@router.get("/demo/phone", response_class=HTMLResponse)
async def demo_phone(request: Request) -> Response:
    verifiers: Verifiers = request.app.state.verifiers
    if verifiers.demo_phone is None:
        raise NotFound("there is no demo phone here")
    return render(request, "demo_phone.html", {"messages": verifiers.demo_phone.messages()})
