"""Masking private data for agents: each finding becomes a placeholder that says what was there.

An agent replying to "my card 4111 1111 1111 1111 was charged twice, call 07911 123456" needs to
know that the customer posted a card number and a phone number (to warn them, and to ask for the
post to be deleted), and which card they mean, but never the numbers themselves. So each span is
replaced by a bracketed placeholder in plain words:

=============== ==============================
CREDIT_CARD     ``[card number ending 1111]``
IBAN_CODE       ``[IBAN]``
BANK_ACCOUNT    ``[bank account]``
US_SSN          ``[SSN]``
PHONE_NUMBER    ``[phone number]``
EMAIL_ADDRESS   ``[e-mail address]``
=============== ==============================

Only a card keeps anything, its last four digits, as printed on receipts and statements and as
PCI DSS allows to be shown; customers and agents tell cards apart by them. Nothing of the others is
kept: the last digits of an account or phone number help no agent and narrow down the number.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence

from haven.triage.pii.detect import PiiSpan, PiiType, find_private_data

_PLACEHOLDERS = {
    PiiType.IBAN_CODE: "[IBAN]",
    PiiType.BANK_ACCOUNT: "[bank account]",
    PiiType.US_SSN: "[SSN]",
    PiiType.PHONE_NUMBER: "[phone number]",
    PiiType.EMAIL_ADDRESS: "[e-mail address]",
}


def _placeholder(text: str, span: PiiSpan) -> str:
    if span.type is not PiiType.CREDIT_CARD:
        return _PLACEHOLDERS[span.type]
    digits = "".join(str(unicodedata.decimal(ch)) for ch in text[span.start : span.end] if ch.isdecimal())
    return f"[card number ending {digits[-4:]}]" if len(digits) >= 13 else "[card number]"


def mask_private_data(text: str, spans: Sequence[PiiSpan] | None = None, *, region: str = "GB") -> str:
    """``text`` with each span (by default, each found by :func:`find_private_data`) replaced by its
    placeholder.

    Spans may come in any order. Where given spans overlap, the whole stretch they cover is masked,
    under the placeholder of the one that starts first, so no character of either survives. Spans
    that reach outside the text are a caller's mistake and raise :class:`ValueError`.
    """
    if spans is None:
        spans = find_private_data(text, region=region)
    parts: list[str] = []
    position = 0
    for span in sorted(spans, key=lambda span: (span.start, -span.end)):
        if not 0 <= span.start < span.end <= len(text):
            raise ValueError(f"span {span.start}:{span.end} is not within a text of {len(text)} characters")
        if span.start < position:
            position = max(position, span.end)
            continue
        parts.append(text[position : span.start])
        parts.append(_placeholder(text, span))
        position = span.end
    parts.append(text[position:])
    return "".join(parts)
