"""The customer directory: lookups by X account, contact and OIDC subject; strict file loading; masking."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from haven.handoff.directory import (
    CustomerDirectory,
    DirectoryCustomer,
    JsonFileDirectory,
    mask_destination,
)

MARIA = {
    "customer_id": "C-1001",
    "name": "Maria Lopez",
    "phone": "07700 900123",
    "email": "Maria.Lopez@Example.com",
    "x_user_id": "1500000000000000001",
    "oidc_subject": "sub-maria",
}
TOM = {"customer_id": "C-1002", "name": "Tom Okafor", "phone": "+1 202 555 0100"}
NOBODY = {"customer_id": "C-1003", "name": "No Contacts", "email": None}


def write(tmp_path: Path, data: Any) -> Path:
    path = tmp_path / "directory.json"
    path.write_text(data if isinstance(data, str) else json.dumps(data), encoding="utf-8")
    return path


@pytest.fixture
def directory(tmp_path: Path) -> JsonFileDirectory:
    return JsonFileDirectory.load(
        write(tmp_path, {"default_region": "GB", "customers": [MARIA, TOM, NOBODY]})
    )


def test_load_normalises_contacts(directory: JsonFileDirectory) -> None:
    maria, tom, nobody = directory.customers()
    assert maria == DirectoryCustomer(
        customer_id="C-1001",
        name="Maria Lopez",
        phone="+447700900123",
        email="maria.lopez@example.com",
        x_user_id="1500000000000000001",
        oidc_subject="sub-maria",
    )
    assert tom.phone == "+12025550100" and tom.email is None and tom.x_user_id is None
    assert nobody == DirectoryCustomer("C-1003", "No Contacts", None, None, None, None)


async def test_is_a_customer_directory(directory: JsonFileDirectory) -> None:
    as_protocol: CustomerDirectory = directory
    assert (await as_protocol.by_x_user("1500000000000000001")) is directory.customers()[0]


@pytest.mark.parametrize(
    "written",
    [
        "07700 900123",
        "07700900123",
        "+447700900123",
        "+44 7700 900123",
        "+44 (0) 7700 900 123",
        "0044 7700 900123",
        "  07700-900-123  ",
        "(07700) 900123",
    ],
)
async def test_by_contact_phone_written_differently(directory: JsonFileDirectory, written: str) -> None:
    found = await directory.by_contact(written)
    assert found is not None and found.customer_id == "C-1001"


async def test_by_contact_phone_uses_the_default_region(directory: JsonFileDirectory) -> None:
    assert (await directory.by_contact("202 555 0100")) is None  # a GB reading of a US number
    tom = await directory.by_contact("+1 (202) 555-0100")
    assert tom is not None and tom.customer_id == "C-1002"
    assert (await directory.by_contact("07700 900124")) is None  # one digit off


@pytest.mark.parametrize(
    "written", ["maria.lopez@example.com", "MARIA.LOPEZ@EXAMPLE.COM", " Maria.Lopez@example.COM "]
)
async def test_by_contact_email_any_case(directory: JsonFileDirectory, written: str) -> None:
    found = await directory.by_contact(written)
    assert found is not None and found.customer_id == "C-1001"


async def test_by_x_user_and_oidc_subject(directory: JsonFileDirectory) -> None:
    maria = directory.customers()[0]
    assert await directory.by_x_user("1500000000000000001") is maria
    assert await directory.by_oidc_subject("sub-maria") is maria
    assert await directory.by_x_user("1500000000000000002") is None
    assert await directory.by_oidc_subject("SUB-MARIA") is None  # subjects are exact
    assert await directory.by_oidc_subject("") is None
    assert await directory.by_x_user("") is None


@pytest.mark.parametrize(
    "garbage",
    [
        "",
        " ",
        "@",
        "maria@",
        "@example.com",
        "maria@@example.com",
        "maria lopez@example.com",
        "not a number",
        "+",
        "++44",
        "12",
        "+999 1234",
        "0" * 300,
        "+44" + "7" * 300,
        "a@b." + "c" * 1000,
        "\x00\u202e07700900123",
        "<script>alert(1)</script>",
        "07700 900123; DROP TABLE customers",
        "１２３",
        "０７７００９００１２３",  # fullwidth digits
        "0770",  # too short to be anybody's number
        "900123",  # no area code: "possible" only locally
        "07700 900123 ext. 5",
        "0800 FLOWERS",
        "07700\u200b900123",  # zero-width space
    ],
)
async def test_by_contact_garbage_matches_nobody(directory: JsonFileDirectory, garbage: str) -> None:
    assert await directory.by_contact(garbage) is None


async def test_lookups_with_wrong_types_match_nobody(directory: JsonFileDirectory) -> None:
    for value in (None, 447700900123, b"07700900123", ["07700900123"]):
        assert await directory.by_contact(value) is None  # type: ignore[arg-type]
        assert await directory.by_x_user(value) is None  # type: ignore[arg-type]
        assert await directory.by_oidc_subject(value) is None  # type: ignore[arg-type]


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=60))
async def test_by_contact_never_raises(text: str) -> None:
    directory = JsonFileDirectory.from_data({"default_region": "GB", "customers": [MARIA, TOM]})
    found = await directory.by_contact(text)
    assert found is None or found.customer_id in {"C-1001", "C-1002"}


async def test_without_default_region_only_international_numbers(tmp_path: Path) -> None:
    entry = {"customer_id": "C-1", "name": "Intl", "phone": "+44 7700 900123"}
    directory = JsonFileDirectory.load(write(tmp_path, {"customers": [entry]}))
    assert await directory.by_contact("+447700900123") is not None
    assert await directory.by_contact("07700 900123") is None


def test_empty_directory(tmp_path: Path) -> None:
    assert (
        JsonFileDirectory.load(write(tmp_path, {"default_region": "GB", "customers": []})).customers() == ()
    )


@pytest.mark.parametrize(
    ("document", "expected"),
    [
        ("{not json", "not valid JSON"),
        ("", "not valid JSON"),
        ("[]", "expected a JSON object"),
        ({"default_region": "GB"}, "'customers' must be a list"),
        ({"default_region": "GB", "customers": {}}, "'customers' must be a list"),
        ({"default_region": "XX", "customers": []}, "default_region 'XX'"),
        ({"default_region": 44, "customers": []}, "default_region 44"),
        ({"customers": [], "extra": 1}, "unknown top-level field(s): extra"),
        ({"customers": ["C-1"]}, "customers[0]: expected an object"),
        ({"customers": [{"name": "No Id"}]}, "customers[0]: missing required field 'customer_id'"),
        (
            {"customers": [{"customer_id": "C-9"}]},
            "customers[0] (customer_id 'C-9'): missing required field 'name'",
        ),
        (
            {"customers": [{"customer_id": " ", "name": "Blank"}]},
            "customers[0]: 'customer_id' must be a non-empty",
        ),
        (
            {"customers": [{"customer_id": 7, "name": "Int"}]},
            "customers[0]: 'customer_id' must be a non-empty",
        ),
        (
            {
                "default_region": "GB",
                "customers": [MARIA, MARIA | {"phone": None, "email": None, "x_user_id": None}],
            },
            "duplicate customer_id 'C-1001'",
        ),
        (
            {"default_region": "GB", "customers": [MARIA, TOM | {"phone": "+44 7700 900123"}]},
            "customer 'C-1002': phone already in use (also 'C-1001')",
        ),
        (
            {"default_region": "GB", "customers": [MARIA, TOM | {"email": "maria.lopez@EXAMPLE.com"}]},
            "customer 'C-1002': email already in use (also 'C-1001')",
        ),
        (
            {"default_region": "GB", "customers": [MARIA, TOM | {"x_user_id": MARIA["x_user_id"]}]},
            "customer 'C-1002': x_user_id already linked (also 'C-1001')",
        ),
        (
            {"default_region": "GB", "customers": [MARIA, TOM | {"oidc_subject": "sub-maria"}]},
            "customer 'C-1002': oidc_subject already in use (also 'C-1001')",
        ),
        (
            {"default_region": "GB", "customers": [TOM, MARIA | {"phone": "0770"}]},
            "customers[1] (customer_id 'C-1001'): 'phone' is not a possible phone number",
        ),
        (
            {"default_region": "GB", "customers": [MARIA | {"phone": "call me"}]},
            "customers[0] (customer_id 'C-1001'): 'phone' is not a possible phone number",
        ),
        (
            {"customers": [MARIA]},
            "'phone' is not a possible phone number (there is no default_region",
        ),
        (
            {"default_region": "GB", "customers": [MARIA | {"email": "maria.example.com"}]},
            "customers[0] (customer_id 'C-1001'): 'email' is not an e-mail address",
        ),
        (
            {"default_region": "GB", "customers": [MARIA | {"x_user_id": "@maria"}]},
            "x_user_id '@maria' must be the numeric X user id",
        ),
        (
            {"default_region": "GB", "customers": [MARIA | {"x_user_id": 1500000000000000001}]},
            "'x_user_id' must be a non-empty string",
        ),
        (
            {"default_region": "GB", "customers": [MARIA | {"phone_number": "07700 900123"}]},
            "customers[0] (customer_id 'C-1001'): unknown field(s): phone_number",
        ),
    ],
)
def test_invalid_files_name_the_problem(tmp_path: Path, document: Any, expected: str) -> None:
    path = write(tmp_path, document)
    with pytest.raises(ValueError, match="customer directory") as caught:
        JsonFileDirectory.load(path)
    message = str(caught.value)
    assert str(path) in message
    assert expected in message


def test_bad_contact_values_are_not_repeated_in_errors(tmp_path: Path) -> None:
    """Load errors end up in logs: they name the entry, not the personal data in it."""
    for field, value in (("phone", "07700 9001234567890"), ("email", "maria.lopez.example.com")):
        path = write(tmp_path, {"default_region": "GB", "customers": [MARIA | {field: value}]})
        with pytest.raises(ValueError, match="C-1001") as caught:
            JsonFileDirectory.load(path)
        assert value not in str(caught.value)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="cannot read"):
        JsonFileDirectory.load(tmp_path / "absent.json")


def test_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "directory.json"
    path.write_bytes(b'{"customers": ["\xff"]}')
    with pytest.raises(ValueError, match="not valid JSON"):
        JsonFileDirectory.load(path)


@pytest.mark.parametrize(
    ("destination", "masked"),
    [
        ("+447700900123", "•••• •••• 0123"),
        ("+12025550100", "•••• •••• 0100"),
        ("+44 7700 900123", "•••• •••• 0123"),
        ("1234567", "•••• •••• 567"),
        ("12345", "••••"),
        ("", "••••"),
        ("maria@example.com", "m•••@example.com"),
        ("maria.lopez@example.co.uk", "m•••@example.co.uk"),
        ("m@example.com", "m•••@example.com"),
        ("@example.com", "•••@example.com"),
        ("maria@", "••••"),
    ],
)
def test_mask_destination(destination: str, masked: str) -> None:
    assert mask_destination(destination) == masked


def test_mask_hides_all_but_the_tail() -> None:
    masked = mask_destination("+447700900123")
    assert "7700" not in masked and "900" not in masked and masked.endswith("0123")
    assert len(mask_destination("+447700900123")) == len(mask_destination("+12025550100"))
    assert "lopez" not in mask_destination("maria.lopez@example.com")
