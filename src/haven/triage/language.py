"""Which language a post is written in, for routing to teams and choosing a reply template.

X labels public posts itself; lingua fills in when X's label is missing or "und" (DMs carry none).
The detector knows only the languages below, those a European or US bank's customers mostly write
in: fewer languages mean less memory and fewer near neighbours to confuse. The cost is that a post
in a language outside the set may be labelled as its nearest neighbour in it (Norwegian as Dutch).

The detector runs in lingua's high-accuracy mode: tweets are short, and on short banking phrases
the low-accuracy mode (trigrams only) was confidently wrong on 5 in 104 where high accuracy erred
on none. High accuracy costs about 0.15 ms a post (0.5 ms at worst) and about 300 MB of language
models, which the first detection loads (3 s: call it off the event loop) and every thread then
shares; low accuracy would cost 0.02 ms and 35 MB.
"""

from __future__ import annotations

import functools
import re
import unicodedata

from lingua import IsoCode639_1, Language, LanguageDetector, LanguageDetectorBuilder

#: ISO 639-1 code → English name, for the languages the detector knows.
LANGUAGE_NAMES: dict[str, str] = {
    "ar": "Arabic",
    "cy": "Welsh",
    "de": "German",
    "en": "English",
    "es": "Spanish",
    "fr": "French",
    "it": "Italian",
    "nl": "Dutch",
    "pl": "Polish",
    "pt": "Portuguese",
    "ro": "Romanian",
    "tr": "Turkish",
}

#: Posts with fewer words than this get no language: "thanks" or "lol" could be many.
MIN_WORDS = 2
#: How far ahead the likeliest language must be of the next (lingua's relative distance, 0..0.99).
#: On 121 short banking phrases 0.15 got 110 right, none wrong and left 11 unlabelled ("my card was
#: stolen"); 0.05 got 117 right but called fragments such as "ATM broken" Dutch. Unlabelled posts
#: fall back to the brand's language, which costs less than a wrong team.
MIN_RELATIVE_DISTANCE = 0.15

_HANDLES_AND_LINKS = re.compile(r"(?<!\w)@\w+|\bhttps?://\S+|\bwww\.\S+", re.IGNORECASE)
# Emoji, pictographs and their joiners, skin tones, variation selectors and keycaps.
_SYMBOL_CATEGORIES = frozenset({"So", "Sk", "Cf", "Co", "Cs", "Me"})
_VARIATION_SELECTORS = frozenset(chr(c) for c in range(0xFE00, 0xFE10))
_WORD = re.compile(r"[^\W\d_]{2,}")


@functools.cache
def _detector() -> LanguageDetector:
    languages = [Language.from_iso_code_639_1(getattr(IsoCode639_1, code.upper())) for code in LANGUAGE_NAMES]
    return (
        LanguageDetectorBuilder.from_languages(*languages)
        .with_minimum_relative_distance(MIN_RELATIVE_DISTANCE)
        .build()
    )


def _clean(text: str) -> str:
    """The post's words: no handles, links, '#' before hashtags or emoji."""
    text = _HANDLES_AND_LINKS.sub(" ", text).replace("#", " ")
    return "".join(
        " " if unicodedata.category(char) in _SYMBOL_CATEGORIES or char in _VARIATION_SELECTORS else char
        for char in text
    )


def detect_language(text: str) -> str | None:
    """The ISO 639-1 code of the post's language, or None when too short or unclear to tell."""
    words = _clean(text)
    if len(_WORD.findall(words)) < MIN_WORDS:
        return None
    language = _detector().detect_language_of(words)
    return None if language is None else language.iso_code_639_1.name.lower()


def choose_language(x_lang: str | None, text: str) -> str | None:
    """X's own label when it names a language we know ("pt-BR" counts as "pt"), else ours.

    X's non-languages ("und", "zxx", "qme" …) and languages outside ours fall back to detection.
    """
    if x_lang:
        code = re.split(r"[-_]", x_lang, maxsplit=1)[0].lower()
        if code in LANGUAGE_NAMES:
            return code
    return detect_language(text)
