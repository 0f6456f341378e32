"""The drift report as text, JSON and Markdown: codes masked everywhere, emails masked in Markdown, stable, bounded."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta, timezone

from reconciler.plan.drift import Drift, detect_drift
from reconciler.providers.registry import void_statuses
from reconciler.render.drift import MARKER, drift_to_json, render_drift_markdown, render_drift_text
from reconciler.state.desired import Target
from reconciler.state.live import IssuedCoupon, LiveState, ScopeLive
from tests.support.diff_factories import NOW, SCOPE, USD100, desired

ANA = Target.email("ana@example.com")


def report(stray: int = 1, void: bool = True) -> Drift:
    holders: dict[Target, tuple[IssuedCoupon, ...]] = {
        Target.email(f"stray{n:05d}@example.net"): (IssuedCoupon(f"STRAYCODE{n:07d}", "dispatched"),)
        for n in range(stray)
    }
    holders[ANA] = (IssuedCoupon("ANACODE000001234", "expired" if void else "claimed"),)
    live = ScopeLive(SCOPE, True, USD100, 10, holders)
    return detect_drift(
        desired([ANA, Target.account(180535609)]),
        LiveState({SCOPE: live}),
        checked_at=NOW,
        void_statuses=void_statuses(),
    )


def test_text_lists_drift_by_kind_with_masked_codes_and_a_verdict() -> None:
    text = render_drift_text(report())
    assert "~ email:stray00000@example.net holds 1 coupon: ****0000 dispatched" in text
    assert "x email:ana@example.com holds 1 coupon: ****1234 expired  [m1]" in text
    assert "1 declared target not issued yet" in text
    assert text.splitlines()[-1].startswith("Drift: 1 unmanaged holder, 1 void target.")
    assert "STRAYCODE" not in text and "ANACODE" not in text


def test_text_without_drift_says_so() -> None:
    text = render_drift_text(report(stray=0, void=False))
    assert text.splitlines()[-1] == "No drift. The vendor shows nothing the manifests do not account for."


def test_text_lists_are_cut_with_a_pointer() -> None:
    text = render_drift_text(report(stray=60))
    assert "... and 10 more: see the JSON report (`couponctl drift --format json`)" in text


def test_json_is_complete_and_stable_with_codes_masked() -> None:
    drift = report()
    text = drift_to_json(drift)
    assert text == drift_to_json(drift)
    data = json.loads(text)
    assert data["kind"] == "CouponDrift" and data["formatVersion"] == 1
    assert data["summary"] == {
        "hasDrift": True,
        "hasErrors": False,
        "scopeCount": 1,
        "unmanagedCount": 1,
        "voidCount": 1,
        "removedCount": 0,
        "heldMoreThanOnceCount": 0,
        "issuedLateCount": 0,
        "pendingCount": 1,
        "notVisibleCount": 0,
        "errorCount": 0,
        "warningCount": 0,
    }
    (scope,) = data["scopes"]
    assert scope["unmanaged"][0]["target"] == {"kind": "email", "value": "stray00000@example.net"}
    assert scope["void"][0]["manifest"] == "m1"
    assert scope["void"][0]["coupons"][0]["code"] == "****1234"
    assert "STRAYCODE" not in text


def test_markdown_masks_emails_and_codes_summary_first() -> None:
    text = render_drift_markdown(report())
    assert text.startswith(MARKER)
    assert "stray00000@example.net" not in text and "ana@example.com" not in text
    assert re.search(
        r"^~ email:s\*\*\*@example\.net \(id [0-9a-f]{4}\) holds 1 coupon: \*{4}0000 dispatched$", text, re.M
    )
    assert re.search(
        r"^x email:a\*\*\*@example\.com \(id [0-9a-f]{4}\) holds 1 coupon: \*{4}1234 expired  \[m1\]$", text, re.M
    )
    assert text.index("| Scopes | Unmanaged | Void |") < text.index("<details open>")
    assert "STRAYCODE" not in text
    assert "stray00000@example.net" in render_drift_markdown(report(), mask_emails=False)


def test_markdown_stays_under_the_limit_with_a_pointer_and_is_stable() -> None:
    big = report(stray=5000)
    text = render_drift_markdown(big, max_chars=20_000)
    assert len(text) <= 20_000
    assert "shortened to fit" in text and "more: see the JSON report" in text
    assert text == render_drift_markdown(big, max_chars=20_000)
    assert len(render_drift_markdown(big)) <= 65_000


def paid_twice() -> Drift:
    first = IssuedCoupon("TWICECODE0001111", "claimed", issued_at="2027-03-02T10:00:00Z", issue_date=MOMENT)
    second = IssuedCoupon("TWICECODE0002222", "claimed", issued_at="2027-03-02T10:00:07Z", issue_date=LATER)
    live = ScopeLive(SCOPE, True, USD100, 10, {ANA: (second, first)})
    return detect_drift(desired([ANA]), LiveState({SCOPE: live}), checked_at=NOW, void_statuses=void_statuses())


MOMENT = datetime(2027, 3, 2, 10, 0, tzinfo=UTC)
LATER = datetime(2027, 3, 2, 18, 0, 7, tzinfo=timezone(timedelta(hours=8)))


def test_a_target_paid_twice_is_drift_in_every_format_with_masked_codes_and_dates() -> None:
    drift = paid_twice()
    assert drift.exit_code == 2
    text = render_drift_text(drift)
    line = (
        "= email:ana@example.com holds 2 coupons: ****1111 claimed (issued 2027-03-02T10:00:00Z),"
        " ****2222 claimed (issued 2027-03-02T10:00:07Z)"
    )
    assert line in text
    assert "paid more than once: 1" in text
    assert text.splitlines()[-1].startswith("Drift: 1 target paid more than once.")
    data = json.loads(drift_to_json(drift))
    assert data["summary"]["heldMoreThanOnceCount"] == 1 and data["summary"]["hasDrift"] is True
    assert data["summary"]["warningCount"] == 0  # drift, not again a warning
    (held,) = data["scopes"][0]["heldMoreThanOnce"]
    assert held["target"] == {"kind": "email", "value": "ana@example.com"}
    assert [(c["code"], c["issueDate"]) for c in held["coupons"]] == [
        ("****1111", "2027-03-02T10:00:00Z"),
        ("****2222", "2027-03-02T10:00:07Z"),
    ]
    markdown = render_drift_markdown(drift)
    assert "| 1 | 0 | 0 | 1 | 0 | 0 | 0 | 0 |" in markdown
    assert "**Paid more than once (1)**" in markdown
    line_pattern = r"^= email:a\*\*\*@example\.com \(id [0-9a-f]{4}\) holds 2 coupons: \*{4}1111 claimed"
    assert re.search(line_pattern, markdown, re.M)
    assert "TWICECODE" not in text + drift_to_json(drift) + markdown and "ana@example.com" not in markdown
