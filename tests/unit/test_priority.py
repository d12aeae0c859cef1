from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from haven.kit.errors import Invalid
from haven.triage.intents import INTENTS, IntentGroup
from haven.triage.language import LANGUAGE_NAMES
from haven.triage.priority import (
    DEFAULT_RULES,
    MAX_DOCUMENT_BYTES,
    Condition,
    Effect,
    PriorityDecision,
    PriorityRule,
    RulesInvalid,
    Signals,
    decide_priority,
    dump_rules,
    parse_rules,
)

CALM = Signals(
    intent="card_arrival",
    intent_confidence=0.9,
    sentiment=0.0,
    followers=120,
    verified=False,
    pii_types=frozenset(),
    language="en",
    is_private=False,
)
BASE_P3 = "P3 — banking request ('Card arrival'), and no rule set a priority"
BASE_P4 = "P4 — not a banking request, and no rule set a priority"


def decide(**changes: Any) -> PriorityDecision:
    return decide_priority(replace(CALM, **changes), DEFAULT_RULES)


def rule(name: str, then: dict[str, int], **when: Any) -> PriorityRule:
    return PriorityRule.model_validate({"name": name, "when": when, "then": then})


# The default rules, one by one


def test_a_calm_banking_request_is_p3() -> None:
    assert decide() == PriorityDecision(3, (BASE_P3,))


def test_out_of_scope_with_no_other_signal_stays_p4() -> None:
    assert decide(intent=None, intent_confidence=0.3) == PriorityDecision(4, (BASE_P4,))


@pytest.mark.parametrize(
    ("intent", "label"),
    [
        ("card_payment_not_recognised", "Card payment not recognised"),
        ("compromised_card", "Compromised card"),
        ("lost_or_stolen_card", "Lost or stolen card"),
    ],
)
def test_suspected_fraud_is_p1(intent: str, label: str) -> None:
    assert decide(intent=intent) == PriorityDecision(
        1, (f"P1 — Suspected fraud: intent '{label}' is in the security group",)
    )


def test_private_data_in_a_public_post_is_p1() -> None:
    assert decide(pii_types=frozenset({"IBAN", "CREDIT_CARD"})) == PriorityDecision(
        1,
        ("P1 — Private data in a public post: private data (CREDIT_CARD, IBAN) is visible in a public post",),
    )


def test_private_data_in_a_direct_message_is_not_exposed() -> None:
    assert decide(pii_types=frozenset({"CREDIT_CARD"}), is_private=True) == PriorityDecision(3, (BASE_P3,))


def test_an_angry_customer_is_raised_by_one() -> None:
    assert decide(sentiment=-0.72) == PriorityDecision(
        2, (BASE_P3, "raised by 1 — Angry customer: sentiment -0.72 ≤ -0.5")
    )


def test_sentiment_at_the_threshold_counts() -> None:
    assert decide(sentiment=-0.5).priority == 2
    assert decide(sentiment=-0.49).priority == 3


def test_a_large_audience_is_raised_by_one() -> None:
    assert decide(followers=10_000) == PriorityDecision(
        2, (BASE_P3, "raised by 1 — Large audience: 10,000 followers ≥ 10,000")
    )
    assert decide(followers=9_999).priority == 3


def test_a_verified_account_is_raised_by_one() -> None:
    assert decide(verified=True) == PriorityDecision(
        2, (BASE_P3, "raised by 1 — Verified account: the account is verified")
    )


def test_raises_add_up() -> None:
    assert decide(sentiment=-0.9, followers=50_000) == PriorityDecision(
        1,
        (
            BASE_P3,
            "raised by 1 — Angry customer: sentiment -0.90 ≤ -0.5",
            "raised by 1 — Large audience: 50,000 followers ≥ 10,000",
        ),
    )


def test_an_angry_out_of_scope_post_is_raised_from_p4() -> None:
    assert decide(intent=None, sentiment=-0.8) == PriorityDecision(
        3, (BASE_P4, "raised by 1 — Angry customer: sentiment -0.80 ≤ -0.5")
    )


def test_p1_is_the_floor_and_the_raise_still_shows() -> None:
    decision = decide(intent="compromised_card", sentiment=-0.8, verified=True)
    assert decision == PriorityDecision(
        1,
        (
            "P1 — Suspected fraud: intent 'Compromised card' is in the security group",
            "already P1 — Angry customer: sentiment -0.80 ≤ -0.5",
            "already P1 — Verified account: the account is verified",
        ),
    )


def test_a_raise_that_would_pass_p1_stops_there() -> None:
    rules = [rule("Celebrity", {"raise_by": 3}, verified=True)]
    assert decide_priority(replace(CALM, verified=True), rules) == PriorityDecision(
        1, (BASE_P3, "raised by 2 to P1, the most urgent — Celebrity: the account is verified")
    )


# How rules combine


def test_the_most_urgent_set_wins_and_only_it_is_given_as_the_reason() -> None:
    rules = [
        rule("Cards team", {"set_priority": 2}, groups=["cards"]),
        rule("Arrivals", {"set_priority": 1}, intents=["card_arrival"]),
        rule("Spanish", {"set_priority": 3}, languages=["es"]),
    ]
    assert decide_priority(CALM, rules) == PriorityDecision(1, ("P1 — Arrivals: intent is 'Card arrival'",))


def test_rules_setting_the_same_priority_all_give_reasons_in_rule_order() -> None:
    rules = [
        rule("Arrivals", {"set_priority": 2}, intents=["card_arrival"]),
        rule("Cards", {"set_priority": 2}, groups=["cards"]),
    ]
    assert decide_priority(CALM, rules).reasons == (
        "P2 — Arrivals: intent is 'Card arrival'",
        "P2 — Cards: intent 'Card arrival' is in the cards group",
    )


def test_raises_apply_after_sets_whatever_the_rule_order() -> None:
    raise_first = [
        rule("Verified", {"raise_by": 1}, verified=True),
        rule("Cards", {"set_priority": 2}, groups=["cards"]),
    ]
    decision = decide_priority(replace(CALM, verified=True), raise_first)
    assert decision == PriorityDecision(
        1,
        (
            "P2 — Cards: intent 'Card arrival' is in the cards group",
            "raised by 1 — Verified: the account is verified",
        ),
    )
    assert decide_priority(replace(CALM, verified=True), raise_first[::-1]) == decision


def test_a_set_rule_can_make_a_post_less_urgent() -> None:
    rules = [rule("Praise", {"set_priority": 4}, groups=["other"], sentiment_at_most=1.0)]
    assert decide_priority(replace(CALM, intent=None, sentiment=0.9), rules) == PriorityDecision(
        4, ("P4 — Praise: the post is not a banking request and sentiment 0.90 ≤ 1",)
    )


def test_disabled_rules_are_ignored() -> None:
    rules = [
        PriorityRule.model_validate(
            {"name": "Off", "enabled": False, "when": {"groups": ["cards"]}, "then": {"set_priority": 1}}
        )
    ]
    assert decide_priority(CALM, rules) == PriorityDecision(3, (BASE_P3,))


def test_every_condition_set_must_hold() -> None:
    rules = [rule("Big card fans", {"set_priority": 1}, groups=["cards"], followers_at_least=1000)]
    assert decide_priority(CALM, rules).priority == 3
    assert decide_priority(replace(CALM, followers=1000), rules) == PriorityDecision(
        1, ("P1 — Big card fans: intent 'Card arrival' is in the cards group and 1,000 followers ≥ 1,000",)
    )


@pytest.mark.parametrize(
    ("when", "changes", "reason"),
    [
        ({"languages": ["es", "pt"]}, {"language": "es"}, "language is Spanish"),
        ({"min_confidence": 0.8}, {}, "intent confidence 0.90 ≥ 0.8"),
        ({"verified": False}, {}, "the account is not verified"),
        ({"public": True}, {}, "the post is public"),
        ({"public": False}, {"is_private": True}, "the message is private"),
        ({"private_data_exposed": False}, {}, "no private data is exposed"),
        ({"groups": ["other"]}, {"intent": None}, "the post is not a banking request"),
        (
            {"groups": ["top_ups"]},
            {"intent": "top_up_failed"},
            "intent 'Top up failed' is in the top ups group",
        ),
    ],
)
def test_each_condition_explains_its_match(
    when: dict[str, Any], changes: dict[str, Any], reason: str
) -> None:
    decision = decide_priority(replace(CALM, **changes), [rule("R", {"set_priority": 2}, **when)])
    assert decision == PriorityDecision(2, (f"P2 — R: {reason}",))


@pytest.mark.parametrize(
    ("when", "changes"),
    [
        ({"languages": ["es"]}, {}),
        ({"languages": ["es"]}, {"language": None}),
        ({"min_confidence": 0.95}, {}),
        ({"verified": True}, {}),
        ({"public": False}, {}),
        ({"private_data_exposed": True}, {"pii_types": frozenset({"PHONE"}), "is_private": True}),
        ({"intents": ["card_arrival"]}, {"intent": None}),
        ({"groups": ["cards"]}, {"intent": None}),
    ],
)
def test_a_condition_that_does_not_hold_leaves_the_base(
    when: dict[str, Any], changes: dict[str, Any]
) -> None:
    assert decide_priority(replace(CALM, **changes), [rule("R", {"set_priority": 1}, **when)]).priority >= 3


def test_the_decision_is_deterministic() -> None:
    signals = replace(CALM, intent="compromised_card", sentiment=-0.9, followers=20_000, verified=True)
    assert len({decide_priority(signals, DEFAULT_RULES) for _ in range(20)}) == 1


# The rules document


def test_default_rules_round_trip_exactly() -> None:
    document = dump_rules(DEFAULT_RULES)
    assert parse_rules(document) == list(DEFAULT_RULES)
    assert dump_rules(parse_rules(document)) == document
    assert parse_rules(document.encode()) == list(DEFAULT_RULES)


def test_the_document_is_plain_readable_json() -> None:
    assert json.loads(dump_rules(DEFAULT_RULES))[0] == {
        "name": "Suspected fraud",
        "enabled": True,
        "when": {"groups": ["security"]},
        "then": {"set_priority": 1},
    }
    assert parse_rules("[]") == []


def test_stored_rules_validate_from_python_values() -> None:
    stored = json.loads(dump_rules(DEFAULT_RULES))
    assert [PriorityRule.model_validate(item) for item in stored] == list(DEFAULT_RULES)


def test_a_name_is_trimmed() -> None:
    [parsed] = parse_rules('[{"name": "  Angry  ", "when": {"verified": true}, "then": {"raise_by": 1}}]')
    assert parsed.name == "Angry"


def problems(document: Any) -> tuple[str, ...]:
    raw = document if isinstance(document, str | bytes) else json.dumps(document)
    with pytest.raises(RulesInvalid) as caught:
        parse_rules(raw)
    return caught.value.problems


def one(when: Any = None, then: Any = None, **fields: Any) -> dict[str, Any]:
    return {
        "name": "Test",
        "when": {"verified": True} if when is None else when,
        "then": {"raise_by": 1} if then is None else then,
        **fields,
    }


@pytest.mark.parametrize(
    ("document", "expected"),
    [
        (
            [one({"intents": ["card_stolen"]})],
            "Rule 1 ('Test'), when.intents[0]: unknown intent 'card_stolen'",
        ),
        (
            [one(), one({"groups": ["fraud"]}, name="Second")],
            "Rule 2 ('Second'), when.groups[0]: Input should be 'security', 'cards', 'payments', "
            "'transfers', 'top_ups', 'cash', 'exchange', 'account' or 'other'",
        ),
        ([one(colour="red")], "Rule 1 ('Test'), colour: is not a known field"),
        (
            [one({"verified": True, "sentiment_below": -1})],
            "Rule 1 ('Test'), when.sentiment_below: is not a known field",
        ),
        (
            [one(then={"set_priority": "1"})],
            "Rule 1 ('Test'), then.set_priority: Input should be a valid integer",
        ),
        (
            [one(then={"set_priority": 1.0})],
            "Rule 1 ('Test'), then.set_priority: Input should be a valid integer",
        ),
        ([one({"verified": 1})], "Rule 1 ('Test'), when.verified: Input should be a valid boolean"),
        (
            [one({"followers_at_least": "10k"})],
            "Rule 1 ('Test'), when.followers_at_least: Input should be a valid integer",
        ),
        (
            [one({"sentiment_at_most": True})],
            "Rule 1 ('Test'), when.sentiment_at_most: Input should be a valid number",
        ),
        (
            [one({"sentiment_at_most": -2})],
            "Rule 1 ('Test'), when.sentiment_at_most: Input should be greater than or equal to -1",
        ),
        (
            [one({"min_confidence": 1.5})],
            "Rule 1 ('Test'), when.min_confidence: Input should be less than or equal to 1",
        ),
        (
            [one(then={"set_priority": 0})],
            "Rule 1 ('Test'), then.set_priority: Input should be greater than or equal to 1",
        ),
        (
            [one(then={"raise_by": 4})],
            "Rule 1 ('Test'), then.raise_by: Input should be less than or equal to 3",
        ),
        (
            [one(then={"set_priority": 1, "raise_by": 1})],
            "Rule 1 ('Test'), then: give exactly one of set_priority (1–4) or raise_by (1–3)",
        ),
        ([one(then={})], "Rule 1 ('Test'), then: give exactly one of set_priority (1–4) or raise_by (1–3)"),
        (
            [one({})],
            "Rule 1 ('Test'), when: set at least one condition: intents, groups, sentiment_at_most, "
            "followers_at_least, verified, private_data_exposed, public, languages, min_confidence",
        ),
        (
            [one({"verified": None})],
            "Rule 1 ('Test'), when: set at least one condition: intents, groups, sentiment_at_most, "
            "followers_at_least, verified, private_data_exposed, public, languages, min_confidence",
        ),
        (
            [one({"intents": []})],
            "Rule 1 ('Test'), when.intents: must not be empty; leave the condition out instead",
        ),
        ([one({"groups": ["cards", "cards"]})], "Rule 1 ('Test'), when.groups: lists an entry twice"),
        (
            [one({"languages": ["english"]})],
            "Rule 1 ('Test'), when.languages[0]: unknown language 'english'; use one of "
            + ", ".join(LANGUAGE_NAMES),
        ),
        ([{"when": {"verified": True}, "then": {"raise_by": 1}}], "Rule 1, name: is required"),
        ([one(), "rule"], "Rule 2: must be a JSON object: {…}"),
        ([one(name="")], "Rule 1 (''), name: String should have at least 1 character"),
        ([one(name="   ")], "Rule 1 ('   '), name: String should have at least 1 character"),
        ([one(name=42)], "Rule 1, name: Input should be a valid string"),
        ([one(name="x" * 81)], f"Rule 1 ('{'x' * 40}…'), name: String should have at most 80 characters"),
        ([one(enabled="no")], "Rule 1 ('Test'), enabled: Input should be a valid boolean"),
        ([one(), one(name="test ")], "Rule 2 ('test'): has the same name as rule 1"),
    ],
)
def test_invalid_rules_say_which_rule_and_field(document: Any, expected: str) -> None:
    assert problems(document) == (expected,)


@pytest.mark.parametrize(
    "name",
    [
        "Angry\ncustomer",
        "Angry\x00",
        "evil\u202eremmargorp",  # right-to-left override
        "zero\u200bwidth",
        "line\u2028separator",
    ],
)
def test_names_with_control_or_invisible_characters_are_refused(name: str) -> None:
    [problem] = problems([one(name=name)])
    assert problem.endswith("name: must not contain control or invisible formatting characters")
    # The message itself shows the name with those characters escaped.
    assert all(char.isprintable() for char in problem)


def test_markup_in_a_name_is_just_text() -> None:
    # Escaping is the templates' job; the name is kept verbatim.
    [parsed] = parse_rules(json.dumps([one(name="<script>alert(1)</script>")]))
    assert parsed.name == "<script>alert(1)</script>"


def test_a_hostile_unknown_field_is_shortened_and_escaped_in_the_message() -> None:
    [problem] = problems([one(**{"k" * 500 + "\u202e": 1})])
    assert problem == f"Rule 1 ('Test'), '{'k' * 40}…': is not a known field"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("", "The document is not valid JSON: EOF while parsing a value at line 1 column 0"),
        ("[{", "The document is not valid JSON: EOF while parsing an object at line 1 column 2"),
        ("[{'name': 'x'}]", "The document is not valid JSON: key must be a string at line 1 column 3"),
        ('{"name": "x"}', "The document must be a JSON list of rules: [{…}, {…}]"),
        ("null", "The document must be a JSON list of rules: [{…}, {…}]"),
        (
            '[{"name": "x", "when": {"sentiment_at_most": NaN}, "then": {"raise_by": 1}}]',
            "The document is not valid JSON: expected value at line 1 column 46",
        ),
        (b'["\xff"]', "The document is not valid JSON: invalid unicode code point at line 1 column 3"),
    ],
)
def test_documents_that_are_not_json_lists(raw: str | bytes, expected: str) -> None:
    assert problems(raw) == (expected,)


def test_deeply_nested_json_is_refused_without_recursing() -> None:
    [problem] = problems("[" * 5000 + "]" * 5000)
    assert problem.startswith("The document is not valid JSON: recursion limit exceeded")


def test_oversized_documents_are_refused_before_parsing() -> None:
    raw = json.dumps([one(name="x" * 70)]) + " " * MAX_DOCUMENT_BYTES
    assert problems(raw) == (f"The document is {len(raw):,} bytes; the limit is 65,536",)
    # Bytes are counted, not characters.
    assert problems("[" + "é" * (MAX_DOCUMENT_BYTES // 2) + "]")[0].startswith("The document is 65,538 bytes")


def test_more_than_100_rules_are_refused() -> None:
    document = [one(name=f"Rule {n}") for n in range(101)]
    assert problems(document) == ("The document: has 101 entries; at most 100 are allowed",)
    assert len(parse_rules(json.dumps(document[:100]))) == 100


def test_many_problems_are_reported_ten_at_a_time() -> None:
    document = [one(then={"raise_by": 9}, name=f"R{n}") for n in range(30)]
    found = problems(document)
    assert len(found) == 10
    assert found[0] == "Rule 1 ('R0'), then.raise_by: Input should be less than or equal to 3"


def test_rules_invalid_is_shown_to_the_admin_as_a_422() -> None:
    with pytest.raises(Invalid) as caught:
        parse_rules("[1]")
    assert caught.value.status_code == 422
    assert caught.value.message == "The priority rules are not valid: Rule 1: must be a JSON object: {…}"


def test_models_are_immutable() -> None:
    with pytest.raises(ValueError, match="frozen"):
        DEFAULT_RULES[0].name = "Changed"  # type: ignore[misc]
    assert isinstance(DEFAULT_RULES[0].when.groups, tuple)


# Properties


def _unique_lists(values: Any, most: int) -> st.SearchStrategy[list[Any]]:
    return st.lists(st.sampled_from(values), min_size=1, max_size=most, unique=True)


conditions = st.fixed_dictionaries(
    {},
    optional={
        "intents": _unique_lists(INTENTS, 5),
        "groups": _unique_lists(list(IntentGroup), 3),
        "sentiment_at_most": st.floats(-1, 1),
        "followers_at_least": st.integers(0, 10**10),
        "verified": st.booleans(),
        "private_data_exposed": st.booleans(),
        "public": st.booleans(),
        "languages": _unique_lists(list(LANGUAGE_NAMES), 3),
        "min_confidence": st.floats(0, 1),
    },
).filter(bool)
effects = st.one_of(
    st.builds(lambda p: {"set_priority": p}, st.integers(1, 4)),
    st.builds(lambda r: {"raise_by": r}, st.integers(1, 3)),
)
rule_lists = st.lists(
    st.builds(
        lambda name, enabled, when, then: PriorityRule.model_validate(
            {"name": name, "enabled": enabled, "when": when, "then": then}
        ),
        st.text(st.characters(codec="utf-8", categories=["L", "N", "P", "S", "Zs"]), min_size=1, max_size=80)
        .map(str.strip)
        .filter(bool),
        st.booleans(),
        conditions,
        effects,
    ),
    max_size=8,
    unique_by=lambda r: r.name.casefold(),
)
signals = st.builds(
    Signals,
    intent=st.one_of(st.none(), st.sampled_from(INTENTS)),
    intent_confidence=st.floats(0, 1),
    sentiment=st.floats(-1, 1),
    followers=st.integers(0, 10**8),
    verified=st.booleans(),
    pii_types=st.frozensets(st.sampled_from(["CREDIT_CARD", "IBAN", "PHONE"])),
    language=st.one_of(st.none(), st.sampled_from(list(LANGUAGE_NAMES))),
    is_private=st.booleans(),
)


@given(rule_lists)
def test_any_valid_rules_round_trip(rules: list[PriorityRule]) -> None:
    document = dump_rules(rules)
    assert parse_rules(document) == rules
    assert dump_rules(parse_rules(document)) == document


@given(signals, rule_lists)
def test_every_decision_is_a_priority_with_reasons(signals: Signals, rules: list[PriorityRule]) -> None:
    decision = decide_priority(signals, rules)
    assert 1 <= decision.priority <= 4
    assert decision.reasons
    assert decision.reasons[0].startswith(("P1 — ", "P2 — ", "P3 — ", "P4 — "))


@given(signals, rule_lists, st.integers(1, 3))
def test_a_raise_rule_never_makes_a_post_less_urgent(
    signals: Signals, rules: list[PriorityRule], steps: int
) -> None:
    extra = PriorityRule(
        name="Extra raise", when=Condition(public=not signals.is_private), then=Effect(raise_by=steps)
    )
    before = decide_priority(signals, rules).priority
    after = decide_priority(signals, [*rules, extra]).priority
    assert after == max(1, before - steps)
