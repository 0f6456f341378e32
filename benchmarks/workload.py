"""The benchmark workload: a sandbox seed, coupons already issued, and a couponctl project that declares them.

Sizes (full run): 10 coupon classes of 10,000, 20,000, ... 100,000 coupons (550,000 in all) under two owner
customers; 100,000 desired targets spread over the classes in proportion to their size, 10% of each class's
targets account ids (DistributeCoupons), the rest emails (DispatchCoupons, from ``emailsFrom`` CSV files);
90% of every class's targets already hold a coupon (issued straight into the store through the Store API),
so a plan has 10% to issue. ``--quick`` divides every size by 10.
"""

from __future__ import annotations

import json
import math
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from reconciler.sandbox.bootstrap import seed_store
from reconciler.sandbox.store import Store

DEVELOPER_TOKEN = "BENCH-DEV-TOKEN"
ACCESS_TOKEN = "bench-access-token"
PROVIDER = "bench"
CUSTOMERS = ("1000001", "1000002")
ACCOUNT_BASE = {"1000001": 100_000_000, "1000002": 200_000_000}
FEATURE_ID = 7
AMOUNT = 50
CURRENCY = "USD"
DEV_TOKEN_ENV = "BENCH_MSADS_DEVELOPER_TOKEN"
ACCESS_TOKEN_ENV = "BENCH_MSADS_ACCESS_TOKEN"
PLACEHOLDER_URL = "http://127.0.0.1:9"  # until point_project_at names the served sandbox


@dataclass(frozen=True)
class Sizes:
    """How big the workload is."""

    class_sizes: tuple[int, ...]
    targets: int
    missing_share: float = 0.10
    account_share: float = 0.10

    @staticmethod
    def full() -> Sizes:
        return Sizes(tuple(10_000 * (i + 1) for i in range(10)), 100_000)

    @staticmethod
    def quick() -> Sizes:
        return Sizes(tuple(1_000 * (i + 1) for i in range(10)), 10_000)

    @staticmethod
    def small() -> Sizes:
        """The bar of our own: 20,000 targets over 10 classes of 2,000..20,000 coupons (110,000)."""
        return Sizes(tuple(2_000 * (i + 1) for i in range(10)), 20_000)

    @property
    def coupons(self) -> int:
        return sum(self.class_sizes)


@dataclass(frozen=True)
class ClassLoad:
    """One coupon class: its coupons and the targets declared for it, the first ``held_*`` already holding one."""

    index: int
    name: str
    customer_id: str
    coupons: int
    emails: tuple[str, ...]
    accounts: tuple[int, ...]
    held_emails: int
    held_accounts: int

    @property
    def targets(self) -> int:
        return len(self.emails) + len(self.accounts)

    @property
    def missing_emails(self) -> tuple[str, ...]:
        return self.emails[self.held_emails :]

    @property
    def missing_accounts(self) -> tuple[int, ...]:
        return self.accounts[self.held_accounts :]

    @property
    def missing(self) -> int:
        return self.targets - self.held_emails - self.held_accounts


@dataclass(frozen=True)
class Workload:
    sizes: Sizes
    classes: tuple[ClassLoad, ...]

    @property
    def targets(self) -> int:
        return sum(c.targets for c in self.classes)

    @property
    def missing(self) -> int:
        return sum(c.missing for c in self.classes)

    @property
    def coupons(self) -> int:
        return sum(c.coupons for c in self.classes)


def spread(total: int, weights: Sequence[int]) -> list[int]:
    """``total`` split in proportion to ``weights`` (largest remainders), summing exactly to ``total``."""
    whole = sum(weights)
    exact = [total * w / whole for w in weights]
    parts = [math.floor(x) for x in exact]
    for i in sorted(range(len(weights)), key=lambda i: parts[i] - exact[i])[: total - sum(parts)]:
        parts[i] += 1
    return parts


def email_of(class_index: int, n: int) -> str:
    return f"user{n:07d}@c{class_index}.bench.example"


def build_workload(sizes: Sizes) -> Workload:
    classes = []
    for index, (coupons, targets) in enumerate(
        zip(sizes.class_sizes, spread(sizes.targets, sizes.class_sizes), strict=True)
    ):
        customer = CUSTOMERS[index % len(CUSTOMERS)]
        n_accounts = round(targets * sizes.account_share)
        n_emails = targets - n_accounts
        missing_accounts = round(n_accounts * sizes.missing_share)
        missing_emails = round(targets * sizes.missing_share) - missing_accounts
        classes.append(
            ClassLoad(
                index=index,
                name=f"BENCH-{index:02d}-{coupons // 1000}K",
                customer_id=customer,
                coupons=coupons,
                emails=tuple(email_of(index, n) for n in range(n_emails)),
                accounts=tuple(ACCOUNT_BASE[customer] + n + 1 for n in range(n_accounts)),
                held_emails=n_emails - missing_emails,
                held_accounts=n_accounts - missing_accounts,
            )
        )
    return Workload(sizes, tuple(classes))


# --- the sandbox ------------------------------------------------------------------------------------------


def seed_text(workload: Workload, *, class_sizes: Sequence[int] | None = None) -> str:
    """The seed file: two customers, the accounts each needs, the classes (``class_sizes`` overrides sizes)."""
    lines = [
        "# Generated by benchmarks/workload.py. Every credential is a fake only the sandbox accepts.",
        "msads:",
        f"  developerToken: {DEVELOPER_TOKEN}",
        f"  accessTokens: [{ACCESS_TOKEN}]",
        "  customers:",
    ]
    for customer in CUSTOMERS:
        mine = [c for c in workload.classes if c.customer_id == customer]
        n_accounts = max((len(c.accounts) for c in mine), default=0)
        accounts = ", ".join(str(ACCOUNT_BASE[customer] + n + 1) for n in range(max(1, n_accounts)))
        lines += [f'    - id: "{customer}"', f"      name: Bench customer {customer}", f"      accounts: [{accounts}]"]
        lines.append("      classes:")
        for c in mine:
            size = c.coupons if class_sizes is None else class_sizes[c.index]
            lines.append(
                f"        - {{name: {c.name}, type: Retention, amount: {AMOUNT}, currency: {CURRENCY}, "
                f"coupons: {size}, startDate: 2027-01-01, endDate: 2027-12-31}}"
            )
    return "\n".join(lines) + "\n"


def build_store(workload: Workload, directory: Path, *, preissue: bool = True) -> tuple[Path, dict[str, float]]:
    """Seed ``directory/sandbox.sqlite`` and issue the held targets' coupons; the path and the seconds spent."""
    directory.mkdir(parents=True, exist_ok=True)
    seed = directory / "seed.yaml"
    seed.write_text(seed_text(workload), encoding="utf-8")
    database = directory / "sandbox.sqlite"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{database}{suffix}").unlink(missing_ok=True)
    timings: dict[str, float] = {}
    started = time.perf_counter()
    store = Store(database)
    try:
        seed_store(store, seed)
        timings["seed_s"] = time.perf_counter() - started
        started = time.perf_counter()
        if preissue:
            preissue_coupons(store, workload)
        timings["preissue_s"] = time.perf_counter() - started
    finally:
        store.close()
    return database, timings


def preissue_coupons(store: Store, workload: Workload) -> None:
    """Give the held emails and accounts of every class a coupon, as DispatchCoupons / DistributeCoupons would,
    visible at once (through the Store API: the same SQL the sandbox's endpoints run, without HTTP)."""
    for c in workload.classes:
        found = store.coupon_class(c.name)
        if found is None:
            raise RuntimeError(f"class {c.name} was not seeded")
        emails = list(enumerate(c.emails[: c.held_emails]))
        accounts = list(enumerate(c.accounts[: c.held_accounts]))
        if len(store.dispatch(found.id, emails, visible_at=0.0)) != len(emails):
            raise RuntimeError(f"class {c.name}: not enough coupons for the held emails")
        served = store.distribute(found.id, accounts, feature_id=FEATURE_ID, notify=False, visible_at=0.0)
        if len(served) != len(accounts):
            raise RuntimeError(f"class {c.name}: not enough coupons for the held accounts")


# --- the couponctl project --------------------------------------------------------------------------------


def write_project(
    workload: Workload,
    directory: Path,
    *,
    concurrency: int | None = None,
    email_lists: Sequence[Sequence[str]] | None = None,
) -> Path:
    """A couponctl project declaring every class's targets; ``endpoint`` is set by :func:`point_project_at`
    (until then a placeholder, so that the project loads).

    ``concurrency`` None leaves it out of couponctl.yaml: couponctl's own default applies (see
    :func:`client_settings`). Neither is ``requestsPerSecond`` written: couponctl has no client-side rate limit
    by default. ``email_lists`` replaces each class's emails (the 1,000,000-target RSS run)."""
    (directory / "manifests").mkdir(parents=True, exist_ok=True)
    (directory / "lists").mkdir(parents=True, exist_ok=True)
    for c in workload.classes:
        emails = c.emails if email_lists is None else email_lists[c.index]
        rows = list(emails)
        random.Random(c.index).shuffle(rows)  # a real export is in no particular order
        with (directory / "lists" / f"c{c.index:02d}.csv").open("w", encoding="utf-8") as out:
            out.write("email,segment\n")
            out.writelines(f"{email},bench\n" for email in rows)
        accounts = c.accounts if email_lists is None else ()
        lines = [
            "apiVersion: couponctl/v1",
            "kind: CouponAssignment",
            f"metadata: {{name: bench-c{c.index:02d}}}",
            "spec:",
            f"  provider: {PROVIDER}",
            f'  customerId: "{c.customer_id}"',
            f"  couponClass: {c.name}",
            f"  expect: {{amount: {AMOUNT}, currency: {CURRENCY}}}",
        ]
        if accounts:
            lines += [
                "  distribute:",
                f"    featureId: {FEATURE_ID}",
                "    sendNotification: false",
                f"    accounts: [{', '.join(str(a) for a in accounts)}]",
            ]
        lines += ["  dispatch:", f"    emailsFrom: ../lists/c{c.index:02d}.csv"]
        (directory / "manifests" / f"c{c.index:02d}.yaml").write_text("\n".join(lines) + "\n", encoding="utf-8")
    settings = {} if concurrency is None else {"concurrency": concurrency}
    (directory / "settings.json").write_text(json.dumps(settings), encoding="utf-8")
    point_project_at(directory, PLACEHOLDER_URL)
    return directory


def point_project_at(directory: Path, url: str) -> None:
    """(Re)write couponctl.yaml with the served sandbox's URL (the port changes from one server to the next)."""
    settings = json.loads((directory / "settings.json").read_text(encoding="utf-8"))
    text = f"""# Generated by benchmarks/workload.py: the benchmark project, against a served sandbox.
manifests: [manifests/]
stateDir: .couponctl
providers:
  {PROVIDER}:
    type: msads
    environment: local
    endpoint: {url}
    developerToken: ${{env:{DEV_TOKEN_ENV}}}
    accessToken: ${{env:{ACCESS_TOKEN_ENV}}}
"""
    text += "".join(f"    {key}: {value}\n" for key, value in settings.items())
    (directory / "couponctl.yaml").write_text(text, encoding="utf-8")


def client_settings(directory: Path) -> dict[str, float]:
    """The read settings couponctl runs this project's provider with: ``concurrency`` (calls in flight),
    ``requests_per_second`` (0: no client-side limit) and ``search_window``, resolved by couponctl's own
    config loader and the option reader ``build_provider`` uses (private, on purpose: so that the floor
    divides by what couponctl actually does, defaults included, not by what the rig believes them to be)."""
    from reconciler.config.load import load_config
    from reconciler.providers.msads.build import read_options
    from reconciler.providers.options import Options

    config = load_config(directory).providers[PROVIDER]
    options = Options(config)
    settings, http = read_options(options)
    if options.problems:
        raise RuntimeError(f"the benchmark project's provider options are invalid: {options.problems}")
    return {
        "concurrency": http.concurrency,
        "requests_per_second": http.requests_per_second,
        "search_window": settings.search_window,
    }


def credentials_env() -> dict[str, str]:
    return {DEV_TOKEN_ENV: DEVELOPER_TOKEN, ACCESS_TOKEN_ENV: ACCESS_TOKEN}


def scopes_json(workload: Workload) -> list[dict[str, object]]:
    """What the SDK scripts need: per class its owner, name, and the targets still missing."""
    return [
        {
            "customerId": c.customer_id,
            "className": c.name,
            "coupons": c.coupons,
            "missingEmails": list(c.missing_emails),
            "missingAccounts": list(c.missing_accounts),
        }
        for c in workload.classes
    ]
