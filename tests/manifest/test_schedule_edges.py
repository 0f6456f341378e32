"""spec.schedule at the edges of the calendar: a bound that no UTC instant can hold (year 1 in a zone ahead of
UTC, year 9999 late in a zone behind it) is a located error, never a traceback."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest

from reconciler.config.load import load_config
from reconciler.errors import CouponctlError
from reconciler.manifest.build import load_desired

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.mark.parametrize(
    "schedule",
    [
        "{notBefore: '0001-01-01', timeZone: Asia/Tokyo}",
        "{notBefore: '0001-01-01T00:00:00+14:00'}",
        "{notAfter: '9999-12-31T23:00:00', timeZone: America/New_York}",
    ],
)
def test_a_bound_outside_the_utc_calendar_is_a_located_error(tmp_path: Path, schedule: str) -> None:
    (tmp_path / "m.yaml").write_text(
        "apiVersion: couponctl/v1\nkind: CouponAssignment\nmetadata: {name: m}\nspec:\n"
        "  provider: msads-local\n  customerId: 1\n  couponClass: A\n"
        f"  schedule: {schedule}\n"
    )
    config = replace(load_config(FIXTURES), root=tmp_path, path=tmp_path / "couponctl.yaml")
    with pytest.raises(CouponctlError) as error:
        load_desired(config, [Path("m.yaml")])
    assert "m.yaml:8:" in str(error.value) and "spec.schedule.not" in str(error.value)


def test_a_date_whose_midnight_the_clocks_skip_starts_when_they_jump(tmp_path: Path) -> None:
    # Chile goes to summer time at midnight: on 6 September 2026 local time runs 23:59:59 (-04) -> 01:00 (-03).
    (tmp_path / "m.yaml").write_text(
        "apiVersion: couponctl/v1\nkind: CouponAssignment\nmetadata: {name: m}\nspec:\n"
        "  provider: msads-local\n  customerId: 1\n  couponClass: A\n"
        "  schedule: {notBefore: '2026-09-06', timeZone: America/Santiago}\n"
    )
    config = replace(load_config(FIXTURES), root=tmp_path, path=tmp_path / "couponctl.yaml")
    window = load_desired(config, [Path("m.yaml")]).schedules["m"]
    assert window.not_before == datetime(2026, 9, 6, 4, 0, tzinfo=UTC)
