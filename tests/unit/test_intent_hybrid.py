"""The hybrid intent model (TF-IDF + all-MiniLM-L6-v2), trained once: about 100 s on two cores.

It needs the ``embeddings`` extra, which CI installs; a missing extra fails here rather than skips.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from haven.triage.intent import OUT_OF_SCOPE, IntentModel, evaluate, load_model, save_model
from haven.triage.intent.calibration import IN_SCOPE_RECALL_TARGET
from haven.triage.intents import INTENTS
from tests.unit.intent_support import (
    HYBRID_HELD_OUT_FLOOR,
    TINY_OUT_OF_SCOPE,
    hybrid_model,
    tiny_rows,
    write_csv,
)


@pytest.fixture(scope="module")
def model() -> IntentModel:
    return hybrid_model()


def test_held_out_figures(model: IntentModel) -> None:
    held = model.info.held_out
    assert held is not None and model.kind == "hybrid"
    assert held.top1_accuracy >= HYBRID_HELD_OUT_FLOOR
    assert held.in_scope_recall >= IN_SCOPE_RECALL_TARGET - 0.01
    assert held.out_of_scope_recall is not None and held.out_of_scope_recall >= 0.9


def test_predictions_explain_themselves_and_survive_hostile_input(model: IntentModel) -> None:
    texts = [
        "@bank my card still hasn't arrived 😡",
        "@bank thanks for the help today, you're stars ⭐",
        "",
        "🤖🤖🤖",
        "\x00\x1b[2J" + "b" * 100_000,
    ]
    predictions = model.predict(texts)
    assert predictions[0].intent == "card_arrival" and "arrived" in predictions[0].words
    assert [p.intent for p in predictions[1:4]] == [None, None, None]
    for text, prediction in zip(texts, predictions, strict=True):
        assert prediction.model == model.name and prediction.model.startswith("hybrid-")
        assert prediction.best in INTENTS and 0.0 <= prediction.confidence <= 1.0
        assert all(word in text for word in prediction.words)
    alone = model.predict(texts[:1])[0]
    assert (alone.intent, alone.words) == (predictions[0].intent, predictions[0].words)
    assert alone.confidence == pytest.approx(predictions[0].confidence)


def test_save_load_and_evaluate(model: IntentModel, tmp_path: Path) -> None:
    save_model(model, tmp_path)
    loaded = load_model(tmp_path, "hybrid")
    rows = [*tiny_rows(per=4), *TINY_OUT_OF_SCOPE[:4]]
    report = evaluate(loaded, write_csv(tmp_path / "eval.csv", rows))
    assert report.n == 16 and report.accuracy >= 0.75
    assert report.per_class[OUT_OF_SCOPE].recall == 1.0
    assert report.latency_ms is not None and report.latency_ms < 1000  # ~12 ms idle; torch slows on busy CPUs


def test_the_base_install_does_not_import_torch() -> None:
    """The fast model must work without the extra: nothing imports torch until hybrid is used."""
    code = (
        "import sys; from haven.triage.intent import train_model, load_model; import haven.triage.intent.cli;"
        "assert not {'torch', 'sentence_transformers'} & set(sys.modules), 'imported eagerly'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
