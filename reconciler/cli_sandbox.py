"""``couponctl sandbox``: serve, seed and reset the local simulator of the vendor APIs."""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import ParamSpec, TypeVar

import click

from reconciler.errors import CouponctlError, InputError
from reconciler.sandbox.app import create_app
from reconciler.sandbox.bootstrap import seed_if_empty, seed_store
from reconciler.sandbox.faults import FaultPlan
from reconciler.sandbox.server import serve as serve_app
from reconciler.sandbox.store import Store

DEFAULT_DB = Path(".couponctl/sandbox.sqlite")
DEFAULT_PORT = 8765
LOOPBACK = ("127.0.0.1", "localhost", "::1")

P = ParamSpec("P")
R = TypeVar("R")


def _reporting_errors(command: Callable[P, R]) -> Callable[P, R]:
    """Print a CouponctlError as ``error: ...`` lines on stderr and exit 1: never a traceback."""

    @functools.wraps(command)
    def run(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return command(*args, **kwargs)
        except CouponctlError as exc:
            lines = [str(p) for p in exc.problems] if isinstance(exc, InputError) else [str(exc)]
            for line in lines:
                click.echo(f"error: {line}", err=True)
            raise SystemExit(1) from None

    return run


_db_option = click.option(
    "--db",
    "database",
    type=click.Path(dir_okay=False, path_type=Path),
    default=DEFAULT_DB,
    show_default=True,
    help="The SQLite store.",
)


@click.group(name="sandbox")
def sandbox() -> None:
    """The local simulator of the Microsoft Advertising and Alibaba Cloud ResellerTrade coupon APIs."""


@sandbox.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on (loopback by default).")
@click.option("--port", type=click.IntRange(0, 65535), default=DEFAULT_PORT, show_default=True, help="0: a free port.")
@_db_option
@click.option("--seed", type=click.Path(dir_okay=False, path_type=Path), help="Seed file, if the store is empty.")
@click.option("--fault", "faults", multiple=True, metavar="ENDPOINT:KIND=VALUE", help="Inject a fault (repeatable).")
@click.option("--fault-seed", type=int, default=0, show_default=True, help="Seed of the faults' random draws.")
@_reporting_errors
def serve(host: str, port: int, database: Path, seed: Path | None, faults: tuple[str, ...], fault_seed: int) -> None:
    """Serve the API over HTTP until SIGINT or SIGTERM."""
    plan = FaultPlan.parse(faults, seed=fault_seed)
    store = Store(database)
    try:
        if seed is not None and not seed_if_empty(store, seed):
            click.echo(f"note: {database} is not empty, --seed ignored (run `couponctl sandbox seed` to reseed)")
        elif store.is_empty():
            click.echo(f"note: {database} is empty, so every call will be refused: pass --seed FILE", err=True)
        if host not in LOOPBACK:
            click.echo(f"note: listening on {host}, beyond loopback: the sandbox accepts fake credentials", err=True)

        def announce(url: str) -> None:
            click.echo(f"couponctl sandbox: Customer Billing API at {url}/CustomerBilling/v13")
            click.echo(f"couponctl sandbox: OAuth token endpoint at {url}/oauth2/v2.0/token")
            click.echo(f"couponctl sandbox: Alibaba Cloud ResellerTrade RPC API at {url}/ (Action=SendCoupon, …)")
            for spec in plan.specs:
                click.echo(f"couponctl sandbox: fault {spec} (fault seed {plan.seed})")
            click.echo(f"couponctl sandbox: store {database}; serving at {url} (Ctrl-C to stop)")

        serve_app(create_app(store, plan), host=host, port=port, announce=announce)
    finally:
        store.close()
    click.echo("couponctl sandbox: stopped")


@sandbox.command(name="seed")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@_db_option
@_reporting_errors
def seed_command(file: Path, database: Path) -> None:
    """Empty the store and load FILE into it."""
    store = Store(database)
    try:
        loaded = seed_store(store, file)
    finally:
        store.close()
    parts = []
    if loaded.msads is not None:
        customers = loaded.msads.customers
        accounts = sum(len(c.accounts) for c in customers)
        classes = [k for c in customers for k in c.classes]
        coupons = sum(k.coupons for k in classes)
        parts.append(
            f"{len(customers)} customers, {accounts} accounts, {len(classes)} coupon classes, {coupons} coupons"
        )
    if loaded.aliyun is not None:
        sellers = loaded.aliyun.sellers
        users = sum(len(s.users) for s in sellers)
        templates = sum(len(s.templates) for s in sellers)
        parts.append(f"aliyun: {len(sellers)} sellers, {users} end users, {templates} coupon templates")
    click.echo(f"seeded {database} from {file}: {'; '.join(parts)}")


@sandbox.command()
@_db_option
@_reporting_errors
def reset(database: Path) -> None:
    """Empty the store (customers, sellers, coupons, credentials, call log)."""
    store = Store(database)
    try:
        store.reset()
    finally:
        store.close()
    click.echo(f"emptied {database}")
