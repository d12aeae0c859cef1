"""Errors of the intent classifier; their messages are meant for the person at the terminal."""

from __future__ import annotations

from haven.kit.errors import HavenError


class IntentError(HavenError):
    """Base for every intent-classifier error that the CLI reports without a traceback."""


class IntentDataError(IntentError):
    """A training or evaluation CSV that cannot be used as it is."""


class ModelStoreError(IntentError):
    """No saved model, a broken manifest, or a model file that does not match its manifest."""


class ModelNotFound(ModelStoreError):
    """No saved model of the requested kind (train one, or let the caller train one)."""


class EmbeddingsUnavailable(IntentError):
    """The hybrid model needs the optional ``embeddings`` extra."""

    def __init__(self, reason: str) -> None:
        super().__init__(
            f"The hybrid intent model needs sentence embeddings ({reason}); "
            'install them with: pip install "haven[embeddings]"'
        )
