"""One apply at a time per journal: a lease row with holder, expiry and heartbeat.

A holder that dies stops renewing; once its lease has expired the next apply takes it over (and resolves
what the dead holder left in doubt). Breaking a live lease by hand is recorded in the journal.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import time
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime

from reconciler.apply.database import Database, JournalError
from reconciler.errors import RefusedError

LOCK_NAME = "apply"
DEFAULT_LEASE_SECONDS = 60.0


@dataclass(frozen=True, slots=True)
class LeaseInfo:
    holder: str
    acquired_at: float
    expires_at: float

    def describe(self, now: float) -> str:
        since = datetime.fromtimestamp(self.acquired_at, UTC).isoformat(timespec="seconds")
        left = max(0.0, self.expires_at - now)
        return f"{self.holder} (since {since}, lease expires in {left:.0f}s unless renewed)"


def default_holder() -> str:
    """Who holds the lock: host, pid and a random suffix, plus the CI run when there is one."""
    run = os.environ.get("GITHUB_RUN_ID")
    where = f" run {run}" if run else ""
    return f"{socket.gethostname()} pid {os.getpid()}{where} [{uuid.uuid4().hex[:8]}]"


class ApplyLock:
    """The lease row lives in the journal's database (SQLite or PostgreSQL), so it works across processes
    and, with PostgreSQL, across CI runners."""

    def __init__(
        self,
        db: Database,
        *,
        lease_seconds: float = DEFAULT_LEASE_SECONDS,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.db = db
        self.lease_seconds = lease_seconds
        self.clock = clock

    def current(self) -> LeaseInfo | None:
        rows = self.db.execute("SELECT holder, acquired_at, expires_at FROM locks WHERE name = ?", (LOCK_NAME,))
        return LeaseInfo(*rows[0]) if rows else None

    def try_acquire(self, holder: str) -> LeaseInfo | None:
        """Take the lease if it is free or expired; return the live holder's lease otherwise."""
        now = self.clock()
        with self.db.transaction():
            current = self.current()
            if current is not None and current.expires_at > now and current.holder != holder:
                return current
            if current is not None and current.holder != holder:
                self._event("expired-taken-over", current.holder, holder, None, now)
            self.db.execute("DELETE FROM locks WHERE name = ?", (LOCK_NAME,))
            self.db.execute(
                "INSERT INTO locks (name, holder, acquired_at, expires_at) VALUES (?, ?, ?, ?)",
                (LOCK_NAME, holder, now, now + self.lease_seconds),
            )
            return None

    def renew(self, holder: str) -> bool:
        """Extend the lease; False if it was lost (broken or taken over)."""
        changed = self.db.execute_count(
            "UPDATE locks SET expires_at = ? WHERE name = ? AND holder = ?",
            (self.clock() + self.lease_seconds, LOCK_NAME, holder),
        )
        return changed == 1

    def release(self, holder: str) -> None:
        self.db.execute("DELETE FROM locks WHERE name = ? AND holder = ?", (LOCK_NAME, holder))

    def break_lock(self, by: str, reason: str) -> LeaseInfo | None:
        """Remove whatever lease there is, recording who broke it and why."""
        with self.db.transaction():
            current = self.current()
            if current is not None:
                self._event("broken", current.holder, by, reason, self.clock())
                self.db.execute("DELETE FROM locks WHERE name = ?", (LOCK_NAME,))
        return current

    def _event(self, event: str, holder: str, by: str, reason: str | None, at: float) -> None:
        self.db.execute(
            "INSERT INTO lock_events (name, event, holder, by, reason, at) VALUES (?, ?, ?, ?, ?, ?)",
            (LOCK_NAME, event, holder, by, reason, at),
        )

    def confirm(self, holder: str) -> None:
        """Renew the lease before an issuing call; refuse to go on if it was lost."""
        if not self.renew(holder):
            raise RefusedError(
                "the apply lock was broken or taken over while this apply ran; stopping before the next call"
            )

    @asynccontextmanager
    async def held(self, holder: str, *, timeout: float = 0.0, poll: float = 1.0) -> AsyncIterator[None]:
        """Hold the lease for the block, renewing it in the background; wait up to ``timeout`` for it.

        Callers renew with :meth:`confirm` before each issuing call as well.
        """
        deadline = self.clock() + timeout
        while (blocker := self.try_acquire(holder)) is not None:
            if self.clock() >= deadline:
                raise RefusedError(
                    f"another apply holds the lock: {blocker.describe(self.clock())}; "
                    "wait for it, pass --lock-timeout, or `couponctl lock break --reason ...` if it is dead"
                )
            await asyncio.sleep(min(poll, max(0.0, deadline - self.clock())))
        heartbeat = asyncio.create_task(self._heartbeat(holder))
        try:
            yield
        finally:
            heartbeat.cancel()
            with contextlib.suppress(JournalError):  # the journal failed: the lease runs out by itself
                self.release(holder)

    async def _heartbeat(self, holder: str) -> None:
        while True:
            await asyncio.sleep(self.lease_seconds / 3)
            try:
                self.renew(holder)
            except JournalError:  # the next renewal before a call fails the same way, and stops the apply
                return
