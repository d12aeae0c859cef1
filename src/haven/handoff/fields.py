"""The kinds of field an agent can ask for in a secure form: how each is checked, stored and shown.

A secure form is how a verified customer hands over what should never be posted on X: a date of birth,
the card a dispute is about, the transaction in question. This module is the one place that knows, for
each kind of field,

* what the customer's form shows (:data:`FIELD_SPECS`),
* what is accepted and the one canonical form it is stored in (:func:`normalise`): a stored value is
  something an agent can compare against the bank's records without guessing at its format, and
  anything not needed (the rest of a card number) is dropped before it is ever stored, and
* what an agent sees without permission to reveal the value (:func:`mask`).

Refusals are :class:`FieldInvalid`, whose message is shown to the customer as it is and so never
repeats the value: it may be on a shared screen, and it is written to logs.

Everything is pure: no database, no clock (the caller passes ``today``), so the rules are easy to test
and the same on every path that takes an answer.
"""

from __future__ import annotations

import enum
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from types import MappingProxyType

from haven.handoff.cards import find_card_numbers, redact_card_numbers


class FieldKind(enum.StrEnum):
    DATE_OF_BIRTH = "date_of_birth"
    CARD_LAST4 = "card_last4"
    TRANSACTION_DATE = "transaction_date"
    TRANSACTION_AMOUNT = "transaction_amount"
    FREE_TEXT = "free_text"


@dataclass(frozen=True, slots=True)
class FieldSpec:
    """How a field is presented to the customer.

    ``input_type`` is the HTML input type of the customer's form (``"textarea"`` meaning a ``<textarea>``
    element). ``max_length`` is the longest answer the form lets the customer type; :func:`normalise`
    refuses anything over four times as long before looking at it.
    """

    kind: FieldKind
    label: str
    input_type: str
    hint: str
    max_length: int


FIELD_SPECS: Mapping[FieldKind, FieldSpec] = MappingProxyType(
    {
        FieldKind.DATE_OF_BIRTH: FieldSpec(
            FieldKind.DATE_OF_BIRTH, "Date of birth", "date", "The date of birth your bank has for you", 10
        ),
        # Long enough for a pasted full card number (19 digits in groups of four), so that the server
        # cuts it down to its last four digits rather than the browser truncating it to its first four.
        FieldKind.CARD_LAST4: FieldSpec(
            FieldKind.CARD_LAST4,
            "Last four digits of your card",
            "text",
            "The last four digits on the front of your card. Never enter the full number.",
            23,
        ),
        FieldKind.TRANSACTION_DATE: FieldSpec(
            FieldKind.TRANSACTION_DATE,
            "Transaction date",
            "date",
            "The day the transaction was made, as on your statement",
            10,
        ),
        # Text, not "number": a number input refuses "€12.30" and "1,234.50" and reads decimals by locale.
        FieldKind.TRANSACTION_AMOUNT: FieldSpec(
            FieldKind.TRANSACTION_AMOUNT,
            "Transaction amount",
            "text",
            "The amount as on your statement, for example 1234.50",
            16,
        ),
        FieldKind.FREE_TEXT: FieldSpec(
            FieldKind.FREE_TEXT,
            "Details",
            "textarea",
            "Anything else we need to know. Please don't include card numbers or passwords.",
            2000,
        ),
    }
)


class FieldInvalid(Exception):
    """An answer that cannot be accepted; the message is for the customer and never contains the answer."""


_ISO_DATE = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})")
_DAY_FIRST_DATE = re.compile(r"([0-9]{1,2})/([0-9]{1,2})/([0-9]{4})")
_LAST4 = re.compile(r"[0-9]{4}")
_AMOUNT = re.compile(r"[€£$]?\s?((?:[0-9]{1,3}(?:,[0-9]{3})+|[0-9]+)(?:\.[0-9]{1,2})?)")
_MAX_AMOUNT = Decimal("1000000.00")
_CENTS = Decimal("0.01")

_MIN_AGE = 16
_MAX_AGE = 120
_TRANSACTION_YEARS = 2


def _structured(raw: str) -> str:
    """NFKC folds fullwidth digits and look-alike punctuation into the ASCII the formats are written in."""
    return unicodedata.normalize("NFKC", raw).strip()


def _date(value: str) -> date:
    if iso := _ISO_DATE.fullmatch(value):
        year, month, day = iso.groups()
    elif day_first := _DAY_FIRST_DATE.fullmatch(value):
        day, month, year = day_first.groups()
    else:
        raise FieldInvalid("enter the date as YYYY-MM-DD or DD/MM/YYYY")
    try:
        return date(int(year), int(month), int(day))
    except ValueError:
        raise FieldInvalid("this date does not exist") from None


def _years_before(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February, in a year that has none
        return day.replace(year=day.year - years, day=28)


def _date_of_birth(value: str, today: date) -> str:
    born = _date(value)
    age = today.year - born.year - ((today.month, today.day) < (born.month, born.day))
    if not _MIN_AGE <= age <= _MAX_AGE:
        raise FieldInvalid(f"the date of birth must be of someone aged {_MIN_AGE} to {_MAX_AGE}")
    return born.isoformat()


def _card_last4(value: str) -> str:
    if _LAST4.fullmatch(value):
        return value
    cards = find_card_numbers(value)
    if len(cards) == 1 and cards[0].start == 0 and cards[0].end == len(value):
        return cards[0].last4
    if sum(character.isdigit() for character in value) > 4:
        raise FieldInvalid("enter only the last four digits")
    raise FieldInvalid("enter the last four digits of your card")


def _transaction_date(value: str, today: date) -> str:
    day = _date(value)
    if day > today:
        raise FieldInvalid("the transaction date cannot be in the future")
    if day < _years_before(today, _TRANSACTION_YEARS):
        raise FieldInvalid(f"the transaction must be from the last {_TRANSACTION_YEARS} years")
    return day.isoformat()


def _transaction_amount(value: str) -> str:
    written = _AMOUNT.fullmatch(value)
    if written is None:
        raise FieldInvalid("enter the amount as a number, for example 1234.50")
    amount = Decimal(written.group(1).replace(",", ""))
    if not 0 < amount <= _MAX_AMOUNT:
        raise FieldInvalid("the amount must be more than 0 and at most 1,000,000.00")
    return str(amount.quantize(_CENTS))


def _free_text(raw: str, max_length: int) -> str:
    # Browsers send a textarea's line breaks as CRLF.
    text = unicodedata.normalize("NFC", raw.replace("\r\n", "\n").replace("\r", "\n")).strip()
    if not text:
        raise FieldInvalid("this field is required")
    # Control characters (other than line breaks and tabs) have no business in a message and can hide
    # text from the agent; lone surrogates cannot even be encoded for storage.
    if any(unicodedata.category(ch) in ("Cc", "Cs") and ch not in "\n\t" for ch in text):
        raise FieldInvalid("this text contains characters that cannot be accepted")
    if len(text) > max_length:
        raise FieldInvalid(f"this text is too long: at most {max_length} characters")
    return redact_card_numbers(text)


def normalise(kind: FieldKind, raw: str, *, today: date) -> str:
    """The canonical value of an answer, to be encrypted and stored; :class:`FieldInvalid` if refused.

    * ``DATE_OF_BIRTH``: ``YYYY-MM-DD`` (``DD/MM/YYYY`` accepted), of someone aged 16 to 120 on ``today``.
    * ``CARD_LAST4``: four digits. A whole, valid card number is accepted and cut to its last four
      digits; any other longer run of digits is refused, and none of it is kept.
    * ``TRANSACTION_DATE``: ``YYYY-MM-DD`` (``DD/MM/YYYY`` accepted), not after ``today`` nor more than
      two years before it.
    * ``TRANSACTION_AMOUNT``: a positive amount up to 1,000,000.00 with at most two decimals, optionally
      with thousands separators and a leading €, £ or $; stored as e.g. ``"1234.50"`` (exact decimals).
    * ``FREE_TEXT``: NFC, line breaks as ``\\n``, no other control characters, at most 2000 characters,
      card numbers cut to their last four digits.
    """
    spec = FIELD_SPECS[kind]
    if len(raw) > 4 * spec.max_length:
        raise FieldInvalid("this answer is too long")
    if kind is FieldKind.FREE_TEXT:
        return _free_text(raw, spec.max_length)
    value = _structured(raw)
    if not value:
        raise FieldInvalid("this field is required")
    match kind:
        case FieldKind.DATE_OF_BIRTH:
            return _date_of_birth(value, today)
        case FieldKind.CARD_LAST4:
            return _card_last4(value)
        case FieldKind.TRANSACTION_DATE:
            return _transaction_date(value, today)
        case FieldKind.TRANSACTION_AMOUNT:
            return _transaction_amount(value)


_PREVIEW_LENGTH = 12


def mask(kind: FieldKind, value: str) -> str:
    """What an agent without permission to reveal sees of a stored (canonical) value.

    * ``DATE_OF_BIRTH``: nothing but the format, ``••••-••-••``. A date of birth is an answer to a
      security question; any part of it (even the year) narrows a guess, and an agent who has to check
      it against the bank's records has the reveal permission for that.
    * ``CARD_LAST4``: the last two digits, ``•• 34``. Enough to tell two of the customer's cards apart
      in the conversation; the full four digits are themselves used to verify identity.
    * ``TRANSACTION_DATE``: in full. It says nothing about who the customer is, and the agent needs it
      to find the transaction.
    * ``TRANSACTION_AMOUNT``: in full, for the same reason.
    * ``FREE_TEXT``: the first 12 characters, ``…`` and the length, e.g. ``Hello, I was… (84
      characters)``: enough to see what the answer is about and that it is there, not its content. The
      text has already had card numbers cut out.
    """
    match kind:
        case FieldKind.DATE_OF_BIRTH:
            return "••••-••-••"
        case FieldKind.CARD_LAST4:
            # Anything that is not four digits (it cannot have come from normalise) is hidden entirely.
            return f"•• {value[2:]}" if _LAST4.fullmatch(value) else "•• ••"
        case FieldKind.TRANSACTION_DATE | FieldKind.TRANSACTION_AMOUNT:
            return value
        case FieldKind.FREE_TEXT:
            preview = " ".join(value[:_PREVIEW_LENGTH].split())
            more = "…" if len(value) > _PREVIEW_LENGTH else ""
            unit = "character" if len(value) == 1 else "characters"
            return f"{preview}{more} ({len(value)} {unit})"
