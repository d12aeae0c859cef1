"""Direct Messages v2 (contract §6): sending, reading and deleting DM events, user auth only.

Also the ``/_sim`` controls for DMs: ``POST``/``GET /_sim/dms`` (customers DM the brand, tests
list every event). A user's ``accepts_dms`` switch is ``PATCH /_sim/users/{username}`` (``admin``).
"""

from __future__ import annotations

import re
import unicodedata
from datetime import timedelta
from itertools import islice
from typing import Annotated, Literal, TypeVar

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from starlette.datastructures import QueryParams

from xsim.api import user_guard
from xsim.config import ID_PATTERN
from xsim.errors import (
    JSON,
    ApiError,
    forbidden,
    generic,
    invalid_body,
    invalid_parameter,
    invalid_request,
    not_authorized_for_resource,
    resource_not_found,
)
from xsim.paging import encode_token
from xsim.params import (
    OTHER_FIELD_PARAMS,
    check_id,
    csv_param,
    int_in_range,
    reject_unknown,
    selection,
)
from xsim.ratelimit import Endpoint
from xsim.render import iso_time, tweet_json, user_json
from xsim.simulator import Simulator, get_sim
from xsim.store import (
    ConversationNotFound,
    DmConversation,
    DmEvent,
    DmNotAllowed,
    DmToSelf,
    NotAParticipant,
    Store,
    UnknownParticipant,
    User,
    one_to_one_conversation_id,
)
from xsim.usage import charge_post

router = APIRouter()
sim_router = APIRouter(prefix="/_sim")
Sim = Annotated[Simulator, Depends(get_sim)]

MAX_DM_LENGTH = 10_000
#: DM events older than this are not returned (contract §6).
DM_WINDOW = timedelta(days=30)

DM_EVENT_FIELDS = frozenset(
    {
        "attachments", "created_at", "dm_conversation_id", "entities", "event_type", "id",
        "participant_ids", "referenced_tweets", "sender_id", "text",
    }
)  # fmt: skip
DM_EXPANSIONS = frozenset({"attachments.media_keys", "participant_ids", "referenced_tweets.id", "sender_id"})
EVENT_TYPES = ("MessageCreate", "ParticipantsJoin", "ParticipantsLeave")
_READ_PARAMS = (
    "dm_event.fields",
    "event_types",
    "expansions",
    "max_results",
    "pagination_token",
    "tweet.fields",
    "user.fields",
    *OTHER_FIELD_PARAMS,
)
_LOOKUP_PARAMS = ("dm_event.fields", "expansions", "tweet.fields", "user.fields", *OTHER_FIELD_PARAMS)
_CONVERSATION_ID = re.compile(r"[0-9]{1,19}(-[0-9]{1,19})?")
_TOKEN = re.compile(r"[0-9a-z]{1,13}")

DmUser = Annotated[User, Depends(user_guard(Endpoint.DM_SEND))]
DmReader = Annotated[User, Depends(user_guard(Endpoint.DM_READ))]


# -- request bodies ----------------------------------------------------------------------


class Attachment(BaseModel):
    model_config = ConfigDict(extra="forbid")

    media_id: str = Field(pattern=ID_PATTERN)


class MessageBody(BaseModel):
    """``{"text"}`` and/or ``{"attachments": [{"media_id"}]}``; X allows one attachment."""

    model_config = ConfigDict(extra="forbid")

    text: str | None = None
    attachments: list[Attachment] | None = Field(default=None, max_length=1)


class GroupBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    conversation_type: Literal["Group"]
    participant_ids: list[Annotated[str, Field(pattern=ID_PATTERN)]] = Field(min_length=2, max_length=49)
    message: MessageBody


_M = TypeVar("_M", bound=BaseModel)


def _parse(model: type[_M], raw: bytes) -> _M:
    """Parse the JSON body only after authentication, so that 401 comes before 400."""
    try:
        return model.model_validate_json(raw or b"{}")
    except ValidationError as error:
        raise invalid_body(error.errors()) from None


def checked_message(body: MessageBody, path: str = "$") -> tuple[str, tuple[str, ...]]:
    """The text and media ids of a message, or the 400 X answers for it."""
    text = body.text or ""
    media_ids = tuple(a.media_id for a in body.attachments or ())
    if not text.strip() and not media_ids:
        raise invalid_request(f"{path}: a message needs a non-blank `text` or one attachment")
    length = len(unicodedata.normalize("NFC", text))
    if length > MAX_DM_LENGTH:
        raise invalid_request(
            f"{path}.text: the message is {length} characters long; at most {MAX_DM_LENGTH} are allowed"
        )
    return text, media_ids


# -- sending -----------------------------------------------------------------------------


def _not_found(resource_type: str, parameter: str, value: str) -> ApiError:
    """A 404 Problem in X's ``resource-not-found`` shape."""
    return ApiError(404, resource_not_found(resource_type, parameter, value) | {"status": 404})


async def send_dm(
    sim: Simulator,
    sender: User,
    text: str,
    media_ids: tuple[str, ...] = (),
    *,
    recipient_id: str | None = None,
    conversation_id: str | None = None,
    source_app_id: str | None = None,
) -> tuple[DmConversation, DmEvent]:
    """Store a DM by X's rules, or raise the ``ApiError`` X would answer with."""
    if source_app_id is not None:  # sent through the API by an app, not typed on the page
        charge_post(sim)
    try:
        return await sim.store.send_dm(
            sender=sender,
            text=text,
            media_ids=media_ids,
            recipient_id=recipient_id,
            conversation_id=conversation_id,
            source_app_id=source_app_id,
        )
    except UnknownParticipant as error:
        raise _not_found("user", "participant_id", error.user_id) from None
    except ConversationNotFound:
        raise _not_found("dm_conversation", "dm_conversation_id", conversation_id or "") from None
    except NotAParticipant:
        raise not_authorized_for_resource("You are not a participant in this conversation.") from None
    except DmToSelf:
        raise invalid_parameter(
            "participant_id", recipient_id or "", "You cannot send a Direct Message to yourself."
        ) from None
    except DmNotAllowed:
        raise forbidden("You cannot send messages to this user.") from None


def created_response(
    request: Request, sim: Simulator, conversation: DmConversation, event: DmEvent
) -> JSONResponse:
    base = (sim.config.public_url or str(request.base_url)).rstrip("/")
    return JSONResponse(
        {"data": {"dm_conversation_id": conversation.id, "dm_event_id": event.id}},
        status_code=201,
        headers={"location": f"{base}/2/dm_events/{event.id}"},
    )


def _check_conversation_id(value: str) -> str:
    if not _CONVERSATION_ID.fullmatch(value):
        raise invalid_parameter(
            "dm_conversation_id",
            value,
            f"The `dm_conversation_id` path parameter value [{value}] does not match "
            "^([0-9]{1,19}-[0-9]{1,19}|[0-9]{1,19})$",
        )
    return value


@router.post("/2/dm_conversations/with/{participant_id}/messages")
async def send_to_participant(participant_id: str, request: Request, sim: Sim, user: DmUser) -> JSONResponse:
    check_id("participant_id", participant_id)
    text, media_ids = checked_message(_parse(MessageBody, await request.body()))
    conversation, event = await send_dm(
        sim, user, text, media_ids, recipient_id=participant_id, source_app_id=sim.config.app_id
    )
    return created_response(request, sim, conversation, event)


@router.post("/2/dm_conversations/{dm_conversation_id}/messages")
async def send_to_conversation(
    dm_conversation_id: str, request: Request, sim: Sim, user: DmUser
) -> JSONResponse:
    _check_conversation_id(dm_conversation_id)
    text, media_ids = checked_message(_parse(MessageBody, await request.body()))
    conversation, event = await send_dm(
        sim, user, text, media_ids, conversation_id=dm_conversation_id, source_app_id=sim.config.app_id
    )
    return created_response(request, sim, conversation, event)


@router.post("/2/dm_conversations")
async def create_group(request: Request, sim: Sim, user: DmUser) -> JSONResponse:
    body = _parse(GroupBody, await request.body())
    text, media_ids = checked_message(body.message, "$.message")
    try:
        conversation, event = await sim.store.create_group_dm(
            sender=user,
            participant_ids=body.participant_ids,
            text=text,
            media_ids=media_ids,
            source_app_id=sim.config.app_id,
        )
    except UnknownParticipant as error:
        raise _not_found("user", "participant_ids", error.user_id) from None
    except DmNotAllowed:
        raise forbidden("You cannot send messages to this user.") from None
    return created_response(request, sim, conversation, event)


@router.delete("/2/dm_events/{event_id}")
async def delete_dm_event(event_id: str, sim: Sim, user: DmUser) -> JSONResponse:
    check_id("event_id", event_id)
    event = sim.store.dm_event(event_id)
    if event is None or event.deleted or not _takes_part(sim.store, user, event.dm_conversation_id):
        return JSONResponse({"errors": [resource_not_found("dm_event", "event_id", event_id)]})
    if event.sender_id != user.id:
        raise forbidden("You can only delete Direct Messages you sent.")
    await sim.store.delete_dm_event(event)
    return JSONResponse({"data": {"deleted": True}})


# -- reading -----------------------------------------------------------------------------


def _takes_part(store: Store, user: User, conversation_id: str) -> bool:
    conversation = store.dm_conversation(conversation_id)
    return conversation is not None and user.id in conversation.participant_ids


def dm_event_json(event: DmEvent, fields: frozenset[str]) -> JSON:
    """A v2 DM event: ``id``, ``event_type`` and ``text`` always, the rest when asked for."""
    out: JSON = {"id": event.id, "event_type": event.event_type}
    if event.event_type == "MessageCreate":
        out["text"] = event.text
    if "created_at" in fields:
        out["created_at"] = iso_time(event.created_at)
    if "dm_conversation_id" in fields:
        out["dm_conversation_id"] = event.dm_conversation_id
    if "sender_id" in fields:
        out["sender_id"] = event.sender_id
    if "participant_ids" in fields and event.participant_ids:
        out["participant_ids"] = list(event.participant_ids)
    if "referenced_tweets" in fields and event.referenced_tweet_ids:
        out["referenced_tweets"] = [{"id": tweet_id} for tweet_id in event.referenced_tweet_ids]
    if "attachments" in fields and event.media_ids:
        out["attachments"] = {"media_keys": [f"3_{media_id}" for media_id in event.media_ids]}
    if "entities" in fields and (entities := event.entities.to_json()):
        out["entities"] = entities
    return out


class _DmSelection:
    def __init__(self, params: QueryParams) -> None:
        common = selection(params, DM_EXPANSIONS)
        self.tweet_fields = common.tweet_fields
        self.user_fields = common.user_fields
        self.expansions = common.expansions
        self.event_fields = csv_param(params, "dm_event.fields", frozenset(DM_EVENT_FIELDS)) or frozenset()


def _document(store: Store, events: list[DmEvent], chosen: _DmSelection, data: object) -> JSON:
    """``{"data", "includes"?, "errors"?}`` with the requested expansions."""
    user_ids: dict[str, None] = {}
    tweets: dict[str, None] = {}
    errors: list[JSON] = []
    for event in events:
        if "sender_id" in chosen.expansions:
            user_ids[event.sender_id] = None
        if "participant_ids" in chosen.expansions:
            user_ids.update(dict.fromkeys(event.participant_ids))
        if "referenced_tweets.id" in chosen.expansions:
            for tweet_id in event.referenced_tweet_ids:
                if store.live_tweet(tweet_id):
                    tweets[tweet_id] = None
                else:
                    errors.append(resource_not_found("tweet", "referenced_tweets.id", tweet_id))
    document: JSON = {"data": data}
    includes: JSON = {}
    users = [user for user_id in user_ids if (user := store.user(user_id))]
    if users:
        includes["users"] = [user_json(store, user, chosen.user_fields) for user in users]
    live = [tweet for tweet_id in tweets if (tweet := store.live_tweet(tweet_id))]
    if live:
        includes["tweets"] = [tweet_json(tweet, chosen.tweet_fields) for tweet in live]
    if includes:
        document["includes"] = includes
    if errors:
        document["errors"] = errors
    return document


def _page(sim: Simulator, params: QueryParams, conversation_ids: set[str] | None, user: User) -> JSON:
    """One page of the caller's DM events, newest first; ``None`` means all their conversations."""
    reject_unknown(params, _READ_PARAMS)
    chosen = _DmSelection(params)
    types = csv_param(params, "event_types", frozenset(EVENT_TYPES)) or frozenset(EVENT_TYPES)
    max_results = int_in_range(params, "max_results", 1, 100, 100)
    before: int | None = None
    token = params.get("pagination_token")
    if token is not None:
        if not _TOKEN.fullmatch(token):
            raise invalid_parameter(
                "pagination_token",
                token,
                f"The `pagination_token` query parameter value [{token}] is not valid",
            )
        before = int(token, 36)
    oldest = sim.clock() - DM_WINDOW.total_seconds()
    store = sim.store
    taking_part: dict[str, bool] = {}

    def visible(conversation_id: str) -> bool:
        if conversation_ids is not None and conversation_id not in conversation_ids:
            return False
        if conversation_id not in taking_part:
            taking_part[conversation_id] = _takes_part(store, user, conversation_id)
        return taking_part[conversation_id]

    matching = (
        event
        for event in store.live_dm_events_newest_first()
        if visible(event.dm_conversation_id)
        and event.event_type in types
        and event.created_at.timestamp() >= oldest
        and (before is None or int(event.id) < before)
    )
    selected = list(islice(matching, max_results + 1))
    events = selected[:max_results]
    if not events:
        return {"meta": {"result_count": 0}}
    document = _document(store, events, chosen, [dm_event_json(e, chosen.event_fields) for e in events])
    meta: JSON = {"result_count": len(events)}
    if len(selected) > max_results:
        meta["next_token"] = encode_token(events[-1].id)
    document["meta"] = meta
    return document


@router.get("/2/dm_events")
async def list_dm_events(request: Request, sim: Sim, user: DmReader) -> JSONResponse:
    return JSONResponse(_page(sim, request.query_params, None, user))


@router.get("/2/dm_events/{event_id}")
async def get_dm_event(event_id: str, request: Request, sim: Sim, user: DmReader) -> JSONResponse:
    params = request.query_params
    reject_unknown(params, _LOOKUP_PARAMS)
    check_id("event_id", event_id)
    chosen = _DmSelection(params)
    event = sim.store.dm_event(event_id)
    if event is None or event.deleted or not _takes_part(sim.store, user, event.dm_conversation_id):
        return JSONResponse({"errors": [resource_not_found("dm_event", "event_id", event_id)]})
    return JSONResponse(_document(sim.store, [event], chosen, dm_event_json(event, chosen.event_fields)))


@router.get("/2/dm_conversations/with/{participant_id}/dm_events")
async def list_with_participant(
    participant_id: str, request: Request, sim: Sim, user: DmReader
) -> JSONResponse:
    check_id("participant_id", participant_id)
    if sim.store.user(participant_id) is None:
        raise _not_found("user", "participant_id", participant_id)
    conversation_id = one_to_one_conversation_id(user.id, participant_id)
    return JSONResponse(_page(sim, request.query_params, {conversation_id}, user))


@router.get("/2/dm_conversations/{dm_conversation_id}/dm_events")
async def list_conversation(
    dm_conversation_id: str, request: Request, sim: Sim, user: DmReader
) -> JSONResponse:
    _check_conversation_id(dm_conversation_id)
    conversation = sim.store.dm_conversation(dm_conversation_id)
    if conversation is None:
        raise _not_found("dm_conversation", "dm_conversation_id", dm_conversation_id)
    if user.id not in conversation.participant_ids:
        raise not_authorized_for_resource("You are not a participant in this conversation.")
    return JSONResponse(_page(sim, request.query_params, {dm_conversation_id}, user))


# -- /_sim -------------------------------------------------------------------------------


class SimDm(BaseModel):
    """A DM sent as any user (no auth, no rate limit), by the same rules as the API.

    The sender is ``from_username`` or ``sender_id``; the recipient ``to_user_id``,
    ``recipient_id`` or ``to_username``, and the brand when none is given.
    """

    model_config = ConfigDict(extra="forbid")

    from_username: str | None = None
    sender_id: str | None = Field(default=None, pattern=ID_PATTERN)
    to_user_id: str | None = Field(default=None, pattern=ID_PATTERN)
    recipient_id: str | None = Field(default=None, pattern=ID_PATTERN)
    to_username: str | None = None
    text: str

    @model_validator(mode="after")
    def _one_each(self) -> SimDm:
        if (self.from_username is None) == (self.sender_id is None):
            raise ValueError("give exactly one of from_username and sender_id")
        if sum(v is not None for v in (self.to_user_id, self.recipient_id, self.to_username)) > 1:
            raise ValueError("give at most one of to_user_id, recipient_id and to_username")
        return self


def dm_record(store: Store, event: DmEvent) -> JSON:
    sender = store.user(event.sender_id)
    conversation = store.dm_conversation(event.dm_conversation_id)
    return {
        "id": event.id,
        "event_type": event.event_type,
        "dm_conversation_id": event.dm_conversation_id,
        "participant_ids": list(conversation.participant_ids) if conversation else [],
        "sender_id": event.sender_id,
        "sender_username": sender.username if sender else None,
        "text": event.text,
        "media_ids": list(event.media_ids),
        "created_at": iso_time(event.created_at),
        "source_app_id": event.source_app_id,
        "deleted": event.deleted,
    }


@sim_router.post("/dms", status_code=201)
async def sim_send_dm(body: SimDm, sim: Sim) -> JSONResponse:
    store = sim.store
    sender = (
        store.user_by_username(body.from_username) if body.from_username else store.user(body.sender_id or "")
    )
    if sender is None:
        raise generic(404, f"No sender {body.from_username or body.sender_id}")
    if body.to_username is not None:
        recipient = store.user_by_username(body.to_username)
        if recipient is None:
            raise _not_found("user", "to_username", body.to_username)
        recipient_id = recipient.id
    else:
        recipient_id = body.to_user_id or body.recipient_id or store.brand.id
    text, _ = checked_message(MessageBody(text=body.text))
    conversation, event = await send_dm(sim, sender, text, recipient_id=recipient_id)
    return JSONResponse(
        {"data": {"dm_conversation_id": conversation.id, "dm_event_id": event.id}}, status_code=201
    )


@sim_router.get("/dms")
async def sim_list_dms(
    sim: Sim,
    participant: str | None = None,
    conversation_id: Annotated[str | None, Query(pattern=f"^{_CONVERSATION_ID.pattern}$")] = None,
) -> JSON:
    """Every DM event, deleted ones included, oldest first; ``participant`` is an id or a username."""
    store = sim.store
    events = store.dm_events()
    if participant is not None:
        user = store.user(participant) or store.user_by_username(participant)
        if user is None:
            return {"dm_events": []}
        events = [e for e in events if _takes_part(store, user, e.dm_conversation_id)]
    if conversation_id is not None:
        events = [e for e in events if e.dm_conversation_id == conversation_id]
    return {"dm_events": [dm_record(store, event) for event in events]}
