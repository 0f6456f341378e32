"""`couponctl status --html`: one self-contained page, checked in a real headless Chromium (the distribution's
package): it renders, its charts are there with their series, and it fetches nothing. Without Chromium the test
fails under CI=true and is skipped elsewhere."""

from __future__ import annotations

import os
import re
import struct
from pathlib import Path

import pytest

from reconciler.render.status_html import render_status_html
from tests.support.status_sample import (
    CAMPAIGNS,
    HOSTILE,
    chromium,
    headless,
    page_requests,
    recording_proxy,
    sample_status,
)

#: A URL anywhere in the page (any scheme with //, or data:, javascript:, file:, blob:), or an attribute or CSS rule
#: that fetches.
URL = re.compile(
    r"\b(?:[a-z][a-z0-9+.-]*://|data:|javascript:|file:|blob:)|url\(|@import|\b(?:src|href|action|srcset)=",
    re.IGNORECASE,
)


@pytest.fixture
def browser() -> str:
    found = chromium()
    if found is None:
        if os.environ.get("CI") == "true":
            pytest.fail("chromium is not installed: .ci/run installs it (apt-get install chromium)")
        pytest.skip("chromium is not installed (apt-get install chromium)")
    return found


@pytest.fixture
def page(tmp_path: Path) -> Path:
    path = tmp_path / "status.html"
    path.write_text(render_status_html(sample_status()), encoding="utf-8")
    return path


def test_the_page_references_nothing_outside_itself(page: Path) -> None:
    html = page.read_text(encoding="utf-8")
    assert URL.findall(html) == []
    assert "<script" not in html.lower()
    assert "default-src 'none'" in html  # and the browser is told to fetch nothing
    assert "ops@example.com" not in html and "owner=o***@example.com" in html  # a label's address is masked
    assert "example.com" not in html.replace("o***@example.com", "")  # and no target is shown
    assert "&lt;script&gt;" in html  # the hostile manifest name is shown, escaped


@pytest.mark.subprocess
def test_chromium_renders_every_chart_and_fetches_nothing(browser: str, page: Path) -> None:
    with recording_proxy() as (port, seen):
        dumped = headless(browser, page, "--dump-dom", proxy_port=port)
    assert dumped.returncode == 0, dumped.stderr[-2000:]
    dom = dumped.stdout
    assert page_requests(seen) == []  # every request would have gone through the proxy
    assert "<script" not in dom.lower()
    funnels = re.findall(r'<svg class="funnel"[^>]*data-campaign="([^"]*)"', dom)
    assert len(funnels) == len(CAMPAIGNS)
    assert any("&lt;script&gt;" in name for name in funnels)
    status = sample_status()
    for group in status.manifests:
        for stage in ("declared", "issued", "claimed", "redeemed"):
            count = group.tally.count(stage)
            assert f'data-stage="{stage}" data-count="{count}"' in dom
    series = dict(re.findall(r'<polyline class="series" data-series="(\w+)" data-total="(\d+)"', dom))
    total = status.total.tally
    assert series == {"issued": str(total.issued), "redeemed": str(total.redeemed)}
    assert dom.count('class="point" data-series="redeemed"') == len(total.redeemed_by_day)
    assert HOSTILE not in dom


@pytest.mark.subprocess
def test_chromium_draws_the_page(browser: str, page: Path, tmp_path: Path) -> None:
    shot = tmp_path / "shot.png"
    with recording_proxy() as (port, seen):
        done = headless(
            browser, page, "--hide-scrollbars", "--window-size=1200,1250", f"--screenshot={shot}", proxy_port=port
        )
    assert done.returncode == 0, done.stderr[-2000:]
    assert page_requests(seen) == []
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    assert (width, height) == (1200, 1250)
    assert len(data) > 20_000  # tables and charts, not a blank page


@pytest.mark.subprocess
def test_the_proxy_would_see_a_fetch(browser: str, tmp_path: Path) -> None:
    # the check above means something: a page that does fetch is seen by the proxy
    leaky = tmp_path / "leaky.html"
    leaky.write_text('<!DOCTYPE html><html><body><img src="http://assets.example.net/x.png"></body></html>')
    with recording_proxy() as (port, seen):
        headless(browser, leaky, "--dump-dom", "--virtual-time-budget=3000", proxy_port=port)
    assert [line.split(" ")[1] for line in page_requests(seen)] == ["http://assets.example.net/x.png"]
