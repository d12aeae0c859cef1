"""Cutting exposed private data out of a stored raw event, whatever its shape."""

from __future__ import annotations

import json

from haven.triage.pii.detect import find_private_data
from haven.triage.service import redact_payload

CARD = "4111 1111 1111 1111"


def test_every_copy_goes_and_ids_stay() -> None:
    text = f"@bank my card {CARD} was stolen"
    spans = find_private_data(text)
    payload = json.dumps(
        {
            "format": "x.v2.tweet",
            "tweet": {"id": "4111111111111111111", "text": text, "note_tweet": {"text": text}},
            "author": {"id": "42", "name": f"card {CARD}"},
        }
    )
    redacted = redact_payload(payload, text, spans, region="GB")
    assert "1111 1111" not in redacted
    document = json.loads(redacted)
    assert document["tweet"]["id"] == "4111111111111111111"
    assert document["tweet"]["text"] == "@bank my card [removed] was stolen"


def test_a_v1_truncated_copy_loses_the_part_it_holds() -> None:
    text = "x" * 128 + f" card {CARD} stolen, help"
    spans = find_private_data(text)
    truncated = text[:139] + "…"
    payload = json.dumps({"text": truncated, "extended_tweet": {"full_text": text}})
    redacted = json.loads(redact_payload(payload, text, spans, region="GB"))
    assert "4111" not in redacted["text"] and redacted["text"].endswith("[removed]…")
    assert CARD not in redacted["extended_tweet"]["full_text"]


def test_private_data_elsewhere_in_the_event_is_masked_too() -> None:
    text = f"RT @friend: my card {CARD}"
    payload = json.dumps({"retweeted_status": {"text": f"my card {CARD}", "user": {"email": "a@b.co.uk"}}})
    redacted = redact_payload(payload, text, find_private_data(text), region="GB")
    assert "1111 1111" not in redacted and "a@b.co.uk" not in redacted


def test_a_payload_that_is_not_json_is_scrubbed_as_text() -> None:
    assert CARD not in redact_payload(f"not json {CARD}", CARD, find_private_data(CARD), region="GB")
