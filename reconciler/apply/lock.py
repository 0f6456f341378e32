"""Leases in the journal: who may issue, per scope, with a generation that fences every issuing call.

A lease row has a name, a holder, an expiry (``lockLease`` after its last renewal) and a *generation*, a number
that grows with every acquisition of that name (a fencing token). An apply takes one lease per scope it may touch
(named ``provider/owner/class``), all of them in one write transaction or none (so two applies never deadlock, and
an apply never works on some of its scopes while another holds the rest), and one per budget it may add to (named
``budget:NAME``), so that applies sharing a budget check it and issue one after the other, whatever their scopes;
the lease named ``apply`` is the whole journal's and excludes every other (the sandbox commands take it). Applies
of disjoint scopes and budgets run at once.

The holder renews its leases in the background and, right before each issuing request, with a conditional write
that names their generations (:meth:`Lease.fence`): a holder whose lease was broken, taken over or let expire can
no longer write it, and sends nothing more.

A holder that dies stops renewing; once its lease has expired the next apply takes it over (and resolves what
the dead holder left in doubt, once those calls can no longer be in flight). Breaking a live lease by hand is
recorded in the journal.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime

from reconciler.apply.database import Database, Row
from reconciler.errors import ExitCode, JournalError, RefusedError
from reconciler.state.desired import DesiredState, Scope

#: The lease of the whole journal: it conflicts with every other lease.
LOCK_NAME = "apply"
DEFAULT_LEASE_SECONDS = 60.0
#: The most time that may pass, on the monotonic clock, between the start of a fence and the request it
#: fences; less for short leases (a quarter of the lease), so that a fenced request always leaves in its lease.
MAX_FENCE_BOUND_SECONDS = 5.0
#: How many times a fence is tried when writing it takes longer than the bound itself.
FENCE_ATTEMPTS = 3


def fence_bound(lease_seconds: float) -> float:
    """The fence bound for a lease of ``lease_seconds``: a quarter of it, at most MAX_FENCE_BOUND_SECONDS."""
    return min(MAX_FENCE_BOUND_SECONDS, lease_seconds / 4)


def conflicts(name: str, other: str) -> bool:
    """Whether leases of these names exclude each other: the same name, or the whole journal's."""
    return name == other or LOCK_NAME in (name, other)


def scope_lease_name(scope: Scope) -> str:
    """The lease of one scope: ``provider/owner/class``, as plans and `lock status` write the scope."""
    return str(scope)


#: What the name of a budget's lease begins with: never a scope's (provider/owner/class) nor the whole journal's.
BUDGET_LEASE_PREFIX = "budget:"


def budget_lease_name(budget: str) -> str:
    """The lease of one budget: every apply that may add to it holds it while it plans and issues, so that two
    applies that share it, on whatever scopes, cannot both fit under what remains of it."""
    return BUDGET_LEASE_PREFIX + budget


def scope_lease_names(desired: DesiredState) -> tuple[str, ...]:
    """The leases an apply of ``desired`` takes, all at once: one per scope it may touch."""
    return tuple(sorted(scope_lease_name(scope) for scope in desired.scopes))


@dataclass(frozen=True, slots=True)
class LeaseInfo:
    holder: str
    acquired_at: float
    expires_at: float
    name: str = LOCK_NAME
    generation: int = 0

    @property
    def what(self) -> str:
        """What it covers: a scope, or the whole journal."""
        return "the whole journal" if self.name == LOCK_NAME else self.name

    def describe(self, now: float) -> str:
        since = datetime.fromtimestamp(self.acquired_at, UTC).isoformat(timespec="seconds")
        left = self.expires_at - now
        state = f"lease expires in {left:.0f}s unless renewed" if left > 0 else "expired: the next apply takes it over"
        generation = f"generation {self.generation}, " if self.generation else ""
        return f"{self.holder} on {self.what} ({generation}since {since}, {state})"


class LeaseLostError(RefusedError):
    """This apply no longer provably holds its lease (broken, taken over, expired, or its heartbeat died): it
    sends nothing more. Its calls already under way may have issued: in doubt (exit 5)."""

    exit_code = ExitCode.IN_DOUBT


def default_holder() -> str:
    """Who holds the lock: host, pid and a random suffix, plus the CI run when there is one."""
    run = os.environ.get("GITHUB_RUN_ID")
    where = f" run {run}" if run else ""
    return f"{socket.gethostname()} pid {os.getpid()}{where} [{uuid.uuid4().hex[:8]}]"


_COLUMNS = "holder, acquired_at, expires_at, name, generation"


def _lease(row: Row) -> LeaseInfo:
    holder, acquired_at, expires_at, name, generation = row
    return LeaseInfo(str(holder), float(acquired_at), float(expires_at), str(name), int(generation))


class ApplyLock:
    """Leases of ``names`` (default: the whole journal's) in the journal's database (SQLite or PostgreSQL), so
    they work across processes and, with PostgreSQL, across CI runners. Every write runs in the database's
    write transaction, which serializes all writers of the journal: taking, renewing and fencing are atomic.

    ``clock`` is the one clock every lease is measured on: by default the journal's (the PostgreSQL server's, or
    the host's for SQLite), never a runner's own wall clock.
    """

    def __init__(
        self,
        db: Database,
        *,
        lease_seconds: float = DEFAULT_LEASE_SECONDS,
        clock: Callable[[], float] | None = None,
        names: Iterable[str] = (LOCK_NAME,),
    ) -> None:
        self.db = db
        self.lease_seconds = lease_seconds
        self.clock: Callable[[], float] = clock or db.now
        self.names = tuple(sorted(set(names)))
        self.generations: dict[str, int] = {}  # what this lock's last acquisition took: name -> generation

    def _all(self) -> list[LeaseInfo]:
        return [_lease(row) for row in self.db.execute(f"SELECT {_COLUMNS} FROM locks ORDER BY name")]

    def _conflicting(self, leases: Iterable[LeaseInfo]) -> list[LeaseInfo]:
        return [lease for lease in leases if any(conflicts(lease.name, name) for name in self.names)]

    def current(self) -> LeaseInfo | None:
        """The lease that stands in this lock's way (live or not), if any."""
        found = self.standing()
        return found[0] if found else None

    def standing(self) -> list[LeaseInfo]:
        """Every lease that stands in this lock's way (live or expired), by name."""
        return self._conflicting(self._all())

    def leases(self) -> list[LeaseInfo]:
        """Every lease row of the journal, by name."""
        return self._all()

    def try_acquire(self, holder: str) -> LeaseInfo | None:
        """Take every lease of ``names`` at once if none is held live by another holder; return such a live
        lease otherwise (and take nothing). Each lease taken gets the next generation of its name."""
        with self.db.transaction():
            now = self.clock()
            standing = self._conflicting(self._all())
            for lease in standing:
                if lease.expires_at > now and lease.holder != holder:
                    return lease
            for lease in standing:
                if lease.holder != holder:
                    self._event("expired-taken-over", lease.holder, holder, None, now, lease.name)
                self.db.execute("DELETE FROM locks WHERE name = ?", (lease.name,))
            taken = {}
            for name in self.names:
                taken[name] = generation = self._next_generation(name)
                self.db.execute(
                    "INSERT INTO locks (name, holder, acquired_at, expires_at, generation) VALUES (?, ?, ?, ?, ?)",
                    (name, holder, now, now + self.lease_seconds, generation),
                )
        self.generations = taken
        return None

    def _next_generation(self, name: str) -> int:
        rows = self.db.execute("SELECT generation FROM lease_generations WHERE name = ?", (name,))
        generation = (int(rows[0][0]) if rows else 0) + 1
        if rows:
            self.db.execute("UPDATE lease_generations SET generation = ? WHERE name = ?", (generation, name))
        else:
            self.db.execute("INSERT INTO lease_generations (name, generation) VALUES (?, ?)", (name, generation))
        return generation

    def _extend(self, holder: str, now: float, *, fenced: bool = False) -> bool:
        """Within a write transaction: extend every lease this lock took, only if each is still this holder's,
        of the generation taken, and unexpired at ``now`` (one statement, however many scopes). False when any is
        not (the caller then writes nothing that matters, or rolls back)."""
        names = self.generations or dict.fromkeys(self.names)
        if not names:
            return True
        conditions: list[str] = []
        params: list[object] = [now + self.lease_seconds, *([now] if fenced else []), holder, now]
        for name, generation in names.items():
            if generation is None:
                conditions.append("name = ?")
                params.append(name)
            else:
                conditions.append("(name = ? AND generation = ?)")
                params.extend((name, generation))
        sql = (
            "UPDATE locks SET expires_at = ?"
            + (", fenced_at = ?" if fenced else "")
            + f" WHERE holder = ? AND expires_at > ? AND ({' OR '.join(conditions)})"
        )
        return self.db.execute_count(sql, params) == len(names)

    def renew(self, holder: str) -> bool:
        """Extend the lease; False if it was lost (broken, taken over, or expired unrenewed)."""
        with self.db.transaction():
            return self._extend(holder, self.clock())

    def fence(self, holder: str, mark: Callable[[float, int], None], name: str = LOCK_NAME) -> None:
        """The fence before an issuing request: in one write transaction, extend the lease only if it is still
        this holder's generation and unexpired, and let ``mark(now, generation)`` stamp the request's intents
        (``name`` is the lease that covers them). Raises LeaseLostError, writing nothing, otherwise."""
        with self.db.transaction():
            now = self.clock()
            if not self._extend(holder, now, fenced=True):
                raise LeaseLostError(self._lost_message(holder))
            mark(now, self.generations.get(name, self.generations.get(LOCK_NAME, 0)))

    def guard(self, holder: str) -> None:
        """Within a write transaction: raise LeaseLostError unless every lease this lock took is still this
        holder's generation and unexpired (for writes only the holder may make, such as resolutions)."""
        now = self.clock()
        for name, generation in self.generations.items():
            rows = self.db.execute(
                "SELECT 1 FROM locks WHERE name = ? AND holder = ? AND generation = ? AND expires_at > ?",
                (name, holder, generation, now),
            )
            if not rows:
                raise LeaseLostError(self._lost_message(holder))

    def _lost_message(self, holder: str) -> str:
        return (
            f"the apply lock was broken or taken over while this apply ran, or expired unrenewed ({holder}); "
            "this apply sends nothing more"
        )

    def release(self, holder: str) -> None:
        with self.db.transaction():
            for name in self.generations or dict.fromkeys(self.names):
                self.db.execute("DELETE FROM locks WHERE name = ? AND holder = ?", (name, holder))

    def break_lock(self, by: str, reason: str) -> LeaseInfo | None:
        """Remove whatever lease stands in this lock's way, recording who broke it and why."""
        broken = self.break_leases(by, reason)
        return broken[0] if broken else None

    def break_leases(self, by: str, reason: str) -> list[LeaseInfo]:
        """Remove every lease that stands in this lock's way, recording each."""
        with self.db.transaction():
            now = self.clock()
            standing = self._conflicting(self._all())
            for lease in standing:
                self._event("broken", lease.holder, by, reason, now, lease.name)
                self.db.execute("DELETE FROM locks WHERE name = ? AND holder = ?", (lease.name, lease.holder))
        return standing

    def _event(self, event: str, holder: str, by: str, reason: str | None, at: float, name: str) -> None:
        self.db.execute(
            "INSERT INTO lock_events (name, event, holder, by, reason, at) VALUES (?, ?, ?, ?, ?, ?)",
            (name, event, holder, by, reason, at),
        )

    def confirm(self, holder: str) -> None:
        """Renew the lease; refuse to go on (LeaseLostError) if it was lost."""
        if not self.renew(holder):
            raise LeaseLostError(self._lost_message(holder))

    @asynccontextmanager
    async def held(self, holder: str, *, timeout: float = 0.0, poll: float = 1.0) -> AsyncIterator[Lease]:
        """Hold the leases for the block, renewing them in the background; wait up to ``timeout`` seconds (on
        the monotonic clock) for them. Yields the :class:`Lease`, whose fences precede every issuing call."""
        deadline = time.monotonic() + timeout
        while (blocker := self.try_acquire(holder)) is not None:
            if time.monotonic() >= deadline:
                scope = "" if blocker.name == LOCK_NAME else f" {blocker.name}"
                raise RefusedError(
                    f"another apply holds the lock: {blocker.describe(self.clock())}; wait for it, pass "
                    f"--lock-timeout, or `couponctl lock break --reason ...{scope}` if it is dead"
                )
            await asyncio.sleep(min(poll, max(0.0, deadline - time.monotonic())))
        lease = Lease(self, holder)
        lease.heartbeat = asyncio.create_task(self._heartbeat(lease))
        try:
            yield lease
        finally:
            lease.heartbeat.cancel()
            with contextlib.suppress(JournalError, LeaseLostError):  # a lost lease, a dead journal: it runs out
                if lease.lost is None:
                    self.release(holder)

    async def _heartbeat(self, lease: Lease) -> None:
        """Renew every third of the lease. A lease found lost, a journal that fails, or anything else that ends
        this task is recorded on the lease: the next fence refuses, and the apply sends nothing more."""
        try:
            while True:
                await asyncio.sleep(self.lease_seconds / 3)
                if not self.renew(lease.holder):
                    lease.lose(self._lost_message(lease.holder))
                    return
        except asyncio.CancelledError:
            raise
        except JournalError as exc:
            lease.lose(f"the lease could not be renewed: {exc}", exc)
        except Exception as exc:  # a heartbeat that dies must never go unnoticed
            lease.lose(f"the lease's heartbeat died: {type(exc).__name__}: {exc}")


class Lease:
    """The leases one apply holds: what its fences and guarded writes name, and whether they are known lost.

    ``check`` is cheap (no database): it refuses once the heartbeat found the lease lost, or died. ``fence``
    and ``guard`` ask the journal itself.
    """

    def __init__(self, lock: ApplyLock, holder: str) -> None:
        self.lock = lock
        self.holder = holder
        self.lost: str | None = None
        self.error: JournalError | None = None
        self.heartbeat: asyncio.Task[None] | None = None

    @property
    def bound(self) -> float:
        """The fence bound of this lease, in seconds."""
        return fence_bound(self.lock.lease_seconds)

    def lose(self, reason: str, error: JournalError | None = None) -> None:
        if self.lost is None:
            self.lost, self.error = reason, error

    def check(self) -> None:
        """Raise if the lease is known lost: the journal's error when it failed, LeaseLostError otherwise."""
        task = self.heartbeat
        if self.lost is None and task is not None and task.done() and not task.cancelled():
            self.lose("the lease's heartbeat stopped")
        if self.lost is not None:
            if self.error is not None:
                raise self.error
            raise LeaseLostError(self.lost)

    def fence(self, mark: Callable[[float, int], None], name: str = LOCK_NAME) -> None:
        """The conditional write before an issuing request (see :meth:`ApplyLock.fence`); a refusal or a journal
        failure marks the lease lost."""
        self.check()
        try:
            self.lock.fence(self.holder, mark, name)
        except LeaseLostError as exc:
            self.lose(str(exc))
            raise
        except JournalError as exc:
            self.lose(f"the lease could not be proven: {exc}", exc)
            raise

    def verify(self) -> None:
        """Ask the journal whether the lease is still held; LeaseLostError (and the lease marked lost) if not."""
        with self.lock.db.transaction():
            self.guard()

    def guard(self) -> None:
        """Within a write transaction: raise unless the lease is still held (see :meth:`ApplyLock.guard`)."""
        self.check()
        try:
            self.lock.guard(self.holder)
        except LeaseLostError as exc:
            self.lose(str(exc))
            raise
