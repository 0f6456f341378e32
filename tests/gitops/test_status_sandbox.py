"""`couponctl status` against the embedded sandbox after an apply and some redemptions: every number is counted again
here, straight from the sandbox store, and compared with what the command prints."""

from __future__ import annotations

import csv
import io
import json
import shutil
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from reconciler.cli.main import main
from reconciler.config import redaction
from reconciler.sandbox.bootstrap import open_store
from reconciler.sandbox.records import CouponQuery, CouponRecord
from reconciler.sandbox.store import Store

PROJECT = Path(__file__).resolve().parent / "project"
OWNER = 251186883
DECLARED: dict[str, tuple[set[str], set[int]]] = {  # manifest: (emails, accounts), as tests/gitops/project declares
    "spring27": ({"owner@example.com", "marketing@example.com"}, {180535609, 180535610, 180535611}),
    "winback27": ({"lapsed.one@example.org", "lapsed.two@example.org", "lapsed.three@example.org"}, set()),
}
LABELS = {"spring27": {"team": "growth", "season": "spring"}, "winback27": {"team": "growth"}}
REDEEMED_BY = {  # holder -> the account that redeems its coupon
    "180535609": 180535609,  # a distributed coupon, redeemed by the account that claimed it
    "owner@example.com": 180535612,  # an emailed coupon redeemed by an undeclared account
    "lapsed.one@example.org": 180535613,
}


def run(project: Path, *args: str) -> Result:
    result = CliRunner().invoke(main, ["-C", str(project), "--no-color", *args])
    assert "Traceback" not in result.output, result.output
    return result


@pytest.fixture
def project(tmp_path: Path) -> Path:
    target = tmp_path / "project"
    shutil.copytree(PROJECT, target, ignore=shutil.ignore_patterns(".couponctl"))
    for name, labels in LABELS.items():
        path = target / "manifests" / f"{name.removesuffix('27')}.yaml"
        flow = ", ".join(f"{k}: {v}" for k, v in labels.items())
        text = path.read_text().replace(
            f"metadata: {{name: {name}}}", f"metadata: {{name: {name}, labels: {{{flow}}}}}"
        )
        path.write_text(text)
    assert run(target, "apply", "-y").exit_code == 0
    with store_of(target) as store:
        for record in coupons(store):
            holder = record.send_to_email or (str(record.claim.account_id) if record.claim else None)
            if holder in REDEEMED_BY:
                now = store.now()
                assert store.redeem(
                    record.id,
                    REDEEMED_BY[holder],
                    expiration=now + 90 * 86400,
                    activation=None,
                    balance=record.amount,
                    visible_at=now,
                )
    return target


class store_of:
    def __init__(self, project: Path) -> None:
        self.store = open_store(project / ".couponctl" / "sandbox.sqlite", project / "sandbox-seed.yaml")

    def __enter__(self) -> Store:
        return self.store

    def __exit__(self, *_: object) -> None:
        self.store.close()


def coupons(store: Store) -> list[CouponRecord]:
    return store.search(CouponQuery(customer_id=OWNER, limit=10_000))


def expected(project: Path) -> dict[str, dict[str, object]]:
    """The numbers per manifest, counted from the store's coupons and the declared targets listed above."""
    with store_of(project) as store:
        records = coupons(store)
    by_manifest: dict[str, dict[str, object]] = {}
    for manifest, (emails, accounts) in DECLARED.items():
        held: dict[str, list[CouponRecord]] = {}
        for record in records:
            if record.send_to_email in emails:
                held.setdefault(record.send_to_email, []).append(record)
            if record.claim is not None and record.claim.account_id in accounts:
                held.setdefault(str(record.claim.account_id), []).append(record)
        redeemed = [r for rs in held.values() for r in rs if r.redemption is not None]
        issued_value: dict[str, Decimal] = {}
        spend: dict[str, Decimal] = {}
        for r in (r for rs in held.values() for r in rs):
            assert r.currency is not None
            issued_value[r.currency] = issued_value.get(r.currency, Decimal(0)) + Decimal(str(r.amount))
            if r.redemption is not None:
                spend[r.currency] = spend.get(r.currency, Decimal(0)) + Decimal(str(r.amount))
        by_manifest[manifest] = {
            "declared": len(emails) + len(accounts),
            "issued": len(held),
            "claimed": sum(1 for rs in held.values() if any(r.claim or r.redemption for r in rs)),
            "redeemed": sum(1 for rs in held.values() if any(r.redemption for r in rs)),
            "expired": 0,
            "void": 0,
            "issuedValue": issued_value,
            "spend": spend,
            "redeemedByDay": _days(r.redemption.date for r in redeemed if r.redemption is not None),
        }
    return by_manifest


def _days(stamps: Iterator[float]) -> dict[str, int]:
    days: dict[str, int] = {}
    for stamp in stamps:
        day = datetime.fromtimestamp(stamp, UTC).date().isoformat()
        days[day] = days.get(day, 0) + 1
    return days


def numbers(group: dict[str, object]) -> dict[str, object]:
    """A group of the JSON report, its amounts as decimals."""
    shown = {k: group[k] for k in KEYS}
    for key in ("issuedValue", "spend"):
        values = shown[key]
        assert isinstance(values, dict)
        shown[key] = {c: Decimal(a) for c, a in values.items()}
    return shown


KEYS = ("declared", "issued", "claimed", "redeemed", "expired", "void", "issuedValue", "spend", "redeemedByDay")


def test_status_counts_match_the_sandbox_store_per_manifest_and_per_label(project: Path) -> None:
    result = run(project, "status", "--format", "json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    want = expected(project)
    got = {m["name"]: numbers(m) for m in report["manifests"]}
    assert got == want
    assert want["spring27"]["redeemed"] == 2 and want["winback27"]["redeemed"] == 1  # the seeding worked
    growth = next(label for label in report["labels"] if label["name"] == "team=growth")
    assert growth["manifests"] == ["spring27", "winback27"]
    for key in ("declared", "issued", "claimed", "redeemed"):
        assert growth[key] == report["total"][key] == sum(int(str(want[m][key])) for m in want)
    spring = next(label for label in report["labels"] if label["name"] == "season=spring")
    assert numbers(spring) == want["spring27"]


def test_every_format_prints_the_same_numbers_and_no_email(project: Path) -> None:
    want = expected(project)
    outputs = {fmt: run(project, "status", "--format", fmt) for fmt in ("text", "json", "markdown", "csv")}
    for fmt, result in outputs.items():
        assert result.exit_code == 0, (fmt, result.output)
        assert "@" not in result.stdout, fmt
    rows = {row["name"]: row for row in csv.DictReader(io.StringIO(outputs["csv"].stdout))}
    assert set(rows) == {"spring27", "winback27", "team=growth", "season=spring"}
    for manifest, numbers in want.items():
        row = rows[manifest]
        assert row["group"] == "manifest"
        assert [int(row[k]) for k in KEYS[:6]] == [numbers[k] for k in KEYS[:6]]
        spend = numbers["spend"]
        assert isinstance(spend, dict)
        assert Decimal(row["spend_USD"] or 0) == spend.get("USD", 0)
    text_line = next(line for line in outputs["text"].stdout.splitlines() if line.startswith("spring27 "))
    assert text_line.split()[1:7] == [str(want["spring27"][k]) for k in KEYS[:6]]
    assert "| spring27 |" in outputs["markdown"].stdout


def test_status_is_read_only(project: Path) -> None:
    with store_of(project) as store:
        before = (coupons(store), len(store.calls()))
    journal = project / ".couponctl"
    stamp = {p: p.stat().st_mtime_ns for p in journal.rglob("*journal*")}
    time.sleep(0.01)
    assert run(project, "status").exit_code == 0
    with store_of(project) as store:
        after = coupons(store)
        calls = store.calls()[before[1] :]
    assert after == before[0]
    assert calls and all("Search" in call.path for call in calls)
    assert {p: p.stat().st_mtime_ns for p in journal.rglob("*journal*")} == stamp


def test_html_writes_the_page_with_the_same_numbers_and_no_email(project: Path) -> None:
    want = expected(project)
    result = run(project, "status", "--html", "status.html")
    assert result.exit_code == 0, result.output
    html = (project / "status.html").read_text(encoding="utf-8")
    assert "example.com" not in html and "example.org" not in html
    for manifest, numbers in want.items():
        assert f'data-campaign="{manifest}"' in html
        for stage in ("declared", "issued", "claimed", "redeemed"):
            assert f'data-stage="{stage}" data-count="{numbers[stage]}"' in html
    redeemed = sum(int(str(numbers["redeemed"])) for numbers in want.values())
    assert f'data-series="redeemed" data-total="{redeemed}"' in html


def test_an_unwritable_html_file_is_a_clear_error(project: Path) -> None:
    result = run(project, "status", "--html", "missing/dir/status.html")
    assert result.exit_code == 1
    assert "cannot write" in result.output and "status.html" in result.output


def test_the_html_page_is_scrubbed_of_registered_secrets_like_every_file_couponctl_writes(project: Path) -> None:
    token = "tok-7f3a9c2e5b1d"
    redaction.register(token)  # as a value resolved from ${env:...} is
    path = project / "manifests" / "spring.yaml"
    path.write_text(path.read_text().replace("season: spring", f"season: spring, note: {token}"))
    result = run(project, "status", "--html", "status.html")
    assert result.exit_code == 0, result.output
    html = (project / "status.html").read_text(encoding="utf-8")
    assert token not in html and "note=***" in html
