"""Real HTTP (uvicorn on a free loopback port), the ``sandbox serve`` process, and the embedded transport."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from reconciler.sandbox.app import create_app
from reconciler.sandbox.embedded import embedded_transport, sandbox_credentials
from reconciler.sandbox.faults import FaultPlan
from reconciler.sandbox.server import BackgroundServer
from reconciler.sandbox.store import Store
from tests.support.sandbox import AUTH, DISPATCH, SEARCH, SEED, msads_seed, pred

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE_SEED = ROOT / "examples" / "sandbox-seed.yaml"
EXAMPLE_AUTH = {"Authorization": "Bearer sandbox-access-token", "DeveloperToken": "BBD37VB98"}
SEARCH_100 = {"Predicates": [pred("CustomerId", "100")], "PageInfo": {"Index": 0, "Size": 100}}


@pytest.fixture
def store() -> Iterator[Store]:
    store = Store(None)
    store.load(msads_seed(SEED))
    yield store
    store.close()


def test_the_api_over_a_real_port(store: Store) -> None:
    with BackgroundServer(create_app(store)) as server, httpx.Client(base_url=server.url) as client:
        assert server.url.startswith("http://127.0.0.1:")
        found = client.post(SEARCH, json=SEARCH_100, headers=AUTH)
        assert found.status_code == 200 and len(found.json()["Coupons"]) == 100
        assert found.headers["content-type"] == "application/json"
        refused = client.post(SEARCH, json={"Predicates": []}, headers=AUTH)
        assert refused.status_code == 400 and refused.json()["TrackingId"] == refused.headers["TrackingId"]


def test_a_dropped_answer_closes_the_connection_after_the_commit(store: Store) -> None:
    app = create_app(store, FaultPlan.parse(["dispatch:drop-after-commit=1"]))
    body = {"SendToEmails": ["a@example.com"], "CustomerId": "100", "CouponClassName": "RET-20"}
    with BackgroundServer(app) as server, httpx.Client(base_url=server.url) as client:
        with pytest.raises(httpx.RemoteProtocolError):
            client.post(DISPATCH, json=body, headers=AUTH)
        after = client.post(
            SEARCH,
            json={**SEARCH_100, "Predicates": [pred("CustomerId", "100"), pred("CouponClassName", "RET-20")]},
            headers=AUTH,
        )
        assert [c["SendToEmail"] for c in after.json()["Coupons"] if c["SendToEmail"]] == ["a@example.com"]


def test_the_embedded_transport_creates_seeds_once_and_serves(tmp_path: Path) -> None:
    database = tmp_path / "deep" / "dir" / "sandbox.sqlite"
    search = {"Predicates": [pred("CustomerId", "251186999")], "PageInfo": {"Index": 0, "Size": 100}}
    dispatch = {"SendToEmails": ["x@example.com"], "CustomerId": "251186999", "CouponClassName": "OTHER-25"}

    async def sent_then_dispatch() -> tuple[int, int]:
        transport = embedded_transport(database, EXAMPLE_SEED)
        async with httpx.AsyncClient(transport=transport, base_url="http://sandbox.local") as client:
            coupons = (await client.post(SEARCH, json=search, headers=EXAMPLE_AUTH)).json()["Coupons"]
            assert (await client.post(DISPATCH, json=dispatch, headers=EXAMPLE_AUTH)).json() == {"PartialErrors": []}
            return len(coupons), sum(1 for c in coupons if c["SendToEmail"])

    assert asyncio.run(sent_then_dispatch()) == (50, 0)
    assert database.exists()
    assert asyncio.run(sent_then_dispatch()) == (50, 1)  # seeded on first use only: the state is kept


def test_sandbox_credentials_are_the_first_seeded_ones(tmp_path: Path) -> None:
    creds = sandbox_credentials(tmp_path / "s.sqlite", EXAMPLE_SEED)
    assert creds == {"developerToken": "BBD37VB98", "accessToken": "sandbox-access-token"}
    assert sandbox_credentials(tmp_path / "s.sqlite", None) == creds


def _serve(tmp_path: Path, *args: str) -> tuple[subprocess.Popen[str], str, list[str]]:
    """``sandbox serve --port 0`` in a subprocess: the process, its URL and what it printed up to the URL."""
    code = "from reconciler.cli.sandbox import sandbox; sandbox(prog_name='couponctl sandbox')"
    command = [sys.executable, "-c", code, "serve", "--port", "0", "--db", str(tmp_path / "s.sqlite"), *args]
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert process.stdout is not None
    printed: list[str] = []
    for line in process.stdout:
        printed.append(line)
        if "serving at " in line:
            return process, line.split("serving at ")[1].split()[0], printed
    process.kill()
    raise AssertionError(f"serve printed no URL: {process.stderr.read() if process.stderr else ''}")


def _stop(process: subprocess.Popen[str], how: signal.Signals = signal.SIGTERM) -> tuple[str, str]:
    try:
        os.kill(process.pid, how)
        return process.communicate(timeout=15)
    finally:
        if process.poll() is None:
            process.kill()


@pytest.mark.slow
@pytest.mark.subprocess
@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGINT])
def test_serve_prints_its_loopback_url_and_stops_cleanly_on_a_signal(tmp_path: Path, stop: signal.Signals) -> None:
    process, url, _ = _serve(tmp_path, "--seed", str(EXAMPLE_SEED))
    try:
        assert url.startswith("http://127.0.0.1:")
        body = {"Predicates": [pred("CustomerId", "251186883")], "PageInfo": {"Index": 0, "Size": 3}}
        response = httpx.post(f"{url}{SEARCH}", json=body, headers=EXAMPLE_AUTH)
        assert response.status_code == 200 and len(response.json()["Coupons"]) == 3
        form = {"grant_type": "refresh_token", "client_id": "sandbox-client", "refresh_token": "sandbox-refresh-token"}
        token = httpx.post(f"{url}/oauth2/v2.0/token", data=form)
        assert token.status_code == 200 and token.json()["expires_in"] == 3600
    finally:
        out, err = _stop(process, stop)
    assert process.returncode == 0, err
    assert "couponctl sandbox: stopped" in out
    assert SEARCH not in out + err and "/oauth2" not in out + err  # no line per request: the call log has them
    assert "Traceback" not in err
    assert "sandbox-access-token" not in out + err and "BBD37VB98" not in out + err


@pytest.mark.slow
@pytest.mark.subprocess
def test_serve_injects_the_faults_given_under_the_fault_seed(tmp_path: Path) -> None:
    specs = ["*:error-500=0.5", "search:latency-ms=1"]
    args = [arg for spec in specs for arg in ("--fault", spec)]
    process, url, printed = _serve(tmp_path, "--seed", str(EXAMPLE_SEED), *args, "--fault-seed", "5")
    try:
        body = {"Predicates": [pred("CustomerId", "251186883")], "PageInfo": {"Index": 0, "Size": 1}}
        served = [httpx.post(f"{url}{SEARCH}", json=body, headers=EXAMPLE_AUTH).status_code for _ in range(16)]
    finally:
        _stop(process)
    assert "couponctl sandbox: fault *:error-500=0.5 (fault seed 5)\n" in printed
    plan = FaultPlan.parse(specs, seed=5)
    expected = [500 if plan.fail_before_commit("search") else 200 for _ in range(16)]
    assert served == expected and set(served) == {200, 500}


@pytest.mark.subprocess
def test_serve_reports_bad_input_without_a_traceback(tmp_path: Path) -> None:
    code = "from reconciler.cli.sandbox import sandbox; sandbox(prog_name='couponctl sandbox')"
    command = [
        sys.executable,
        "-c",
        code,
        "serve",
        "--port",
        "0",
        "--db",
        str(tmp_path / "s.sqlite"),
        "--fault",
        "search:slow=1",
    ]
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=30)
    assert result.returncode == 1
    assert result.stderr.startswith("error: --fault: search:slow=1: unknown kind 'slow'")
    assert "Traceback" not in result.stderr
