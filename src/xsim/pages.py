"""The customer page: act as a simulated customer, post at the brand, follow threads, DM the brand.

Everything is rendered by Jinja with autoescaping; ``static/xsim.js`` only posts
forms and swaps in the re-rendered threads and DM fragments, so tweet and message
text never reaches the DOM unescaped.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.templating import Jinja2Templates
from pydantic import BaseModel, ConfigDict, Field

from xsim.config import ID_PATTERN
from xsim.dms import MAX_DM_LENGTH, MessageBody, checked_message, send_dm
from xsim.errors import generic
from xsim.linkify import linkify
from xsim.posting import (
    MAX_TWEET_LENGTH,
    CreateTweetBody,
    ReplyBody,
    create_tweet,
    created_response_body,
)
from xsim.render import iso_time
from xsim.simulator import Simulator, get_sim
from xsim.store import LANG_PATTERN, DmEvent, Store, Tweet, User, one_to_one_conversation_id

router = APIRouter(include_in_schema=False)
Sim = Annotated[Simulator, Depends(get_sim)]

templates = Jinja2Templates(directory=Path(__file__).parent / "templates")
templates.env.filters["iso_time"] = iso_time
templates.env.filters["linkify"] = linkify


@dataclass(slots=True)
class ThreadNode:
    tweet: Tweet
    author: User
    replies: list[ThreadNode] = field(default_factory=list)


def threads_for(store: Store, user: User) -> list[ThreadNode]:
    """Conversations ``user`` took part in (wrote, was mentioned or was replied to).

    Each is a tree rooted at the conversation's first tweet, replies in posting order;
    threads with the latest activity come first. Deleted tweets stay as tombstones
    so that the replies under them keep their place.
    """
    tweets = store.tweets()
    involved = {
        tweet.conversation_id
        for tweet in tweets
        if not tweet.deleted
        and (
            user.id in (tweet.author_id, tweet.in_reply_to_user_id)
            or any(m.user_id == user.id for m in tweet.entities.mentions)
        )
    }
    nodes: dict[str, ThreadNode] = {}
    roots: list[ThreadNode] = []
    last_activity: dict[str, int] = {}
    for tweet in tweets:
        author = store.user(tweet.author_id)
        if tweet.conversation_id not in involved or author is None:
            continue
        node = nodes[tweet.id] = ThreadNode(tweet, author)
        parent = nodes.get(tweet.in_reply_to_tweet_id or "")
        (parent.replies if parent else roots).append(node)
        last_activity[tweet.conversation_id] = int(tweet.id)
    return sorted(roots, key=lambda root: last_activity[root.tweet.conversation_id], reverse=True)


@dataclass(frozen=True, slots=True)
class DmItem:
    event: DmEvent
    sender: User


def dm_thread(store: Store, user: User) -> list[DmItem]:
    """The messages between ``user`` and the brand, oldest first; deleted ones as tombstones."""
    conversation_id = one_to_one_conversation_id(user.id, store.brand.id)
    return [
        DmItem(event, sender)
        for event in store.dm_events()
        if event.dm_conversation_id == conversation_id
        and event.event_type == "MessageCreate"
        and (sender := store.user(event.sender_id)) is not None
    ]


def _customer(sim: Simulator, username: str) -> User:
    user = sim.store.user_by_username(username)
    if user is None or user.is_brand:
        raise generic(404, f"No customer named {username}")
    return user


@router.get("/", response_class=HTMLResponse)
async def index(request: Request, sim: Sim, user: str | None = None) -> HTMLResponse:
    store = sim.store
    selected = store.user_by_username(user) if user else None
    if selected is not None and selected.is_brand:
        selected = None
    context = {
        "brand": store.brand,
        "customers": [u for u in store.users() if not u.is_brand],
        "selected": selected,
        "unknown_user": user if user and selected is None else None,
        "threads": threads_for(store, selected) if selected else [],
        "max_length": MAX_TWEET_LENGTH,
        "dms": dm_thread(store, selected) if selected else [],
        "max_dm_length": MAX_DM_LENGTH,
    }
    return templates.TemplateResponse(request, "index.html", context)


@router.get("/ui/threads", response_class=HTMLResponse)
async def threads_fragment(request: Request, sim: Sim, user: str) -> HTMLResponse:
    customer = _customer(sim, user)
    context = {"brand": sim.store.brand, "threads": threads_for(sim.store, customer)}
    return templates.TemplateResponse(request, "_threads.html", context)


class UiTweet(BaseModel):
    model_config = ConfigDict(extra="forbid")

    username: str
    text: str
    in_reply_to_tweet_id: str | None = Field(default=None, pattern=ID_PATTERN)
    #: The language the customer writes in (``es``, ``pt-BR`` …, or ``und``); xsim does not detect it.
    lang: str | None = Field(default=None, pattern=LANG_PATTERN)


@router.post("/ui/tweet", status_code=201)
async def ui_tweet(body: UiTweet, sim: Sim) -> JSONResponse:
    """Post as a customer, by the same rules as ``POST /2/tweets`` (but not rate-limited)."""
    customer = _customer(sim, body.username)
    reply = ReplyBody(in_reply_to_tweet_id=body.in_reply_to_tweet_id) if body.in_reply_to_tweet_id else None
    tweet = await create_tweet(sim, customer, CreateTweetBody(text=body.text, reply=reply), lang=body.lang)
    return JSONResponse(created_response_body(tweet), status_code=201)


@router.get("/ui/dms", response_class=HTMLResponse)
async def dms_fragment(request: Request, sim: Sim, user: str) -> HTMLResponse:
    customer = _customer(sim, user)
    context = {"brand": sim.store.brand, "dms": dm_thread(sim.store, customer)}
    return templates.TemplateResponse(request, "_dms.html", context)


class UiDm(BaseModel):
    model_config = ConfigDict(extra="forbid")

    username: str
    text: str


@router.post("/ui/dm", status_code=201)
async def ui_dm(body: UiDm, sim: Sim) -> JSONResponse:
    """DM the brand as a customer, by the same rules as the DM API (but not rate-limited)."""
    customer = _customer(sim, body.username)
    text, _ = checked_message(MessageBody(text=body.text))
    conversation, event = await send_dm(sim, customer, text, recipient_id=sim.store.brand.id)
    return JSONResponse(
        {"data": {"dm_conversation_id": conversation.id, "dm_event_id": event.id}}, status_code=201
    )
