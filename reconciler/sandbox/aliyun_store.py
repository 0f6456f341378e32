"""The sandbox store's ResellerTrade tables: AccessKeys, sellers, their end users, templates, coupons, and the
signature nonces already seen. They live in the same SQLite database and use the Store's connection, lock and
transactions (:class:`~reconciler.sandbox.store.Store` owns an :class:`AliyunTables` as ``store.aliyun``).

Read lag (the ``lag-s`` fault) works as for msads: a sent coupon stays invisible to GetCouponPage until its
``visible_at``; a discard shows only from its ``discard_visible_at`` (until then the coupon shows as before).
Limits (PerLimitNum, MaxRelease) are always checked against the true state.
"""

from __future__ import annotations

import sqlite3
from collections import Counter
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import astuple, dataclass
from datetime import UTC, date, datetime
from typing import Any

from reconciler.sandbox.aliyun_seed import AliyunSeed, TemplateSeed
from reconciler.sandbox.records import Hidden, hidden_condition, hidden_parameters

Row = tuple[Any, ...]
Transaction = Callable[[], AbstractContextManager[sqlite3.Connection]]
Read = Callable[[str, Sequence[object]], list[Row]]

DAY_S = 86400.0
FIRST_COUPON_ID = 70_000_001  # coupon ids look like the service's longs, and never collide with template ids

SCHEMA = """
CREATE TABLE IF NOT EXISTS aliyun_access_keys (
    id TEXT PRIMARY KEY,
    secret TEXT NOT NULL,
    security_token TEXT,
    position INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS aliyun_sellers (id INTEGER PRIMARY KEY);
CREATE TABLE IF NOT EXISTS aliyun_users (
    seller_id INTEGER NOT NULL REFERENCES aliyun_sellers (id),
    uid INTEGER NOT NULL,
    PRIMARY KEY (seller_id, uid)
);
CREATE TABLE IF NOT EXISTS aliyun_templates (
    id INTEGER PRIMARY KEY,
    seller_id INTEGER NOT NULL REFERENCES aliyun_sellers (id),
    amount REAL NOT NULL,
    currency TEXT NOT NULL,
    per_limit INTEGER NOT NULL,
    max_release INTEGER,
    valid_days INTEGER,
    start_time REAL,
    end_time REAL
);
CREATE TABLE IF NOT EXISTS aliyun_coupons (
    id INTEGER PRIMARY KEY,
    template_id INTEGER NOT NULL REFERENCES aliyun_templates (id),
    seller_id INTEGER NOT NULL,
    uid INTEGER NOT NULL,
    amount REAL NOT NULL,
    status TEXT NOT NULL,
    start_time REAL NOT NULL,
    end_time REAL NOT NULL,
    sent_at REAL NOT NULL,
    visible_at REAL NOT NULL,
    request_id TEXT,
    discarded_at REAL,
    discard_visible_at REAL
);
CREATE INDEX IF NOT EXISTS aliyun_coupons_by_template ON aliyun_coupons (template_id, uid);
CREATE INDEX IF NOT EXISTS aliyun_coupons_by_seller ON aliyun_coupons (seller_id, template_id, id);
CREATE TABLE IF NOT EXISTS aliyun_nonces (
    access_key_id TEXT NOT NULL,
    nonce TEXT NOT NULL,
    seen_at REAL NOT NULL,
    PRIMARY KEY (access_key_id, nonce)
);
"""

# In the order they can be emptied (references first).
TABLES = ("aliyun_nonces", "aliyun_coupons", "aliyun_templates", "aliyun_users", "aliyun_sellers", "aliyun_access_keys")


@dataclass(frozen=True, slots=True)
class AccessKeyRecord:
    id: str
    secret: str
    security_token: str | None

    def __repr__(self) -> str:
        return f"AccessKeyRecord(id={self.id!r}, secret=***)"


@dataclass(frozen=True, slots=True)
class TemplateRecord:
    id: int
    seller_id: int
    amount: float
    currency: str
    per_limit: int  # 0: no limit
    max_release: int | None  # None: no limit
    valid_days: int | None
    start_time: float | None
    end_time: float | None


@dataclass(slots=True)  # not frozen: one is built per coupon of every page, and a frozen __init__ costs five times more
class AliyunCoupon:
    """A coupon as GetCouponPage sees it at some moment (``status`` already says EXPIRED when it is)."""

    id: int
    template_id: int
    seller_id: int
    uid: int
    amount: float
    currency: str
    status: str
    start_time: float
    end_time: float


@dataclass(frozen=True, slots=True)
class PageQuery:
    """GetCouponPage after validation: the seller's coupons, of one template and of some uids when given."""

    seller_id: int
    template_id: int | None = None
    uids: tuple[int, ...] = ()
    offset: int = 0
    limit: int = 20
    hidden: Hidden | None = None


class SendRefused(Exception):
    """SendCoupon would break a template limit: nothing was sent. ``kind`` is ``per-limit`` or ``max-release``."""

    def __init__(self, kind: str, message: str) -> None:
        self.kind = kind
        super().__init__(message)


def day_start(day: date) -> float:
    return datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp()


class AliyunTables:
    """The ResellerTrade state, over the Store's connection (``tx`` opens a write transaction, ``read`` queries)."""

    def __init__(self, tx: Transaction, read: Read, clock: Callable[[], float]) -> None:
        self._tx = tx
        self._read = read
        self._clock = clock

    def is_empty(self) -> bool:
        (count,) = self._read(
            "SELECT (SELECT count(*) FROM aliyun_access_keys) + (SELECT count(*) FROM aliyun_sellers)", ()
        )[0]
        return bool(count == 0)

    def load(self, seed: AliyunSeed) -> None:
        """Add a checked seed: AccessKeys, sellers with their users and templates, and the templates' coupons."""
        now = self._clock()
        with self._tx() as db:
            for position, key in enumerate(seed.access_keys):
                db.execute(
                    "INSERT INTO aliyun_access_keys VALUES (?, ?, ?, ?)",
                    (key.id, key.secret, key.security_token, position),
                )
            for seller in seed.sellers:
                db.execute("INSERT INTO aliyun_sellers VALUES (?)", (seller.id,))
                db.executemany("INSERT INTO aliyun_users VALUES (?, ?)", ((seller.id, uid) for uid in seller.users))
                for template in seller.templates:
                    record = _insert_template(db, template)
                    for coupon in template.coupons:
                        amount = template.amount if coupon.amount is None else coupon.amount
                        _insert_coupon(db, record, coupon.uid, amount, coupon.status, now=now, visible_at=now)

    # --- credentials ------------------------------------------------------------------------------------

    def access_key(self, key_id: str) -> AccessKeyRecord | None:
        rows = self._read("SELECT id, secret, security_token FROM aliyun_access_keys WHERE id = ?", (key_id,))
        return AccessKeyRecord(*rows[0]) if rows else None

    def first_access_key(self) -> AccessKeyRecord | None:
        rows = self._read("SELECT id, secret, security_token FROM aliyun_access_keys ORDER BY position LIMIT 1", ())
        return AccessKeyRecord(*rows[0]) if rows else None

    def use_nonce(self, key_id: str, nonce: str, *, forget_before: float) -> bool:
        """Record the nonce for the key; False when it was seen before. Nonces older than ``forget_before`` (whose
        timestamps the gateway refuses anyway) are forgotten."""
        with self._tx() as db:
            db.execute("DELETE FROM aliyun_nonces WHERE seen_at < ?", (forget_before,))
            cursor = db.execute("INSERT OR IGNORE INTO aliyun_nonces VALUES (?, ?, ?)", (key_id, nonce, self._clock()))
            return cursor.rowcount == 1

    # --- sellers and templates --------------------------------------------------------------------------

    def seller_exists(self, seller_id: int) -> bool:
        return bool(self._read("SELECT 1 FROM aliyun_sellers WHERE id = ?", (seller_id,)))

    def unrelated(self, seller_id: int, uids: Sequence[int]) -> list[int]:
        """The uids (in order, once each) that are not end users of the seller."""
        known = {
            row[0]
            for row in self._read(
                f"SELECT uid FROM aliyun_users WHERE seller_id = ? AND uid IN ({', '.join('?' * len(uids))})",
                (seller_id, *uids),
            )
        }
        return list(dict.fromkeys(uid for uid in uids if uid not in known))

    def template(self, template_id: int) -> TemplateRecord | None:
        rows = self._read(f"{_TEMPLATE} WHERE id = ?", (template_id,))
        return TemplateRecord(*rows[0]) if rows else None

    # --- coupons ----------------------------------------------------------------------------------------

    def send(
        self, template: TemplateRecord, entries: Sequence[tuple[int, float]], *, visible_at: float
    ) -> list[AliyunCoupon]:
        """One coupon per ``(uid, amount)``, all or none: raise SendRefused when PerLimitNum or MaxRelease would
        be exceeded (every coupon a uid ever got counts, voided ones too)."""
        now = self._clock()
        wanted = Counter(uid for uid, _ in entries)
        with self._tx() as db:
            if template.per_limit:
                for uid, count in wanted.items():
                    (held,) = db.execute(
                        "SELECT count(*) FROM aliyun_coupons WHERE template_id = ? AND uid = ?", (template.id, uid)
                    ).fetchone()
                    if held + count > template.per_limit:
                        raise SendRefused(
                            "per-limit",
                            f"uid {uid} would hold {held + count} coupons of template {template.id}; "
                            f"PerLimitNum is {template.per_limit}",
                        )
            if template.max_release is not None:
                (released,) = db.execute(
                    "SELECT count(*) FROM aliyun_coupons WHERE template_id = ?", (template.id,)
                ).fetchone()
                if released + len(entries) > template.max_release:
                    raise SendRefused(
                        "max-release",
                        f"template {template.id} has released {released} of its MaxRelease {template.max_release}; "
                        f"{len(entries)} more asked for",
                    )
            return [
                _insert_coupon(db, template, uid, amount, "AVAILABLE", now=now, visible_at=visible_at)
                for uid, amount in entries
            ]

    def page(self, query: PageQuery) -> tuple[list[AliyunCoupon], int]:
        """One page of the seller's coupons as GetCouponPage sees them now (by coupon id), and how many match."""
        now = self._clock()
        where = ["c.seller_id = ?", "c.visible_at <= ?"]
        params: list[object] = [query.seller_id, now]
        if query.template_id is not None:
            where.append("c.template_id = ?")
            params.append(query.template_id)
        if query.uids:
            where.append(f"c.uid IN ({', '.join('?' * len(query.uids))})")
            params.extend(query.uids)
        if query.hidden is not None:  # before paging and counting: TotalCount counts what the reads show
            where.append(hidden_condition("c.id"))
            params.extend(hidden_parameters(query.hidden))
        condition = " AND ".join(where)
        (total,) = self._read(f"SELECT count(*) FROM aliyun_coupons c WHERE {condition}", params)[0]
        rows = self._read(
            f"{_COUPON} WHERE {condition} ORDER BY c.id LIMIT ? OFFSET ?", (*params, query.limit, query.offset)
        )
        return [_coupon(row, now) for row in rows], int(total)

    def discard(self, coupon_ids: Sequence[int], *, visible_at: float) -> list[int]:
        """Void the coupons (status ABANDONED). Returns the ids that do not exist, and then voids nothing."""
        now = self._clock()
        with self._tx() as db:
            found = {
                row[0]
                for row in db.execute(
                    f"SELECT id FROM aliyun_coupons WHERE id IN ({', '.join('?' * len(coupon_ids))})", coupon_ids
                )
            }
            missing = [i for i in dict.fromkeys(coupon_ids) if i not in found]
            if missing:
                return missing
            db.executemany(
                "UPDATE aliyun_coupons SET discarded_at = ?, discard_visible_at = ? "
                "WHERE id = ? AND discarded_at IS NULL",
                ((now, visible_at, i) for i in dict.fromkeys(coupon_ids)),
            )
        return []


# --- helpers --------------------------------------------------------------------------------------------

_TEMPLATE = (
    "SELECT id, seller_id, amount, currency, per_limit, max_release, valid_days, start_time, end_time "
    "FROM aliyun_templates"
)
_COUPON = """
SELECT c.id, c.template_id, c.seller_id, c.uid, c.amount, t.currency, c.status, c.start_time, c.end_time,
       c.discarded_at, c.discard_visible_at
FROM aliyun_coupons c JOIN aliyun_templates t ON t.id = c.template_id
"""


def _insert_template(db: sqlite3.Connection, t: TemplateSeed) -> TemplateRecord:
    """The template as stored: ABSOLUTE validity from the first second of ``start_date`` to the last of
    ``end_date`` (UTC)."""
    start = None if t.start_date is None else day_start(t.start_date)
    end = None if t.end_date is None else day_start(t.end_date) + DAY_S - 1
    limits = (t.per_limit, t.max_release, t.valid_days)
    record = TemplateRecord(t.id, t.seller_id, t.amount, t.currency, *limits, start, end)
    db.execute("INSERT INTO aliyun_templates VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", astuple(record))
    return record


def _insert_coupon(
    db: sqlite3.Connection,
    template: TemplateRecord,
    uid: int,
    amount: float,
    status: str,
    *,
    now: float,
    visible_at: float,
) -> AliyunCoupon:
    """A new coupon of the template; valid from now for ValidDays, or over the template's own dates."""
    if template.valid_days is not None:
        start, end = now, now + template.valid_days * DAY_S
    else:
        start = now if template.start_time is None else template.start_time
        end = template.end_time if template.end_time is not None else start + 365 * DAY_S
    cursor = db.execute(
        "INSERT INTO aliyun_coupons (id, template_id, seller_id, uid, amount, status, start_time, end_time, "
        "sent_at, visible_at) VALUES ((SELECT coalesce(max(id), ?) + 1 FROM aliyun_coupons), "
        "?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (FIRST_COUPON_ID - 1, template.id, template.seller_id, uid, amount, status, start, end, now, visible_at),
    )
    assert cursor.lastrowid is not None
    return AliyunCoupon(
        cursor.lastrowid, template.id, template.seller_id, uid, amount, template.currency, status, start, end
    )


def _coupon(row: Row, now: float) -> AliyunCoupon:
    """A row as seen at ``now``: a discard not visible yet is not shown; an available coupon past its end is
    EXPIRED."""
    (cid, template_id, seller_id, uid, amount, currency, status, start, end, discarded, discard_visible) = row
    if discarded is not None and discard_visible <= now:
        status = "ABANDONED"
    elif status == "AVAILABLE" and end < now:
        status = "EXPIRED"
    return AliyunCoupon(cid, template_id, seller_id, uid, amount, currency, status, start, end)
