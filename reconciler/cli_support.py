"""What every command shares: global settings and the mapping of errors to messages and exit codes."""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from reconciler.errors import CouponctlError, ExitCode, InputError

F = TypeVar("F", bound=Callable[..., Any])


class Settings:
    """Global options shared by the commands."""

    def __init__(self, directory: Path, color: bool | None, quiet: bool, verbose: bool = False) -> None:
        self.directory = directory
        self.quiet = quiet
        self.verbose = verbose and not quiet
        self.color = color if color is not None else (sys.stdout.isatty() and "NO_COLOR" not in os.environ)


def reports_errors(command: F) -> F:
    """Map errors to messages and exit codes; no traceback ever reaches the user."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except InputError as exc:
            for problem in exc.problems:
                click.echo(str(problem), err=True)
            click.echo(f"error: {len(exc.problems)} problem(s) found; nothing was done", err=True)
            sys.exit(exc.exit_code)
        except CouponctlError as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(exc.exit_code)
        except KeyboardInterrupt:
            click.echo("interrupted", err=True)
            sys.exit(130)
        except Exception as exc:  # the last line of defence: a bug must not print a traceback
            click.echo(f"internal error: {type(exc).__name__}: {exc} (please report this)", err=True)
            sys.exit(ExitCode.ERROR)

    return wrapper  # type: ignore[return-value]
