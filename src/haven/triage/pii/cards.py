"""The one detector of payment card numbers in free text.

Two callers use it: :mod:`haven.handoff.cards` cuts card numbers down to their last four digits before
anything a customer typed is stored, and :mod:`haven.triage.pii.detect` flags card numbers a customer
exposed in a public post.

A card number here is 13 to 19 digits, written in one run or in groups joined by single spaces
(including the no-break spaces phones and word processors put into numbers), hyphens, dots or spaced
hyphens, that

* passes the Luhn check (``stdnum.luhn``), which nine in ten random digit strings fail, and
* starts with the prefix of a major card network and has one of that network's lengths
  (:data:`_NETWORKS`), which rules out most phone numbers, account numbers and references.
  python-stdnum has no table of card issuers (only the Luhn algorithm), hence our own.

Digits are only ever taken as whole runs: a card number never starts or ends inside a longer run of
digits (part of a 25-digit reference is not a card), nor inside a run glued to letters (``DE89…``,
``INV20240001…``: IBANs and reference codes are not cards).

The search is linear: one regular expression without nested repetition finds each stretch of digit
groups, and within a stretch a card is tried from each group that starts it over at most
:data:`_MAX_GROUPS` groups, so hostile input (100 KB of digits and separators) costs a bounded number
of Luhn checks per group. The price of the bound is that a number typed in more than eight groups (one
digit at a time, say) is not recognised; that is deliberate evasion rather than a slip.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from stdnum import luhn

_MIN_DIGITS = 13
_MAX_DIGITS = 19

#: The most groups a written card number is split into: 4-4-4-4-3 is five; pairs of a 16-digit number
#: are eight.
_MAX_GROUPS = 8

#: A stretch of digit groups, each joined to the next by one space, no-break space, narrow no-break
#: space, hyphen or dot, or by a hyphen with one space either side (``4111 - 1111``). ``\d`` takes
#: any decimal digit, so fullwidth and other scripts' digits count too.
_DIGIT_GROUPS = re.compile(r"\d+(?:(?:[ \u00a0\u202f]-[ \u00a0\u202f]|[ \u00a0\u202f.-])\d+)*")
_DIGIT_RUN = re.compile(r"\d+")

_ANY_LENGTH = range(_MIN_DIGITS, _MAX_DIGITS + 1)

#: Issuer prefixes of the major networks as (lowest prefix, highest prefix, card lengths); a number
#: is plausible when its first digits fall in a range and its length is one the network issues.
#: Deliberately small: only networks a retail bank's customers carry.
_NETWORKS: tuple[tuple[str, str, range], ...] = (
    ("4", "4", range(13, 20, 3)),  # Visa: 13, 16 and 19 digits
    ("51", "55", range(16, 17)),  # Mastercard
    ("2221", "2720", range(16, 17)),  # Mastercard's 2-series
    ("34", "34", range(15, 16)),  # American Express
    ("37", "37", range(15, 16)),  # American Express
    ("6011", "6011", range(16, 20)),  # Discover
    ("644", "649", range(16, 20)),  # Discover
    ("65", "65", range(16, 20)),  # Discover
    ("3528", "3589", range(16, 20)),  # JCB
    ("300", "305", range(14, 20)),  # Diners Club
    ("36", "36", range(14, 20)),  # Diners Club
    ("38", "39", range(14, 20)),  # Diners Club
    ("62", "62", range(16, 20)),  # UnionPay
    ("50", "50", _ANY_LENGTH),  # Maestro (12 to 19 digits; we look at 13 and up)
    ("56", "69", _ANY_LENGTH),  # Maestro
)


@dataclass(frozen=True, slots=True)
class CardMatch:
    """Where a card number is in the text (``text[start:end]``) and its last four digits."""

    start: int
    end: int
    last4: str


def _lengths_by_prefix() -> dict[str, frozenset[int]]:
    """:data:`_NETWORKS` as a table from each number's first four digits to the lengths issued under them."""
    table: dict[str, set[int]] = {}
    for low, high, lengths in _NETWORKS:
        scale = 10 ** (4 - len(low))
        for prefix in range(int(low) * scale, (int(high) + 1) * scale):
            table.setdefault(f"{prefix:04d}", set()).update(lengths)
    return {prefix: frozenset(lengths) for prefix, lengths in table.items()}


#: Looked up once per candidate, so a dictionary rather than a walk through the ranges.
_LENGTHS_BY_PREFIX = _lengths_by_prefix()


def _plausible(number: str) -> bool:
    return len(number) in _LENGTHS_BY_PREFIX.get(number[:4], ())


def _ascii(digits: str) -> str:
    return digits if digits.isascii() else "".join(str(int(digit)) for digit in digits)


def _glued(text: str, index: int) -> bool:
    """Whether the character at ``index`` (if any) is a letter or digit, gluing a digit run to a word."""
    return 0 <= index < len(text) and text[index].isalnum()


def find_card_numbers(text: str) -> list[CardMatch]:
    """Every Luhn-valid card number with a plausible issuer prefix, in order, without overlaps.

    Within a stretch of digit groups the leftmost card wins, and the longest one from that group.
    """
    matches: list[CardMatch] = []
    for stretch in _DIGIT_GROUPS.finditer(text):
        runs = list(_DIGIT_RUN.finditer(text, stretch.start(), stretch.end()))
        if _glued(text, stretch.start() - 1):
            runs = runs[1:]
        if _glued(text, stretch.end()):
            runs = runs[:-1]
        digits = [_ascii(run.group()) for run in runs]
        first = 0
        while first < len(runs):
            number, found, last = "", "", -1
            for index in range(first, min(len(runs), first + _MAX_GROUPS)):
                number += digits[index]
                if len(number) > _MAX_DIGITS:
                    break
                if len(number) >= _MIN_DIGITS and _plausible(number) and luhn.is_valid(number):
                    found, last = number, index
            if last < 0:
                first += 1
                continue
            matches.append(CardMatch(runs[first].start(), runs[last].end(), found[-4:]))
            first = last + 1
    return matches
