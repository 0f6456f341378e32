"""A campaign status over several days, built with campaign_status from declared and live state (three campaigns,
labels, a hostile manifest name and a label holding an address), and a headless Chromium to load a page in."""

from __future__ import annotations

import contextlib
import http.server
import os
import shutil
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from reconciler.plan.status import CampaignStatus, campaign_status
from reconciler.providers.registry import void_statuses
from reconciler.render.status_html import render_status_html
from reconciler.state.desired import DesiredItem, DesiredState, Position, Scope, ScopeSpec, Target
from reconciler.state.live import FaceValue, IssuedCoupon, LiveState, ScopeLive

CHECKED_AT = datetime(2027, 3, 20, 9, 0, tzinfo=UTC)
START = datetime(2027, 3, 1, 10, 0, tzinfo=UTC)
HOSTILE = 'spring<script>alert(1)</script>"&'
CAMPAIGNS: dict[str, tuple[str, int, int, int]] = {  # manifest: (class, declared, issued, redeemed)
    "spring27": ("SPRING27-ACQ-100", 40, 36, 21),
    "winback27": ("WINBACK27-RET-50", 25, 20, 6),
    HOSTILE: ("ODD-10", 6, 3, 1),
}
LABELS = {"spring27": {"team": "growth"}, "winback27": {"team": "growth", "owner": "ops@example.com"}}


def sample_status(*, hostile: bool = True) -> CampaignStatus:
    """The sample campaigns; with ``hostile``, also one whose manifest name tries to inject markup (the tests'), not
    in the documentation's screenshot."""
    scopes: dict[Scope, ScopeSpec] = {}
    items: dict[Scope, dict[Target, DesiredItem]] = {}
    lives: dict[Scope, ScopeLive] = {}
    for manifest, (klass, declared, issued, redeemed) in CAMPAIGNS.items():
        if manifest == HOSTILE and not hostile:
            continue
        scope = Scope("msads-local", "251186883", klass)
        scopes[scope] = ScopeSpec(scope, "msads", (manifest,))
        targets = [Target.email(f"{klass.lower()}.{n}@example.com") for n in range(declared)]
        items[scope] = {t: DesiredItem(t, manifest, Position(f"{klass}.yaml", n + 1, 1)) for n, t in enumerate(targets)}
        held: dict[Target, tuple[IssuedCoupon, ...]] = {}
        for n, target in enumerate(targets[:issued]):
            issue = START + timedelta(days=n % 9, hours=n)
            used = n < redeemed
            held[target] = (
                IssuedCoupon(
                    f"CODE{n:08d}",
                    "redeemed" if used else ("claimed" if n % 3 == 0 else "dispatched"),
                    issue_date=issue,
                    claimed=used or n % 3 == 0,
                    redeemed=used,
                    redemption_date=issue + timedelta(days=2 + n % 5) if used else None,
                ),
            )
        amount = Decimal(100) if "ACQ" in klass else Decimal(50) if "RET" in klass else Decimal(10)
        lives[scope] = ScopeLive(scope, True, FaceValue(amount, "USD"), 100, held)
    desired = DesiredState(scopes, items, LABELS)
    return campaign_status(desired, LiveState(lives), checked_at=CHECKED_AT, void_statuses=void_statuses())


def chromium() -> str | None:
    """The distribution's Chromium, if installed."""
    return shutil.which("chromium") or shutil.which("chromium-browser")


def headless(browser: str, page: Path, *extra: str, proxy_port: int | None = None) -> subprocess.CompletedProcess[str]:
    """Chromium, headless, on ``page``: every name resolves to nothing and, with ``proxy_port``, every request
    (loopback too) goes to that proxy, so anything the page fetches is seen there or fails."""
    args = [
        browser,
        "--headless",
        "--disable-gpu",
        "--no-sandbox",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-default-apps",
        "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",  # the proxy is reached, nothing else
        f"--user-data-dir={page.parent / '.chromium-profile'}",
    ]
    if proxy_port is not None:
        args += [f"--proxy-server=http://127.0.0.1:{proxy_port}", "--proxy-bypass-list=<-loopback>"]
    env = {**os.environ, "HOME": str(page.parent)}
    return subprocess.run(
        [*args, *extra, page.resolve().as_uri()], capture_output=True, text=True, timeout=120, env=env, check=False
    )


def screenshot(out: Path) -> None:
    """Render the sample page and save Chromium's screenshot of it to ``out`` (docs/status.png)."""
    browser = chromium()
    if browser is None:
        raise SystemExit("chromium is not installed")
    with tempfile.TemporaryDirectory() as scratch:
        page = Path(scratch) / "status-sample.html"
        page.write_text(render_status_html(sample_status(hostile=False)), encoding="utf-8")
        done = headless(browser, page, "--hide-scrollbars", "--window-size=1200,1100", f"--screenshot={out.resolve()}")
        if done.returncode != 0:
            raise SystemExit(done.stderr[-2000:])


if __name__ == "__main__":  # python -m tests.support.status_sample docs/status.png
    screenshot(Path(sys.argv[1]))


class _Recorder(http.server.BaseHTTPRequestHandler):
    seen: list[str]

    def _record(self) -> None:
        type(self).seen.append(self.requestline)
        self.send_response(502)
        self.send_header("Content-Length", "0")
        self.end_headers()

    do_GET = do_POST = do_HEAD = do_CONNECT = do_OPTIONS = _record

    def log_message(self, format: str, *args: object) -> None:
        pass


@contextlib.contextmanager
def recording_proxy() -> Iterator[tuple[int, list[str]]]:
    """A proxy on loopback that answers 502 to everything and records each request line: (its port, the lines)."""
    seen: list[str] = []
    handler = type("Recorder", (_Recorder,), {"seen": seen})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1], seen
    finally:
        server.shutdown()
        server.server_close()


#: Chromium's own services (clock, component updates, accounts), which it calls whatever page it shows, even with
#: background networking disabled: not requests of the page.
BROWSER_HOSTS = ("google.com", "googleapis.com", "gvt1.com", "gstatic.com")


def page_requests(seen: list[str]) -> list[str]:
    """The request lines the page made: those to Chromium's own services left out."""

    def host(line: str) -> str:
        target = line.split(" ")[1] if " " in line else line
        return target.split("://", 1)[-1].split("/", 1)[0].rsplit(":", 1)[0].lower()

    return [line for line in seen if not any(host(line) == h or host(line).endswith("." + h) for h in BROWSER_HOSTS)]
