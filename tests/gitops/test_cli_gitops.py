"""`couponctl drift` and `couponctl export` end to end against the embedded sandbox (tests/gitops/project)."""

from __future__ import annotations

import asyncio
import json
import shutil
from collections.abc import Sequence
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner, Result

from reconciler.cli.main import main
from reconciler.sandbox.bootstrap import open_store
from reconciler.sandbox.embedded import embedded_transport

PROJECT = Path(__file__).resolve().parent / "project"
OWNER = "251186883"
HEADERS = {"Authorization": "Bearer sandbox-access-token", "DeveloperToken": "BBD37VB98"}


@pytest.fixture
def project(tmp_path: Path) -> Path:
    target = tmp_path / "project"
    shutil.copytree(PROJECT, target, ignore=shutil.ignore_patterns(".couponctl"))
    return target


def run(project: Path, *args: str) -> Result:
    result = CliRunner().invoke(main, ["-C", str(project), "--no-color", *args])
    assert "Traceback" not in result.output
    return result


def database(project: Path) -> Path:
    return project / ".couponctl" / "sandbox.sqlite"


def issue_by_hand(project: Path, *, emails: Sequence[str] = (), accounts: dict[str, list[int]] | None = None) -> None:
    """Issue coupons straight through the sandbox API, as someone outside couponctl would."""

    async def go() -> None:
        transport = embedded_transport(database(project), project / "sandbox-seed.yaml")
        async with httpx.AsyncClient(transport=transport, base_url="http://sandbox.local") as client:
            if emails:
                body: dict[str, object] = {
                    "SendToEmails": list(emails),
                    "CustomerId": OWNER,
                    "CouponClassName": "SPRING27-ACQ-100",
                }
                reply = await client.post("/CustomerBilling/v13/Coupons/Dispatch", json=body, headers=HEADERS)
                assert reply.json() == {"PartialErrors": []}
            for class_name, ids in (accounts or {}).items():
                body = {"AccountIds": ids, "ClassName": class_name, "FeatureId": None, "SendNotification": False}
                owner = {**HEADERS, "CustomerId": OWNER}  # distributecoupons.md: the class is found through it
                reply = await client.post("/CustomerBilling/v13/Coupons/Distribute", json=body, headers=owner)
                assert reply.json()["OperationErrors"] == []

    asyncio.run(go())


def sandbox_calls(project: Path) -> list[str]:
    store = open_store(database(project), None)
    try:
        return [call.endpoint for call in store.calls()]
    finally:
        store.close()


# --- drift -----------------------------------------------------------------------------------------------


def test_no_drift_exits_0_even_with_targets_still_to_issue(project: Path) -> None:
    result = run(project, "drift")
    assert result.exit_code == 0, result.output
    assert "No drift." in result.stdout and "not issued yet" in result.stdout


def test_coupons_issued_by_hand_are_drift_exit_2_in_every_format(project: Path) -> None:
    assert run(project, "apply", "--yes").exit_code == 0
    issue_by_hand(project, emails=["stray@example.net"], accounts={"WINBACK27-RET-50": [180535615]})

    text = run(project, "drift")
    assert text.exit_code == 2, text.output
    assert "~ email:stray@example.net holds 1 coupon: ****" in text.stdout
    assert "~ account:180535615 holds 1 coupon: ****" in text.stdout

    data = json.loads(run(project, "drift", "--format", "json").stdout)
    assert data["summary"]["unmanagedCount"] == 2 and data["summary"]["hasDrift"] is True
    codes = [c["code"] for s in data["scopes"] for h in s["unmanaged"] for c in h["coupons"]]
    assert codes and all(code.startswith("****") and len(code) == 8 for code in codes)

    markdown = run(project, "drift", "--format", "markdown")
    assert markdown.exit_code == 2
    assert "stray@example.net" not in markdown.stdout and "s***@example.net" in markdown.stdout


def test_a_target_dropped_from_the_manifests_after_apply_is_not_drift(project: Path) -> None:
    assert run(project, "apply", "--yes").exit_code == 0
    manifest = project / "manifests" / "winback.yaml"
    manifest.write_text(manifest.read_text().replace(", lapsed.three@example.org", ""))
    result = run(project, "drift", "--format", "json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["summary"]["removedCount"] == 1


def test_drift_only_reads_and_never_creates_or_writes_the_journal(project: Path) -> None:
    journal = project / ".couponctl" / "journal.sqlite"
    assert run(project, "drift").exit_code == 0
    assert not journal.exists()
    assert set(sandbox_calls(project)) == {"search"}

    assert run(project, "apply", "--yes").exit_code == 0
    before = {p.name: p.read_bytes() for p in journal.parent.glob("journal.sqlite*")}
    calls = len(sandbox_calls(project))
    assert run(project, "drift").exit_code == 0
    assert {p.name: p.read_bytes() for p in journal.parent.glob("journal.sqlite*")} == before
    assert set(sandbox_calls(project)[calls:]) == {"search"}


def test_a_class_the_vendor_does_not_know_exits_1(project: Path) -> None:
    manifest = project / "manifests" / "winback.yaml"
    manifest.write_text(manifest.read_text().replace("WINBACK27-RET-50", "NO-SUCH-CLASS"))
    result = run(project, "drift")
    assert result.exit_code == 1
    assert "class-not-found" in result.stdout


def test_drift_on_a_missing_project_exits_1_without_traceback(tmp_path: Path) -> None:
    result = run(tmp_path / "nowhere", "drift")
    assert result.exit_code == 1 and "error" in result.stderr


# --- export ----------------------------------------------------------------------------------------------


def fresh_project(tmp_path: Path, project: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A new project with no manifests yet, on the same sandbox database as ``project``: a store outside a project
    comes from the environment (the operator's choice, never the repository's)."""
    fresh = tmp_path / "adopted"
    fresh.mkdir()
    monkeypatch.setenv("COUPONCTL_TEST_SHARED_SANDBOX", str(database(project)))
    (fresh / "couponctl.yaml").write_text(
        'manifests: [manifests/]\nsandbox: {database: "${env:COUPONCTL_TEST_SHARED_SANDBOX}"}\n'
        "providers:\n  msads-local: {type: msads, environment: local}\n"
    )
    return fresh


def test_export_then_plan_shows_no_changes(project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # coupons issued by a throwaway project and by hand: the program a team wants to adopt
    assert run(project, "apply", "--yes").exit_code == 0
    issue_by_hand(project, emails=["stray@example.net"], accounts={"SPRING27-ACQ-100": [180535616, 180535617]})
    adopted = fresh_project(tmp_path, project, monkeypatch)

    exported = run(
        adopted, "export", "--provider", "msads-local", "--owner", OWNER, "--out", str(adopted / "manifests")
    )
    assert exported.exit_code == 0, exported.output
    assert sorted(p.name for p in (adopted / "manifests").iterdir()) == [
        "spring27-acq-100.yaml",
        "winback27-ret-50.yaml",
    ]
    assert "exported 2 class(es), 11 target(s) from msads-local owner 251186883" in exported.stderr

    assert run(adopted, "validate").exit_code == 0
    plan = run(adopted, "plan", "--detailed-exitcode")
    assert plan.exit_code == 0, plan.output
    assert "No changes." in plan.stdout
    assert run(adopted, "drift").exit_code == 0
    assert set(sandbox_calls(project)) <= {"search", "dispatch", "distribute"}


def test_export_of_named_classes_to_stdout(project: Path) -> None:
    issue_by_hand(project, emails=["stray@example.net"])
    result = run(project, "export", "--provider", "msads-local", "--owner", "0251186883", "--class", "SPRING27-ACQ-100")
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("# Exported by `couponctl export`")
    assert '  couponClass: "SPRING27-ACQ-100"\n' in result.stdout and '      - "stray@example.net"\n' in result.stdout
    assert "WINBACK27" not in result.stdout
    assert set(sandbox_calls(project)) == {"dispatch", "search"}


def test_export_refuses_what_it_cannot_do(project: Path) -> None:
    unknown_class = run(project, "export", "--provider", "msads-local", "--owner", OWNER, "--class", "NOPE")
    assert unknown_class.exit_code == 1 and "no coupon of 'NOPE'" in unknown_class.stderr
    unknown_provider = run(project, "export", "--provider", "nope", "--owner", OWNER)
    assert unknown_provider.exit_code == 1 and "unknown provider 'nope'" in unknown_provider.stderr
    bad_owner = run(project, "export", "--provider", "msads-local", "--owner", "12x")
    assert bad_owner.exit_code == 1 and "--owner must be digits" in bad_owner.stderr


def test_export_never_overwrites(project: Path) -> None:
    issue_by_hand(project, emails=["stray@example.net"])
    out = project / "exported"
    args = ("export", "--provider", "msads-local", "--owner", OWNER, "--out", str(out))
    assert run(project, *args).exit_code == 0
    again = run(project, *args)
    assert again.exit_code == 1 and "refusing to overwrite" in again.stderr
