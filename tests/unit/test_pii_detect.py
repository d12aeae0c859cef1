from __future__ import annotations

import itertools
import random
import string
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from stdnum import iban, luhn

from haven.triage.pii.cards import find_card_numbers
from haven.triage.pii.detect import PiiSpan, PiiType, find_private_data
from haven.triage.pii.evaluate import evaluate_file

TWEETS = Path(__file__).parents[2] / "data" / "pii" / "tweets.jsonl"


def found(text: str, region: str = "GB") -> list[tuple[str, str]]:
    """What was found, as (type, text) pairs, in order."""
    return [(span.type.value, text[span.start : span.end]) for span in find_private_data(text, region=region)]


def check_spans(text: str, spans: list[PiiSpan]) -> None:
    position = 0
    for span in spans:
        assert isinstance(span.type, PiiType)
        assert position <= span.start < span.end <= len(text)
        position = span.end


# --- card numbers


@pytest.mark.parametrize(
    "card",
    [
        "4111 1111 1111 1111",
        "4111-1111-1111-1111",
        "4111111111111111",
        "4111 - 1111 - 1111 - 1111",
        "5555 5555 5555 4444",
        "3782 822463 10005",
        "6011000990139424",
        "4222222222222",
        "4111\u00a01111\u00a01111\u00a01111",
        "4111\u200b1111\u200b1111\u200b1111",
        "4111–1111–1111–1111",
        "４１１１ １１１１ １１１１ １１１１",
    ],
)
def test_card_numbers_in_many_formats(card: str) -> None:
    assert found(f"@Bank my card {card} was cloned!!") == [("CREDIT_CARD", card)]


@pytest.mark.parametrize(
    "text",
    [
        "card 4111 1111 1111 1112 declined",  # fails Luhn
        "ref 1234567812345670",  # Luhn-valid, no network
        "gift code 4111111111111111x",  # glued to a letter
        "order 12345678901234567890123",
    ],
)
def test_numbers_that_are_not_card_numbers(text: str) -> None:
    assert not any(kind == "CREDIT_CARD" for kind, _ in found(text))


# --- IBANs


@pytest.mark.parametrize(
    "value",
    [
        "GB82 WEST 1234 5698 7654 32",
        "GB82WEST12345698765432",
        "gb82west12345698765432",
        "DE89 3704 0044 0532 0130 00",
        "FR14 2004 1010 0505 0001 3M02 606",
        "NL91ABNA0417164300",
        "BE68 5390 0754 7034",  # a bank missing from stdnum's registry is still an IBAN
    ],
)
def test_ibans(value: str) -> None:
    assert found(f"IBAN: {value} thanks") == [("IBAN_CODE", value)]


@pytest.mark.parametrize(
    "text",
    [
        "IBAN GB82 WEST 1234 5698 7654 33",  # check digits wrong
        "IBAN GB82WEST12345698765432X",  # one character too many
        "iban DE00 1234 5678 9012 3456 78",
    ],
)
def test_invalid_ibans(text: str) -> None:
    assert found(text) == []


def test_an_iban_is_found_whole_when_the_sentence_goes_on() -> None:
    assert found("GB82 WEST 1234 5698 7654 32 pls") == [("IBAN_CODE", "GB82 WEST 1234 5698 7654 32")]


# --- bank accounts


@pytest.mark.parametrize(
    ("text", "numbers"),
    [
        ("sort code 12-34-56 account 12345678", ["12-34-56", "12345678"]),
        ("12-34-56 12345678", ["12-34-56", "12345678"]),
        ("acc no 12345678 sort code 12.34.56", ["12345678", "12.34.56"]),
        ("sort code 123456 acc 12345678", ["123456", "12345678"]),
        ("Sort Code: 20-00-00 Account Number: 1234 5678", ["20-00-00", "1234 5678"]),
        ("routing 021000021 account 123456789012", ["021000021", "123456789012"]),
        ("acct 00123456 aba 026009593", ["00123456", "026009593"]),
        ("my account number is 87654321", ["87654321"]),
        ("a/c 1234-5678", ["1234-5678"]),
    ],
)
def test_bank_accounts(text: str, numbers: list[str]) -> None:
    assert found(text) == [("BANK_ACCOUNT", number) for number in numbers]


@pytest.mark.parametrize(
    "text",
    [
        "sort code 12-34-56 for the Leeds branch?",  # a sort code alone identifies a branch
        "routing number 021000021 for wires?",
        "12345678 and 87654321",  # no sort code, no label
        "account ending 12345678",
        "order 12-34-56 12345678",
        "12-34-56 then some more words here and 12345678",  # too far apart
        "account 123456",  # too short without a sort code
        "021000021 123456789",  # routing pair without a word
    ],
)
def test_not_bank_accounts(text: str) -> None:
    assert not any(kind == "BANK_ACCOUNT" for kind, _ in found(text))


# --- SSNs


@pytest.mark.parametrize(
    ("text", "ssn"),
    [
        ("ssn 123-45-6789", "123-45-6789"),
        ("it's 234 56 7890 pls", "234 56 7890"),
        ("number 345.67.8901", "345.67.8901"),
        ("my ssn is 456789012", "456789012"),
        ("social security number: 567890123", "567890123"),
    ],
)
def test_ssns(text: str, ssn: str) -> None:
    assert found(text) == [("US_SSN", ssn)]


@pytest.mark.parametrize(
    "text",
    [
        "000-12-3456",
        "666-12-3456",
        "912-34-5678",
        "123-00-4567",
        "123-45-0000",
        "078-05-1120",  # the Woolworth wallet card number, voided
        "123-45.6789",  # mixed separators
        "456789012 plain nine digits",
        "case 123-45-6789",
        "0123-45-6789",
    ],
)
def test_not_ssns(text: str) -> None:
    assert not any(kind == "US_SSN" for kind, _ in found(text))


# --- phone numbers


@pytest.mark.parametrize(
    "phone",
    [
        "07911 123456",
        "07911123456",
        "0791 112 3456",
        "+44 7911 123456",
        "+447911123456",
        "+44 (0)20 7946 1234",
        "0044 20 7946 1234",
        "020 7946 1234",
        "(020) 7946 1234",
        "0161 832 4567",
        "0800 161 5153",
        "+1 212 736 1200",
        "(415) 555-0132",
        "415-555-0132",
        "415.555.0132",
        "1-800-935-9935",
        "+33 6 12 34 56 78",
        "＋44 ７９１１ １２３４５６",
    ],
)
def test_phone_numbers_in_the_uk_and_us(phone: str) -> None:
    assert found(f"pls call me on {phone} asap") == [("PHONE_NUMBER", phone)]


def test_phone_numbers_found_whatever_the_region() -> None:
    for region in ("GB", "US", "DE"):
        assert found("call 07911 123456 or (415) 555-0132", region=region) == [
            ("PHONE_NUMBER", "07911 123456"),
            ("PHONE_NUMBER", "(415) 555-0132"),
        ]


def test_national_numbers_of_the_configured_region() -> None:
    assert found("ruf mich an: 089 12345678", region="DE") == [("PHONE_NUMBER", "089 12345678")]
    assert found("ruf mich an: 089 12345678", region="GB") == []


def test_bare_american_digits_need_a_word_before() -> None:
    assert found("4155550132 was charged") == []
    assert found("call me 4155550132") == [("PHONE_NUMBER", "4155550132")]


def test_an_unknown_region_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown region"):
        find_private_data("07911 123456", region="XX")


@pytest.mark.parametrize(
    "text",
    [
        "order 1234567890 charged twice",
        "ref: 020 7946 1234",
        "tracking 9400 1000 0000 0000 0000 00",
        "paid £1,234.56 on 12/03/2024 at 10:30",
        "$12,345,678 and €2.499,99",
        "2024-03-12T10:30:00Z",
        "statements 2019-2024",
        "rate 3.9% to 19.9% APR",
        "postcode SW1A 1AA, zip 90210-1234",
        "07700 900123 is a tv number",
        "number 123-456-7890 is not real",
        "call 555-1234",
        "ip 36.160.14.148 blocked",
        "case number 07911123456",
        "v5.12.3 build 20240312",
        "1Z999AA10123456784 and AB123456789GB",
    ],
)
def test_hard_negatives_are_not_phone_numbers(text: str) -> None:
    assert found(text) == []


# --- e-mail addresses


@pytest.mark.parametrize(
    "email",
    [
        "jane.doe84@gmail.com",
        "t.hughes@outlook.co.uk",
        "mark+bank@protonmail.com",
        "SARAH.JONES@HOTMAIL.CO.UK",
        "sam.o'neill@gmail.com",
        "info@my-small-bakery.co.uk",
    ],
)
def test_email_addresses(email: str) -> None:
    assert found(f"email me at {email}, thanks") == [("EMAIL_ADDRESS", email)]


@pytest.mark.parametrize(
    "text",
    [
        "@HSBC_UK hi",
        "icon@2x.png",
        "meet@5.30pm",
        "support@chase is wrong",
        "contact@ the branch",
        "name@host.notatld",
        "shopping at amazon.co.uk",
        "look at this dot com bubble",
    ],
)
def test_not_email_addresses(text: str) -> None:
    assert found(text) == []


@pytest.mark.parametrize(
    ("text", "email"),
    [
        ("my email is jane dot doe at gmail dot com", "jane dot doe at gmail dot com"),
        ("email: liam[at]murphy[dot]ie", "liam[at]murphy[dot]ie"),
        ("john(at)gmail.com pls", "john(at)gmail.com"),
    ],
)
def test_spelled_out_email_addresses(text: str, email: str) -> None:
    assert found(text) == [("EMAIL_ADDRESS", email)]


def test_email_between_dashes() -> None:
    assert found("email—jane@example.com—thanks") == [("EMAIL_ADDRESS", "jane@example.com")]


# --- several findings and overlaps


def test_several_types_in_one_post_in_order() -> None:
    text = (
        "@HSBC_UK card 4111 1111 1111 1111 blocked, call 07911 123456 or jane@example.com, "
        "IBAN GB82WEST12345698765432, sort code 12-34-56 acc 12345678, ssn 123-45-6789"
    )
    assert found(text) == [
        ("CREDIT_CARD", "4111 1111 1111 1111"),
        ("PHONE_NUMBER", "07911 123456"),
        ("EMAIL_ADDRESS", "jane@example.com"),
        ("IBAN_CODE", "GB82WEST12345698765432"),
        ("BANK_ACCOUNT", "12-34-56"),
        ("BANK_ACCOUNT", "12345678"),
        ("US_SSN", "123-45-6789"),
    ]


def test_an_iban_wins_over_a_card_number_inside_it() -> None:
    body = "4111111111111111" + "00"  # a German BBAN that starts with a Luhn-valid Visa number
    value = iban.format("DE" + iban.calc_check_digits("DE00" + body) + body)
    assert find_card_numbers(value)
    assert found(f"iban {value}") == [("IBAN_CODE", value)]


def test_a_phone_number_inside_an_account_pair_is_not_reported_twice() -> None:
    text = "account 07911123456"
    assert found(text) == [("BANK_ACCOUNT", "07911123456")]


def test_spans_map_back_over_invisible_characters() -> None:
    text = "\u202a+44 7911 123456\u202c and 4\u200b111 1111 1111 1111"
    spans = find_private_data(text)
    assert [(span.start, span.end) for span in spans] == [(1, 16), (22, 42)]
    assert text[1:16] == "+44 7911 123456"


# --- hostile input


@pytest.mark.parametrize(
    "text",
    [
        "",
        "\x00\x01\x02\x1b[31m 4111 1111 1111 1111 \x7f",
        "\u202e4111 1111 1111 1111\u202c \u2067jane@example.com\u2069",
        "\ud800 4111 1111 1111 1111 \udfff",  # lone surrogates, as surrogateescape leaves them
        "\ufeff" * 1000 + "07911 123456",
        "4" * 100_000,
        "4 " * 50_000,
        "07911 123456 " * 7_000,
        "a@b.com " * 12_000,
        "@" * 100_000,
        "a dot " * 20_000,
        "12-34-56 12345678 " * 5_000,
        "\u200b" * 100_000,
        "".join(random.Random(7).choice("0123456789 -.()+@x\u200b") for _ in range(100_000)),
    ],
)
def test_hostile_input_is_handled(text: str) -> None:
    check_spans(text, find_private_data(text))


def test_lone_surrogates_do_not_stop_detection() -> None:
    assert found("\ud800 4111 1111 1111 1111 \udfff") == [("CREDIT_CARD", "4111 1111 1111 1111")]


@given(st.text(st.characters(exclude_categories=())) | st.text(st.sampled_from("0123456789 -.()+@a#\u200b")))
def test_any_text_gives_sorted_non_overlapping_spans(text: str) -> None:
    check_spans(text, find_private_data(text))


# --- generated values in random text

NETWORKS = [
    ("4", 16),
    ("4", 13),
    ("51", 16),
    ("2221", 16),
    ("34", 15),
    ("37", 15),
    ("6011", 16),
    ("3530", 16),
]
no_digits = st.text(st.characters(exclude_categories=["Nd"], exclude_characters="@#[]()"), max_size=30)


@st.composite
def written_cards(draw: st.DrawFn) -> str:
    prefix, length = draw(st.sampled_from(NETWORKS))
    body = prefix + draw(
        st.text("0123456789", min_size=length - len(prefix) - 1, max_size=length - len(prefix) - 1)
    )
    number = body + luhn.calc_check_digit(body)
    cuts = sorted(draw(st.sets(st.integers(1, len(number) - 1), max_size=4)))
    groups = [number[start:end] for start, end in itertools.pairwise([0, *cuts, len(number)])]
    separator = draw(st.sampled_from([" ", "-", "\u00a0"]))
    return separator.join(groups)


@given(written_cards(), no_digits, no_digits)
def test_a_card_number_in_random_text_is_found(card: str, before: str, after: str) -> None:
    text = f"{before} {card} {after}"
    spans = find_private_data(text)
    assert PiiSpan(PiiType.CREDIT_CARD, len(before) + 1, len(before) + 1 + len(card)) in spans


#: The shape of some countries' BBANs: A a capital letter, 9 a digit.
BBANS = {"GB": "AAAA" + "9" * 14, "DE": "9" * 18, "FR": "9" * 23, "NL": "AAAA" + "9" * 10, "ES": "9" * 20}


@st.composite
def written_ibans(draw: st.DrawFn) -> str:
    country = draw(st.sampled_from(sorted(BBANS)))
    bban = "".join(
        draw(st.sampled_from(string.ascii_uppercase if c == "A" else string.digits)) for c in BBANS[country]
    )
    value = country + iban.calc_check_digits(country + "00" + bban) + bban
    return draw(st.sampled_from([value, iban.format(value), value.lower()]))


@given(written_ibans(), no_digits)
def test_a_generated_iban_in_random_text_is_found(value: str, before: str) -> None:
    text = f"{before} {value} "
    assert PiiSpan(PiiType.IBAN_CODE, len(before) + 1, len(before) + 1 + len(value)) in find_private_data(
        text
    )


# --- the figures on the project's own labelled posts


def test_precision_and_recall_on_the_labelled_tweets() -> None:
    report = evaluate_file(TWEETS)
    for pii_type, score in report.scores.items():
        assert score.tp > 20, pii_type
        assert score.precision >= 0.99, (pii_type, score)
        assert score.recall >= 0.99, (pii_type, score)
