"""Priority rules: P1 (most urgent) to P4, from what triage learned about a post.

A brand's rules are a JSON list that admins edit. Each rule names the signals it looks for
(``when``: every condition set must hold) and what it does (``then``): ``set_priority`` fixes the
priority, the most urgent of the matching ones winning; ``raise_by`` then makes it more urgent by
that many steps, never beyond P1. When no rule sets the priority, banking requests start at P3 and
everything else at P4. Every decision carries one sentence per rule that shaped it, so an agent
sees why a post is P1.
"""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, TypeVar

import pydantic_core
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictFloat,
    StrictInt,
    StrictStr,
    TypeAdapter,
    ValidationError,
    model_validator,
)

from haven.kit.errors import Invalid
from haven.triage.intents import INTENT_GROUPS, IntentGroup, group_of, intent_label
from haven.triage.language import LANGUAGE_NAMES
from haven.triage.sentiment import STRONGLY_NEGATIVE_AT_MOST

T = TypeVar("T")

MOST_URGENT = 1
LEAST_URGENT = 4
#: Where a post starts when no rule sets its priority.
BANKING_REQUEST_PRIORITY = 3
OUT_OF_SCOPE_PRIORITY = LEAST_URGENT

MAX_RULES = 100
MAX_DOCUMENT_BYTES = 64 * 1024
MAX_NAME_LENGTH = 80
#: How many problems an invalid document reports at once.
MAX_PROBLEMS = 10


@dataclass(frozen=True, slots=True)
class Signals:
    """What triage learned about one post."""

    #: A BANKING77 intent, or None when the post is no banking request.
    intent: str | None
    intent_confidence: float
    #: VADER's compound score, -1 … 1.
    sentiment: float
    followers: int
    verified: bool
    #: The types of private data found in the post (``CREDIT_CARD`` …).
    pii_types: frozenset[str]
    language: str | None
    #: A direct message rather than a public post.
    is_private: bool

    @property
    def private_data_exposed(self) -> bool:
        """Private data anyone can read: found in a public post (in a DM only the bank sees it)."""
        return bool(self.pii_types) and not self.is_private


@dataclass(frozen=True, slots=True)
class PriorityDecision:
    priority: int
    reasons: tuple[str, ...]


def _shown(value: object, limit: int = 40) -> str:
    """A user-supplied value fit for an error message: short, quoted, control characters escaped."""
    text = str(value)
    return repr(text if len(text) <= limit else text[:limit] + "…")


def _known_intent(value: str) -> str:
    if value not in INTENT_GROUPS:
        raise ValueError(f"unknown intent {_shown(value)}")
    return value


def _known_language(value: str) -> str:
    if value not in LANGUAGE_NAMES:
        raise ValueError(f"unknown language {_shown(value)}; use one of {', '.join(LANGUAGE_NAMES)}")
    return value


def _plain_name(value: str) -> str:
    # Control and formatting characters (newlines, right-to-left overrides, zero-width joiners)
    # could make a name display as something else in the console and in reasons.
    if any(unicodedata.category(char) in {"Cc", "Cf", "Co", "Cs", "Zl", "Zp"} for char in value):
        raise ValueError("must not contain control or invisible formatting characters")
    return value


def _no_duplicates(values: tuple[T, ...]) -> tuple[T, ...]:
    if len(set(values)) != len(values):
        raise ValueError("lists an entry twice")
    return values


Intent = Annotated[StrictStr, Field(max_length=64), AfterValidator(_known_intent)]
LanguageCode = Annotated[StrictStr, Field(max_length=8), AfterValidator(_known_language)]
Priority = Annotated[StrictInt, Field(ge=MOST_URGENT, le=LEAST_URGENT)]


class _Document(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class Condition(_Document):
    """Signals a rule looks for; all that are set must hold, and at least one must be set."""

    intents: (
        Annotated[
            tuple[Intent, ...],
            Field(min_length=1, max_length=len(INTENT_GROUPS)),
            AfterValidator(_no_duplicates),
        ]
        | None
    ) = None
    #: Intent groups; ``other`` is a post that is no banking request.
    groups: (
        Annotated[
            tuple[IntentGroup, ...],
            Field(min_length=1, max_length=len(IntentGroup)),
            AfterValidator(_no_duplicates),
        ]
        | None
    ) = None
    sentiment_at_most: Annotated[StrictFloat, Field(ge=-1, le=1)] | None = None
    followers_at_least: Annotated[StrictInt, Field(ge=0, le=10**10)] | None = None
    verified: StrictBool | None = None
    #: Private data visible to anyone: found in a public post.
    private_data_exposed: StrictBool | None = None
    #: A public post (true) or a direct message (false).
    public: StrictBool | None = None
    languages: (
        Annotated[
            tuple[LanguageCode, ...],
            Field(min_length=1, max_length=len(LANGUAGE_NAMES)),
            AfterValidator(_no_duplicates),
        ]
        | None
    ) = None
    #: The intent model's confidence, 0 … 1.
    min_confidence: Annotated[StrictFloat, Field(ge=0, le=1)] | None = None

    @model_validator(mode="after")
    def _sets_something(self) -> Condition:
        if all(value is None for _, value in self):
            raise ValueError(f"set at least one condition: {', '.join(type(self).model_fields)}")
        return self

    def explain(self, signals: Signals) -> str | None:
        """Why the signals match, as one phrase, or None when they don't."""
        found: list[str] = []
        if self.intents is not None:
            if signals.intent not in self.intents:
                return None
            found.append(f"intent is '{intent_label(signals.intent)}'")
        if self.groups is not None:
            group = group_of(signals.intent)
            if group not in self.groups:
                return None
            if group is IntentGroup.OTHER:
                found.append("the post is not a banking request")
            else:
                found.append(
                    f"intent '{intent_label(signals.intent)}' is in the {group.replace('_', ' ')} group"
                )
        if self.sentiment_at_most is not None:
            if signals.sentiment > self.sentiment_at_most:
                return None
            found.append(f"sentiment {signals.sentiment:.2f} ≤ {self.sentiment_at_most:g}")
        if self.followers_at_least is not None:
            if signals.followers < self.followers_at_least:
                return None
            found.append(f"{signals.followers:,} followers ≥ {self.followers_at_least:,}")
        if self.verified is not None:
            if signals.verified != self.verified:
                return None
            found.append("the account is verified" if self.verified else "the account is not verified")
        if self.private_data_exposed is not None:
            if signals.private_data_exposed != self.private_data_exposed:
                return None
            found.append(
                f"private data ({', '.join(sorted(signals.pii_types))}) is visible in a public post"
                if self.private_data_exposed
                else "no private data is exposed"
            )
        if self.public is not None:
            if signals.is_private == self.public:
                return None
            found.append("the post is public" if self.public else "the message is private")
        if self.languages is not None:
            language = signals.language
            if language is None or language not in self.languages:
                return None
            found.append(f"language is {LANGUAGE_NAMES[language]}")
        if self.min_confidence is not None:
            if signals.intent_confidence < self.min_confidence:
                return None
            found.append(f"intent confidence {signals.intent_confidence:.2f} ≥ {self.min_confidence:g}")
        return " and ".join(found)


class Effect(_Document):
    """Exactly one of: set the priority, or raise it by some steps."""

    set_priority: Priority | None = None
    raise_by: Annotated[StrictInt, Field(ge=1, le=LEAST_URGENT - MOST_URGENT)] | None = None

    @model_validator(mode="after")
    def _one_effect(self) -> Effect:
        if (self.set_priority is None) == (self.raise_by is None):
            raise ValueError("give exactly one of set_priority (1–4) or raise_by (1–3)")
        return self


class PriorityRule(_Document):
    name: Annotated[
        StrictStr,
        Field(min_length=1, max_length=MAX_NAME_LENGTH),
        AfterValidator(_plain_name),
    ]
    enabled: StrictBool = True
    when: Condition
    then: Effect

    model_config = ConfigDict(str_strip_whitespace=True)


DEFAULT_RULES: tuple[PriorityRule, ...] = (
    PriorityRule(
        name="Suspected fraud",
        when=Condition(groups=(IntentGroup.SECURITY,)),
        then=Effect(set_priority=1),
    ),
    # Only the customer can take the post down, and the sooner we ask the less it is copied: as
    # urgent as fraud, on the round-the-clock P1 clock.
    PriorityRule(
        name="Private data in a public post",
        when=Condition(private_data_exposed=True),
        then=Effect(set_priority=1),
    ),
    PriorityRule(
        name="Angry customer",
        when=Condition(sentiment_at_most=STRONGLY_NEGATIVE_AT_MOST),
        then=Effect(raise_by=1),
    ),
    PriorityRule(
        name="Large audience",
        when=Condition(followers_at_least=10_000),
        then=Effect(raise_by=1),
    ),
    PriorityRule(
        name="Verified account",
        when=Condition(verified=True),
        then=Effect(raise_by=1),
    ),
)


def decide_priority(signals: Signals, rules: Sequence[PriorityRule]) -> PriorityDecision:
    """The post's priority and one reason per rule that shaped it, in rule order."""
    setters: list[tuple[int, str]] = []
    raisers: list[tuple[int, str]] = []
    for rule in rules:
        why = rule.when.explain(signals) if rule.enabled else None
        if why is None:
            continue
        if rule.then.set_priority is not None:
            setters.append((rule.then.set_priority, f"{rule.name}: {why}"))
        elif rule.then.raise_by is not None:
            raisers.append((rule.then.raise_by, f"{rule.name}: {why}"))

    if setters:
        priority = min(level for level, _ in setters)
        reasons = [f"P{priority} — {why}" for level, why in setters if level == priority]
    elif group_of(signals.intent) is IntentGroup.OTHER:
        priority = OUT_OF_SCOPE_PRIORITY
        reasons = [f"P{priority} — not a banking request, and no rule set a priority"]
    else:
        priority = BANKING_REQUEST_PRIORITY
        reasons = [
            f"P{priority} — banking request ('{intent_label(signals.intent)}'), and no rule set a priority"
        ]

    for steps, why in raisers:
        raised = max(MOST_URGENT, priority - steps)
        if raised == priority:
            reasons.append(f"already P{MOST_URGENT} — {why}")
        elif priority - raised < steps:
            reasons.append(f"raised by {priority - raised} to P{MOST_URGENT}, the most urgent — {why}")
        else:
            reasons.append(f"raised by {steps} — {why}")
        priority = raised
    return PriorityDecision(priority, tuple(reasons))


class RulesInvalid(Invalid):
    """A rules document that cannot be used; ``problems`` names each rule and field at fault."""

    def __init__(self, problems: Sequence[str]) -> None:
        super().__init__("The priority rules are not valid: " + "; ".join(problems))
        self.problems = tuple(problems)


_RULES = TypeAdapter(Annotated[list[PriorityRule], Field(max_length=MAX_RULES)])


def _rule_title(document: list[Any], index: int) -> str:
    rule = document[index] if index < len(document) else None
    name = rule.get("name") if isinstance(rule, dict) else None
    return f"Rule {index + 1}" + (f" ({_shown(name)})" if isinstance(name, str) else "")


def _message(error: pydantic_core.ErrorDetails) -> str:
    kind = error["type"]
    if kind == "extra_forbidden":
        return "is not a known field"
    if kind == "missing":
        return "is required"
    if kind == "model_type":
        return "must be a JSON object: {…}"
    if kind == "too_short":  # only lists of conditions have a minimum, of one
        return "must not be empty; leave the condition out instead"
    if kind == "too_long":
        ctx = error["ctx"]
        return f"has {ctx['actual_length']} entries; at most {ctx['max_length']} are allowed"
    return error["msg"].removeprefix("Value error, ")


def _path_part(part: int | str) -> str:
    if isinstance(part, int):
        return f"[{part}]"
    return f".{part}" if part.isidentifier() and len(part) <= 40 else f".{_shown(part)}"


def _problems(document: list[Any], errors: list[pydantic_core.ErrorDetails]) -> list[str]:
    """One line per error: which rule (by number and name), which field, what is wrong."""
    problems = []
    for error in errors:
        loc = error["loc"]
        # Pydantic also calls a list too short when one of its entries failed: say only the latter.
        if error["type"] == "too_short" and any(
            other["loc"][: len(loc)] == loc != other["loc"] for other in errors
        ):
            continue
        if not loc:
            problems.append(f"The document: {_message(error)}")
            continue
        field = "".join(_path_part(part) for part in loc[1:])
        where = _rule_title(document, int(loc[0])) + (f", {field[1:]}" if field else "")
        problems.append(f"{where}: {_message(error)}")
    return problems[:MAX_PROBLEMS]


def _duplicate_names(rules: Iterable[PriorityRule]) -> list[str]:
    seen: dict[str, int] = {}
    problems = []
    for number, rule in enumerate(rules, start=1):
        key = rule.name.casefold()
        if key in seen:
            problems.append(f"Rule {number} ({_shown(rule.name)}): has the same name as rule {seen[key]}")
        seen.setdefault(key, number)
    return problems


def parse_rules(raw: str | bytes) -> list[PriorityRule]:
    """Validate a rules document (a JSON list of rules); raises ``RulesInvalid`` saying what is wrong."""
    size = len(raw.encode() if isinstance(raw, str) else raw)
    if size > MAX_DOCUMENT_BYTES:
        raise RulesInvalid([f"The document is {size:,} bytes; the limit is {MAX_DOCUMENT_BYTES:,}"])
    try:
        document = pydantic_core.from_json(raw, allow_inf_nan=False)
    except ValueError as error:
        raise RulesInvalid([f"The document is not valid JSON: {error}"]) from None
    if not isinstance(document, list):
        raise RulesInvalid(["The document must be a JSON list of rules: [{…}, {…}]"])
    try:
        rules = _RULES.validate_python(document)
    except ValidationError as error:
        raise RulesInvalid(_problems(document, error.errors())) from None
    if problems := _duplicate_names(rules):
        raise RulesInvalid(problems)
    return rules


def dump_rules(rules: Iterable[PriorityRule]) -> str:
    """The rules as the JSON document admins edit; ``parse_rules`` reads it back unchanged."""
    return json.dumps(
        [rule.model_dump(mode="json", exclude_none=True) for rule in rules], indent=2, ensure_ascii=False
    )
