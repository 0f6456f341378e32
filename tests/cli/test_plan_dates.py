"""A saved plan's dates are judged, never trusted: a plan dated in the future (made on a machine whose clock is
ahead) is refused, and so is one whose timestamps carry no time zone; neither reaches the user as a traceback."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from reconciler.plan.checksum import with_checksum
from reconciler.plan.serialize import plan_from_json, plan_to_json
from tests.support.cli import run


def shifted_plan(project: Path, shift: timedelta) -> Path:
    """A plan as a runner whose clock is ``shift`` ahead would have made it (checksum and all)."""
    assert run(project, "plan", "--out", "plan.json").exit_code == 0
    path = project / "plan.json"
    plan = plan_from_json(path.read_text(), "plan.json")
    assert plan.expires_at is not None
    moved = with_checksum(replace(plan, created_at=plan.created_at + shift, expires_at=plan.expires_at + shift))
    path.write_text(plan_to_json(moved))
    return path


def issued(project: Path) -> int:
    shown = json.loads(run(project, "plan", "--format", "json").stdout)
    return 15 - int(shown["summary"]["itemCount"])


def test_a_plan_made_two_days_ahead_is_refused(project: Path) -> None:
    shifted_plan(project, timedelta(days=2))
    refused = run(project, "apply", "plan.json", "--yes")
    assert refused.exit_code == 3, refused.output
    assert "from the future" in refused.stderr
    assert issued(project) == 0


def test_a_future_expiry_alone_is_refused_too(project: Path) -> None:
    # createdAt is outside the checksum (two identical diffs share it): the expiry, inside it, tells as well.
    path = shifted_plan(project, timedelta(days=2))
    data = json.loads(path.read_text())
    data["createdAt"] = datetime.now(UTC).isoformat().replace("+00:00", "Z")
    path.write_text(json.dumps(data))
    refused = run(project, "apply", "plan.json", "--yes")
    assert refused.exit_code == 3 and "from the future" in refused.stderr
    assert issued(project) == 0


def test_a_plan_a_few_seconds_ahead_is_applied(project: Path) -> None:
    shifted_plan(project, timedelta(seconds=5))
    applied = run(project, "apply", "plan.json", "--yes")
    assert applied.exit_code == 0, applied.output
    assert issued(project) == 15


@pytest.mark.parametrize("field", ["createdAt", "expiresAt"])
def test_a_timestamp_without_a_time_zone_is_a_clear_error(project: Path, field: str) -> None:
    assert run(project, "plan", "--out", "plan.json").exit_code == 0
    path = project / "plan.json"
    data = json.loads(path.read_text())
    data[field] = datetime.fromisoformat(data[field]).replace(tzinfo=None).isoformat()
    path.write_text(json.dumps(data))
    for command in (["apply", "plan.json", "--yes"], ["show", "plan.json"]):
        result = run(project, *command)
        assert result.exit_code == 1, result.output
        assert f"{field}: " in result.stderr and "UTC" in result.stderr
        assert "internal error" not in result.stderr
    assert issued(project) == 0
