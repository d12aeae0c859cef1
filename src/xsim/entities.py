"""Entity extraction from tweet text: mentions, hashtags, cashtags and URLs.

Offsets are code-point indices (Python ``str`` indices) with an inclusive ``start``
and an exclusive ``end``, as in the X API v2. URLs are not shortened to t.co links:
``url`` and ``expanded_url`` both hold the link as written.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

_MENTION = re.compile(r"(?<![A-Za-z0-9_@])@([A-Za-z0-9_]{1,15})(?![A-Za-z0-9_@])")
_HASHTAG = re.compile(r"(?<![\w&#])[#＃](\w+)")
_CASHTAG = re.compile(r"(?<![\w$])\$([A-Za-z]{1,6}(?:[._][A-Za-z]{1,2})?)(?!\w)")
_URL = re.compile(r"https?://[^\s<>\"]+", re.IGNORECASE)
_URL_TRAILING_PUNCTUATION = ".,;:!?)]}'\""


@dataclass(frozen=True, slots=True)
class Mention:
    start: int
    end: int
    username: str
    user_id: str | None


@dataclass(frozen=True, slots=True)
class Tag:
    """A hashtag or cashtag; ``tag`` excludes the leading ``#`` or ``$``."""

    start: int
    end: int
    tag: str


@dataclass(frozen=True, slots=True)
class Link:
    start: int
    end: int
    url: str


@dataclass(frozen=True, slots=True)
class Entities:
    mentions: tuple[Mention, ...] = ()
    hashtags: tuple[Tag, ...] = ()
    cashtags: tuple[Tag, ...] = ()
    urls: tuple[Link, ...] = ()

    def to_json(self) -> dict[str, list[dict[str, Any]]]:
        """The v2 ``entities`` object; empty groups are left out, as X does."""
        out: dict[str, list[dict[str, Any]]] = {}
        if self.mentions:
            out["mentions"] = [
                {"start": m.start, "end": m.end, "username": m.username}
                | ({"id": m.user_id} if m.user_id else {})
                for m in self.mentions
            ]
        if self.hashtags:
            out["hashtags"] = [{"start": h.start, "end": h.end, "tag": h.tag} for h in self.hashtags]
        if self.cashtags:
            out["cashtags"] = [{"start": c.start, "end": c.end, "tag": c.tag} for c in self.cashtags]
        if self.urls:
            out["urls"] = [
                {
                    "start": u.start,
                    "end": u.end,
                    "url": u.url,
                    "expanded_url": u.url,
                    "display_url": u.url.split("://", 1)[1],
                }
                for u in self.urls
            ]
        return out


def parse_entities(text: str, resolve_user_id: Callable[[str], str | None]) -> Entities:
    """Extract entities from ``text``; ``resolve_user_id`` maps a username to an id."""
    urls = tuple(_links(text))

    def outside_urls(start: int) -> bool:
        return not any(u.start <= start < u.end for u in urls)

    mentions = tuple(
        Mention(m.start(), m.end(), m.group(1), resolve_user_id(m.group(1)))
        for m in _MENTION.finditer(text)
        if outside_urls(m.start())
    )
    hashtags = tuple(
        Tag(m.start(), m.end(), m.group(1))
        for m in _HASHTAG.finditer(text)
        if not m.group(1).isdigit() and outside_urls(m.start())
    )
    cashtags = tuple(
        Tag(m.start(), m.end(), m.group(1)) for m in _CASHTAG.finditer(text) if outside_urls(m.start())
    )
    return Entities(mentions=mentions, hashtags=hashtags, cashtags=cashtags, urls=urls)


def _links(text: str) -> list[Link]:
    links = []
    for match in _URL.finditer(text):
        url = match.group(0).rstrip(_URL_TRAILING_PUNCTUATION)
        if "://" in url and url.split("://", 1)[1]:
            links.append(Link(match.start(), match.start() + len(url), url))
    return links
