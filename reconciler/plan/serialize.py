"""A plan as versioned JSON: written in a stable order, read back exactly, anything else rejected clearly.

Money is a decimal string (``format(d, "f")``, never a float); keys are camelCase; scopes are sorted by
scope and every item list by target. :func:`plan_content` is what the checksum covers. A plan's governance is the
``governance`` object (reconciler.plan.governance_json) and its counts in ``summary``, both absent from a plan
made without governance (by an older couponctl), which reads back as ``governance=None``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import MAXYEAR, UTC, datetime
from decimal import Decimal
from functools import cache
from importlib import resources
from typing import Any, NoReturn, Protocol

from jsonschema import Draft202012Validator, ValidationError

from reconciler import __version__
from reconciler.errors import PlanFileError, Problem
from reconciler.governance.freezes import Span
from reconciler.governance.model import Governance
from reconciler.plan import json_values
from reconciler.plan.governance_json import (
    GOVERNANCE_SUMMARY_KEYS,
    governance_from_dict,
    governance_problems,
    governance_summary,
    governance_to_dict,
)
from reconciler.plan.json_values import (
    decimal_from,
    optional_decimal,
    target_from_dict,
    target_to_dict,
    timestamp_problem,
)
from reconciler.plan.jsonstream import Lazy, iter_json
from reconciler.plan.model import (
    PLAN_FORMAT_VERSION,
    HeldItem,
    JournalStamp,
    Plan,
    PlanEndpoint,
    PlanItem,
    PlanProblem,
    ScopePlan,
    Severity,
    TimedItem,
)
from reconciler.state.desired import Scope, Target
from reconciler.state.live import FaceValue, IssuedCoupon

#: Defined in reconciler.plan.json_values, and imported from here by the renderers and exporters too.
JsonObject = json_values.JsonObject
decimal_text = json_values.decimal_text
format_timestamp = json_values.format_timestamp

PLAN_KIND = "CouponPlan"
MAX_PROBLEMS = 50


@dataclass(frozen=True, slots=True)
class PlanSummary:
    """Totals over all scopes: what the JSON ``summary`` holds and what the renderers show first.

    ``unpriced_scopes`` counts scopes with coupons to issue whose money is unknown.
    """

    scope_count: int
    item_count: int
    exposure: dict[str, Decimal]
    unpriced_scopes: int
    satisfied: int
    unmanaged: int
    removed: int
    errors: int
    warnings: int
    in_doubt: int
    violations: int
    mismatched: int


def summarize(plan: Plan) -> PlanSummary:
    scopes = plan.scopes
    return PlanSummary(
        scope_count=len(scopes),
        item_count=plan.item_count,
        exposure=plan.exposure(),
        unpriced_scopes=sum(1 for s in scopes if s.to_issue and (s.exposure is None or s.currency is None)),
        satisfied=sum(s.satisfied for s in scopes),
        unmanaged=sum(len(s.unmanaged) for s in scopes),
        removed=sum(len(s.removed) for s in scopes),
        errors=sum(len(s.errors) for s in scopes),
        warnings=sum(len(s.warnings) for s in scopes),
        in_doubt=plan.in_doubt_count,
        violations=len(plan.violations),
        mismatched=sum(len(s.mismatched) for s in scopes),
    )


# --- writing -------------------------------------------------------------------------------------------


def plan_to_json(plan: Plan) -> str:
    """The plan as indented JSON, without a trailing newline."""
    return "".join(iter_plan_json(plan))


def iter_plan_json(plan: Plan) -> Iterator[str]:
    """The chunks of :func:`plan_to_json`, built item by item: a large plan is never one string or one dict."""
    return iter_json(plan_to_dict(plan, lazy=True), indent=2)


class TextSink(Protocol):
    """Anything with ``write(str)``: a text file, stdout, a hash or a counter."""

    def write(self, text: str, /) -> object: ...


def write_plan_json(plan: Plan, out: TextSink) -> None:
    """Write :func:`plan_to_json` to ``out`` (no trailing newline) as it is produced."""
    for chunk in iter_plan_json(plan):
        out.write(chunk)


def plan_to_dict(plan: Plan, *, lazy: bool = False) -> JsonObject:
    """The plan as JSON data; with ``lazy`` its item lists are produced only while written."""
    content = plan_content(plan, lazy=lazy)
    return {
        "kind": content.pop("kind"),
        "formatVersion": content.pop("formatVersion"),
        "toolVersion": content.pop("toolVersion"),
        "createdAt": format_timestamp(plan.created_at),
        "checksum": plan.checksum,
        **content,
    }


def plan_content(plan: Plan, *, lazy: bool = False) -> JsonObject:
    """Everything in the JSON but ``createdAt`` and ``checksum``: what two identical diffs share. With ``lazy``
    the item lists (to issue, in doubt, unmanaged, removed, mismatched, governance findings) are :class:`Lazy`
    arrays. ``governance`` is left out, not null, when the plan has none: such a plan's JSON (and checksum) is
    what couponctl wrote before governance existed."""
    content: JsonObject = {
        "kind": PLAN_KIND,
        "formatVersion": plan.format_version,
        "toolVersion": plan.tool_version,
        "planId": plan.plan_id,
        "expiresAt": None if plan.expires_at is None else format_timestamp(plan.expires_at),
        "liveDigest": plan.live_digest,
        "policyDigest": plan.policy_digest,
        "violations": list(plan.violations),
        "selection": None if plan.selection is None else list(plan.selection),
        "journal": None if plan.journal is None else {"id": plan.journal.id, "runs": plan.journal.runs},
        "endpoints": None
        if plan.endpoints is None
        else [{"provider": e.provider, "role": e.role, "url": e.url, "listed": e.listed} for e in plan.endpoints],
        "summary": _plan_summary(plan),
    }
    if plan.governance is not None:
        content["governance"] = governance_to_dict(plan.governance, lazy=lazy)
    if plan.freezes:  # left out when none, like governance
        content["freezes"] = [
            {
                "name": f.name,
                "from": format_timestamp(f.start),
                "until": _until_text(f.end),
                "inForce": f.holds(plan.created_at),
            }
            for f in plan.freezes
        ]
    content["scopes"] = [_scope_to_dict(s, lazy) for s in sorted(plan.scopes, key=lambda s: s.scope)]
    return content


def _plan_summary(plan: Plan) -> JsonObject:
    """The ``summary``: the totals over the scopes, the scheduled and closed counts when the plan has any, and the
    governance counts when the plan has governance."""
    summary = _summary_to_dict(summarize(plan))
    if plan.scheduled_count or plan.closed_count:
        summary["scheduledCount"] = plan.scheduled_count
        summary["closedCount"] = plan.closed_count
        due = [t.at for s in plan.scopes for t in s.scheduled]
        summary["nextDueAt"] = format_timestamp(min(due)) if due else None
    if plan.governance is not None:
        summary.update(governance_summary(plan.governance))
    return summary


def _summary_to_dict(summary: PlanSummary) -> JsonObject:
    return {
        "itemCount": summary.item_count,
        "hasChanges": summary.item_count > 0,
        "hasErrors": summary.errors > 0,
        "exposure": {currency: decimal_text(amount) for currency, amount in summary.exposure.items()},
        "unpricedScopeCount": summary.unpriced_scopes,
        "scopeCount": summary.scope_count,
        "satisfiedCount": summary.satisfied,
        "unmanagedCount": summary.unmanaged,
        "removedCount": summary.removed,
        "errorCount": summary.errors,
        "warningCount": summary.warnings,
        "inDoubtCount": summary.in_doubt,
        "violationCount": summary.violations,
        "mismatchedCount": summary.mismatched,
    }


def _array(lazy: bool, make: Callable[[], Iterable[JsonObject]]) -> list[JsonObject] | Lazy:
    return Lazy(make) if lazy else list(make())


def _scope_to_dict(plan: ScopePlan, lazy: bool = False) -> JsonObject:
    scope: JsonObject = {
        "provider": plan.scope.provider,
        "providerType": plan.provider_type,
        "owner": plan.scope.owner,
        "couponClass": plan.scope.coupon_class,
        "manifests": list(plan.manifests),
        "faceValue": _face_value_to_dict(plan.face_value),
        "available": plan.available,
        "featureId": plan.feature_id,
        "sendNotification": plan.send_notification,
        "toIssue": _array(lazy, lambda: (_item_to_dict(i) for i in sorted(plan.to_issue, key=_item_key))),
        "satisfied": plan.satisfied,
        "unmanaged": _array(lazy, lambda: (_held_to_dict(h) for h in sorted(plan.unmanaged, key=_held_key))),
        "removed": _array(lazy, lambda: (_held_to_dict(h) for h in sorted(plan.removed, key=_held_key))),
        "problems": [_problem_to_dict(p) for p in plan.problems],
        "exposure": optional_decimal(plan.exposure),
        "inDoubt": _array(lazy, lambda: (_item_to_dict(i) for i in sorted(plan.in_doubt, key=_item_key))),
        "notYetVisible": plan.not_yet_visible,
        "mismatched": _array(lazy, lambda: (_held_to_dict(h) for h in sorted(plan.mismatched, key=_held_key))),
        "currency": plan.currency,
    }
    if plan.scheduled or plan.closed:  # left out when empty: a plan without windows reads (and hashes) as before
        scope["scheduled"] = [_timed_to_dict(t, "dueAt") for t in sorted(plan.scheduled, key=_timed_key)]
        scope["closed"] = [_timed_to_dict(t, "closedAt") for t in sorted(plan.closed, key=_timed_key)]
    return scope


def _until_text(end: datetime) -> str | None:
    return None if end.year == MAXYEAR else format_timestamp(end)


def _until_from(text: str | None) -> datetime:
    return datetime.max.replace(tzinfo=UTC) if text is None else datetime.fromisoformat(text)


def _timed_key(timed: TimedItem) -> tuple[Target, str]:
    return _item_key(timed.item)


def _timed_to_dict(timed: TimedItem, at: str) -> JsonObject:
    return {**_item_to_dict(timed.item), at: format_timestamp(timed.at)}


def _timed_from_dict(data: JsonObject, at: str) -> TimedItem:
    return TimedItem(_item_from_dict(data), datetime.fromisoformat(data[at]))


def _held_key(held: HeldItem) -> Target:
    return held.target


def _item_key(item: PlanItem) -> tuple[Target, str]:
    return (item.target, item.manifest)


def _face_value_to_dict(face: FaceValue | None) -> JsonObject | None:
    if face is None:
        return None
    return {"amount": decimal_text(face.amount), "currency": face.currency, "couponType": face.coupon_type}


def _item_to_dict(item: PlanItem) -> JsonObject:
    return {
        "target": target_to_dict(item.target),
        "manifest": item.manifest,
        "amount": optional_decimal(item.amount),
    }


def _held_to_dict(held: HeldItem) -> JsonObject:
    return {
        "target": target_to_dict(held.target),
        "coupons": [_coupon_to_dict(c) for c in held.coupons],
        "note": held.note,
    }


def _coupon_to_dict(coupon: IssuedCoupon) -> JsonObject:
    return {
        "code": coupon.code,
        "status": coupon.status,
        "amount": optional_decimal(coupon.amount),
        "currency": coupon.currency,
        "issuedAt": coupon.issued_at,
    }


def _problem_to_dict(problem: PlanProblem) -> JsonObject:
    return {"severity": problem.severity.value, "code": problem.code, "message": problem.message}


# --- reading -------------------------------------------------------------------------------------------


def plan_from_json(text: str, source_name: str) -> Plan:
    """Read a plan written by :func:`plan_to_json`; raise :class:`PlanFileError` naming what is wrong.

    The checksum is read, not verified: see :func:`reconciler.plan.checksum.verify_checksum`.
    """
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise PlanFileError([Problem(source_name, exc.lineno, exc.colno, "", f"not valid JSON: {exc.msg}")]) from None
    _check(source_name, _foreign_problems(data))
    _check(source_name, _schema_problems(data))
    _check(source_name, _window_timestamp_problems(data))
    created_at = _timestamp_field(source_name, data, "createdAt")
    expires_at = None if data["expiresAt"] is None else _timestamp_field(source_name, data, "expiresAt")
    plan = Plan(
        format_version=data["formatVersion"],
        tool_version=data["toolVersion"],
        created_at=created_at,
        scopes=tuple(_scope_from_dict(s) for s in data["scopes"]),
        checksum=data["checksum"],
        plan_id=data["planId"],
        expires_at=expires_at,
        live_digest=data["liveDigest"],
        policy_digest=data["policyDigest"],
        violations=tuple(data["violations"]),
        selection=None if data.get("selection") is None else tuple(data["selection"]),
        journal=None if data.get("journal") is None else JournalStamp(data["journal"]["id"], data["journal"]["runs"]),
        endpoints=None
        if data.get("endpoints") is None
        else tuple(PlanEndpoint(e["provider"], e["role"], e["url"], e["listed"]) for e in data["endpoints"]),
        governance=_governance_field(source_name, data),
        freezes=tuple(
            Span(f["name"], datetime.fromisoformat(f["from"]), _until_from(f["until"])) for f in data.get("freezes", ())
        ),
    )
    _check(source_name, _summary_problems(data["summary"], plan))
    return plan


def _governance_field(source_name: str, data: JsonObject) -> Governance | None:
    """The plan's governance; None for a plan written without one (by a couponctl before governance)."""
    if "governance" not in data:
        return None
    _check(source_name, governance_problems(data["governance"]))
    return governance_from_dict(data["governance"])


def _window_timestamp_problems(data: JsonObject) -> list[tuple[str, str]]:
    """The scheduled and closed items' dates and the freezes' bounds that are no timestamps (the schema says
    only that they are strings)."""
    found: list[tuple[str, str]] = []
    for i, scope in enumerate(data["scopes"]):
        for key, at in (("scheduled", "dueAt"), ("closed", "closedAt")):
            for j, item in enumerate(scope.get(key, ())):
                found += [(f"scopes[{i}].{key}[{j}].{at}", p) for p in [timestamp_problem(item[at])] if p]
    for i, freeze in enumerate(data.get("freezes", ())):
        for key in ("from", "until"):
            text = freeze[key]
            found += [(f"freezes[{i}].{key}", p) for p in [None if text is None else timestamp_problem(text)] if p]
    return found


def _timestamp_field(source_name: str, data: dict[str, Any], name: str) -> datetime:
    """A plan's timestamp: ISO 8601 with a time zone (a time without one could be any instant)."""
    problem = timestamp_problem(data[name])
    if problem is not None:
        _fail(source_name, [(name, problem)])
    return datetime.fromisoformat(data[name])


def _check(source_name: str, problems: Sequence[tuple[str, str]]) -> None:
    if problems:
        _fail(source_name, problems)


def _fail(source_name: str, problems: Sequence[tuple[str, str]]) -> NoReturn:
    """Raise :class:`PlanFileError` for the (field, message) problems, showing at most MAX_PROBLEMS."""
    shown = [Problem(source_name, 0, 0, field, message) for field, message in problems[:MAX_PROBLEMS]]
    if len(problems) > MAX_PROBLEMS:
        shown.append(Problem(source_name, 0, 0, "", f"and {len(problems) - MAX_PROBLEMS} more problems"))
    raise PlanFileError(shown)


def _foreign_problems(data: object) -> list[tuple[str, str]]:
    """Reject a file that is not a couponctl plan, or one of another format version, in one clear line."""
    if not isinstance(data, dict):
        return [("", f"not a couponctl plan: the file holds a JSON {_json_type(data)}, not an object")]
    kind = data.get("kind")
    if kind != PLAN_KIND:
        found = "missing" if kind is None else f"{kind!r}"
        return [("kind", f"is {found}, not {PLAN_KIND!r}: this is not a couponctl plan file")]
    version = data.get("formatVersion")
    if type(version) is not int or version != PLAN_FORMAT_VERSION:
        tool = data.get("toolVersion")
        made_by = f" (it was made by couponctl {tool})" if isinstance(tool, str) else ""
        return [
            (
                "formatVersion",
                f"is {version!r}, but couponctl {__version__} reads plan format {PLAN_FORMAT_VERSION} only"
                f"{made_by}: make the plan again with this version",
            )
        ]
    return []


@cache
def _validator() -> Draft202012Validator:
    schema_text = resources.files("reconciler").joinpath("schemas/plan.schema.json").read_text("utf-8")
    return Draft202012Validator(json.loads(schema_text))


def _schema_problems(data: object) -> list[tuple[str, str]]:
    errors = sorted(_validator().iter_errors(data), key=lambda e: _path_key(e.absolute_path))
    found = [problem for error in errors for problem in _describe(error)]
    return list(dict.fromkeys(found))


def _path_key(path: Iterable[str | int]) -> tuple[tuple[int, str], ...]:
    return tuple((p, "") if isinstance(p, int) else (-1, p) for p in path)


def _describe(error: ValidationError) -> Iterator[tuple[str, str]]:
    """One schema error as (field path, message), in words rather than schema keywords."""
    path: list[str | int] = list(error.absolute_path)
    instance: Any = error.instance
    keyword = error.validator
    rule: Any = error.validator_value
    if keyword == "required":
        for name in rule:
            if name not in instance:
                yield _field([*path, name]), "is missing"
    elif keyword == "additionalProperties":
        known = error.schema.get("properties", {}) if isinstance(error.schema, dict) else {}
        for name in sorted(k for k in instance if k not in known):
            yield _field([*path, name]), "is not a field of a couponctl plan"
    elif keyword == "type":
        expected = rule
        words = " or ".join(expected) if isinstance(expected, list) else str(expected)
        yield _field(path), f"must be {words}, not {_json_type(instance)}"
    elif keyword in ("pattern", "enum", "const", "minimum", "minLength", "anyOf"):
        described = error.schema.get("description", "") if isinstance(error.schema, dict) else ""
        suffix = f": {described[:1].lower()}{described[1:].rstrip('.')}" if described else ""
        yield _field(path), f"{_clip(json.dumps(instance, ensure_ascii=False), 60)} is not valid{suffix}"
    else:
        yield _field(path), _clip(error.message, 200)


def _field(path: Sequence[str | int]) -> str:
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else part)
    return text


def _json_type(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, list) else "object"


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _summary_problems(summary: JsonObject, plan: Plan) -> list[tuple[str, str]]:
    """Where the summary disagrees with what the scopes and the governance give (the schema required its totals,
    and the governance counts when the plan has governance)."""
    expected = _plan_summary(plan)
    found = [
        (f"summary.{key}", f"is {json.dumps(summary[key])} but {_source(key)} {json.dumps(value)}")
        for key, value in expected.items()
        if key in summary and summary[key] != value
    ]
    found += [
        (f"summary.{key}", "is a governance count, but the plan has no governance")
        for key in summary
        if key not in expected
    ]
    return found


def _source(key: str) -> str:
    return "the governance gives" if key in GOVERNANCE_SUMMARY_KEYS else "the scopes give"


def _scope_from_dict(data: JsonObject) -> ScopePlan:
    return ScopePlan(
        scope=Scope(data["provider"], data["owner"], data["couponClass"]),
        provider_type=data["providerType"],
        manifests=tuple(data["manifests"]),
        face_value=_face_value_from_dict(data["faceValue"]),
        available=data["available"],
        feature_id=data["featureId"],
        send_notification=data["sendNotification"],
        to_issue=tuple(_item_from_dict(i) for i in data["toIssue"]),
        satisfied=data["satisfied"],
        unmanaged=tuple(_held_from_dict(h) for h in data["unmanaged"]),
        removed=tuple(_held_from_dict(h) for h in data["removed"]),
        problems=tuple(PlanProblem(Severity(p["severity"]), p["code"], p["message"]) for p in data["problems"]),
        exposure=decimal_from(data["exposure"]),
        in_doubt=tuple(_item_from_dict(i) for i in data["inDoubt"]),
        not_yet_visible=data["notYetVisible"],
        mismatched=tuple(_held_from_dict(h) for h in data["mismatched"]),
        currency=data["currency"],
        scheduled=tuple(_timed_from_dict(t, "dueAt") for t in data.get("scheduled", ())),
        closed=tuple(_timed_from_dict(t, "closedAt") for t in data.get("closed", ())),
    )


def _face_value_from_dict(data: JsonObject | None) -> FaceValue | None:
    if data is None:
        return None
    return FaceValue(Decimal(data["amount"]), data["currency"], data["couponType"])


def _item_from_dict(data: JsonObject) -> PlanItem:
    return PlanItem(target_from_dict(data["target"]), data["manifest"], decimal_from(data["amount"]))


def _held_from_dict(data: JsonObject) -> HeldItem:
    coupons = tuple(
        IssuedCoupon(c["code"], c["status"], decimal_from(c["amount"]), c["currency"], c["issuedAt"])
        for c in data["coupons"]
    )
    return HeldItem(target_from_dict(data["target"]), coupons, data["note"])
