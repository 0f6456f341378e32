"""``couponctl journal list``, ``show`` and ``resolve`` as a person uses them, and who the journal records as
the actor when the environment names nobody."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from reconciler.apply.context import ci_actor, uid_name
from reconciler.apply.journal import Journal
from reconciler.cli.main import main
from reconciler.plan.model import PlanItem
from reconciler.providers.base import Batch, BatchResult, ItemResult, Outcome
from reconciler.state.desired import Scope, Target

SCOPE = Scope("msads-local", "251186883", "SPRING27-ACQ-100")
#: Every variable ci_actor reads: a container's environment has none of them.
NOBODY = dict.fromkeys(("GITHUB_ACTOR", "GITLAB_USER_LOGIN", "BUILDKITE_BUILD_CREATOR", "USER", "USERNAME", "LOGNAME"))


def couponctl(project: Path, *args: str, env: dict[str, str | None] | None = None) -> Result:
    return CliRunner().invoke(main, ["-C", str(project), "--no-color", *args], env=env)


def journal_of(project: Path) -> Journal:
    return Journal(project / ".couponctl" / "journal.sqlite")


def add_run(journal: Journal, run_id: str, items: int, outcome: str | None) -> None:
    """A run with a chosen id (to test prefixes) and ``items`` items issued."""
    journal.db.execute(
        "INSERT INTO runs (id, plan_checksum, tool_version, actor, started_at) VALUES (?, ?, ?, ?, ?)",
        (
            run_id,
            "c" * 64,
            "0.1",
            "alice" if outcome else "a-much-longer-actor",
            f"2027-01-0{items % 9 + 1}T10:00:00+00:00",
        ),
    )
    if outcome:
        journal.finish_run(run_id, outcome)
    if items:
        targets = tuple(PlanItem(Target.email(f"{run_id[:6]}-{n}@example.com"), "m") for n in range(items))
        batch = Batch(SCOPE, "DispatchCoupons", targets)
        batch_id = journal.record_intent(run_id, batch)
        journal.record_outcome(batch_id, BatchResult(batch, tuple(ItemResult(i, Outcome.ISSUED) for i in targets)))


def columns(header: str) -> list[int]:
    """Where each column of a header line starts."""
    return [m.start() for m in re.finditer(r"\S+(?: \S+)*", header)]


# --- journal list ---


def test_journal_list_has_a_header_and_aligned_columns(project: Path) -> None:
    journal = journal_of(project)
    add_run(journal, "a" * 32, 1, "success")
    add_run(journal, "b" * 32, 12, None)
    journal.close()
    result = couponctl(project, "journal", "list")
    assert result.exit_code == 0, result.stderr
    header, *rows = result.stdout.splitlines()
    assert header.split() == ["RUN", "STARTED", "(UTC)", "OUTCOME", "ITEMS", "ACTOR", "PLAN"]
    assert len(rows) == 2
    starts = columns(header)
    items_end = header.index("ITEMS") + len("ITEMS")
    for row in rows:
        for name, start in zip(("RUN", "STARTED", "OUTCOME", "ITEMS", "ACTOR", "PLAN"), starts, strict=True):
            if name == "ITEMS":
                continue
            assert row[start] != " " and row[start - 2 : start] in ("", "  "), (name, row)
        assert row[items_end - 1].isdigit() and row[items_end] == " "  # counts aligned to the right
    assert rows[0].split()[:2] == ["b" * 32, "2027-01-04"]  # newest first
    assert "unfinished" in rows[0] and "success" in rows[1] and "a-much-longer-actor" in rows[0]


def test_journal_list_of_an_empty_journal_says_so(project: Path) -> None:
    result = couponctl(project, "journal", "list")
    assert result.exit_code == 0 and result.stdout.strip() == "No runs recorded."


# --- journal show ---


@pytest.fixture
def three_runs(project: Path) -> Path:
    journal = journal_of(project)
    add_run(journal, "abc1" + "0" * 28, 2, "success")
    add_run(journal, "abc2" + "0" * 28, 1, "partial")
    add_run(journal, "def3" + "0" * 28, 0, "success")
    journal.close()
    return project


def test_journal_show_takes_a_unique_prefix_of_the_run_id(three_runs: Path) -> None:
    for given in ("abc1", "ABC1", "abc1" + "0" * 28):
        result = couponctl(three_runs, "journal", "show", given)
        assert result.exit_code == 0, result.stderr
        assert result.stdout.splitlines()[1].startswith("abc1" + "0" * 28)
        assert "abc100-0@example.com" in result.stdout and "abc100-1@example.com" in result.stdout
        assert "abc200" not in result.stdout


def test_journal_show_of_an_ambiguous_prefix_lists_the_candidates(three_runs: Path) -> None:
    result = couponctl(three_runs, "journal", "show", "abc")
    assert result.exit_code == 1
    assert "'abc' is the start of 2 run ids" in result.stderr
    assert "abc1" + "0" * 28 in result.stderr and "abc2" + "0" * 28 in result.stderr and "def3" not in result.stderr
    assert "Traceback" not in result.stderr


def test_journal_show_of_an_unknown_prefix_says_none_matches(three_runs: Path) -> None:
    for given in ("f00", "abc%", "_"):
        result = couponctl(three_runs, "journal", "show", given)
        assert result.exit_code == 1
        assert f"no run id starts with {given!r}" in result.stderr


def test_journal_show_of_a_run_without_items_shows_the_run(three_runs: Path) -> None:
    result = couponctl(three_runs, "journal", "show", "def")
    assert result.exit_code == 0 and "def3" + "0" * 28 in result.stdout and "no items" in result.stdout


# --- journal resolve ---


def in_doubt_journal(project: Path) -> None:
    journal = journal_of(project)
    run = journal.start_run("sum", "0.1", None, None)
    targets = tuple(PlanItem(Target.email(f"{n}@example.com"), "m") for n in "ab")
    batch = Batch(SCOPE, "DispatchCoupons", targets)
    outcomes = tuple(ItemResult(i, Outcome.IN_DOUBT) for i in targets)
    journal.record_outcome(journal.record_intent(run, batch), BatchResult(batch, outcomes))
    journal.close()


def test_journal_resolve_takes_the_ids_as_in_doubt_prints_them(project: Path) -> None:
    in_doubt_journal(project)
    listed = couponctl(project, "journal", "in-doubt")
    assert listed.exit_code == 5
    printed = re.findall(r"^\s+(#\d+)\s", listed.stdout, re.M)
    assert len(printed) == 2
    first = couponctl(project, "journal", "resolve", printed[0], "--as", "issued", "--reason", "seen in the console")
    assert first.exit_code == 0, first.stderr
    bare = printed[1].lstrip("#")
    second = couponctl(project, "journal", "resolve", bare, "--as", "not-issued", "--reason", "vendor support")
    assert second.exit_code == 0, second.stderr
    assert couponctl(project, "journal", "in-doubt").exit_code == 0


def test_journal_resolve_refuses_what_is_not_an_item_id(project: Path) -> None:
    in_doubt_journal(project)
    for given in ("#x", "##1", "1.5", "#", "\u0661"):  # the last: an Arabic-Indic digit one, not an ASCII id
        result = couponctl(project, "journal", "resolve", given, "--as", "issued", "--reason", "r")
        assert result.exit_code == 1, given
        assert "is not an item id" in result.stderr and "Traceback" not in result.stderr
    assert couponctl(project, "journal", "in-doubt").exit_code == 5  # nothing was resolved


# --- the actor ---


def test_the_actor_falls_back_from_the_environment_to_the_uid_s_name_and_to_the_uid() -> None:
    assert ci_actor({"GITHUB_ACTOR": "octocat", "USER": "runner"}) == "octocat"
    assert ci_actor({"USER": "alice"}, user_name=lambda: "root") == "alice"
    assert ci_actor({"USER": " "}, user_name=lambda: "builder") == "builder"
    assert ci_actor({}, user_name=lambda: "builder") == "builder"
    assert re.fullmatch(r"uid \d+", ci_actor({}, user_name=lambda: None))


def test_without_user_in_the_environment_apply_and_resolve_record_the_uid_s_name(project: Path) -> None:
    name = uid_name()
    if name is None:
        pytest.skip("this process's uid has no name in the user database")
    applied = couponctl(project, "apply", "--yes", env=NOBODY)
    assert applied.exit_code == 0, applied.stderr
    journal = journal_of(project)
    try:
        assert [run.actor for run in journal.runs()] == [name]
    finally:
        journal.close()
    in_doubt_journal(project)
    listed = couponctl(project, "journal", "in-doubt")
    ids = re.findall(r"^\s+(#\d+)\s", listed.stdout, re.M)
    resolved = couponctl(project, "journal", "resolve", *ids, "--as", "issued", "--reason", "seen", env=NOBODY)
    assert resolved.exit_code == 0, resolved.stderr
    journal = journal_of(project)
    try:
        assert {item.resolved_by for item in journal.items() if item.resolution_reason} == {name}
    finally:
        journal.close()
