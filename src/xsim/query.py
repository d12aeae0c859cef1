"""The X search query language, the subset xsim understands.

Terms separated by spaces must all match (AND binds tighter than ``OR``); ``-``
negates a term or a parenthesised group. Supported terms:

* bare words and ``"quoted phrases"``: case-insensitive word-sequence match
* ``@handle`` (mentions), ``#tag``, ``$CASH``
* ``from:user``, ``to:user`` (a username, with or without ``@``, or a user id)
* ``conversation_id:123``
* ``is:reply``, ``is:retweet``, ``is:quote``; ``has:mentions|hashtags|cashtags|links``;
  ``lang:xx`` (these need at least one standalone term, as on X)

The same matcher will serve filtered-stream rules.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from xsim.store import Tweet

MAX_QUERY_LENGTH = 512
_MAX_NESTING = 10
_USERNAME = re.compile(r"@?([A-Za-z0-9_]{1,15})")
_USER = re.compile(r"@?([A-Za-z0-9_]{1,15}|[0-9]{1,19})")
_ID = re.compile(r"[0-9]{1,19}")
_WORD = re.compile(r"\w+")
_IS_VALUES = frozenset({"reply", "retweet", "quote"})
_HAS_VALUES = frozenset({"mentions", "hashtags", "cashtags", "links"})

#: Maps a user id to that user's username, if the user exists.
UsernameLookup = Callable[[str], str | None]


class QueryError(ValueError):
    """The query is not valid; the message says why, for a 400 response."""


class Node(Protocol):
    def matches(self, tweet: Tweet, username_of: UsernameLookup) -> bool: ...


def _words(text: str) -> tuple[str, ...]:
    return tuple(_WORD.findall(text.casefold()))


@dataclass(frozen=True, slots=True)
class Words:
    """A bare word or a quoted phrase."""

    text: str

    def matches(self, tweet: Tweet, username_of: UsernameLookup) -> bool:
        wanted = _words(self.text)
        if not wanted:  # punctuation or emoji only: fall back to a substring test
            return self.text.casefold() in tweet.text.casefold()
        have = _words(tweet.text)
        size = len(wanted)
        return any(have[i : i + size] == wanted for i in range(len(have) - size + 1))


@dataclass(frozen=True, slots=True)
class MentionTerm:
    username: str

    def matches(self, tweet: Tweet, username_of: UsernameLookup) -> bool:
        wanted = self.username.casefold()
        return any(m.username.casefold() == wanted for m in tweet.entities.mentions)


@dataclass(frozen=True, slots=True)
class TagTerm:
    tag: str
    cashtag: bool

    def matches(self, tweet: Tweet, username_of: UsernameLookup) -> bool:
        tags = tweet.entities.cashtags if self.cashtag else tweet.entities.hashtags
        return any(t.tag.casefold() == self.tag.casefold() for t in tags)


def _is_user(user_id: str | None, user: str, username_of: UsernameLookup) -> bool:
    if user_id is None:
        return False
    username = username_of(user_id)
    return user_id == user or (username is not None and username.casefold() == user.casefold())


@dataclass(frozen=True, slots=True)
class FromTerm:
    user: str

    def matches(self, tweet: Tweet, username_of: UsernameLookup) -> bool:
        return _is_user(tweet.author_id, self.user, username_of)


@dataclass(frozen=True, slots=True)
class ToTerm:
    user: str

    def matches(self, tweet: Tweet, username_of: UsernameLookup) -> bool:
        return _is_user(tweet.in_reply_to_user_id, self.user, username_of)


@dataclass(frozen=True, slots=True)
class ConversationTerm:
    conversation_id: str

    def matches(self, tweet: Tweet, username_of: UsernameLookup) -> bool:
        return tweet.conversation_id == self.conversation_id


@dataclass(frozen=True, slots=True)
class IsTerm:
    kind: str

    def matches(self, tweet: Tweet, username_of: UsernameLookup) -> bool:
        if self.kind == "reply":
            return tweet.in_reply_to_tweet_id is not None
        if self.kind == "quote":
            return tweet.quoted_tweet_id is not None
        return False  # "retweet": xsim has no retweets


@dataclass(frozen=True, slots=True)
class HasTerm:
    kind: str

    def matches(self, tweet: Tweet, username_of: UsernameLookup) -> bool:
        entities = tweet.entities
        groups = {
            "mentions": entities.mentions,
            "hashtags": entities.hashtags,
            "cashtags": entities.cashtags,
            "links": entities.urls,
        }
        return bool(groups[self.kind])


@dataclass(frozen=True, slots=True)
class LangTerm:
    lang: str

    def matches(self, tweet: Tweet, username_of: UsernameLookup) -> bool:
        return tweet.lang == self.lang


@dataclass(frozen=True, slots=True)
class Not:
    child: Node

    def matches(self, tweet: Tweet, username_of: UsernameLookup) -> bool:
        return not self.child.matches(tweet, username_of)


@dataclass(frozen=True, slots=True)
class And:
    children: tuple[Node, ...]

    def matches(self, tweet: Tweet, username_of: UsernameLookup) -> bool:
        return all(child.matches(tweet, username_of) for child in self.children)


@dataclass(frozen=True, slots=True)
class Or:
    children: tuple[Node, ...]

    def matches(self, tweet: Tweet, username_of: UsernameLookup) -> bool:
        return any(child.matches(tweet, username_of) for child in self.children)


def _standalone(node: Node) -> bool:
    """Whether ``node`` can select tweets on its own (X rejects ``is:reply`` or ``-foo`` alone)."""
    if isinstance(node, Not | IsTerm | HasTerm | LangTerm):
        return False
    if isinstance(node, And):
        return any(_standalone(child) for child in node.children)
    if isinstance(node, Or):
        return all(_standalone(child) for child in node.children)
    return True


def parse_query(query: str) -> Node:
    """Parse ``query`` into a matcher; raises ``QueryError`` if it is not valid."""
    parser = _Parser(_tokenize(query))
    node = parser.parse_or(depth=0)
    if parser.peek() is not None:
        raise QueryError(f"unexpected {parser.peek()!r}")
    if not _standalone(node):
        raise QueryError("the query must contain at least one standalone, non-negated term")
    return node


# -- tokens ----------------------------------------------------------------------------------

_OPEN, _CLOSE, _NEGATE, _OR = "(", ")", "-", "OR"


@dataclass(frozen=True, slots=True)
class _Term:
    text: str
    quoted: bool


_Token = str | _Term


def _tokenize(query: str) -> list[_Token]:
    tokens: list[_Token] = []
    i, n = 0, len(query)
    while i < n:
        char = query[i]
        if char.isspace():
            i += 1
        elif char in "()":
            tokens.append(char)
            i += 1
        elif char == "-":
            if i + 1 >= n or query[i + 1].isspace() or query[i + 1] == ")":
                raise QueryError(f"'-' at position {i} must be followed by a term")
            tokens.append(_NEGATE)
            i += 1
        elif char == '"':
            end = query.find('"', i + 1)
            if end < 0:
                raise QueryError(f"unterminated quote at position {i}")
            tokens.append(_Term(query[i + 1 : end], quoted=True))
            i = end + 1
        else:
            start = i
            while i < n and not query[i].isspace() and query[i] not in "()":
                i += 1
            word = query[start:i]
            tokens.append(_OR if word == _OR else _Term(word, quoted=False))
    return tokens


class _Parser:
    def __init__(self, tokens: list[_Token]) -> None:
        self._tokens = tokens
        self._position = 0

    def peek(self) -> _Token | None:
        return self._tokens[self._position] if self._position < len(self._tokens) else None

    def _next(self) -> _Token | None:
        token = self.peek()
        self._position += 1
        return token

    def parse_or(self, depth: int) -> Node:
        if depth > _MAX_NESTING:
            raise QueryError(f"groups may be nested at most {_MAX_NESTING} deep")
        branches = [self._parse_and(depth)]
        while self.peek() == _OR:
            self._next()
            branches.append(self._parse_and(depth))
        return branches[0] if len(branches) == 1 else Or(tuple(branches))

    def _parse_and(self, depth: int) -> Node:
        terms: list[Node] = []
        while self.peek() not in (None, _OR, _CLOSE):
            terms.append(self._parse_unary(depth))
        if not terms:
            raise QueryError("expected a term")
        return terms[0] if len(terms) == 1 else And(tuple(terms))

    def _parse_unary(self, depth: int) -> Node:
        token = self._next()
        if token == _NEGATE:
            if self.peek() in (None, _OR, _CLOSE, _NEGATE):
                raise QueryError("'-' must be followed by a term")
            return Not(self._parse_unary(depth))
        if token == _OPEN:
            node = self.parse_or(depth + 1)
            if self._next() != _CLOSE:
                raise QueryError("missing ')'")
            return node
        if isinstance(token, _Term):
            return _term(token)
        raise QueryError(f"unexpected {token!r}")


def _term(token: _Term) -> Node:
    text = token.text
    if token.quoted:
        if not text.strip():
            raise QueryError("empty quoted phrase")
        return Words(text)
    operator, colon, value = text.partition(":")
    if colon:
        match operator.lower():
            case "from" | "to":
                user = _USER.fullmatch(value)
                if user is None:
                    raise QueryError(f"invalid user in {text!r}")
                return (FromTerm if operator.lower() == "from" else ToTerm)(user.group(1))
            case "conversation_id":
                if not _ID.fullmatch(value):
                    raise QueryError(f"invalid conversation id in {text!r}")
                return ConversationTerm(value)
            case "is":
                if value.lower() not in _IS_VALUES:
                    raise QueryError(f"unsupported operator {text!r}")
                return IsTerm(value.lower())
            case "has":
                if value.lower() not in _HAS_VALUES:
                    raise QueryError(f"unsupported operator {text!r}")
                return HasTerm(value.lower())
            case "lang":
                if not re.fullmatch(r"[A-Za-z]{2,3}", value):
                    raise QueryError(f"invalid language in {text!r}")
                return LangTerm(value.lower())
    if text.startswith("@") and _USERNAME.fullmatch(text):
        return MentionTerm(text[1:])
    if text[:1] in "#$" and len(text) > 1 and _WORD.fullmatch(text[1:]):
        return TagTerm(text[1:], cashtag=text[0] == "$")
    return Words(text)
