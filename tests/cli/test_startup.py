"""Starting the command line imports only what its commands share: the sandbox server, the journal views and the
plan explainer's diff library are imported by the commands that use them."""

from __future__ import annotations

import subprocess
import sys

import pytest
from click.testing import CliRunner

from reconciler.cli.main import main

LOADED_ON_USE = ("reconciler.cli.sandbox", "reconciler.sandbox.server", "reconciler.cli.journal", "deepdiff")


def test_importing_the_command_line_leaves_what_only_some_commands_use_unimported() -> None:
    probe = f"import sys, reconciler.cli.main; print([m for m in {LOADED_ON_USE!r} if m in sys.modules])"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


@pytest.mark.parametrize("command", ["sandbox", "journal", "lock", "drift", "export"])
def test_a_command_imported_on_use_is_listed_and_runs(command: str) -> None:
    listing = CliRunner().invoke(main, ["--help"])
    assert listing.exit_code == 0
    assert any(line.split()[:1] == [command] for line in listing.stdout.splitlines())
    help_text = CliRunner().invoke(main, [command, "--help"], prog_name="couponctl")
    assert help_text.exit_code == 0, help_text.output
    assert f"couponctl {command}" in help_text.stdout
