"""Convert presidio-research's synth_dataset_v2.json into the JSON Lines the PII evaluator reads.

    .venv/bin/python data/pii/convert_presidio.py data/pii/synth_dataset_v2.json data/pii/presidio_synth.jsonl

Every sentence is kept (those without any of our types are negatives), with only the spans of the
five types Haven detects and presidio labels (presidio has no bank account type). A label whose
value cannot be what its type says is kept but marked ``"invalid": true``, so that the evaluator can
score both as labelled and with such labels set aside:

* CREDIT_CARD: fails the Luhn check (``stdnum.luhn``);
* PHONE_NUMBER: no numbering plan of any region allocates it (``phonenumbers.is_valid_number`` for
  every supported region, the value parsed as written);
* IBAN_CODE: fails ISO 13616 (mod 97 check digits and the country's structure, ``stdnum.iban``);
* US_SSN: a number the SSA never issues (``stdnum.us.ssn``).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import phonenumbers
from stdnum import iban, luhn
from stdnum.us import ssn

TYPES = {"CREDIT_CARD", "PHONE_NUMBER", "EMAIL_ADDRESS", "IBAN_CODE", "US_SSN"}


def _valid_phone(value: str) -> bool:
    for region in phonenumbers.SUPPORTED_REGIONS:
        try:
            if phonenumbers.is_valid_number(phonenumbers.parse(value, region)):
                return True
        except phonenumbers.NumberParseException:
            continue
    return False


def is_valid(entity_type: str, value: str) -> bool:
    digits = "".join(ch for ch in value if ch.isdigit())
    if entity_type == "CREDIT_CARD":
        return luhn.is_valid(digits)
    if entity_type == "PHONE_NUMBER":
        return _valid_phone(value)
    if entity_type == "IBAN_CODE":
        return iban.is_valid(value, check_country=False)
    if entity_type == "US_SSN":
        return ssn.is_valid(digits)
    return True


def convert(records: list[dict[str, object]]) -> list[dict[str, object]]:
    converted = []
    for record in records:
        text = str(record["full_text"])
        spans = []
        for label in record["spans"]:  # type: ignore[attr-defined]
            if label["entity_type"] not in TYPES:
                continue
            start, end = label["start_position"], label["end_position"]
            assert text[start:end] == label["entity_value"], (text, label)
            span = {"type": label["entity_type"], "start": start, "end": end}
            if not is_valid(label["entity_type"], label["entity_value"]):
                span["invalid"] = True
            spans.append(span)
        converted.append({"text": text, "spans": sorted(spans, key=lambda span: span["start"])})
    return converted


def main(source: Path, target: Path) -> None:
    records = json.loads(source.read_text(encoding="utf-8"))
    with target.open("w", encoding="utf-8") as out:
        for example in convert(records):
            out.write(json.dumps(example, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
