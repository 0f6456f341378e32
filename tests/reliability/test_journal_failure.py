"""A journal failure mid-apply: a PostgreSQL backend terminated under a running apply (against a served
sandbox), a full disk under the SQLite journal. The apply stops sending, exits 5 with the in-doubt next step, and
the next apply pays nothing twice."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from reconciler.apply.journal import Journal
from tests.support.cli import COUPONCTL, couponctl, run
from tests.support.journal_faults import FullDisk, terminate_process_backends
from tests.support.projects import assert_exactly_once, make_project
from tests.support.served import ServeProject, wait_for_pending

pytestmark = pytest.mark.slow

SHARED = {"journal": "${env:COUPONCTL_JOURNAL_URL}", "inDoubtWindow": "2s", "lockLease": "2s"}


@pytest.mark.postgres
@pytest.mark.subprocess
def test_a_terminated_backend_mid_apply_stops_sending_and_exits_5_with_the_next_step(
    serve_project: ServeProject, postgres_url: str
) -> None:
    project, _server = serve_project(SHARED)
    env = {"COUPONCTL_JOURNAL_URL": postgres_url}
    victim = subprocess.Popen(
        [*COUPONCTL, "-C", str(project), "apply", "--yes"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **env},
    )
    wait_for_pending(postgres_url, sent=True)
    assert terminate_process_backends(victim.pid) >= 1
    out, err = victim.communicate(timeout=60)
    assert victim.returncode == 5, out + err
    assert "internal error" not in err and "Traceback" not in err, err
    assert "failed" in err and "sends nothing more" in err
    assert "may have been issued" in err
    assert "couponctl journal in-doubt" in err and "re-apply later" in err

    listed = couponctl(project, "journal", "in-doubt", env=env)
    assert listed.returncode == 5, listed.stdout + listed.stderr  # what it could not record is in doubt
    again = couponctl(project, "apply", "--yes", "--lock-timeout", "30", env=env)
    assert again.returncode == 0, again.stdout + again.stderr
    assert "resolved in-doubt" in again.stdout
    assert couponctl(project, "journal", "in-doubt", env=env).returncode == 0
    assert_exactly_once(project)


@pytest.fixture
def disk_fills_after_the_first_fence(monkeypatch: pytest.MonkeyPatch) -> None:
    """The disk under the SQLite journal fills up as the apply's first fence commits: that call leaves, and
    nothing can be written after it."""
    real = Journal.mark_fenced

    def mark_fenced(self: Journal, *args: Any, **kwargs: Any) -> None:
        real(self, *args, **kwargs)
        self.db._db = FullDisk(self.db._db)  # type: ignore[attr-defined]

    monkeypatch.setattr(Journal, "mark_fenced", mark_fenced)


#: The embedded sandbox, with a short request timeout: a takeover waits it out before deciding anything.
FAST_LOCAL = {
    "msads-local": {"type": "msads", "environment": "local", "timeoutSeconds": 1},
    "aliyun-local": {"type": "aliyun", "environment": "local", "timeoutSeconds": 1},
}


def test_a_full_disk_under_the_journal_mid_apply_exits_5_and_the_next_apply_pays_nothing_twice(
    tmp_path: Path, disk_fills_after_the_first_fence: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    extra = {"inDoubtWindow": "2s", "lockLease": "1s", "providers": FAST_LOCAL}
    project = make_project(tmp_path, faults=[], extra=extra)
    failed = run(project, "apply", "--yes")
    assert failed.exit_code == 5, failed.output
    assert "internal error" not in failed.stderr and "Traceback" not in failed.output
    assert "the disk is full" in failed.stderr
    assert "the vendor answered: issued" in failed.stderr
    assert "couponctl journal in-doubt" in failed.stderr and "re-apply later" in failed.stderr

    monkeypatch.undo()  # the disk has room again
    assert run(project, "journal", "in-doubt").exit_code == 5
    again = run(project, "apply", "--yes", "--lock-timeout", "10")
    assert again.exit_code == 0, again.output
    assert "resolved in-doubt" in again.output
    assert_exactly_once(project)
