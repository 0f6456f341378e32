"""The pull-request comment: summary table first, masked emails, no coupon codes, always under the size limit."""

from __future__ import annotations

import re
import time

import pytest

from reconciler.plan.checksum import with_checksum
from reconciler.plan.model import PlanProblem, Severity
from reconciler.plan.serialize import plan_from_json, plan_to_json
from reconciler.render.plan_markdown import mask_email, render_markdown
from reconciler.state.desired import Scope, Target
from tests.support.plan_factories import MSADS, assert_golden, issue, plan, sample_plan, scope_plan, with_error


def test_sample_plan_matches_the_golden_markdown() -> None:
    assert_golden("plan.md", render_markdown(with_checksum(with_error(sample_plan()))))


def test_summary_table_comes_before_any_scope() -> None:
    text = render_markdown(sample_plan())
    table = text.index("| Scopes | To issue | Exposure | Satisfied | Unmanaged | Removed | Errors | Warnings |")
    assert text.index("### couponctl plan") < table < text.index("<details>")
    assert "| 2 | 4 | CNY 100.00, USD 300.00 | 41 | 1 | 1 | 0 | 1 |" in text


def test_emails_are_masked_by_default() -> None:
    text = render_markdown(sample_plan())
    assert "owner@example.com" not in text and "ana@example.com" not in text
    assert re.search(r"^\+ email:o\*\*\*@example\.com \(id [0-9a-f]{4}\)  \[spring27-emails\]$", text, re.M)
    assert re.search(r"^! email:a\*\*\*@example\.com \(id [0-9a-f]{4}\) holds 1 coupon: dispatched", text, re.M)


def test_emails_in_messages_and_notes_are_masked_too() -> None:
    warning = PlanProblem(Severity.WARNING, "held-more-than-once", "zoe@corp.example holds 2 coupons")
    text = render_markdown(plan(scope_plan(problems=(warning,))))
    assert "zoe@corp.example" not in text
    # masked, escaped, and the @ followed by a zero-width space so that GitHub mentions nobody
    assert re.search(r"z\\\*\\\*\\\*@\u200bcorp\.example \(id [0-9a-f]{4}\) holds 2 coupons", text)


def test_emails_are_shown_when_masking_is_off() -> None:
    assert "+ email:owner@example.com" in render_markdown(sample_plan(), mask_emails=False)


def test_held_coupons_are_listed_by_status_not_by_redeemable_code() -> None:
    text = render_markdown(sample_plan(), mask_emails=False)
    assert "SPR-0900" not in text and "SPR-0001" not in text


def test_mask_email() -> None:
    assert mask_email("owner@example.com") == "o***@example.com"
    assert mask_email("@example.com") == "***@example.com"


def test_scopes_with_errors_are_open_and_say_why() -> None:
    text = render_markdown(with_error(sample_plan()))
    assert "<details open>\n<summary><b>msads-prod/251186883/SPRING27-ACQ-100</b>" in text
    assert "**Plan has errors: apply refused.**" in text


@pytest.mark.slow
def test_a_plan_with_50000_emails_stays_under_the_limit_with_a_pointer() -> None:
    emails = tuple(issue(Target.email(f"user{n:05d}@example.com")) for n in range(50_000))
    huge = plan(scope_plan(MSADS, to_issue=emails, available=60_000), scope_plan(Scope("msads-prod", "1", "B")))
    started = time.perf_counter()
    text = render_markdown(huge, max_chars=65_000, full_plan_hint="the `plan-json` artifact")
    assert time.perf_counter() - started < 5
    assert len(text) < 65_000
    assert "The full plan is in the `plan-json` artifact." in text
    assert "more: see the `plan-json` artifact." in text
    assert "| 2 | 50,000 | USD 5,000,000.00 |" in text
    assert "user00000@example.com" not in text and "+ email:u***@example.com" in text
    assert text.count("<details>") == text.count("</details>") == 2
    assert len(text) > 60_000, "the comment should use the room it has"


def test_without_a_hint_the_pointer_names_the_json_plan() -> None:
    many = plan(scope_plan(MSADS, to_issue=tuple(issue(Target.account(n)) for n in range(1, 2000))))
    text = render_markdown(many, max_chars=5_000)
    assert len(text) <= 5_000
    assert "The full plan is in the JSON plan (`couponctl plan --out FILE`)." in text


def test_when_even_empty_lists_do_not_fit_trailing_scopes_are_left_out() -> None:
    scopes = [scope_plan(Scope("msads-prod", "251186883", f"CLASS-{n:03d}")) for n in range(200)]
    text = render_markdown(plan(*scopes), max_chars=8_000)
    assert len(text) <= 8_000
    shown = text.count("<details>")
    assert 0 < shown < 200
    assert f"… and {200 - shown:,} more scopes not shown" in text


def test_output_is_stable() -> None:
    made = with_checksum(with_error(sample_plan()))
    loaded = plan_from_json(plan_to_json(made), "p.json")
    assert render_markdown(made) == render_markdown(loaded)
    assert render_markdown(made, max_chars=1_500) == render_markdown(loaded, max_chars=1_500)


def test_when_scopes_are_left_out_those_with_errors_are_kept() -> None:
    text = render_markdown(with_error(sample_plan()), max_chars=1_500)
    assert len(text) <= 1_500
    assert "msads-prod/251186883/SPRING27-ACQ-100" in text and "aliyun-reseller" not in text
    assert "… and 1 more scope not shown" in text
