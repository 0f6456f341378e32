"""The apply report: what stays in doubt from earlier runs, and targets paid twice, in its JSON and exit code."""

from __future__ import annotations

import jsonschema

from reconciler.apply.journal import RESOLVED_NOT_ISSUED
from reconciler.apply.report import ApplyReport
from reconciler.apply.resolve import STILL_IN_DOUBT, Resolution
from reconciler.apply.verify import ItemVerdict, Verdict
from reconciler.render.report import report_to_dict
from reconciler.state.desired import Target
from tests.support.diff_factories import SCOPE
from tests.support.schemas import report_schema

A, B, C = (Target.email(f"{n}@example.com") for n in "abc")


def report(*, before: tuple[Resolution, ...] = (), after: tuple[Resolution, ...] = ()) -> ApplyReport:
    item = ItemVerdict(SCOPE, A, "DispatchCoupons", Verdict.CONFIRMED, None, None, "T-1")
    return ApplyReport("run", "sum", "plan", "t0", "t1", (item,), 0, resolved_before=before, resolved_after=after)


def test_an_earlier_item_still_in_doubt_after_issuing_makes_the_apply_in_doubt() -> None:
    still = Resolution(SCOPE, B, STILL_IN_DOUBT, "the read also misses 1 coupon(s) couponctl issued in this scope")
    own = Resolution(SCOPE, A, STILL_IN_DOUBT, "this run's own item: its verdict says so")
    done = report(before=(still,), after=(still, own))
    assert done.exit_code == 5 and done.outcome == "in_doubt"
    data = report_to_dict(done)
    jsonschema.validate(data, report_schema())
    assert data["resolvedBefore"] == []  # only what a read decided
    assert [(s["target"]["value"], s["reason"]) for s in data["stillInDoubt"]] == [("b@example.com", still.reason)]


def test_an_earlier_item_decided_after_issuing_is_no_longer_in_doubt() -> None:
    still = Resolution(SCOPE, B, STILL_IN_DOUBT, "no witness yet")
    decided = Resolution(SCOPE, B, RESOLVED_NOT_ISSUED, "witnessed by this run's coupons")
    done = report(before=(still,), after=(decided,))
    assert done.exit_code == 0 and report_to_dict(done)["stillInDoubt"] == []
    jsonschema.validate(report_to_dict(done), report_schema())
