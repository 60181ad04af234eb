"""Policy evaluation and parsing: deny wins, no allow means no access, order never matters.

The properties compare `evaluate` with a reference written from the documented
rules (a rule applies when its resource and action are equal or `*` and its
project pattern, a glob with `*` and `?`, matches the whole project name), so a
change in the evaluator that breaks a documented guarantee fails here.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from home_idp.server.errors import ValidationFailed
from home_idp.server.rbac.policy import ACTIONS, RESOURCES, Rule, evaluate, parse_rule
from home_idp.server.rbac.roles import BUILTIN_ROLES

PROPERTY = settings(max_examples=80, deadline=None)

WILDCARD = "*"
EFFECTS = ("allow", "deny")
KEYS = ("effect", "resource", "action", "project_pattern")

# Project names from a tiny alphabet, so that random patterns often match them.
project_names = st.from_regex(r"[ab]([ab-]{0,3}[ab])?", fullmatch=True)
patterns = st.one_of(
    st.just(WILDCARD), project_names, st.text(alphabet="ab-*?", min_size=1, max_size=5)
)
rules = st.builds(
    Rule,
    effect=st.sampled_from(EFFECTS),
    resource=st.sampled_from((*RESOURCES, WILDCARD)),
    action=st.sampled_from((*ACTIONS, WILDCARD)),
    project_pattern=patterns,
)
requests = st.tuples(st.sampled_from(RESOURCES), st.sampled_from(ACTIONS), project_names)

Request = tuple[str, str, str]


def glob_matches(pattern: str, project: str) -> bool:
    """Reference glob: `*` is any run of characters, `?` exactly one, the rest literal."""
    regex = "".join(
        ".*" if char == "*" else "." if char == "?" else re.escape(char) for char in pattern
    )
    return re.fullmatch(regex, project, flags=re.DOTALL) is not None


def applies(rule: Rule, request: Request) -> bool:
    resource, action, project = request
    return (
        rule.resource in (resource, WILDCARD)
        and rule.action in (action, WILDCARD)
        and glob_matches(rule.project_pattern, project)
    )


def expected(rule_list: list[Rule], request: Request) -> bool:
    relevant = [rule for rule in rule_list if applies(rule, request)]
    return any(r.effect == "allow" for r in relevant) and not any(
        r.effect == "deny" for r in relevant
    )


@st.composite
def matching_patterns(draw: st.DrawFn, project: str) -> str:
    """A project pattern that matches `project`: `*`, itself, with `?` or a `*` tail."""
    kind = draw(st.sampled_from(("star", "exact", "question", "prefix")))
    if kind == "star":
        return WILDCARD
    if kind == "exact":
        return project
    if kind == "question":
        mask = draw(st.lists(st.booleans(), min_size=len(project), max_size=len(project)))
        return "".join("?" if hidden else char for char, hidden in zip(project, mask, strict=True))
    cut = draw(st.integers(0, len(project)))
    return project[:cut] + WILDCARD


@st.composite
def applicable_rules(draw: st.DrawFn, effect: str, request: Request) -> Rule:
    resource, action, project = request
    return Rule(
        effect,
        draw(st.sampled_from((resource, WILDCARD))),
        draw(st.sampled_from((action, WILDCARD))),
        draw(matching_patterns(project)),
    )


@st.composite
def scenarios(draw: st.DrawFn) -> tuple[list[Rule], Request]:
    """A request and rules for it, about half of which apply to it (allows and denies)."""
    request = draw(requests)
    relevant = st.sampled_from(EFFECTS).flatmap(lambda effect: applicable_rules(effect, request))
    return draw(st.lists(st.one_of(rules, relevant), max_size=8)), request


def insert_at(data: st.DataObject, rule_list: list[Rule], rule: Rule) -> list[Rule]:
    position = data.draw(st.integers(0, len(rule_list)))
    return [*rule_list[:position], rule, *rule_list[position:]]


# --- evaluate --------------------------------------------------------------------------


@PROPERTY
@given(scenarios())
def test_evaluation_follows_the_documented_rules(scenario: tuple[list[Rule], Request]) -> None:
    rule_list, request = scenario
    assert evaluate(rule_list, *request) is expected(rule_list, request)


@PROPERTY
@given(requests)
def test_no_rules_means_no_access(request: Request) -> None:
    assert evaluate([], *request) is False


@PROPERTY
@given(scenarios(), st.data())
def test_an_applicable_deny_always_wins(
    scenario: tuple[list[Rule], Request], data: st.DataObject
) -> None:
    # However many applicable allows there are, and wherever the deny sits.
    rule_list, request = scenario
    allow = data.draw(applicable_rules("allow", request))
    deny = data.draw(applicable_rules("deny", request))
    with_allow = insert_at(data, rule_list, allow)
    assert evaluate(insert_at(data, with_allow, deny), *request) is False


@PROPERTY
@given(scenarios())
def test_without_an_applicable_allow_there_is_no_access(
    scenario: tuple[list[Rule], Request],
) -> None:
    rule_list, request = scenario
    no_allow = [r for r in rule_list if not (r.effect == "allow" and applies(r, request))]
    assert evaluate(no_allow, *request) is False


@PROPERTY
@given(scenarios(), st.data())
def test_an_applicable_allow_without_a_deny_grants_access(
    scenario: tuple[list[Rule], Request], data: st.DataObject
) -> None:
    rule_list, request = scenario
    no_deny = [r for r in rule_list if not (r.effect == "deny" and applies(r, request))]
    allow = data.draw(applicable_rules("allow", request))
    assert evaluate(insert_at(data, no_deny, allow), *request) is True


@PROPERTY
@given(scenarios(), st.data())
def test_the_order_of_rules_never_matters(
    scenario: tuple[list[Rule], Request], data: st.DataObject
) -> None:
    rule_list, request = scenario
    shuffled = data.draw(st.permutations(rule_list))
    assert evaluate(shuffled, *request) is evaluate(rule_list, *request)
    assert evaluate(reversed(rule_list), *request) is evaluate(rule_list, *request)


@PROPERTY
@given(st.sampled_from(RESOURCES), st.sampled_from(ACTIONS), project_names)
def test_a_resource_wildcard_covers_every_resource_but_only_its_action(
    resource: str, action: str, project: str
) -> None:
    rule = Rule("allow", WILDCARD, action, WILDCARD)
    assert evaluate([rule], resource, action, project) is True
    for other in ACTIONS:
        if other != action:
            assert evaluate([rule], resource, other, project) is False


@PROPERTY
@given(st.sampled_from(RESOURCES), st.sampled_from(ACTIONS), project_names)
def test_an_action_wildcard_covers_every_action_but_only_its_resource(
    resource: str, action: str, project: str
) -> None:
    rule = Rule("allow", resource, WILDCARD, WILDCARD)
    assert evaluate([rule], resource, action, project) is True
    for other in RESOURCES:
        if other != resource:
            assert evaluate([rule], other, action, project) is False


@PROPERTY
@given(st.sampled_from(RESOURCES), st.sampled_from(ACTIONS), project_names)
def test_a_partial_star_in_resource_or_action_is_not_a_wildcard(
    resource: str, action: str, project: str
) -> None:
    prefix_resource = Rule("allow", resource[:2] + WILDCARD, action, WILDCARD)
    prefix_action = Rule("allow", resource, action[:2] + WILDCARD, WILDCARD)
    assert evaluate([prefix_resource], resource, action, project) is False
    assert evaluate([prefix_action], resource, action, project) is False


@PROPERTY
@given(requests, st.data())
def test_a_project_pattern_applies_only_to_the_projects_it_matches(
    request: Request, data: st.DataObject
) -> None:
    resource, action, project = request
    pattern = data.draw(matching_patterns(project))
    allow = Rule("allow", resource, action, pattern)
    assert evaluate([allow], *request) is True
    # Patterns that almost match: longer, shorter, or with something in front.
    near_misses = [f"{project}?", "?" * (len(project) + 1), f"x{project}", f"{project}x*"]
    if len(project) > 1:
        near_misses += [project[:-1], project[1:], "?" * (len(project) - 1)]
    for miss in near_misses:
        assert evaluate([Rule("allow", resource, action, miss)], *request) is False, miss
        # A deny for another project leaves this one alone.
        assert evaluate([allow, Rule("deny", WILDCARD, WILDCARD, miss)], *request) is True, miss


@pytest.mark.parametrize(
    ("pattern", "project", "matches"),
    [
        ("*", "web", True),
        ("web", "web", True),
        ("web", "web-api", False),
        ("web", "we", False),
        ("web-*", "web-api", True),
        ("web-*", "web-", True),
        ("web-*", "web", False),
        ("web-*", "api-web-x", False),
        ("*-prod", "shop-prod", True),
        ("*-prod", "shop-prod-2", False),
        ("we?", "web", True),
        ("we?", "we", False),
        ("we?", "webs", False),
        ("?", "a", True),
        ("?", "ab", False),
        ("a*b*c", "a-x-b-y-c", True),
        ("a*b*c", "a-x-c", False),
    ],
)
def test_project_patterns_are_whole_name_globs(pattern: str, project: str, matches: bool) -> None:
    assert evaluate([Rule("allow", "project", "read", pattern)], "project", "read", project) is (
        matches
    )


def test_the_builtin_project_roles_grant_what_they_document() -> None:
    roles = {role.name: role.rules for role in BUILTIN_ROLES}
    everything = [(r, a) for r in RESOURCES for a in ACTIONS]
    # Maintainers run their project: every action, members and deletion included.
    assert all(evaluate(roles["maintainer"], r, a, "web") for r, a in everything)
    # Viewers read everything and change nothing.
    assert [(r, a) for r, a in everything if evaluate(roles["viewer"], r, a, "web")] == [
        (r, "read") for r in RESOURCES
    ]
    # Developers read everything but cannot change the project or its members.
    developer = roles["developer"]
    assert all(evaluate(developer, r, "read", "web") for r in RESOURCES)
    for resource in ("project", "member"):
        for action in ("create", "update", "delete", "deploy"):
            assert not evaluate(developer, resource, action, "web"), (resource, action)
    assert evaluate(developer, "app", "update", "web")
    assert evaluate(developer, "release", "deploy", "web")
    assert not evaluate(developer, "app", "delete", "web")


# --- parse_rule ------------------------------------------------------------------------

VALID = {"effect": "allow", "resource": "project", "action": "read", "project_pattern": "web-*"}
# parse_rule reads the Python keys and names bad fields as the API spells them.
API_NAMES = {
    "effect": "effect",
    "resource": "resource",
    "action": "action",
    "project_pattern": "projectPattern",
}


def fields_of(error: ValidationFailed) -> set[str]:
    return {field_error.field for field_error in error.field_errors}


def parse_or_error(raw: dict[str, Any], index: int) -> Rule | ValidationFailed:
    try:
        return parse_rule(raw, index)
    except ValidationFailed as error:
        return error


def test_a_valid_policy_becomes_a_rule() -> None:
    assert parse_rule(VALID) == Rule("allow", "project", "read", "web-*")


def test_a_missing_project_pattern_means_every_project() -> None:
    raw = {key: value for key, value in VALID.items() if key != "project_pattern"}
    rule = parse_rule(raw)
    assert rule == Rule("allow", "project", "read", WILDCARD)
    assert evaluate([rule], "project", "read", "anything") is True


def test_effect_resource_and_action_are_trimmed_and_case_insensitive() -> None:
    raw = {
        "effect": " DENY ",
        "resource": "Member",
        "action": "\tDelete\n",
        "project_pattern": " web ",
    }
    rule = parse_rule(raw)
    assert rule == Rule("deny", "member", "delete", "web")
    assert evaluate([Rule("allow", "*", "*"), rule], "member", "delete", "web") is False


@pytest.mark.parametrize(
    ("key", "value", "field"),
    [
        ("effect", "permit", "policies[0].effect"),
        ("effect", "allow!", "policies[0].effect"),
        ("resource", "cluster", "policies[0].resource"),
        ("resource", "proj*", "policies[0].resource"),
        ("action", "execute", "policies[0].action"),
        ("action", "read,update", "policies[0].action"),
        ("project_pattern", "../x", "policies[0].projectPattern"),
        ("project_pattern", "UPPER", "policies[0].projectPattern"),
        ("project_pattern", "Web-*", "policies[0].projectPattern"),
        ("project_pattern", "web/api", "policies[0].projectPattern"),
        ("project_pattern", "web.api", "policies[0].projectPattern"),
        ("project_pattern", "web_api", "policies[0].projectPattern"),
        ("project_pattern", "web api", "policies[0].projectPattern"),
        ("project_pattern", "[ab]", "policies[0].projectPattern"),
        ("project_pattern", "a" * 64, "policies[0].projectPattern"),
    ],
)
def test_a_bad_value_is_rejected_naming_its_field(key: str, value: str, field: str) -> None:
    with pytest.raises(ValidationFailed) as caught:
        parse_rule({**VALID, key: value})
    assert fields_of(caught.value) == {field}


@pytest.mark.parametrize("key", ["effect", "resource", "action"])
def test_a_missing_key_is_rejected(key: str) -> None:
    raw = {name: value for name, value in VALID.items() if name != key}
    with pytest.raises(ValidationFailed) as caught:
        parse_rule(raw)
    assert fields_of(caught.value) == {f"policies[0].{key}"}


@pytest.mark.parametrize("key", KEYS)
@pytest.mark.parametrize(
    "value",
    [None, 1, 0, 1.5, True, ["allow"], {"a": 1}, b"allow", "", "   ", "\t\n"],
    ids=repr,
)
def test_a_blank_or_non_string_value_is_rejected(key: str, value: object) -> None:
    # A blank effect once slipped through as an allow; blanks count as missing.
    with pytest.raises(ValidationFailed) as caught:
        parse_rule({**VALID, key: value})
    assert fields_of(caught.value) == {f"policies[0].{API_NAMES[key]}"}


def test_every_bad_field_is_named_at_once_with_the_policy_index() -> None:
    with pytest.raises(ValidationFailed) as caught:
        parse_rule({"effect": "maybe", "action": 7, "project_pattern": "../etc"}, index=3)
    assert fields_of(caught.value) == {
        "policies[3].effect",
        "policies[3].resource",
        "policies[3].action",
        "policies[3].projectPattern",
    }
    assert all(field_error.message for field_error in caught.value.field_errors)


# Arbitrary input: parse_rule answers with a Rule or a ValidationFailed, nothing else.

scalars = st.one_of(
    st.text(max_size=20),
    st.integers(),
    st.none(),
    st.sampled_from([*EFFECTS, *RESOURCES, *ACTIONS, WILDCARD]),
)
raw_dicts = st.dictionaries(
    keys=st.one_of(st.sampled_from(KEYS), st.text(max_size=8)), values=scalars, max_size=6
)


@PROPERTY
@given(raw_dicts, st.integers(0, 99))
def test_parse_rule_returns_a_rule_or_raises_validation_failed(
    raw: dict[str, Any], index: int
) -> None:
    result = parse_or_error(raw, index)  # anything but ValidationFailed propagates
    if isinstance(result, ValidationFailed):
        assert result.field_errors
        for field_error in result.field_errors:
            assert field_error.field in {f"policies[{index}].{name}" for name in API_NAMES.values()}
            assert field_error.message
    else:
        assert isinstance(result, Rule)
        assert result.effect in EFFECTS


def _spellings(word: str, *, any_case: bool) -> st.SearchStrategy[str]:
    spacing = [word, f" {word} ", f"\t{word}\n"]
    cases = [word.upper(), word.title(), f" {word.upper()}"] if any_case else []
    return st.sampled_from(spacing + cases)


WORDS = {
    "effect": EFFECTS,
    "resource": (*RESOURCES, WILDCARD),
    "action": (*ACTIONS, WILDCARD),
    "project_pattern": ("*", "web", "web-*", "?eb", "a*b?c", "0-9"),
}
blanks = st.text(alphabet=" \t\n", max_size=3)
not_strings = st.one_of(st.integers(), st.floats(), st.booleans(), st.none(), st.binary(max_size=4))


def _value_for(key: str) -> st.SearchStrategy[tuple[str, object]]:
    """(kind, value): absent, valid in some spelling, or invalid (bad, blank, not a string)."""
    words = WORDS[key]
    if key == "project_pattern":
        # At least one character a pattern may never hold (upper case included).
        bad_text = st.builds(
            "{}{}{}".format,
            st.text(alphabet="ab*-", max_size=3),
            st.sampled_from(list("/._[]!\\:@éAW")),
            st.text(max_size=3),
        )
    else:
        bad_text = st.text(min_size=1, max_size=12).filter(
            lambda text: text.strip() and text.strip().lower() not in words
        )
    valid = st.sampled_from(words).flatmap(
        lambda word: _spellings(word, any_case=key != "project_pattern")
    )
    return st.one_of(
        st.tuples(st.just("absent"), st.none()),
        st.tuples(st.just("valid"), valid),
        st.tuples(st.just("invalid"), st.one_of(bad_text, blanks, not_strings)),
    )


@PROPERTY
@given(st.fixed_dictionaries({key: _value_for(key) for key in KEYS}), st.integers(0, 9))
def test_parse_rule_names_exactly_the_bad_fields(
    drawn: dict[str, tuple[str, object]], index: int
) -> None:
    raw = {key: value for key, (kind, value) in drawn.items() if kind != "absent"}
    bad = {key for key, (kind, _) in drawn.items() if kind == "invalid"}
    bad |= {key for key in ("effect", "resource", "action") if drawn[key][0] == "absent"}
    result = parse_or_error(raw, index)
    if isinstance(result, ValidationFailed):
        assert fields_of(result) == {f"policies[{index}].{API_NAMES[key]}" for key in bad}
    else:
        assert not bad, f"{raw} was accepted as {result}"
        assert result == Rule(
            str(raw["effect"]).strip().lower(),
            str(raw["resource"]).strip().lower(),
            str(raw["action"]).strip().lower(),
            str(raw.get("project_pattern", WILDCARD)).strip(),
        )
