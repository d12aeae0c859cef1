"""Filtered-stream rules (contract §4): the app's rule book and the add/delete semantics.

A rule's value is a search query, parsed and matched by :mod:`xsim.query`, the same matcher as
``GET /2/tweets/search/recent``. Rules live in memory, in creation order, under snowflake ids.
Every method here is synchronous, so a change is atomic with respect to the event loop: the stream
never sees half of an ``add``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from xsim.errors import JSON, PROBLEMS, resource_not_found
from xsim.ids import SnowflakeGenerator
from xsim.query import Node, QueryError, UsernameLookup, parse_query
from xsim.store import Tweet


@dataclass(frozen=True, slots=True)
class StreamRule:
    id: str
    value: str
    tag: str | None
    matcher: Node

    def to_json(self) -> JSON:
        """``{"id","value","tag"?}`` as the rules endpoints list it (no ``tag`` when none was given)."""
        out: JSON = {"id": self.id, "value": self.value}
        if self.tag is not None:
            out["tag"] = self.tag
        return out

    def match_json(self) -> JSON:
        """The ``matching_rules`` entry of a stream line; ``tag`` is always there (``""`` if none)."""
        return {"id": self.id, "tag": self.tag or ""}


@dataclass(frozen=True, slots=True)
class NewRule:
    value: str
    tag: str | None = None


@dataclass(slots=True)
class AddOutcome:
    """What an ``add`` did (or, on a dry run, would do)."""

    created: list[StreamRule] = field(default_factory=list)
    errors: list[JSON] = field(default_factory=list)
    valid: int = 0
    invalid: int = 0
    #: Set when the add would take the book over its cap; then nothing is created.
    over_cap: bool = False

    @property
    def summary(self) -> JSON:
        requested = self.valid + self.invalid
        return {
            "created": len(self.created),
            "not_created": requested - len(self.created),
            "valid": self.valid,
            "invalid": self.invalid,
        }


@dataclass(slots=True)
class DeleteOutcome:
    deleted: int = 0
    errors: list[JSON] = field(default_factory=list)

    @property
    def summary(self) -> JSON:
        return {"deleted": self.deleted, "not_deleted": len(self.errors)}


def invalid_rule(value: str, detail: str) -> JSON:
    return {
        "value": value,
        "details": [detail],
        "title": "UnprocessableEntity",
        "type": PROBLEMS + "invalid-rules",
    }


def duplicate_rule(value: str, rule_id: str | None) -> JSON:
    problem: JSON = {"value": value, "title": "DuplicateRule", "type": PROBLEMS + "duplicate-rules"}
    if rule_id is not None:
        problem["id"] = rule_id
    return problem


class RuleBook:
    """The app's filtered-stream rules, oldest first."""

    def __init__(self, ids: SnowflakeGenerator | None = None) -> None:
        self._ids = ids or SnowflakeGenerator()
        self._rules: dict[str, StreamRule] = {}

    def __len__(self) -> int:
        return len(self._rules)

    def all(self) -> list[StreamRule]:
        return list(self._rules.values())

    def get(self, rule_id: str) -> StreamRule | None:
        return self._rules.get(rule_id)

    def by_value(self, value: str) -> StreamRule | None:
        return next((rule for rule in self._rules.values() if rule.value == value), None)

    def matching(self, tweet: Tweet, username_of: UsernameLookup) -> tuple[StreamRule, ...]:
        """The rules ``tweet`` matches, oldest first."""
        return tuple(rule for rule in self._rules.values() if rule.matcher.matches(tweet, username_of))

    def add(self, rules: Sequence[NewRule], *, max_rules: int, max_length: int, dry_run: bool) -> AddOutcome:
        """Validate ``rules`` and create the new ones, all or nothing.

        A rule that does not parse or is longer than ``max_length`` is invalid, and then nothing is
        created. A rule whose value is already in the book (or earlier in the same request) is a
        duplicate: valid, not created, reported with the existing rule's id. Exceeding ``max_rules``
        creates nothing and sets ``over_cap``.
        """
        outcome = AddOutcome()
        accepted: list[StreamRule] = []
        pending: dict[str, StreamRule] = {}
        for rule in rules:
            if len(rule.value) > max_length:
                outcome.invalid += 1
                outcome.errors.append(
                    invalid_rule(rule.value, f"Rule length exceeds the max allowed ({max_length}).")
                )
                continue
            try:
                matcher = parse_query(rule.value)
            except QueryError as error:
                outcome.invalid += 1
                outcome.errors.append(invalid_rule(rule.value, str(error)))
                continue
            outcome.valid += 1
            existing = self.by_value(rule.value) or pending.get(rule.value)
            if existing is not None:
                outcome.errors.append(duplicate_rule(rule.value, existing.id))
                continue
            new = StreamRule(id=self._ids.next_id(), value=rule.value, tag=rule.tag, matcher=matcher)
            pending[rule.value] = new
            accepted.append(new)
        if outcome.invalid:
            return outcome
        if len(self._rules) + len(accepted) > max_rules:
            outcome.over_cap = True
            return outcome
        if not dry_run:
            self._rules.update((rule.id, rule) for rule in accepted)
        outcome.created = accepted
        return outcome

    def delete_ids(self, ids: Iterable[str], *, dry_run: bool) -> DeleteOutcome:
        outcome = DeleteOutcome()
        for rule_id in dict.fromkeys(ids):
            if rule_id in self._rules:
                outcome.deleted += 1
                if not dry_run:
                    del self._rules[rule_id]
            else:
                outcome.errors.append(resource_not_found("rule", "delete.ids", rule_id))
        return outcome

    def delete_values(self, values: Iterable[str], *, dry_run: bool) -> DeleteOutcome:
        outcome = DeleteOutcome()
        for value in dict.fromkeys(values):
            rule = self.by_value(value)
            if rule is not None:
                outcome.deleted += 1
                if not dry_run:
                    del self._rules[rule.id]
            else:
                outcome.errors.append(resource_not_found("rule", "delete.values", value))
        return outcome

    def delete_all(self, *, dry_run: bool) -> DeleteOutcome:
        outcome = DeleteOutcome(deleted=len(self._rules))
        if not dry_run:
            self._rules.clear()
        return outcome

    def reset(self) -> None:
        self._rules.clear()
