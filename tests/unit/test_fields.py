from __future__ import annotations

import re
import time
from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from haven.handoff.cards import find_card_numbers
from haven.handoff.fields import FIELD_SPECS, FieldInvalid, FieldKind, mask, normalise
from tests.unit.test_cards import no_digits, written_cards

TODAY = date(2026, 3, 15)
#: Refusals are fixed sentences: none has five digits in a row, so none can be repeating a number.
FIVE_DIGITS = re.compile(r"\d{5}")


def norm(kind: FieldKind, raw: str, today: date = TODAY) -> str:
    return normalise(kind, raw, today=today)


def refused(kind: FieldKind, raw: str, today: date = TODAY) -> str:
    with pytest.raises(FieldInvalid) as caught:
        normalise(kind, raw, today=today)
    return str(caught.value)


def test_every_kind_has_a_spec() -> None:
    assert set(FIELD_SPECS) == set(FieldKind)
    for kind, spec in FIELD_SPECS.items():
        assert spec.kind is kind
        assert spec.label and spec.hint and spec.input_type and spec.max_length > 0


@pytest.mark.parametrize("kind", list(FieldKind))
@pytest.mark.parametrize("raw", ["", "   ", "\n\t "])
def test_an_empty_answer_is_required(kind: FieldKind, raw: str) -> None:
    assert refused(kind, raw) == "this field is required"


@pytest.mark.parametrize("kind", list(FieldKind))
def test_oversized_answers_are_refused_before_parsing(kind: FieldKind) -> None:
    limit = 4 * FIELD_SPECS[kind].max_length
    started = time.perf_counter()
    assert refused(kind, "4111 1111 1111 1111 " * 5_000) == "this answer is too long"
    assert refused(kind, "x" * (limit + 1)) == "this answer is too long"
    assert time.perf_counter() - started < 0.1


# Dates of birth


@pytest.mark.parametrize(
    ("raw", "stored"),
    [
        ("1985-07-14", "1985-07-14"),
        ("14/07/1985", "1985-07-14"),
        ("4/7/1985", "1985-07-04"),
        (" 1985-07-14\n", "1985-07-14"),
        ("１９８５-０７-１４", "1985-07-14"),  # fullwidth digits
        ("2010-03-15", "2010-03-15"),  # sixteen today
        ("1906-03-16", "1906-03-16"),  # 119, 120 tomorrow
        ("1906-03-15", "1906-03-15"),  # 120 today
    ],
)
def test_date_of_birth_is_stored_as_iso(raw: str, stored: str) -> None:
    assert norm(FieldKind.DATE_OF_BIRTH, raw) == stored


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("2010-03-16", "aged 16 to 120"),  # sixteen tomorrow
        ("1905-03-14", "aged 16 to 120"),  # 121
        ("2030-01-01", "aged 16 to 120"),
        ("1985-02-29", "does not exist"),
        ("31/04/1985", "does not exist"),
        ("1985-13-01", "does not exist"),
        ("07/14/1985", "does not exist"),  # month first
        ("19850714", "YYYY-MM-DD"),
        ("1985-7-14", "YYYY-MM-DD"),
        ("14.07.1985", "YYYY-MM-DD"),
        ("July 14th 1985", "YYYY-MM-DD"),
        ("1985-W28-7", "YYYY-MM-DD"),
    ],
)
def test_bad_dates_of_birth_are_refused(raw: str, message: str) -> None:
    assert message in refused(FieldKind.DATE_OF_BIRTH, raw)


def test_a_leap_day_birthday() -> None:
    born = "2008-02-29"
    assert "aged" in refused(FieldKind.DATE_OF_BIRTH, born, today=date(2024, 2, 28))
    assert norm(FieldKind.DATE_OF_BIRTH, born, today=date(2024, 2, 29)) == born
    # In a year without 29 February the birthday comes on 1 March: 120 on the 28th, 121 the next day.
    assert norm(FieldKind.DATE_OF_BIRTH, "1904-02-29", today=date(2025, 2, 28)) == "1904-02-29"
    assert "aged" in refused(FieldKind.DATE_OF_BIRTH, "1904-02-29", today=date(2025, 3, 1))


# Card, last four digits


@pytest.mark.parametrize(
    ("raw", "stored"),
    [
        ("1234", "1234"),
        (" 0042 ", "0042"),
        ("４２４２", "4242"),
        ("4111111111111111", "1111"),
        ("4111 1111 1111 1111", "1111"),
        ("4111-1111-1111-1111", "1111"),
        ("5555555555554444", "4444"),
        ("3782 822463 10005", "0005"),
        ("6011 0009 9013 9424", "9424"),
    ],
)
def test_card_last4_keeps_four_digits(raw: str, stored: str) -> None:
    assert norm(FieldKind.CARD_LAST4, raw) == stored


@pytest.mark.parametrize(
    "raw",
    [
        "4111111111111112",  # a mistyped card number: not kept at all
        "4111 1111 1111 1112",
        "12345",
        "1234 5678",
        "my card 4111 1111 1111 1111",
        "x4111111111111111",
        "1234567890123456789012",
    ],
)
def test_card_last4_refuses_more_digits_without_echoing_them(raw: str) -> None:
    message = refused(FieldKind.CARD_LAST4, raw)
    assert message == "enter only the last four digits"


@pytest.mark.parametrize("raw", ["123", "12a4", "abcd", "•••• 1234", "12.4"])
def test_card_last4_refuses_anything_but_four_digits(raw: str) -> None:
    assert refused(FieldKind.CARD_LAST4, raw) == "enter the last four digits of your card"


# Transaction date


@pytest.mark.parametrize(
    ("raw", "stored"),
    [
        ("2026-03-15", "2026-03-15"),
        ("15/03/2026", "2026-03-15"),
        ("2024-03-15", "2024-03-15"),  # two years ago to the day
        ("2025-11-02", "2025-11-02"),
    ],
)
def test_transaction_date(raw: str, stored: str) -> None:
    assert norm(FieldKind.TRANSACTION_DATE, raw) == stored


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("2026-03-16", "future"),
        ("2024-03-14", "last 2 years"),
        ("1999-01-01", "last 2 years"),
        ("2026-02-30", "does not exist"),
        ("yesterday", "YYYY-MM-DD"),
    ],
)
def test_bad_transaction_dates_are_refused(raw: str, message: str) -> None:
    assert message in refused(FieldKind.TRANSACTION_DATE, raw)


def test_two_years_before_a_leap_day() -> None:
    today = date(2028, 2, 29)
    assert norm(FieldKind.TRANSACTION_DATE, "2026-02-28", today=today) == "2026-02-28"
    assert "last 2 years" in refused(FieldKind.TRANSACTION_DATE, "2026-02-27", today=today)


# Transaction amount


@pytest.mark.parametrize(
    ("raw", "stored"),
    [
        ("1234.50", "1234.50"),
        ("1234.5", "1234.50"),
        ("1,234.50", "1234.50"),
        ("1234", "1234.00"),
        ("€12.30", "12.30"),
        ("£ 12.30", "12.30"),
        ("$0.01", "0.01"),
        ("0.10", "0.10"),
        ("1,000,000.00", "1000000.00"),
        ("1000000", "1000000.00"),
        ("０12.30", "12.30"),
        ("0.1", "0.10"),
        ("99999.99", "99999.99"),
    ],
)
def test_transaction_amount_is_stored_exactly(raw: str, stored: str) -> None:
    assert norm(FieldKind.TRANSACTION_AMOUNT, raw) == stored


@pytest.mark.parametrize(
    "raw",
    [
        "0",
        "0.00",
        "-5",
        "1.234",
        "12,30",
        "1,23,456",
        "1000000.01",
        "1,000,001",
        "abc",
        "1e3",
        "NaN",
        "Infinity",
        "€",
        "1 234",
        "12.30€",
        "€€12",
        ".50",
        "12.",
    ],
)
def test_bad_amounts_are_refused(raw: str) -> None:
    refused(FieldKind.TRANSACTION_AMOUNT, raw)


# Free text


def test_free_text_is_nfc_stripped_and_keeps_line_breaks_and_tabs() -> None:
    assert norm(FieldKind.FREE_TEXT, "  Cafe\u0301\r\nsecond\rthird\tcol  ") == "Café\nsecond\nthird\tcol"


@pytest.mark.parametrize("bad", ["\x00", "\x1b[31m", "\x7f", "\u0085", "\ud800"])
def test_free_text_refuses_control_characters(bad: str) -> None:
    assert "cannot be accepted" in refused(FieldKind.FREE_TEXT, f"hello {bad} there")


def test_free_text_is_at_most_2000_characters() -> None:
    assert norm(FieldKind.FREE_TEXT, "a" * 2000) == "a" * 2000
    assert "at most 2000" in refused(FieldKind.FREE_TEXT, "a" * 2001)
    assert norm(FieldKind.FREE_TEXT, " " * 3000 + "a") == "a"


def test_free_text_has_card_numbers_redacted() -> None:
    raw = "It was 4111 1111 1111 1111, not 5555-5555-5555-4444. Call +44 20 7946 0958."
    assert norm(FieldKind.FREE_TEXT, raw) == "It was •••• 1111, not •••• 4444. Call +44 20 7946 0958."


@given(written_cards(), no_digits, st.sampled_from(list(FieldKind)))
def test_normalise_never_keeps_a_card_number(written: str, context: str, kind: FieldKind) -> None:
    for raw in (written, f"{context} {written} {context}"):
        try:
            value = norm(kind, raw)
        except FieldInvalid as refusal:
            assert not FIVE_DIGITS.search(str(refusal))
            continue
        assert find_card_numbers(value) == []
        assert len(re.sub(r"\D", "", value)) <= 4


@given(st.sampled_from(list(FieldKind)), st.text(max_size=200) | st.text("0123456789 -/.,€", max_size=60))
def test_normalise_takes_any_text_and_never_echoes_it(kind: FieldKind, raw: str) -> None:
    try:
        value = norm(kind, raw)
    except FieldInvalid as refusal:
        assert not FIVE_DIGITS.search(str(refusal))
        return
    assert len(value) <= FIELD_SPECS[kind].max_length
    assert len(mask(kind, value)) <= 200  # the column it is stored in


# Masking


def test_masks() -> None:
    assert mask(FieldKind.DATE_OF_BIRTH, "1985-07-14") == "••••-••-••"
    assert mask(FieldKind.CARD_LAST4, "1234") == "•• 34"
    assert mask(FieldKind.CARD_LAST4, "4111111111111111") == "•• ••"
    assert mask(FieldKind.TRANSACTION_DATE, "2026-11-02") == "2026-11-02"
    assert mask(FieldKind.TRANSACTION_AMOUNT, "1234.50") == "1234.50"
    assert mask(FieldKind.FREE_TEXT, "Hi") == "Hi (2 characters)"
    assert mask(FieldKind.FREE_TEXT, "!") == "! (1 character)"
    assert mask(FieldKind.FREE_TEXT, "Hello there, my card was stolen") == "Hello there,… (31 characters)"
    assert mask(FieldKind.FREE_TEXT, "Line one\nline two") == "Line one lin… (17 characters)"


@given(st.dates(date(1906, 3, 15), date(2010, 3, 15)))
def test_a_masked_date_of_birth_shows_nothing(born: date) -> None:
    value = norm(FieldKind.DATE_OF_BIRTH, born.isoformat())
    assert not re.search(r"\d", mask(FieldKind.DATE_OF_BIRTH, value))


@given(st.text("0123456789", min_size=4, max_size=4))
def test_a_masked_card_last4_shows_only_two_digits(last4: str) -> None:
    masked = mask(FieldKind.CARD_LAST4, norm(FieldKind.CARD_LAST4, last4))
    assert masked == f"•• {last4[2:]}"
    assert last4 not in masked


@given(st.text(min_size=13, max_size=2000))
def test_a_masked_free_text_never_shows_the_whole_of_it(text: str) -> None:
    try:
        value = norm(FieldKind.FREE_TEXT, text)
    except FieldInvalid:
        return
    masked = mask(FieldKind.FREE_TEXT, value)
    assert masked.endswith(f"({len(value)} character{'' if len(value) == 1 else 's'})")
    if len(value) > 12:
        assert value not in masked
        assert "…" in masked
