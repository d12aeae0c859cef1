"""Training an intent model: TF-IDF (+ sentence features), a linear SVM, calibration, held-out scores.

Out-of-scope posts are a class of their own in training (``out_of_scope``) *and* face a threshold.
The class teaches the model what praise, chatter and spam look like, which a threshold alone cannot:
BANKING77's intents cover every banking word, so a "love the new card design 😍" gets a confident
``card_arrival`` from a model that never saw such posts. The threshold then catches what the class
misses: posts unlike both banking requests and the hand-written examples.
"""

from __future__ import annotations

import dataclasses
import hashlib
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import scipy.sparse as sp
import sklearn
from sklearn.model_selection import StratifiedKFold
from sklearn.svm import LinearSVC

from haven.triage.intent.calibration import (
    IN_SCOPE_RECALL_TARGET,
    choose_threshold,
    fit_temperature,
    softmax,
)
from haven.triage.intent.data import (
    DEFAULT_OUT_OF_SCOPE_CSV,
    DEFAULT_TRAIN_CSV,
    HELD_OUT_FRACTION,
    HELD_OUT_SALT,
    OUT_OF_SCOPE,
    Examples,
    file_sha256,
    load_examples,
    split_examples,
)
from haven.triage.intent.embeddings import BATCH_SIZE, get_encoder
from haven.triage.intent.errors import IntentDataError
from haven.triage.intent.evaluate import score
from haven.triage.intent.features import FloatArray, IntArray, TfidfFeaturizer
from haven.triage.intent.model import IntentModel, ModelKind, TrainingInfo

#: ``progress(step, done, total)``: what is being done, and units of work done out of ``total``.
Progress = Callable[[str, int, int], None]

#: LinearSVC's regularisation; 0.5 was best of 0.3–2 on out-of-fold scores of the training part.
SVM_C = 0.5
#: Folds for the out-of-fold scores that calibration is fitted on.
CV_FOLDS = 5
#: The sentence features' weight next to the TF-IDF blocks (each block has unit length).
EMBEDDING_SCALE = 2.0


class _Steps:
    """Counts units of work for a progress callback."""

    def __init__(self, progress: Progress | None, total: int) -> None:
        self.progress = progress
        self.total = total
        self.done = 0

    def advance(self, step: str, units: int = 1) -> None:
        self.done += units
        if self.progress is not None:
            self.progress(step, self.done, self.total)


def _classifier() -> LinearSVC:
    return LinearSVC(C=SVM_C, class_weight="balanced", random_state=0)


def _decision(classifier: LinearSVC, features: sp.csr_matrix) -> FloatArray:
    """Scores with one column per class, also for two classes (where LinearSVC gives one)."""
    scores = np.asarray(classifier.decision_function(features), dtype=np.float64)
    if scores.ndim == 1:
        return np.column_stack([-scores / 2.0, scores / 2.0])
    return scores


def _linear_weights(classifier: LinearSVC) -> tuple[FloatArray, FloatArray]:
    """The classifier as a features × classes matrix and a bias, in the shape :func:`_decision` has."""
    coef = np.asarray(classifier.coef_, dtype=np.float64)
    bias = np.asarray(classifier.intercept_, dtype=np.float64)
    if coef.shape[0] == 1:
        coef = np.vstack([-coef / 2.0, coef / 2.0])
        bias = np.array([-bias[0] / 2.0, bias[0] / 2.0])
    return np.ascontiguousarray(coef.T), bias


def _out_of_fold_scores(features: sp.csr_matrix, gold: IntArray, folds: int, steps: _Steps) -> FloatArray:
    scores = np.zeros((features.shape[0], int(gold.max()) + 1))
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=0)
    for fold, (fit_rows, score_rows) in enumerate(splitter.split(features, gold), start=1):
        classifier = _classifier().fit(features[fit_rows], gold[fit_rows])
        scores[score_rows] = _decision(classifier, features[score_rows])
        steps.advance(f"Calibration fold {fold}/{folds}")
    return scores


def _calibrate(out_of_fold: FloatArray, gold: IntArray, *, n_intents: int) -> tuple[float, float, float]:
    """Temperature, threshold and top-1 accuracy from out-of-fold scores (intents come first)."""
    temperature = fit_temperature(out_of_fold, gold)
    probabilities = softmax(out_of_fold, temperature)
    in_scope = gold < n_intents
    best = probabilities[in_scope, :n_intents]
    accepted = probabilities[in_scope].argmax(axis=1) < n_intents
    threshold = choose_threshold(best.max(axis=1), accepted)
    return temperature, threshold, float((best.argmax(axis=1) == gold[in_scope]).mean())


def _check(train: Examples) -> tuple[tuple[str, ...], int]:
    """The classes (intents sorted, ``out_of_scope`` last) and the number of folds the data allows."""
    counts: dict[str, int] = {}
    for label in train.labels:
        counts[label] = counts.get(label, 0) + 1
    if len(counts) < 2:
        raise IntentDataError("training needs at least two categories")
    scarce = sorted(label for label, n in counts.items() if n < 2)
    if scarce:
        raise IntentDataError(
            f"each category needs at least 2 training examples; too few for: {', '.join(scarce[:5])}"
        )
    classes = tuple(sorted(label for label in counts if label != OUT_OF_SCOPE))
    if OUT_OF_SCOPE in counts:
        classes = (*classes, OUT_OF_SCOPE)
    return classes, min(CV_FOLDS, *counts.values())


def _load(data_csv: Path, out_of_scope_csv: Path | None) -> Examples:
    examples = load_examples(data_csv)
    if out_of_scope_csv is not None:
        extra = load_examples(out_of_scope_csv)
        if any(label != OUT_OF_SCOPE for label in extra.labels):
            raise IntentDataError(f"{out_of_scope_csv}: every row's category must be {OUT_OF_SCOPE!r}")
        examples = examples + extra
    return examples


def train_model(
    kind: ModelKind,
    data_csv: Path = DEFAULT_TRAIN_CSV,
    *,
    out_of_scope_csv: Path | None = DEFAULT_OUT_OF_SCOPE_CSV,
    progress: Progress | None = None,
    use_all: bool = False,
) -> IntentModel:
    """Train a ``fast`` or ``hybrid`` model on ``data_csv`` plus ``out_of_scope_csv``.

    By default the held-out part (20 % of each category, see :func:`~.data.held_out_split`) is left
    out and scored at the end; ``use_all`` trains on everything (production) and has no held-out
    figures. Raises :class:`~.errors.IntentDataError` for unusable data and
    :class:`~.errors.EmbeddingsUnavailable` for ``hybrid`` without the extra.
    """
    started = time.perf_counter()
    encoder = get_encoder() if kind == "hybrid" else None
    examples = _load(data_csv, out_of_scope_csv)
    train, held = (examples, None) if use_all else split_examples(examples)
    classes, folds = _check(train)

    held_texts = held.texts if held is not None else ()
    batches = -(-(len(train) + len(held_texts)) // BATCH_SIZE) if encoder is not None else 0
    steps = _Steps(progress, 2 + batches + folds + 2 + (held is not None))
    steps.advance("Read the data")

    featurizer = TfidfFeaturizer.fit(train.texts)
    features = featurizer.transform(train.texts)
    steps.advance("TF-IDF features")
    held_embeddings = None
    if encoder is not None:
        embeddings = encoder.encode(
            train.texts + held_texts, lambda done, total: steps.advance(f"Sentence embeddings {done}/{total}")
        )
        held_embeddings = embeddings[len(train) :]
        features = sp.hstack([features, sp.csr_matrix(embeddings[: len(train)] * EMBEDDING_SCALE)]).tocsr()

    gold = np.array([classes.index(label) for label in train.labels], dtype=np.intp)
    out_of_fold = _out_of_fold_scores(features, gold, folds, steps)
    classifier = _classifier().fit(features, gold)
    weights, bias = _linear_weights(classifier)
    steps.advance("Final classifier")

    temperature, threshold, cv_top1_accuracy = _calibrate(
        out_of_fold, gold, n_intents=len(classes) - (OUT_OF_SCOPE in classes)
    )
    steps.advance("Calibration")

    now = datetime.now(UTC)
    digest = hashlib.sha256(weights.tobytes() + bias.tobytes()).hexdigest()[:6]
    n_out_of_scope = sum(label == OUT_OF_SCOPE for label in train.labels)
    # held_out and training_seconds are filled in at the end: scoring the held-out part needs the model.
    info = TrainingInfo(
        kind=kind,
        version=f"{now:%Y%m%dT%H%M%S}-{digest}",
        created_at=now.isoformat(timespec="seconds"),
        data_sha256=file_sha256(data_csv),
        out_of_scope_sha256=file_sha256(out_of_scope_csv) if out_of_scope_csv is not None else None,
        split=(
            "all rows"
            if use_all
            else f"held out {HELD_OUT_FRACTION:.0%} of each category by sha256({HELD_OUT_SALT!r} + text)"
        ),
        n_examples=len(train) - n_out_of_scope,
        n_out_of_scope=n_out_of_scope,
        cv_top1_accuracy=cv_top1_accuracy,
        held_out=None,
        temperature=temperature,
        threshold=threshold,
        threshold_criterion=(
            f"highest threshold keeping {IN_SCOPE_RECALL_TARGET:.0%} of in-scope posts"
            f" ({folds}-fold out-of-fold scores)"
        ),
        sklearn_version=sklearn.__version__,
        training_seconds=0.0,
    )
    model = IntentModel(
        info=info,
        featurizer=featurizer,
        classes=classes,
        weights=weights,
        bias=bias,
        embedding_scale=EMBEDDING_SCALE if encoder is not None else None,
    )
    held_out = None
    if held is not None:
        held_out = score(held.labels, model.predict(held.texts, embeddings=held_embeddings)).summary()
        steps.advance("Held-out scores")
    seconds = round(time.perf_counter() - started, 2)
    model.info = dataclasses.replace(info, held_out=held_out, training_seconds=seconds)
    return model
