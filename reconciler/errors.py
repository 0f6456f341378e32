"""The error hierarchy: one root, subclasses that carry where the problem is.

Every error a user can cause or meet derives from :class:`CouponctlError`; the command line maps it to a message
and its ``exit_code`` (:class:`ExitCode`) and never shows a traceback. Anything else that reaches the command line
is a bug: its traceback goes to a debug log file (reconciler.cli.debug_log), never to the terminal. The tree (exit 1
unless given)::

    CouponctlError              an error couponctl raises on purpose: its message is for the user
        InputError              bad input files: every problem found (file, line, column), at once
            ConfigError         couponctl.yaml, or the environment it refers to
            ManifestError       one or more manifests
            PlanFileError       a saved plan file that cannot be read
        RefusedError            exit 3: couponctl refuses to act (a stale or foreign plan, no confirmation, a
                                policy limit)
            JournalLostError    the journal is not the one earlier applies wrote (apply/database.py)
            LeaseLostError      exit 5: an apply no longer holds its lease; what it sent may be in doubt
                                (apply/lock.py)
        ProviderError           a vendor API call failed; carries provider, operation, status, code, tracking id
            AuthError           credentials missing, invalid or expired, or the token refresh failed
            ThrottledError      rejected for its rate; nothing was processed (may say when to retry)
            ApiFaultError       the request itself was rejected (validation, access); nothing was processed
            OutcomeUnknownError the request may have been processed (timeout after sending, dropped, 5xx)
            NotSentError        the request never left the process (refused, DNS, connect timeout)
        MalformedResponse       a vendor answer without its documented shape, found by the wire parsers; the
                                provider clients turn it into a ProviderError or an in-doubt result
        JournalError            the journal cannot be opened, read or written
            JournalFailedError  exit 5: the journal failed during an apply (apply/executor.py)
        SandboxError            the local sandbox: its store, seed or server
        EvaluationError         a rule's CEL condition could not be evaluated over an input, or is not a bool; the
                                rule then denies that input (governance/cel.py, governance/rules.py)

Exceptions that never leave their module (the sandbox server's faults and refusals, the manifest loader's
abort) are signals, not errors of couponctl, and are not in this tree.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


class ExitCode:
    """The exit codes of DESIGN.md: the one place their numbers are written."""

    OK = 0
    ERROR = 1
    CHANGES = 2
    REFUSED = 3
    PARTIAL = 4
    IN_DOUBT = 5
    INTERRUPTED = 130  # 128 + SIGINT: what a shell reports for a command stopped by Ctrl-C


@dataclass(frozen=True, slots=True)
class Problem:
    """One problem with an input file, at a position (1-based line and column; 0 when unknown)."""

    file: str
    line: int
    column: int
    field: str
    message: str

    def __str__(self) -> str:
        where = self.file
        if self.line:
            where = f"{where}:{self.line}:{self.column or 1}"
        return f"{where}: {self.field}: {self.message}" if self.field else f"{where}: {self.message}"


class CouponctlError(Exception):
    """The root of every error couponctl raises on purpose."""

    exit_code: int = ExitCode.ERROR


class InputError(CouponctlError):
    """Bad input (manifests, config, plan files, seed files): every problem found, at once."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = tuple(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


class ConfigError(InputError):
    """A problem with couponctl.yaml or the environment it refers to."""


class ManifestError(InputError):
    """A problem with one or more manifests."""


class PlanFileError(InputError):
    """A saved plan file that cannot be read."""


class RefusedError(CouponctlError):
    """couponctl refuses to act: a stale or foreign plan, no confirmation, a policy limit."""

    exit_code = ExitCode.REFUSED


class ProviderError(CouponctlError):
    """A vendor API call failed. Carries what identifies the call, never a secret."""

    def __init__(
        self,
        message: str,
        *,
        provider: str = "",
        operation: str = "",
        status: int | None = None,
        code: str | None = None,
        tracking_id: str | None = None,
    ) -> None:
        self.provider = provider
        self.operation = operation
        self.status = status
        self.code = code
        self.tracking_id = tracking_id
        super().__init__(message)

    def __str__(self) -> str:
        parts = [p for p in (self.provider, self.operation) if p]
        head = f"{' '.join(parts)}: " if parts else ""
        extra = []
        if self.status is not None:
            extra.append(f"HTTP {self.status}")
        if self.code:
            extra.append(f"code {self.code}")
        if self.tracking_id:
            extra.append(f"TrackingId {self.tracking_id}")
        tail = f" ({', '.join(extra)})" if extra else ""
        return f"{head}{self.args[0]}{tail}"


class AuthError(ProviderError):
    """Credentials missing, invalid or expired, or the token refresh failed."""


class ThrottledError(ProviderError):
    """The vendor rejected the call for its rate; nothing was processed."""

    def __init__(
        self,
        message: str,
        *,
        retry_after: float | None = None,
        provider: str = "",
        operation: str = "",
        status: int | None = None,
        code: str | None = None,
        tracking_id: str | None = None,
    ) -> None:
        super().__init__(
            message, provider=provider, operation=operation, status=status, code=code, tracking_id=tracking_id
        )
        self.retry_after = retry_after


class ApiFaultError(ProviderError):
    """The vendor rejected the request itself (a validation or access fault); nothing was processed."""


class OutcomeUnknownError(ProviderError):
    """The request may have been processed: timeout after sending, dropped connection, 5xx."""


class NotSentError(ProviderError):
    """The request never left the process (connection refused, DNS, connect timeout): nothing processed."""


class MalformedResponse(CouponctlError):
    """A vendor's response body that does not have the documented shape, as the wire parsers find it; the
    provider clients turn it into a ProviderError or an in-doubt result, with the call's context."""


class JournalError(CouponctlError):
    """The journal cannot be opened, read or written."""


class SandboxError(CouponctlError):
    """A problem with the local sandbox (its store, seed or server)."""
