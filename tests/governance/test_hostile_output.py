"""What governance puts in front of people, fed hostile text: an override reason with newlines, escapes, markup,
mentions and an address, typed by an actor whose name is an address; a reason holding a secret; manifest labels
with odd characters in the ledger. The pull-request comment stays inert and masked, the terminal sees escapes, the
JSON plan and the ledger stay faithful, and a secret never lands in a plan."""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path

import pytest
import yaml

from tests.support.cli import run
from tests.support.projects import holders, make_project

HOSTILE = (
    "launch\n\n## Approved by finance\n<img src=x onerror=alert(1)> @acme/finance \x1b[31mred\x1b[0m "
    "[click](https://evil.example) jane.doe@example.com ``` #42 \u202egnp.exe"
)
ACTOR = "mallory@example.net"
SECRET = "s3cret-mask-key-value"


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return make_project(tmp_path, faults=[], extra={"policy": {"maxItems": 5}})


def test_a_hostile_override_reason_is_inert_in_the_comment_escaped_in_the_terminal_and_kept_in_json(
    project: Path,
) -> None:
    env = {"GITHUB_ACTOR": ACTOR}
    made = run(project, "plan", "--override", "maxItems", "--reason", HOSTILE, "--out", "p.json", env=env)
    assert made.exit_code == 0, made.output
    saved = json.loads((project / "p.json").read_text())
    assert saved["governance"]["overrides"][0]["reason"] == HOSTILE.strip()  # faithful
    assert saved["governance"]["overrides"][0]["actor"] == ACTOR

    markdown = run(project, "show", "p.json", "--format", "markdown").stdout
    lines = markdown.splitlines()
    head = next(n for n, line in enumerate(lines) if "**Overrides carried" in line)
    assert lines[head + 1].startswith("> - `maxItems`: launch") and lines[head + 2] == ""  # one line: no escape
    assert "\n## " not in markdown and not re.search(r"(?<!\\)<img", markdown) and "\x1b" not in markdown
    assert "@acme" not in markdown and "](https://" not in markdown and "\u202e" not in markdown
    assert "jane.doe@example.com" not in markdown and ACTOR not in markdown  # masked, as item targets are
    assert "#42" not in markdown  # no issue reference

    text = run(project, "show", "p.json").stdout
    (line,) = [line for line in text.splitlines() if "override:" in line]
    assert "\\n" in line and "\\x1b" in line and "\\u202e" in line  # shown, never obeyed
    assert "\x1b" not in text and "\u202e" not in text


def test_a_reason_holding_a_secret_is_refused_at_plan_and_never_written(project: Path, tmp_path: Path) -> None:
    # The journal given as ${env:NAME}: its value is masked in every output, as a secret is.
    secret = str(tmp_path / SECRET / "journal.sqlite")
    config = yaml.safe_load((project / "couponctl.yaml").read_text())
    config["journal"] = "${env:COUPONCTL_TEST_JOURNAL}"
    (project / "couponctl.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    env = {"COUPONCTL_TEST_JOURNAL": secret}
    reason = f"approved, see {secret}"
    made = run(project, "plan", "--override", "maxItems", "--reason", reason, "--out", "p.json", env=env)
    assert made.exit_code == 1, made.output
    assert "--override maxItems" in made.stderr and SECRET not in made.output
    assert not (project / "p.json").exists()
    fresh = run(project, "apply", "--yes", "--override", "maxItems", "--reason", reason, env=env)
    assert fresh.exit_code == 1 and SECRET not in fresh.output
    assert not any(holders(project))


def test_odd_labels_round_trip_through_the_ledger(project: Path) -> None:
    labels = {"team": '=HYPERLINK("https://evil.example")', 'note,"quoted"': "line\nbreak\ttab \u202e"}
    manifest = project / "manifests" / "winback27.yaml"
    document = yaml.safe_load(manifest.read_text())
    document["metadata"]["labels"] = labels
    manifest.write_text(yaml.safe_dump(document, sort_keys=False))
    config = yaml.safe_load((project / "couponctl.yaml").read_text())
    config["policy"] = {}
    config["budgets"] = [{"name": "odd", "amount": {"USD": 150}, "selector": {"labels": labels}}]
    (project / "couponctl.yaml").write_text(yaml.safe_dump(config, sort_keys=False))

    applied = run(project, "apply", "--yes")
    assert applied.exit_code == 0, applied.output
    exported = run(project, "journal", "export", "--format", "csv").stdout
    rows = [r for r in csv.DictReader(io.StringIO(exported)) if r["coupon_class"] == "WINBACK27-RET-50"]
    assert len(rows) == 3 and all(json.loads(r["labels"]) == labels for r in rows)
    assert all(not r["labels"].startswith(("=", "+", "-", "@")) for r in rows)  # a JSON object: no formula
    again = run(project, "plan", "--format", "json")
    (odd,) = json.loads(again.stdout)["governance"]["budgets"]
    assert (odd["spent"], odd["remaining"]) == ("150", "0")  # the odd labels matched what the journal recorded
