"""Splitting a post into the words the classifier sees, remembering where each word came from.

Handles, URLs and emoji carry no intent, and BANKING77's plain sentences have none of them: leaving
them in would let the out-of-scope class learn "has an @handle" instead of "is no banking request".
Each token keeps its span in the original text so that explanations can quote the post as written.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

#: Only this many characters of a post are read. Posts are short; the cap bounds the work a hostile
#: 100,000-character post can cause (the first 2,000 characters say what it is about).
MAX_CHARS = 2000

# URLs (also bare ones such as "bit.ly/x"), then handles. A bare domain is tried only where a run
# of domain characters begins, so a hostile post cannot make the scan quadratic.
_SKIP = r"(?:https?://|www\.)\S+|(?<![\w.-])[\w-]+(?:\.[\w-]+)*\.[a-z]{2,}/\S*|@\w+"
_WORD = r"\w+(?:['’]\w+)*"
_TOKEN = re.compile(f"(?P<skip>{_SKIP})|(?P<word>{_WORD})", re.IGNORECASE)
_APOSTROPHES = str.maketrans("", "", "'’")
_SKIP_PATTERN = re.compile(_SKIP, re.IGNORECASE)
#: Unicode categories dropped by :func:`clean`: symbols such as emoji, controls, unassigned.
_DROPPED_CATEGORIES = frozenset({"So", "Sk", "Cc", "Cf", "Cs", "Co", "Cn"})


@dataclass(frozen=True, slots=True)
class Tokens:
    """A post's normalised words (lower case, no apostrophes) and their spans in the text."""

    text: str
    words: tuple[str, ...]
    spans: tuple[tuple[int, int], ...]

    def surface(self, index: int) -> str:
        """The word as the author wrote it."""
        start, end = self.spans[index]
        return self.text[start:end]


def tokenize(text: str) -> Tokens:
    """The words of ``text`` (its first :data:`MAX_CHARS` characters), without handles and URLs."""
    text = text[:MAX_CHARS]
    words: list[str] = []
    spans: list[tuple[int, int]] = []
    for match in _TOKEN.finditer(text):
        if match.lastgroup == "word":
            words.append(match.group().lower().translate(_APOSTROPHES))
            spans.append(match.span())
    return Tokens(text, tuple(words), tuple(spans))


def word_grams(words: tuple[str, ...]) -> list[tuple[str, int, int]]:
    """Unigrams and bigrams with the indices of their first and last word."""
    grams = [(word, i, i) for i, word in enumerate(words)]
    grams.extend((f"{words[i]} {words[i + 1]}", i, i + 1) for i in range(len(words) - 1))
    return grams


#: Character n-gram lengths, taken inside each word padded with a space on both sides, so that the
#: start and end of a word ("card " vs " card") count on their own.
CHAR_RANGE = (2, 5)


def char_grams(words: tuple[str, ...]) -> list[tuple[str, int]]:
    """Character n-grams of each padded word, with the index of the word."""
    low, high = CHAR_RANGE
    grams: list[tuple[str, int]] = []
    for i, word in enumerate(words):
        padded = f" {word} "
        size = len(padded)
        for n in range(low, min(high, size) + 1):
            grams.extend((padded[start : start + n], i) for start in range(size - n + 1))
    return grams


def clean(text: str) -> str:
    """The post as a sentence for the embedding model: no handles, URLs, ``#``, emoji or controls.

    Punctuation stays (it is part of how a sentence reads); whitespace is collapsed.
    """
    text = _SKIP_PATTERN.sub(" ", text[:MAX_CHARS]).replace("#", " ")
    kept = "".join(" " if unicodedata.category(char) in _DROPPED_CATEGORIES else char for char in text)
    return " ".join(kept.split())
