"""E-mail addresses: a local part, ``@``, and a domain that ends in a real top-level domain.

The pattern is deliberately narrower than RFC 5322: people write ``jane.doe+bank@mail.co.uk``, not
quoted local parts or IP-address domains, and a loose pattern would take ``@handles``, ``icon@2x.png``
or ``see you@5.30pm``. A mention (``@HSBC_UK``) has nothing before the ``@``, or no dot after it, so
it is never an address.

Customers who know better than to post their address spell it out instead: ``jane dot doe at gmail
dot com``, ``liam[at]murphy[dot]ie``. Those are found too. A plain " at " counts only if the domain
has a spelled-out dot as well and words such as "email" come just before ("shopping at amazon.co.uk"
and "look at this dot com" are no addresses).

Parts are bounded in length and number (an address has at most 64 characters before the ``@``), so
a hostile text costs at most a fixed amount of work per word.
"""

from __future__ import annotations

import re

from haven.triage.pii.context import keywords, said_before
from haven.triage.pii.tlds import TOP_LEVEL_DOMAINS

_ATOM = r"[A-Za-z0-9_%+'-]{1,64}"
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_ADDRESS = re.compile(
    rf"(?<![A-Za-z0-9_%+'.-]){_ATOM}(?:\.{_ATOM}){{0,8}}@(?:{_LABEL}\.){{1,8}}(?P<tld>[A-Za-z]{{2,24}})"
    r"(?![A-Za-z0-9_-]|\.[A-Za-z0-9])"
)

_BRACKETED_AT = r"\s?[\[(]\s?at\s?[\])]\s?"
_SPELLED_DOT = r"(?:\s?[\[(]\s?dot\s?[\])]\s?|\s+dot\s+)"
_SPELLED = re.compile(
    rf"(?<![\w.]){_ATOM}(?:(?:\.|{_SPELLED_DOT}){_ATOM}){{0,4}}"
    rf"(?:(?P<bracketed>{_BRACKETED_AT})|\s+at\s+)"
    rf"(?P<domain>(?:{_LABEL}(?:\.|{_SPELLED_DOT})){{1,4}})(?P<tld>[A-Za-z]{{2,24}})(?![\w-]|\.\w)",
    re.IGNORECASE,
)
#: Every spelled-out address has a bracketed "at" or a spelled-out "dot".
_SPELLED_HINT = re.compile(r"[\[(]\s?at\s?[\])]|\bdot\b", re.IGNORECASE)
_WORD_DOT = re.compile(r"\bdot\b", re.IGNORECASE)
_EMAIL_WORDS = keywords("email", "e-mail", "mail", "address", "contact", "reach", "write")


#: What must stand on either side of the ``@`` of an address: a character of the local part, and a
#: domain label followed by a dot and a letter. Mentions (``@HSBC_UK``) have neither.
_BEFORE_AT = re.compile(r"[A-Za-z0-9_%+'-]")
_AFTER_AT = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]*\.[A-Za-z]")


def _has_written_address(text: str) -> bool:
    at = text.find("@")
    while at >= 0:
        if at > 0 and _BEFORE_AT.match(text, at - 1) and _AFTER_AT.match(text, at + 1):
            return True
        at = text.find("@", at + 1)
    return False


def may_hold_address(text: str) -> bool:
    """Whether ``text`` is worth searching for addresses at all: a cheap test that every post with
    only @mentions fails."""
    return _has_written_address(text) or "\uff20" in text or _SPELLED_HINT.search(text) is not None


def _spelled_out(text: str, match: re.Match[str]) -> bool:
    """Whether the address has a bracketed "at", or a plain " at ", a spelled-out dot and a label."""
    if match.group("bracketed") is not None:
        return True
    return _WORD_DOT.search(match.group("domain")) is not None and said_before(
        text, match.start(), _EMAIL_WORDS
    )


def find_email_addresses(text: str) -> list[tuple[int, int]]:
    """Spans of e-mail addresses, written or spelled out, in ``text``."""
    spans = []
    if _has_written_address(text):
        spans = [
            match.span()
            for match in _ADDRESS.finditer(text)
            if match.group("tld").lower() in TOP_LEVEL_DOMAINS
        ]
    if _SPELLED_HINT.search(text):
        spans += [
            match.span()
            for match in _SPELLED.finditer(text)
            if match.group("tld").lower() in TOP_LEVEL_DOMAINS and _spelled_out(text, match)
        ]
    return sorted(spans)
