"""Console pages about the channels themselves: which paths listen, paused sending, API spend, and
the alert banner every page shows."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import select

from haven.alerts.service import open_alerts, resolve_alert
from haven.channels.x.settings import account_settings
from haven.kit.actor import Actor
from haven.kit.clock import utcnow
from haven.models import ChannelAccount, ChannelKind
from haven.usage import service as usage
from haven.web.auth import console_agent
from haven.web.deps import RuntimeDep, SessionDep
from haven.web.pages import csrf_protected
from haven.web.render import render

router = APIRouter()
CsrfChecked = Depends(csrf_protected)


@router.get("/channels", response_class=HTMLResponse)
async def channels(request: Request, session: SessionDep, runtime: RuntimeDep) -> Response:
    agent = await console_agent(session, request)
    brand_id = agent.brand_id
    accounts = (
        await session.scalars(
            select(ChannelAccount)
            .where(ChannelAccount.brand_id == brand_id, ChannelAccount.kind == ChannelKind.X)
            .order_by(ChannelAccount.handle)
        )
    ).all()
    now = utcnow()
    month_start = now.date().replace(day=1)
    report = await usage.report(
        session, brand_id=brand_id, since=month_start, prices=runtime.settings.x_prices
    )
    rows = [
        {
            "account": account,
            "paths": list(account_settings(account).ingest.model_dump().items()),
            "paused": account.send_paused_until is not None and account.send_paused_until > now,
        }
        for account in accounts
    ]
    return render(request, "channels.html", {"agent": agent, "accounts": rows, "report": report})


@router.get("/alerts/banner", response_class=HTMLResponse)
async def alert_banner(request: Request, session: SessionDep) -> Response:
    """The open alerts of the agent's brand, fetched by the console script on load and on change."""
    agent = await console_agent(session, request)
    alerts = await open_alerts(session, agent.brand_id)
    return render(request, "_alerts.html", {"alerts": alerts})


@router.post("/alerts/{alert_id}/resolve", dependencies=[CsrfChecked])
async def resolve(request: Request, session: SessionDep, alert_id: int) -> Response:
    agent = await console_agent(session, request)
    await resolve_alert(session, Actor.of(agent, via="console"), brand_id=agent.brand_id, alert_id=alert_id)
    return RedirectResponse("/inbox", status_code=303)
