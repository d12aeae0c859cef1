from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from haven.triage.sentiment import Sentiment, SentimentLabel, score_sentiment


@pytest.mark.parametrize(
    "text",
    [
        "@HavenBank you STOLE my money!!! worst bank ever 😡",
        "Three days on hold and nobody answers. Absolutely furious, this bank is a joke",
        "@HavenBank I've been scammed and you did NOTHING. Useless!!!",
        "Blocked my card while I'm abroad with no cash. Pathetic service 👎",
    ],
)
def test_angry_banking_tweets_are_strongly_negative(text: str) -> None:
    sentiment = score_sentiment(text)
    assert sentiment.label is SentimentLabel.NEGATIVE
    assert sentiment.strongly_negative


@pytest.mark.parametrize(
    "text",
    [
        "Thanks @HavenBank, my new card arrived today. Great service 😊",
        "Love the new app, sorting out my transfer took two minutes!",
        "Huge thanks to Sam on the chat, problem solved ❤️",
    ],
)
def test_happy_tweets_are_positive(text: str) -> None:
    sentiment = score_sentiment(text)
    assert sentiment.label is SentimentLabel.POSITIVE
    assert sentiment.compound > 0.5
    assert not sentiment.strongly_negative


@pytest.mark.parametrize(
    "text",
    [
        "How do I change my PIN?",
        "What time does the branch on High Street open on Saturday?",
        "@HavenBank where is my card",
        "",
    ],
)
def test_plain_questions_are_neutral(text: str) -> None:
    assert score_sentiment(text) == Sentiment(0.0, SentimentLabel.NEUTRAL)


def test_a_mildly_unhappy_tweet_is_negative_but_not_strongly() -> None:
    sentiment = score_sentiment("My card was declined again, a bit annoying")
    assert sentiment.label is SentimentLabel.NEGATIVE
    assert not sentiment.strongly_negative


def test_handles_and_links_do_not_count() -> None:
    # Unstripped, VADER scores "@Joy" and "@great" as words of feeling.
    assert score_sentiment("@Joy where is my card").compound == 0
    assert score_sentiment("@great @love").compound == 0
    assert score_sentiment("where is my card https://t.co/GreatLoveHappy").compound == 0
    assert score_sentiment("where is my card www.lovely-bank.example/great").compound == 0


def test_sarcasm_is_beyond_vader() -> None:
    # A known limit: the polite words win. The priority rules must not rely on sentiment alone.
    assert (
        score_sentiment("Oh wonderful, my card is blocked again. Thanks a lot").label
        is SentimentLabel.POSITIVE
    )


def test_caps_and_exclamation_marks_make_it_stronger() -> None:
    calm = score_sentiment("this is bad").compound
    shouted = score_sentiment("this is BAD!!!").compound
    assert shouted < calm < 0


@pytest.mark.parametrize("emoji", ["😡", "🤬", "😤", "👎", "💔"])
def test_angry_emoji_that_vader_scores_neutral_or_positive_are_negative(emoji: str) -> None:
    assert score_sentiment(emoji).label is SentimentLabel.NEGATIVE


@pytest.mark.parametrize(
    "text", ["this bank is a joke", "they stole my money", "I was robbed", "absolute nightmare"]
)
def test_complaint_words_the_lexicon_misses_are_negative(text: str) -> None:
    assert score_sentiment(text).label is SentimentLabel.NEGATIVE


def test_labels_follow_vaders_thresholds() -> None:
    for text in ["ok", "good", "bad", "fine thanks", "not good", "meh"]:
        sentiment = score_sentiment(text)
        expected = (
            SentimentLabel.POSITIVE
            if sentiment.compound >= 0.05
            else SentimentLabel.NEGATIVE
            if sentiment.compound <= -0.05
            else SentimentLabel.NEUTRAL
        )
        assert sentiment.label is expected


@given(st.text(max_size=300))
def test_any_text_scores_within_bounds(text: str) -> None:
    sentiment = score_sentiment(text)
    assert -1 <= sentiment.compound <= 1
    assert sentiment.strongly_negative == (sentiment.compound <= -0.5)
