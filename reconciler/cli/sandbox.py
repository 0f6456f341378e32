"""``couponctl sandbox``: serve, seed and reset the local simulator of the vendor APIs.

The commands work on the project's sandbox: the store its ``local`` providers use (``sandbox.database`` in
couponctl.yaml, by default ``.couponctl/sandbox.sqlite`` beside it) and the seed file it names
(``sandbox.seed``). Paths given on the command line are relative to the current directory, like every path
on couponctl's command line.

Emptying or reseeding the project's store would leave its journal counting coupons the store no longer holds,
so ``seed`` and ``reset`` refuse while the journal records items of the sandbox's providers, unless
``--reset-journal`` asks to delete those records as well.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import ParamSpec, TypeVar

import click

from reconciler.apply.journal import Journal, Records
from reconciler.apply.lock import ApplyLock, default_holder
from reconciler.cli.support import Settings
from reconciler.config.load import DEFAULT_STATE_DIR, load_config
from reconciler.config.model import CONFIG_FILE, Config
from reconciler.errors import ConfigError, CouponctlError, InputError, RefusedError
from reconciler.providers.local import LOCAL
from reconciler.sandbox.app import create_app
from reconciler.sandbox.bootstrap import seed_if_empty
from reconciler.sandbox.faults import FaultPlan
from reconciler.sandbox.seed import load_seed, summary
from reconciler.sandbox.server import serve as serve_app
from reconciler.sandbox.store import Store

#: The store of a directory without couponctl.yaml, relative to that directory.
DEFAULT_DB = Path(DEFAULT_STATE_DIR) / "sandbox.sqlite"
DEFAULT_PORT = 8765
LOOPBACK = ("127.0.0.1", "localhost", "::1")

P = ParamSpec("P")
R = TypeVar("R")


def _reporting_errors(command: Callable[P, R]) -> Callable[P, R]:
    """Print a CouponctlError as ``error: ...`` lines on stderr and exit with its code: never a traceback."""

    @functools.wraps(command)
    def run(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return command(*args, **kwargs)
        except CouponctlError as exc:
            lines = [str(p) for p in exc.problems] if isinstance(exc, InputError) else [str(exc)]
            for line in lines:
                click.echo(f"error: {line}", err=True)
            raise SystemExit(exc.exit_code) from None

    return run


@dataclass(frozen=True)
class SandboxProject:
    """Where a sandbox command works: the directory it runs in (``-C`` changes it, as for git), the project
    found from there (the nearest directory holding couponctl.yaml, if any) and that project's store."""

    settings: Settings
    config: Config | None

    @classmethod
    def of(cls, settings: Settings | None) -> SandboxProject:
        """The project of the command; its couponctl.yaml, when there is one, must be valid."""
        if settings is None:  # the group run on its own, outside `couponctl`: as from the current directory
            settings = Settings(Path("."), None, False)
        try:
            root: Path | None = settings.directory
        except ConfigError:  # no couponctl.yaml here or above: a store of this directory's own
            root = None
        found = root is not None and (root / CONFIG_FILE).is_file()
        return cls(settings, load_config(root) if root is not None and found else None)

    @property
    def cwd(self) -> Path:
        return self.settings.cwd

    @property
    def root(self) -> Path | None:
        return self.config.root if self.config is not None else None

    @property
    def database(self) -> Path:
        """The project's store (the one its ``local`` providers use), else .couponctl/sandbox.sqlite here."""
        return self.config.sandbox.database if self.config is not None else self.cwd / DEFAULT_DB

    @property
    def seed(self) -> Path | None:
        return self.config.sandbox.seed if self.config is not None else None

    @property
    def providers(self) -> list[str]:
        """The providers served by the sandbox (environment ``local``)."""
        if self.config is None:
            return []
        return sorted(name for name, p in self.config.providers.items() if p.environment == LOCAL)

    def where(self) -> str:
        return (
            f"the project root is {self.root}" if self.root is not None else f"no {CONFIG_FILE} in {self.cwd} or above"
        )

    def is_its_store(self, database: Path) -> bool:
        return self.config is not None and database.resolve() == self.database.resolve()

    def command_line_path(self, given: Path) -> Path:
        """A path from the command line: relative to the directory couponctl runs in (``-C`` changes it)."""
        return self.settings.path(given)

    def command_line_file(self, given: Path, what: str) -> Path:
        """A file named on the command line, which must exist: else an error naming the path tried, the
        directory relative paths start from and the project root."""
        path = self.command_line_path(given)
        if path.is_file():
            return path
        message = f"cannot read the {what} {given}: no such file ({path})"
        if not given.is_absolute():
            message += f"; paths on the command line are relative to {self.cwd} (the current directory, or -C DIR)"
        message += f"; {self.where()}"
        if self.root is not None and not given.is_absolute() and (self.root / given).is_file():
            message += f" (did you mean {os.path.relpath(self.root / given, self.cwd)}?)"
        raise CouponctlError(message)


def _store_path(project: SandboxProject, database: Path | None) -> Path:
    return project.command_line_path(database) if database is not None else project.database


@contextmanager
def _journal_kept_in_step(
    project: SandboxProject, database: Path, reset_journal: bool, doing: str
) -> Iterator[list[str]]:
    """Around emptying the store at ``database``: refuse while the project's journal records items of the
    sandbox's providers (unless ``reset_journal``: then delete them first), holding the apply lock throughout.

    Yields the lines that say what was done to the journal.
    """
    said: list[str] = []
    providers = project.providers
    config = project.config
    if config is None or not project.is_its_store(database):
        if reset_journal:
            raise CouponctlError(
                f"--reset-journal: {database} is not the sandbox store of a project ({project.where()}), "
                "so no journal counts its coupons; leave the flag out"
            )
        yield said
        return
    if not providers:
        said.append("journal: no provider of the project uses the sandbox; the journal was not touched")
        yield said
        return
    if _sqlite_journal_absent(config.journal):
        said.append(f"journal: {config.journal} does not exist yet; nothing to reset")
        yield said
        return
    journal = Journal(config.journal)
    try:
        apply_lock = ApplyLock(journal.db, lease_seconds=config.lock_lease_seconds)
        holder = f"couponctl sandbox on {default_holder()}"
        blocker = apply_lock.try_acquire(holder)
        if blocker is not None:
            raise RefusedError(
                f"an apply holds the lock of the journal {journal.db.location}: {blocker.describe(apply_lock.clock())};"
                " the sandbox was not changed"
            )
        try:
            names = ", ".join(providers)
            held = journal.records_of(providers)
            if held.items and not reset_journal:
                raise RefusedError(
                    f"the journal {journal.db.location} records {_records(held)} issued through this sandbox "
                    f"(providers {names}); {doing} the sandbox would leave it counting coupons the sandbox no "
                    "longer holds. Nothing was changed. Pass --reset-journal to reset both (those records are "
                    "deleted from the journal)"
                )
            if held.items:
                gone = journal.forget(providers)
                said.append(
                    f"journal: reset too: deleted {_records(gone)} of providers {names} from {journal.db.location}"
                )
            else:
                said.append(
                    f"journal: {journal.db.location} records nothing issued through this sandbox; left as it is"
                )
            yield said
        finally:
            apply_lock.release(holder)
    finally:
        journal.close()


def _records(records: Records) -> str:
    return f"{records.items} item(s) of {records.runs} run(s)"


def _sqlite_journal_absent(location: str) -> bool:
    """True for a SQLite journal file that was never created (so it records nothing)."""
    if "://" in location or location.strip().startswith("${"):
        return False
    return not Path(location).exists()


_db_option = click.option(
    "--db",
    "database",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="The SQLite store (default: the project's, .couponctl/sandbox.sqlite beside couponctl.yaml).",
)
_reset_journal_option = click.option(
    "--reset-journal",
    is_flag=True,
    help="Also delete the journal's records of the sandbox's providers (refused without it when there are any).",
)


@click.group(name="sandbox")
def sandbox() -> None:
    """The local simulator of the Microsoft Advertising and Alibaba Cloud ResellerTrade coupon APIs."""


@sandbox.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on (loopback by default).")
@click.option("--port", type=click.IntRange(0, 65535), default=DEFAULT_PORT, show_default=True, help="0: a free port.")
@_db_option
@click.option(
    "--seed",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Seed file, if the store is empty (default: the project's sandbox.seed).",
)
@click.option("--fault", "faults", multiple=True, metavar="ENDPOINT:KIND=VALUE", help="Inject a fault (repeatable).")
@click.option("--fault-seed", type=int, default=0, show_default=True, help="Seed of the faults' random draws.")
@click.pass_obj
@_reporting_errors
def serve(
    settings: Settings | None,
    host: str,
    port: int,
    database: Path | None,
    seed: Path | None,
    faults: tuple[str, ...],
    fault_seed: int,
) -> None:
    """Serve the API over HTTP until SIGINT or SIGTERM."""
    plan = FaultPlan.parse(faults, seed=fault_seed)
    project = SandboxProject.of(settings)
    path = _store_path(project, database)
    seed_file = project.command_line_file(seed, "seed file") if seed is not None else project.seed
    store = Store(path)
    try:
        if seed_file is not None and not seed_if_empty(store, seed_file):
            if seed is not None:
                click.echo(f"note: {path} is not empty, --seed ignored (run `couponctl sandbox seed` to reseed)")
        elif store.is_empty():
            click.echo(f"note: {path} is empty, so every call will be refused: pass --seed FILE", err=True)
        if host not in LOOPBACK:
            click.echo(f"note: listening on {host}, beyond loopback: the sandbox accepts fake credentials", err=True)

        def announce(url: str) -> None:
            click.echo(f"couponctl sandbox: Customer Billing API at {url}/CustomerBilling/v13")
            click.echo(f"couponctl sandbox: OAuth token endpoint at {url}/oauth2/v2.0/token")
            click.echo(f"couponctl sandbox: Alibaba Cloud ResellerTrade RPC API at {url}/ (Action=SendCoupon, …)")
            for spec in plan.specs:
                click.echo(f"couponctl sandbox: fault {spec} (fault seed {plan.seed})")
            click.echo(f"couponctl sandbox: store {path}; serving at {url} (Ctrl-C to stop)")

        serve_app(create_app(store, plan), host=host, port=port, announce=announce)
    finally:
        store.close()
    click.echo("couponctl sandbox: stopped")


@sandbox.command(name="seed")
@click.argument("file", required=False, type=click.Path(dir_okay=False, path_type=Path))
@_db_option
@_reset_journal_option
@click.pass_obj
@_reporting_errors
def seed_command(settings: Settings | None, file: Path | None, database: Path | None, reset_journal: bool) -> None:
    """Empty the store and load FILE into it (default FILE: the project's sandbox.seed).

    FILE is relative to the current directory. Refused while the project's journal records items issued
    through the sandbox, unless --reset-journal.
    """
    project = SandboxProject.of(settings)
    if file is not None:
        seed_file = project.command_line_file(file, "seed file")
    elif project.seed is not None:
        seed_file = project.seed
    else:
        where = (
            f"{project.config.path} names no sandbox.seed" if project.config else f"no {CONFIG_FILE} in {project.root}"
        )
        raise CouponctlError(f"which seed file? pass FILE ({where})")
    path = _store_path(project, database)
    loaded = load_seed(seed_file)  # checked first: a bad file changes nothing, neither store nor journal
    store = Store(path)  # opened before the journal is touched: an unusable store changes nothing either
    try:
        with _journal_kept_in_step(project, path, reset_journal, "reseeding") as said:
            store.reset()
            store.load_seed(loaded)
    finally:
        store.close()
    click.echo(f"seeded {path} from {seed_file}: {summary(loaded)}")
    for line in said:
        click.echo(line)


@sandbox.command()
@_db_option
@_reset_journal_option
@click.pass_obj
@_reporting_errors
def reset(settings: Settings | None, database: Path | None, reset_journal: bool) -> None:
    """Empty the store (customers, sellers, coupons, credentials, call log).

    Refused while the project's journal records items issued through the sandbox, unless --reset-journal.
    """
    project = SandboxProject.of(settings)
    path = _store_path(project, database)
    store = Store(path)
    try:
        with _journal_kept_in_step(project, path, reset_journal, "emptying") as said:
            store.reset()
    finally:
        store.close()
    click.echo(f"emptied {path}")
    for line in said:
        click.echo(line)
