"""Checking what admins type into forms: every problem at once, in words fit to show next to the form."""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence

from haven.kit.errors import Invalid

# Control and invisible formatting characters could make a name display as something else (a
# right-to-left override, a zero-width joiner, a newline), and PostgreSQL refuses NUL in text.
_NOT_IN_NAMES = frozenset({"Cc", "Cf", "Co", "Cs", "Zl", "Zp"})
# Longer text may hold newlines and tabs, and emoji need their joiners (format characters), but
# not the bidirectional controls that reorder what the reader sees.
_NOT_IN_TEXT = frozenset({"Cc", "Co", "Cs", "Zl", "Zp"})
_BIDI_CONTROLS = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


class FormInvalid(Invalid):
    """Input that cannot be saved; ``problems`` says what is wrong with each field."""

    def __init__(self, problems: Sequence[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = tuple(problems)


def clean_name(value: str, *, label: str, max_length: int, problems: list[str]) -> str:
    """``value`` stripped; records a problem when it is empty, too long or has invisible characters."""
    value = value.strip()
    if not value:
        problems.append(f"{label}: required")
    elif len(value) > max_length:
        problems.append(f"{label}: at most {max_length} characters (it has {len(value):,})")
    elif any(unicodedata.category(char) in _NOT_IN_NAMES for char in value):
        problems.append(f"{label}: must not contain control or invisible formatting characters")
    return value


def clean_text(value: str, *, label: str, max_length: int, problems: list[str]) -> str:
    """Multi-line text with newlines normalised to ``\\n``; records a problem like ``clean_name``."""
    value = value.replace("\r\n", "\n").strip()
    if len(value) > max_length:
        problems.append(f"{label}: at most {max_length:,} characters (it has {len(value):,})")
    elif any(
        (unicodedata.category(char) in _NOT_IN_TEXT and char not in "\n\t") or char in _BIDI_CONTROLS
        for char in value
    ):
        problems.append(f"{label}: must not contain control characters")
    return value


def small_int(value: str, *, max_digits: int = 12) -> int | None:
    """A non-negative whole number typed as ASCII digits (no signs, no '²'), else None."""
    value = value.strip()
    return int(value) if value.isascii() and value.isdigit() and len(value) <= max_digits else None
