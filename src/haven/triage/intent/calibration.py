"""Turning linear scores into probabilities, and choosing the out-of-scope threshold.

Both are fitted on out-of-fold scores of the training part (every training post scored by a model
that did not see it), so they work the same when there is no held-out part (``--all``).
"""

from __future__ import annotations

import math

import numpy as np
from scipy.optimize import minimize_scalar

from haven.triage.intent.features import FloatArray, IntArray

BoolArray = np.ndarray[tuple[int, ...], np.dtype[np.bool_]]

#: The threshold keeps at least this share of in-scope posts (out-of-fold) and, within that, rejects
#: as many out-of-scope posts as it can: a missed banking request costs more than a "thanks!" left
#: for an agent to close.
IN_SCOPE_RECALL_TARGET = 0.98


def softmax(scores: FloatArray, temperature: float) -> FloatArray:
    scaled = scores / temperature
    scaled -= scaled.max(axis=-1, keepdims=True)
    np.exp(scaled, out=scaled)
    scaled /= scaled.sum(axis=-1, keepdims=True)
    return scaled


def fit_temperature(scores: FloatArray, gold: IntArray) -> float:
    """The softmax temperature that minimises the log-loss of ``scores`` (temperature scaling).

    A linear SVM's scores are margins, not log-odds; one fitted temperature makes their softmax a
    calibrated probability without changing which class wins (Guo et al., 2017).
    """
    rows = np.arange(len(gold))

    def log_loss(log_temperature: float) -> float:
        probabilities = softmax(scores, math.exp(log_temperature))
        return float(-np.log(np.maximum(probabilities[rows, gold], 1e-12)).mean())

    result = minimize_scalar(log_loss, bounds=(math.log(1e-3), math.log(1e2)), method="bounded")
    return math.exp(float(result.x))


def choose_threshold(
    confidence: FloatArray, accepted: BoolArray, target: float = IN_SCOPE_RECALL_TARGET
) -> float:
    """The highest confidence threshold that still accepts ``target`` of these in-scope posts.

    ``confidence`` is each in-scope post's probability of its best intent; ``accepted`` is False
    where the out-of-scope class won, which rejects the post whatever the threshold.
    """
    allowed = math.floor(round((1.0 - target) * len(confidence), 9)) - int((~accepted).sum())
    if allowed < 0:
        return 0.0
    candidates = np.sort(confidence[accepted])
    if allowed >= len(candidates):
        return 1.0
    return float(candidates[allowed])
