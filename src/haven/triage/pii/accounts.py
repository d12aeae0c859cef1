"""Bank account numbers, which only their company or their label tells apart from any other number.

Eight digits are an order number as often as an account number, so an account number counts only

* **in a pair**: a UK sort code (``12-34-56``, ``12.34.56``, ``12 34 56``, or six digits right after
  "sort code") next to an eight-digit account number, or a US ABA routing number (nine digits that pass
  the ABA checksum, ``stdnum.us.rtn``) next to an account number of 6 to 17 digits, with at most a
  few words between them (``sort code 12-34-56 acc no 12345678``). Both numbers of the pair are
  reported. A US pair also needs a word such as "routing", "account" or "checking" near it; a UK
  pair needs one too unless its sort code is written with dashes or dots right next to the account
  number (``12-34-56 12345678`` is how the UK writes bank details);
* **or labelled**: 8 to 17 digits right after "account", "acct", "a/c" and the like
  (``my account number is 12345678``).

A sort code or routing number on its own identifies a bank branch, not a customer, and is not
reported. Numbers labelled as references (``order``, ``ref``, "ending" …) never count.
"""

from __future__ import annotations

import enum
import itertools
import re
from dataclasses import dataclass

from stdnum.us import rtn

from haven.triage.pii.context import REFERENCE, keywords, said_before

_BEFORE = r"(?<![\w.,-])"
_AFTER = r"(?!\w|[-.,]\d)"

#: Sort codes with separators; a spaced one must not be part of a longer run of pairs (a French
#: phone number, ``06 12 34 56 78``).
_SORT_CODE = re.compile(
    rf"{_BEFORE}(?:\d\d-\d\d-\d\d(?!-\d)|\d\d\.\d\d\.\d\d(?!\.\d)|(?<!\d )\d\d \d\d \d\d(?! \d))"
    rf"{_AFTER}"
)
#: A run of 6 to 17 digits, or eight digits written as two groups of four.
_NUMBER = re.compile(rf"{_BEFORE}(?:(?<!\d[ -])\d{{4}}[ -]\d{{4}}(?![ -]\d)|\d{{6,17}}){_AFTER}")
_NON_DIGITS = re.compile(r"\D")

#: What may stand between the two numbers of a pair: a few words and punctuation, on one line.
_GAP = re.compile(r"[^\d\n!?]{0,30}")
#: Nothing but punctuation and space between a sort code and its account number.
_TIGHT_GAP = re.compile(r"[\s,;:/|&+]*")

_SORT_CODE_WORDS = keywords("sort code", "sortcode", "sort", "s/c", then=1)
_ACCOUNT_WORDS = keywords(
    "account",
    "acct",
    "acc",
    "a/c",
    "bank details",
    "sort code",
    "sortcode",
    "routing",
    "aba",
    "rtn",
    "checking",
    "savings",
)
_ACCOUNT_LABEL = keywords("account", "acct", "acc", "a/c", then=2)
#: A UK account number's length; shorter labelled numbers are more often something else ("account
#: 123456" can be a customer number of some other firm).
_LABELLED_MIN_DIGITS = 8


class _Kind(enum.Enum):
    SORT_CODE = enum.auto()
    ROUTING = enum.auto()
    ACCOUNT = enum.auto()


@dataclass(frozen=True, slots=True)
class _Number:
    start: int
    end: int
    digits: str
    kinds: frozenset[_Kind]


def _numbers(text: str) -> list[_Number]:
    """Every sort code, routing number and possible account number, in order of position."""
    numbers = [
        _Number(match.start(), match.end(), _NON_DIGITS.sub("", match.group()), frozenset({_Kind.SORT_CODE}))
        for match in _SORT_CODE.finditer(text)
    ]
    for match in _NUMBER.finditer(text):
        digits = _NON_DIGITS.sub("", match.group())
        kinds = {_Kind.ACCOUNT}
        if len(digits) == 9 and rtn.is_valid(digits):
            kinds.add(_Kind.ROUTING)
        if len(digits) == 6 and said_before(text, match.start(), _SORT_CODE_WORDS):
            kinds = {_Kind.SORT_CODE}
        numbers.append(_Number(match.start(), match.end(), digits, frozenset(kinds)))
    return sorted(numbers, key=lambda number: number.start)


def _is_pair(text: str, first: _Number, second: _Number) -> bool:
    gap = text[first.end : second.start]
    if not _GAP.fullmatch(gap) or said_before(text, first.start, REFERENCE):
        return False
    labelled = said_before(text, first.start, _ACCOUNT_WORDS) or said_before(
        text, second.start, _ACCOUNT_WORDS
    )
    for sort_code, account in ((first, second), (second, first)):
        if _Kind.SORT_CODE in sort_code.kinds and _Kind.ACCOUNT in account.kinds and len(account.digits) == 8:
            tight = sort_code is first and _TIGHT_GAP.fullmatch(gap) and text[sort_code.start + 2] in "-."
            return labelled or bool(tight)
    routing_pair = (_Kind.ROUTING in first.kinds and _Kind.ACCOUNT in second.kinds) or (
        _Kind.ACCOUNT in first.kinds and _Kind.ROUTING in second.kinds
    )
    return routing_pair and labelled


def find_bank_accounts(text: str) -> list[tuple[int, int]]:
    """Spans of both numbers of each account pair, and of labelled account numbers, in ``text``."""
    numbers = _numbers(text)
    found: set[tuple[int, int]] = set()
    for first, second in itertools.pairwise(numbers):
        if first.end <= second.start and _is_pair(text, first, second):
            found.update({(first.start, first.end), (second.start, second.end)})
    for number in numbers:
        if (
            _Kind.ACCOUNT in number.kinds
            and len(number.digits) >= _LABELLED_MIN_DIGITS
            and said_before(text, number.start, _ACCOUNT_LABEL)
            and not said_before(text, number.start, REFERENCE)
        ):
            found.add((number.start, number.end))
    return sorted(found)
