"""The bank's customer directory: who a verifying customer is, and where a one-time code may go.

Verification never trusts a phone number or e-mail address typed by the person on the
other end of an X conversation: the code only goes to a destination the *bank* has on
record. ``CustomerDirectory`` is the narrow interface Haven needs from the bank's core
systems; ``JsonFileDirectory`` is the file-backed implementation the demo and the tests
use (a bank would plug in an adapter to its own customer master).

Contacts are compared in one canonical form on both sides: phone numbers as E.164
(parsed by ``phonenumbers`` with the directory's default region, so "07700 900123",
"+44 7700 900123" and "0044 7700900123" are the same number) and e-mail addresses
lower-cased. Lookups treat their input as hostile and answer ``None`` rather than raise;
loading a file is strict and names the entry at fault, because a silently skipped customer
would surface much later as a customer who "cannot be verified".
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import phonenumbers

__all__ = [
    "CustomerDirectory",
    "DirectoryCustomer",
    "JsonFileDirectory",
    "mask_destination",
    "normalise_email",
    "normalise_phone",
]

# Longer inputs are not contacts; refusing them early keeps the parsers' work bounded.
_MAX_CONTACT_LENGTH = 254
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
# Digits and the punctuation people write numbers with. No letters (phonenumbers would read
# "0800 FLOWERS" as digits), no "ext.", no invisible or bidi-control characters.
_PHONE_CHARACTERS = re.compile(r"[0-9+()\-./ ]+")
_X_USER_ID = re.compile(r"[0-9]{1,19}")
_MASK = "••••"


@dataclass(frozen=True, slots=True)
class DirectoryCustomer:
    customer_id: str  # the bank's reference
    name: str
    phone: str | None  # E.164, normalised with phonenumbers
    email: str | None  # lower-cased
    x_user_id: str | None  # the X account the bank has linked to this customer, if any
    oidc_subject: str | None  # the subject at the bank's identity provider, if any


class CustomerDirectory(Protocol):
    async def by_x_user(self, x_user_id: str) -> DirectoryCustomer | None: ...

    async def by_contact(self, phone_or_email: str) -> DirectoryCustomer | None:
        """The customer with this phone number or e-mail address, normalised as the directory's are.

        Never raises on malformed input: it simply matches nobody.
        """
        ...

    async def by_oidc_subject(self, subject: str) -> DirectoryCustomer | None: ...


def normalise_phone(raw: str, default_region: str | None) -> str | None:
    """``raw`` as E.164, or ``None`` if it is not a possible phone number.

    "Possible" (a full number of the right length for the country) rather than "valid" (an
    allocated range): the demo uses Ofcom's drama numbers (07700 900xxx), which are
    deliberately unallocated. Without a default region only international numbers ("+44…")
    parse.
    """
    if not isinstance(raw, str) or len(raw) > _MAX_CONTACT_LENGTH:
        return None
    raw = raw.strip()
    if not raw or not _PHONE_CHARACTERS.fullmatch(raw):
        return None
    try:
        number = phonenumbers.parse(raw, default_region)
    except phonenumbers.NumberParseException:
        return None
    if phonenumbers.is_possible_number_with_reason(number) != phonenumbers.ValidationResult.IS_POSSIBLE:
        return None  # IS_POSSIBLE_LOCAL_ONLY included: a number without its area code is not a destination
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def normalise_email(raw: str) -> str | None:
    """``raw`` trimmed and lower-cased, or ``None`` if it does not look like an address."""
    if not isinstance(raw, str) or len(raw) > _MAX_CONTACT_LENGTH:
        return None
    email = raw.strip().lower()
    return email if _EMAIL.fullmatch(email) else None


def mask_destination(destination: str) -> str:
    """Where a code went, recognisable to its owner but useless to anyone reading over a shoulder.

    "+447700900123" → "•••• •••• 0123"; "maria@example.com" → "m•••@example.com". The
    mask has the same shape whatever the length, so it does not leak that either; short
    numbers show fewer digits, and anything unrecognisable is masked entirely.
    """
    if "@" in destination:
        local, _, domain = destination.strip().rpartition("@")
        if not domain:
            return _MASK
        return f"{local[:1]}•••@{domain}"
    digits = "".join(c for c in destination if c.isdigit())
    if len(digits) >= 8:
        tail = digits[-4:]
    elif len(digits) >= 6:
        tail = digits[-3:]
    else:
        return _MASK
    return f"{_MASK} {_MASK} {tail}"


class JsonFileDirectory:
    """A ``CustomerDirectory`` held in memory, loaded from a JSON file.

    The file looks like::

        {"default_region": "GB",
         "customers": [{"customer_id": "C-1001", "name": "Maria Lopez",
                        "phone": "07700 900123", "email": "Maria@Example.com",
                        "x_user_id": "1500000000000000001", "oidc_subject": "maria"}]}

    ``customer_id`` and ``name`` are required; the others may be missing or ``null``.
    Every identifier must be unique across the directory: a phone number shared by two
    customers could not tell a verifier which of them it had reached.
    """

    def __init__(self, customers: Iterable[DirectoryCustomer], *, default_region: str | None) -> None:
        self.default_region = default_region
        self._customers: tuple[DirectoryCustomer, ...] = tuple(customers)
        self._by_id: dict[str, DirectoryCustomer] = {}
        self._by_x_user: dict[str, DirectoryCustomer] = {}
        self._by_contact: dict[str, DirectoryCustomer] = {}
        self._by_oidc: dict[str, DirectoryCustomer] = {}
        for customer in self._customers:
            if customer.customer_id in self._by_id:
                raise ValueError(f"duplicate customer_id {customer.customer_id!r}")
            self._by_id[customer.customer_id] = customer
            label = f"customer {customer.customer_id!r}"
            if customer.x_user_id is not None:
                _index(self._by_x_user, customer.x_user_id, customer, f"{label}: x_user_id already linked")
            if customer.phone is not None:
                _index(self._by_contact, customer.phone, customer, f"{label}: phone already in use")
            if customer.email is not None:
                _index(self._by_contact, customer.email, customer, f"{label}: email already in use")
            if customer.oidc_subject is not None:
                _index(
                    self._by_oidc, customer.oidc_subject, customer, f"{label}: oidc_subject already in use"
                )

    @classmethod
    def load(cls, path: Path) -> JsonFileDirectory:
        """Read and check a directory file; any problem is a ``ValueError`` naming the file and entry."""
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise ValueError(f"customer directory {path}: cannot read: {exc.strerror or exc}") from exc
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ValueError(f"customer directory {path}: not valid JSON: {exc}") from exc
        try:
            return cls.from_data(data)
        except ValueError as exc:
            raise ValueError(f"customer directory {path}: {exc}") from None

    @classmethod
    def from_data(cls, data: Any) -> JsonFileDirectory:
        """Build a directory from the parsed JSON document (see the class docstring)."""
        if not isinstance(data, Mapping):
            raise ValueError("expected a JSON object with a 'customers' list")
        unknown = sorted(set(data) - {"default_region", "customers"})
        if unknown:
            raise ValueError(f"unknown top-level field(s): {', '.join(unknown)}")
        region = data.get("default_region")
        if region is not None and (
            not isinstance(region, str) or region not in phonenumbers.SUPPORTED_REGIONS
        ):
            raise ValueError(f"default_region {region!r} is not a region code such as 'GB'")
        entries = data.get("customers")
        if not isinstance(entries, list):
            raise ValueError("'customers' must be a list")
        customers = [_customer(entry, index, region) for index, entry in enumerate(entries)]
        return cls(customers, default_region=region)

    def customers(self) -> tuple[DirectoryCustomer, ...]:
        """Every customer, in file order (for the demo's pickers; not part of the protocol)."""
        return self._customers

    async def by_x_user(self, x_user_id: str) -> DirectoryCustomer | None:
        return self._by_x_user.get(x_user_id) if isinstance(x_user_id, str) else None

    async def by_contact(self, phone_or_email: str) -> DirectoryCustomer | None:
        if not isinstance(phone_or_email, str):
            return None
        if "@" in phone_or_email:
            key = normalise_email(phone_or_email)
        else:
            key = normalise_phone(phone_or_email, self.default_region)
        return None if key is None else self._by_contact.get(key)

    async def by_oidc_subject(self, subject: str) -> DirectoryCustomer | None:
        return self._by_oidc.get(subject) if isinstance(subject, str) else None


_FIELDS = ("customer_id", "name", "phone", "email", "x_user_id", "oidc_subject")


def _index(index: dict[str, DirectoryCustomer], key: str, customer: DirectoryCustomer, message: str) -> None:
    if key in index:
        raise ValueError(f"{message} (also {index[key].customer_id!r})")
    index[key] = customer


def _customer(entry: object, position: int, region: str | None) -> DirectoryCustomer:
    label = f"customers[{position}]"
    if not isinstance(entry, Mapping):
        raise ValueError(f"{label}: expected an object")
    if isinstance(entry.get("customer_id"), str) and entry["customer_id"].strip():
        label = f"{label} (customer_id {entry['customer_id']!r})"
    unknown = sorted(str(key) for key in set(entry) - set(_FIELDS))
    if unknown:
        raise ValueError(f"{label}: unknown field(s): {', '.join(unknown)}")

    def optional(name: str) -> str | None:
        value = entry.get(name)
        if value is None:
            return None
        if not isinstance(value, str) or not value.strip():
            raise ValueError(f"{label}: {name!r} must be a non-empty string")
        return value.strip()

    def required(name: str) -> str:
        value = optional(name)
        if value is None:
            raise ValueError(f"{label}: missing required field {name!r}")
        return value

    customer_id = required("customer_id")
    name = required("name")
    # The offending phone number or address is not repeated: these messages end up in logs.
    phone = optional("phone")
    if phone is not None:
        phone = normalise_phone(phone, region)
        if phone is None:
            hint = "" if region else " (there is no default_region, so write it as +<country code>…)"
            raise ValueError(f"{label}: 'phone' is not a possible phone number{hint}")
    email = optional("email")
    if email is not None:
        email = normalise_email(email)
        if email is None:
            raise ValueError(f"{label}: 'email' is not an e-mail address")
    x_user_id = optional("x_user_id")
    if x_user_id is not None and not _X_USER_ID.fullmatch(x_user_id):
        raise ValueError(f"{label}: x_user_id {x_user_id!r} must be the numeric X user id, not a handle")
    oidc_subject = optional("oidc_subject")
    return DirectoryCustomer(customer_id, name, phone, email, x_user_id, oidc_subject)
