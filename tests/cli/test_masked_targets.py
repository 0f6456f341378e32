"""Masked emails end to end (issue 11, point 10): in the example project, lapsed.one@, .two@ and .three@example.org
share the mask l***@example.org; the Markdown plan, the same plan shown from its file, and the drift report of
the project all tell them apart, and render each address the same way."""

from __future__ import annotations

import re
from pathlib import Path

from click.testing import CliRunner, Result

from reconciler.cli.main import main

LAPSED = re.compile(r"email:l\*\*\*@example\.org \(id [0-9a-f]{4,}\)")


def run(project: Path, *args: str, env: dict[str, str] | None = None) -> Result:
    result = CliRunner().invoke(main, ["-C", str(project), "--no-color", *args], env=env)
    assert "Traceback" not in result.output
    return result


def test_plan_show_and_drift_tell_apart_and_agree_on_masked_addresses(project: Path, tmp_path: Path) -> None:
    saved = tmp_path / "plan.json"
    planned = run(project, "plan", "--format", "markdown", "--out", str(saved))
    assert planned.exit_code == 0, planned.output
    lapsed = LAPSED.findall(planned.stdout)
    assert len(lapsed) == 3 and len(set(lapsed)) == 3
    assert "lapsed.two@example.org" not in planned.stdout

    shown = run(project, "show", str(saved), "--format", "markdown")
    assert shown.exit_code == 0, shown.output
    assert LAPSED.findall(shown.stdout) == lapsed

    assert run(project, "apply", "--yes").exit_code == 0
    manifest = project / "manifests" / "winback27.yaml"
    manifest.write_text(manifest.read_text().replace("      - lapsed.two@example.org\n", ""))
    drift = run(project, "drift", "--format", "markdown")
    (removed,) = LAPSED.findall(drift.stdout)
    assert removed in lapsed  # the same rendering as in the plan
    assert run(project, "plan", "--format", "markdown").stdout.count(removed) == 1  # shown as removed there too


def test_a_mask_key_secret_changes_every_digest_and_is_never_printed(project: Path) -> None:
    config = project / "couponctl.yaml"
    plain = LAPSED.findall(run(project, "plan", "--format", "markdown").stdout)
    config.write_text("maskKey: ${env:COUPONCTL_MASK_KEY}\n" + config.read_text())
    keyed = run(project, "plan", "--format", "markdown", env={"COUPONCTL_MASK_KEY": "not-public-4f1c"})
    assert keyed.exit_code == 0, keyed.output
    assert len(set(LAPSED.findall(keyed.stdout))) == 3 and set(LAPSED.findall(keyed.stdout)).isdisjoint(plain)
    assert "not-public-4f1c" not in keyed.output
    unset = run(project, "plan", "--format", "markdown", env={"COUPONCTL_MASK_KEY": ""})
    assert unset.exit_code == 1
    assert "maskKey: names ${env:COUPONCTL_MASK_KEY}, which is not set" in unset.output
