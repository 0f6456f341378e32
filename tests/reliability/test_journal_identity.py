"""The journal has an identity. What it alone knows (coupons issued but not visible yet, calls in doubt) must not be
forgotten silently: an emptied journal file is refused, a plan made against another journal or an earlier state
of this one is refused, a finished run survives a copy of the file without its -wal, and an apply in CI against a
real vendor refuses a journal that lives in the runner's checkout. Coupons are counted in the sandbox's store."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner, Result

from reconciler.cli.main import main
from tests.support.cli import run
from tests.support.projects import assert_exactly_once, holders, make_project

LAGGING = ["search:lag-s=600", "getpage:lag-s=600"]  # issued coupons stay invisible to reads for the whole test
ITEMS = 15


def total(project: Path) -> int:
    emails, accounts, uids = holders(project)
    return sum(emails.values()) + sum(accounts.values()) + sum(uids.values())


def journal_file(project: Path) -> Path:
    return project / ".couponctl" / "journal.sqlite"


@pytest.fixture
def applied(tmp_path: Path) -> Path:
    """The example project, fully applied while reads lag: only the journal knows the coupons were issued."""
    project = make_project(tmp_path, faults=LAGGING)
    assert run(project, "plan", "--out", "p1.json").exit_code == 0
    result = run(project, "apply", "p1.json", "--yes")
    assert result.exit_code == 0, result.output
    assert total(project) == ITEMS
    again = json.loads(run(project, "plan", "--format", "json").stdout)
    assert again["summary"]["itemCount"] == 0, "the journal counts the invisible coupons as issued"
    return project


@pytest.mark.slow
def test_an_emptied_journal_is_refused_not_taken_as_new(applied: Path) -> None:
    journal_file(applied).write_bytes(b"")
    for name in ("-wal", "-shm"):
        Path(f"{journal_file(applied)}{name}").unlink(missing_ok=True)
    planned = run(applied, "plan")
    assert planned.exit_code == 3, planned.output
    assert "empty file (0 bytes)" in planned.stderr
    applied_again = run(applied, "apply", "--yes")
    assert applied_again.exit_code == 3 and "empty file" in applied_again.stderr
    assert total(applied) == ITEMS
    assert_exactly_once(applied)


def test_a_plan_made_before_the_journal_was_lost_is_refused(applied: Path) -> None:
    # Declare one more address so that there is something to plan, and review that plan against this journal.
    manifest = applied / "manifests" / "winback27.yaml"
    manifest.write_text(manifest.read_text().replace("emails:\n", "emails:\n      - one.more@example.org\n", 1))
    assert run(applied, "plan", "--out", "p2.json").exit_code == 0
    for path in journal_file(applied).parent.glob("journal.sqlite*"):
        path.unlink()  # the journal is lost (a new runner, a cleaned workspace)
    refused = run(applied, "apply", "p2.json", "--yes")
    assert refused.exit_code == 3, refused.output
    assert "made against another journal" in refused.stderr
    assert total(applied) == ITEMS, "nothing was paid again"


def test_a_journal_restored_from_an_older_copy_is_refused(applied: Path, tmp_path: Path) -> None:
    backup = tmp_path / "backup.sqlite"
    shutil.copy(journal_file(applied), backup)  # the file alone, as a careless copy would take it
    manifest = applied / "manifests" / "winback27.yaml"
    manifest.write_text(manifest.read_text().replace("emails:\n", "emails:\n      - one.more@example.org\n", 1))
    assert run(applied, "plan", "--out", "p2.json").exit_code == 0
    assert run(applied, "apply", "p2.json", "--yes").exit_code == 0  # a second run, only in the live journal
    manifest.write_text(manifest.read_text().replace("emails:\n", "emails:\n      - and.another@example.org\n", 1))
    assert run(applied, "plan", "--out", "p3.json").exit_code == 0
    for path in journal_file(applied).parent.glob("journal.sqlite*"):
        path.unlink()
    shutil.copy(backup, journal_file(applied))
    refused = run(applied, "apply", "p3.json", "--yes")
    assert refused.exit_code == 3, refused.output
    assert "restored from an older copy" in refused.stderr
    assert total(applied) == ITEMS + 1


def test_a_copy_of_the_file_without_its_wal_holds_every_finished_run(applied: Path, tmp_path: Path) -> None:
    copy = tmp_path / "copy.sqlite"
    shutil.copy(journal_file(applied), copy)  # no -wal beside it
    for path in journal_file(applied).parent.glob("journal.sqlite*"):
        path.unlink()
    shutil.copy(copy, journal_file(applied))
    shown = json.loads(run(applied, "plan", "--format", "json").stdout)
    assert shown["summary"]["itemCount"] == 0
    result = run(applied, "apply", "--yes")
    assert result.exit_code == 0 and "Nothing to issue" in result.stdout
    assert_exactly_once(applied)


def test_a_new_journal_is_announced_at_apply(tmp_path: Path) -> None:
    project = make_project(tmp_path, faults=[])
    result = CliRunner().invoke(main, ["-C", str(project), "--no-color", "apply", "--yes"])
    assert result.exit_code == 0
    assert "is new: it holds no record of earlier applies" in result.stderr
    second = CliRunner().invoke(main, ["-C", str(project), "--no-color", "apply", "--yes"])
    assert "is new" not in second.stderr


CREDENTIALS = {"T_DEV": "BBD37VB98", "T_TOKEN": "sandbox-access-token", "T_AK": "sandbox-ak", "T_SK": "sandbox-secret"}


@pytest.fixture
def real_vendor_checkout(serve_project) -> Iterator[Path]:  # type: ignore[no-untyped-def]
    """The example project in a git checkout, its providers reaching a served sandbox as a real vendor would be
    reached (not environment: local), with credentials from the environment."""
    project, _server = serve_project({})
    (project / ".git").mkdir()
    config = yaml.safe_load((project / "couponctl.yaml").read_text())
    msads_url = config["providers"]["msads-local"]["endpoint"]
    msads = {"developerToken": "${env:T_DEV}", "accessToken": "${env:T_TOKEN}"}
    aliyun = {"accessKeyId": "${env:T_AK}", "accessKeySecret": "${env:T_SK}"}
    config["providers"] = {
        "msads-local": {"type": "msads", "environment": "sandbox", "endpoint": msads_url, **msads, "write": msads},
        "aliyun-local": {"type": "aliyun", "endpoint": msads_url, **aliyun, "write": aliyun},
    }
    (project / "couponctl.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    yield project


def ci_run(project: Path, *args: str) -> Result:
    env = {**CREDENTIALS, "CI": "true"}
    return CliRunner().invoke(main, ["-C", str(project), "--no-color", *args], env=env)


@pytest.mark.subprocess
def test_ci_refuses_a_journal_in_the_checkout_against_a_real_vendor(real_vendor_checkout: Path) -> None:
    project = real_vendor_checkout
    refused = ci_run(project, "apply", "--yes")
    assert refused.exit_code == 3, refused.output
    assert "lives inside the checkout" in refused.stderr and "journalInCheckout" in refused.stderr
    assert total(project) == 0
    assert ci_run(project, "plan").exit_code == 0, "planning reads only: it is not refused"


@pytest.mark.slow
@pytest.mark.subprocess
def test_ci_accepts_a_journal_in_the_checkout_when_the_config_says_it_persists(real_vendor_checkout: Path) -> None:
    project = real_vendor_checkout
    config = yaml.safe_load((project / "couponctl.yaml").read_text())
    config["journalInCheckout"] = True
    (project / "couponctl.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    result = ci_run(project, "apply", "--yes")
    assert result.exit_code == 0, result.output
    assert_exactly_once(project)


@pytest.mark.slow
@pytest.mark.subprocess
def test_outside_ci_the_checkout_journal_is_used(real_vendor_checkout: Path) -> None:
    project = real_vendor_checkout
    outside: dict[str, str | None] = {**CREDENTIALS, "CI": None}  # also when the suite itself runs in CI
    result = CliRunner().invoke(main, ["-C", str(project), "--no-color", "apply", "--yes"], env=outside)
    assert result.exit_code == 0, result.output
    assert_exactly_once(project)


def test_a_journal_a_plan_created_is_announced_at_the_first_apply(tmp_path: Path) -> None:
    """The plan reviewed on the pull request created the journal: the first apply still says it holds no apply."""
    project = make_project(tmp_path, faults=[])
    assert CliRunner().invoke(main, ["-C", str(project), "--no-color", "plan"]).exit_code == 0
    result = CliRunner().invoke(main, ["-C", str(project), "--no-color", "apply", "--yes"])
    assert result.exit_code == 0
    assert "is new: it holds no record of earlier applies" in result.stderr
