"""What apply reads back after issuing (``verify``, docs/safety.md "After apply"): with ``needed`` (the default), only
the scopes whose in-doubt items need a read; the items the vendor answered as issued are reported ISSUED_UNCONFIRMED
and the next apply's read confirms them; with ``full``, every scope issued in. Counted in the sandbox's own call log
and store."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import yaml

from tests.support.cli import run
from tests.support.projects import assert_exactly_once, make_project, set_config

BIG_CLASS = 250  # emails of one class: its read takes several SearchCoupons pages
ISSUING = ("dispatch", "distribute", "send")
READS = ("search", "getpage")


def big_class_project(tmp_path: Path, faults: list[str] | None = None) -> Path:
    """The example project with its winback class declaring BIG_CLASS emails (the class holds 300 coupons)."""
    project = make_project(tmp_path, faults=faults or [], extra={"inDoubtWindow": "2s"})
    path = project / "manifests" / "winback27.yaml"
    manifest = yaml.safe_load(path.read_text())
    manifest["spec"]["dispatch"]["emails"] = [f"lapsed.{n}@example.org" for n in range(BIG_CLASS)]
    path.write_text(yaml.safe_dump(manifest, sort_keys=False))
    return project


def reads_after_first_issue(project: Path) -> dict[str, int]:
    """Per read endpoint, how many calls the sandbox logged after the first issuing call."""
    db = sqlite3.connect(project / ".couponctl" / "sandbox.sqlite")
    try:
        marks = ",".join("?" * len(ISSUING))
        (first,) = db.execute(f"SELECT min(id) FROM calls WHERE endpoint IN ({marks})", ISSUING).fetchone()
        assert first is not None, "nothing was issued: the test proves nothing"
        return {
            endpoint: db.execute(
                "SELECT count(*) FROM calls WHERE endpoint = ? AND id > ?", (endpoint, first)
            ).fetchone()[0]
            for endpoint in READS
        }
    finally:
        db.close()


def unread_issued_items(project: Path) -> tuple[int, int]:
    """From the journal: items ISSUED, and of those the ones no read has shown yet (no read lag recorded)."""
    db = sqlite3.connect(project / ".couponctl" / "journal.sqlite")
    try:
        issued, unread = db.execute(
            "SELECT count(*), sum(CASE WHEN read_lag_s IS NULL THEN 1 ELSE 0 END) FROM items WHERE state = 'ISSUED'"
        ).fetchone()
    finally:
        db.close()
    return int(issued), int(unread or 0)


def apply_with_report(project: Path) -> tuple[int, dict[str, object], str]:
    report = project / "report.json"
    result = run(project, "apply", "--yes", "--report", str(report))
    assert "Traceback" not in result.output
    return result.exit_code, json.loads(report.read_text()), result.stdout


def test_an_apply_with_nothing_in_doubt_reads_nothing_back_and_the_next_apply_confirms(tmp_path: Path) -> None:
    project = big_class_project(tmp_path)
    code, report, stdout = apply_with_report(project)
    assert code == 0, stdout
    items = report["items"]
    assert isinstance(items, list) and len(items) >= BIG_CLASS
    assert reads_after_first_issue(project) == {"search": 0, "getpage": 0}
    assert {item["verdict"] for item in items} == {"ISSUED_UNCONFIRMED"}
    assert report["summary"] == {
        "CONFIRMED": 0,
        "ISSUED_UNCONFIRMED": len(items),
        "ISSUED_NOT_YET_VISIBLE": 0,
        "FAILED": 0,
        "IN_DOUBT": 0,
        "skipped": 0,
    }
    assert "issued unconfirmed" in stdout and "ISSUED_UNCONFIRMED:" not in stdout  # counted, not listed one by one
    assert_exactly_once(project)
    # no read showed them yet: the journal counts them issued, and the plan issues nothing again
    assert unread_issued_items(project) == (len(items), len(items))
    plan = json.loads(run(project, "plan", "--format", "json").stdout)
    assert plan["summary"]["itemCount"] == 0
    # the next apply's read confirms them and records their read lag
    again = run(project, "apply", "--yes")
    assert again.exit_code == 0 and "No changes" in again.stdout
    assert unread_issued_items(project) == (len(items), 0)
    assert_exactly_once(project)


def test_verify_full_reads_every_scope_issued_in_back(tmp_path: Path) -> None:
    project = big_class_project(tmp_path)
    set_config(project, verify="full")
    code, report, stdout = apply_with_report(project)
    assert code == 0, stdout
    items = report["items"]
    assert isinstance(items, list)
    reads = reads_after_first_issue(project)
    assert reads["search"] >= 3 and reads["getpage"] >= 1  # the big class takes pages; every scope is read
    assert {item["verdict"] for item in items} == {"CONFIRMED"}
    assert unread_issued_items(project) == (len(items), 0)  # the re-read recorded the read lag
    assert_exactly_once(project)


def test_an_in_doubt_item_is_resolved_by_reading_its_scope_alone(tmp_path: Path) -> None:
    """Every DispatchCoupons answer is lost: the msads scopes are read to resolve them; the aliyun scope, whose
    answers came back, is not read."""
    project = big_class_project(tmp_path, faults=["dispatch:drop-after-commit=1"])
    code, report, stdout = apply_with_report(project)
    assert code == 0, stdout
    items = report["items"]
    assert isinstance(items, list)
    reads = reads_after_first_issue(project)
    assert reads["search"] > 0 and reads["getpage"] == 0
    dispatched = [i for i in items if i["operation"] == "DispatchCoupons"]
    assert len(dispatched) >= BIG_CLASS
    assert {i["verdict"] for i in dispatched} == {"CONFIRMED"}  # the resolution's read shows each
    distributed = [i for i in items if i["operation"] == "DistributeCoupons"]  # answered, in a scope read after
    assert distributed and {(i["verdict"], i["code"]) for i in distributed} == {("CONFIRMED", None)}
    sent = [i for i in items if i["provider"] == "aliyun-local"]
    assert sent and {i["verdict"] for i in sent} == {"ISSUED_UNCONFIRMED"}
    assert_exactly_once(project)
    again = run(project, "apply", "--yes")
    assert again.exit_code == 0 and "No changes" in again.stdout
    assert_exactly_once(project)


def test_the_canarys_read_confirms_the_canary_batch(tmp_path: Path) -> None:
    project = big_class_project(tmp_path)
    set_config(project, canarySize=2)
    code, report, stdout = apply_with_report(project)
    assert code == 0, stdout
    summary = report["summary"]
    assert isinstance(summary, dict) and summary["CONFIRMED"] == 2
    assert summary["ISSUED_UNCONFIRMED"] == len(report["items"]) - 2  # type: ignore[arg-type]
    assert_exactly_once(project)
