"""The plan file's values as JSON text: exact decimals, UTC timestamps, targets and scopes, both ways. Shared by
the plan's serializer (reconciler.plan.serialize) and its governance part (reconciler.plan.governance_json)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from reconciler.state.desired import Scope, Target, TargetKind

JsonObject = dict[str, Any]


def decimal_text(value: Decimal) -> str:
    """The exact decimal as positional text: ``Decimal("100.00")`` -> ``"100.00"``."""
    if not value.is_finite():
        raise ValueError(f"not a finite amount: {value}")
    return format(value, "f")


def optional_decimal(value: Decimal | None) -> str | None:
    return None if value is None else decimal_text(value)


def decimal_from(text: str | None) -> Decimal | None:
    return None if text is None else Decimal(text)


def format_timestamp(moment: datetime) -> str:
    """ISO-8601 in UTC with a Z suffix; microseconds only when present."""
    if moment.tzinfo is None:
        raise ValueError("a plan's times (created_at, expires_at, a budget's period) must be timezone-aware")
    utc = moment.astimezone(UTC)
    fraction = f".{utc.microsecond:06d}" if utc.microsecond else ""
    return utc.strftime("%Y-%m-%dT%H:%M:%S") + fraction + "Z"


def parse_timestamp(text: str) -> datetime | None:
    """``text`` as a date and time; None when it is not one."""
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        return None


def timestamp_problem(text: str) -> str | None:
    """Why ``text`` is not a plan's timestamp (ISO 8601 with a time zone), or None when it is one."""
    parsed = parse_timestamp(text)
    if parsed is None:
        return f"{text!r} is not a valid date and time"
    if parsed.tzinfo is None or parsed.utcoffset() is None:
        return f"{text!r} has no time zone (plans write UTC with +00:00 or Z)"
    return None


def target_to_dict(target: Target) -> JsonObject:
    return {"kind": target.kind.value, "value": target.value}


def target_from_dict(data: JsonObject) -> Target:
    return Target(TargetKind(data["kind"]), data["value"])


def scope_to_dict(scope: Scope) -> JsonObject:
    return {"provider": scope.provider, "owner": scope.owner, "couponClass": scope.coupon_class}


def scope_from_dict(data: JsonObject) -> Scope:
    return Scope(data["provider"], data["owner"], data["couponClass"])
