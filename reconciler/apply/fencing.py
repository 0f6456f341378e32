"""Fencing issuing calls: each request leaves only while its apply provably holds the lease.

Right before each HTTP attempt of an issuing call (retries included) the provider awaits the batch's fence: a
conditional write in the journal (:meth:`Lease.fence`) that extends the lease only if it is still this apply's
generation and unexpired, and stamps the batch's intents with the fence's time, the generation (the fencing
token) and until when the request may be in flight: the fence time plus the fence bound plus the provider's
request timeout. The request must leave within the fence bound of the fence's start, on the monotonic clock;
otherwise it fences again. An apply that takes over reads those stamps: it resolves nothing as not issued before
the request can no longer be in flight (see reconciler.apply.resolve).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping

from reconciler.apply.journal import Journal
from reconciler.apply.lock import FENCE_ATTEMPTS, LOCK_NAME, Lease, LeaseLostError
from reconciler.providers.base import Batch, Fence


class BatchFence:
    """The fence of one batch: awaited before each attempt, and again (``still_fresh``) right before the bytes
    go when the transport can say when that is."""

    def __init__(
        self,
        lease: Lease,
        journal: Journal,
        batch_id: str,
        *,
        name: str,
        in_flight_seconds: float,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._lease = lease
        self._journal = journal
        self._batch_id = batch_id
        self._name = name
        self._in_flight_seconds = in_flight_seconds
        self._monotonic = monotonic
        self._started: float | None = None
        self.fences = 0  # how many fences were written (for tests and logs)

    def _mark(self, now: float, generation: int) -> None:
        self._journal.mark_fenced(self._batch_id, now, generation, now + self._in_flight_seconds)

    async def __call__(self) -> None:
        bound = self._lease.bound
        for _ in range(FENCE_ATTEMPTS):
            started = self._monotonic()
            self._lease.fence(self._mark, self._name)
            self.fences += 1
            if self._monotonic() - started <= bound:
                self._started = started
                return
        self._started = None
        reason = (
            f"writing the fence took longer than the fence bound ({bound:g}s) {FENCE_ATTEMPTS} times: the lease "
            "cannot be proven in time; this apply sends nothing more"
        )
        self._lease.lose(reason)
        raise LeaseLostError(reason)

    async def still_fresh(self) -> None:
        if self._started is None or self._monotonic() - self._started > self._lease.bound:
            await self()


class LeaseFencing:
    """Fences for the batches of one apply, under its lease. ``request_timeouts``: per provider, how long an
    issuing request may be in flight once it left (its write and read timeouts)."""

    def __init__(
        self,
        lease: Lease,
        journal: Journal,
        request_timeouts: Mapping[str, float],
        *,
        name_of: Callable[[Batch], str] | None = None,
    ) -> None:
        if lease.lock.db is not journal.db:
            raise ValueError("a fence must commit in the journal's own write transaction: lock the journal's db")
        self.lease = lease
        self.journal = journal
        self.request_timeouts = request_timeouts
        self._name_of = name_of

    def in_flight_seconds(self, batch: Batch) -> float:
        """How long after a fence the batch's request may still be in flight."""
        return self.lease.bound + self.request_timeouts[batch.scope.provider]

    def fence(self, batch_id: str, batch: Batch) -> Fence:
        name = self._name_of(batch) if self._name_of is not None else LOCK_NAME
        return BatchFence(
            self.lease,
            self.journal,
            batch_id,
            name=name,
            in_flight_seconds=self.in_flight_seconds(batch),
        )
