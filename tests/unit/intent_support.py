"""Models and small CSVs shared by the intent tests.

Training the fast model takes ~12 s and the hybrid one ~100 s, so each is trained at most once per
test process (a cached function, because a fixture imported into several modules is one fixture
per module to pytest).
"""

from __future__ import annotations

import csv
import functools
from pathlib import Path

from haven.triage.intent import IntentModel, load_examples, train_model
from haven.triage.intent.data import DEFAULT_TRAIN_CSV

#: The aims are 0.91 (fast) and 0.94 (hybrid); these floors are what the models reach on the
#: held-out part (0.904 and 0.932), less a little, so that a regression fails.
FAST_HELD_OUT_FLOOR = 0.90
HYBRID_HELD_OUT_FLOOR = 0.925


@functools.cache
def fast_model() -> IntentModel:
    return train_model("fast")


@functools.cache
def hybrid_model() -> IntentModel:
    return train_model("hybrid")


def write_csv(
    path: Path, rows: list[tuple[str, str]], header: tuple[str, ...] = ("text", "category")
) -> Path:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def tiny_rows(
    intents: tuple[str, ...] = ("card_arrival", "exchange_rate", "lost_or_stolen_card"), per: int = 12
) -> list[tuple[str, str]]:
    """``per`` real BANKING77 rows of each of ``intents``."""
    examples = load_examples(DEFAULT_TRAIN_CSV)
    rows: list[tuple[str, str]] = []
    for intent in intents:
        matching = [i for i, label in enumerate(examples.labels) if label == intent][:per]
        rows.extend((examples.texts[i], intent) for i in matching)
    return rows


TINY_OUT_OF_SCOPE = [
    ("@bank thanks so much, all sorted now!", "out_of_scope"),
    ("Good morning @bank ☀️ happy Monday", "out_of_scope"),
    ("@bank follow back pls 🙏", "out_of_scope"),
    ("🚀 $MOONCOIN is about to 100x!! t.me/mooncoin", "out_of_scope"),
    ("@bank this weather is miserable ☔", "out_of_scope"),
    ("@bank your chat team is amazing", "out_of_scope"),
    ("Come on you reds!! ⚽ @bank", "out_of_scope"),
    ("@bank lol", "out_of_scope"),
    ("@bank happy Friday everyone 🎉", "out_of_scope"),
    ("@bank love the new dark mode", "out_of_scope"),
]
