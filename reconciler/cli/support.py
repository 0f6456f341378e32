"""What every command shares: global settings, where the project is, the exit-code contract for usage errors,
quiet ends on closed pipes, the mapping of errors to messages and exit codes, and printing a report."""

from __future__ import annotations

import contextlib
import functools
import importlib
import io
import logging
import os
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

import click

from reconciler.cli.debug_log import write_debug_log
from reconciler.config import redaction
from reconciler.config.model import CONFIG_FILE
from reconciler.errors import ConfigError, CouponctlError, ExitCode, InputError, Problem
from reconciler.render.formats import RenderOptions, ReportKind
from reconciler.render.terminal import defang

F = TypeVar("F", bound=Callable[..., Any])
R = TypeVar("R")


def find_project_root(start: Path) -> Path | None:
    """The nearest directory, ``start`` or one of its parents, that holds couponctl.yaml (as git finds .git)."""
    for directory in (start, *start.parents):
        if (directory / CONFIG_FILE).is_file():
            return directory
    return None


class Settings:
    """Global options shared by the commands.

    ``cwd`` is where relative paths on the command line start: ``-C DIR`` works as if couponctl had been
    started in DIR (as ``git -C`` does). ``directory`` is the project root: the nearest of ``cwd`` and its
    parents that holds couponctl.yaml.
    """

    def __init__(
        self, directory: Path, color: bool | None, quiet: bool, verbose: bool = False, *, cwd: Path | None = None
    ) -> None:
        self.cwd = (cwd or Path.cwd()) / directory if not directory.is_absolute() else directory
        self.cwd = Path(os.path.normpath(self.cwd))
        self.found_root = find_project_root(self.cwd)
        self.quiet = quiet
        self.verbose = verbose and not quiet
        self.color = color if color is not None else (sys.stdout.isatty() and "NO_COLOR" not in os.environ)

    @property
    def directory(self) -> Path:
        """The project root; a ConfigError when neither ``cwd`` nor any parent holds couponctl.yaml."""
        if self.found_root is None:
            raise ConfigError(
                [
                    Problem(
                        str(self.cwd / CONFIG_FILE),
                        0,
                        0,
                        "",
                        "not found, nor in any parent directory: run couponctl inside a project, or pass -C DIR",
                    )
                ]
            )
        return self.found_root

    def path(self, given: Path) -> Path:
        """A path from the command line, made absolute against ``cwd``."""
        return given if given.is_absolute() else Path(os.path.normpath(self.cwd / given))

    def paths(self, given: Sequence[Path]) -> list[Path] | None:
        """Manifest paths from the command line (absolute), or None for the configured ``manifests``."""
        return [self.path(p) for p in given] or None

    def announce_root(self) -> None:
        """Say where the project root is when it is not where the user stands (stderr; not with --quiet)."""
        if self.found_root is not None and self.found_root != self.cwd and not self.quiet:
            click.echo(f"couponctl: project {self.found_root}", err=True)


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
            sys.exit(ExitCode.INTERRUPTED)
        except Exception as exc:  # the last line of defence: a bug must not print a traceback
            report_bug(exc)
            sys.exit(ExitCode.ERROR)

    return wrapper  # type: ignore[return-value]


def report_bug(error: Exception) -> None:
    """An exception couponctl did not raise on purpose (a bug): its traceback to a debug log file
    (reconciler.cli.debug_log), and on stderr one short message naming that file."""
    try:
        where = str(write_debug_log(error))
    except OSError as exc:
        where = f"not written ({exc})"
    click.echo(f"internal error: {type(error).__name__}: {error} (please report this, with the debug log)", err=True)
    click.echo(f"debug log: {where}", err=True)


def format_option(kind: ReportKind[Any]) -> Callable[[F], F]:
    """The ``--format`` option of a command that prints ``kind``: its choices and default from the table of
    formats (reconciler.render.formats)."""
    return click.option("--format", "fmt", type=click.Choice(kind.choices), default=kind.default, show_default=True)


ECHO_CHUNK = 64 * 1024
"""How much of a streamed document is gathered before it is written (and flushed)."""


def echo_report(kind: ReportKind[R], fmt: str, report: R, options: RenderOptions | None = None) -> None:
    """Print ``report`` in the format ``fmt`` on stdout as it is rendered, as ``click.echo`` prints; the colour
    sequences of a colourable format pass the output stream (its renderer escaped every data string)."""
    chosen = kind.format(fmt)
    pending: list[str] = []
    size = 0
    with styled_output() if chosen.colourable else contextlib.nullcontext():
        for chunk in chosen.render(report, options or RenderOptions()):
            pending.append(chunk)
            size += len(chunk)
            if size >= ECHO_CHUNK:
                click.echo("".join(pending), nl=False)
                pending, size = [], 0
        if pending:
            click.echo("".join(pending), nl=False)


class _PipeSafeWriter(io.RawIOBase):
    """A file descriptor that swallows a closed pipe: once the reader is gone (``couponctl plan | head``),
    the rest of the output is dropped and the command finishes its work and exits with its own code."""

    def __init__(self, fd: int) -> None:
        super().__init__()
        self._fd = fd
        self.broken = False

    def writable(self) -> bool:
        return True

    def fileno(self) -> int:
        return self._fd

    def isatty(self) -> bool:
        return os.isatty(self._fd)

    def write(self, data: Any) -> int:
        size = len(memoryview(data))
        if self.broken:
            return size
        try:
            return os.write(self._fd, data)
        except BrokenPipeError:
            self.broken = True
            return size

    def close(self) -> None:  # the descriptor belongs to the process, not to this wrapper
        self.broken = True
        super().close()


_STYLED = [False]


@contextlib.contextmanager
def styled_output() -> Iterator[None]:
    """While couponctl writes output it coloured itself (a rendered plan), its colour sequences pass the stream;
    outside, colour is escaped like any other control sequence (it could only come from data)."""
    _STYLED[0] = True
    try:
        yield
    finally:
        _STYLED[0] = False


class _ScrubbingText(io.TextIOWrapper):
    """A text stream that scrubs registered secrets (reconciler.config.redaction) from everything written to it, and
    shows control sequences it did not write itself visibly (reconciler.render.terminal)."""

    def write(self, text: str) -> int:
        super().write(defang(redaction.scrub(text), colour=_STYLED[0]))
        return len(text)

    def close(self) -> None:
        """Let go of the stream underneath without closing it: it belongs to the process (or a test runner)."""
        with contextlib.suppress(ValueError, OSError):  # ValueError: detached already
            self.flush()
            self.detach()


def _guard_stream(stream: Any) -> Any:
    """``stream`` scrubbed of secrets; over a pipe-safe writer when it is a real descriptor. A stream without a
    binary buffer (already replaced by a caller) is kept as it is."""
    try:
        fd = stream.fileno()
    except (AttributeError, OSError, ValueError):
        fd = None
    if fd is not None:
        buffer: Any = io.BufferedWriter(_PipeSafeWriter(fd))
    elif isinstance(getattr(stream, "buffer", None), io.IOBase | io.BytesIO):
        buffer = stream.buffer  # a test runner's capture: scrubbed, written to the same bytes
    else:
        return stream
    return _ScrubbingText(
        buffer,
        encoding=stream.encoding,
        errors=stream.errors,
        line_buffering=stream.line_buffering or (fd is not None and os.isatty(fd)),
        write_through=True,
    )


class CouponctlGroup(click.Group):
    """The root command. Exit codes are a contract: 2 means "changes present" or "drift found", so a usage
    error (an unknown option, command or value) exits 1, never click's 2.

    ``lazy_commands`` maps a command name to ``module:attribute``: its module is imported only when the command is
    used (or listed), so that ``couponctl plan`` does not pay for importing the sandbox server or the journal views.
    """

    def __init__(self, *args: Any, lazy_commands: Mapping[str, str] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lazy_commands = dict(lazy_commands or {})

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self.lazy_commands})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self.lazy_commands and cmd_name not in self.commands:
            module, _, attribute = self.lazy_commands[cmd_name].partition(":")
            command = getattr(importlib.import_module(module), attribute)
            if not isinstance(command, click.Command):
                raise TypeError(f"{self.lazy_commands[cmd_name]} is not a click command")
            self.add_command(command, cmd_name)
        return super().get_command(ctx, cmd_name)

    def main(self, *args: Any, **kwargs: Any) -> Any:
        kwargs["standalone_mode"] = False
        _flush_quietly()
        originals = sys.stdout, sys.stderr  # kept referenced and put back: they own the descriptors and buffers
        sys.stdout, sys.stderr = _guard_stream(sys.stdout), _guard_stream(sys.stderr)
        try:
            code = super().main(*args, **kwargs)
        except click.ClickException as exc:  # UsageError, BadParameter, NoSuchOption, ...
            exc.show()
            code = ExitCode.ERROR
        except click.Abort:
            click.echo("aborted", err=True)
            code = ExitCode.ERROR
        except Exception as exc:  # a bug outside reports_errors (a group, the sandbox commands): no traceback
            report_bug(exc)
            code = ExitCode.ERROR
        finally:
            _flush_quietly()
            _stop_debug_log()
            for ours, original in zip((sys.stdout, sys.stderr), originals, strict=True):
                if ours is not original:
                    ours.close()  # _ScrubbingText.close: flushes and lets go of the buffer, never closes it
            sys.stdout, sys.stderr = originals
        sys.exit(code if isinstance(code, int) else ExitCode.OK)


def _flush_quietly() -> None:
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(BrokenPipeError, ValueError):
            stream.flush()


def _stop_debug_log() -> None:
    logger = logging.getLogger("reconciler")
    logger.handlers = [h for h in logger.handlers if not getattr(h, "couponctl_debug", False)]


def enable_debug_log() -> None:
    """Show couponctl's log records on stderr, one ``debug:`` line each (they never hold a secret)."""
    logger = logging.getLogger("reconciler")
    logger.handlers = [h for h in logger.handlers if not getattr(h, "couponctl_debug", False)]
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("debug: %(name)s: %(message)s"))
    handler.couponctl_debug = True  # type: ignore[attr-defined]
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
