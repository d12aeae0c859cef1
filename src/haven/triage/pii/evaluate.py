"""How well the detector does on labelled texts: precision and recall per type, and texts per second.

The labelled format is JSON Lines, one text per line::

    {"text": "card 4111 1111 1111 1111", "spans": [{"type": "CREDIT_CARD", "start": 5, "end": 24}]}

A found span counts as a true positive only if a labelled span has the same type, start and end:
finding ``555-0132`` of ``(415) 555-0132`` masks too little, so it is a false positive and a false
negative. A labelled span may carry ``"invalid": true`` for a value that is labelled but cannot be
what its type says (a phone number no numbering plan allocates, a card number failing Luhn). By
default those are set aside: a finding on one counts neither way, and missing one is no miss.
``count_invalid=True`` scores every label as it stands.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from haven.triage.pii.detect import PiiSpan, PiiType, find_private_data


@dataclass(frozen=True, slots=True)
class Example:
    """A labelled text: its private data, and labelled values that are not valid of their type."""

    text: str
    spans: tuple[PiiSpan, ...]
    invalid: tuple[PiiSpan, ...] = ()


@dataclass(frozen=True, slots=True)
class TypeScore:
    """Counts for one type (or all). A ratio with nothing to divide by is 1.0: no findings, no errors."""

    tp: int = 0
    fp: int = 0
    fn: int = 0

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0

    def __add__(self, other: TypeScore) -> TypeScore:
        return TypeScore(self.tp + other.tp, self.fp + other.fp, self.fn + other.fn)


@dataclass(frozen=True, slots=True)
class PiiReport:
    """Scores per type over ``texts`` texts; ``set_aside`` invalid labels were not scored."""

    scores: Mapping[PiiType, TypeScore]
    texts: int
    set_aside: int

    @property
    def overall(self) -> TypeScore:
        return sum(self.scores.values(), TypeScore())


def parse_example(line: str) -> Example:
    """One JSON Lines record as an :class:`Example`; raises ``ValueError`` on a malformed one."""
    record = json.loads(line)
    text = record["text"]
    spans: list[PiiSpan] = []
    invalid: list[PiiSpan] = []
    for label in record["spans"]:
        span = PiiSpan(PiiType(label["type"]), int(label["start"]), int(label["end"]))
        if not 0 <= span.start < span.end <= len(text):
            raise ValueError(f"span {span} is not within its text")
        (invalid if label.get("invalid", False) else spans).append(span)
    return Example(text, tuple(spans), tuple(invalid))


def load_examples(path: Path) -> list[Example]:
    """The examples of a JSON Lines file; raises ``ValueError`` naming the first malformed line."""
    examples = []
    with path.open(encoding="utf-8") as lines:
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                examples.append(parse_example(line))
            except (ValueError, KeyError, TypeError) as error:
                raise ValueError(f"{path}, line {number}: not a labelled text ({error!r})") from error
    return examples


def _overlaps(span: PiiSpan, others: Iterable[PiiSpan]) -> bool:
    return any(span.start < other.end and other.start < span.end for other in others)


def score(
    examples: Iterable[Example],
    *,
    region: str = "GB",
    count_invalid: bool = False,
    detector: Callable[..., list[PiiSpan]] = find_private_data,
) -> PiiReport:
    """Score ``detector`` (called as ``detector(text, region=region)``) against the labels."""
    counts = {pii_type: [0, 0, 0] for pii_type in PiiType}
    texts = set_aside = 0
    for example in examples:
        texts += 1
        gold = set(example.spans) | (set(example.invalid) if count_invalid else set())
        ignored = set() if count_invalid else set(example.invalid)
        set_aside += len(ignored)
        found = set(detector(example.text, region=region))
        for span in found - gold:
            if not _overlaps(span, ignored):
                counts[span.type][1] += 1
        for span in found & gold:
            counts[span.type][0] += 1
        for span in gold - found:
            counts[span.type][2] += 1
    return PiiReport({pii_type: TypeScore(*count) for pii_type, count in counts.items()}, texts, set_aside)


def evaluate_file(path: Path, *, region: str = "GB", count_invalid: bool = False) -> PiiReport:
    """Score :func:`find_private_data` on a labelled JSON Lines file (see the module's notes)."""
    return score(load_examples(path), region=region, count_invalid=count_invalid)


def measure_throughput(texts: Sequence[str], *, seconds: float = 2.0, region: str = "GB") -> float:
    """Texts per second :func:`find_private_data` gets through, going over ``texts`` again and again
    for at least ``seconds`` on one core (after one warm-up pass)."""
    if not texts:
        raise ValueError("no texts to measure on")
    for text in texts:
        find_private_data(text, region=region)
    done = 0
    started = time.perf_counter()
    while (elapsed := time.perf_counter() - started) < seconds:
        for text in texts:
            find_private_data(text, region=region)
        done += len(texts)
    return done / elapsed


def format_report(report: PiiReport) -> list[str]:
    """Lines for people: one per type, then the overall figures."""

    def line(name: str, counts: TypeScore) -> str:
        return (
            f"{name:<14} tp={counts.tp:<5} fp={counts.fp:<5} fn={counts.fn:<5} "
            f"precision={counts.precision:.4f} recall={counts.recall:.4f}"
        )

    lines = [line(pii_type.value, counts) for pii_type, counts in report.scores.items()]
    lines.append(line("overall", report.overall) + f" texts={report.texts} set_aside={report.set_aside}")
    return lines
