"""A trained intent model: one linear layer over TF-IDF (and, for ``hybrid``, sentence) features.

Prediction does not go through scikit-learn: the classifier's coefficients are one dense matrix
(features × classes), so a post's scores are its few hundred non-zero TF-IDF values times those rows
of the matrix. The same numbers give the explanation: a feature's contribution to a class is its
value times its coefficient, and every feature belongs to one or two words of the post.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

from haven.triage.intent.calibration import softmax
from haven.triage.intent.data import OUT_OF_SCOPE
from haven.triage.intent.features import DocFeatures, FloatArray, TfidfFeaturizer

ModelKind = Literal["fast", "hybrid"]
MODEL_KINDS: tuple[ModelKind, ...] = ("fast", "hybrid")
#: Words quoted per prediction.
EXPLANATION_WORDS = 5


@dataclass(frozen=True, slots=True)
class IntentPrediction:
    """What the model makes of one post.

    ``intent`` is None when the post is no banking request; ``best`` is the most likely intent even
    then, and ``confidence`` is the calibrated probability of ``best``. ``words`` are the post's
    words (as written) that pushed hardest towards ``best``.
    """

    intent: str | None
    best: str
    confidence: float
    words: tuple[str, ...]
    model: str


@dataclass(frozen=True)
class HeldOutScores:
    """Figures on the held-out part (see :mod:`haven.triage.intent.evaluate` for their meaning)."""

    top1_accuracy: float
    accuracy: float
    macro_f1: float
    in_scope_recall: float
    out_of_scope_recall: float | None
    out_of_scope_precision: float | None
    n_in_scope: int
    n_out_of_scope: int


@dataclass(frozen=True)
class TrainingInfo:
    """How a model was made; saved as its manifest."""

    kind: ModelKind
    version: str
    created_at: str
    data_sha256: str
    out_of_scope_sha256: str | None
    split: str
    n_examples: int
    n_out_of_scope: int
    cv_top1_accuracy: float
    held_out: HeldOutScores | None
    temperature: float
    threshold: float
    threshold_criterion: str
    sklearn_version: str
    training_seconds: float


class IntentModel:
    """Classifies posts into the BANKING77 intents or out of scope."""

    def __init__(
        self,
        *,
        info: TrainingInfo,
        featurizer: TfidfFeaturizer,
        classes: tuple[str, ...],
        weights: FloatArray,
        bias: FloatArray,
        embedding_scale: float | None,
    ) -> None:
        """``weights`` has one row per TF-IDF feature, then (hybrid) one per sentence feature."""
        self.info = info
        self.featurizer = featurizer
        self.classes = classes
        self.weights = np.ascontiguousarray(weights)
        self.bias = bias
        self.embedding_scale = embedding_scale
        self._in_scope = np.array([label != OUT_OF_SCOPE for label in classes])
        self._out_of_scope = classes.index(OUT_OF_SCOPE) if OUT_OF_SCOPE in classes else None

    @property
    def kind(self) -> ModelKind:
        return self.info.kind

    @property
    def name(self) -> str:
        return f"{self.info.kind}-{self.info.version}"

    @property
    def threshold(self) -> float:
        return self.info.threshold

    def scores(self, docs: Sequence[DocFeatures], embeddings: FloatArray | None = None) -> FloatArray:
        """Raw linear scores, one row per post. ``embeddings``: sentence features (hybrid only)."""
        n_tfidf = self.featurizer.n_features
        if len(docs) == 1:
            # One post: gather its few rows instead of building a sparse matrix.
            doc = docs[0]
            scores = (doc.values @ np.take(self.weights, doc.columns, axis=0))[np.newaxis, :] + self.bias
        else:
            scores = np.asarray(self.featurizer.matrix(docs) @ self.weights[:n_tfidf]) + self.bias
        if self.embedding_scale is not None:
            if embeddings is None:
                raise ValueError("the hybrid model needs sentence features")
            scores += (embeddings * self.embedding_scale) @ self.weights[n_tfidf:]
        return scores

    def predict(
        self, texts: Sequence[str], *, embeddings: FloatArray | None = None
    ) -> list[IntentPrediction]:
        """One prediction per text; pass many texts at once where you have them (much faster per post).

        ``embeddings`` lets a caller that already has the hybrid model's sentence features (training)
        skip computing them again.
        """
        if not texts:
            return []
        docs = [self.featurizer.features(text) for text in texts]
        if self.embedding_scale is not None and embeddings is None:
            from haven.triage.intent.embeddings import get_encoder

            embeddings = get_encoder().encode(texts)
        probabilities = softmax(self.scores(docs, embeddings), self.info.temperature)
        in_scope = np.where(self._in_scope, probabilities, -1.0)
        best = in_scope.argmax(axis=1)
        winner = probabilities.argmax(axis=1)
        predictions = []
        for row, doc in enumerate(docs):
            column = int(best[row])
            confidence = float(probabilities[row, column])
            rejected = winner[row] == self._out_of_scope or confidence < self.info.threshold
            label = self.classes[column]
            predictions.append(
                IntentPrediction(
                    intent=None if rejected else label,
                    best=label,
                    confidence=confidence,
                    words=self.explain(doc, column),
                    model=self.name,
                )
            )
        return predictions

    def explain(self, doc: DocFeatures, column: int) -> tuple[str, ...]:
        """The post's words that add most to the score of class ``column``, strongest first.

        A feature's contribution is its TF-IDF value times its coefficient; it is shared among its
        occurrences, and a bigram's share is split between its two words.
        """
        words = doc.tokens.words
        if not len(doc.columns):
            return ()
        contribution = doc.values * self.weights[doc.columns, column]
        share = (contribution / doc.counts)[doc.occurrence] * 0.5
        per_word = np.bincount(doc.first, share, len(words)) + np.bincount(doc.last, share, len(words))
        quoted: list[str] = []
        seen: set[str] = set()
        for index in np.argsort(-per_word, kind="stable"):
            if per_word[index] <= 0.0 or len(quoted) == EXPLANATION_WORDS:
                break
            if words[index] not in seen:
                seen.add(words[index])
                quoted.append(doc.tokens.surface(int(index)))
        return tuple(quoted)
