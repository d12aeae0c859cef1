"""Clickable links in tweet and DM text on the customer page, as on real X.

Haven sends customers a link to its secure chat in a DM or a reply; a person
playing the customer has to be able to click it. Tweet text is hostile input, so
the filter escapes *everything* and only wraps http(s) URLs, found by the same
rule as the URL entities (``xsim.entities``), in an anchor whose ``href`` is
itself escaped. Other schemes (``javascript:``, ``data:`` …) stay plain text.
"""

from __future__ import annotations

import re

from markupsafe import Markup, escape

# Mirrors ``xsim.entities``: a URL ends at whitespace, ``<``, ``>`` or ``"``, and
# trailing punctuation belongs to the sentence, not the link.
_URL = re.compile(r"https?://[^\s<>\"]+", re.IGNORECASE)
_URL_TRAILING_PUNCTUATION = ".,;:!?)]}'\""


def linkify(text: str | None) -> Markup:
    """``text`` escaped, with each http(s) URL turned into a link that opens in a new tab."""
    if not text:
        return Markup("")
    parts: list[str] = []
    position = 0
    for match in _URL.finditer(text):
        url = match.group(0).rstrip(_URL_TRAILING_PUNCTUATION)
        if not url.split("://", 1)[1]:
            continue  # a bare "https://" is not a link
        start, end = match.start(), match.start() + len(url)
        parts.append(escape(text[position:start]))
        parts.append(Markup('<a href="{0}" rel="noopener noreferrer" target="_blank">{0}</a>').format(url))
        position = end
    parts.append(escape(text[position:]))
    return Markup("").join(parts)
