"""The intent data: CSV validation, the held-out split, tokenisation and the TF-IDF features."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.feature_extraction.text import TfidfVectorizer

from haven.triage.intent import (
    OUT_OF_SCOPE,
    IntentDataError,
    held_out_examples,
    held_out_split,
    load_examples,
)
from haven.triage.intent.calibration import choose_threshold, fit_temperature, softmax
from haven.triage.intent.data import DATA_DIR, DEFAULT_OUT_OF_SCOPE_CSV, DEFAULT_TRAIN_CSV, MAX_TEXT_CHARS
from haven.triage.intent.features import TfidfFeaturizer
from haven.triage.intent.text import MAX_CHARS, char_grams, clean, tokenize, word_grams
from haven.triage.intents import INTENTS
from tests.unit.intent_support import write_csv


def test_project_data_is_banking77_with_its_licence_and_the_out_of_scope_posts() -> None:
    train = load_examples(DEFAULT_TRAIN_CSV)
    assert len(train) == 10003
    assert set(train.labels) == set(INTENTS)
    categories = json.loads((DATA_DIR / "banking77" / "categories.json").read_text(encoding="utf-8"))
    assert sorted(categories) == sorted(INTENTS)
    readme = (DATA_DIR / "banking77" / "README.md").read_text(encoding="utf-8")
    assert "CC BY 4.0" in readme and "2003.04807" in readme
    assert (DATA_DIR / "banking77" / "LICENSE_polyai").is_file()
    out_of_scope = load_examples(DEFAULT_OUT_OF_SCOPE_CSV)
    assert len(out_of_scope) >= 400
    assert set(out_of_scope.labels) == {OUT_OF_SCOPE}
    assert len(set(out_of_scope.texts)) == len(out_of_scope)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "missing text, category"),
        (b"text,category\n", "no rows"),
        (b"body,label\nhello,card_arrival\n", "missing text, category (found: body, label)"),
        (b"text,category\nmy card?,card_arival\n", "1 unknown category: 'card_arival' (line 2)"),
        (b"text,category\n,card_arrival\n", "line 2: empty text"),
        (b"text,category\nonly one field\n", "line 2: the row has too few fields"),
        (b"text,category\ncaf\xe9,card_arrival\n", "not UTF-8 (bad byte at offset 17)"),
        (b'text,category\n"' + b"x" * 200_000 + b'",card_arrival\n', "not valid CSV"),
        (b"text,category\n" + b"x" * (MAX_TEXT_CHARS + 1) + b",card_arrival\n", "the limit is 5,000"),
    ],
)
def test_bad_csvs_are_refused_with_a_clear_message(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "data.csv"
    path.write_bytes(content)
    with pytest.raises(IntentDataError) as raised:
        load_examples(path)
    assert message in raised.value.message


def test_unreadable_paths_are_refused(tmp_path: Path) -> None:
    for path in (tmp_path / "missing.csv", tmp_path):
        with pytest.raises(IntentDataError, match="cannot read it"):
            load_examples(path)


def test_many_unknown_categories_are_listed_briefly(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "data.csv", [(f"text {i}", f"label_{i}") for i in range(8)])
    with pytest.raises(IntentDataError, match=r"8 unknown categories: 'label_0' \(line 2\), .* and 3 more"):
        load_examples(path)


def test_a_bom_and_spaces_around_names_and_categories_are_accepted(tmp_path: Path) -> None:
    path = tmp_path / "data.csv"
    path.write_bytes("\ufefftext , category\nWhere is my card?, card_arrival \n".encode())
    assert load_examples(path).labels == ("card_arrival",)


def test_the_held_out_split_is_stratified_deterministic_and_order_independent() -> None:
    examples = load_examples(DEFAULT_TRAIN_CSV)
    train, held = held_out_split(examples.texts, examples.labels)
    assert set(train).isdisjoint(held) and len(train) + len(held) == len(examples)
    per_label = Counter(examples.labels)
    held_per_label = Counter(examples.labels[i] for i in held)
    assert all(held_per_label[label] == round(n * 0.2) for label, n in per_label.items())
    reversed_texts, reversed_labels = examples.texts[::-1], examples.labels[::-1]
    _, held_reversed = held_out_split(reversed_texts, reversed_labels)
    assert {reversed_texts[i] for i in held_reversed} == {examples.texts[i] for i in held}


def test_held_out_examples_serve_the_benchmark() -> None:
    texts, labels = held_out_examples()
    assert len(texts) == len(labels) == 1998
    texts_with_oos, labels_with_oos = held_out_examples(out_of_scope_csv=DEFAULT_OUT_OF_SCOPE_CSV)
    assert texts_with_oos[:1998] == texts
    assert set(labels_with_oos[1998:]) == {OUT_OF_SCOPE} and len(labels_with_oos) - 1998 == 90


def test_tokens_skip_handles_urls_and_emoji_but_keep_their_spans() -> None:
    text = "@NorthBank my card hasn't ARRIVED 😡 #help https://t.co/x bit.ly/abc"
    tokens = tokenize(text)
    assert tokens.words == ("my", "card", "hasnt", "arrived", "help")
    assert [tokens.surface(i) for i in range(len(tokens.words))] == [
        "my",
        "card",
        "hasn't",
        "ARRIVED",
        "help",
    ]
    assert clean(text) == "my card hasn't ARRIVED help"
    assert clean("hi\x00there\u200b 👍!") == "hi there !"
    assert len(tokenize("a" * 100_000).text) == MAX_CHARS


def test_grams() -> None:
    assert word_grams(("my", "card")) == [("my", 0, 0), ("card", 1, 1), ("my card", 0, 1)]
    assert char_grams(("ab",)) == [(" a", 0), ("ab", 0), ("b ", 0), (" ab", 0), ("ab ", 0), (" ab ", 0)]


def test_features_match_scikit_learns_tfidf() -> None:
    """Our TF-IDF is scikit-learn's (smooth IDF, sublinear TF, per-block L2) computed faster."""
    examples = load_examples(DEFAULT_TRAIN_CSV)
    fitted, other = examples.texts[:3000], [*examples.texts[3000:3300], "", "😂", "unseen zzqx words"]
    ours = TfidfFeaturizer.fit(fitted).transform(other)

    def words(text: str) -> list[str]:
        return [gram for gram, _, _ in word_grams(tokenize(text).words)]

    def chars(text: str) -> list[str]:
        return [gram for gram, _ in char_grams(tokenize(text).words)]

    blocks = [
        TfidfVectorizer(analyzer=analyzer, sublinear_tf=True).fit(fitted) for analyzer in (words, chars)
    ]
    theirs = sp.hstack([block.transform(other) for block in blocks]).tocsr()
    assert ours.shape == theirs.shape
    assert abs(ours - theirs).max() < 1e-12


def test_temperature_scaling_recovers_a_known_temperature() -> None:
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(4000, 5)) * 3
    gold = np.array([rng.choice(5, p=p) for p in softmax(logits, 1.0)])
    assert fit_temperature(logits * 0.1, gold) == pytest.approx(0.1, rel=0.1)


def test_the_threshold_keeps_the_target_share_of_in_scope_posts() -> None:
    confidence = np.linspace(0.01, 1.0, 100)
    everything = np.ones(100, dtype=bool)
    threshold = choose_threshold(confidence, everything, target=0.98)
    assert (confidence >= threshold).mean() == 0.98
    some_lost_to_the_class = everything.copy()
    some_lost_to_the_class[50] = False
    assert (
        confidence[some_lost_to_the_class] >= choose_threshold(confidence, some_lost_to_the_class, 0.98)
    ).sum() == 98
    assert choose_threshold(confidence, np.zeros(100, dtype=bool), 0.98) == 0.0
