"""Reading one post: intent, sentiment, language and exposed private data, all in this process.

The intent model is loaded when first needed, in a thread so the event loop keeps running. On a
first start with no saved model of the configured kind, one is trained from the shipped data and
saved, so a fresh checkout triages without a separate step (``make demo`` trains it up front).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from haven.triage.intent import IntentModel, IntentPrediction, ModelNotFound, load_model, save_model
from haven.triage.intent.training import train_model
from haven.triage.language import choose_language, detect_language
from haven.triage.pii.detect import PiiSpan, find_private_data
from haven.triage.sentiment import Sentiment, score_sentiment

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Understanding:
    intent: IntentPrediction
    sentiment: Sentiment
    language: str | None
    private_data: tuple[PiiSpan, ...]


class Triager:
    """Holds the intent model and reads posts with it."""

    def __init__(self, model_dir: Path, kind: Literal["fast", "hybrid"], *, phone_region: str) -> None:
        self._model_dir = model_dir
        self._kind = kind
        self._phone_region = phone_region
        self._model: IntentModel | None = None
        self._lock = asyncio.Lock()

    async def ready(self) -> IntentModel:
        """The loaded model; loads (or on a first start trains) it once, off the event loop.

        The language detector's models (a few hundred MB, seconds to load) are warmed here too, so
        the first post does not stall the loop.
        """
        if self._model is None:
            async with self._lock:
                if self._model is None:
                    await asyncio.to_thread(detect_language, "warm up the language models")
                    self._model = await asyncio.to_thread(self._load_or_train)
        return self._model

    def _load_or_train(self) -> IntentModel:
        try:
            return load_model(self._model_dir, self._kind)
        except ModelNotFound:
            log.info("no %s intent model in %s yet: training one", self._kind, self._model_dir)
            model = train_model(self._kind, use_all=True)
            save_model(model, self._model_dir)
            return model

    def understand(self, model: IntentModel, text: str, *, x_lang: str | None) -> Understanding:
        return Understanding(
            intent=model.predict([text])[0],
            sentiment=score_sentiment(text),
            language=choose_language(x_lang, text),
            private_data=tuple(find_private_data(text, region=self._phone_region)),
        )
