"""What an apply or a drift check tells: per outcome, an override used, a budget past its threshold, a coupon paid
twice, drift found; each with counts, exposure, run, commit and CI link, emails masked and secrets scrubbed."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from reconciler.app.events import ApplyFinished, ItemsVerified, PlanSummary
from reconciler.apply.report import ApplyReport
from reconciler.apply.verify import ItemVerdict, PaidTwice, Verdict
from reconciler.config import redaction
from reconciler.errors import ExitCode, RefusedError
from reconciler.governance.model import BudgetStatus, Override
from reconciler.notify.model import EventKind, Notice, Origin
from reconciler.notify.notices import apply_notices, drift_notices, past
from reconciler.plan.drift import Drift, DriftItem, DriftKind, ScopeDrift
from reconciler.plan.masking import EMAIL
from reconciler.plan.model import HeldItem
from reconciler.state.desired import Scope, Target, TargetKind
from reconciler.state.live import IssuedCoupon

SCOPE = Scope("msads-local", "1001", "spring")
CAROL = Target(TargetKind.EMAIL, "carol@acme.example")
ORIGIN = Origin("abc123", "https://github.com/acme/coupons/actions/runs/42")
KEY = b"k" * 32


def summary(
    *, items: int = 3, in_doubt: int = 0, overrides: tuple[Override, ...] = (), budgets: tuple[BudgetStatus, ...] = ()
) -> PlanSummary:
    return PlanSummary(
        "p1", "c1", items, in_doubt, exposure=(("USD", Decimal("300")),), overrides=overrides, budgets=budgets
    )


def report(*verdicts: Verdict) -> ApplyReport:
    items = tuple(
        ItemVerdict(
            SCOPE, Target(TargetKind.EMAIL, f"user{n}@acme.example"), "distribute", v, None, "vendor said no", None
        )
        for n, v in enumerate(verdicts)
    )
    return ApplyReport("run1", "c1", "p1", "t0", "t1", items, 0)


def budget(spent: str, adds: str, limit: str = "1000") -> BudgetStatus:
    return BudgetStatus("usd", "USD", Decimal(limit), Decimal(spent), Decimal(0), Decimal(adds), "lifetime")


def notices(
    finished: ApplyFinished, verified: ItemsVerified | None = None, notify_at: dict[str, Decimal] | None = None
) -> list[Notice]:
    return apply_notices(finished, verified, origin=ORIGIN, notify_at=notify_at or {}, mask_key=KEY)


@pytest.mark.parametrize(
    ("verdicts", "code", "event"),
    [
        ((Verdict.CONFIRMED,), ExitCode.OK, EventKind.APPLY_SUCCESS),
        ((Verdict.CONFIRMED, Verdict.FAILED), ExitCode.PARTIAL, EventKind.APPLY_PARTIAL),
        ((Verdict.IN_DOUBT,), ExitCode.IN_DOUBT, EventKind.APPLY_IN_DOUBT),
    ],
)
def test_each_outcome_of_a_run_is_its_event_with_counts_exposure_run_commit_and_ci_link(
    verdicts: tuple[Verdict, ...], code: int, event: EventKind
) -> None:
    done = report(*verdicts)
    assert done.exit_code == code
    (notice,) = notices(ApplyFinished(code, "run1", summary(), done))
    assert notice.event is event and notice.exit_code == code
    assert notice.counts[Verdict.CONFIRMED.value] == verdicts.count(Verdict.CONFIRMED)
    assert notice.counts[Verdict.FAILED.value] == verdicts.count(Verdict.FAILED)
    assert notice.exposure == {"USD": "300"}
    assert (notice.run_id, notice.commit, notice.ci_url) == ("run1", ORIGIN.commit, ORIGIN.ci_url)


def test_a_refusal_and_an_error_are_their_events() -> None:
    (refused,) = notices(
        ApplyFinished(ExitCode.REFUSED, None, summary(), None, RefusedError("the plan exceeds the policy"))
    )
    assert refused.event is EventKind.APPLY_REFUSED and refused.run_id is None
    assert refused.counts == {"planned": 3, "inDoubt": 0} and "the plan exceeds the policy" in refused.details[0]
    (failed,) = notices(ApplyFinished(ExitCode.ERROR, None, None, None, RuntimeError("boom")))
    assert failed.event is EventKind.APPLY_FAILED and failed.exposure == {}


def test_nothing_to_issue_tells_nothing_but_items_still_in_doubt() -> None:
    assert notices(ApplyFinished(ExitCode.OK, None, summary(items=0))) == []
    (doubt,) = notices(ApplyFinished(ExitCode.IN_DOUBT, None, summary(items=0, in_doubt=2)))
    assert doubt.event is EventKind.APPLY_IN_DOUBT


def test_an_override_used_by_a_run_is_told_not_one_refused_before_it_ran() -> None:
    plan = summary(overrides=(Override("maxItems", "launch day, approved by bob@acme.example", "alice"),))
    told = notices(ApplyFinished(ExitCode.OK, "run1", plan, report(Verdict.CONFIRMED)))
    (override,) = [n for n in told if n.event is EventKind.OVERRIDE_USED]
    assert "maxItems" in override.summary and "launch day" in override.details[0]
    assert "bob@acme.example" not in override.details[0] and "b***@acme.example" in override.details[0]
    refused = notices(ApplyFinished(ExitCode.REFUSED, None, plan, None, RefusedError("no")))
    assert EventKind.OVERRIDE_USED not in {n.event for n in refused}


def test_a_budget_is_told_once_spent_in_doubt_and_adds_reach_its_share() -> None:
    assert past(budget("700", "100"), Decimal("0.8"), counting_adds=True)
    assert not past(budget("700", "99"), Decimal("0.8"), counting_adds=True)
    assert not past(budget("700", "100"), Decimal("0.8"), counting_adds=False)  # nothing went out: adds not spent
    plan = summary(budgets=(budget("700", "100"),))
    told = notices(
        ApplyFinished(ExitCode.OK, "run1", plan, report(Verdict.CONFIRMED)), notify_at={"usd": Decimal("0.8")}
    )
    (over,) = [n for n in told if n.event is EventKind.BUDGET_THRESHOLD]
    assert "800 of 1000 USD" in over.summary and over.exposure == {"USD": "800"} and over.run_id == "run1"
    quiet = notices(
        ApplyFinished(ExitCode.OK, "run1", plan, report(Verdict.CONFIRMED)), notify_at={"usd": Decimal("0.9")}
    )
    assert EventKind.BUDGET_THRESHOLD not in {n.event for n in quiet}
    unset = notices(ApplyFinished(ExitCode.OK, "run1", plan, report(Verdict.CONFIRMED)))
    assert EventKind.BUDGET_THRESHOLD not in {n.event for n in unset}


def test_a_coupon_paid_twice_after_a_run_is_told_masked() -> None:
    coupons = (IssuedCoupon("AAAA-1111", "dispatched"), IssuedCoupon("BBBB-2222", "dispatched"))
    verified = ItemsVerified("run1", (), (PaidTwice(SCOPE, HeldItem(CAROL, coupons)),))
    told = notices(ApplyFinished(ExitCode.OK, "run1", summary(), report(Verdict.CONFIRMED)), verified)
    (twice,) = [n for n in told if n.event is EventKind.PAID_TWICE]
    assert (
        "2 coupons" in twice.details[0] and "carol@" not in twice.details[0] and "c***@acme.example" in twice.details[0]
    )


def test_no_email_unmasked_and_no_secret_in_any_notice() -> None:
    secret = "tok-9f8e7d6c5b4a"
    redaction.register(secret)
    failure = RefusedError(f"vendor refused dave@acme.example with token {secret}")
    done = report(Verdict.FAILED, Verdict.IN_DOUBT)
    told = [
        *notices(ApplyFinished(ExitCode.REFUSED, None, summary(), None, failure)),
        *notices(ApplyFinished(done.exit_code, "run1", summary(), done)),
    ]
    texts = [t for n in told for t in (n.title, n.summary, *n.details)]
    assert any("***@acme.example" in t for t in texts)
    assert all("***" in address for t in texts for address in EMAIL.findall(t)), texts
    assert not any(secret in t for t in texts)


def test_drift_found_and_a_coupon_held_twice_are_told() -> None:
    coupons = (IssuedCoupon("AAAA", "dispatched"), IssuedCoupon("BBBB", "dispatched"))
    scope = ScopeDrift(
        SCOPE,
        "msads",
        ("spring.yaml",),
        unmanaged=(DriftItem(DriftKind.UNMANAGED, Target(TargetKind.EMAIL, "eve@acme.example"), coupons[:1]),),
        held_twice=(DriftItem(DriftKind.HELD_TWICE, CAROL, coupons),),
    )
    drift = Drift(datetime(2026, 1, 1, tzinfo=UTC), "1.0", (scope,))
    found, twice = drift_notices(drift, origin=ORIGIN, mask_key=KEY)
    assert found.event is EventKind.DRIFT_FOUND and found.counts[DriftKind.UNMANAGED.value] == 1
    assert found.ci_url == ORIGIN.ci_url and found.commit == ORIGIN.commit and found.exit_code == ExitCode.CHANGES
    assert twice.event is EventKind.PAID_TWICE and "carol@" not in twice.details[0]
    assert (
        drift_notices(Drift(drift.checked_at, "1.0", (ScopeDrift(SCOPE, "msads", ()),)), origin=ORIGIN, mask_key=KEY)
        == []
    )


def test_a_secret_that_holds_an_address_is_scrubbed_whole_not_masked_in_part() -> None:
    """An SMTP-style credential ``user@host:password``: masking the address first left the secret unrecognised,
    and its password shown."""
    secret = "relay@mail.acme.example:hunter2-hunter2"
    redaction.register(secret)
    failure = RefusedError(f"cannot log in as {secret}")
    (told,) = notices(ApplyFinished(ExitCode.REFUSED, None, summary(), None, failure))
    assert all("hunter2" not in t for t in (told.title, told.summary, *told.details))


def test_an_overlong_detail_is_cut_after_its_addresses_are_masked() -> None:
    """A vendor's error page as a message would make a card Teams refuses (and lose the notice): each line is cut,
    after masking, so an address cut in two is never shown unmasked."""
    failure = RefusedError("x" * 480 + " refused erin@acme.example " + "<html>" * 20_000)
    (told,) = notices(ApplyFinished(ExitCode.REFUSED, None, summary(), None, failure))
    assert all(len(line) <= 500 for line in told.details)
    assert "erin@" not in told.details[0] and "erin" not in told.details[0]
