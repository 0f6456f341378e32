"""What `expect` means for an aliyun template (issue 11, point 5), end to end against the embedded sandbox.

ResellerTrade has no call that reads a template and each uid is sent its own amount, so couponctl never guesses
a face value for aliyun: `expect.amount` is checked by `validate` against every declared amount of the scope, and
a correct, applied project never blocks its later plans. An expect mismatch in one scope is that scope's error,
never the other scopes'.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

from click.testing import CliRunner, Result

from reconciler.cli.main import main
from reconciler.plan.diff import diff
from reconciler.plan.drift import detect_drift
from reconciler.providers.registry import void_statuses
from reconciler.state.desired import DesiredItem, DesiredState, Expect, Position, Scope, ScopeSpec, Target
from reconciler.state.live import FaceValue, IssuedCoupon, LiveState, ScopeLive

SELLER = 3944837183
TEMPLATE = 295873
SEED = f"""
msads:
  developerToken: BBD37VB98
  accessTokens: [sandbox-access-token]
  customers:
    - id: "251186883"
      accounts: [180535609, 180535610]
      classes:
        - {{name: SPRING27-ACQ-100, type: Acquisition, amount: 100, currency: USD, coupons: 10}}
aliyun:
  accessKeys: [{{id: sandbox-ak, secret: sandbox-secret}}]
  sellers:
    - id: {SELLER}
      users: [101, 102, 103]
      templates:
        - {{id: {TEMPLATE}, amount: 200, perLimit: 1, maxRelease: 100, validDays: 90}}
"""
CONFIG = """
manifests: [manifests/]
sandbox: {seed: seed.yaml}
providers:
  msads-local: {type: msads, environment: local}
  aliyun-local: {type: aliyun, environment: local}
"""
RESELLER = f"""apiVersion: couponctl/v1
kind: CouponAssignment
metadata: {{name: reseller}}
spec:
  provider: aliyun-local
  sellerId: {SELLER}
  templateId: {TEMPLATE}
EXPECT  send:
    - {{uid: 101, amount: 150}}
    - {{uid: 102, amount: 200}}
"""
SPRING = """apiVersion: couponctl/v1
kind: CouponAssignment
metadata: {name: spring}
spec:
  provider: msads-local
  customerId: "251186883"
  couponClass: SPRING27-ACQ-100
EXPECT  distribute:
    accounts: [180535609]
"""


def make(tmp_path: Path, *, reseller_expect: str = "", spring_expect: str | None = None) -> Path:
    project = tmp_path / "project"
    (project / "manifests").mkdir(parents=True)
    (project / "couponctl.yaml").write_text(CONFIG)
    (project / "seed.yaml").write_text(SEED)
    (project / "manifests" / "reseller.yaml").write_text(RESELLER.replace("EXPECT", reseller_expect))
    if spring_expect is not None:
        (project / "manifests" / "spring.yaml").write_text(SPRING.replace("EXPECT", spring_expect))
    return project


def run(project: Path, *args: str) -> Result:
    result = CliRunner().invoke(main, ["-C", str(project), "--no-color", *args])
    assert "Traceback" not in result.output
    return result


def test_the_reported_sequence_is_now_refused_at_validate_with_the_offending_amount_located(tmp_path: Path) -> None:
    project = make(tmp_path, reseller_expect="  expect: {amount: 200, currency: CNY}\n")
    validated = run(project, "validate")
    assert validated.exit_code == 1
    assert (
        "manifests/reseller.yaml:10:26: spec.send[0].amount: amount 150 differs from expect.amount 200 at "
        "manifests/reseller.yaml:8:20: for aliyun, expect.amount is the amount every uid of the template is sent"
    ) in validated.output
    assert "spec.send[1]" not in validated.output  # 200 is the expected amount
    planned = run(project, "plan", "--out", str(tmp_path / "p.json"))
    assert planned.exit_code == 1 and not (tmp_path / "p.json").exists()


def test_a_valid_project_with_mixed_amounts_never_blocks_its_later_plans(tmp_path: Path) -> None:
    project = make(tmp_path, reseller_expect="  expect: {currency: CNY}\n")
    assert run(project, "validate").exit_code == 0
    saved = tmp_path / "p.json"
    planned = run(project, "plan", "--out", str(saved), "--detailed-exitcode")
    assert planned.exit_code == 2, planned.output
    applied = run(project, "apply", str(saved), "--yes")
    assert applied.exit_code == 0, applied.output
    assert "2 issued unconfirmed" in applied.stdout

    again = run(project, "plan", "--detailed-exitcode", "--format", "json")
    assert again.exit_code == 0, again.output
    (scope,) = json.loads(again.stdout)["scopes"]
    assert scope["problems"] == [] and scope["satisfied"] == 2 and scope["faceValue"] is None
    drift = run(project, "drift")
    assert drift.exit_code == 0, drift.output
    assert run(project, "apply", "--yes").exit_code == 0  # nothing to do, and no error


def test_an_expect_mismatch_is_the_error_of_its_own_scope_only(tmp_path: Path) -> None:
    project = make(tmp_path, spring_expect="  expect: {amount: 50, currency: USD}\n")
    planned = run(project, "plan", "--format", "json")
    assert planned.exit_code == 1
    scopes = {s["providerType"]: s for s in json.loads(planned.stdout)["scopes"]}
    assert errors_of(scopes["msads"]["problems"]) == ["expect-mismatch"]  # besides the class's advisory (a warning)
    assert scopes["aliyun"]["problems"] == [] and len(scopes["aliyun"]["toIssue"]) == 2

    drift = run(project, "drift", "--format", "json")
    assert drift.exit_code == 1
    errors = {s["providerType"]: s["problems"] for s in json.loads(drift.stdout)["scopes"]}
    assert errors_of(errors["msads"]) == ["expect-mismatch"] and errors["aliyun"] == []


def errors_of(problems: list[dict[str, str]]) -> list[str]:
    return [p["code"] for p in problems if p["severity"] == "error"]


# --- the pure rules -----------------------------------------------------------------------------------------

NOW = datetime(2027, 1, 1, tzinfo=UTC)
ALIYUN = Scope("aliyun-local", str(SELLER), str(TEMPLATE))
MSADS = Scope("msads-local", "251186883", "SPRING27-ACQ-100")
U1, U2 = Target.uid(101), Target.uid(102)


def aliyun_state(expect: Expect) -> DesiredState:
    spec = ScopeSpec(ALIYUN, "aliyun", ("reseller",), expect=expect)
    items = {
        U1: DesiredItem(U1, "reseller", Position("r.yaml", 9, 7), Decimal(150)),
        U2: DesiredItem(U2, "reseller", Position("r.yaml", 10, 7), Decimal(200)),
    }
    return DesiredState({ALIYUN: spec}, {ALIYUN: items})


def aliyun_live(currency: str = "CNY") -> ScopeLive:
    issued = {
        U1: (IssuedCoupon("1", "AVAILABLE", Decimal(150), currency),),
        U2: (IssuedCoupon("2", "AVAILABLE", Decimal(200), currency),),
    }
    return ScopeLive(ALIYUN, True, None, None, issued, currency=currency)


def test_expect_amount_is_never_compared_with_the_amounts_an_aliyun_template_was_sent() -> None:
    plan = diff(aliyun_state(Expect(Decimal(200), None)), LiveState({ALIYUN: aliyun_live()}), created_at=NOW)
    assert plan.scopes[0].problems == () and not plan.has_errors


def test_expect_currency_is_compared_with_the_currency_the_coupons_report() -> None:
    state = aliyun_state(Expect(None, "USD"))
    (scope,) = diff(state, LiveState({ALIYUN: aliyun_live("CNY")}), created_at=NOW).scopes
    assert [(p.code, p.message) for p in scope.errors] == [
        ("expect-mismatch", "manifests expect currency USD, coupons of this template are in CNY")
    ]
    assert not diff(state, LiveState({ALIYUN: aliyun_live("USD")}), created_at=NOW).has_errors
    nothing_yet = ScopeLive(ALIYUN, True, None, None, {}, currency="CNY")  # no coupon: nothing to compare
    assert not diff(state, LiveState({ALIYUN: nothing_yet}), created_at=NOW).has_errors


def test_a_mismatch_in_one_scope_leaves_the_other_scopes_without_errors() -> None:
    aliyun = aliyun_state(Expect(Decimal(200), "CNY"))
    spring = ScopeSpec(MSADS, "msads", ("spring",), expect=Expect(Decimal(50), "USD"))
    account = Target.account(180535609)
    state = DesiredState(
        {**aliyun.scopes, MSADS: spring},
        {**aliyun.items, MSADS: {account: DesiredItem(account, "spring", Position("s.yaml", 9, 16))}},
    )
    msads_live = ScopeLive(MSADS, True, FaceValue(Decimal(100), "USD"), 10, {})
    live = LiveState({ALIYUN: aliyun_live(), MSADS: msads_live})
    plan = diff(state, live, created_at=NOW)
    errors = {s.scope: [p.code for p in s.errors] for s in plan.scopes}
    assert errors == {ALIYUN: [], MSADS: ["expect-mismatch"]}
    drift = detect_drift(state, live, checked_at=NOW, void_statuses=void_statuses())
    assert {s.scope: [p.code for p in s.errors] for s in drift.scopes} == errors
