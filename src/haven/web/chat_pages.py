"""The customer's side of the secure handoff, on the bank's own domain.

``/chat/i/<token>`` checks the link and swaps the token for an HttpOnly cookie, so the token leaves
the address bar and the history at once. The customer then proves who they are (one-time code or
the bank's sign-in), and a chat cookie opens the chat page and its WebSocket. Every refusal gets a
plain page (never a stack trace) and a log line that names the invitation, never its token.
"""

from __future__ import annotations

import logging
import re
from typing import Annotated

from fastapi import APIRouter, Form, Request, WebSocket, status
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from pydantic import StringConstraints

from haven.handoff import verification
from haven.handoff.chat import CHAT_COOKIE, chat_for_token, customer_says, rate_chat
from haven.handoff.forms import submit_form
from haven.handoff.invitations import LinkProblem, invitation_for_token
from haven.handoff.verifiers import Verifiers
from haven.kit.clock import utcnow
from haven.kit.errors import HavenError
from haven.models import Agent, Brand, ChannelAccount, Chat, ChatInvitation, ChatStatus, Conversation
from haven.realtime.chat_ws import ChatSocket, parse_after
from haven.realtime.origin import origin_allowed
from haven.runtime import Runtime
from haven.security.throttle import SlidingWindowLimiter
from haven.web.deps import RuntimeDep, SessionDep
from haven.web.pages import CsrfChecked
from haven.web.render import render

log = logging.getLogger(__name__)

#: Secrets in a request line: the link's token, and the code and state of the sign-in callback.
_SECRET_IN_REQUEST_LINE = re.compile(r"(/chat/i/|/chat/verify/callback\?)[^\s\"]+")


class _HideSecretsFromAccessLog(logging.Filter):
    """uvicorn's access log (on under ``haven serve``) writes each request's path and query."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(
                _SECRET_IN_REQUEST_LINE.sub(r"\1<hidden>", arg) if isinstance(arg, str) else arg
                for arg in record.args
            )
        return True


logging.getLogger("uvicorn.access").addFilter(_HideSecretsFromAccessLog())

router = APIRouter(prefix="/chat", include_in_schema=False)

INVITE_COOKIE = "haven_invite"
COOKIE_PATH = "/chat"
#: How long the chat cookie lasts; the chat page works until the chat ends (and then for rating).
CHAT_COOKIE_HOURS = 24

ContactHint = Annotated[str, StringConstraints(strip_whitespace=True, max_length=254)]
CodeText = Annotated[str, StringConstraints(strip_whitespace=True, max_length=20)]
Comment = Annotated[str, StringConstraints(max_length=4000)]

_PROBLEM_PAGES = {
    LinkProblem.UNKNOWN: (
        404,
        "This link is not valid",
        "Check that you opened the whole link the bank sent you.",
    ),
    LinkProblem.EXPIRED: (410, "This link has expired", "For your safety links work for a short time only."),
    LinkProblem.USED: (410, "This link has already been used", "Each link opens one chat, once."),
    LinkProblem.LOCKED: (423, "This link is locked", "There were too many wrong answers, so we locked it."),
    LinkProblem.REPLACED: (
        410,
        "This link was replaced",
        "The bank sent you a newer link; please use that one.",
    ),
}


def _verifiers(request: Request) -> Verifiers:
    verifiers: Verifiers = request.app.state.verifiers
    return verifiers


def _problem_page(request: Request, problem: LinkProblem) -> Response:
    status_code, title, detail = _PROBLEM_PAGES[problem]
    context = {"title": title, "detail": detail}
    response = render(request, "chat/problem.html", context, status_code)
    response.delete_cookie(INVITE_COOKIE, path=COOKIE_PATH)
    return response


def _throttled(request: Request) -> Response | None:
    limiter: SlidingWindowLimiter = request.app.state.handoff_limiter
    key = f"ip:{request.client.host if request.client else 'unknown'}"
    if not limiter.allowed(key):
        log.warning("secure chat: too many verification requests from one address")
        context = {"title": "Too many attempts", "detail": "Please wait a few minutes and try again."}
        return render(request, "chat/problem.html", context, 429)
    limiter.hit(key)
    return None


def _set_cookie(response: Response, runtime: Runtime, name: str, value: str, max_age: int) -> None:
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        httponly=True,
        # Lax, not Strict: the bank's sign-in sends the customer back here from another site.
        samesite="lax",
        secure=runtime.settings.cookie_secure,
        path=COOKIE_PATH,
    )


@router.get("/i/{token:path}")
async def open_link(request: Request, runtime: RuntimeDep, session: SessionDep, token: str) -> Response:
    found = await invitation_for_token(session, token[:200])
    if isinstance(found, LinkProblem):
        log.warning("secure chat: refused a %s invitation link", found.value)
        return _problem_page(request, found)
    response = RedirectResponse("/chat/verify", status_code=303)
    max_age = int((found.expires_at - utcnow()).total_seconds())
    _set_cookie(response, runtime, INVITE_COOKIE, token, max_age)
    return response


async def _pending_invitation(request: Request, session: SessionDep) -> ChatInvitation | LinkProblem:
    token = request.cookies.get(INVITE_COOKIE)
    if token is None:
        return LinkProblem.UNKNOWN
    return await invitation_for_token(session, token)


async def _landing_context(session: SessionDep, invitation: ChatInvitation) -> dict[str, object]:
    conversation = await session.get_one(Conversation, invitation.conversation_id)
    account = await session.get_one(ChannelAccount, conversation.channel_account_id)
    brand = await session.get_one(Brand, invitation.brand_id)
    agent = (
        await session.get(Agent, invitation.created_by_agent_id) if invitation.created_by_agent_id else None
    )
    return {"brand": brand, "handle": account.handle, "agent_name": agent.display_name if agent else None}


@router.get("/verify", response_class=HTMLResponse)
async def landing(request: Request, runtime: RuntimeDep, session: SessionDep) -> Response:
    found = await _pending_invitation(request, session)
    if isinstance(found, LinkProblem):
        return _problem_page(request, found)
    verifiers = _verifiers(request)
    x_linked = (
        verifiers.directory is not None and await verifiers.directory.by_x_user(found.x_user_id) is not None
    )
    context = await _landing_context(session, found)
    context |= {
        "host": runtime.settings.public_base_url.split("://", 1)[-1],
        "offers_code": verifiers.offers_code,
        "offers_sign_in": verifiers.oidc is not None,
        "x_linked": x_linked,
    }
    return render(request, "chat/verify.html", context)


@router.post("/verify/code/send", dependencies=[CsrfChecked])
async def send_code(
    request: Request,
    runtime: RuntimeDep,
    session: SessionDep,
    contact: Annotated[ContactHint, Form()] = "",
) -> Response:
    if (refused := _throttled(request)) is not None:
        return refused
    found = await _pending_invitation(request, session)
    if isinstance(found, LinkProblem):
        return _problem_page(request, found)
    destination = await verification.send_code(
        session, found, _verifiers(request), runtime.cipher, runtime.settings, contact_hint=contact or None
    )
    context = {
        "destination": destination,
        "attempts_left": verification.attempts_left(found, runtime.settings),
    }
    return render(request, "chat/code.html", context)


def _enter_chat(runtime: Runtime, verified: verification.Verified) -> Response:
    response = RedirectResponse("/chat", status_code=303)
    response.delete_cookie(INVITE_COOKIE, path=COOKIE_PATH)
    _set_cookie(response, runtime, CHAT_COOKIE, verified.customer_token, CHAT_COOKIE_HOURS * 3600)
    return response


def _refused_page(request: Request, refused: verification.Refused, template: str) -> Response:
    if refused.locked:
        return _problem_page(request, LinkProblem.LOCKED)
    context = {"error": refused.reason, "attempts_left": refused.attempts_left, "destination": None}
    return render(request, template, context, 422)


@router.post("/verify/code", dependencies=[CsrfChecked])
async def check_code(
    request: Request, runtime: RuntimeDep, session: SessionDep, code: Annotated[CodeText, Form()]
) -> Response:
    if (refused := _throttled(request)) is not None:
        return refused
    found = await _pending_invitation(request, session)
    if isinstance(found, LinkProblem):
        return _problem_page(request, found)
    outcome = await verification.check_code(session, found, code, runtime.cipher, runtime.settings)
    if isinstance(outcome, verification.Refused):
        return _refused_page(request, outcome, "chat/code.html")
    return _enter_chat(runtime, outcome)


def _callback_url(runtime: Runtime) -> str:
    return f"{runtime.settings.public_base_url}/chat/verify/callback"


@router.post("/verify/sign-in", dependencies=[CsrfChecked])
async def sign_in(request: Request, runtime: RuntimeDep, session: SessionDep) -> Response:
    if (refused := _throttled(request)) is not None:
        return refused
    found = await _pending_invitation(request, session)
    if isinstance(found, LinkProblem):
        return _problem_page(request, found)
    url = await verification.begin_sign_in(found, _verifiers(request), runtime.cipher, _callback_url(runtime))
    return RedirectResponse(url, status_code=303)


@router.get("/verify/callback")
async def sign_in_callback(request: Request, runtime: RuntimeDep, session: SessionDep) -> Response:
    if (refused := _throttled(request)) is not None:
        return refused
    found = await _pending_invitation(request, session)
    if isinstance(found, LinkProblem):
        return _problem_page(request, found)
    params = {key: value[:2000] for key, value in request.query_params.items()}
    outcome = await verification.finish_sign_in(
        session,
        found,
        _verifiers(request),
        runtime.cipher,
        runtime.settings,
        redirect_uri=_callback_url(runtime),
        params=params,
    )
    if isinstance(outcome, verification.Refused):
        if outcome.locked:
            return _problem_page(request, LinkProblem.LOCKED)
        context = {"title": "We could not confirm who you are", "detail": outcome.reason, "retry": True}
        return render(request, "chat/problem.html", context, 422)
    return _enter_chat(runtime, outcome)


async def _customer_chat(request: Request, session: SessionDep) -> Chat | None:
    return await chat_for_token(session, request.cookies.get(CHAT_COOKIE))


def _no_chat_page(request: Request) -> Response:
    context = {"title": "No chat here", "detail": "Open the link the bank sent you to start a secure chat."}
    return render(request, "chat/problem.html", context, 404)


@router.get("", response_class=HTMLResponse)
async def chat_page(request: Request, session: SessionDep) -> Response:
    chat = await _customer_chat(request, session)
    if chat is None:
        return _no_chat_page(request)
    conversation = await session.get_one(Conversation, chat.conversation_id)
    brand = await session.get_one(Brand, chat.brand_id)
    context = {
        "chat": chat,
        "brand": brand,
        "ended": chat.status is ChatStatus.ENDED,
        "rated": conversation.csat_at is not None,
    }
    return render(request, "chat/room.html", context)


def _json_error(exc: HavenError) -> JSONResponse:
    return JSONResponse({"detail": exc.message}, status_code=exc.status_code)


@router.post("/forms/{form_id}", dependencies=[CsrfChecked])
async def answer_form(request: Request, session: SessionDep, runtime: RuntimeDep, form_id: int) -> Response:
    chat = await _customer_chat(request, session)
    if chat is None:
        return JSONResponse({"detail": "no chat"}, status_code=403)
    form = await request.form()
    answers = {
        key: value[:20_000] for key, value in form.items() if isinstance(value, str) and key != "csrf_token"
    }
    try:
        await submit_form(session, chat, form_id, answers, runtime.cipher, today=utcnow().date())
    except HavenError as exc:
        if exc.status_code == 404:
            log.warning("chat %s: the customer tried form %s, which is not theirs", chat.id, form_id)
        return _json_error(exc)
    return JSONResponse({"status": "sent"})


@router.post("/rating", dependencies=[CsrfChecked])
async def rate(
    request: Request,
    session: SessionDep,
    score: Annotated[int, Form(ge=1, le=5)],
    comment: Annotated[Comment, Form()] = "",
) -> Response:
    chat = await _customer_chat(request, session)
    if chat is None:
        return _no_chat_page(request)
    await rate_chat(session, chat, score, comment)
    return RedirectResponse("/chat", status_code=303)


@router.websocket("/ws")
async def customer_socket(websocket: WebSocket) -> None:
    runtime: Runtime = websocket.app.state.runtime
    if not origin_allowed(websocket, runtime):
        log.warning("secure chat: refused a socket from a foreign origin")
        await websocket.close(code=status.WS_1008_POLICY_VIOLATION, reason="origin not allowed")
        return
    token = websocket.cookies.get(CHAT_COOKIE)
    async with runtime.database.reader() as session:
        chat = await chat_for_token(session, token)
    if chat is None:
        await websocket.close(code=status.WS_1008_POLICY_VIOLATION, reason="no chat")
        return
    asked = websocket.query_params.get("chat")
    if asked is not None and asked != str(chat.id):
        log.warning("chat %s: the customer asked for chat %r, which is not theirs", chat.id, asked[:20])
        await websocket.close(code=status.WS_1008_POLICY_VIOLATION, reason="not your chat")
        return

    async def still_allowed() -> bool:
        async with runtime.database.reader() as session:
            return await chat_for_token(session, token) is not None

    async def post(session: SessionDep, chat: Chat, text: str, client_id: str) -> object:
        return await customer_says(session, chat, text, client_id)

    socket = ChatSocket(websocket, runtime, chat.id, chat.brand_id, "customer", post, still_allowed)
    await socket.serve(parse_after(websocket.query_params.get("after")))
