"""``couponctl sandbox seed`` and ``reset``: what they do to the store (the project's, by default), the journal kept in
step with it, and errors without tracebacks."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from reconciler.apply.journal import Journal
from reconciler.apply.lock import ApplyLock
from reconciler.cli.main import main
from reconciler.cli.sandbox import DEFAULT_DB, sandbox
from reconciler.sandbox.records import CouponQuery
from reconciler.sandbox.store import Store
from tests.support.projects import EXAMPLE_SEED, copy_examples
from tests.support.sandbox import SEED


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(sandbox, list(args), prog_name="couponctl sandbox")
    return result.exit_code, result.stdout, result.stderr


def coupon_count(database: Path, customer: int) -> int:
    store = Store(database)
    try:
        return sum(len(store.search(CouponQuery(customer, offset=i * 100))) for i in range(10))
    finally:
        store.close()


def test_seed_loads_the_example_and_reseeding_replaces_the_store(tmp_path: Path) -> None:
    database = tmp_path / "state" / "sandbox.sqlite"
    code, out, _ = run("seed", str(EXAMPLE_SEED), "--db", str(database))
    assert code == 0
    assert "2 customers, 13 accounts, 3 coupon classes, 850 coupons" in out
    assert coupon_count(database, 251186883) == 800 and coupon_count(database, 251186999) == 50
    other = tmp_path / "other.yaml"
    other.write_text(SEED)
    assert run("seed", str(other), "--db", str(database))[0] == 0
    assert coupon_count(database, 251186883) == 0 and coupon_count(database, 100) == 157


def test_reset_empties_the_store(tmp_path: Path) -> None:
    database = tmp_path / "sandbox.sqlite"
    run("seed", str(EXAMPLE_SEED), "--db", str(database))
    code, out, _ = run("reset", "--db", str(database))
    assert code == 0 and "emptied" in out
    store = Store(database)
    try:
        assert store.is_empty() and store.calls() == []
    finally:
        store.close()


def test_a_bad_seed_file_is_reported_with_its_lines_and_changes_nothing(tmp_path: Path) -> None:
    database = tmp_path / "sandbox.sqlite"
    run("seed", str(EXAMPLE_SEED), "--db", str(database))
    bad = tmp_path / "bad.yaml"
    bad.write_text("msads:\n  developerToken: X\n  customers:\n    - id: abc\n      colour: blue\n")
    code, _, err = run("seed", str(bad), "--db", str(database))
    assert code == 1
    assert f"error: {bad}:4:11: msads.customers[0].id: expected an integer" in err
    assert f"error: {bad}:5:7: msads.customers[0].colour: unknown field" in err
    assert "Traceback" not in err
    assert coupon_count(database, 251186883) == 800
    missing = run("seed", str(tmp_path / "nope.yaml"), "--db", str(database))
    assert missing[0] == 1 and "cannot read the seed file" in missing[2]


def test_an_unusable_store_is_an_error_not_a_traceback(tmp_path: Path) -> None:
    garbage = tmp_path / "garbage.sqlite"
    garbage.write_bytes(b"this is not a database" * 100)
    code, _, err = run("reset", "--db", str(garbage))
    assert code == 1 and err.startswith("error: cannot open the sandbox store") and "Traceback" not in err


def test_the_default_store_is_under_dot_couponctl() -> None:
    assert Path(".couponctl/sandbox.sqlite") == DEFAULT_DB


# --- the project's sandbox: -C, couponctl.yaml's store and seed, and the journal kept in step ---


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of the example project, with couponctl run from another directory."""
    copy = tmp_path / "project"
    copy_examples(copy)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    return copy


def couponctl(project: Path, *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, ["-C", str(project), "--no-color", *args])
    return result.exit_code, result.stdout, result.stderr


def plan_counts(project: Path) -> tuple[int, int, int]:
    """From a fresh plan: items to issue, satisfied, and counted as issued by the journal but not yet visible."""
    code, out, err = couponctl(project, "-q", "plan", "--format", "json")
    assert code == 0, err
    scopes = json.loads(out)["scopes"]
    return (
        sum(len(s["toIssue"]) for s in scopes),
        sum(s["satisfied"] for s in scopes),
        sum(s["notYetVisible"] for s in scopes),
    )


def test_seed_with_dash_c_resolves_the_file_from_there_and_fills_the_project_s_store(project: Path) -> None:
    code, out, err = couponctl(project, "sandbox", "seed", "sandbox-seed.yaml")
    assert code == 0, err
    database = project / ".couponctl" / "sandbox.sqlite"
    assert str(database) in out
    assert coupon_count(database, 251186883) == 800
    assert not (Path.cwd() / ".couponctl").exists()  # not the directory couponctl was started in


@pytest.mark.slow
def test_seed_without_a_file_uses_the_project_s_seed_and_store_from_couponctl_yaml(project: Path) -> None:
    config = project / "couponctl.yaml"
    config.write_text(config.read_text().replace("sandbox:\n", "sandbox:\n  database: sim/store.sqlite\n"))
    code, out, err = couponctl(project, "sandbox", "seed")
    assert code == 0, err
    assert f"from {project / 'sandbox-seed.yaml'}" in out
    assert coupon_count(project / "sim" / "store.sqlite", 251186883) == 800
    assert not (project / ".couponctl" / "sandbox.sqlite").exists()
    assert plan_counts(project)[0] == 15  # plan reads the very store that was seeded


def test_a_missing_seed_file_names_the_path_tried_and_the_project_root(project: Path) -> None:
    code, _, err = couponctl(project, "sandbox", "seed", "nope.yaml")
    assert code == 1
    assert str(project / "nope.yaml") in err and f"the project root is {project}" in err
    assert "Traceback" not in err
    assert not (project / ".couponctl").exists()


def test_reseeding_or_resetting_a_sandbox_the_journal_counts_is_refused_and_changes_nothing(project: Path) -> None:
    assert couponctl(project, "apply", "--yes")[0] == 0
    assert plan_counts(project) == (0, 15, 0)
    for command in (["sandbox", "seed"], ["sandbox", "reset"]):
        code, _, err = couponctl(project, *command)
        assert code == 3, err
        assert "--reset-journal" in err and "15 item(s) of 1 run(s)" in err and "Nothing was changed" in err
    assert plan_counts(project) == (0, 15, 0)  # the store still holds what the journal counts
    assert coupon_count(project / ".couponctl" / "sandbox.sqlite", 251186883) == 800


def test_reseeding_with_reset_journal_resets_both_so_nothing_claims_a_coupon_that_is_gone(project: Path) -> None:
    assert couponctl(project, "apply", "--yes")[0] == 0
    code, out, err = couponctl(project, "sandbox", "seed", "--reset-journal")
    assert code == 0, err
    assert "reset too: deleted 15 item(s) of 1 run(s)" in out
    assert plan_counts(project) == (15, 0, 0)  # everything to issue again: nothing is counted as issued
    assert couponctl(project, "journal", "list")[1].strip() == "No runs recorded."


def test_reset_with_reset_journal_empties_the_store_and_the_sandbox_s_journal_records(project: Path) -> None:
    assert couponctl(project, "apply", "--yes")[0] == 0
    code, out, err = couponctl(project, "sandbox", "reset", "--reset-journal")
    assert code == 0, err
    assert "emptied" in out and "reset too" in out
    journal = Journal(str(project / ".couponctl" / "journal.sqlite"))
    try:
        assert journal.items() == [] and journal.runs() == []
    finally:
        journal.close()


def test_reseeding_says_when_the_journal_records_nothing_of_the_sandbox(project: Path) -> None:
    assert couponctl(project, "-q", "plan")[0] == 0  # creates the journal, records nothing
    code, out, _ = couponctl(project, "sandbox", "seed")
    assert code == 0 and "records nothing issued through this sandbox; left as it is" in out


def test_reseeding_is_refused_while_an_apply_holds_the_lock(project: Path) -> None:
    assert couponctl(project, "apply", "--yes")[0] == 0
    journal = Journal(str(project / ".couponctl" / "journal.sqlite"))
    try:
        assert ApplyLock(journal.db).try_acquire("a running apply") is None
        code, _, err = couponctl(project, "sandbox", "seed", "--reset-journal")
        assert code == 3 and "holds the lock" in err and "a running apply" in err
        assert len(journal.items()) == 15
    finally:
        journal.close()


def test_a_store_outside_the_project_is_seeded_without_touching_the_journal(project: Path, tmp_path: Path) -> None:
    assert couponctl(project, "apply", "--yes")[0] == 0
    other = tmp_path / "other.sqlite"
    code, out, err = couponctl(project, "sandbox", "seed", "sandbox-seed.yaml", "--db", str(other))
    assert code == 0, err
    assert coupon_count(other, 251186883) == 800 and "journal:" not in out
    assert plan_counts(project) == (0, 15, 0)
    code, _, err = couponctl(project, "sandbox", "reset", "--db", str(other), "--reset-journal")
    assert code == 1 and "not the sandbox store of a project" in err
