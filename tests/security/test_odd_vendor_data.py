"""Odd vendor data is stored and shown as data and never breaks couponctl: a currency that is no ISO code, a lone
surrogate (which no file or terminal can hold), an amount that is not a finite number."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from reconciler.errors import MalformedResponse
from reconciler.providers.aliyun import wire as aliyun_wire
from reconciler.providers.http import vendor_json
from reconciler.providers.msads import wire as msads_wire
from tests.support.projects import copy_examples


def couponctl(project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "reconciler", "-C", str(project), "--quiet", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.slow
@pytest.mark.subprocess
def test_a_currency_that_is_no_iso_code_never_blocks_show_or_apply(tmp_path: Path) -> None:
    project = tmp_path / "project"
    copy_examples(project)
    manifest = project / "manifests" / "spring27-acquisition.yaml"
    manifest.write_text("\n".join(line for line in manifest.read_text().splitlines() if "expect:" not in line) + "\n")
    assert couponctl(project, "plan").returncode == 0  # seeds the embedded sandbox
    db = sqlite3.connect(project / ".couponctl" / "sandbox.sqlite")
    try:
        db.execute("UPDATE coupons SET currency = 'USDX' WHERE class_name = 'SPRING27-ACQ-100'")
        db.commit()
    finally:
        db.close()
    planned = couponctl(project, "plan", "--out", "p.json")
    assert planned.returncode == 0, planned.stderr
    for args in (["show", "p.json"], ["show", "p.json", "--format", "markdown"], ["apply", "p.json", "--yes"]):
        done = couponctl(project, *args)
        assert done.returncode == 0, (args, done.stderr)
        assert "internal error" not in done.stderr


def test_a_lone_surrogate_from_the_vendor_becomes_a_replacement_character() -> None:
    body = b'{"Coupons": [{"SendToEmail": "x\\ud800y@example.com", "Code": "AB\\udc00CD"}], "ok": "\\ud83d\\ude00"}'
    data = vendor_json(httpx.Response(200, content=body))
    assert data["Coupons"][0]["SendToEmail"] == "x\ufffdy@example.com"
    assert data["Coupons"][0]["Code"] == "AB\ufffdCD"
    assert data["ok"] == "\U0001f600", "a valid pair stays what it is"
    assert (data["Coupons"][0]["SendToEmail"]).encode("utf-8")


@pytest.mark.parametrize("value", ["NaN", "Infinity", "1e400", 1e400, "1.2e29", "-1e20"])
def test_an_amount_that_is_not_a_plausible_number_is_a_malformed_answer(value: object) -> None:
    with pytest.raises(MalformedResponse):
        msads_wire._decimal(value)
    with pytest.raises(MalformedResponse):
        aliyun_wire._decimal(value)
    assert msads_wire._decimal("100.50") is not None
