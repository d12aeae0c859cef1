"""TF-IDF over word 1–2-grams and character 2–5-grams, computed without scikit-learn's vectorizers.

The vectorizers' per-call overhead is several times the whole latency budget for one message, so the
fitted vocabularies and IDF weights are plain dicts and arrays and one post is turned into its
non-zero columns with a few dict lookups. The weighting is scikit-learn's (smooth IDF, sublinear TF,
each block L2-normalised, blocks side by side); a test holds the two to the same numbers.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from haven.triage.intent.text import Tokens, char_grams, tokenize, word_grams

FloatArray = np.ndarray[tuple[int, ...], np.dtype[np.float64]]
IntArray = np.ndarray[tuple[int, ...], np.dtype[np.intp]]


@dataclass(frozen=True, slots=True)
class DocFeatures:
    """One post's non-zero TF-IDF columns and, per n-gram occurrence, the words it came from.

    ``occurrence`` maps each n-gram occurrence to its entry in ``columns``; ``first`` and ``last``
    are the indices of the words it spans (equal for everything but word bigrams).
    """

    tokens: Tokens
    columns: IntArray
    values: FloatArray
    occurrence: IntArray
    counts: IntArray
    first: IntArray
    last: IntArray


#: Words whose character columns are cached; past this the cache starts again (hostile input could
#: otherwise grow it without end).
_CHAR_CACHE_WORDS = 50_000


def _unique(values: IntArray) -> tuple[IntArray, IntArray, IntArray]:
    """``np.unique(values, return_inverse=True, return_counts=True)`` without its overhead."""
    order = np.argsort(values, kind="stable")
    ordered = values[order]
    starts = np.ones(len(ordered), dtype=bool)
    np.not_equal(ordered[1:], ordered[:-1], out=starts[1:])
    group = np.cumsum(starts) - 1
    inverse = np.empty_like(group)
    inverse[order] = group
    boundaries = np.flatnonzero(starts)
    counts = np.diff(np.append(boundaries, len(ordered)))
    return ordered[boundaries], inverse, counts


def _idf(document_frequency: Counter[str], n_documents: int) -> tuple[dict[str, int], FloatArray]:
    vocabulary = {gram: i for i, gram in enumerate(sorted(document_frequency))}
    df = np.array([document_frequency[gram] for gram in vocabulary], dtype=np.float64)
    return vocabulary, np.log((1.0 + n_documents) / (1.0 + df)) + 1.0


class TfidfFeaturizer:
    """Fitted vocabularies and IDF weights; turns posts into sparse rows."""

    def __init__(
        self,
        word_vocabulary: dict[str, int],
        char_vocabulary: dict[str, int],
        idf: FloatArray,
    ) -> None:
        self.word_vocabulary = word_vocabulary
        self.n_word_features = len(word_vocabulary)
        # Character columns come after the word columns in the stacked matrix.
        self.char_vocabulary = {gram: col + self.n_word_features for gram, col in char_vocabulary.items()}
        self.idf = idf
        self.n_features = len(idf)
        self._char_cache: dict[str, tuple[int, ...]] = {}

    @classmethod
    def fit(cls, texts: Iterable[str]) -> TfidfFeaturizer:
        word_df: Counter[str] = Counter()
        char_df: Counter[str] = Counter()
        n_documents = 0
        for text in texts:
            words = tokenize(text).words
            word_df.update({gram for gram, _, _ in word_grams(words)})
            char_df.update({gram for gram, _ in char_grams(words)})
            n_documents += 1
        word_vocabulary, word_idf = _idf(word_df, n_documents)
        char_vocabulary, char_idf = _idf(char_df, n_documents)
        return cls(word_vocabulary, char_vocabulary, np.concatenate([word_idf, char_idf]))

    def _char_columns(self, word: str) -> tuple[int, ...]:
        """The known character n-gram columns of one word, cached: posts reuse a small vocabulary."""
        columns = self._char_cache.get(word)
        if columns is None:
            lookup = self.char_vocabulary.get
            found = (lookup(gram) for gram, _ in char_grams((word,)))
            columns = tuple(column for column in found if column is not None)
            if len(self._char_cache) >= _CHAR_CACHE_WORDS:
                self._char_cache.clear()
            self._char_cache[word] = columns
        return columns

    def features(self, text: str) -> DocFeatures:
        tokens = tokenize(text)
        words = tokens.words
        columns: list[int] = []
        first: list[int] = []
        last: list[int] = []
        lookup = self.word_vocabulary.get
        for gram, start, end in word_grams(words):
            column = lookup(gram)
            if column is not None:
                columns.append(column)
                first.append(start)
                last.append(end)
        lengths: list[int] = []
        for word in words:
            char_columns = self._char_columns(word)
            columns.extend(char_columns)
            lengths.append(len(char_columns))
        char_words = np.repeat(np.arange(len(words), dtype=np.intp), lengths)
        unique, occurrence, counts = _unique(np.array(columns, dtype=np.intp))
        values = (1.0 + np.log(counts)) * self.idf[unique]
        n_word = int(np.searchsorted(unique, self.n_word_features))
        for block in (values[:n_word], values[n_word:]):
            norm = math.sqrt(float(block @ block))
            if norm > 0.0:
                block /= norm
        return DocFeatures(
            tokens,
            unique,
            values,
            occurrence,
            counts,
            np.concatenate([np.array(first, dtype=np.intp), char_words]),
            np.concatenate([np.array(last, dtype=np.intp), char_words]),
        )

    def __getstate__(self) -> dict[str, object]:
        state = dict(self.__dict__)
        del state["_char_cache"]
        return state

    def __setstate__(self, state: dict[str, object]) -> None:
        self.__dict__.update(state)
        self._char_cache = {}

    def matrix(self, docs: Sequence[DocFeatures]) -> sp.csr_matrix:
        """Stack posts' features into one sparse matrix (rows in order)."""
        indptr = np.zeros(len(docs) + 1, dtype=np.intp)
        np.cumsum([len(doc.columns) for doc in docs], out=indptr[1:])
        indices = np.concatenate([doc.columns for doc in docs]) if docs else np.zeros(0, np.intp)
        data = np.concatenate([doc.values for doc in docs]) if docs else np.zeros(0)
        return sp.csr_matrix((data, indices, indptr), shape=(len(docs), self.n_features))

    def transform(self, texts: Iterable[str]) -> sp.csr_matrix:
        return self.matrix([self.features(text) for text in texts])
