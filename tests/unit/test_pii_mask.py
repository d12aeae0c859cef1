from __future__ import annotations

import itertools
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st
from stdnum import luhn

from haven.triage.pii.detect import PiiSpan, PiiType, find_private_data
from haven.triage.pii.mask import mask_private_data


def test_each_type_has_a_readable_placeholder() -> None:
    text = (
        "card 4111 1111 1111 1111, iban GB82WEST12345698765432, sort code 12-34-56 acc 12345678, "
        "ssn 123-45-6789, call 07911 123456, mail jane@example.com"
    )
    assert mask_private_data(text) == (
        "card [card number ending 1111], iban [IBAN], sort code [bank account] acc [bank account], "
        "ssn [SSN], call [phone number], mail [e-mail address]"
    )


def test_text_without_private_data_is_unchanged() -> None:
    text = "@HSBC_UK order 1234567890 paid £1,234.56 on 12/03/2024 😡"
    assert mask_private_data(text) == text


def test_fullwidth_card_digits_give_ascii_last_four() -> None:
    assert (
        mask_private_data("card ４１１１ １１１１ １１１１ １２３４")
        == "card ４１１１ １１１１ １１１１ １２３４"
    )
    assert mask_private_data("card ５５５５ ５５５５ ５５５５ ４４４４") == "card [card number ending 4444]"


def test_the_region_is_passed_on() -> None:
    assert mask_private_data("ruf an: 089 12345678", region="DE") == "ruf an: [phone number]"
    assert mask_private_data("ruf an: 089 12345678") == "ruf an: 089 12345678"


def test_given_spans_are_used_in_any_order() -> None:
    text = "a 12345 b 67890"
    spans = [PiiSpan(PiiType.US_SSN, 10, 15), PiiSpan(PiiType.PHONE_NUMBER, 2, 7)]
    assert mask_private_data(text, spans) == "a [phone number] b [SSN]"


def test_overlapping_spans_mask_everything_they_cover() -> None:
    text = "x 0123456789 y"
    spans = [PiiSpan(PiiType.PHONE_NUMBER, 2, 8), PiiSpan(PiiType.BANK_ACCOUNT, 5, 12)]
    assert mask_private_data(text, spans) == "x [phone number] y"
    nested = [PiiSpan(PiiType.PHONE_NUMBER, 2, 12), PiiSpan(PiiType.US_SSN, 4, 6)]
    assert mask_private_data(text, nested) == "x [phone number] y"


def test_a_short_span_given_as_a_card_keeps_no_digits() -> None:
    assert mask_private_data("pin 123456", [PiiSpan(PiiType.CREDIT_CARD, 4, 10)]) == "pin [card number]"


@pytest.mark.parametrize(("start", "end"), [(-1, 3), (2, 2), (5, 3), (0, 99)])
def test_spans_outside_the_text_are_refused(start: int, end: int) -> None:
    with pytest.raises(ValueError, match="not within"):
        mask_private_data("0123456789", [PiiSpan(PiiType.US_SSN, start, end)])


def test_an_empty_span_list_masks_nothing() -> None:
    assert mask_private_data("card 4111 1111 1111 1111", []) == "card 4111 1111 1111 1111"


no_digits = st.text(st.characters(exclude_categories=["Nd"], exclude_characters="@[]()#"), max_size=40)


@st.composite
def written_cards(draw: st.DrawFn) -> str:
    prefix, length = draw(st.sampled_from([("4", 16), ("5", 16), ("37", 15), ("6011", 16), ("4", 19)]))
    if prefix == "5":
        prefix = draw(st.sampled_from(["51", "52", "53", "54", "55"]))
    body = prefix + draw(
        st.text("0123456789", min_size=length - len(prefix) - 1, max_size=length - len(prefix) - 1)
    )
    number = body + luhn.calc_check_digit(body)
    cuts = sorted(draw(st.sets(st.integers(1, len(number) - 1), max_size=3)))
    return draw(st.sampled_from([" ", "-"])).join(
        number[start:end] for start, end in itertools.pairwise([0, *cuts, len(number)])
    )


@given(written_cards(), no_digits, no_digits)
def test_masked_text_keeps_no_card_digit_but_the_last_four(card: str, before: str, after: str) -> None:
    masked = mask_private_data(f"{before} {card} {after}")
    digits = re.sub(r"\D", "", card)
    assert re.sub(r"\D", "", masked) == digits[-4:]
    assert f"[card number ending {digits[-4:]}]" in masked


@given(st.text(max_size=300) | st.text(st.sampled_from("0123456789 -.()+@a"), max_size=300))
def test_masking_replaces_exactly_the_spans(text: str) -> None:
    spans = find_private_data(text)
    pattern, position = "", 0
    for span in spans:
        pattern += re.escape(text[position : span.start]) + r"\[[^\]]+\]"
        position = span.end
    pattern += re.escape(text[position:])
    assert re.fullmatch(pattern, mask_private_data(text, spans), re.DOTALL)
