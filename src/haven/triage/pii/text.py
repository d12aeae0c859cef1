"""Folding the many ways a number can be typed or pasted into one plain form before detection.

Phones and apps put invisible characters into copied numbers (left-to-right marks around a contact's
phone number, zero-width spaces from rich-text editors, soft hyphens), and keyboards offer fullwidth
or other scripts' digits, typographic dashes and no-break spaces. The detectors only know ASCII
digits, ``-`` and the plain space, so :func:`fold` removes the invisible characters and replaces the
look-alikes one for one, and remembers where each remaining character came from so that spans found
in the folded text can be mapped back onto the original.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

#: Format characters (Unicode category Cf) that turn up inside copied numbers: soft hyphen, Arabic
#: letter mark, Mongolian vowel separator, zero-width space/joiners, directional marks, embeddings and
#: overrides, word joiner and invisible operators, directional isolates, byte-order mark.
_INVISIBLE = re.compile("[\u00ad\u061c\u180e\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff]")

#: Dashes people and word processors put into numbers: hyphen, non-breaking hyphen, figure dash, en
#: and em dash, horizontal bar, minus sign, small and fullwidth hyphen-minus. Only folded between two
#: digits: elsewhere a dash is punctuation ("email—jane@example.com—thanks").
_DASHES = "\u2010\u2011\u2012\u2013\u2014\u2015\u2212\ufe58\ufe63\uff0d"
#: No-break, fixed-width, thin, narrow no-break, medium mathematical and ideographic spaces.
_SPACES = "\u00a0\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u202f\u205f\u3000"
#: Fullwidth plus sign, parentheses, full stop and commercial at.
_SYMBOLS = {"\uff0b": "+", "\uff08": "(", "\uff09": ")", "\uff0e": ".", "\uff20": "@"}
_LOOKALIKES = {**dict.fromkeys(_DASHES, "-"), **dict.fromkeys(_SPACES, " "), **_SYMBOLS}

#: A digit other than 0-9 (``\d`` is any Unicode decimal digit), a dash between digits, or a
#: look-alike of the space or ``+().@``.
_FOLDABLE = re.compile(f"(?![0-9])\\d|(?<=\\d)[{_DASHES}](?=\\d)|[{_SPACES}{''.join(_SYMBOLS)}]")


@dataclass(frozen=True, slots=True)
class Folded:
    """The folded text, and for each of its characters the index of the original it came from.

    ``origins`` is ``None`` when nothing was removed, so indices are the same in both texts.
    """

    text: str
    origins: tuple[int, ...] | None

    def original_span(self, start: int, end: int) -> tuple[int, int]:
        """``text[start:end]`` (not empty) as a span of the original text."""
        if self.origins is None:
            return start, end
        return self.origins[start], self.origins[end - 1] + 1


def _fold_character(match: re.Match[str]) -> str:
    character = match.group()
    return _LOOKALIKES.get(character) or str(unicodedata.decimal(character))


def fold(text: str) -> Folded:
    """``text`` without invisible characters, with ASCII digits and plain dashes, spaces, ``+().@``."""
    if text.isascii():
        return Folded(text, None)
    origins: tuple[int, ...] | None = None
    if _INVISIBLE.search(text):
        removed = {match.start() for match in _INVISIBLE.finditer(text)}
        origins = tuple(index for index in range(len(text)) if index not in removed)
        text = _INVISIBLE.sub("", text)
    if _FOLDABLE.search(text):
        text = _FOLDABLE.sub(_fold_character, text)
    return Folded(text, origins)
