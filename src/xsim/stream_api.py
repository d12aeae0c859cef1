"""Filtered-stream routes (contract §4), app bearer token only, and their ``/_sim/stream`` hooks.

* ``GET  /2/tweets/search/stream/rules``: list rules (``ids``, ``max_results``, ``pagination_token``)
* ``POST /2/tweets/search/stream/rules``: ``{"add":[…]}``, ``{"delete":{"ids"|"values":[…]}}`` or
  ``?delete_all=true``; ``dry_run`` validates without changing anything
* ``GET  /2/tweets/search/stream``: the endless NDJSON stream (see :mod:`xsim.stream`)
* ``GET  /_sim/stream``, ``POST /_sim/stream/disconnect``: look at or cut the open connection
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictStr,
    StringConstraints,
    ValidationError,
    model_validator,
)

from xsim.api import app_guard
from xsim.auth import Principal
from xsim.config import ID_PATTERN
from xsim.errors import (
    JSON,
    PROBLEMS,
    ApiError,
    generic,
    invalid_body,
    invalid_parameter,
    invalid_request,
)
from xsim.paging import encode_token
from xsim.params import FIELD_PARAMS, TWEET_EXPANSIONS, check_id, int_in_range, reject_unknown, selection
from xsim.ratelimit import Endpoint
from xsim.render import iso_time
from xsim.rules import DeleteOutcome, NewRule
from xsim.simulator import Simulator, get_sim
from xsim.stream import TOO_MANY_CONNECTIONS, StreamResponse

router = APIRouter()
sim_router = APIRouter(prefix="/_sim/stream")
Sim = Annotated[Simulator, Depends(get_sim)]

MAX_RULES_PAGE = 1000
_RULES_GET_PARAMS = ("ids", "max_results", "pagination_token")
_RULES_POST_PARAMS = ("dry_run", "delete_all")
_STREAM_PARAMS = (*FIELD_PARAMS, "backfill_minutes")
_TOKEN = re.compile(r"[0-9a-z]{1,13}")


def _sent(sim: Simulator) -> str:
    return iso_time(datetime.fromtimestamp(sim.clock(), UTC))


def _flag(request: Request, name: str) -> bool:
    raw = request.query_params.get(name)
    if raw is None or raw.lower() == "false":
        return False
    if raw.lower() == "true":
        return True
    raise invalid_parameter(
        name, raw, f"The `{name}` query parameter value [{raw}] is not one of [true,false]"
    )


# -- rules ---------------------------------------------------------------------------------------

RuleId = Annotated[str, StringConstraints(strict=True, pattern=ID_PATTERN)]


class _RuleBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    value: StrictStr
    tag: StrictStr | None = None


class _DeleteBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    ids: list[RuleId] | None = Field(default=None, min_length=1)
    values: list[StrictStr] | None = Field(default=None, min_length=1)

    @model_validator(mode="after")
    def _one_selector(self) -> _DeleteBody:
        if (self.ids is None) == (self.values is None):
            raise ValueError("`delete` takes exactly one of `ids` or `values`")
        return self


class _RulesBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    add: list[_RuleBody] | None = Field(default=None, min_length=1)
    delete: _DeleteBody | None = None

    @model_validator(mode="after")
    def _one_action(self) -> _RulesBody:
        if (self.add is None) == (self.delete is None):
            raise ValueError("the body takes exactly one of `add` or `delete`")
        return self


def rule_cap(limit: int, existing: int, adding: int) -> ApiError:
    return ApiError(
        400,
        {
            "title": "RulesCapExceeded",
            "detail": (
                f"Adding {adding} rules to the {existing} in place would exceed the maximum of "
                f"{limit} rules. No rules were created."
            ),
            "type": PROBLEMS + "rule-cap",
        },
    )


@router.get("/2/tweets/search/stream/rules")
async def get_rules(
    request: Request, sim: Sim, _: Annotated[Principal, Depends(app_guard(Endpoint.STREAM_RULES_READ))]
) -> JSONResponse:
    params = request.query_params
    reject_unknown(params, _RULES_GET_PARAMS)
    max_results = int_in_range(params, "max_results", 1, MAX_RULES_PAGE, MAX_RULES_PAGE)
    rules = sim.rules.all()
    if "ids" in params:
        wanted = {check_id("ids", rule_id, kind="query") for rule_id in params["ids"].split(",")}
        rules = [rule for rule in rules if rule.id in wanted]
    token = params.get("pagination_token")
    if token is not None:
        if not _TOKEN.fullmatch(token):
            raise invalid_parameter(
                "pagination_token",
                token,
                f"The `pagination_token` query parameter value [{token}] is not a valid token",
            )
        after = int(token, 36)
        rules = [rule for rule in rules if int(rule.id) > after]
    page = rules[:max_results]
    meta: JSON = {"sent": _sent(sim), "result_count": len(page)}
    if len(rules) > max_results:
        meta["next_token"] = encode_token(page[-1].id)
    document: JSON = {"data": [rule.to_json() for rule in page]} if page else {}
    document["meta"] = meta
    return JSONResponse(document)


def _delete_response(sim: Simulator, outcome: DeleteOutcome) -> JSONResponse:
    document: JSON = {"errors": outcome.errors} if outcome.errors else {}
    document["meta"] = {"sent": _sent(sim), "summary": outcome.summary}
    return JSONResponse(document)


@router.post("/2/tweets/search/stream/rules")
async def change_rules(
    request: Request, sim: Sim, _: Annotated[Principal, Depends(app_guard(Endpoint.STREAM_RULES_WRITE))]
) -> JSONResponse:
    reject_unknown(request.query_params, _RULES_POST_PARAMS)
    dry_run = _flag(request, "dry_run")
    raw = await request.body()
    if _flag(request, "delete_all"):
        if raw.strip():
            raise invalid_request("`delete_all=true` deletes every rule and takes no request body")
        return _delete_response(sim, sim.rules.delete_all(dry_run=dry_run))
    try:
        body = _RulesBody.model_validate_json(raw)
    except ValidationError as error:
        raise invalid_body(error.errors()) from None

    if body.delete is not None:
        if body.delete.ids is not None:
            return _delete_response(sim, sim.rules.delete_ids(body.delete.ids, dry_run=dry_run))
        return _delete_response(sim, sim.rules.delete_values(body.delete.values or [], dry_run=dry_run))

    additions = [NewRule(rule.value, rule.tag) for rule in body.add or []]
    limit = sim.config.stream_rule_limit
    outcome = sim.rules.add(
        additions, max_rules=limit, max_length=sim.config.stream_rule_max_length, dry_run=dry_run
    )
    if outcome.over_cap:
        raise rule_cap(limit, len(sim.rules), len(additions))
    document: JSON = {}
    if outcome.created:
        document["data"] = [rule.to_json() for rule in outcome.created]
    if outcome.errors:
        document["errors"] = outcome.errors
    document["meta"] = {"sent": _sent(sim), "summary": outcome.summary}
    status = 201 if outcome.created and not dry_run else 200
    return JSONResponse(document, status_code=status)


# -- the stream ----------------------------------------------------------------------------------


@router.get("/2/tweets/search/stream")
async def filtered_stream(
    request: Request, sim: Sim, _: Annotated[Principal, Depends(app_guard(Endpoint.STREAM_CONNECT))]
) -> Response:
    params = request.query_params
    reject_unknown(params, _STREAM_PARAMS)
    fields = selection(params, TWEET_EXPANSIONS)
    backfill_minutes = int_in_range(params, "backfill_minutes", 0, 5, 0)
    connection = sim.stream.open(
        selection=fields,
        keepalive_seconds=lambda: sim.config.stream_keepalive_seconds,
        backfill_since=sim.clock() - 60 * backfill_minutes if backfill_minutes else None,
    )
    if connection is None:
        raise ApiError(429, TOO_MANY_CONNECTIONS)
    return StreamResponse(connection)


# -- /_sim/stream --------------------------------------------------------------------------------


class _DisconnectBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    #: ``error``: send the in-stream ``operational-disconnect`` line, then end the response;
    #: ``drop``: close the socket without a word.
    mode: Literal["error", "drop"] = "error"


def _stream_state(sim: Simulator) -> JSON:
    hub = sim.stream
    return {
        "connected": hub.connection is not None,
        "connections": hub.connections,
        "lines_sent": hub.lines_sent,
        "keepalives_sent": hub.keepalives_sent,
        "rules": len(sim.rules),
    }


@sim_router.get("")
async def stream_state(sim: Sim) -> JSON:
    """Whether a stream is connected, and what was sent since the last reset."""
    return _stream_state(sim)


@sim_router.post("/disconnect")
async def disconnect_stream(body: _DisconnectBody, sim: Sim) -> JSON:
    """Cut the open stream; 409 if none is open. Returns once the connection is closed."""
    if not await sim.stream.disconnect(body.mode):
        raise generic(409, "No stream connection is open")
    return _stream_state(sim)
