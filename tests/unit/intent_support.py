"""Models and small CSVs shared by the intent tests.

Training the fast model takes ~12 s and the hybrid one ~100 s, so each is trained at most once per
test process (a cached function, because a fixture imported into several modules is one fixture
per module to pytest), and saved under the suite's model directory in a folder named by a hash of
the intent code and its data: a second run of the suite (CI runs it on SQLite, then on PostgreSQL)
loads what the first trained, and any change to the code or data trains afresh.
"""

from __future__ import annotations

import csv
import functools
import hashlib
import os
from pathlib import Path

import haven.triage.intent as intent_package
from haven.triage.intent import (
    IntentModel,
    ModelKind,
    ModelNotFound,
    load_examples,
    load_model,
    save_model,
    train_model,
)
from haven.triage.intent.data import DEFAULT_OUT_OF_SCOPE_CSV, DEFAULT_TRAIN_CSV

#: The aims are 0.91 (fast) and 0.94 (hybrid); these floors are what the models reach on the
#: held-out part (0.904 and 0.932), less a little, so that a regression fails.
FAST_HELD_OUT_FLOOR = 0.90
HYBRID_HELD_OUT_FLOOR = 0.925


_INTENT_CODE = Path(intent_package.__file__).parent


def _fingerprint() -> str:
    digest = hashlib.sha256()
    for path in [*sorted(_INTENT_CODE.glob("*.py")), DEFAULT_TRAIN_CSV, DEFAULT_OUT_OF_SCOPE_CSV]:
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:16]


def _trained_once(kind: ModelKind) -> IntentModel:
    """The model trained on the training part, from the suite's cache when this code made it."""
    folder = Path(os.environ["HAVEN_MODEL_DIR"]).parent / f"held-out-{_fingerprint()}"
    try:
        return load_model(folder, kind)
    except ModelNotFound:
        model = train_model(kind)
        save_model(model, folder)
        return model


@functools.cache
def fast_model() -> IntentModel:
    return _trained_once("fast")


@functools.cache
def hybrid_model() -> IntentModel:
    return _trained_once("hybrid")


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
