"""Budgets against what was paid: for each budget and currency, what the journal records as spent and in doubt in
the budget's period, what a plan adds, and whether that breaches it.

What a budget counts:

- a journal item (one coupon) whose intent was recorded in the period, whose scope and declaring manifest the
  selector selects: its provider is one of ``providers``, ``provider/owner/class`` matches one of the ``scopes``
  globs (fnmatch, case-sensitive), and the labels of its declaring manifest *as recorded with its intent* carry
  every label of ``labels`` (a later relabelling does not move past spending in or out of a budget). An item
  recorded before the journal kept labels is judged by the labels of the manifest that declares its target today;
  a target no manifest declares any more then does not match a label selector;
- a plan's item to issue that the selector selects, by the labels of the manifest that declares it, at its own
  amount (aliyun) or its scope's face value, in its scope's currency (as the plan's exposure counts it).

A budget limits only the currencies it names: money in another currency is not its business. Money the journal
recorded without an amount or a currency (items from before couponctl recorded currencies) cannot be counted and
is not. An item to issue whose amount or currency is unknown cannot be counted either, so the budget cannot show
that the plan fits: each such item is counted in ``unpriced`` and the status is a breach (fail closed).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import MAX_PREC, Decimal, localcontext
from fnmatch import fnmatchcase

from reconciler.governance.model import Budget, BudgetStatus, Selector
from reconciler.governance.periods import Window, period_window
from reconciler.plan.model import Plan, ScopePlan
from reconciler.state.desired import DesiredState, Scope, Target


@dataclass(frozen=True, slots=True)
class Spending:
    """``count`` journal items alike in all a budget looks at: their scope; the manifest that declared them and its
    labels when their intent was recorded (None: not recorded, an item from before budgets: then ``target`` says
    which target it was, for today's manifests to judge); their currency and amount each (None: unknown); whether
    their money is in doubt (else it was spent); and ``segment``, the latest of the boundaries the journal was
    asked for (:class:`SpendingRead`) at or before their intents were recorded (None: before every one)."""

    scope: Scope
    manifest: str | None
    labels: Mapping[str, str] | None
    currency: str | None
    amount: Decimal | None
    in_doubt: bool
    count: int
    segment: datetime | None = None
    target: Target | None = None


@dataclass(frozen=True, slots=True)
class SpendingRead:
    """What to read of the journal, once, for a set of budgets at one moment: items whose intent was recorded in
    [since, until) (None: open), each told the segment it falls in between ``boundaries`` (every budget's start and
    end), so that each budget's period takes exactly its own items."""

    since: datetime | None
    until: datetime | None
    boundaries: tuple[datetime, ...] = field(default=())


def spending_read(budgets: Sequence[Budget], now: datetime) -> SpendingRead | None:
    """The one read of the journal ``budgets`` need at ``now``: the widest of their periods, split at each
    period's bounds (None: no budget, nothing to read)."""
    if not budgets:
        return None
    windows = [period_window(budget.period, now) for budget in budgets]
    starts = [start for start, _ in windows]
    ends = [end for _, end in windows]
    since = None if None in starts else min(s for s in starts if s is not None)
    until = None if None in ends else max(e for e in ends if e is not None)
    boundaries = {moment for window in windows for moment in window if moment is not None}
    return SpendingRead(since, until, tuple(sorted(boundaries)))


def budget_statuses(
    budgets: Sequence[Budget], plan: Plan, desired: DesiredState, spending: Iterable[Spending], now: datetime
) -> tuple[BudgetStatus, ...]:
    """One status per budget and currency it names (budgets in their order, currencies sorted): what the journal
    records as spent and in doubt in the budget's period at ``now``, and what ``plan`` adds. ``spending`` is the
    journal's answer to :func:`spending_read` of these budgets at the same ``now``."""
    with localcontext(prec=MAX_PREC):  # sums are exact: a 28-digit context would round them
        return _statuses(budgets, plan, desired, tuple(spending), now)


def _statuses(
    budgets: Sequence[Budget], plan: Plan, desired: DesiredState, rows: Sequence[Spending], now: datetime
) -> tuple[BudgetStatus, ...]:
    adds = tuple(_priced_items(plan))
    statuses: list[BudgetStatus] = []
    for budget in budgets:
        window = period_window(budget.period, now)
        spent, doubt = _counted(budget.selector, window, rows, desired)
        added, unpriced = _added(budget.selector, adds, desired)
        for currency in sorted(budget.amounts):
            statuses.append(
                BudgetStatus(
                    name=budget.name,
                    currency=currency,
                    limit=budget.amounts[currency],
                    spent=spent.get(currency, Decimal(0)),
                    in_doubt=doubt.get(currency, Decimal(0)),
                    adds=added.get(currency, Decimal(0)),
                    period=str(budget.period),
                    period_start=window[0],
                    period_end=window[1],
                    unpriced=unpriced.get(currency, 0) + unpriced.get(None, 0),
                )
            )
    return tuple(statuses)


def budgets_touched(budgets: Sequence[Budget], desired: DesiredState) -> tuple[Budget, ...]:
    """The budgets an apply of ``desired`` may add to: those selecting a scope it declares, with the labels of a
    manifest that declares targets in it. Apply holds a lease on each while it plans and issues."""
    return tuple(
        budget
        for budget in budgets
        if any(
            _selects_scope(budget.selector, scope)
            and any(_has_labels(budget.selector, desired.labels.get(name, {})) for name in spec.manifests)
            for scope, spec in desired.scopes.items()
        )
    )


def breach_lines(statuses: Iterable[BudgetStatus]) -> list[str]:
    """One line per breached budget and currency: what was spent, what is in doubt, what the plan adds, what
    would remain, and any items it cannot price."""
    lines = []
    for status in statuses:
        line = (
            f"budget {status.name} ({status.period}) {status.currency}: limit {status.limit}, spent {status.spent}, "
            f"in doubt {status.in_doubt}, this plan adds {status.adds}, remaining {status.remaining}"
        )
        if status.unpriced:
            line += f"; {status.unpriced} item(s) to issue whose money is unknown cannot be counted"
        lines.append(line)
    return lines


@dataclass(frozen=True, slots=True)
class _Adding:
    """An item to issue as a budget weighs it: its scope, declaring manifest, and money (None: unknown)."""

    scope: Scope
    manifest: str
    currency: str | None
    amount: Decimal | None


def _priced_items(plan: Plan) -> Iterable[_Adding]:
    for scope_plan in plan.scopes:
        currency = _currency(scope_plan)
        face = scope_plan.face_value.amount if scope_plan.face_value is not None else None
        for item in scope_plan.to_issue:
            amount = item.amount if item.amount is not None else face
            yield _Adding(scope_plan.scope, item.manifest, currency, amount)


def _currency(scope_plan: ScopePlan) -> str | None:
    """The scope's currency as the plan's exposure counts it: the scope's, else its face value's."""
    currency = scope_plan.currency or (scope_plan.face_value.currency if scope_plan.face_value else None)
    return currency.upper() if currency else None


def _added(
    selector: Selector, items: Iterable[_Adding], desired: DesiredState
) -> tuple[dict[str, Decimal], dict[str | None, int]]:
    """What the selected items to issue add, per currency, and how many of them cannot be priced, per currency
    (None: not even the currency is known)."""
    added: dict[str, Decimal] = {}
    unpriced: dict[str | None, int] = {}
    for item in items:
        if not (_selects_scope(selector, item.scope) and _has_labels(selector, desired.labels.get(item.manifest, {}))):
            continue
        if item.currency is None or item.amount is None:
            unpriced[item.currency] = unpriced.get(item.currency, 0) + 1
        else:
            added[item.currency] = added.get(item.currency, Decimal(0)) + item.amount
    return added, unpriced


def _counted(
    selector: Selector, window: Window, rows: Iterable[Spending], desired: DesiredState
) -> tuple[dict[str, Decimal], dict[str, Decimal]]:
    """What the selected journal items of ``window`` spent and hold in doubt, per currency."""
    spent: dict[str, Decimal] = {}
    doubt: dict[str, Decimal] = {}
    for row in rows:
        if row.currency is None or row.amount is None or not _in_window(row.segment, window):
            continue
        if not (_selects_scope(selector, row.scope) and _has_labels(selector, _labels_of(row, desired))):
            continue
        totals = doubt if row.in_doubt else spent
        currency = row.currency.upper()
        totals[currency] = totals.get(currency, Decimal(0)) + row.amount * row.count
    return spent, doubt


def _in_window(segment: datetime | None, window: Window) -> bool:
    """Whether items of ``segment`` lie in ``window``, whose bounds are among the boundaries the segments were cut
    at: at or after its start when their segment is, before its end when their segment is."""
    start, end = window
    if start is not None and (segment is None or segment < start):
        return False
    return end is None or segment is None or segment < end


def _labels_of(row: Spending, desired: DesiredState) -> Mapping[str, str] | None:
    """The labels a journal item is judged by: those recorded with its intent, else (an item from before budgets)
    those of the manifest that declares its target today, else none (it matches no label selector)."""
    if row.labels is not None:
        return row.labels
    if row.target is None:
        return None
    declared = desired.items.get(row.scope, {}).get(row.target)
    return None if declared is None else desired.labels.get(declared.manifest, {})


def _selects_scope(selector: Selector, scope: Scope) -> bool:
    if selector.providers and scope.provider not in selector.providers:
        return False
    return not selector.scopes or any(fnmatchcase(str(scope), pattern) for pattern in selector.scopes)


def _has_labels(selector: Selector, labels: Mapping[str, str] | None) -> bool:
    if not selector.labels:
        return True
    return labels is not None and all(labels.get(key) == value for key, value in selector.labels.items())
