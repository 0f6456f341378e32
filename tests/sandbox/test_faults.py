"""Fault specs and their effects: latency, throttling, 500 before commit, dropped answers, read lag."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest

from reconciler.config.load import load_config
from reconciler.errors import ConfigError, InputError
from reconciler.sandbox.faults import FaultKind, FaultPlan, FaultSpec, parse_fault_spec, parse_fault_specs
from tests.support.sandbox import TOKEN, Clock, Sandbox, codes, pred

EMAILS = [f"user{i}@example.com" for i in range(3)]


def dispatched(sandbox: Sandbox) -> int:
    return sum(1 for c in sandbox.coupons("100", pred("CouponClassName", "RET-20")) if c["SendToEmail"])


def true_dispatched(sandbox: Sandbox) -> int:
    """What is committed, whatever Search may see yet."""
    codes_ = [str(c["CouponCode"]) for c in sandbox.coupons("100", pred("CouponClassName", "RET-20"))]
    records = [sandbox.store.coupon_by_code(code) for code in codes_]
    return sum(1 for r in records if r is not None and r.send_to_email)


def test_specs_parse() -> None:
    assert parse_fault_spec("search:latency-ms=20") == FaultSpec("search", FaultKind.LATENCY_MS, 20)
    assert parse_fault_spec(" *:throttle-rpm=600 ") == FaultSpec("*", FaultKind.THROTTLE_RPM, 600)
    assert parse_fault_spec("dispatch:drop-after-commit=0.3").value == 0.3
    assert parse_fault_spec("token:error-500=1").kind is FaultKind.ERROR_500
    assert str(parse_fault_spec("distribute:lag-s=5")) == "distribute:lag-s=5"


def test_a_throttle_takes_its_window_in_seconds_sixty_by_default() -> None:
    assert parse_fault_spec("send:throttle-rpm=2").window_s == 60
    assert parse_fault_spec("send:throttle-rpm=2/5") == FaultSpec("send", FaultKind.THROTTLE_RPM, 2, 5)
    assert parse_fault_spec("dispatch:throttle-rpm= 3 / 0.5 ").window_s == 0.5
    assert str(parse_fault_spec("send:throttle-rpm=2/5")) == "send:throttle-rpm=2/5"
    assert str(parse_fault_spec("send:throttle-rpm=2/60")) == "send:throttle-rpm=2"


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("search", "expected ENDPOINT:KIND=VALUE"),
        ("search:latency-ms", "expected ENDPOINT:KIND=VALUE"),
        ("claim:latency-ms=1", "unknown endpoint 'claim'"),
        ("search:slow=1", "unknown kind 'slow'"),
        ("search:latency-ms=fast", "needs a number"),
        ("search:error-500=1.5", "a share of calls, from 0 to 1"),
        ("search:drop-after-commit=-0.1", "a share of calls, from 0 to 1"),
        ("search:throttle-rpm=0", "at least 1"),
        ("search:throttle-rpm=2.5", "whole number"),
        ("search:lag-s=-1", "cannot be negative"),
        ("search:lag-s=nan", "finite"),
        ("search:throttle-rpm=2/", "the throttle window needs a number of seconds, got ''"),
        ("search:throttle-rpm=2/soon", "the throttle window needs a number of seconds, got 'soon'"),
        ("search:throttle-rpm=2/0", "a finite number of seconds above 0"),
        ("search:throttle-rpm=2/-5", "a finite number of seconds above 0"),
        ("search:throttle-rpm=2/inf", "a finite number of seconds above 0"),
        ("search:throttle-rpm=/5", "needs a number"),
        ("search:throttle-rpm=0/5", "at least 1"),
        ("search:throttle-rpm=2.5/5", "whole number"),
        ("search:lag-s=1/5", "needs a number, got '1/5'"),
    ],
)
def test_bad_specs_are_refused_with_a_clear_message(spec: str, message: str) -> None:
    with pytest.raises(InputError) as caught:
        parse_fault_spec(spec)
    assert message in str(caught.value) and spec.strip() in str(caught.value)


def test_every_bad_spec_is_reported_at_once_and_duplicates_are_refused() -> None:
    with pytest.raises(InputError) as caught:
        parse_fault_specs(["search:slow=1", "dispatch:lag-s=1", "dispatch:lag-s=2", "x:y=z"])
    assert len(caught.value.problems) == 3
    assert "given twice" in str(caught.value)


def test_latency_is_added_to_each_call_of_the_endpoint() -> None:
    sandbox = Sandbox(FaultPlan.parse(["dispatch:latency-ms=80"]))
    started = time.perf_counter()
    sandbox.dispatch(["a@example.com"])
    assert time.perf_counter() - started >= 0.08
    started = time.perf_counter()
    sandbox.search()
    assert time.perf_counter() - started < 0.08


def test_throttle_refuses_calls_above_the_rate_with_429_and_code_117() -> None:
    clock = Clock(0.0)
    sandbox = Sandbox(FaultPlan(parse_fault_specs(["dispatch:throttle-rpm=3"]), clock=clock))
    statuses = [sandbox.dispatch([f"u{i}@example.com"], "RET-20").status_code for i in range(5)]
    assert statuses == [200, 200, 200, 429, 429]
    refused = sandbox.dispatch(["late@example.com"], "RET-20")
    assert refused.json()["Type"] == "AdApiFaultDetail" and codes(refused) == [117]
    assert refused.json()["Errors"][0]["ErrorCode"] == "CallRateExceeded"
    assert "Retry-After" not in refused.headers  # as the service: callers wait out its documented minute
    assert dispatched(sandbox) == 3  # nothing committed for the refused calls
    assert sandbox.search().status_code == 200  # other endpoints are not counted
    clock.now = 59.9
    assert sandbox.dispatch(["again@example.com"], "RET-20").status_code == 429
    clock.now = 60.0
    assert sandbox.dispatch(["again@example.com"], "RET-20").status_code == 200


def test_a_throttle_window_given_in_the_spec_replaces_the_minute() -> None:
    clock = Clock(0.0)
    plan = FaultPlan(parse_fault_specs(["dispatch:throttle-rpm=2/5"]), clock=clock)
    sandbox = Sandbox(plan)
    statuses = [sandbox.dispatch([f"u{i}@example.com"], "RET-20").status_code for i in range(3)]
    assert statuses == [200, 200, 429]
    assert plan.retry_after_s("dispatch") == 5.0
    clock.now = 3.2  # a window no client can know is announced: whole seconds until it admits a call
    assert sandbox.dispatch(["early@example.com"], "RET-20").headers["Retry-After"] == "2"
    clock.now = 4.9
    assert sandbox.dispatch(["again@example.com"], "RET-20").status_code == 429
    assert round(plan.retry_after_s("dispatch"), 6) == 0.1
    clock.now = 5.0
    assert sandbox.dispatch(["again@example.com"], "RET-20").status_code == 200
    assert dispatched(sandbox) == 3


def test_error_500_fails_before_anything_is_committed() -> None:
    sandbox = Sandbox(FaultPlan.parse(["dispatch:error-500=1"]))
    response = sandbox.dispatch(EMAILS, "RET-20")
    assert response.status_code == 500
    assert response.json()["Type"] == "AdApiFaultDetail" and codes(response) == [0]
    assert response.json()["TrackingId"] == response.headers["TrackingId"]
    assert true_dispatched(sandbox) == 0
    assert sandbox.store.calls()[0].outcome == "error-500"


def test_drop_after_commit_commits_then_the_client_gets_a_transport_error() -> None:
    sandbox = Sandbox(FaultPlan.parse(["dispatch:drop-after-commit=1"]))
    with pytest.raises(httpx.RemoteProtocolError):
        sandbox.dispatch(EMAILS, "RET-20")
    assert dispatched(sandbox) == 3  # the issue was committed: a blind retry would issue again
    with pytest.raises(httpx.TransportError):
        sandbox.dispatch(EMAILS, "RET-20")
    assert dispatched(sandbox) == 6
    assert [c.outcome for c in sandbox.store.calls() if c.endpoint == "dispatch"] == ["dropped", "dropped"]


def test_random_faults_are_deterministic_under_the_fault_seed() -> None:
    def pattern(seed: int) -> list[int]:
        sandbox = Sandbox(FaultPlan.parse(["*:error-500=0.5"], seed=seed))
        return [sandbox.search().status_code for _ in range(24)]

    first = pattern(7)
    assert first == pattern(7)
    assert set(first) == {200, 500}
    assert any(pattern(seed) != first for seed in (8, 9, 10))

    def drops(seed: int) -> list[bool]:
        plan = FaultPlan.parse(["distribute:drop-after-commit=0.3"], seed=seed)
        return [plan.drop_after_commit("distribute") for _ in range(50)]

    assert drops(1) == drops(1) and 5 <= sum(drops(1)) <= 25


def test_star_applies_to_every_endpoint_and_a_named_endpoint_wins() -> None:
    sandbox = Sandbox(FaultPlan.parse(["*:error-500=1", "search:error-500=0"]))
    assert sandbox.search().status_code == 200
    assert sandbox.dispatch(["a@example.com"]).status_code == 500
    assert sandbox.distribute([1001]).status_code == 500
    assert sandbox.redeem(1001, "ANY").status_code == 500
    token = sandbox.post(TOKEN, data={"grant_type": "refresh_token"}, headers={})
    assert token.status_code == 500 and token.json()["error"] == "server_error"


def test_lag_hides_what_was_issued_from_search_until_it_passes() -> None:
    sandbox = Sandbox(FaultPlan.parse(["*:lag-s=5"]))
    sandbox.dispatch(["a@example.com"], "RET-20")
    sandbox.distribute([1001], "RET-20")
    first_code = str(sandbox.coupons("100", pred("CouponClassName", "ACQ-10"))[0]["CouponCode"])
    sandbox.redeem(1002, first_code)
    claim_info = {"ReturnAdditionalFields": "CouponClaimInfo"}
    assert dispatched(sandbox) == 0 and true_dispatched(sandbox) == 1
    assert not any("ClaimInfo" in c for c in sandbox.coupons("100", **claim_info))
    assert sandbox.coupons("100", pred("IsRedeemed", "true")) == []
    sandbox.clock.advance(4.9)
    assert dispatched(sandbox) == 0
    sandbox.clock.advance(0.1)
    assert dispatched(sandbox) == 1
    assert sum(1 for c in sandbox.coupons("100", **claim_info) if "ClaimInfo" in c) == 1
    assert [c["CouponCode"] for c in sandbox.coupons("100", pred("IsRedeemed", "true"))] == [first_code]


def test_lag_on_one_endpoint_only_delays_what_it_changes() -> None:
    sandbox = Sandbox(FaultPlan.parse(["dispatch:lag-s=30"]))
    sandbox.dispatch(["a@example.com"], "RET-20")
    sandbox.distribute([1001], "RET-20")
    assert dispatched(sandbox) == 0
    assert any("ClaimInfo" in c for c in sandbox.coupons("100", ReturnAdditionalFields="CouponClaimInfo"))


def _codes(sandbox: Sandbox, coupon_class: str = "RET-20") -> list[str]:
    return [str(c["CouponCode"]) for c in sandbox.coupons("100", pred("CouponClassName", coupon_class))]


def test_hide_share_is_a_share_of_coupons_on_the_read_endpoints_only() -> None:
    assert parse_fault_spec("search:hide-share=0.1") == FaultSpec("search", FaultKind.HIDE_SHARE, 0.1)
    assert parse_fault_spec("*:hide-share=1").endpoint == "*"
    for spec, message in (
        ("search:hide-share=1.5", "hide-share is a share of coupons, from 0 to 1"),
        ("dispatch:hide-share=0.1", "hide-share applies to the reads: search, getpage or *, not 'dispatch'"),
    ):
        with pytest.raises(InputError) as caught:
            parse_fault_spec(spec)
        assert message in str(caught.value)


def test_hide_share_hides_the_same_coupons_from_every_search_for_good() -> None:
    everything = _codes(Sandbox())
    sandbox = Sandbox(FaultPlan.parse(["search:hide-share=0.2"], seed=5))
    shown = _codes(sandbox)
    assert set(shown) < set(everything) and 10 <= len(everything) - len(shown) <= 50  # about a fifth of 150
    assert shown == [c for c in everything if c in set(shown)]  # minting order kept
    assert _codes(sandbox) == shown  # the same ones, every time
    # pages are cut after hiding: full pages of 40, no coupon skipped or shown twice
    paged = [c["CouponCode"] for i in range(5) for c in sandbox.search("100", size=40, index=i).json()["Coupons"]]
    assert len(sandbox.search("100", size=40, index=0).json()["Coupons"]) == 40
    assert sorted(paged) == sorted(c for c in _codes(sandbox, "ACQ-10") + shown + _codes(sandbox, "FUTURE-5"))
    # the same fault seed hides the same coupons in another sandbox; another seed others
    assert _codes(Sandbox(FaultPlan.parse(["search:hide-share=0.2"], seed=5))) == shown
    assert _codes(Sandbox(FaultPlan.parse(["search:hide-share=0.2"], seed=6))) != shown
    assert _codes(Sandbox(FaultPlan.parse(["search:hide-share=0"], seed=5))) == everything


def test_a_hidden_coupon_is_still_issued_and_never_shows_to_its_holder() -> None:
    sandbox = Sandbox(FaultPlan.parse(["search:hide-share=0.3"], seed=1))
    everything = _codes(Sandbox())
    hidden = set(everything) - set(_codes(sandbox))
    emails = [f"user{i}@example.com" for i in range(40)]
    assert sandbox.dispatch(emails, "RET-20").status_code == 200
    records = [sandbox.store.coupon_by_code(code) for code in everything]
    sent = {r.code: r.send_to_email for r in records if r is not None and r.send_to_email}
    assert sorted(sent.values()) == sorted(emails)  # every email got a coupon, hidden ones too
    assert set(sent) & hidden, "no issued coupon was hidden: the test proves nothing"
    shown = {str(c["SendToEmail"]) for c in sandbox.coupons("100", pred("CouponClassName", "RET-20"))}
    assert shown - {"None"} == {email for code, email in sent.items() if code not in hidden}


def test_a_bad_throttle_window_in_couponctl_yaml_is_located_at_its_entry(tmp_path: Path) -> None:
    (tmp_path / "couponctl.yaml").write_text(
        "providers:\n  m: {type: msads, environment: local}\n"
        'sandbox:\n  faults: ["send:throttle-rpm=2/5", "send:throttle-rpm=2/0"]\n'
    )
    with pytest.raises(ConfigError) as raised:
        load_config(tmp_path)
    assert [str(p) for p in raised.value.problems] == [
        "couponctl.yaml:4:37: sandbox.faults[1]: the throttle window is a finite number of seconds above 0"
    ]
