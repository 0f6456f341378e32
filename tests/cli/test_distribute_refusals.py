"""DistributeCoupons refused as a whole (distributecoupons.md: ``OperationErrors``, "the reasons that explain why the
service operation failed when the error is not related to a specific item"), end to end: couponctl apply against
the example project's sandbox, the sandbox's own store counted afterwards."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from tests.support.cli import run
from tests.support.projects import copy_examples, holders


def test_distributecoupons_md_operation_errors_fail_the_accounts_clearly_and_issue_nothing(tmp_path: Path) -> None:
    """The sandbox's SPRING27-ACQ-100 becomes a feature adoption class of feature 42, while the manifest
    distributes it with featureId 12: DistributeCoupons answers OperationErrors (201), couponctl reports each
    account failed with the vendor's reason and exits 4 (partial), and no account holds a coupon."""
    project = copy_examples(tmp_path / "project")
    seed = project / "sandbox-seed.yaml"
    text = seed.read_text()
    assert "coupons: 500," in text
    seed.write_text(text.replace("coupons: 500,", "coupons: 500, featureId: 42,", 1))

    result = run(project, "apply", "--yes")

    assert result.exit_code == 4, result.output
    assert "201" in result.output and "feature 42" in result.output
    assert " 0 in doubt" in result.output  # a definite refusal, never in doubt
    db = sqlite3.connect(project / ".couponctl" / "sandbox.sqlite")
    try:
        (sent,) = db.execute("SELECT count(*) FROM calls WHERE endpoint = 'distribute'").fetchone()
    finally:
        db.close()
    assert sent == 1  # the refused call is not sent again by this apply
    emails, accounts, _ = holders(project)
    assert sum(accounts.values()) == 0  # nothing distributed
    assert sum(emails.values()) > 0  # the dispatches of the same apply went out: the refusal is per call
