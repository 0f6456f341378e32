"""drift and export for an aliyun provider, on coupons seeded into the embedded sandbox (statuses included)."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from reconciler.cli.main import main

SELLER = 3944837183
TEMPLATE = 295873
SEED = f"""
aliyun:
  accessKeys: [{{id: sandbox-ak, secret: sandbox-secret}}]
  sellers:
    - id: {SELLER}
      users: [101, 102, 103, 104, 105]
      templates:
        - id: {TEMPLATE}
          amount: 100
          perLimit: 0
          coupons:
            - {{uid: 101}}
            - {{uid: 102, status: ABANDONED}}
            - {{uid: 103, status: EXPIRED}}
            - {{uid: 103, status: AVAILABLE}}
            - {{uid: 104, status: EXHAUSTED, amount: 20}}
            - {{uid: 105}}
"""
MANIFEST = f"""
apiVersion: couponctl/v1
kind: CouponAssignment
metadata: {{name: reseller}}
spec:
  provider: aliyun-local
  sellerId: {SELLER}
  templateId: {TEMPLATE}
  send:
    - {{uid: 101, amount: 100}}
    - {{uid: 102, amount: 100}}
    - {{uid: 103, amount: 100}}
    - {{uid: 104, amount: 20}}
"""
CONFIG = """
manifests: [manifests/]
sandbox: {{seed: {seed}, database: {database}}}
providers:
  aliyun-local: {{type: aliyun, environment: local}}
"""


def make(directory: Path, seed: Path, database: Path, manifest: str | None) -> Path:
    """A project on the shared sandbox ``database``; its seed is a file of its own (a project reads only its own
    files), for the first project that seeds the database."""
    (directory / "manifests").mkdir(parents=True)
    shutil.copy(seed, directory / "seed.yaml")
    assert os.environ["COUPONCTL_TEST_SHARED_SANDBOX"] == str(database)  # the operator's: outside any project
    shared = '"${env:COUPONCTL_TEST_SHARED_SANDBOX}"'
    (directory / "couponctl.yaml").write_text(CONFIG.format(seed="seed.yaml", database=shared))
    if manifest is not None:
        (directory / "manifests" / "reseller.yaml").write_text(manifest)
    return directory


@pytest.fixture
def sandbox(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    seed = tmp_path / "seed.yaml"
    seed.write_text(SEED)
    monkeypatch.setenv("COUPONCTL_TEST_SHARED_SANDBOX", str(tmp_path / "sandbox.sqlite"))
    return seed, tmp_path / "sandbox.sqlite"


def run(project: Path, *args: str) -> Result:
    result = CliRunner().invoke(main, ["-C", str(project), "--no-color", *args])
    assert "Traceback" not in result.output
    return result


def test_abandoned_and_expired_coupons_are_void_and_undeclared_holders_unmanaged(
    tmp_path: Path, sandbox: tuple[Path, Path]
) -> None:
    project = make(tmp_path / "project", *sandbox, MANIFEST)
    result = run(project, "drift", "--format", "json")
    assert result.exit_code == 2, result.output
    (scope,) = json.loads(result.stdout)["scopes"]
    assert [h["target"]["value"] for h in scope["void"]] == ["102"]  # 103 holds an AVAILABLE one beside
    assert scope["void"][0]["coupons"][0]["status"] == "ABANDONED"
    assert [h["target"]["value"] for h in scope["unmanaged"]] == ["105"]


def test_export_then_plan_shows_no_changes(tmp_path: Path, sandbox: tuple[Path, Path]) -> None:
    adopted = make(tmp_path / "adopted", *sandbox, None)
    exported = run(
        adopted, "export", "--provider", "aliyun-local", "--owner", str(SELLER), "--out", str(adopted / "manifests")
    )
    assert exported.exit_code == 0, exported.output
    text = (adopted / "manifests" / f"template-{TEMPLATE}.yaml").read_text()
    assert "    - {uid: 104, amount: 20}\n" in text and "    - {uid: 105, amount: 100}\n" in text
    plan = run(adopted, "plan", "--detailed-exitcode")
    assert plan.exit_code == 0, plan.output
    drift = run(adopted, "drift")
    assert drift.exit_code == 2 and "void targets: 1" in drift.stdout  # uid 102 holds only an ABANDONED coupon
