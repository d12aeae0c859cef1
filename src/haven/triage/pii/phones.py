"""Phone numbers, told apart from the order numbers, dates, amounts and references tweets are full of.

Candidates come from ``phonenumbers``' own matcher at ``Leniency.VALID``: the number must be valid
(in an allocated range), not merely of a possible length, and the matcher already skips dates, times,
page ranges and digits glued to letters. (``STRICT_GROUPING`` would also drop ``0791 112 3456``, a
common way to write a UK mobile.) On top of that:

* **Regions.** A number with its country code (``+44 …``, ``0044 …``, ``001-…`` from the UK) is read
  as written. A number without one is read in the configured region (the bank's home market, ``GB``
  by default), and also as a UK or US national number when it is written the way only that country
  writes numbers (:data:`_UNAMBIGUOUS`): ``(415) 555-0132`` and ``415-555-0132`` are American,
  ``07911 123456`` is British, and so is a run of digits valid there after words such as "call".
  Numbers of other countries without their country code are not found: their digits fit too many
  other things.
* **Words before.** A number labelled as something else (``order``, ``ref``, ``tracking``,
  ``account`` …) is not a phone number, whatever its digits; nor is an IPv4 address
  (``36.160.14.148`` is a valid American number).
* **Bare digits.** Ten digits in one run without a trunk ``0`` (``4155550132``) are far more often an
  order or reference number than an American phone number, so they count only after words such as
  ``call``, ``phone`` or ``text``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from phonenumbers import Leniency, PhoneNumberMatcher

from haven.triage.pii.context import REFERENCE, keywords, said_before
from haven.triage.pii.overlap import SpanSet

#: Numbers written the way only one of the bank's markets writes them, so they can be taken for that
#: country's numbers whatever the configured region. North American: an area code in brackets or
#: three-three-four digits with separators, optionally after a ``1``. British: a trunk ``0`` and ten
#: or eleven digits in all, in groups or not, or an international number after the ``00`` that
#: Europe dials abroad with. Either may end in an extension (``x123``, ``ext. 123``).
_EXTENSION = r"(?: ?(?:x|ext\.?|extension) ?\d{1,6})?"
_UNAMBIGUOUS: dict[str, re.Pattern[str]] = {
    "US": re.compile(rf"(?:1[-. ]?)?(?:\(\d{{3}}\) ?|\d{{3}}[-. ])\d{{3}}[-. ]\d{{4}}{_EXTENSION}"),
    "GB": re.compile(rf"(?:\(?0(?:[- )]{{0,2}}\d){{9,10}}|00[1-9](?:[- ]?\d){{6,14}}){_EXTENSION}"),
}

#: A stretch of at least seven digits in the punctuation phone numbers are written with. The (slow)
#: matcher only runs while there is a stretch that may hold a phone number: one that no finding
#: covers (a card number, an account number, a phone number found already), with no label of
#: something else before it, and that is not a date or a span of years.
_STRETCH = re.compile(r"\d(?:[-. ()]{0,3}\d){6,}")
_DATE_SHAPED = re.compile(r"\d{4}-\d\d-\d\d|\d\d?[-.]\d\d?[-.]\d{4}|(?:19|20)\d\d-(?:19|20)\d\d")

_BARE = re.compile(r"\d+")
_IP_ADDRESS = re.compile(r"\d{1,3}(?:\.\d{1,3}){3}")
_BARE_NATIONAL = re.compile(r"(?<!\d)\d{10,11}(?!\d)")

_NOT_A_PHONE = keywords("account", "acct", "acc", "a/c", "sort code", "iban", "routing", "ssn", "card")

_PHONE_WORDS = keywords(
    "call",
    "calling",
    "called",
    "ring",
    "rang",
    "phone",
    "phoned",
    "tel",
    "telephone",
    "mobile",
    "mob",
    "cell",
    "number",
    "text",
    "txt",
    "sms",
    "whatsapp",
    "contact",
    "reach",
    "dial",
    "landline",
    "fax",
)


#: How many invalid candidates the matcher tries before giving up on a text (valid numbers do not
#: count). phonenumbers' default, 65,535, lets 100,000 characters of digit groups take seconds; a
#: post with a thousand number-like strings that are no phone numbers is no post.
_MAX_TRIES = 1_000


def _matches(text: str, region: str) -> Iterator[tuple[int, int, str]]:
    for match in PhoneNumberMatcher(text, region, leniency=Leniency.VALID, max_tries=_MAX_TRIES):
        yield match.start, match.end, match.raw_string


def _plausible(text: str, start: int, raw: str) -> bool:
    if said_before(text, start, REFERENCE) or said_before(text, start, _NOT_A_PHONE):
        return False
    if _IP_ADDRESS.fullmatch(raw):
        return False
    if _BARE.fullmatch(raw) and not raw.startswith("0"):
        return said_before(text, start, _PHONE_WORDS)
    return True


def _worth_matching(text: str, *taken: SpanSet) -> bool:
    for stretch in _STRETCH.finditer(text):
        covered = any(spans.covers(stretch.start(), stretch.end()) for spans in taken)
        labelled = said_before(text, stretch.start(), REFERENCE) or said_before(
            text, stretch.start(), _NOT_A_PHONE
        )
        if not (covered or labelled or _DATE_SHAPED.fullmatch(stretch.group())):
            return True
    return False


def _regions(text: str, region: str) -> Iterator[tuple[str, re.Pattern[str] | None]]:
    """The configured region, where any way of writing a number counts, then the other markets whose
    numbers the text may hold, with the way of writing that alone counts there."""
    yield region, None
    for other, written in _UNAMBIGUOUS.items():
        if other != region and (written.search(text) or _BARE_NATIONAL.search(text)):
            yield other, written


def find_phone_numbers(text: str, region: str, taken: SpanSet) -> list[tuple[int, int]]:
    """Spans of valid phone numbers in ``text`` (see the module's notes on ``region``) that overlap no
    ``taken`` span (found to be something else already)."""
    found = SpanSet()
    for read_as, written in _regions(text, region):
        if not _worth_matching(text, taken, found):
            break
        for start, end, raw in _matches(text, read_as):
            if written is not None and not (written.fullmatch(raw) or _BARE.fullmatch(raw)):
                continue
            if not taken.overlaps(start, end) and _plausible(text, start, raw):
                found.add(start, end)
    return list(found)
