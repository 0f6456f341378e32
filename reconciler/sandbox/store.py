"""The sandbox store: SQLite, in a file or in memory.

It holds customers, their accounts (and the customer each bills to), coupon classes, the coupons minted from
them with every field of the Coupon object, the credentials the sandbox accepts, and a log of every call.
The Alibaba Cloud ResellerTrade tables are ``store.aliyun`` (:mod:`reconciler.sandbox.aliyun_store`).

One connection, shared across threads behind a lock; file stores use WAL so that a served sandbox and an
embedded one can share a file. Times are seconds since the epoch from an injectable clock.

Read lag (the ``lag-s`` fault) lives here: each change to a coupon records when Search may see it, and
:meth:`Store.search` shows each coupon as it was before the changes it may not see yet.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import json
import sqlite3
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import Any

from reconciler.errors import SandboxError
from reconciler.sandbox import aliyun_store
from reconciler.sandbox.records import (
    DRAW_FUNCTION,
    AccessToken,
    Account,
    CallRecord,
    Claim,
    CouponClass,
    CouponQuery,
    CouponRecord,
    Redemption,
    RefreshUse,
    draw,
    hidden_condition,
    hidden_parameters,
)
from reconciler.sandbox.seed import ClassSeed, MsadsSeed, OAuthClientSeed, Seed

Clock = Callable[[], float]
Row = tuple[Any, ...]  # a row as sqlite3 returns it
SCHEMA_VERSION = "3"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS customers (id INTEGER PRIMARY KEY, name TEXT);
CREATE TABLE IF NOT EXISTS accounts (
    id INTEGER PRIMARY KEY,
    number TEXT NOT NULL,
    customer_id INTEGER NOT NULL REFERENCES customers (id),
    bills_to INTEGER NOT NULL REFERENCES customers (id)
);
CREATE TABLE IF NOT EXISTS classes (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    customer_id INTEGER NOT NULL REFERENCES customers (id)
);
CREATE TABLE IF NOT EXISTS coupons (
    id INTEGER PRIMARY KEY,
    code TEXT NOT NULL UNIQUE,
    class_id INTEGER NOT NULL REFERENCES classes (id),
    owner_id INTEGER NOT NULL REFERENCES customers (id),
    class_name TEXT NOT NULL,
    coupon_type TEXT,
    amount REAL NOT NULL,
    spend_threshold REAL NOT NULL,
    currency TEXT,
    percent_off REAL,
    active_duration INTEGER,
    expiration_date TEXT,
    start_date TEXT,
    end_date TEXT,
    send_to_email TEXT,
    send_to_date REAL,
    sent_visible_at REAL,
    claim_account_id INTEGER,
    claim_date REAL,
    claim_feature_id INTEGER,
    claim_notification INTEGER,
    claim_visible_at REAL,
    redeem_account_id INTEGER,
    redemption_date REAL,
    redemption_expiration REAL,
    activation_date REAL,
    balance REAL,
    redeem_visible_at REAL
);
CREATE INDEX IF NOT EXISTS coupons_available ON coupons (class_id, id)
    WHERE send_to_email IS NULL AND claim_account_id IS NULL AND redeem_account_id IS NULL;
CREATE INDEX IF NOT EXISTS coupons_by_owner ON coupons (owner_id);
CREATE INDEX IF NOT EXISTS coupons_by_owner_class ON coupons (owner_id, class_name, id);
CREATE INDEX IF NOT EXISTS coupons_by_owner_start ON coupons (owner_id, start_date, id);
CREATE TABLE IF NOT EXISTS account_history (account_id INTEGER PRIMARY KEY REFERENCES accounts (id));
CREATE TABLE IF NOT EXISTS class_features (
    class_id INTEGER PRIMARY KEY REFERENCES classes (id),
    feature_id INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS developer_tokens (token TEXT PRIMARY KEY, position INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS access_tokens (
    token TEXT PRIMARY KEY,
    customers TEXT,
    expires_at REAL,
    origin TEXT NOT NULL,
    position INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS oauth_clients (
    client_id TEXT PRIMARY KEY,
    client_secret TEXT,
    refresh_token TEXT NOT NULL,
    customers TEXT,
    token_lifetime_s INTEGER NOT NULL,
    refresh_lifetime_s INTEGER NOT NULL,
    revoke_on_rotation INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS refresh_tokens (
    token TEXT PRIMARY KEY,
    client_id TEXT NOT NULL,
    expires_at REAL NOT NULL,
    rotated INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS calls (
    id INTEGER PRIMARY KEY,
    at REAL NOT NULL,
    endpoint TEXT NOT NULL,
    path TEXT NOT NULL,
    status INTEGER NOT NULL,
    outcome TEXT NOT NULL,
    code INTEGER,
    tracking_id TEXT NOT NULL,
    headers TEXT NOT NULL,
    body TEXT NOT NULL
);
"""

_DATA_TABLES = (
    "calls",
    "coupons",
    "class_features",
    "classes",
    "account_history",
    "accounts",
    "customers",
    "developer_tokens",
    "access_tokens",
    "oauth_clients",
    "refresh_tokens",
    *aliyun_store.TABLES,
)

_STRICT_PREDICATES = "strict_predicates"

# Available for issue: not dispatched, not claimed, not redeemed (true state, never lagged).
_AVAILABLE = "send_to_email IS NULL AND claim_account_id IS NULL AND redeem_account_id IS NULL"


def coupon_code(class_name: str, ordinal: int) -> str:
    """A stable 16-character code for the ``ordinal``-th coupon minted from a class."""
    digest = hashlib.sha256(f"{class_name}#{ordinal}".encode()).digest()
    return base64.b32encode(digest).decode()[:16]


class Store:
    """The sandbox's state. ``path`` None keeps it in memory (gone when closed)."""

    def __init__(self, path: Path | None = None, *, clock: Clock = time.time) -> None:
        self.path = path
        self.clock = clock
        self._lock = threading.RLock()
        self._membership = 0  # bumped by every seeding (a reset leaves no coupon to page through)
        self._page_keys = _PageKeys()
        try:
            if path is not None:
                path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(
                ":memory:" if path is None else str(path), check_same_thread=False, isolation_level=None
            )
            self._db.create_function(DRAW_FUNCTION, 1, draw, deterministic=True)
            self._db.execute("PRAGMA busy_timeout = 10000")
            self._db.execute("PRAGMA foreign_keys = ON")
            if path is not None:
                # WAL; commits are not synced to disk (NORMAL): each is still seen by every other connection and
                # process at once (the call log is read by tests the moment a call's answer arrives), and survives
                # this process ending; only an operating-system crash may lose the last ones.
                self._db.execute("PRAGMA journal_mode = WAL")
                self._db.execute("PRAGMA synchronous = NORMAL")
            self._db.executescript(_SCHEMA + aliyun_store.SCHEMA)  # idempotent; executescript commits on its own
            with self._tx() as db:
                db.execute("INSERT OR IGNORE INTO meta VALUES ('schema_version', ?)", (SCHEMA_VERSION,))
                (version,) = db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        except (OSError, sqlite3.Error) as exc:
            raise SandboxError(f"cannot open the sandbox store {self._name}: {exc}") from None
        if version != SCHEMA_VERSION:
            self.close()
            raise SandboxError(
                f"the sandbox store {self._name} has schema version {version}, not {SCHEMA_VERSION}: delete it"
            )
        self.aliyun = aliyun_store.AliyunTables(self._tx, self._read, self.now)

    @property
    def _name(self) -> str:
        return "in memory" if self.path is None else str(self.path)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def now(self) -> float:
        return self.clock()

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def _read(self, sql: str, params: Sequence[object] = ()) -> list[Row]:
        with self._lock:
            return self._db.execute(sql, params).fetchall()

    # --- seeding ----------------------------------------------------------------------------------------

    def is_empty(self) -> bool:
        (count,) = self._read("SELECT (SELECT count(*) FROM customers) + (SELECT count(*) FROM developer_tokens)")[0]
        return bool(count == 0) and self.aliyun.is_empty()

    def reset(self) -> None:
        """Empty every table (the schema stays)."""
        with self._tx() as db:
            for table in _DATA_TABLES:
                db.execute(f"DELETE FROM {table}")  # fixed table names
            db.execute("DELETE FROM meta WHERE key = ?", (_STRICT_PREDICATES,))

    def load_seed(self, seed: Seed) -> None:
        """Add every section of a checked seed file."""
        if seed.msads is not None:
            self.load(seed.msads)
        if seed.aliyun is not None:
            self.aliyun.load(seed.aliyun)

    def load(self, seed: MsadsSeed) -> None:
        """Add a checked seed: customers, accounts, classes (minting their coupons) and credentials."""
        with self._tx() as db:
            db.execute("INSERT INTO developer_tokens VALUES (?, 0)", (seed.developer_token,))
            if seed.strict_predicates:
                db.execute("INSERT OR REPLACE INTO meta VALUES (?, '1')", (_STRICT_PREDICATES,))
            for position, token in enumerate(seed.access_tokens):
                expires = 0.0 if token.expired else None
                db.execute(
                    "INSERT INTO access_tokens VALUES (?, ?, ?, 'seed', ?)",
                    (token.token, _reach_json(token.customers), expires, position),
                )
            for client in seed.oauth_clients:
                db.execute(
                    "INSERT INTO oauth_clients VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (
                        client.client_id,
                        client.client_secret,
                        client.refresh_token,
                        _reach_json(client.customers),
                        client.token_lifetime_s,
                        client.refresh_lifetime_s,
                        int(client.revoke_on_rotation),
                    ),
                )
                expires_at = self.now() + client.refresh_lifetime_s  # issued when the store is seeded
                db.execute(
                    "INSERT INTO refresh_tokens VALUES (?, ?, ?, 0)",
                    (client.refresh_token, client.client_id, expires_at),
                )
            for customer in seed.customers:
                db.execute("INSERT INTO customers VALUES (?, ?)", (customer.id, customer.name))
            for customer in seed.customers:
                for account in customer.accounts:
                    db.execute(
                        "INSERT INTO accounts VALUES (?, ?, ?, ?)",
                        (account.id, account.number, account.customer_id, account.bills_to),
                    )
                    if account.history:
                        db.execute("INSERT INTO account_history VALUES (?)", (account.id,))
                for coupon_class in customer.classes:
                    _mint(db, coupon_class)
            self._membership += 1

    # --- lookups ----------------------------------------------------------------------------------------

    def strict_predicates(self) -> bool:
        """Whether the seed asked for predicate.md's four-character rule on CouponClassName values."""
        return bool(self._read("SELECT 1 FROM meta WHERE key = ?", (_STRICT_PREDICATES,)))

    def customer_exists(self, customer_id: int) -> bool:
        return bool(self._read("SELECT 1 FROM customers WHERE id = ?", (customer_id,)))

    def account(self, account_id: int) -> Account | None:
        rows = self._read("SELECT id, number, customer_id, bills_to FROM accounts WHERE id = ?", (account_id,))
        return Account(*rows[0]) if rows else None

    def coupon_class(self, name: str) -> CouponClass | None:
        rows = self._read("SELECT id, name, customer_id FROM classes WHERE name = ?", (name,))
        return CouponClass(*rows[0]) if rows else None

    def customer_class(self, customer_id: int, name: str) -> CouponClass | None:
        """The class ``name`` of the owner customer ``customer_id`` (DistributeCoupons: the CustomerId header)."""
        rows = self._read(
            "SELECT id, name, customer_id FROM classes WHERE name = ? AND customer_id = ?", (name, customer_id)
        )
        return CouponClass(*rows[0]) if rows else None

    def class_feature(self, class_id: int) -> int | None:
        """The feature id of a feature adoption class; None for any other class."""
        rows = self._read("SELECT feature_id FROM class_features WHERE class_id = ?", (class_id,))
        return int(rows[0][0]) if rows else None

    def fac_owner_class(self, owner_id: int, feature_id: int) -> int | None:
        """A feature adoption class of ``feature_id`` owned by ``owner_id`` (its id), or None."""
        rows = self._read(
            "SELECT c.id FROM classes c JOIN class_features f ON f.class_id = c.id "
            "WHERE c.customer_id = ? AND f.feature_id = ? ORDER BY c.id LIMIT 1",
            (owner_id, feature_id),
        )
        return int(rows[0][0]) if rows else None

    def has_history(self, account_id: int) -> bool:
        """Whether the account is an existing customer's (seeded ``history``) or already redeemed a coupon."""
        seeded = self._read("SELECT 1 FROM account_history WHERE account_id = ?", (account_id,))
        redeemed = self._read("SELECT 1 FROM coupons WHERE redeem_account_id = ? LIMIT 1", (account_id,))
        return bool(seeded or redeemed)

    def feature_claimed(self, account_id: int, feature_id: int) -> bool:
        """Whether the account already holds a coupon of a feature adoption class of ``feature_id``."""
        rows = self._read(
            "SELECT 1 FROM coupons c JOIN class_features f ON f.class_id = c.class_id "
            "WHERE f.feature_id = ? AND (c.claim_account_id = ? OR c.redeem_account_id = ?) LIMIT 1",
            (feature_id, account_id, account_id),
        )
        return bool(rows)

    def held_by_customer(self, customer_id: int) -> list[tuple[CouponRecord, int | None]]:
        """Coupons claimed or redeemed by accounts the customer manages, as reads see them now, with their class's
        feature id (GetCouponInfo)."""
        now = self.now()
        rows = self._read(
            f"{_SELECT} WHERE c.claim_account_id IN (SELECT id FROM accounts WHERE customer_id = ?) "
            "OR c.redeem_account_id IN (SELECT id FROM accounts WHERE customer_id = ?) ORDER BY c.id",
            (customer_id, customer_id),
        )
        features: dict[int, int] = dict(
            self._read(
                "SELECT c.id, f.feature_id FROM coupons c JOIN class_features f ON f.class_id = c.class_id "
                "JOIN accounts a ON a.id IN (c.claim_account_id, c.redeem_account_id) WHERE a.customer_id = ?",
                (customer_id,),
            )
        )
        found = [(_record(row, now), features.get(row[0])) for row in rows]
        return [(record, feature) for record, feature in found if record.claim or record.redemption]

    def claim(self, coupon_id: int, account_id: int, *, feature_id: int, visible_at: float) -> bool:
        """ClaimFeatureAdoptionCoupons: the account claims this coupon if it is still available (atomically)."""
        with self._tx() as db:
            cursor = db.execute(
                "UPDATE coupons SET claim_account_id = ?, claim_date = ?, claim_feature_id = ?, claim_notification = 0,"
                f" claim_visible_at = ? WHERE id = ? AND {_AVAILABLE}",
                (account_id, self.now(), feature_id, visible_at, coupon_id),
            )
            return cursor.rowcount == 1

    def coupon_by_code(self, code: str) -> CouponRecord | None:
        """The coupon's true state (no read lag)."""
        rows = self._read(f"{_SELECT} WHERE c.code = ?", (code,))
        return _record(rows[0], float("inf")) if rows else None

    def search(self, query: CouponQuery) -> list[CouponRecord]:
        """One page of the owner's coupons, as Search sees them now (changes still lagging are not seen).

        Pages are OFFSET pages, but a page that starts where an earlier page of the same query ended starts after
        that page's last coupon instead of skipping ``offset`` rows (see :class:`_PageKeys`): the same page, found
        on the index.
        """
        now = self.now()
        where = ["c.owner_id = ?"]
        params: list[object] = [query.customer_id]
        for name in query.class_names:
            where.append("c.class_name = ?")
            params.append(name)
        for redeemed in query.redeemed:
            where.append(f"{'' if redeemed else 'NOT '}(c.redeem_account_id IS NOT NULL AND c.redeem_visible_at <= ?)")
            params.append(now)
        for day in query.start_on_or_after:
            where.append("c.start_date >= ?")
            params.append(day.isoformat())
        if query.hidden is not None:  # hidden before paging, so that pages stay full and never skip a coupon
            where.append(hidden_condition("c.code"))
            params.extend(hidden_parameters(query.hidden))
        order = _order(query)
        with self._lock:
            if query.offset == 0:
                return self._keyset_page(query, where, params, order, None, now)
            key = self._page_keys.get(query, self._version())
            if key is not None:
                return self._keyset_page(query, where, params, order, key, now)
            # Pages are found on the indexes first (ids only, so skipping OFFSET rows stays cheap), then read whole.
            sql = f"SELECT c.id FROM coupons c WHERE {' AND '.join(where)} ORDER BY {order} LIMIT ? OFFSET ?"
            ids = [row[0] for row in self._db.execute(sql, (*params, query.limit, query.offset))]
            if not ids:
                return []
            rows = self._db.execute(f"{_SELECT} WHERE c.id IN ({', '.join('?' * len(ids))})", ids).fetchall()
            by_id = {row[0]: row for row in rows}
            page = [by_id[coupon_id] for coupon_id in ids]
            self._remember(query, page)
            return [_record(row, now) for row in page]

    def _keyset_page(
        self,
        query: CouponQuery,
        where: list[str],
        params: list[object],
        order: str,
        after: _PageKey | None,
        now: float,
    ) -> list[CouponRecord]:
        """The page of ``query`` that starts right after ``after`` (None: the first page), read in one query."""
        conditions, values = list(where), list(params)
        if after is not None:
            condition, after_values = _after(query, after)
            conditions.append(condition)
            values.extend(after_values)
        sql = f"{_SELECT} WHERE {' AND '.join(conditions)} ORDER BY {order} LIMIT ?"
        page = self._db.execute(sql, (*values, query.limit)).fetchall()
        self._remember(query, page)
        return [_record(row, now) for row in page]

    def _remember(self, query: CouponQuery, page: list[Row]) -> None:
        """Where the next page of ``query`` starts, when this page is full (a short page is the last one)."""
        if len(page) == query.limit:
            self._page_keys.put(query, self._version(), _key_of(query, page[-1]))

    def _version(self) -> tuple[int, int]:
        """Changes to which coupons a query matches: this store's own (seeding) and any other connection's
        commit (``PRAGMA data_version``), after which every remembered page start is forgotten."""
        (data_version,) = self._db.execute("PRAGMA data_version").fetchone()
        return (self._membership, int(data_version))

    # --- issuing ----------------------------------------------------------------------------------------

    def dispatch(self, class_id: int, emails: Sequence[tuple[int, str]], *, visible_at: float) -> set[int]:
        """Give each ``(index, email)``, in order, one available coupon of the class; the indexes served."""
        now = self.now()
        with self._tx() as db:
            coupons = _take(db, class_id, len(emails))
            for coupon_id, (_, email) in zip(coupons, emails, strict=False):
                db.execute(
                    "UPDATE coupons SET send_to_email = ?, send_to_date = ?, sent_visible_at = ? WHERE id = ?",
                    (email, now, visible_at, coupon_id),
                )
        return {index for index, _ in emails[: len(coupons)]}

    def distribute(
        self,
        class_id: int,
        accounts: Sequence[tuple[int, int]],
        *,
        feature_id: int | None,
        notify: bool,
        visible_at: float,
    ) -> set[int]:
        """Let each ``(index, account id)``, in order, claim one available coupon; the indexes served."""
        now = self.now()
        with self._tx() as db:
            coupons = _take(db, class_id, len(accounts))
            for coupon_id, (_, account_id) in zip(coupons, accounts, strict=False):
                db.execute(
                    "UPDATE coupons SET claim_account_id = ?, claim_date = ?, claim_feature_id = ?, "
                    "claim_notification = ?, claim_visible_at = ? WHERE id = ?",
                    (account_id, now, feature_id, int(notify), visible_at, coupon_id),
                )
        return {index for index, _ in accounts[: len(coupons)]}

    def redeem(
        self,
        coupon_id: int,
        account_id: int,
        *,
        expiration: float,
        activation: float | None,
        balance: float,
        visible_at: float,
    ) -> bool:
        """Redeem the coupon for the account unless it is redeemed already (checked atomically)."""
        with self._tx() as db:
            cursor = db.execute(
                "UPDATE coupons SET redeem_account_id = ?, redemption_date = ?, redemption_expiration = ?, "
                "activation_date = ?, balance = ?, redeem_visible_at = ? WHERE id = ? AND redeem_account_id IS NULL",
                (account_id, self.now(), expiration, activation, balance, visible_at, coupon_id),
            )
            return cursor.rowcount == 1

    # --- credentials ------------------------------------------------------------------------------------

    def developer_token_known(self, token: str) -> bool:
        return bool(self._read("SELECT 1 FROM developer_tokens WHERE token = ?", (token,)))

    def access_token(self, token: str) -> AccessToken | None:
        rows = self._read("SELECT customers, expires_at FROM access_tokens WHERE token = ?", (token,))
        if not rows:
            return None
        customers, expires_at = rows[0]
        return AccessToken(_reach_from_json(customers), expires_at)

    def add_access_token(self, token: str, reach: frozenset[int] | None, expires_at: float, origin: str) -> None:
        with self._tx() as db:
            db.execute(
                "INSERT INTO access_tokens VALUES (?, ?, ?, ?, (SELECT coalesce(max(position), 0) + 1 "
                "FROM access_tokens))",
                (token, _reach_json(reach), expires_at, origin),
            )

    def oauth_client(self, client_id: str) -> OAuthClientSeed | None:
        rows = self._read(
            "SELECT client_id, refresh_token, client_secret, customers, token_lifetime_s, refresh_lifetime_s, "
            "revoke_on_rotation FROM oauth_clients WHERE client_id = ?",
            (client_id,),
        )
        if not rows:
            return None
        cid, refresh, secret, customers, lifetime, refresh_lifetime, revoke = rows[0]
        return OAuthClientSeed(
            cid, refresh, secret, _reach_from_json(customers), lifetime, refresh_lifetime, bool(revoke)
        )

    def rotate_refresh_token(self, client: OAuthClientSeed, token: str, rotated: str) -> RefreshUse:
        """Redeem ``token`` for ``client``: if it is the client's, unexpired, and (when the client revokes on
        rotation) not rotated yet, ``rotated`` replaces it, valid for the client's refresh lifetime from now; the
        old one is marked rotated. One transaction, so two redemptions of one token cannot both rotate it."""
        with self._tx() as db:
            row = db.execute(
                "SELECT expires_at, rotated FROM refresh_tokens WHERE token = ? AND client_id = ?",
                (token, client.client_id),
            ).fetchone()
            if row is None:
                return RefreshUse.UNKNOWN
            expires_at, was_rotated = row
            now = self.now()
            if now >= expires_at:
                return RefreshUse.EXPIRED
            if was_rotated and client.revoke_on_rotation:
                return RefreshUse.REVOKED
            db.execute("UPDATE refresh_tokens SET rotated = 1 WHERE token = ?", (token,))
            db.execute(
                "INSERT INTO refresh_tokens VALUES (?, ?, ?, 0)",
                (rotated, client.client_id, now + client.refresh_lifetime_s),
            )
            return RefreshUse.ROTATED

    def first_credentials(self) -> tuple[str | None, str | None]:
        """The first seeded developer token and the first seeded access token that does not expire."""
        developer = self._read("SELECT token FROM developer_tokens ORDER BY position LIMIT 1")
        access = self._read(
            "SELECT token FROM access_tokens WHERE origin = 'seed' AND expires_at IS NULL ORDER BY position LIMIT 1"
        )
        return (developer[0][0] if developer else None, access[0][0] if access else None)

    # --- call log ---------------------------------------------------------------------------------------

    def log_call(self, call: CallRecord) -> None:
        with self._tx() as db:
            db.execute(
                "INSERT INTO calls (at, endpoint, path, status, outcome, code, tracking_id, headers, body) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    call.at,
                    call.endpoint,
                    call.path,
                    call.status,
                    call.outcome,
                    call.code,
                    call.tracking_id,
                    json.dumps(call.headers, sort_keys=True),
                    call.body,
                ),
            )

    def calls(self) -> list[CallRecord]:
        rows = self._read(
            "SELECT at, endpoint, path, status, outcome, code, tracking_id, headers, body FROM calls ORDER BY id"
        )
        return [
            CallRecord(at, endpoint, path, status, outcome, code, tracking_id, json.loads(headers), body)
            for at, endpoint, path, status, outcome, code, tracking_id, headers, body in rows
        ]


# --- helpers --------------------------------------------------------------------------------------------


_SELECT = """
SELECT c.id, c.code, c.class_name, c.owner_id, c.coupon_type, c.amount, c.spend_threshold, c.currency,
       c.percent_off, c.active_duration, c.expiration_date, c.start_date, c.end_date,
       c.send_to_email, c.send_to_date, c.sent_visible_at,
       c.claim_account_id, ca.number, c.claim_date, c.claim_feature_id, c.claim_visible_at,
       c.redeem_account_id, ra.number, ra.bills_to, c.redemption_date, c.redemption_expiration,
       c.activation_date, c.balance, c.redeem_visible_at
FROM coupons c
LEFT JOIN accounts ca ON ca.id = c.claim_account_id
LEFT JOIN accounts ra ON ra.id = c.redeem_account_id
"""


_PageKey = tuple[str | None, int]  # the last coupon of a page: its ordering key (None: ordered by id alone), its id
_SORT_COLUMNS = {"class_name": ("c.class_name", 2), "start_date": ("c.start_date", 11)}  # column, index in _SELECT
MAX_PAGE_KEYS = 65536


class _PageKeys:
    """Where the pages of a query start: for a query (its offset the start of a page), the last coupon of the page
    that ended there, and the store version it was read at.

    Only queries whose matches change with nothing but the coupons that exist are remembered: none with an
    IsRedeemed condition (a redemption, or its lag running out, changes which coupons match). Issuing changes no
    match, so pages read across DispatchCoupons or DistributeCoupons calls are the OFFSET pages, and stay so.
    """

    def __init__(self) -> None:
        self._keys: OrderedDict[CouponQuery, tuple[tuple[int, int], _PageKey]] = OrderedDict()

    def get(self, query: CouponQuery, version: tuple[int, int]) -> _PageKey | None:
        found = self._keys.get(query)
        if found is None or found[0] != version or query.redeemed:
            return None
        return found[1]

    def put(self, query: CouponQuery, version: tuple[int, int], key: _PageKey) -> None:
        if query.redeemed:
            return
        following = replace(query, offset=query.offset + query.limit)
        self._keys[following] = (version, key)
        self._keys.move_to_end(following)
        while len(self._keys) > MAX_PAGE_KEYS:
            self._keys.popitem(last=False)


def _sort_column(query: CouponQuery) -> tuple[str, int] | None:
    """The column a query orders by before the id (see :func:`_order`), and its index in a ``_SELECT`` row."""
    return None if query.class_names else _SORT_COLUMNS.get(query.order_by or "")


def _key_of(query: CouponQuery, row: Row) -> _PageKey:
    column = _sort_column(query)
    return (None if column is None else row[column[1]], row[0])


def _after(query: CouponQuery, key: _PageKey) -> tuple[str, list[object]]:
    """The condition for the coupons that come after ``key`` in the query's order (:func:`_order`): ordering key,
    then id ascending; SQLite puts NULL keys first when ascending and last when descending."""
    value, last_id = key
    column = _sort_column(query)
    if column is None:
        return "c.id > ?", [last_id]
    name = column[0]
    if value is None:  # a NULL key: ascending, the NULLs come first; descending, last
        if query.descending:
            return f"({name} IS NULL AND c.id > ?)", [last_id]
        return f"({name} IS NOT NULL OR c.id > ?)", [last_id]
    if query.descending:
        return f"({name} < ? OR ({name} = ? AND c.id > ?) OR {name} IS NULL)", [value, value, last_id]
    return f"({name}, c.id) > (?, ?)", [value, last_id]


def _order(query: CouponQuery) -> str:
    """ORDER BY for a query: the requested key, then minting order (stable, and the default).

    Coupons of one class share its name and start date, so with a class filter every order is minting order.
    """
    direction = "DESC" if query.descending else "ASC"
    key = {"class_name": f"c.class_name {direction}, ", "start_date": f"c.start_date {direction}, "}
    primary = "" if query.class_names else key.get(query.order_by or "", "")
    return f"{primary}c.id ASC"


def _mint(db: sqlite3.Connection, coupon_class: ClassSeed) -> None:
    cursor = db.execute(
        "INSERT INTO classes (name, customer_id) VALUES (?, ?)", (coupon_class.name, coupon_class.customer_id)
    )
    class_id = cursor.lastrowid
    if coupon_class.feature_id is not None:
        db.execute("INSERT INTO class_features VALUES (?, ?)", (class_id, coupon_class.feature_id))
    c = coupon_class
    fields = (
        class_id, c.customer_id, c.name, c.coupon_type, c.amount, c.spend_threshold, c.currency, c.percent_off,
        c.active_duration, _day(c.expiration_date), _day(c.start_date), _day(c.end_date),
    )  # fmt: skip
    db.executemany(
        "INSERT INTO coupons (code, class_id, owner_id, class_name, coupon_type, amount, spend_threshold, "
        "currency, percent_off, active_duration, expiration_date, start_date, end_date) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        ((coupon_code(c.name, ordinal), *fields) for ordinal in range(1, c.coupons + 1)),
    )


def _take(db: sqlite3.Connection, class_id: int, count: int) -> list[int]:
    rows = db.execute(
        f"SELECT id FROM coupons WHERE class_id = ? AND {_AVAILABLE} ORDER BY id LIMIT ?", (class_id, count)
    ).fetchall()
    return [int(row[0]) for row in rows]


def _day(value: date | None) -> str | None:
    return None if value is None else value.isoformat()


@functools.lru_cache(maxsize=4096)  # a store holds few distinct days: each is parsed once
def _parse_day(value: str | None) -> date | None:
    return None if value is None else date.fromisoformat(value)


def _reach_json(reach: frozenset[int] | None) -> str | None:
    return None if reach is None else json.dumps(sorted(reach))


def _reach_from_json(value: str | None) -> frozenset[int] | None:
    return None if value is None else frozenset(int(v) for v in json.loads(value))


def _seen(visible_at: float | None, now: float) -> bool:
    return visible_at is None or visible_at <= now


def _record(row: Row, now: float) -> CouponRecord:
    """A row as seen at ``now``: a change whose visibility time has not come yet is not shown."""
    (cid, code, class_name, owner, ctype, amount, spend, currency, percent, duration, expiration, start, end,
     email, sent, sent_visible, claim_acct, claim_num, claim_date, feature, claim_visible,
     redeem_acct, redeem_num, bills_to, redeemed, redeem_exp, activation, balance, redeem_visible) = row  # fmt: skip
    sent_seen = email is not None and _seen(sent_visible, now)
    claim = None
    if claim_acct is not None and _seen(claim_visible, now):
        claim = Claim(claim_acct, claim_num, claim_date, feature)
    redemption = None
    if redeem_acct is not None and _seen(redeem_visible, now):
        redemption = Redemption(redeem_acct, redeem_num, bills_to, redeemed, redeem_exp, activation, balance)
    return CouponRecord(
        id=cid,
        code=code,
        class_name=class_name,
        owner_id=owner,
        coupon_type=ctype,
        amount=amount,
        spend_threshold=spend,
        currency=currency,
        percent_off=percent,
        active_duration=duration,
        expiration_date=_parse_day(expiration),
        start_date=_parse_day(start),
        end_date=_parse_day(end),
        send_to_email=email if sent_seen else None,
        send_to_date=sent if sent_seen else None,
        claim=claim,
        redemption=redemption,
    )
