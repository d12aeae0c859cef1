"""Scoring a model on labelled posts: accuracy, macro-F1, confusions, out-of-scope figures, latency.

``accuracy`` is end to end: a row is right when the model's decision (an intent, or out of scope) is
its category, so an in-scope post that the threshold rejects is wrong. ``top1_accuracy`` is the
usual BANKING77 figure: over in-scope rows, whether the best intent is right, threshold aside.
"""

from __future__ import annotations

import dataclasses
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from sklearn.metrics import precision_recall_fscore_support

from haven.triage.intent.data import OUT_OF_SCOPE, Examples, load_examples
from haven.triage.intent.model import HeldOutScores, IntentModel, IntentPrediction

#: Posts timed one by one for the single-message latency (the rest would only take longer).
LATENCY_SAMPLE = 200
CONFUSED_PAIRS = 10


@dataclass(frozen=True)
class ClassScores:
    precision: float
    recall: float
    f1: float
    support: int


@dataclass(frozen=True)
class EvalReport:
    n: int
    accuracy: float
    top1_accuracy: float | None
    macro_f1: float
    per_class: dict[str, ClassScores]
    #: The most frequent mistakes as "gold → predicted: count", most frequent first.
    confused_pairs: tuple[str, ...]
    #: Share of in-scope rows not rejected as out of scope.
    in_scope_recall: float | None
    #: Share of out-of-scope rows rejected; None without out-of-scope rows.
    out_of_scope_recall: float | None
    #: Share of rejected rows that are out of scope; None when nothing was rejected.
    out_of_scope_precision: float | None
    n_in_scope: int
    n_out_of_scope: int
    #: Milliseconds per post, one post per call and all posts in one call; None if not measured.
    latency_ms: float | None = None
    batched_latency_ms: float | None = None

    def summary(self) -> HeldOutScores:
        return HeldOutScores(
            top1_accuracy=self.top1_accuracy or 0.0,
            accuracy=self.accuracy,
            macro_f1=self.macro_f1,
            in_scope_recall=self.in_scope_recall or 0.0,
            out_of_scope_recall=self.out_of_scope_recall,
            out_of_scope_precision=self.out_of_scope_precision,
            n_in_scope=self.n_in_scope,
            n_out_of_scope=self.n_out_of_scope,
        )


def _share(numerator: int, denominator: int) -> float | None:
    return numerator / denominator if denominator else None


def score(gold: Sequence[str], predictions: Sequence[IntentPrediction]) -> EvalReport:
    """Compare predictions with gold categories (``out_of_scope`` for no banking request)."""
    decided = [p.intent if p.intent is not None else OUT_OF_SCOPE for p in predictions]
    labels = sorted(set(gold))
    precision, recall, f1, support = precision_recall_fscore_support(
        gold, decided, labels=labels, zero_division=0
    )
    in_scope = [i for i, label in enumerate(gold) if label != OUT_OF_SCOPE]
    out_of_scope = len(gold) - len(in_scope)
    rejected = [i for i, label in enumerate(decided) if label == OUT_OF_SCOPE]
    mistakes = Counter((g, d) for g, d in zip(gold, decided, strict=True) if g != d)
    return EvalReport(
        n=len(gold),
        accuracy=sum(g == d for g, d in zip(gold, decided, strict=True)) / len(gold),
        top1_accuracy=_share(sum(predictions[i].best == gold[i] for i in in_scope), len(in_scope)),
        macro_f1=float(f1.mean()),
        per_class={
            label: ClassScores(float(p), float(r), float(f), int(s))
            for label, p, r, f, s in zip(labels, precision, recall, f1, support, strict=True)
        },
        confused_pairs=tuple(f"{g} → {d}: {n}" for (g, d), n in mistakes.most_common(CONFUSED_PAIRS)),
        in_scope_recall=_share(sum(decided[i] != OUT_OF_SCOPE for i in in_scope), len(in_scope)),
        out_of_scope_recall=_share(sum(gold[i] == OUT_OF_SCOPE for i in rejected), out_of_scope),
        out_of_scope_precision=(
            _share(sum(gold[i] == OUT_OF_SCOPE for i in rejected), len(rejected)) if out_of_scope else None
        ),
        n_in_scope=len(in_scope),
        n_out_of_scope=out_of_scope,
    )


def measure_latency(model: IntentModel, texts: Sequence[str], *, batch_size: int = 1) -> float:
    """Milliseconds per post when ``model.predict`` gets ``batch_size`` posts per call.

    One untimed call first, so that lazy loading (the embedding model) is not counted.
    """
    if not texts:
        raise ValueError("no texts to time")
    model.predict(texts[:batch_size])
    start = time.perf_counter()
    for offset in range(0, len(texts), batch_size):
        model.predict(texts[offset : offset + batch_size])
    return (time.perf_counter() - start) * 1000.0 / len(texts)


def evaluate(model: IntentModel, data_csv: Path) -> EvalReport:
    """Score ``model`` on a ``text,category`` CSV, with single-message and batched latency."""
    return evaluate_examples(model, load_examples(data_csv))


def evaluate_examples(model: IntentModel, examples: Examples) -> EvalReport:
    """Score ``model`` on labelled posts, with single-message and batched latency."""
    texts = list(examples.texts)
    model.predict(texts[:1])
    start = time.perf_counter()
    predictions = model.predict(texts)
    batched = (time.perf_counter() - start) * 1000.0 / len(texts)
    report = score(examples.labels, predictions)
    single = measure_latency(model, texts[:LATENCY_SAMPLE])
    return dataclasses.replace(report, latency_ms=single, batched_latency_ms=batched)
