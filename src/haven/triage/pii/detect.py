"""Private data a customer exposed in a public post, found so that agents can mask it and warn them.

:func:`find_private_data` returns where card numbers, IBANs, bank account numbers, US Social Security
numbers, phone numbers and e-mail addresses are in a text. Each is validated, not just matched: card
numbers by Luhn check and issuer table (:mod:`.cards`), IBANs by their mod 97 check digits
(:mod:`.ibans`), account numbers by their company (:mod:`.accounts`), SSNs by the SSA's rules
(:mod:`.ssns`), phone numbers by ``phonenumbers``' numbering plans and the words around them
(:mod:`.phones`), e-mail addresses by a real top-level domain (:mod:`.emails`).

Most posts hold no private data, and most of those have no run of seven digits and no ``@``: one
regular expression search and one substring test rule them out before any validation runs, which is
what keeps the detector at tens of thousands of posts a second.

When two findings overlap, the one with the stronger evidence wins, in the order of
:data:`_PRECEDENCE`: a checksum that matched beats a pattern, an IBAN that contains a Luhn-valid
run is an IBAN.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Callable
from dataclasses import dataclass

import phonenumbers

from haven.triage.pii.accounts import find_bank_accounts
from haven.triage.pii.cards import find_card_numbers
from haven.triage.pii.emails import find_email_addresses, may_hold_address
from haven.triage.pii.ibans import find_ibans
from haven.triage.pii.overlap import SpanSet
from haven.triage.pii.phones import find_phone_numbers
from haven.triage.pii.ssns import find_ssns
from haven.triage.pii.text import fold


class PiiType(enum.StrEnum):
    CREDIT_CARD = "CREDIT_CARD"
    IBAN_CODE = "IBAN_CODE"
    BANK_ACCOUNT = "BANK_ACCOUNT"
    US_SSN = "US_SSN"
    PHONE_NUMBER = "PHONE_NUMBER"
    EMAIL_ADDRESS = "EMAIL_ADDRESS"


@dataclass(frozen=True, slots=True)
class PiiSpan:
    """``text[start:end]`` is private data of the given type (character offsets, end exclusive)."""

    type: PiiType
    start: int
    end: int


#: Seven digits with at most a few separators (or invisible characters) between each: the shortest
#: private number found (a phone number with its country code) has more, so a text without such a
#: stretch (or an e-mail address) holds nothing to find.
_ENOUGH_DIGITS = re.compile(r"\d(?:\W{0,4}\d){6}")

#: A finder gets the folded text, the region, and the spans already taken by stronger findings.
_Finder = Callable[[str, str, SpanSet], list[tuple[int, int]]]


def _text_only(find: Callable[[str], list[tuple[int, int]]]) -> _Finder:
    """A finder that needs nothing but the text."""
    return lambda text, region, taken: find(text)


def _card_spans(text: str) -> list[tuple[int, int]]:
    return [(match.start, match.end) for match in find_card_numbers(text)]


#: The finders, strongest evidence first, and whether they need digits (e-mail addresses do not).
#: A later finding that overlaps an earlier one is dropped.
_PRECEDENCE: tuple[tuple[PiiType, _Finder, bool], ...] = (
    (PiiType.IBAN_CODE, _text_only(find_ibans), True),
    (PiiType.CREDIT_CARD, _text_only(_card_spans), True),
    (PiiType.US_SSN, _text_only(find_ssns), True),
    (PiiType.BANK_ACCOUNT, _text_only(find_bank_accounts), True),
    (PiiType.EMAIL_ADDRESS, _text_only(find_email_addresses), False),
    (PiiType.PHONE_NUMBER, find_phone_numbers, True),
)


def find_private_data(text: str, *, region: str = "GB") -> list[PiiSpan]:
    """Where private data is in ``text``: sorted, non-overlapping spans.

    ``region`` (ISO 3166 alpha-2, e.g. ``"GB"``, ``"US"``) is where a phone number written without its
    country code is assumed to be; see :mod:`.phones` for the UK and US numbers found whatever it is.
    """
    region = region.upper()
    if region not in phonenumbers.SUPPORTED_REGIONS:
        raise ValueError(f"unknown region {region!r}: use an ISO 3166 alpha-2 code such as 'GB'")
    has_digits = _ENOUGH_DIGITS.search(text) is not None
    if not has_digits and not may_hold_address(text):
        return []
    folded = fold(text)
    taken = SpanSet()
    spans: list[PiiSpan] = []
    for pii_type, finder, needs_digits in _PRECEDENCE:
        if needs_digits and not has_digits:
            continue
        for start, end in finder(folded.text, region, taken):
            if taken.add(start, end):
                spans.append(PiiSpan(pii_type, *folded.original_span(start, end)))
    return sorted(spans, key=lambda span: span.start)
