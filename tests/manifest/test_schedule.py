"""spec.schedule read into windows: dates are local midnight in the time zone (UTC by default), date-times local
unless they carry an offset, across a daylight-saving change; every vendor's manifests take it."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from reconciler.config.load import load_config
from reconciler.manifest.build import load_desired
from reconciler.state.schedule import Timing, Window

FIXTURES = Path(__file__).parent / "fixtures"
MSADS = "provider: msads-local\n  customerId: 1\n  couponClass: A"
ALIYUN = "provider: reseller\n  sellerId: 2\n  templateId: 3"


def window(tmp_path: Path, schedule: str, spec: str = MSADS) -> Window:
    (tmp_path / "m.yaml").write_text(
        f"apiVersion: couponctl/v1\nkind: CouponAssignment\nmetadata: {{name: m}}\nspec:\n  {spec}\n"
        f"  schedule: {schedule}\n"
    )
    config = replace(load_config(FIXTURES), root=tmp_path, path=tmp_path / "couponctl.yaml")
    return load_desired(config, [Path("m.yaml")]).schedules["m"]


def test_a_date_is_midnight_utc_by_default(tmp_path: Path) -> None:
    assert window(tmp_path, "{notBefore: 2026-04-01}") == Window(datetime(2026, 4, 1, tzinfo=UTC), None, "UTC")


@pytest.mark.parametrize(
    ("day", "midnight_utc"),
    [
        ("2026-03-28", datetime(2026, 3, 27, 23, 0, tzinfo=UTC)),  # winter time, UTC+1
        ("2026-03-29", datetime(2026, 3, 28, 23, 0, tzinfo=UTC)),  # the day clocks go forward (at 02:00): still +1
        ("2026-03-30", datetime(2026, 3, 29, 22, 0, tzinfo=UTC)),  # summer time, UTC+2
        ("2026-10-25", datetime(2026, 10, 24, 22, 0, tzinfo=UTC)),  # the day clocks go back (at 03:00): still +2
    ],
)
def test_a_date_is_local_midnight_in_its_time_zone_across_daylight_saving(
    tmp_path: Path, day: str, midnight_utc: datetime
) -> None:
    got = window(tmp_path, f"{{notBefore: '{day}', timeZone: Europe/Berlin}}")
    assert got.not_before == midnight_utc and got.time_zone == "Europe/Berlin"


def test_a_local_time_that_exists_twice_is_the_earlier(tmp_path: Path) -> None:
    got = window(tmp_path, "{notBefore: '2026-10-25T02:30:00', timeZone: Europe/Berlin}")
    assert got.not_before == datetime(2026, 10, 25, 0, 30, tzinfo=UTC)  # 02:30 summer time, not winter time


def test_an_offset_names_the_instant_whatever_the_zone(tmp_path: Path) -> None:
    got = window(tmp_path, "{notAfter: '2026-04-01T09:00:00+09:00', timeZone: Europe/Berlin}")
    assert got.not_after == datetime(2026, 4, 1, 0, 0, tzinfo=UTC)


def test_every_vendor_takes_a_schedule(tmp_path: Path) -> None:
    got = window(tmp_path, "{notBefore: 2026-04-01, timeZone: Asia/Shanghai}", ALIYUN)
    assert got.not_before == datetime(2026, 3, 31, 16, 0, tzinfo=UTC)


def test_the_window_is_half_open() -> None:
    start, end = datetime(2026, 4, 1, tzinfo=UTC), datetime(2026, 5, 1, tzinfo=UTC)
    w = Window(start, end)
    assert w.timing(start - timedelta(seconds=1)) is Timing.SCHEDULED
    assert w.timing(start) is Timing.DUE
    assert w.timing(end - timedelta(seconds=1)) is Timing.DUE
    assert w.timing(end) is Timing.CLOSED
    assert Window(None, None).timing(end) is Timing.DUE
