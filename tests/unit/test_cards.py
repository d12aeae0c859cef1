from __future__ import annotations

import itertools
import random
import re
import time

import pytest
from hypothesis import given
from hypothesis import strategies as st
from stdnum import luhn

from haven.handoff.cards import CardMatch, find_card_numbers, redact_card_numbers
from haven.triage.pii.cards import _MAX_GROUPS

VISA = "4111111111111111"
MASTERCARD = "5555555555554444"
AMEX = "378282246310005"


def test_the_example_from_the_brief() -> None:
    assert redact_card_numbers("my card 4111 1111 1111 1111 is blocked") == "my card •••• 1111 is blocked"


@pytest.mark.parametrize(
    ("written", "last4"),
    [
        ("4111 1111 1111 1111", "1111"),
        ("4111-1111-1111-1111", "1111"),
        ("4111111111111111", "1111"),
        ("4111-1111 1111-1111", "1111"),
        ("4111.1111.1111.1111", "1111"),
        ("4111\u00a01111\u00a01111\u00a01111", "1111"),
        ("5555555555554444", "4444"),
        ("5555 5555 5555 4444", "4444"),
        ("378282246310005", "0005"),
        ("3782 822463 10005", "0005"),
        ("6011000990139424", "9424"),  # Discover
        ("3530111333300000", "0000"),  # JCB
        ("30569309025904", "5904"),  # Diners, 14 digits
        ("6200000000000005", "0005"),  # UnionPay
        ("5105105105105100", "5100"),  # Mastercard 51
        ("2223003122003222", "3222"),  # Mastercard 2-series
        ("4222222222222", "2222"),  # Visa, 13 digits
        ("41 11 11 11 11 11 11 11", "1111"),  # pairs: eight groups
        ("４１１１ １１１１ １１１１ １１１１", "1111"),  # fullwidth digits
    ],
)
def test_known_card_numbers_are_found_whole(written: str, last4: str) -> None:
    text = f"card: {written}."
    assert find_card_numbers(text) == [CardMatch(6, 6 + len(written), last4)]
    assert redact_card_numbers(text) == f"card: •••• {last4}."


@pytest.mark.parametrize(
    "text",
    [
        "4111111111111112",  # fails Luhn
        "4111 1111 1111 1112",
        "1234567812345670",  # Luhn-valid, but no network starts with 1
        "79927398713",  # Luhn-valid, too short
        "4111111111111",  # 13 digits with a Visa prefix, fails Luhn
        "41111111111111111110",  # 20 digits
        "+44 20 7946 0958",
        "+1-202-555-0143",
        "0044 7700 900123",
        "call 020 7946 0958 or 0161 496 0000",
        "GB82 WEST 1234 5698 7654 32",
        "GB82WEST12345698765432",
        "DE89 3704 0044 0532 0130 00",
        "DE89370400440532013000",
        "FR14 2004 1010 0505 0001 3M02 606",
        "NL91ABNA0417164300",
        "x4111111111111111",  # glued to a word: a reference, not a card
        "4111111111111111x",
        "INV4111-1111-1111-1111",
        "order 1234567890123456789012345",
        "4111  1111  1111  1111",  # two spaces do not join groups
        "",
        "no digits at all",
    ],
)
def test_things_that_are_not_card_numbers(text: str) -> None:
    assert find_card_numbers(text) == []
    assert redact_card_numbers(text) == text


@pytest.mark.parametrize("extra", ["1", "12", "123456789"])
def test_a_card_inside_a_longer_run_of_digits_is_not_a_card(extra: str) -> None:
    assert find_card_numbers(f"ref {extra}{VISA}") == []
    assert find_card_numbers(f"ref {VISA}{extra}") == []
    assert find_card_numbers(f"ref {extra}{VISA}{extra}") == []


def test_a_card_among_other_groups_is_found_on_its_group_boundaries() -> None:
    text = "ref 12 4111 1111 1111 1111 123 exp 12-27"
    assert redact_card_numbers(text) == "ref 12 •••• 1111 123 exp 12-27"


def test_several_cards_in_one_text() -> None:
    text = f"{VISA} and {MASTERCARD}, also {AMEX}"
    assert [match.last4 for match in find_card_numbers(text)] == ["1111", "4444", "0005"]
    assert redact_card_numbers(text) == "•••• 1111 and •••• 4444, also •••• 0005"


def test_a_prefix_must_come_with_its_networks_length() -> None:
    # Luhn-valid and starting with 37 (American Express), but 16 digits long: Amex numbers are 15.
    number = "370000000000000" + luhn.calc_check_digit("370000000000000")
    assert luhn.is_valid(number)
    assert find_card_numbers(number) == []


@pytest.mark.parametrize(
    "hostile",
    [
        "6" * 100_000,
        "6 " * 50_000,
        "66 " * 33_333,
        "6-" * 50_000,
        "4 " * 50_000,
        "- " * 50_000,
        "1a" * 50_000,
        VISA * 6_250,
        (VISA + " ") * 5_882,
        " ".join(["6" + "0" * 11, "1", "2", "3", "4", "5", "6", "7"] * 3_500)[:100_000],
    ],
)
def test_hostile_input_is_fast(hostile: str) -> None:
    started = time.perf_counter()
    redact_card_numbers(hostile)
    assert time.perf_counter() - started < 1.0


@pytest.mark.parametrize("group_size", [1, 2, 3, 4, 5])
def test_hostile_random_digit_groups_are_fast(group_size: int) -> None:
    rng = random.Random(group_size)
    groups = ["6" + "".join(rng.choices("0123456789", k=group_size - 1)) for _ in range(100_000)]
    hostile = rng.choice(" -").join(groups)[:100_000]
    started = time.perf_counter()
    redact_card_numbers(hostile)
    assert time.perf_counter() - started < 1.0


# (prefix, length) of numbers the major networks issue.
ISSUED = [
    ("4", 13),
    ("4", 16),
    ("4", 19),
    ("51", 16),
    ("55", 16),
    ("2221", 16),
    ("2720", 16),
    ("34", 15),
    ("37", 15),
    ("6011", 16),
    ("6011", 19),
    ("644", 16),
    ("65", 17),
    ("3528", 16),
    ("3589", 19),
    ("300", 14),
    ("36", 14),
    ("38", 16),
    ("62", 19),
    ("50", 13),
    ("56", 18),
    ("69", 16),
]


@st.composite
def card_numbers(draw: st.DrawFn) -> str:
    prefix, length = draw(st.sampled_from(ISSUED))
    body = prefix + draw(
        st.text("0123456789", min_size=length - len(prefix) - 1, max_size=length - 1 - len(prefix))
    )
    return body + luhn.calc_check_digit(body)


@st.composite
def written_cards(draw: st.DrawFn) -> str:
    """A card number split into up to eight groups, joined by any of the accepted separators."""
    number = draw(card_numbers())
    cuts = sorted(draw(st.sets(st.integers(1, len(number) - 1), max_size=_MAX_GROUPS - 1)))
    bounds = [0, *cuts, len(number)]
    groups = [number[start:end] for start, end in itertools.pairwise(bounds)]
    written = groups[0]
    for group in groups[1:]:
        written += draw(st.sampled_from([" ", "-", "\u00a0", "\u202f"])) + group
    return written


no_digits = st.text(st.characters(exclude_categories=["Nd"]), max_size=40)


@given(written_cards(), no_digits, no_digits)
def test_any_written_card_is_found_and_redacted(written: str, before: str, after: str) -> None:
    text = f"{before} {written} {after}"
    digits = re.sub(r"\D", "", written)
    assert find_card_numbers(text) == [
        CardMatch(len(before) + 1, len(before) + 1 + len(written), digits[-4:])
    ]
    redacted = redact_card_numbers(text)
    assert redacted == f"{before} •••• {digits[-4:]} {after}"
    assert re.sub(r"\D", "", redacted) == digits[-4:]


text_with_digits = st.text(st.sampled_from("0123456789 -\u00a0a.") | st.characters(), max_size=300)


@given(st.one_of(st.text(), text_with_digits))
def test_any_text_is_handled_and_matches_are_whole_valid_cards(text: str) -> None:
    matches = find_card_numbers(text)
    position = 0
    for match in matches:
        assert position <= match.start < match.end <= len(text)
        position = match.end
        assert text[match.start].isdigit() and text[match.end - 1].isdigit()
        assert match.start == 0 or not text[match.start - 1].isalnum()
        assert match.end == len(text) or not text[match.end].isalnum()
        digits = "".join(str(int(ch)) for ch in text[match.start : match.end] if ch.isdecimal())
        assert 13 <= len(digits) <= 19 and luhn.is_valid(digits)
        assert match.last4 == digits[-4:]
    redacted = redact_card_numbers(text)
    for match in matches:
        assert f"•••• {match.last4}" in redacted
