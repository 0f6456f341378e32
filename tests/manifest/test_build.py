"""load_desired on valid projects: scopes, targets, positions, settings gathered across manifests."""

from __future__ import annotations

import shutil
from dataclasses import replace
from decimal import Decimal
from pathlib import Path

import pytest

from reconciler.config.load import load_config
from reconciler.config.model import Config
from reconciler.errors import ManifestError
from reconciler.manifest.build import load_desired
from reconciler.state.desired import DesiredState, Expect, Scope, ScopeSpec, Target

PROJECT = Path(__file__).parent / "valid" / "project"
SPRING = Scope("msads-local", "251186883", "SPRING27-ACQ-100")
RESELLER = Scope("reseller", "3944837183", "295873")
WINBACK = Scope("msads-local", "251186883", "WINBACK27-RET-50")
SUMMER = Scope("msads-local", "251186883", "SUMMER27")


@pytest.fixture(scope="module")
def config() -> Config:
    return load_config(PROJECT)


@pytest.fixture(scope="module")
def desired(config: Config) -> DesiredState:
    return load_desired(config)


def positions(desired: DesiredState, scope: Scope) -> dict[str, str]:
    return {str(target): str(item.position) for target, item in desired.items[scope].items()}


def test_scope_specs_gather_settings_across_manifests(desired: DesiredState) -> None:
    assert desired.scopes == {
        SPRING: ScopeSpec(SPRING, "msads", ("spring-accounts", "spring-emails"), 12, True, Expect(Decimal(100), "USD")),
        RESELLER: ScopeSpec(RESELLER, "aliyun", ("reseller-q1",), None, False, Expect(None, "CNY")),
        WINBACK: ScopeSpec(WINBACK, "msads", ("winback",), None, False, None),
        SUMMER: ScopeSpec(SUMMER, "msads", ("nothing-yet",), 7, False, None),
    }


def test_owner_ids_are_digit_strings_without_leading_zeros(desired: DesiredState) -> None:
    # "0251186883" and 251186883 name one scope; templateId "295873" is the class
    assert {s.owner for s in desired.scopes} == {"251186883", "3944837183"}


def test_msads_targets_with_positions(desired: DesiredState) -> None:
    assert positions(desired, SPRING) == {
        "account:180535609": "manifests/growth/spring.yaml:14:16",
        "account:2147483647": "manifests/growth/spring.yaml:14:27",
        "email:owner@example.com": "manifests/growth/spring.yaml:27:14",
        "email:ana@example.com": "lists/spring.txt:3:1",
        "email:bo@example.com": "lists/spring.txt:4:3",
    }
    items = desired.items[SPRING]
    assert items[Target.account(180535609)].manifest == "spring-accounts"
    assert items[Target.email("bo@example.com")].manifest == "spring-emails"
    assert all(item.amount is None for item in items.values())


def test_csv_emails_use_the_email_column_and_record_start_lines(desired: DesiredState) -> None:
    assert positions(desired, WINBACK) == {
        "email:lapsed.one@example.org": "lists/winback.csv:2:1",
        "email:lapsed.two@example.org": "lists/winback.csv:3:1",
        "email:lapsed.three@example.org": "lists/winback.csv:7:1",
    }


def test_aliyun_uids_carry_decimal_amounts(desired: DesiredState) -> None:
    items = desired.items[RESELLER]
    assert {str(t): (i.amount, str(i.position)) for t, i in items.items()} == {
        "uid:1918000000883": (Decimal(100), "manifests/reseller.yml:10:13"),
        "uid:1918000000884": (Decimal("0.10"), "manifests/reseller.yml:11:12"),
    }


def test_a_manifest_with_nothing_to_issue_still_declares_its_scope(desired: DesiredState) -> None:
    assert desired.items[SUMMER] == {}
    assert desired.target_count() == 10


def test_hidden_directories_and_other_suffixes_are_not_read(desired: DesiredState) -> None:
    # manifests/.drafts/broken.yaml is not YAML and manifests/notes.txt is not a manifest: neither is read
    assert all(m != "broken" for spec in desired.scopes.values() for m in spec.manifests)


@pytest.mark.parametrize(
    ("paths", "scopes"),
    [
        ([Path("manifests/reseller.yml")], {RESELLER}),
        ([Path("manifests/growth")], {SPRING}),
        ([Path("manifests/*.y*ml")], {RESELLER, WINBACK, SUMMER}),
        ([Path("manifests/**/spring.yaml"), Path("manifests/growth/")], {SPRING}),  # overlap: read once
        ([PROJECT.resolve() / "manifests" / "winback.yaml"], {WINBACK, SUMMER}),
    ],
)
def test_explicit_paths_are_relative_to_the_root(config: Config, paths: list[Path], scopes: set[Scope]) -> None:
    assert set(load_desired(config, paths).scopes) == scopes


def test_paths_default_to_config_manifests(config: Config) -> None:
    assert load_desired(config, None) == load_desired(config, list(map(Path, config.manifests)))
    assert set(load_desired(replace(config, manifests=("manifests/reseller.yml",))).scopes) == {RESELLER}


def test_works_offline_without_credentials(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("MSADS_DEVELOPER_TOKEN", "MSADS_ACCESS_TOKEN", "ALIBABA_CLOUD_ACCESS_KEY_ID"):
        monkeypatch.delenv(name, raising=False)
    project = tmp_path / "p"
    shutil.copytree(PROJECT, project)
    config_text = (project / "couponctl.yaml").read_text()
    production = config_text.replace(
        "msads-local: {type: msads, environment: local}",
        "msads-local: {type: msads, environment: production, developerToken: '${env:MSADS_DEVELOPER_TOKEN}',"
        " accessToken: '${env:MSADS_ACCESS_TOKEN}'}",
    )
    (project / "couponctl.yaml").write_text(production)
    assert load_desired(load_config(project)).target_count() == 10


def test_manifests_outside_the_root_are_refused_unread(tmp_path: Path, config: Config) -> None:
    outside = tmp_path / "elsewhere.yaml"
    outside.write_text(
        "apiVersion: couponctl/v1\nkind: CouponAssignment\nmetadata: {name: x}\n"
        "spec: {provider: msads-local, customerId: 1, couponClass: C, distribute: {accounts: [5]}}\n"
    )
    assert not outside.resolve().is_relative_to(config.root.resolve())
    with pytest.raises(ManifestError) as raised:
        load_desired(config, [outside])
    (problem,) = raised.value.problems
    assert "leads outside the project root" in problem.message and "CouponAssignment" not in str(problem)


def test_examples_project_loads() -> None:
    examples = Path(__file__).resolve().parents[2] / "examples"
    desired = load_desired(load_config(examples))
    assert desired.target_count() > 0


def test_golden_case_projects_load() -> None:
    cases = Path(__file__).resolve().parents[1] / "cases"
    for case in sorted(p for p in cases.iterdir() if (p / "couponctl.yaml").exists()):
        load_desired(load_config(case))


def test_problems_raise_manifest_error_which_is_an_input_error(config: Config) -> None:
    with pytest.raises(ManifestError) as raised:
        load_desired(config, [Path("manifests/missing.yaml")])
    assert [str(p) for p in raised.value.problems] == ["manifests/missing.yaml: no such file or directory"]
