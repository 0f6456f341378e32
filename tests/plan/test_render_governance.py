"""A plan's governance in the terminal and in the pull-request comment: the approval tier and what raised it, the
budgets, the findings with their subjects, the overrides carried, the note on a journal that is not shared, and a
headline that says when apply would be refused. Markdown masks the addresses in them as it masks item targets."""

from __future__ import annotations

import re
from dataclasses import replace
from decimal import Decimal
from typing import Any

import pytest

from reconciler.governance.model import BudgetStatus, Effect, Finding, Governance
from reconciler.plan.checksum import with_checksum
from reconciler.plan.masking import EmailMasker
from reconciler.plan.model import Plan
from reconciler.render.plan_markdown import render_markdown
from reconciler.render.plan_text import render_text
from reconciler.render.words import verdict
from reconciler.state.desired import Target
from tests.support.plan_factories import (
    MSADS,
    assert_golden,
    governed_plan,
    sample_governance,
    sample_plan,
    with_error,
)

KEY = b"test-mask-key"


def governed(**changes: Any) -> Plan:
    return replace(sample_plan(), governance=replace(sample_governance(), **changes))


def text_lines(made: Plan) -> list[str]:
    return render_text(made, color=False).splitlines()


# --- the headline -------------------------------------------------------------------------------------------


def test_the_headline_says_apply_would_be_refused_by_denials_and_breaches() -> None:
    assert verdict(governed_plan()) == "Plan denied by 1 rule and breaches 1 budget: apply refused."
    g = sample_governance()
    assert verdict(governed(budgets=())) == "Plan denied by 1 rule: apply refused."
    assert verdict(governed(findings=g.findings[1:])) == "Plan breaches 1 budget: apply refused."
    two_findings_one_rule = (*g.findings, replace(g.findings[0], target=Target.account(180535609)))
    assert verdict(governed(findings=two_findings_one_rule, budgets=())) == "Plan denied by 1 rule: apply refused."


def test_overridden_denials_and_breaches_do_not_refuse_and_errors_come_first() -> None:
    g = sample_governance()
    cleared = governed(
        findings=tuple(replace(f, overridden=True) if f.effect is Effect.DENY else f for f in g.findings),
        budgets=tuple(replace(b, overridden=True) for b in g.budgets),
    )
    assert verdict(cleared) == verdict(sample_plan())
    assert verdict(with_error(governed_plan())) == "Plan has errors: apply refused."


# --- text ---------------------------------------------------------------------------------------------------


def test_governed_plan_matches_the_golden_text() -> None:
    assert_golden("plan-governance.txt", render_text(with_checksum(governed_plan()), color=False) + "\n")


def test_text_shows_the_tier_and_what_raised_it() -> None:
    lines = text_lines(governed_plan())
    assert "  approval:   tier finance (applied in coupons-finance or coupons-board)" in lines
    assert "    raised by rule finance-over-200: exposure above USD 200 needs finance" in lines
    assert "  approval:   tier finance" in text_lines(governed(environments=()))


def test_text_shows_each_budget_with_its_figures_breach_and_override() -> None:
    lines = text_lines(governed_plan())
    assert (
        "  budget:     spring-usd, calendar month (Europe/Berlin), USD: spent 150.00, in doubt 100.00, "
        "this plan 300.00, remaining -50.00 of 500.00 BREACH"
    ) in lines
    assert (
        "  budget:     reseller-cny, last 30 days, CNY: spent 100.00, in doubt 0.00, this plan 100.00, "
        "remaining -50.00 of 150.00 BREACH (overridden: Q1 top-up approved by finance)"
    ) in lines
    assert (
        "  budget:     program, lifetime, USD: spent 2,500.50, in doubt 0.00, this plan 300.00, "
        "remaining 97,199.50 of 100,000.00"
    ) in lines


def test_text_shows_findings_with_rule_subject_and_message() -> None:
    lines = text_lines(governed_plan())
    assert (
        "  denied:     rule one-class-per-account on msads-prod/251186883/SPRING27-ACQ-100 email:owner@example.com: "
        "owner@example.com already holds a coupon of another class of spring27"
    ) in lines
    assert (
        "  warned:     rule large-batch on msads-prod/251186883/SPRING27-ACQ-100: "
        "more than 2 coupons: ask ana@example.com to check"
    ) in lines
    assert (
        "  denied:     rule no-uid-twice on aliyun-reseller/3944837183/295873 uid:1918000000883: "
        "uid 1918000000883 was paid last quarter (overridden: the refund of ticket 4711 was reversed)"
    ) in lines
    assert "  warned:     rule weekend: planned on a weekend" in lines


def test_text_shows_the_overrides_carried_and_the_local_journal_note() -> None:
    lines = text_lines(governed_plan())
    assert (
        "  override:   no-uid-twice: the refund of ticket 4711 was reversed (by ana, at commit 0123456789ab)"
    ) in lines
    assert "  override:   reseller-cny: Q1 top-up approved by finance" in lines
    note = (
        "  note:       budgets are only truthful across runners with a shared journal: this plan read them from a "
        "journal only its runner sees"
    )
    assert note in lines
    assert note not in text_lines(governed(shared_journal=True))
    assert note not in text_lines(governed(budgets=()))  # no budget, nothing untruthful


def test_text_governance_comes_after_the_summary_and_before_the_scopes() -> None:
    lines = text_lines(governed_plan())
    assert lines.index("  problems:   0 errors, 1 warning") < lines.index(
        "  approval:   tier finance (applied in coupons-finance or coupons-board)"
    )
    assert max(n for n, line in enumerate(lines) if line.startswith("  note:")) < lines.index(
        "aliyun-reseller/3944837183/295873 (aliyun)"
    )
    assert lines[-1] == "Plan denied by 1 rule and breaches 1 budget: apply refused."


def test_text_colours_what_blocks_apply_only_with_colour() -> None:
    coloured = render_text(governed_plan(), color=True)
    plain = render_text(governed_plan(), color=False)
    assert "\x1b[" not in plain and "\x1b[" in coloured
    denied = next(line for line in coloured.splitlines() if "one-class-per-account" in line)
    assert "\x1b[31m" in denied  # red


@pytest.mark.parametrize(
    "governance",
    [None, Governance(digest="d" * 64), Governance(digest="d" * 64, shared_journal=False)],
    ids=["none", "nothing-found", "nothing-found-local-journal"],
)
def test_a_plan_whose_governance_found_nothing_renders_as_one_without(governance: Governance | None) -> None:
    made = replace(with_checksum(sample_plan()), governance=governance)
    assert render_text(made, color=False) == render_text(with_checksum(sample_plan()), color=False)
    assert render_markdown(made) == render_markdown(with_checksum(sample_plan()))


def test_text_lists_at_most_the_item_limit_of_findings() -> None:
    many = tuple(Finding("big", Effect.WARN, "look", MSADS, Target.account(n)) for n in range(1, 121))
    lines = text_lines(governed(findings=many))
    assert sum(1 for line in lines if line.startswith("  warned:     rule big ")) == 50
    assert "  ... and 70 more rule findings" in lines


# --- Markdown -----------------------------------------------------------------------------------------------


def test_governed_plan_matches_the_golden_markdown() -> None:
    assert_golden("plan-governance.md", render_markdown(with_checksum(governed_plan())))


def test_markdown_masks_an_email_target_and_an_email_in_a_message_as_it_masks_item_targets() -> None:
    text = render_markdown(governed_plan(), mask_key=KEY)
    assert "owner@example.com" not in text and "ana@example.com" not in text
    addresses = ["owner@example.com", "ana@example.com", "owner@example.com"]
    masked_owner = EmailMasker(KEY, addresses)("owner@example.com")  # o***@example.com (id ....)
    # the item target and the finding's target show the same mask and digest
    assert f"+ email:{masked_owner}  [spring27-emails]" in text
    assert f"`email:{masked_owner}`" in text
    digest = re.escape(masked_owner.split("(id ")[1])
    # inside prose: escaped, and no @mention
    assert re.search(r"o\\\*\\\*\\\*@\u200bexample\.com \(id " + digest + " already holds a coupon", text)
    assert re.search(r"ask a\\\*\\\*\\\*@\u200bexample\.com \(id [0-9a-f]{4}\) to check", text)


def test_markdown_masks_addresses_in_override_reasons_and_actors() -> None:
    g = sample_governance()
    made = governed(overrides=(replace(g.overrides[0], reason="asked by zoe@corp.example", actor="al@corp.example"),))
    text = render_markdown(made)
    assert "zoe@corp.example" not in text and "al@corp.example" not in text
    assert re.search(r"by `a\*\*\*@corp\.example \(id [0-9a-f]{4}\)`", text)


def test_markdown_shows_the_tier_refusals_budgets_findings_overrides_and_note() -> None:
    text = render_markdown(governed_plan())
    assert "**Plan denied by 1 rule and breaches 1 budget: apply refused.**" in text
    assert "**Approval tier:** `finance` · applied in `coupons-finance` or `coupons-board`, raised by:" in text
    assert "- rule `finance-over-200`: exposure above USD 200 needs finance" in text
    assert "> **Apply refuses this plan:** 1 denial and 1 budget breach that no override names." in text
    assert "> - breaches `spring-usd` (`USD`): remaining -50.00 of 500.00" in text
    assert (
        "| `spring-usd` | calendar month (Europe/Berlin) | `USD` | 150.00 | 100.00 | 300.00 | -50.00 of 500.00 "
        "| **BREACH** |"
    ) in text
    assert "| **BREACH** (overridden: Q1 top-up approved by finance) |" in text
    assert "| 97,199.50 of 100,000.00 | within |" in text
    assert (
        "> - denied by `no-uid-twice` on `aliyun-reseller/3944837183/295873` `uid:1918000000883`: "
        "uid 1918000000883 was paid last quarter (overridden: the refund of ticket 4711 was reversed)"
    ) in text
    assert "> - warned by `weekend`: planned on a weekend" in text
    assert "> - `no-uid-twice`: the refund of ticket 4711 was reversed (by `ana`, at commit `0123456789ab`)" in text
    assert "> - `reseller-cny`: Q1 top-up approved by finance" in text
    assert (
        "> Budgets are only truthful across runners with a shared journal: this plan read them from a journal only "
        "its runner sees." in text
    )
    assert "Budgets are only truthful" not in render_markdown(governed(shared_journal=True))


def test_markdown_governance_comes_before_the_scopes_and_the_denial_is_a_caution() -> None:
    text = render_markdown(governed_plan())
    caution = text.index("> [!CAUTION]\n> **Apply refuses this plan:**")
    assert text.index("| Scopes | To issue |") < text.index("**Approval tier:**") < caution < text.index("<details>")


def test_markdown_text_from_a_rule_cannot_start_markup_or_mention() -> None:
    hostile = Finding("r", Effect.WARN, "<img src=x> @everyone **bold** | cell\n## heading", MSADS)
    budget = replace(sample_governance().budgets[0], period="lifetime | x")
    text = render_markdown(governed(findings=(hostile,), budgets=(budget,)))
    assert re.search(r"(?<!\\)<img", text) is None and "\\<img" in text
    assert "@everyone" not in text and "\n## heading" not in text and "\\*\\*bold\\*\\*" in text
    assert "lifetime \\| x" in text


def test_markdown_shortens_the_finding_lists_with_the_rest_of_the_comment() -> None:
    many = tuple(Finding("big", Effect.WARN, "look", MSADS, Target.email(f"u{n:05d}@example.com")) for n in range(3000))
    text = render_markdown(governed(findings=many), max_chars=20_000, full_plan_hint="the `plan-json` artifact")
    assert len(text) <= 20_000
    assert re.search(r"> - … and [0-9,]+ more: see the `plan-json` artifact\.", text)
    assert "u00000@example.com" not in text


def test_budgets_in_the_plan_are_shown_even_without_findings() -> None:
    one, zero = Decimal(1), Decimal(0)
    only = BudgetStatus("b", "USD", limit=one, spent=zero, in_doubt=zero, adds=one, period="lifetime")
    made = replace(sample_plan(), governance=Governance(digest="d", budgets=(only,)))
    assert any(line.startswith("  budget:     b, lifetime, USD:") for line in text_lines(made))
    assert "| `b` | lifetime | `USD` |" in render_markdown(made)
