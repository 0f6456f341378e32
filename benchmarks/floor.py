"""The floor: the fewest SearchCoupons calls, times the latency, over the allowed concurrency, plus the time to
parse the same bytes as raw JSON.

The bytes are captured once with a bare httpx client that knows every class's size (an oracle: it asks for
exactly the pages needed, ``concurrency`` at a time, and nothing else). Its wall time is reported too: what
the served sandbox and the loopback deliver to a client that does no work at all, the floor *on this rig*.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Sequence
from dataclasses import dataclass

import httpx

SEARCH_PATH = "/CustomerBilling/v13/Coupons/Search"
PAGE_SIZE = 100


@dataclass(frozen=True)
class ScopeSize:
    customer_id: str
    class_name: str
    coupons: int


@dataclass(frozen=True)
class Floor:
    calls: int
    latency_s: float
    concurrency: int
    parse_s: float
    bytes: int
    oracle_wall_s: float

    @property
    def calls_s(self) -> float:
        return self.calls * self.latency_s / self.concurrency

    @property
    def total_s(self) -> float:
        return self.calls_s + self.parse_s


def minimal_pages(coupons: int) -> int:
    """Pages a reader needs when nothing tells it the total: every full page, then one short (maybe empty)."""
    return coupons // PAGE_SIZE + 1


def search_body(customer_id: str, class_name: str, index: int) -> dict[str, object]:
    return {
        "Predicates": [
            {"Field": "CustomerId", "Operator": "Equals", "Value": customer_id},
            {"Field": "CouponClassName", "Operator": "Equals", "Value": class_name},
        ],
        "Ordering": [{"Field": "CouponStartDate", "Order": "Ascending"}],
        "PageInfo": {"Index": index, "Size": PAGE_SIZE},
        "ReturnAdditionalFields": "CouponClaimInfo",
    }


async def capture(
    url: str, scopes: Sequence[ScopeSize], *, developer_token: str, access_token: str, concurrency: int
) -> tuple[list[bytes], float]:
    """Every page's response body, fetched ``concurrency`` at a time; and the wall time it took."""
    headers = {"Authorization": f"Bearer {access_token}", "DeveloperToken": developer_token}
    jobs = [(s, i) for s in scopes for i in range(minimal_pages(s.coupons))]
    bodies: list[bytes] = [b""] * len(jobs)
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    started = time.perf_counter()
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=120) as client:
        queue = list(enumerate(jobs))
        queue.reverse()

        async def worker() -> None:
            while queue:
                n, (scope, index) = queue.pop()
                body = search_body(scope.customer_id, scope.class_name, index)
                response = await client.post(SEARCH_PATH, json=body, headers=headers)
                response.raise_for_status()
                bodies[n] = response.content

        await asyncio.gather(*(worker() for _ in range(concurrency)))
    return bodies, time.perf_counter() - started


def parse_seconds(bodies: Sequence[bytes], repeat: int = 3) -> float:
    """The best of ``repeat`` CPU times of ``json.loads`` over every body."""
    best = float("inf")
    for _ in range(repeat):
        started = time.process_time()
        for body in bodies:
            json.loads(body)
        best = min(best, time.process_time() - started)
    return best


def measure_floor(
    url: str,
    scopes: Sequence[ScopeSize],
    *,
    developer_token: str,
    access_token: str,
    concurrency: int,
    latency_s: float,
) -> Floor:
    bodies, wall = asyncio.run(
        capture(url, scopes, developer_token=developer_token, access_token=access_token, concurrency=concurrency)
    )
    coupons = sum(len(json.loads(b)["Coupons"]) for b in bodies)
    expected = sum(s.coupons for s in scopes)
    if coupons != expected:
        raise RuntimeError(f"the oracle read {coupons} coupons, the seed has {expected}")
    return Floor(
        calls=len(bodies),
        latency_s=latency_s,
        concurrency=concurrency,
        parse_s=parse_seconds(bodies),
        bytes=sum(len(b) for b in bodies),
        oracle_wall_s=wall,
    )
