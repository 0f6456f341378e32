"""Hostile pull requests and odd vendor data, markup family: a string from a manifest or a vendor cannot change
the structure of the Markdown comment (no forged heading, no closed <details>, no image, link or @mention), cannot
drive the terminal (no OSC 52 clipboard write, no OSC 8 hyperlink, no forged plan line), and never makes a saved
plan unreadable: JSON stays faithful, and show and apply load it."""

from __future__ import annotations

import json
import os
import re
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from reconciler.providers.http import redact
from reconciler.render.terminal import defang, visible

# YAML double-quoted escapes: \e is ESC, \a is BEL, \n a newline.
HOSTILE_CLASS = (
    r'"WINBACK\n\n</details>\n\n## Plan: no changes\n![x](https://evil.example/x.png) @team '
    r'[click](https://evil.example) \e]52;c;SGVsbG8=\a \e]8;;https://evil.example\e\\link\e]8;;\e\\"'
)
VENDOR_EMAIL = "John Doe@evil.example\n+ email:forged@x.example  [spring27-acquisition]\x1b]52;c;AAAA\x07"


def couponctl(project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "reconciler", "-C", str(project), *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "CI": ""},
        check=False,
    )


def assert_terminal_safe(*texts: str) -> None:
    for text in texts:
        assert "\x07" not in text and "\x1b]" not in text, "an OSC sequence reached the terminal"
        assert not re.search(r"\x1b(?!\[[0-9;]*[mK])", text), "an escape sequence other than colour"


def assert_markdown_structure(markdown: str, scopes: int) -> None:
    lines = markdown.splitlines()
    headings = [line for line in lines if line.lstrip().startswith("#")]
    assert headings == ["### couponctl plan"], headings
    assert markdown.count("<details") == scopes and markdown.count("</details>") == scopes
    assert not re.search(r"(?<!\\)!\[", markdown), "an image"
    assert not re.search(r"(?<!\\)\]\(", markdown), "a link"
    assert "https://" not in markdown and "@team" not in markdown
    assert "</details>\n\n##" not in markdown


@pytest.mark.slow
@pytest.mark.subprocess
def test_a_hostile_class_name_cannot_forge_the_comment_or_drive_the_terminal(project: Path) -> None:
    manifest = project / "manifests" / "winback27.yaml"
    manifest.write_text(manifest.read_text().replace("couponClass: WINBACK27-RET-50", f"couponClass: {HOSTILE_CLASS}"))
    markdown = couponctl(project, "plan", "--format", "markdown", "--out", "p.json")
    assert markdown.returncode == 1  # the class does not exist: an error, and the comment is still written
    assert_markdown_structure(markdown.stdout, scopes=3)
    text = couponctl(project, "--color", "plan")
    assert_terminal_safe(text.stdout, text.stderr, markdown.stderr)
    assert "\\x1b]52" in text.stdout, "the sequence is shown, visibly"
    assert not any(line.startswith("## Plan") for line in text.stdout.splitlines())
    drift = couponctl(project, "drift", "--format", "markdown")
    assert drift.stdout.count("<details") == drift.stdout.count("</details>") == 3
    assert "https://" not in drift.stdout and "@team" not in drift.stdout
    assert_terminal_safe(couponctl(project, "drift").stdout)


@pytest.mark.slow
@pytest.mark.subprocess
def test_odd_vendor_data_is_shown_inert_and_never_breaks_a_saved_plan(project: Path) -> None:
    assert couponctl(project, "--quiet", "validate").returncode == 0
    assert couponctl(project, "--quiet", "plan").returncode == 0  # seeds the embedded sandbox
    db = sqlite3.connect(project / ".couponctl" / "sandbox.sqlite")
    try:
        (coupon,) = db.execute(
            "SELECT id FROM coupons WHERE class_name = 'SPRING27-ACQ-100' AND send_to_email IS NULL LIMIT 1"
        ).fetchone()
        db.execute(
            "UPDATE coupons SET send_to_email = ?, send_to_date = strftime('%s', 'now') WHERE id = ?",
            (VENDOR_EMAIL, coupon),
        )
        db.commit()
    finally:
        db.close()

    saved = couponctl(project, "--quiet", "plan", "--format", "json", "--out", "p.json")
    assert saved.returncode == 0, saved.stderr
    data = json.loads((project / "p.json").read_text())
    values = [h["target"]["value"] for s in data["scopes"] for h in s["unmanaged"]]
    assert VENDOR_EMAIL.lower() in values, "JSON stays faithful to the data"

    text = couponctl(project, "--color", "show", "p.json")
    assert text.returncode == 0, text.stderr
    assert_terminal_safe(text.stdout, text.stderr)
    forged = [line for line in text.stdout.splitlines() if "forged@x.example" in line]
    assert len(forged) == 1 and "~ unmanaged" in forged[0], "the vendor's newline forged no plan line"

    markdown = couponctl(project, "show", "p.json", "--format", "markdown")
    assert markdown.returncode == 0
    assert_markdown_structure(markdown.stdout, scopes=3)
    assert not any(line.startswith("+ email:forged") for line in markdown.stdout.splitlines())

    applied = couponctl(project, "apply", "p.json", "--yes")
    assert applied.returncode == 0, applied.stderr
    assert_terminal_safe(applied.stdout, applied.stderr)


def test_the_output_stream_shows_foreign_escape_sequences_visibly() -> None:
    hostile = "vendor says \x1b[31mred\x1b[0m \x1b]52;c;SGVsbG8=\x07 \x1b]8;;https://x\x1b\\link\x1b]8;;\x1b\\ \x9b2J\n"
    shown = defang(hostile)
    assert "\x1b" not in shown and "\x07" not in shown and "\x9b" not in shown
    assert "\\x1b[31m" in shown and "\\x1b]52" in shown and shown.endswith("\n")
    styled = defang(hostile, colour=True)  # while couponctl writes a plan it coloured itself
    assert "\x1b[31m" in styled and "\x1b]" not in styled and "\x07" not in styled
    assert defang("\r\x1b[K[####] reading") == "\r\x1b[K[####] reading"  # the progress bar's own erase


def test_the_renderers_escape_every_control_in_data() -> None:
    assert visible("a\nb\x1b]52;c;x\x07\u202ec") == "a\\nb\\x1b]52;c;x\\x07\\u202ec"


@pytest.mark.slow
@pytest.mark.subprocess
def test_a_vendors_coupon_type_cannot_forge_the_comment(project: Path) -> None:
    assert couponctl(project, "--quiet", "plan").returncode == 0  # seeds the embedded sandbox
    db = sqlite3.connect(project / ".couponctl" / "sandbox.sqlite")
    try:
        hostile = "Acq\n\n</details>\n\n# Plan: no changes\n\n![x](https://evil.example/i.png) @acme/admins #13\n\n<!--"
        db.execute("UPDATE coupons SET coupon_type = ? WHERE class_name = 'SPRING27-ACQ-100'", (hostile,))
        db.commit()
    finally:
        db.close()
    assert couponctl(project, "--quiet", "plan", "--out", "p.json").returncode == 0
    markdown = couponctl(project, "show", "p.json", "--format", "markdown")
    assert markdown.returncode == 0, markdown.stderr
    assert_markdown_structure(markdown.stdout, scopes=3)
    assert "<!--" not in markdown.stdout.replace("<!-- couponctl:plan -->", "")
    assert "@acme" not in markdown.stdout and "#13" not in markdown.stdout
    assert "\\u200b" not in markdown.stdout, "the zero-width spaces reach the comment as such, not as escapes"
    assert "@\u200bacme" in markdown.stdout


def test_a_vendor_message_cannot_forge_an_output_line() -> None:
    message = redact("refused\r\nApply success: 15 confirmed, 0 failed\x1b]52;c;AA\x07", [])
    assert "\n" not in message and "\r" not in message and "\x1b" not in message
    assert message.startswith("refused\\r\\nApply success")
