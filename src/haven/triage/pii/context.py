"""The words just before a number, which often say what the number is.

"order 0207946095" and "call me on 0207946095" hold the same digits; only the words before them tell
a reference from a phone number. Each detector asks :func:`said_before` whether one of its keywords
comes shortly before a number: with at most a few words in between ("account number is: ", "ref. ",
"call me on "), and no comma, semicolon, digit or line or sentence break, which would start another
clause ("promo code, call 0207946095" is a phone number).
"""

from __future__ import annotations

import re

#: How far back a keyword may be; a tweet's clause rarely puts more between a label and its number.
_WINDOW = 40


#: What may stand between words: spaces and the punctuation of labels ("no.", "#", "a/c:", "(s)").
_BETWEEN = r"[ \t:#.=/()'\"-]*"


def keywords(*words: str, then: int = 3) -> re.Pattern[str]:
    """A pattern for :func:`said_before`: one of ``words`` (lower case, whole words), then at most
    ``then`` more words."""
    alternatives = "|".join(sorted((re.escape(word) for word in words), key=len, reverse=True))
    return re.compile(rf"(?<![a-z])(?:{alternatives})(?:{_BETWEEN}(?<![a-z])[a-z]+){{0,{then}}}{_BETWEEN}\Z")


def said_before(text: str, start: int, pattern: re.Pattern[str]) -> bool:
    """Whether ``pattern`` (from :func:`keywords`) ends right where ``text[start:]`` begins."""
    return pattern.search(text[max(0, start - _WINDOW) : start].lower()) is not None


#: Labels of numbers that are not private: references, orders, parcels and the like. A number after
#: one of these is not taken for a phone number, SSN or account number, whatever its digits.
REFERENCE = keywords(
    "order",
    "orders",
    "ord",
    "ref",
    "reference",
    "tracking",
    "track",
    "trk",
    "invoice",
    "inv",
    "ticket",
    "case",
    "complaint",
    "transaction",
    "txn",
    "confirmation",
    "conf",
    "booking",
    "parcel",
    "consignment",
    "shipment",
    "delivery",
    "policy",
    "claim",
    "receipt",
    "serial",
    "model",
    "imei",
    "item",
    "sku",
    "product",
    "customer",
    "member",
    "membership",
    "voucher",
    "coupon",
    "promo",
    "flight",
    "id",
    "ending",
    "ends",
    "last",
)
