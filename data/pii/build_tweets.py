"""Turn tweets.txt (hand-written posts with inline labels) into tweets.jsonl, checking every label.

    .venv/bin/python data/pii/build_tweets.py

In tweets.txt each line is one post; private data is marked ``{{TYPE:value}}`` and ``\\uXXXX`` stands
for a character that is invisible or hard to type. The labels are checked independently of the
detector, so that a wrong label fails here and not as a detector error:

* CC: 13 to 19 digits passing Luhn (``stdnum.luhn``);
* IBAN: a valid IBAN (``stdnum.iban``, ISO 13616 check digits and structure);
* SSN: an SSN the SSA issues (``stdnum.us.ssn``);
* PHONE: a valid number (``phonenumbers``) in the UK or the US, or with its country code;
* EMAIL: one ``@``, or the spelled-out "at"/"dot" form, with a dot or "dot" in the domain;
* ACCT: 6 to 17 digits (a sort code, routing number or account number).

The output offsets are checked against the text, and every marked value must be found whole.
"""

from __future__ import annotations

import json
import re
import unicodedata
from pathlib import Path

import phonenumbers
from stdnum import iban, luhn
from stdnum.us import ssn

HERE = Path(__file__).parent
TYPES = {
    "CC": "CREDIT_CARD",
    "IBAN": "IBAN_CODE",
    "ACCT": "BANK_ACCOUNT",
    "SSN": "US_SSN",
    "PHONE": "PHONE_NUMBER",
    "EMAIL": "EMAIL_ADDRESS",
}
LABEL = re.compile(r"\{\{([A-Z]+):(.*?)\}\}")
ESCAPE = re.compile(r"\\u([0-9a-fA-F]{4})")


def digits_of(value: str) -> str:
    return "".join(str(unicodedata.decimal(ch)) for ch in value if ch.isdecimal())


def valid_phone(value: str) -> bool:
    folded = "".join(str(unicodedata.decimal(ch)) if ch.isdecimal() else ch for ch in value)
    return any(phonenumbers.is_valid_number(phonenumbers.parse(folded, region)) for region in ("GB", "US"))


def check(code: str, value: str) -> None:
    digits = digits_of(value)
    if code == "CC":
        assert 13 <= len(digits) <= 19 and luhn.is_valid(digits), value
    elif code == "IBAN":
        assert iban.is_valid(value, check_country=False), value
    elif code == "SSN":
        assert len(digits) == 9 and ssn.is_valid(digits), value
    elif code == "PHONE":
        assert valid_phone(value), value
    elif code == "EMAIL":
        assert value.count("@") == 1 or re.search(r"[\[ ]at[\] ]", value), value
    elif code == "ACCT":
        assert 6 <= len(digits) <= 17 and not re.search(r"[^\d .-]", value), value
    else:
        raise AssertionError(f"unknown label type {code}")


def parse(line: str) -> dict[str, object]:
    line = ESCAPE.sub(lambda match: chr(int(match.group(1), 16)), line)
    text, spans, position = "", [], 0
    for match in LABEL.finditer(line):
        code, value = match.groups()
        check(code, value)
        text += line[position : match.start()]
        spans.append({"type": TYPES[code], "start": len(text), "end": len(text) + len(value)})
        text += value
        position = match.end()
    text += line[position:]
    assert "{{" not in text and "}}" not in text, line
    for span, label in zip(spans, LABEL.finditer(line), strict=True):
        assert text[span["start"] : span["end"]] == label.group(2)  # type: ignore[misc]
    return {"text": text, "spans": spans}


def main() -> None:
    source = (HERE / "tweets.txt").read_text(encoding="utf-8").splitlines()
    posts = [parse(line) for line in source if line.strip() and not line.startswith("#")]
    texts = [post["text"] for post in posts]
    assert len(set(texts)) == len(texts), "duplicate posts"  # type: ignore[arg-type]
    with (HERE / "tweets.jsonl").open("w", encoding="utf-8") as out:
        for post in posts:
            out.write(json.dumps(post, ensure_ascii=False) + "\n")
    print(f"{len(posts)} posts, {sum(len(post['spans']) for post in posts)} spans")  # type: ignore[arg-type]


if __name__ == "__main__":
    main()
