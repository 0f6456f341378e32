"""The terminal rendering: summary first, every scope, a one-line verdict; colour only when asked for."""

from __future__ import annotations

from decimal import Decimal

import click

from reconciler.plan.checksum import with_checksum
from reconciler.render.plan_text import render_text
from reconciler.render.words import format_money
from reconciler.state.desired import Target
from tests.support.plan_factories import MSADS, assert_golden, issue, plan, sample_plan, scope_plan, with_error

ANSI = "\x1b["


def test_sample_plan_matches_the_golden_text() -> None:
    assert_golden("plan.txt", render_text(with_checksum(sample_plan()), color=False) + "\n")


def test_plan_with_errors_matches_the_golden_text() -> None:
    assert_golden("plan-errors.txt", render_text(with_error(sample_plan()), color=False) + "\n")


def test_ansi_codes_appear_only_with_colour() -> None:
    made = with_error(sample_plan())
    plain = render_text(made, color=False)
    coloured = render_text(made, color=True)
    assert ANSI not in plain
    assert ANSI in coloured
    assert click.unstyle(coloured) == plain


def test_summary_comes_first_and_the_verdict_last() -> None:
    lines = render_text(sample_plan(), color=False).splitlines()
    assert lines[1] == "  to issue:   4 coupons in 2 of 2 scopes"
    assert lines[2] == "  exposure:   CNY 100.00, USD 300.00"
    assert lines[-1] == "Plan: 4 to issue (CNY 100.00, USD 300.00). Nothing will be revoked."


def test_verdict_for_no_changes_and_for_errors() -> None:
    nothing = plan(scope_plan(satisfied=3))
    assert render_text(nothing, color=False).splitlines()[-1] == "No changes. Live state matches the manifests."
    assert render_text(with_error(sample_plan()), color=False).splitlines()[-1] == "Plan has errors: apply refused."


def test_unknown_money_is_said_not_hidden() -> None:
    unpriced = plan(scope_plan(to_issue=(issue(Target.account(1)),), face_value=None, available=None))
    text = render_text(unpriced, color=False)
    assert "  exposure:   unknown for 1 scope" in text
    assert text.splitlines()[-1] == "Plan: 1 to issue (unknown for 1 scope). Nothing will be revoked."


def test_large_scopes_show_the_first_items_and_a_count_of_the_rest() -> None:
    many = plan(scope_plan(MSADS, to_issue=tuple(issue(Target.account(n)) for n in range(100, 1300))))
    lines = render_text(many, color=False).splitlines()
    issue_lines = [line for line in lines if line.startswith("  + issue ")]
    assert len(issue_lines) == 50
    assert "  ... and 1,150 more to issue" in lines
    assert len([line for line in render_text(many, color=False, item_limit=5).splitlines() if "+ issue" in line]) == 5
    assert lines[-1] == "Plan: 1,200 to issue (USD 120,000.00). Nothing will be revoked."


def test_errors_are_listed_before_warnings_so_a_limit_never_hides_them() -> None:
    text = render_text(with_error(sample_plan()), color=False, item_limit=0)
    assert "error (inventory-shortfall)" not in text and "  ... and 2 more problems" in text
    one = render_text(with_error(sample_plan()), color=False, item_limit=1)
    assert "error (inventory-shortfall)" in one and "warning (held-more-than-once)" not in one


def test_rendering_is_deterministic() -> None:
    assert render_text(sample_plan(), color=True) == render_text(sample_plan(), color=True)


def test_money_keeps_every_decimal_and_groups_thousands() -> None:
    assert format_money(Decimal(1200), "USD") == "USD 1,200.00"
    assert format_money(Decimal("0.125"), "CNY") == "CNY 0.125"
    assert format_money(Decimal("1E+3"), "USD") == "USD 1,000.00"
