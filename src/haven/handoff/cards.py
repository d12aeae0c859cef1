"""Cutting card numbers out of free text, so a full card number is never stored in clear.

Customers paste their card number into chats and forms however often they are told not to. Whatever
Haven keeps (chat messages, secure-form answers, satisfaction comments) first goes through
:func:`redact_card_numbers`, which cuts every card number down to its last four digits: enough for an
agent to tell which card the customer means, useless to anyone who reads the database.

What counts as a card number is decided in one place, :mod:`haven.triage.pii.cards`, which the
detector of private data in public posts uses too.
"""

from __future__ import annotations

from haven.triage.pii.cards import CardMatch, find_card_numbers

__all__ = ["CardMatch", "find_card_numbers", "redact_card_numbers"]


def redact_card_numbers(text: str) -> str:
    """The text with each card number replaced by ``•••• <last four digits>``."""
    parts: list[str] = []
    position = 0
    for match in find_card_numbers(text):
        parts.append(text[position : match.start])
        parts.append(f"•••• {match.last4}")
        position = match.end
    parts.append(text[position:])
    return "".join(parts)
