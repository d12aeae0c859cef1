from __future__ import annotations

import re

import pytest

from haven.triage.language import LANGUAGE_NAMES, choose_language, detect_language


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("@HavenBank someone stole my card, please help", "en"),
        ("why was I charged twice?? https://t.co/abc123", "en"),
        ("¿Dónde está mi tarjeta? 😡", "es"),
        ("me han robado la tarjeta", "es"),
        ("Ma carte est bloquée depuis hier", "fr"),
        ("Meine #Karte wurde gestohlen", "de"),
        ("La mia carta non funziona", "it"),
        ("O meu cartão foi roubado", "pt"),
        ("Mijn pas is geblokkeerd", "nl"),
        ("Moja karta nie działa", "pl"),
        ("Mae fy ngherdyn wedi ei ddwyn", "cy"),
        ("بطاقتي لا تعمل", "ar"),
        ("Kartım çalındı", "tr"),
        ("Cardul meu nu funcționează", "ro"),
    ],
)
def test_short_tweets_in_each_language(text: str, code: str) -> None:
    assert detect_language(text) == code


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "@HavenBank",
        "@HavenBank @HavenHelp https://t.co/abc123",
        "😡😡😡",
        "👍🏽🇬🇧❤️",
        "12345 678 £50",
        "#fraud",
        "thanks",  # one word could be many languages
        "lol",
        "omg lol",
        "PIN reset",
        "ATM broken",
    ],
)
def test_too_little_to_tell_gives_none(text: str) -> None:
    assert detect_language(text) is None


def test_handles_links_and_emoji_do_not_sway_the_language() -> None:
    text = "@TarjetaBanco @CarteBanque https://t.co/ZahlungKarte 🇪🇸 my card has not arrived yet"
    assert detect_language(text) == "en"


def test_language_names_are_iso_codes_with_english_names() -> None:
    assert len(LANGUAGE_NAMES) == 12
    for code, name in LANGUAGE_NAMES.items():
        assert re.fullmatch(r"[a-z]{2}", code)
        assert name[:1].isupper()
    assert LANGUAGE_NAMES["cy"] == "Welsh"


def test_x_language_wins_when_we_know_it() -> None:
    # X's label is taken as is, even over text that reads otherwise.
    assert choose_language("es", "my card was stolen, help") == "es"
    assert choose_language("EN", "Meine Karte wurde gestohlen") == "en"


def test_x_regional_codes_count_as_their_language() -> None:
    assert choose_language("pt-BR", "") == "pt"
    assert choose_language("en_GB", "") == "en"


@pytest.mark.parametrize("x_lang", [None, "", "und", "zxx", "qme", "qht", "ja", "no", "e"])
def test_without_a_usable_x_language_we_detect(x_lang: str | None) -> None:
    assert choose_language(x_lang, "Meine Karte wurde gestohlen") == "de"
    assert choose_language(x_lang, "@HavenBank 😡") is None
