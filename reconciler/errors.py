"""The error hierarchy: one root, subclasses that carry where the problem is.

Every error a user can cause or meet derives from :class:`CouponctlError`; the CLI
maps it to a message and an exit code and never shows a traceback.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


class ExitCode:
    """The exit codes of DESIGN.md."""

    OK = 0
    ERROR = 1
    CHANGES = 2
    REFUSED = 3
    PARTIAL = 4
    IN_DOUBT = 5


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


class PlanError(CouponctlError):
    """The plan was computed but holds errors (inventory shortfall, expect mismatch): nothing may be applied."""


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


class SandboxError(CouponctlError):
    """A problem with the local sandbox (its store, seed or server)."""
