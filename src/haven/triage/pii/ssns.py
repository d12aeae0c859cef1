"""US Social Security numbers.

Written ``123-45-6789``, ``123 45 6789`` or ``123.45.6789`` (one separator throughout), a number is
taken when ``stdnum.us.ssn`` accepts it: no area 000, 666 or 900-999, no group 00, no serial 0000,
none of the numbers the SSA has voided after they were published. Nine digits in one run are far more
often something else, so they count only right after "SSN", "social security" and the like. Either
way, a number labelled as a reference (``order``, ``ref`` …) is not one, and neither is a group of
digits that carries on into more groups (part of a longer number).
"""

from __future__ import annotations

import re

from stdnum.us import ssn

from haven.triage.pii.context import REFERENCE, keywords, said_before

_EDGE_BEFORE = r"(?<![\w.-])(?<!\d )"
_EDGE_AFTER = r"(?![\w]|[-. ]\d)"
_WRITTEN = re.compile(rf"{_EDGE_BEFORE}\d{{3}}([-. ])\d{{2}}\1\d{{4}}{_EDGE_AFTER}")
_RUN = re.compile(rf"{_EDGE_BEFORE}\d{{9}}{_EDGE_AFTER}")
_NON_DIGITS = re.compile(r"\D")

_SSN_WORDS = keywords("ssn", "ss#", "ss no", "social security", "soc sec", "social")


def find_ssns(text: str) -> list[tuple[int, int]]:
    """Spans of valid US Social Security numbers in ``text``."""
    spans = [
        match.span()
        for match in _WRITTEN.finditer(text)
        if ssn.is_valid(_NON_DIGITS.sub("", match.group()))
        and not said_before(text, match.start(), REFERENCE)
    ]
    spans += [
        match.span()
        for match in _RUN.finditer(text)
        if ssn.is_valid(match.group()) and said_before(text, match.start(), _SSN_WORDS)
    ]
    return sorted(spans)
