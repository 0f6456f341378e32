"""A third vendor, registered from outside couponctl, through the whole loop: validate, plan, apply, drift and
export run on a project whose couponctl.yaml declares ``type: toy`` (tests/support/toy_vendor.py), with no change to
couponctl's own modules."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from reconciler.cli.main import main
from reconciler.config.load import load_config
from reconciler.errors import ConfigError
from reconciler.manifest.dialect import Declared, Spec
from reconciler.providers import registry
from reconciler.providers.descriptor import VendorDescriptor
from reconciler.providers.registry import build_provider, register, unregister
from reconciler.state.desired import TargetKind
from tests.support import toy_vendor as toy

SHOP = "4711"
CAMPAIGN = "spring-gifts"
CONFIG = """\
manifests: [manifests/]
providers:
  toy-shop:
    type: toy
    environment: local
"""
MANIFEST = f"""\
apiVersion: couponctl/v1
kind: CouponAssignment
metadata:
  name: spring-gifts
spec:
  provider: toy-shop
  shop: "{SHOP}"
  campaign: {CAMPAIGN}
  giftTo:
    - ada@example.com
    - bob@example.com
    - cy@example.com
    - dee@example.com
    - eve@example.com
"""
DECLARED = 5
ALREADY_HELD = "bob@example.com"


@pytest.fixture
def store() -> Iterator[toy.ToyStore]:
    """The toy vendor, registered through the public API for the test, with one campaign of one shop whose one
    declared target already holds a gift card."""
    store = toy.ToyStore()
    store.open(SHOP, CAMPAIGN)
    store.gift(SHOP, CAMPAIGN, ALREADY_HELD)
    register(toy.descriptor(store))
    try:
        yield store
    finally:
        unregister(toy.TYPE)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    (root / "manifests").mkdir(parents=True)
    (root / "couponctl.yaml").write_text(CONFIG, encoding="utf-8")
    (root / "manifests" / "gifts.yaml").write_text(MANIFEST, encoding="utf-8")
    return root


def run(project: Path, *args: str) -> Result:
    return CliRunner().invoke(main, ["-C", str(project), "--no-color", *args])


def test_validate_reads_the_toy_dialect_and_reports_its_problems_located(store: toy.ToyStore, project: Path) -> None:
    assert run(project, "validate").exit_code == 0
    bad = MANIFEST.replace("  campaign: spring-gifts\n", "  campaign: spring-gifts\n  couponClass: X\n")
    bad = bad.replace("    - eve@example.com\n", "    - not-an-address\n")
    (project / "manifests" / "gifts.yaml").write_text(bad, encoding="utf-8")
    result = run(project, "validate")
    assert result.exit_code == 1
    assert (
        "manifests/gifts.yaml:9:3: spec.couponClass: unknown field (expected one of: campaign, expect, giftTo, "
        "provider, shop)" in result.output
    )
    assert "manifests/gifts.yaml:15:7: spec.giftTo[4]: invalid email address 'not-an-address'" in result.output


def test_plan_apply_plan_issues_exactly_the_missing_coupons(store: toy.ToyStore, project: Path) -> None:
    planned = run(project, "plan", "--format", "json", "--out", str(project / "plan.json"))
    assert planned.exit_code == 0, planned.output
    plan = json.loads((project / "plan.json").read_text(encoding="utf-8"))
    assert plan["summary"]["itemCount"] == DECLARED - 1
    (scope,) = plan["scopes"]
    assert scope["providerType"] == toy.TYPE

    applied = run(project, "apply", str(project / "plan.json"), "--yes")
    assert applied.exit_code == 0, applied.output
    assert (
        f"0 confirmed, {DECLARED - 1} issued unconfirmed, 0 issued not yet visible, 0 failed, 0 in doubt"
        in applied.stdout
    )
    assert store.issued_count() == DECLARED
    issued = sorted(email for _, _, emails in store.calls for email in emails)
    assert issued == sorted({"ada@example.com", "cy@example.com", "dee@example.com", "eve@example.com"})
    assert [len(emails) for _, _, emails in store.calls] == [toy.BATCH_SIZE, toy.BATCH_SIZE]

    again = run(project, "plan", "--detailed-exitcode", "--format", "json")
    assert again.exit_code == 0, again.output
    assert json.loads(again.stdout)["summary"]["itemCount"] == 0
    assert len(store.calls) == 2  # planning again issued nothing


def test_drift_reports_a_coupon_the_toy_shop_voided(store: toy.ToyStore, project: Path) -> None:
    assert run(project, "drift").exit_code == 0
    store.void(SHOP, CAMPAIGN, ALREADY_HELD)
    result = run(project, "drift", "--format", "json")
    assert result.exit_code == 2, result.output
    (scope,) = json.loads(result.stdout)["scopes"]
    assert [item["target"] for item in scope["void"]] == [{"kind": "email", "value": ALREADY_HELD}]
    assert [c["status"] for item in scope["void"] for c in item["coupons"]] == ["revoked"]
    assert scope["providerType"] == toy.TYPE


def test_export_writes_manifests_that_plan_clean(store: toy.ToyStore, project: Path) -> None:
    for email in ("zed@example.com", "amy@example.com"):
        store.gift(SHOP, CAMPAIGN, email)
    out = project / "exported"
    result = run(project, "export", "--provider", "toy-shop", "--owner", SHOP, "--out", str(out))
    assert result.exit_code == 0, result.output
    (written,) = sorted(out.iterdir())
    assert written.name == "gifts-spring-gifts.yaml"
    text = written.read_text(encoding="utf-8")
    assert f"# shop {SHOP}, campaign {CAMPAIGN}: 3 coupon(s) issued, 3 target(s) declared below." in text
    assert f'  shop: "{SHOP}"\n  campaign: "{CAMPAIGN}"\n' in text
    assert '  giftTo:\n    - "amy@example.com"\n    - "bob@example.com"\n    - "zed@example.com"\n' in text

    (project / "manifests" / "gifts.yaml").unlink()
    written.rename(project / "manifests" / written.name)
    calls = len(store.calls)
    again = run(project, "plan", "--detailed-exitcode", "--format", "json")
    assert again.exit_code == 0, again.output
    assert json.loads(again.stdout)["summary"]["itemCount"] == 0
    assert len(store.calls) == calls


def test_the_toy_type_is_checked_by_its_own_rules(store: toy.ToyStore, tmp_path: Path) -> None:
    (tmp_path / "couponctl.yaml").write_text(
        "providers:\n  toy-shop:\n    type: toy\n    environment: production\n    signature: v3\n", encoding="utf-8"
    )
    with pytest.raises(ConfigError) as caught:
        load_config(tmp_path)
    messages = sorted(str(p) for p in caught.value.problems)
    assert messages == [
        "couponctl.yaml:3:5: providers.toy-shop.apiKey: is required for environment production",
        "couponctl.yaml:5:5: providers.toy-shop.signature: unknown field (expected one of: apiKey, endpoint, "
        "environment, type, write)",
    ]


def test_an_unknown_type_names_the_registered_ones(store: toy.ToyStore, tmp_path: Path) -> None:
    (tmp_path / "couponctl.yaml").write_text("providers:\n  x:\n    type: paypal\n    environment: local\n")
    with pytest.raises(ConfigError) as caught:
        load_config(tmp_path)
    assert [str(p) for p in caught.value.problems] == [
        "couponctl.yaml:3:11: providers.x.type: must be one of: msads, aliyun, toy"
    ]
    (tmp_path / "couponctl.yaml").write_text("providers:\n  x:\n    type: toy\n    environment: local\n")
    config = load_config(tmp_path)
    paypal = replace(config.providers["x"], type="paypal")
    message = r"providers\.x\.type: unknown provider type 'paypal' \(expected one of: msads, aliyun, toy\)"
    with pytest.raises(ConfigError, match=message):
        build_provider(paypal, config.sandbox, {})


def test_unregistering_leaves_the_built_in_vendors(store: toy.ToyStore) -> None:
    assert [v.type for v in registry.vendors()] == ["msads", "aliyun", "toy"]
    with pytest.raises(ValueError, match="already registered"):
        register(toy.descriptor(store))
    with pytest.raises(ValueError, match="built in"):
        unregister("msads")


def _declaring_accounts(store: toy.ToyStore, kinds: tuple[TargetKind, ...]) -> VendorDescriptor:
    """The toy vendor, its dialect reading ``acct:ID`` in giftTo as an account id, allowed ``kinds``."""
    base = toy.descriptor(store)

    def targets(spec: Spec) -> Iterator[Declared]:
        for declared in toy.targets(spec):
            if declared.value.startswith("acct:"):
                yield replace(declared, kind=TargetKind.ACCOUNT, value=declared.value.removeprefix("acct:"))
            else:
                yield declared

    return replace(base, manifest=replace(base.manifest, targets=targets, target_kinds=kinds))


@pytest.mark.parametrize(
    ("kinds", "problems"),
    [
        (
            (TargetKind.EMAIL, TargetKind.ACCOUNT),
            [
                "manifests/gifts.yaml:12:7: spec.giftTo[2]: account:7 is declared twice in scope "
                "toy-shop/4711/spring-gifts: first at manifests/gifts.yaml:11:7 (manifest spring-gifts)",
                "manifests/gifts.yaml:13:7: spec.giftTo[3]: account ids are whole numbers",
            ],
        ),
        (
            (TargetKind.EMAIL,),
            [
                f"manifests/gifts.yaml:{10 + i}:7: spec.giftTo[{i}]: a toy manifest declares no account targets"
                for i in (1, 2, 3)
            ],
        ),
    ],
)
def test_a_dialects_ids_are_checked_and_spelled_one_way_whatever_it_returns(
    store: toy.ToyStore, project: Path, kinds: tuple[TargetKind, ...], problems: list[str]
) -> None:
    """007 and 7 are one account: two spellings would be two targets, and the second one issued again."""
    unregister(toy.TYPE)
    register(_declaring_accounts(store, kinds))
    gifts = MANIFEST.replace("    - bob@example.com\n", '    - "acct:007"\n').replace(
        "    - cy@example.com\n", '    - "acct:7"\n'
    )
    gifts = gifts.replace("    - dee@example.com\n", '    - "acct:x1"\n')
    (project / "manifests" / "gifts.yaml").write_text(gifts, encoding="utf-8")
    result = run(project, "validate")
    assert result.exit_code == 1
    found = [line for line in result.output.splitlines() if "spec.giftTo" in line]
    assert found == problems
