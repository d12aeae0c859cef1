"""How a post feels, from VADER: a lexicon and rules made for social-media text (emoji, CAPS, "!!!").

VADER is English-only: other languages score near neutral (a shared word such as "no" may tip
them), which the priority rules read as "no signal" rather than as calm. One analyzer is shared: it
is read-only after the adjustments below, and scoring a tweet takes tens of microseconds.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass

from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

#: VADER's own thresholds for calling a compound score positive or negative.
POSITIVE_AT_LEAST = 0.05
NEGATIVE_AT_MOST = -0.05
#: At or below this the customer is clearly upset (the default rules raise the priority).
STRONGLY_NEGATIVE_AT_MOST = -0.5

# Handles and links are not the customer's words, yet VADER would score "@Joy" as joy.
_NOISE = re.compile(r"(?<!\w)@\w+|\bhttps?://\S+|\bwww\.\S+", re.IGNORECASE)

# Where VADER's lexicon misreads how customers complain to a bank. Emoji are replaced by their
# descriptions before scoring, so an emoji is remapped to a description VADER scores; words get a
# valence on VADER's -4..4 scale, copied from the nearest word it already knows.
_EMOJI_MEANINGS = {
    "😡": "furious",  # "pouting face": neutral in VADER, yet the commonest angry emoji
    "🤬": "furious",  # "face with symbols on mouth": neutral
    "😤": "angry",  # "face with steam from nose": neutral
    "👎": "bad",  # "thumbs down": neutral
    "💔": "heartbroken",  # "broken heart": VADER scores it positive because of "heart"
}
_WORD_VALENCES = {
    "stole": -2.2,  # as "stolen"
    "robbed": -2.4,  # as "thief"
    "robbery": -2.4,
    "theft": -2.4,
    "scammed": -2.7,  # as "scam"
    "ripoff": -2.7,
    "nightmare": -2.0,
    "joke": -1.5,  # "this bank is a joke": VADER has +1.2, the sense of "a funny story"
}


class SentimentLabel(enum.StrEnum):
    NEGATIVE = "negative"
    NEUTRAL = "neutral"
    POSITIVE = "positive"


@dataclass(frozen=True, slots=True)
class Sentiment:
    #: VADER's compound score: -1 (most negative) … 1 (most positive).
    compound: float
    label: SentimentLabel

    @property
    def strongly_negative(self) -> bool:
        return self.compound <= STRONGLY_NEGATIVE_AT_MOST


def _build_analyzer() -> SentimentIntensityAnalyzer:
    analyzer = SentimentIntensityAnalyzer()
    analyzer.emojis.update(_EMOJI_MEANINGS)
    analyzer.lexicon.update(_WORD_VALENCES)
    return analyzer


_ANALYZER = _build_analyzer()


def score_sentiment(text: str) -> Sentiment:
    """Score a post; @handles and links are removed first."""
    compound = float(_ANALYZER.polarity_scores(_NOISE.sub(" ", text))["compound"])
    if compound >= POSITIVE_AT_LEAST:
        label = SentimentLabel.POSITIVE
    elif compound <= NEGATIVE_AT_MOST:
        label = SentimentLabel.NEGATIVE
    else:
        label = SentimentLabel.NEUTRAL
    return Sentiment(compound, label)
