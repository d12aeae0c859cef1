"""Timeline pages: ``since_id``/``until_id`` windows, time bounds and opaque tokens.

A ``next_token`` encodes the id of the last tweet on the page (base 36), so the next
page starts strictly below it. Clients must treat it as opaque, as they must on X.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from itertools import islice

from starlette.datastructures import QueryParams

from xsim.errors import invalid_parameter, invalid_request
from xsim.params import int_in_range, optional_id, optional_time
from xsim.store import Tweet

_TOKEN = re.compile(r"[0-9a-z]{1,13}")
_ALPHABET = "0123456789abcdefghijklmnopqrstuvwxyz"


@dataclass(frozen=True, slots=True)
class PageRequest:
    max_results: int
    since_id: int | None = None
    until_id: int | None = None
    start_time: datetime | None = None
    end_time: datetime | None = None
    #: Only tweets with a smaller id; decoded from a pagination token.
    before_id: int | None = None


def encode_token(tweet_id: str) -> str:
    number, digits = int(tweet_id), []
    while True:
        number, digit = divmod(number, 36)
        digits.append(_ALPHABET[digit])
        if number == 0:
            return "".join(reversed(digits))


def _decode_token(name: str, token: str) -> int:
    if not _TOKEN.fullmatch(token):
        raise invalid_parameter(
            name, token, f"The `{name}` query parameter value [{token}] is not a valid token"
        )
    return int(token, 36)


def page_request(params: QueryParams, *, min_results: int, token_params: tuple[str, ...]) -> PageRequest:
    """Read the paging parameters; ``token_params`` are the accepted token names."""
    tokens = [(name, params[name]) for name in token_params if name in params]
    if len(tokens) > 1:
        raise invalid_request(f"Only one of [{', '.join(token_params)}] may be given")
    since_id = optional_id(params, "since_id")
    until_id = optional_id(params, "until_id")
    return PageRequest(
        max_results=int_in_range(params, "max_results", min_results, 100, 10),
        since_id=int(since_id) if since_id else None,
        until_id=int(until_id) if until_id else None,
        # Ids take precedence over times (contract §3).
        start_time=None if since_id else optional_time(params, "start_time"),
        end_time=None if until_id else optional_time(params, "end_time"),
        before_id=_decode_token(*tokens[0]) if tokens else None,
    )


def paginate(newest_first: Iterable[Tweet], request: PageRequest) -> tuple[list[Tweet], str | None]:
    """One page of matching tweets, newest first, and the token for the next page."""

    def wanted(tweet: Tweet) -> bool:
        number = int(tweet.id)
        return (
            (request.since_id is None or number > request.since_id)
            and (request.until_id is None or number < request.until_id)
            and (request.before_id is None or number < request.before_id)
            and (request.start_time is None or tweet.created_at >= request.start_time)
            and (request.end_time is None or tweet.created_at < request.end_time)
        )

    selected = list(islice(filter(wanted, newest_first), request.max_results + 1))
    page = selected[: request.max_results]
    has_more = len(selected) > request.max_results
    return page, encode_token(page[-1].id) if has_more else None
