"""Rules when the config loads: a rule's error is reported at the file's line:col of the character it concerns, in
couponctl.yaml (every scalar style) and in policy files; an undeclared variable is caught there, not at apply;
policy files are checked (schema, containment, unique rule names) and their rules join couponctl.yaml's."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from reconciler.config.load import load_config
from reconciler.errors import ConfigError, Problem
from reconciler.governance.model import Effect, Level

HEAD = """\
providers:
  msads-local: {type: msads, environment: local}
"""

POLICY_HEAD = "apiVersion: couponctl/v1\nkind: CouponPolicy\nrules:\n"


def problems(project: Path) -> list[Problem]:
    with pytest.raises(ConfigError) as raised:
        load_config(project)
    return list(raised.value.problems)


def write(project: Path, name: str, text: str) -> None:
    path = project / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def position(text: str, marker: str) -> tuple[int, int]:
    index = text.index(marker)
    return text.count("\n", 0, index) + 1, index - (text.rfind("\n", 0, index) + 1) + 1


@pytest.mark.parametrize(
    "when",
    [
        "amount > 1 && MISSING",  # plain
        "'target.kind == ''email'' && MISSING'",  # single-quoted
        '"target.kind == \\"email\\" &&\\t MISSING"',  # double-quoted with escapes
        "|\n      amount > 1 &&\n        (target.kind == 'x' || MISSING)",  # literal block
        ">-\n      amount > 1 &&\n        target.kind == 'x' &&\n      MISSING",  # folded block
        "amount > 1\n      && MISSING",  # plain over two lines
    ],
    ids=["plain", "single", "double", "literal", "folded", "plain-multiline"],
)
def test_an_undeclared_variable_is_reported_where_it_is_written(tmp_path: Path, when: str) -> None:
    text = HEAD + f"rules:\n  - name: r1\n    on: item\n    effect: deny\n    when: {when}\n"
    write(tmp_path, "couponctl.yaml", text)
    [found] = problems(tmp_path)
    assert (found.file, found.line, found.column) == ("couponctl.yaml", *position(text, "MISSING"))
    assert found.field == "rules.r1.when"
    assert "MISSING" in found.message


def test_a_syntax_error_is_reported_where_it_is_written(tmp_path: Path) -> None:
    text = HEAD + "rules:\n  - {name: r1, on: plan, effect: warn, when: 'items > && true'}\n"
    write(tmp_path, "couponctl.yaml", text)
    [found] = problems(tmp_path)
    assert (found.line, found.column) == position(text, "&& true")


def test_a_variable_of_another_level_is_caught_and_named(tmp_path: Path) -> None:
    text = HEAD + "rules:\n  - {name: r1, on: plan, effect: warn, when: 'target.kind == \"email\"'}\n"
    write(tmp_path, "couponctl.yaml", text)
    [found] = problems(tmp_path)
    assert (found.line, found.column) == position(text, ".kind")  # CEL points at the selection
    assert "item" in found.message


def test_a_type_error_in_a_policy_file_is_reported_there(tmp_path: Path) -> None:
    write(tmp_path, "couponctl.yaml", HEAD + "policyFiles: [policies/money.yaml]\n")
    policy = POLICY_HEAD + "  - name: r1\n    on: plan\n    effect: deny\n"
    policy += "    when: exposure.USD > 1 && 'a' + 1 == 'b'\n"
    write(tmp_path, "policies/money.yaml", policy)
    [found] = problems(tmp_path)
    assert (found.file, found.line, found.column) == ("policies/money.yaml", *position(policy, "+ 1"))


def test_a_condition_that_is_no_bool_is_refused_at_load(tmp_path: Path) -> None:
    text = HEAD + "rules:\n  - {name: r1, on: plan, effect: warn, when: exposure}\n"
    write(tmp_path, "couponctl.yaml", text)
    [found] = problems(tmp_path)
    assert (found.line, found.column) == position(text, "exposure}")


def test_policy_files_join_the_inline_rules_in_order(tmp_path: Path) -> None:
    write(
        tmp_path,
        "couponctl.yaml",
        HEAD + "policyFiles: [policies/*.yaml]\nrules:\n  - {name: own, on: plan, effect: warn, when: 'items > 10'}\n",
    )
    write(tmp_path, "policies/b.yaml", POLICY_HEAD + "  - {name: b1, on: scope, effect: warn, when: 'items > 1'}\n")
    policy = POLICY_HEAD + "  - {name: a1, on: item, effect: deny, when: 'amount > 1'}\n"
    write(tmp_path, "policies/a.yaml", policy)
    config = load_config(tmp_path)
    rules = config.governance.rules
    assert [r.name for r in rules] == ["own", "a1", "b1"]
    assert (rules[1].level, rules[1].effect) == (Level.ITEM, Effect.DENY)
    assert (rules[1].position.file, rules[1].position.line, rules[1].position.column) == (
        "policies/a.yaml",
        *position(policy, "'amount"),
    )


def test_a_policy_file_is_checked_against_its_schema_at_its_own_positions(tmp_path: Path) -> None:
    write(tmp_path, "couponctl.yaml", HEAD + "policyFiles: [policies/bad.yaml]\n")
    policy = POLICY_HEAD + "  - {name: r1, on: items, effect: warn, when: 'true'}\n"
    write(tmp_path, "policies/bad.yaml", policy)
    [found] = problems(tmp_path)
    assert (found.file, found.line, found.column, found.field) == (
        "policies/bad.yaml",
        *position(policy, "items"),
        "rules[0].on",
    )


def test_a_file_of_another_kind_is_not_a_policy(tmp_path: Path) -> None:
    write(tmp_path, "couponctl.yaml", HEAD + "policyFiles: [policies/x.yaml]\n")
    write(tmp_path, "policies/x.yaml", "apiVersion: couponctl/v1\nkind: CouponAssignment\nrules: []\n")
    [found] = problems(tmp_path)
    assert (found.file, found.line, found.field) == ("policies/x.yaml", 2, "kind")


def test_rule_names_are_unique_across_files(tmp_path: Path) -> None:
    write(tmp_path, "couponctl.yaml", HEAD + "policyFiles: [a.yaml, b.yaml]\n")
    write(tmp_path, "a.yaml", POLICY_HEAD + "  - {name: same, on: plan, effect: warn, when: 'true'}\n")
    write(tmp_path, "b.yaml", POLICY_HEAD + "  - {name: same, on: plan, effect: deny, when: 'true'}\n")
    [found] = problems(tmp_path)
    assert found.file == "b.yaml"
    assert "a.yaml" in found.message


@pytest.mark.parametrize(
    ("entry", "why"),
    [
        ("missing.yaml", "no such"),
        ("policies/*.yml", "matches no"),
        ("../outside.yaml", "outside"),
        ("policies/../../*.yaml", "'..'"),
        ("/etc/passwd", "absolute"),
    ],
)
def test_a_policy_file_entry_must_name_a_file_inside_the_project(tmp_path: Path, entry: str, why: str) -> None:
    project = tmp_path / "project"
    write(project, "couponctl.yaml", HEAD + f"policyFiles: ['{entry}']\n")
    write(project, "policies/a.yaml", POLICY_HEAD + "  - {name: r, on: plan, effect: warn, when: 'true'}\n")
    write(tmp_path, "outside.yaml", POLICY_HEAD + "  - {name: r, on: plan, effect: warn, when: 'true'}\n")
    [found] = problems(project)
    assert (found.file, found.line, found.field) == ("couponctl.yaml", 3, "policyFiles[0]")
    assert why in found.message


def test_a_glob_match_that_is_a_symlink_out_of_the_project_is_refused(tmp_path: Path) -> None:
    project = tmp_path / "project"
    write(project, "couponctl.yaml", HEAD + "policyFiles: ['policies/*.yaml']\n")
    write(tmp_path, "secret.yaml", POLICY_HEAD + "  - {name: r, on: plan, effect: warn, when: 'true'}\n")
    (project / "policies").mkdir()
    os.symlink(tmp_path / "secret.yaml", project / "policies" / "a.yaml")
    [found] = problems(project)
    assert found.field == "policyFiles[0]"
    assert "outside" in found.message
