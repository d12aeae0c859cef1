"""IBANs, compact (``GB82WEST12345698765432``) or in the printed groups of four, in any letter case.

Each country's IBANs have one length (from python-stdnum's copy of the SWIFT registry), so after a
country code and two check digits the detector takes exactly as many following letters and digits,
across single spaces between groups, as that country needs. One number is therefore checked at most
once per place it could start, and a sentence that goes on after the IBAN ("… 7654 32 thanks") cannot
confuse it.

The check is ``stdnum.iban``'s: ISO 7064 mod 97 check digits and the country's BBAN structure.
stdnum's national checks are left out (``check_country=False``): some look the bank up in a
registry, and the IBAN of a bank missing from stdnum's copy is still private data.
"""

from __future__ import annotations

import functools
import re

from stdnum import iban, numdb

#: A country code and two check digits at the start of a word.
_START = re.compile(r"(?<![A-Za-z0-9])[A-Za-z]{2}\d{2}")
#: A group of letters and digits, and the single space before each group after the first (a group
#: ends where its letters and digits do, so only a space can come before the next one).
_GROUP = re.compile(r" ?([A-Za-z0-9]+)")
_STRUCTURE = re.compile(r"(\d+)!")


@functools.cache
def _length(country: str) -> int:
    """The length of the country's IBANs, or 0 for a country without IBANs."""
    (_, properties), *_ = numdb.get("iban").info(country)
    bban = properties.get("bban")
    return 4 + sum(int(size) for size in _STRUCTURE.findall(bban)) if bban else 0


def _iban_at(text: str, start: int) -> int:
    """Where the IBAN starting at ``start`` ends, or -1 if none does."""
    wanted = _length(text[start : start + 2].upper())
    if not wanted:
        return -1
    taken, position, parts = 0, start, []
    while taken < wanted:
        group = _GROUP.match(text, position)
        if group is None:
            return -1
        parts.append(group.group(1))
        taken += len(group.group(1))
        position = group.end()
    if taken != wanted:
        return -1
    return position if iban.is_valid("".join(parts), check_country=False) else -1


def find_ibans(text: str) -> list[tuple[int, int]]:
    """Spans of valid IBANs in ``text``."""
    spans: list[tuple[int, int]] = []
    for start in _START.finditer(text):
        if spans and start.start() < spans[-1][1]:
            continue
        end = _iban_at(text, start.start())
        if end > 0:
            spans.append((start.start(), end))
    return spans
