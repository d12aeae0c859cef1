"""``/2/webhooks`` and the Account Activity subscription routes (contract §7), plus ``/_sim/webhooks``.

Webhook administration and the subscription list, delete and count take the app bearer token
only; subscribing and checking a subscription act as the calling user. Refusals X names
(``CrcValidationFailed``, ``WebhookIdInvalid`` …) are 400 ``invalid-request`` problems whose
message reads ``<Reason>: <Details>``, as in X's webhook documentation.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, ValidationError

from xsim.api import app_guard, guard
from xsim.auth import AuthKind, Principal
from xsim.errors import (
    JSON,
    ApiError,
    invalid_body,
    invalid_parameter,
    invalid_request,
    unsupported_authentication,
)
from xsim.params import check_id, reject_unknown
from xsim.ratelimit import Endpoint
from xsim.simulator import Simulator, get_sim
from xsim.store import User
from xsim.webhooks import Webhook, WebhookError

router = APIRouter()
sim_router = APIRouter(prefix="/_sim")
Sim = Annotated[Simulator, Depends(get_sim)]

WEBHOOK_CONFIG_FIELDS = frozenset({"created_at", "id", "url", "valid"})


AppCaller = Annotated[Principal, Depends(app_guard(Endpoint.WEBHOOKS))]
ActivityApp = Annotated[Principal, Depends(app_guard(Endpoint.ACCOUNT_ACTIVITY))]
ActivityUser = Annotated[Principal, Depends(guard(Endpoint.ACCOUNT_ACTIVITY, only=AuthKind.USER))]


def refused(error: WebhookError) -> ApiError:
    return invalid_request(str(error))


def _webhook(sim: Simulator, webhook_id: str) -> Webhook:
    check_id("webhook_id", webhook_id)
    webhook = sim.webhooks.webhook(webhook_id)
    if webhook is None:
        raise refused(WebhookError("WebhookIdInvalid", f"No webhook with id {webhook_id} for this app."))
    return webhook


def _user(principal: Principal) -> User:
    if principal.user is None:  # the guard lets only users through
        raise unsupported_authentication()
    return principal.user


# -- /2/webhooks ---------------------------------------------------------------------------


class NewWebhook(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: str


@router.post("/2/webhooks")
async def create_webhook(request: Request, sim: Sim, _: AppCaller) -> JSONResponse:
    """Register a webhook after a passing CRC: 200 ``{"data": {id, url, valid, created_at}}``.

    The URL comes in the JSON body; X's own curl example also puts it in the query, which is
    accepted when there is no body.
    """
    reject_unknown(request.query_params, ("url",))
    raw = await request.body()
    if raw.strip() or "url" not in request.query_params:
        try:
            url = NewWebhook.model_validate_json(raw or b"{}").url
        except ValidationError as error:
            raise invalid_body(error.errors()) from None
    else:
        url = request.query_params["url"]
    try:
        webhook = await sim.webhooks.register(url)
    except WebhookError as error:
        raise refused(error) from None
    return JSONResponse({"data": webhook.to_json()})


@router.get("/2/webhooks")
async def list_webhooks(request: Request, sim: Sim, _: AppCaller) -> JSONResponse:
    params = request.query_params
    reject_unknown(params, ("webhook_config.fields",))
    for value in (params.get("webhook_config.fields") or "id").split(","):
        if value not in WEBHOOK_CONFIG_FIELDS:
            raise invalid_parameter(
                "webhook_config.fields",
                params["webhook_config.fields"],
                f"The `webhook_config.fields` query parameter value [{value}] is not one of "
                f"[{','.join(sorted(WEBHOOK_CONFIG_FIELDS))}]",
            )
    webhooks = sim.webhooks.webhooks()
    return JSONResponse(
        {"data": [webhook.to_json() for webhook in webhooks], "meta": {"result_count": len(webhooks)}}
    )


@router.put("/2/webhooks/{webhook_id}")
async def validate_webhook(webhook_id: str, sim: Sim, _: AppCaller) -> JSONResponse:
    """Re-run the CRC: ``{"data": {"valid": true|false}}`` (the docs' shape; the spec says ``attempted``)."""
    webhook = _webhook(sim, webhook_id)
    return JSONResponse({"data": {"valid": await sim.webhooks.validate(webhook)}})


@router.delete("/2/webhooks/{webhook_id}")
async def delete_webhook(webhook_id: str, sim: Sim, _: AppCaller) -> JSONResponse:
    webhook = _webhook(sim, webhook_id)
    sim.webhooks.delete(webhook.id)
    return JSONResponse({"data": {"deleted": True}})


# -- /2/account_activity -----------------------------------------------------------------


@router.post("/2/account_activity/webhooks/{webhook_id}/subscriptions/all")
async def subscribe(webhook_id: str, sim: Sim, principal: ActivityUser) -> JSONResponse:
    """Subscribe the calling user; the (optional, ``{}``) body is ignored."""
    user = _user(principal)
    webhook = _webhook(sim, webhook_id)
    try:
        sim.webhooks.subscribe(webhook, user.id)
    except WebhookError as error:
        raise refused(error) from None
    return JSONResponse({"data": {"subscribed": True}})


@router.get("/2/account_activity/webhooks/{webhook_id}/subscriptions/all")
async def check_subscription(webhook_id: str, sim: Sim, principal: ActivityUser) -> JSONResponse:
    user = _user(principal)
    webhook = _webhook(sim, webhook_id)
    return JSONResponse({"data": {"subscribed": user.id in webhook.subscriptions}})


@router.get("/2/account_activity/webhooks/{webhook_id}/subscriptions/all/list")
async def list_subscriptions(webhook_id: str, sim: Sim, _: ActivityApp) -> JSONResponse:
    webhook = _webhook(sim, webhook_id)
    return JSONResponse(
        {
            "data": {
                "application_id": sim.config.app_id,
                "webhook_id": webhook.id,
                "webhook_url": webhook.url,
                "subscriptions": [{"user_id": user_id} for user_id in webhook.subscriptions],
            }
        }
    )


@router.delete("/2/account_activity/webhooks/{webhook_id}/subscriptions/{user_id}/all")
async def unsubscribe(webhook_id: str, user_id: str, sim: Sim, _: ActivityApp) -> JSONResponse:
    webhook = _webhook(sim, webhook_id)
    check_id("user_id", user_id)
    try:
        sim.webhooks.unsubscribe(webhook, user_id)
    except WebhookError as error:
        raise refused(error) from None
    return JSONResponse({"data": {"subscribed": False}})


@router.get("/2/account_activity/subscriptions/count")
async def count_subscriptions(sim: Sim, _: ActivityApp) -> JSONResponse:
    """Counts as strings, as X sends them; every subscription is an "all activity" one."""
    return JSONResponse(
        {
            "data": {
                "account_name": "xsim",
                "provisioned_count": str(sim.config.subscription_limit),
                "subscriptions_count_all": str(sim.webhooks.subscription_count()),
                "subscriptions_count_direct_messages": "0",
            }
        }
    )


# -- /_sim/webhooks ------------------------------------------------------------------------


@sim_router.get("/webhooks")
async def webhooks_state(sim: Sim) -> JSON:
    """Webhooks with their subscriptions and counters, delivery totals and the latest outcomes."""
    return sim.webhooks.snapshot()


def close_on_shutdown(app: FastAPI, sim: Simulator) -> None:
    """Stop ``sim``'s delivery task when the app shuts down, around any lifespan it already has."""
    inner = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(running_app: Any) -> AsyncIterator[Any]:
        async with inner(running_app) as state:
            try:
                yield state
            finally:
                await sim.webhooks.aclose()

    app.router.lifespan_context = lifespan
