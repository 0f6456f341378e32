"""The journal: a durable, append-only record of every issuing call (SQLite in WAL mode, or PostgreSQL).

The intent (state PENDING) is committed before the request leaves the process; the outcome right after
the response. Targets couponctl ever issued to (or may have) are what the planner calls *managed*.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import NamedTuple

from reconciler.apply.database import DDL_TYPES, Database, Row, open_database
from reconciler.config.redaction import scrub
from reconciler.errors import JournalError
from reconciler.governance.budgets import Spending
from reconciler.governance.model import Override
from reconciler.providers.base import Batch, BatchResult, Outcome
from reconciler.state.desired import Scope, Target, TargetKind

MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE runs (
        id TEXT PRIMARY KEY,
        plan_checksum TEXT NOT NULL,
        tool_version TEXT NOT NULL,
        actor TEXT,
        git_commit TEXT,
        started_at TEXT NOT NULL,
        ended_at TEXT,
        outcome TEXT
    );
    CREATE TABLE items (
        id {id},
        run_id TEXT NOT NULL REFERENCES runs(id),
        batch_id TEXT NOT NULL,
        operation TEXT NOT NULL,
        provider TEXT NOT NULL,
        owner TEXT NOT NULL,
        coupon_class TEXT NOT NULL,
        target_kind TEXT NOT NULL,
        target_value TEXT NOT NULL,
        amount TEXT,
        state TEXT NOT NULL,
        code TEXT,
        message TEXT,
        tracking_id TEXT,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
    );
    CREATE INDEX items_scope ON items (provider, owner, coupon_class, target_kind, target_value);
    CREATE INDEX items_batch ON items (batch_id);
    """,
    """
    ALTER TABLE items ADD COLUMN resolved_at TEXT;
    ALTER TABLE items ADD COLUMN resolved_by TEXT;
    ALTER TABLE items ADD COLUMN resolution_reason TEXT;
    CREATE INDEX runs_checksum ON runs (plan_checksum);
    """,
    """
    ALTER TABLE runs ADD COLUMN override_reason TEXT;
    """,
    """
    CREATE TABLE IF NOT EXISTS locks (
        name TEXT PRIMARY KEY,
        holder TEXT NOT NULL,
        acquired_at {float} NOT NULL,
        expires_at {float} NOT NULL
    );
    CREATE TABLE IF NOT EXISTS lock_events (
        id {id},
        name TEXT NOT NULL,
        event TEXT NOT NULL,
        holder TEXT NOT NULL,
        by TEXT NOT NULL,
        reason TEXT,
        at {float} NOT NULL
    );
    """,
    """
    ALTER TABLE items ADD COLUMN currency TEXT;
    """,
    """
    ALTER TABLE items ADD COLUMN request_id TEXT;
    """,
    """
    CREATE INDEX items_batch_target ON items (batch_id, target_kind, target_value);
    """,
    """
    CREATE TABLE journal_identity (id TEXT NOT NULL, created_at TEXT NOT NULL);
    INSERT INTO journal_identity (id, created_at) VALUES ({random_id}, {now_text});
    """,
    # Read lag as apply's reads observe it (issue 12): for an ISSUED item, how long after its answer the latest
    # read still did not show its target (unseen_s), and, once a read showed it, how long reads had missed it
    # (read_lag_s; 0 when the first read after its answer showed it).
    """
    ALTER TABLE items ADD COLUMN unseen_s {float};
    ALTER TABLE items ADD COLUMN read_lag_s {float};
    """,
    # Issued late (issue 12): an item resolved as not issued whose coupon a read later showed after all. Its state
    # becomes ISSUED_LATE; the resolution stays recorded beside when and why it was found.
    """
    ALTER TABLE items ADD COLUMN late_at TEXT;
    ALTER TABLE items ADD COLUMN late_reason TEXT;
    """,
    # Fencing: a lease's generation (its fencing token, counted per name across releases), when it was last
    # fenced; per intent, the last fence (time and generation) and until when its request may be in flight.
    """
    ALTER TABLE locks ADD COLUMN generation BIGINT NOT NULL DEFAULT 0;
    ALTER TABLE locks ADD COLUMN fenced_at {float};
    CREATE TABLE IF NOT EXISTS lease_generations (name TEXT PRIMARY KEY, generation BIGINT NOT NULL);
    ALTER TABLE items ADD COLUMN fence_generation BIGINT;
    ALTER TABLE items ADD COLUMN fenced_at {float};
    ALTER TABLE items ADD COLUMN in_flight_until {float};
    """,
    # Governance (issue 15): per item, the manifest that declared it and that manifest's labels (a JSON object) as
    # they were when its intent was recorded, so that a budget's label selector judges spending by what was true
    # when the money went out; per run, the reviewed overrides its plan carried (a JSON list) and the commit
    # reviewed. Budgets read items by when their intent was recorded.
    """
    ALTER TABLE items ADD COLUMN manifest TEXT;
    ALTER TABLE items ADD COLUMN labels TEXT;
    ALTER TABLE runs ADD COLUMN overrides TEXT;
    ALTER TABLE runs ADD COLUMN reviewed_commit TEXT;
    CREATE INDEX items_created ON items (created_at);
    """,
    # Notifications (issue 16): each delivery tried after an apply, to which destination, of which event and run,
    # how many attempts, and how it ended (delivered or failed, with the last error).
    """
    CREATE TABLE IF NOT EXISTS notifications (
        id {id},
        destination TEXT NOT NULL,
        event TEXT NOT NULL,
        run_id TEXT,
        attempts INTEGER NOT NULL,
        status TEXT NOT NULL,
        error TEXT,
        at TEXT NOT NULL
    );
    """,
)

PENDING = "PENDING"
ISSUED = "ISSUED"
FAILED = "FAILED"
IN_DOUBT = "IN_DOUBT"
RESOLVED_ISSUED = "RESOLVED_ISSUED"
RESOLVED_NOT_ISSUED = "RESOLVED_NOT_ISSUED"
#: Resolved as not issued, then found issued after all by a later read: the coupon was paid.
ISSUED_LATE = "ISSUED_LATE"
#: States in which the target holds (or may hold) a coupon couponctl issued.
HOLDING_STATES = (ISSUED, RESOLVED_ISSUED, ISSUED_LATE)
#: States whose money a budget counts as spent: the vendor answered issued (ISSUED), a read showed an in-doubt call
#: issued (RESOLVED_ISSUED), or a call resolved as not issued was found issued after all (ISSUED_LATE).
SPENT_STATES = HOLDING_STATES
#: States whose money is in doubt, which a budget counts as spent until it is resolved: an intent without an answer
#: (PENDING: a run under way, or one that died between intent and answer) and an answer that gave out (IN_DOUBT).
#: FAILED and RESOLVED_NOT_ISSUED items paid nothing.
DOUBT_STATES = (PENDING, IN_DOUBT)

_STATE_OF: dict[Outcome, str] = {Outcome.ISSUED: ISSUED, Outcome.FAILED: FAILED, Outcome.IN_DOUBT: IN_DOUBT}


@dataclass(frozen=True, slots=True)
class JournalIdentity:
    id: str
    runs: int


@dataclass(frozen=True, slots=True)
class RunInfo:
    id: str
    plan_checksum: str
    started_at: str
    ended_at: str | None
    outcome: str | None
    actor: str | None = None
    items: int = 0


#: The columns of RunInfo, as selected from ``runs`` (the item count counted from ``items``).
_RUN_COLUMNS = (
    "id, plan_checksum, started_at, ended_at, outcome, actor, (SELECT count(*) FROM items WHERE items.run_id = runs.id)"
)


def _run(row: Row) -> RunInfo:
    return RunInfo(row[0], row[1], row[2], row[3], row[4], row[5], int(row[6]))


def _amount_text(amount: Decimal | None) -> str | None:
    return None if amount is None else str(amount)


def iso(moment: float) -> str:
    """A moment of the journal's clock (seconds since the epoch) as the journal's timestamps write it."""
    return datetime.fromtimestamp(moment, UTC).isoformat(timespec="microseconds")


def _iso_of(moment: datetime) -> str:
    """An aware datetime as the journal's timestamps write it (text that sorts as the moments do)."""
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def _json(value: object) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def _overrides_json(overrides: Sequence[Override]) -> str:
    return _json([{"name": o.name, "reason": o.reason, "actor": o.actor, "commit": o.commit} for o in overrides])


def _labels_from(text: str | None) -> dict[str, str] | None:
    """Labels as recorded with an intent (None: not recorded, or not a JSON object of strings)."""
    if text is None:
        return None
    try:
        value = json.loads(text)
    except ValueError:
        return None
    if not isinstance(value, dict):
        return None
    return {str(key): str(label) for key, label in value.items()}


def _decimal(text: str | None) -> Decimal | None:
    if text is None:
        return None
    try:
        return Decimal(text)
    except ArithmeticError:
        return None


class Journal:
    """One journal (a SQLite file or a PostgreSQL database). Every write commits before returning.

    ``location`` is a path, a ``postgresql://`` URL, or a ``${env:NAME}`` reference to either. Its timestamps
    come from ``clock``, by default the database's (:meth:`Database.now`: the PostgreSQL server's clock, or the
    host's for SQLite), the one clock that lease expiry, in-doubt ages and plan ages are measured on: runners'
    own wall clocks are never compared with each other.
    """

    def __init__(
        self,
        location: str | Path,
        environ: Mapping[str, str] | None = None,
        *,
        clock: Callable[[], float] | None = None,
    ) -> None:
        self.location = str(location)
        self.environ: Mapping[str, str] = os.environ if environ is None else environ
        self.db: Database = open_database(self.location, self.environ)
        self.clock: Callable[[], float] = clock or self.db.now
        try:
            self._migrate()
        except JournalError:
            self.db.close()
            raise
        except Exception as exc:
            self.db.close()
            raise JournalError(f"cannot prepare the journal {self.db.location}: {type(exc).__name__}: {exc}") from exc

    def _migrate(self) -> None:
        """Apply the missing migrations, each in its own transaction; safe when processes race to do it.

        A journal already at this version is opened without writing anything, so the read-only credentials
        of plan and drift can open a shared journal. ``is_new`` tells whether this open created it.
        """
        self.is_new = self._current_version() == 0
        if not self.is_new and self._current_version() == len(MIGRATIONS):
            return
        types = DDL_TYPES[self.db.dialect]
        for number, script in enumerate(MIGRATIONS):
            with self.db.transaction():
                if self._current_version() > number:
                    continue
                for statement in filter(str.strip, script.format(**types).split(";")):
                    self.db.execute(statement)
                self.db.set_schema_version(number + 1)

    def _current_version(self) -> int:
        version = self.db.schema_version()
        if version > len(MIGRATIONS):
            raise JournalError(
                f"the journal {self.db.location} has schema version {version}, newer than this couponctl knows"
            )
        return version

    def close(self) -> None:
        self.db.close()

    def identity(self) -> JournalIdentity:
        """Which journal this is (a random id made with it) and how many runs it holds: a plan records both, and
        apply refuses a plan made against another journal, or against a later state of this one."""
        rows = self.db.execute("SELECT id FROM journal_identity")
        runs = int(self.db.execute("SELECT count(*) FROM runs")[0][0])
        return JournalIdentity(str(rows[0][0]) if rows else "", runs)

    def now(self) -> datetime:
        """Now on the journal's clock."""
        return datetime.fromtimestamp(self.clock(), UTC)

    def _now(self) -> str:
        return iso(self.clock())

    def start_run(
        self,
        plan_checksum: str,
        tool_version: str,
        actor: str | None,
        git_commit: str | None,
        *,
        override_reason: str | None = None,
        overrides: Sequence[Override] = (),
        reviewed_commit: str | None = None,
    ) -> str:
        """Record a run; ``override_reason`` is why a plan over the policy limits was allowed, ``overrides`` the
        reviewed overrides its plan carried (recorded as a JSON list of {name, reason, actor, commit}) and
        ``reviewed_commit`` the commit the reviewed plan was made at."""
        run_id = uuid.uuid4().hex
        with self.db.transaction():
            self.db.execute(
                "INSERT INTO runs (id, plan_checksum, tool_version, actor, git_commit, started_at, override_reason,"
                " overrides, reviewed_commit) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    run_id,
                    plan_checksum,
                    tool_version,
                    actor,
                    git_commit,
                    self._now(),
                    override_reason,
                    _overrides_json(overrides),
                    reviewed_commit,
                ),
            )
        return run_id

    def finish_run(self, run_id: str, outcome: str) -> None:
        with self.db.transaction():
            self.db.execute("UPDATE runs SET ended_at = ?, outcome = ? WHERE id = ?", (self._now(), outcome, run_id))
        self.db.checkpoint()  # a finished run is in the main file: a copy of the file alone holds it

    def record_intent(
        self,
        run_id: str,
        batch: Batch,
        money: Money | None = None,
        *,
        in_flight_seconds: float | None = None,
        labels: Mapping[str, Mapping[str, str]] | None = None,
    ) -> str:
        """Commit one PENDING row per item of the batch, with the money at stake; returns the batch id.

        An item's amount is its own (aliyun) or the class's face value (msads); ``money`` holds the scope's
        face amount (if any) and currency, from the plan. ``in_flight_seconds``: how long after now its request
        may still be in flight if it left right away (the fence bound plus the request timeout); each fence
        moves that moment on (:meth:`mark_fenced`). Each item records the manifest that declares it and, from
        ``labels`` (each manifest's labels: DesiredState.labels), that manifest's labels as they are now, which
        budgets judge it by ever after (None: not recorded).
        """
        batch_id = uuid.uuid4().hex
        moment = self.clock()
        now = iso(moment)
        until = None if in_flight_seconds is None else moment + in_flight_seconds
        scope = batch.scope
        unit_amount, currency = money or Money()
        labels_text = (
            None
            if labels is None
            else {item.manifest: _json(dict(labels.get(item.manifest, {}))) for item in batch.items}
        )
        rows = [
            (
                run_id,
                batch_id,
                batch.operation,
                scope.provider,
                scope.owner,
                scope.coupon_class,
                item.target.kind.value,
                item.target.value,
                _amount_text(item.amount if item.amount is not None else unit_amount),
                currency,
                PENDING,
                now,
                now,
                until,
                item.manifest,
                None if labels_text is None else labels_text[item.manifest],
            )
            for item in batch.items
        ]
        with self.db.transaction():
            self.db.executemany(
                "INSERT INTO items (run_id, batch_id, operation, provider, owner, coupon_class, target_kind,"
                " target_value, amount, currency, state, created_at, updated_at, in_flight_until, manifest, labels)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                rows,
            )
        return batch_id

    def mark_fenced(self, batch_id: str, now: float, generation: int, in_flight_until: float) -> None:
        """Stamp a batch's PENDING intents with a fence: its time and lease generation, and until when their
        request may be in flight. Runs inside the fence's write transaction (see ApplyLock.fence)."""
        self.db.execute(
            "UPDATE items SET fenced_at = ?, fence_generation = ?, in_flight_until = ?"
            " WHERE batch_id = ? AND state = 'PENDING'",
            (now, generation, in_flight_until, batch_id),
        )

    def record_outcome(self, batch_id: str, result: BatchResult) -> None:
        """Record what the call answered. The call is over: its items are no longer in flight from now."""
        moment = self.clock()
        now = iso(moment)
        rows = [
            (
                _STATE_OF[r.outcome],
                None if r.code is None else scrub(r.code),
                None if r.message is None else scrub(r.message),  # vendor text: never a secret in the journal
                result.tracking_id,
                result.request_id,
                now,
                moment,
                batch_id,
                r.item.target.kind.value,
                r.item.target.value,
            )
            for r in result.results
        ]
        with self.db.transaction():
            self.db.executemany(
                "UPDATE items SET state = ?, code = ?, message = ?, tracking_id = ?, request_id = ?, updated_at = ?,"
                " in_flight_until = ?"
                " WHERE batch_id = ? AND target_kind = ? AND target_value = ? AND state = 'PENDING'",
                rows,
            )

    def records_of(self, providers: Collection[str]) -> Records:
        """How many items, in how many runs, the journal holds for these providers."""
        if not providers:
            return Records(0, 0)
        marks = ", ".join("?" for _ in providers)
        rows = self.db.execute(
            f"SELECT count(*), count(DISTINCT run_id) FROM items WHERE provider IN ({marks})", sorted(providers)
        )
        return Records(int(rows[0][0]), int(rows[0][1]))

    def forget(self, providers: Collection[str]) -> Records:
        """Delete every item of these providers, and the runs left without items, in one transaction.

        Only for a simulator's providers whose store was emptied: their records would count coupons that no
        longer exist. Returns what was deleted (the runs counted are those that had such items).
        """
        if not providers:
            return Records(0, 0)
        marks = ", ".join("?" for _ in providers)
        names = sorted(providers)
        with self.db.transaction():
            runs = [
                row[0]
                for row in self.db.execute(f"SELECT DISTINCT run_id FROM items WHERE provider IN ({marks})", names)
            ]
            deleted = self.db.execute_count(f"DELETE FROM items WHERE provider IN ({marks})", names)
            for run_id in runs:
                self.db.execute(
                    "DELETE FROM runs WHERE id = ? AND NOT EXISTS (SELECT 1 FROM items WHERE run_id = ?)",
                    (run_id, run_id),
                )
        return Records(deleted, len(runs))

    def record_notification(
        self, destination: str, event: str, run_id: str | None, attempts: int, status: str, error: str | None
    ) -> None:
        """Record one notification delivery (its error scrubbed of secrets)."""
        with self.db.transaction():
            self.db.execute(
                "INSERT INTO notifications (destination, event, run_id, attempts, status, error, at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                (destination, event, run_id, attempts, status, None if error is None else scrub(error), self._now()),
            )

    def notifications(self, limit: int = 100) -> list[NotificationRecord]:
        """The latest notification deliveries, newest first."""
        rows = self.db.execute(
            "SELECT destination, event, run_id, attempts, status, error, at FROM notifications"
            " ORDER BY at DESC, id DESC LIMIT ?",
            (limit,),
        )
        return [
            NotificationRecord(
                str(r[0]),
                str(r[1]),
                None if r[2] is None else str(r[2]),
                int(r[3]),
                str(r[4]),
                None if r[5] is None else str(r[5]),
                str(r[6]),
            )
            for r in rows
        ]

    def runs(self, limit: int = 20) -> list[RunInfo]:
        """The latest runs, newest first."""
        rows = self.db.execute(f"SELECT {_RUN_COLUMNS} FROM runs ORDER BY started_at DESC LIMIT ?", (limit,))
        return [_run(row) for row in rows]

    def runs_starting_with(self, prefix: str) -> list[RunInfo]:
        """The runs whose id starts with ``prefix`` (ids are lower-case hex), oldest first."""
        pattern = prefix.lower().replace("!", "!!").replace("%", "!%").replace("_", "!_") + "%"
        rows = self.db.execute(
            f"SELECT {_RUN_COLUMNS} FROM runs WHERE id LIKE ? ESCAPE '!' ORDER BY started_at", (pattern,)
        )
        return [_run(row) for row in rows]

    # --- reading the journal back: overlay for the planner, in-doubt items, runs ---

    def overlay(self, scopes: set[Scope], current_run: str | None = None) -> dict[Scope, JournalOverlay]:
        """Per scope: targets issued, targets in doubt, targets ever managed.

        A PENDING row of another run means that run died between intent and outcome: in doubt.
        """
        result: dict[Scope, JournalOverlay] = {}
        rows = self.db.execute(
            "SELECT id, run_id, provider, owner, coupon_class, target_kind, target_value, state, created_at,"
            " updated_at, in_flight_until FROM items WHERE state != 'FAILED' ORDER BY id"
        )
        for item_id, run_id, provider, owner, coupon_class, kind, value, state, created_at, updated_at, until in rows:
            scope = Scope(provider, owner, coupon_class)
            if scope not in scopes:
                continue
            entry = result.setdefault(scope, JournalOverlay())
            target = Target(TargetKind(kind), value)
            if state in HOLDING_STATES:
                entry.issued.add(target)
                entry.in_doubt.pop(target, None)
                entry.managed.add(target)
            elif state == IN_DOUBT or (state == PENDING and run_id != current_run):
                if target not in entry.issued:
                    in_doubt = InDoubtItem(item_id, run_id, created_at, state, updated_at, until)
                    entry.in_doubt.setdefault(target, []).append(in_doubt)
                entry.managed.add(target)
            elif state == RESOLVED_NOT_ISSUED:
                entry.in_doubt.pop(target, None)
        return result

    def late_candidates(self, scopes: Collection[Scope]) -> dict[Scope, dict[Target, LateCandidate]]:
        """Per scope and target, for targets with an item resolved as not issued: those items (oldest first) and
        how many of the target's items hold a coupon (ISSUED, RESOLVED_ISSUED, ISSUED_LATE)."""
        wanted = set(scopes)
        found: dict[Scope, dict[Target, LateCandidate]] = {}
        rows = self.db.execute(
            "SELECT id, provider, owner, coupon_class, target_kind, target_value FROM items"
            " WHERE state = 'RESOLVED_NOT_ISSUED' ORDER BY id"
        )
        for item_id, provider, owner, coupon_class, kind, value in rows:
            scope = Scope(provider, owner, coupon_class)
            if scope in wanted:
                found.setdefault(scope, {}).setdefault(
                    Target(TargetKind(kind), value), LateCandidate()
                ).not_issued.append(item_id)
        marks = ", ".join("?" for _ in HOLDING_STATES)
        for scope, targets in found.items():
            for target, entry in targets.items():
                entry.holding = int(
                    self.db.execute(
                        "SELECT count(*) FROM items WHERE provider = ? AND owner = ? AND coupon_class = ?"
                        f" AND target_kind = ? AND target_value = ? AND state IN ({marks})",
                        (
                            scope.provider,
                            scope.owner,
                            scope.coupon_class,
                            target.kind.value,
                            target.value,
                            *HOLDING_STATES,
                        ),
                    )[0][0]
                )
        return found

    def mark_issued_late(self, item_ids: Collection[int], reason: str) -> int:
        """Record items resolved as not issued as ISSUED_LATE: a read showed their coupons after all. The rest of
        the row stays as it was (when and how it was resolved)."""
        now = self._now()
        with self.db.transaction():
            return sum(
                self.db.execute_count(
                    "UPDATE items SET state = 'ISSUED_LATE', late_at = ?, late_reason = ?"
                    " WHERE id = ? AND state = 'RESOLVED_NOT_ISSUED'",
                    (now, reason, item_id),
                )
                for item_id in item_ids
            )

    def scope_items(self, scope: Scope) -> list[ScopeItem]:
        """Every item of one scope, oldest intent first."""
        rows = self.db.execute(
            "SELECT target_kind, target_value, run_id, state, created_at FROM items"
            " WHERE provider = ? AND owner = ? AND coupon_class = ? ORDER BY created_at, id",
            (scope.provider, scope.owner, scope.coupon_class),
        )
        return [
            ScopeItem(Target(TargetKind(kind), value), run_id, state, created)
            for kind, value, run_id, state, created in rows
        ]

    def record_read(self, shown: Mapping[Scope, Collection[Target]], read_at: datetime) -> int:
        """Record what a read, started at ``read_at``, observed of the read lag: for each ISSUED item of the scopes
        read (``shown``: the targets the read showed holding a coupon, per scope) that no read had shown yet, either
        that the read showed it (``read_lag_s``: how long reads had missed it after its answer, 0 if none had) or
        that it still did not (``unseen_s``: how long after its answer). Returns how many items it wrote."""
        if not shown:
            return 0
        rows = self.db.execute(
            "SELECT id, provider, owner, coupon_class, target_kind, target_value, updated_at, unseen_s FROM items"
            " WHERE state = 'ISSUED' AND read_lag_s IS NULL"
        )
        seen: list[tuple[float, int]] = []
        unseen: list[tuple[float, int]] = []
        for item_id, provider, owner, coupon_class, kind, value, answered_at, unseen_s in rows:
            visible = shown.get(Scope(provider, owner, coupon_class))
            if visible is None:
                continue
            if Target(TargetKind(kind), value) in visible:
                seen.append((float(unseen_s or 0.0), item_id))
                continue
            after = (read_at - datetime.fromisoformat(answered_at)).total_seconds()
            if after > 0:  # a read that started before the answer says nothing of the lag
                unseen.append((round(after, 3), item_id))
        if seen or unseen:
            with self.db.transaction():
                if seen:
                    self.db.executemany("UPDATE items SET read_lag_s = ? WHERE id = ?", seen)
                if unseen:
                    self.db.executemany("UPDATE items SET unseen_s = ? WHERE id = ?", unseen)
        return len(seen) + len(unseen)

    def read_lags(self, scopes: Collection[Scope] | None = None) -> dict[Scope, ReadLag]:
        """Per scope (these, or every one), the read lag observed of the items couponctl issued (see
        :meth:`record_read`)."""
        rows = self.db.execute(
            "SELECT provider, owner, coupon_class, max(read_lag_s),"
            " sum(CASE WHEN read_lag_s IS NULL THEN 1 ELSE 0 END), max(CASE WHEN read_lag_s IS NULL THEN unseen_s END)"
            " FROM items WHERE state = 'ISSUED' AND (read_lag_s IS NOT NULL OR unseen_s IS NOT NULL)"
            " GROUP BY provider, owner, coupon_class"
        )
        wanted = None if scopes is None else set(scopes)
        found: dict[Scope, ReadLag] = {}
        for provider, owner, coupon_class, lag, missing, missing_s in rows:
            scope = Scope(provider, owner, coupon_class)
            if wanted is None or scope in wanted:
                found[scope] = ReadLag(
                    None if lag is None else float(lag),
                    int(missing or 0),
                    None if missing_s is None else float(missing_s),
                )
        return found

    def resolve(
        self, item_ids: list[int], state: str, *, by: str, reason: str, guard: Callable[[], None] | None = None
    ) -> int:
        """Record the resolution of in-doubt items; returns how many rows changed. ``guard`` runs first in the
        same write transaction and raises to write nothing (an apply's: unless it still holds its lease)."""
        if state not in (RESOLVED_ISSUED, RESOLVED_NOT_ISSUED):
            raise ValueError(state)
        now = self._now()
        with self.db.transaction():
            if guard is not None:
                guard()
            changed = 0
            for item_id in item_ids:
                changed += self.db.execute_count(
                    "UPDATE items SET state = ?, resolved_at = ?, resolved_by = ?, resolution_reason = ?,"
                    " updated_at = ? WHERE id = ? AND state IN ('IN_DOUBT', 'PENDING')",
                    (state, now, by, reason, now, item_id),
                )
        return changed

    def run_with_checksum(self, plan_checksum: str) -> RunInfo | None:
        rows = self.db.execute(
            "SELECT id, plan_checksum, started_at, ended_at, outcome FROM runs WHERE plan_checksum = ?"
            " ORDER BY started_at LIMIT 1",
            (plan_checksum,),
        )
        return RunInfo(*rows[0]) if rows else None

    def ledger(self) -> list[dict[str, object]]:
        """Every item with its run, in order: for finance reconciliation (columns: LEDGER_COLUMNS)."""
        rows = self.db.execute(
            "SELECT r.id, r.actor, r.git_commit, r.plan_checksum, r.override_reason, i.provider, i.owner,"
            " i.coupon_class, i.target_kind, i.target_value, i.amount, i.currency, i.operation, i.state, i.code,"
            " i.tracking_id, i.request_id, i.created_at, i.updated_at, i.resolved_by, i.resolution_reason,"
            " i.late_at, i.late_reason, i.manifest, i.labels, r.overrides, r.reviewed_commit"
            " FROM items i JOIN runs r ON r.id = i.run_id ORDER BY i.id"
        )
        return [dict(zip(LEDGER_COLUMNS, row, strict=True)) for row in rows]

    def spending(
        self, since: datetime | None, until: datetime | None, *, boundaries: Sequence[datetime] = ()
    ) -> list[Spending]:
        """What budgets count: the items whose intent was recorded in [``since``, ``until``) (None: open) and whose
        money was spent (SPENT_STATES) or is in doubt (DOUBT_STATES), aggregated: one row per scope, manifest and
        labels recorded, currency, amount, state, and segment (the latest of ``boundaries`` at or before the
        intent), with how many items it stands for. Amounts stay decimal text until parsed (never summed as floats
        by the database). Items recorded without labels (before budgets) are told apart by target, for today's
        manifests to judge (reconciler.governance.budgets)."""
        cuts = sorted(boundaries, reverse=True)
        segment = (
            "CASE " + " ".join(f"WHEN created_at >= ? THEN {len(cuts) - n}" for n in range(len(cuts))) + " ELSE 0 END"
            if cuts
            else "0"
        )
        states = (*SPENT_STATES, *DOUBT_STATES)
        sql = (
            "SELECT provider, owner, coupon_class, manifest, labels, CASE WHEN labels IS NULL THEN target_kind END,"
            f" CASE WHEN labels IS NULL THEN target_value END, currency, amount, state, {segment}, count(*)"
            f" FROM items WHERE state IN ({', '.join('?' for _ in states)})"
        )
        params: list[object] = [*(_iso_of(cut) for cut in cuts), *states]
        if since is not None:
            sql += " AND created_at >= ?"
            params.append(_iso_of(since))
        if until is not None:
            sql += " AND created_at < ?"
            params.append(_iso_of(until))
        rows = self.db.execute(sql + " GROUP BY 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11", params)
        ascending = cuts[::-1]
        return [
            Spending(
                scope=Scope(row[0], row[1], row[2]),
                manifest=row[3],
                labels=_labels_from(row[4]),
                currency=row[7],
                amount=_decimal(row[8]),
                in_doubt=row[9] in DOUBT_STATES,
                count=int(row[11]),
                segment=ascending[int(row[10]) - 1] if int(row[10]) else None,
                target=None if row[5] is None else Target(TargetKind(row[5]), row[6]),
            )
            for row in rows
        ]

    def items(self, *, run_id: str | None = None, states: tuple[str, ...] = ()) -> list[JournalItem]:
        sql = (
            "SELECT id, run_id, batch_id, operation, provider, owner, coupon_class, target_kind, target_value,"
            " amount, state, code, message, tracking_id, created_at, updated_at, resolved_by, resolution_reason"
            " FROM items WHERE 1 = 1"
        )
        params: list[str] = []
        if run_id is not None:
            sql += " AND run_id = ?"
            params.append(run_id)
        if states:
            sql += f" AND state IN ({', '.join('?' for _ in states)})"
            params.extend(states)
        rows = self.db.execute(sql + " ORDER BY id", params)
        return [
            JournalItem(
                id=row[0],
                run_id=row[1],
                batch_id=row[2],
                operation=row[3],
                scope=Scope(row[4], row[5], row[6]),
                target=Target(TargetKind(row[7]), row[8]),
                amount=row[9],
                state=row[10],
                code=row[11],
                message=row[12],
                tracking_id=row[13],
                created_at=row[14],
                updated_at=row[15],
                resolved_by=row[16],
                resolution_reason=row[17],
            )
            for row in rows
        ]


LEDGER_COLUMNS = (
    "run_id",
    "actor",
    "git_commit",
    "plan_checksum",
    "override_reason",
    "provider",
    "owner",
    "coupon_class",
    "target_kind",
    "target",
    "amount",
    "currency",
    "operation",
    "state",
    "code",
    "tracking_id",
    "request_id",
    "intent_at",
    "outcome_at",
    "resolved_by",
    "resolution_reason",
    "found_late_at",
    "found_late_reason",
    "manifest",
    "labels",
    "overrides",
    "reviewed_commit",
)


class NotificationRecord(NamedTuple):
    """One notification delivery as the journal recorded it."""

    destination: str
    event: str
    run_id: str | None
    attempts: int
    status: str
    error: str | None
    at: str


class ReadLag(NamedTuple):
    """The read lag apply's reads observed of one scope's ISSUED items.

    ``lag_s``: the longest time reads missed a coupon after its answer before one showed it (None: never
    checked; 0: every one showed at the first read); ``missing``: how many no read has shown yet, of which the
    latest read missed one ``missing_s`` seconds after its answer at most.
    """

    lag_s: float | None = None
    missing: int = 0
    missing_s: float | None = None


class Records(NamedTuple):
    """A count of journal records: items, and the runs they belong to."""

    items: int
    runs: int


class Money(NamedTuple):
    """What one coupon of a scope is worth, as far as the plan knows: its face amount and currency."""

    amount: Decimal | None = None
    currency: str | None = None


@dataclass(frozen=True, slots=True)
class InDoubtItem:
    """An item whose call's outcome is unknown: IN_DOUBT (``updated_at``: when its answer gave out), or PENDING in
    a run that died or lost its lease before any answer. ``in_flight_until``: the moment (journal clock) after which
    its request can no longer be in flight: the answer's time once recorded, else the last fence plus the fence
    bound and the request timeout (None for an intent of a journal from before fencing: then its creation)."""

    item_id: int
    run_id: str
    created_at: str
    state: str = IN_DOUBT
    updated_at: str = ""
    in_flight_until: float | None = None

    @property
    def since(self) -> float:
        """From when its in-doubt window runs: when its call can no longer be in flight."""
        if self.in_flight_until is not None:
            return float(self.in_flight_until)
        if self.state == IN_DOUBT and self.updated_at:
            return datetime.fromisoformat(self.updated_at).timestamp()
        return datetime.fromisoformat(self.created_at).timestamp()


@dataclass
class LateCandidate:
    """A target's items resolved as not issued (ids, oldest first), and how many of its items hold a coupon."""

    not_issued: list[int] = field(default_factory=list)
    holding: int = 0


@dataclass(frozen=True, slots=True)
class ScopeItem:
    """One item of a scope as in-doubt resolution weighs it: when its intent was written, and its state."""

    target: Target
    run_id: str
    state: str
    created_at: str


@dataclass
class JournalOverlay:
    """What the journal knows of one scope."""

    issued: set[Target] = field(default_factory=set)
    in_doubt: dict[Target, list[InDoubtItem]] = field(default_factory=dict)
    managed: set[Target] = field(default_factory=set)


@dataclass(frozen=True, slots=True)
class JournalItem:
    id: int
    run_id: str
    batch_id: str
    operation: str
    scope: Scope
    target: Target
    amount: str | None
    state: str
    code: str | None
    message: str | None
    tracking_id: str | None
    created_at: str
    updated_at: str
    resolved_by: str | None
    resolution_reason: str | None
