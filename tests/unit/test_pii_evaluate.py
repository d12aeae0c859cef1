from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from haven.triage.pii.detect import PiiSpan, PiiType
from haven.triage.pii.evaluate import (
    Example,
    TypeScore,
    load_examples,
    measure_throughput,
    parse_example,
    score,
)

CARD = PiiType.CREDIT_CARD
PHONE = PiiType.PHONE_NUMBER


def detector_of(answers: dict[str, list[PiiSpan]]) -> Callable[..., list[PiiSpan]]:
    """A detector that gives the prepared answer for each text."""
    return lambda text, region: answers[text]


def test_only_exact_spans_of_the_right_type_count() -> None:
    gold = PiiSpan(CARD, 0, 16)
    examples = [
        Example("exact", (gold,)),
        Example("short", (gold,)),
        Example("wrong type", (gold,)),
        Example("extra", ()),
    ]
    answers = {
        "exact": [gold],
        "short": [PiiSpan(CARD, 0, 15)],
        "wrong type": [PiiSpan(PHONE, 0, 16)],
        "extra": [PiiSpan(PHONE, 1, 4)],
    }
    report = score(examples, detector=detector_of(answers))
    assert report.scores[CARD] == TypeScore(tp=1, fp=1, fn=2)
    assert report.scores[PHONE] == TypeScore(tp=0, fp=2, fn=0)
    assert report.overall == TypeScore(tp=1, fp=3, fn=2)
    assert report.texts == 4


def test_invalid_labels_are_set_aside_unless_counted() -> None:
    invalid = PiiSpan(PHONE, 5, 20)
    examples = [Example("a", (), (invalid,)), Example("b", (), (invalid,))]
    answers = {"a": [PiiSpan(PHONE, 5, 12)], "b": []}
    set_aside = score(examples, detector=detector_of(answers))
    assert set_aside.scores[PHONE] == TypeScore() and set_aside.set_aside == 2
    counted = score(examples, detector=detector_of(answers), count_invalid=True)
    assert counted.scores[PHONE] == TypeScore(tp=0, fp=1, fn=2) and counted.set_aside == 0


def test_ratios_without_anything_to_divide_by_are_one() -> None:
    assert TypeScore().precision == TypeScore().recall == 1.0
    assert TypeScore(tp=3, fp=1, fn=0).precision == 0.75
    assert TypeScore(tp=1, fp=0, fn=3).recall == 0.25


def test_parse_example_checks_its_spans() -> None:
    line = json.dumps({"text": "abc", "spans": [{"type": "US_SSN", "start": 1, "end": 3, "invalid": True}]})
    assert parse_example(line) == Example("abc", (), (PiiSpan(PiiType.US_SSN, 1, 3),))
    with pytest.raises(ValueError, match="not within"):
        parse_example(json.dumps({"text": "abc", "spans": [{"type": "US_SSN", "start": 1, "end": 9}]}))
    with pytest.raises(ValueError):
        parse_example(json.dumps({"text": "abc", "spans": [{"type": "PASSPORT", "start": 0, "end": 1}]}))


def test_the_shipped_data_sets_parse() -> None:
    data = Path(__file__).parents[2] / "data" / "pii"
    assert len(load_examples(data / "tweets.jsonl")) >= 300
    presidio = load_examples(data / "presidio_synth.jsonl")
    assert len(presidio) == 1500
    assert sum(len(example.invalid) for example in presidio) == 9


def test_throughput_is_texts_per_second() -> None:
    assert measure_throughput(["hello", "card 4111 1111 1111 1111"], seconds=0.05) > 0
    with pytest.raises(ValueError, match="no texts"):
        measure_throughput([], seconds=0.05)
