"""The call log of a served file store: every call is in the ``calls`` table, for any other process to read, by the
time its answer has arrived (tests of other processes count the calls right after a command ends)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import httpx

from reconciler.sandbox.app import create_app
from reconciler.sandbox.server import BackgroundServer
from reconciler.sandbox.store import Store
from tests.support.sandbox import AUTH, DISPATCH, SEARCH, SEED, msads_seed, pred

READ_LAST_CALL = """
import sqlite3, sys
db = sqlite3.connect(f"file:{sys.argv[1]}?mode=ro", uri=True)
count, = db.execute("SELECT count(*) FROM calls").fetchone()
last, = db.execute("SELECT tracking_id FROM calls ORDER BY id DESC LIMIT 1").fetchone() or (None,)
print(count, last)
"""


def last_call_seen_by_another_process(path: Path) -> tuple[int, str]:
    done = subprocess.run(
        [sys.executable, "-c", READ_LAST_CALL, str(path)], capture_output=True, text=True, check=True, timeout=60
    )
    count, last = done.stdout.split()
    return int(count), last


def test_each_call_is_in_the_file_for_another_process_once_its_answer_arrived(tmp_path: Path) -> None:
    path = tmp_path / "sandbox.sqlite"
    store = Store(path)
    store.load(msads_seed(SEED))
    search = {"Predicates": [pred("CustomerId", "100")], "PageInfo": {"Index": 0, "Size": 10}}
    dispatch = {"SendToEmails": ["a@example.com"], "CustomerId": "100", "CouponClassName": "RET-20"}
    try:
        with BackgroundServer(create_app(store)) as server, httpx.Client(base_url=server.url) as client:
            for n, (url, body) in enumerate(
                [(SEARCH, search), (DISPATCH, dispatch), ("/nowhere", {}), (SEARCH, search)]
            ):
                response = client.post(url, json=body, headers=AUTH)
                assert last_call_seen_by_another_process(path) == (n + 1, response.headers["TrackingId"])
    finally:
        store.close()
