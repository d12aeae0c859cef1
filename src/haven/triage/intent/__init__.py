"""Intent classification of posts over the 77 BANKING77 intents, with out-of-scope rejection.

Two kinds of model share one design (a linear layer over TF-IDF features): ``fast`` needs only
scikit-learn; ``hybrid`` adds all-MiniLM-L6-v2 sentence embeddings (the ``embeddings`` extra).
"""

from haven.triage.intent.data import (
    OUT_OF_SCOPE,
    Examples,
    held_out_examples,
    held_out_split,
    load_examples,
)
from haven.triage.intent.errors import (
    EmbeddingsUnavailable,
    IntentDataError,
    IntentError,
    ModelNotFound,
    ModelStoreError,
)
from haven.triage.intent.evaluate import EvalReport, evaluate, measure_latency
from haven.triage.intent.model import IntentModel, IntentPrediction, ModelKind
from haven.triage.intent.store import latest_version, load_model, save_model
from haven.triage.intent.training import train_model

__all__ = [
    "OUT_OF_SCOPE",
    "EmbeddingsUnavailable",
    "EvalReport",
    "Examples",
    "IntentDataError",
    "IntentError",
    "IntentModel",
    "IntentPrediction",
    "ModelKind",
    "ModelNotFound",
    "ModelStoreError",
    "evaluate",
    "held_out_examples",
    "held_out_split",
    "latest_version",
    "load_examples",
    "load_model",
    "measure_latency",
    "save_model",
    "train_model",
]
