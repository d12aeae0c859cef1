"""Triage benchmark: intent accuracy and latency per model, private-data precision, recall and speed.

Intent: each model kind is trained on the training part of BANKING77 (plus the out-of-scope posts'
training part) and scored on the held-out part (20 % of each category, fixed seed; see
``haven.triage.intent.data.held_out_split``): accuracy, macro-F1, out-of-scope rejection, and the
milliseconds per message with one message per call (as the pipeline calls it) and in one batch.

Private data: precision and recall per type on ``data/pii/tweets.jsonl`` (hand-written tweets) and
``data/pii/presidio_synth.jsonl`` (presidio-research's synthetic sentences, invalid labels set aside),
and texts per second on one core for three streams: the tweets (three in five hold private data),
BANKING77 queries written as tweets (none do), and a 9:1 mix of the two.

Sentiment and language: microseconds per call.

The last line is machine-readable:
``fast_accuracy=… fast_ms=… hybrid_accuracy=… hybrid_ms=… pii_precision=… pii_recall=… pii_texts_per_s=…``

Usage::

    .venv/bin/python bench/triage.py                 # fast and, with haven[embeddings], hybrid
    .venv/bin/python bench/triage.py --models fast
"""

from __future__ import annotations

import argparse
import importlib.util
import itertools
import time
from collections.abc import Callable, Sequence
from typing import cast

from haven.triage.intent import ModelKind, train_model
from haven.triage.intent.data import (
    DATA_DIR,
    DEFAULT_OUT_OF_SCOPE_CSV,
    DEFAULT_TRAIN_CSV,
    load_examples,
    split_examples,
)
from haven.triage.intent.evaluate import evaluate_examples
from haven.triage.language import detect_language
from haven.triage.pii.evaluate import evaluate_file, format_report, measure_throughput
from haven.triage.pii.evaluate import load_examples as load_pii_examples
from haven.triage.sentiment import score_sentiment

PII_DIR = DATA_DIR / "pii"


def _per_call_us(function: Callable[[str], object], texts: Sequence[str], *, seconds: float = 2.0) -> float:
    function(texts[0])
    calls = 0
    started = time.perf_counter()
    for text in itertools.cycle(texts):
        function(text)
        calls += 1
        if calls % 100 == 0 and time.perf_counter() - started > seconds:
            break
    return (time.perf_counter() - started) * 1e6 / calls


def bench_intent(kind: ModelKind) -> tuple[float, float]:
    """Held-out accuracy (the top intent, as the 77-way task is usually scored) and ms per message."""
    started = time.perf_counter()
    model = train_model(kind)
    trained = time.perf_counter() - started
    banking = split_examples(load_examples(DEFAULT_TRAIN_CSV))[1]
    chatter = split_examples(load_examples(DEFAULT_OUT_OF_SCOPE_CSV))[1]
    report = evaluate_examples(model, banking)
    with_chatter = evaluate_examples(model, banking + chatter)
    top1 = report.top1_accuracy or 0.0
    print(
        f"intent {kind}: trained in {trained:.0f} s on {model.info.n_examples} posts; held-out part "
        f"({report.n} BANKING77 queries): top-1 accuracy {top1:.4f}, accuracy counting posts wrongly "
        f"judged out of scope as errors {report.accuracy:.4f}, macro-F1 {report.macro_f1:.4f}; "
        f"with {with_chatter.n_out_of_scope} held-out out-of-scope posts: "
        f"{with_chatter.out_of_scope_recall or 0:.3f} of them rejected, precision of rejection "
        f"{with_chatter.out_of_scope_precision or 0:.3f}; {report.latency_ms or 0:.3f} ms per message "
        f"one at a time, {report.batched_latency_ms or 0:.3f} ms batched"
    )
    return top1, report.latency_ms or 0.0


def bench_pii() -> tuple[float, float, float]:
    tweets = PII_DIR / "tweets.jsonl"
    for name, path in (("tweets.jsonl", tweets), ("presidio_synth.jsonl", PII_DIR / "presidio_synth.jsonl")):
        print(f"private data on {name}:")
        for line in format_report(evaluate_file(path)):
            print(f"  {line}")
    report = evaluate_file(tweets)
    tweet_texts = [example.text for example in load_pii_examples(tweets)]
    queries = [f"@ExampleBankHelp {text}" for text in load_examples(DEFAULT_TRAIN_CSV).texts]
    # Nine queries, then a tweet: about one post in ten holds private data (where tweets.jsonl has
    # three in five).
    mix = [
        text
        for i, query in enumerate(queries)
        for text in ([query] if i % 9 else [query, tweet_texts[i // 9 % len(tweet_texts)]])
    ]
    streams = {"tweets": tweet_texts, "queries": queries, "9:1 mix": mix}
    speeds = {name: measure_throughput(texts, seconds=3.0) for name, texts in streams.items()}
    print(
        "private data, texts per second on one core: " + ", ".join(f"{k} {v:,.0f}" for k, v in speeds.items())
    )
    return report.overall.precision, report.overall.recall, speeds["9:1 mix"]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--models", nargs="+", choices=["fast", "hybrid"], default=None)
    args = parser.parse_args()
    kinds = args.models or ["fast"] + (
        ["hybrid"] if importlib.util.find_spec("sentence_transformers") else []
    )

    texts = list(load_examples(DEFAULT_OUT_OF_SCOPE_CSV).texts[:200]) + list(
        load_examples(DEFAULT_TRAIN_CSV).texts[:800]
    )
    print(
        f"sentiment {_per_call_us(score_sentiment, texts):.0f} µs per post; "
        f"language {_per_call_us(detect_language, texts):.0f} µs per post"
    )
    figures: dict[str, str] = {}
    for kind in kinds:
        accuracy, latency = bench_intent(cast(ModelKind, kind))
        figures[f"{kind}_accuracy"] = f"{accuracy:.4f}"
        figures[f"{kind}_ms"] = f"{latency:.3f}"
    precision, recall, speed = bench_pii()
    figures.update(
        pii_precision=f"{precision:.4f}", pii_recall=f"{recall:.4f}", pii_texts_per_s=f"{speed:.0f}"
    )
    print(" ".join(f"{key}={value}" for key, value in figures.items()))


if __name__ == "__main__":
    main()
