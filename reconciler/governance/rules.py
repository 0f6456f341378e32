"""Rules over a plan: each compiled for its level when the config loads (a problem at the file's line:col), then
evaluated over every item to issue (``on: item``), every scope with items to issue (``on: scope``) and the whole
plan (``on: plan``). A rule that cannot be evaluated for an input, or whose condition is not a bool, denies it:
rules fail closed."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from reconciler.errors import Problem
from reconciler.governance.cel import CompileProblem, EvaluationError, Program, compile_condition
from reconciler.governance.model import BudgetStatus, Effect, Finding, GitContext, Level, Rule
from reconciler.governance.positions import source_position, value_offset
from reconciler.governance.variables import DECLARATIONS, PlanValues, Values, item_values
from reconciler.plan.model import Plan, PlanItem, ScopePlan
from reconciler.state.desired import DesiredState, Scope

_UNDECLARED = re.compile(r"undeclared reference to '([^']+)'")


def rule_problems(rules: Sequence[Rule], sources: Mapping[str, str]) -> list[Problem]:
    """Each rule whose ``when`` does not compile for its level, at the file's line:col of the error (``sources``:
    the text of each file that holds rules, by the name its positions give; without it, at the ``when``)."""
    problems = []
    for rule in rules:
        compiled = compile_condition(rule.when, DECLARATIONS[rule.level])
        if isinstance(compiled, CompileProblem):
            problems.append(_located(rule, compiled, sources.get(rule.position.file)))
    return problems


def _located(rule: Rule, problem: CompileProblem, source: str | None) -> Problem:
    where = rule.position
    line, column = where.line, where.column
    if source is not None:
        offset = value_offset(rule.when, problem.line, problem.column)
        line, column = source_position(source, (where.line, where.column), rule.when, offset)
    return Problem(where.file, line, column, f"rules.{rule.name}.when", _explained(rule.level, problem.message))


def _explained(level: Level, message: str) -> str:
    """The library's message, and for a variable of another level, which levels have it."""
    message = message.replace(" (in container '')", "")
    undeclared = _UNDECLARED.search(message)
    if undeclared is None:
        return message
    name = undeclared.group(1).split(".")[0]
    levels = [other.value for other in Level if name in DECLARATIONS[other]]
    if levels:
        return f"{message}: {name} is a variable of on: {' and '.join(levels)} rules, not of on: {level.value}"
    return f"{message}: the variables of on: {level.value} rules are {', '.join(sorted(DECLARATIONS[level]))}"


def evaluate_rules(
    rules: Sequence[Rule],
    plan: Plan,
    desired: DesiredState,
    *,
    budgets: Sequence[BudgetStatus],
    git: GitContext,
) -> tuple[Finding, ...]:
    """The findings of ``rules`` over ``plan``: one for each item, scope or the plan a rule holds for or cannot be
    evaluated over. Rules of each level are evaluated only over that level."""
    if not rules:
        return ()
    values = PlanValues(plan, desired, budgets, git)
    findings: list[Finding] = []
    for rule in rules:
        program = compile_condition(rule.when, DECLARATIONS[rule.level])
        if isinstance(program, CompileProblem):  # the config loader refuses it first
            findings.append(_failed(rule, f"does not compile: {program.message}"))
        elif rule.level is Level.PLAN:
            findings += _judge(rule, program, _chosen(values.for_plan(), program))
        elif rule.level is Level.SCOPE:
            for scope_plan in plan.scopes:
                if scope_plan.to_issue:
                    findings += _judge(rule, program, _chosen(values.for_scope(scope_plan), program), scope_plan.scope)
        else:
            for scope_plan in plan.scopes:
                if scope_plan.to_issue:
                    findings += _items(rule, program, values, scope_plan)
    return tuple(findings)


def _items(rule: Rule, program: Program, values: PlanValues, scope_plan: ScopePlan) -> list[Finding]:
    """An item rule over a scope's items. Items whose variables are the same (the same manifest and amount, and,
    where the rule reads them, the same target or the same declarations) get the same answer: it is evaluated once
    for them. A rule that reads only the scope and the manifest is evaluated once per manifest and amount."""
    shared = values.for_scope_items(scope_plan)
    scope = scope_plan.scope
    reads_target = "target" in program.variables  # then every item is its own case: nothing to remember
    reads_declared = "declared" in program.variables
    known: dict[tuple[object, ...], Finding | None] = {}
    findings = []
    for item in scope_plan.to_issue:
        key = (item.manifest, item.amount, values.declarations.get(item.target, ()) if reads_declared else None)
        if reads_target or key not in known:
            chosen = item_values(shared, values, item, program.variables, values.manifest(item.manifest))
            found = _judge_one(rule, program, chosen, scope, item)
            if not reads_target:
                known[key] = found
        else:
            found = known[key]
        if found is not None:
            findings.append(found if found.target == item.target else _for(found, item))
    return findings


def _for(finding: Finding, item: PlanItem) -> Finding:
    return Finding(finding.rule, finding.effect, finding.message, finding.scope, item.target, finding.tier)


def _chosen(available: Values, program: Program) -> Values:
    return {name: available[name] for name in program.variables}


def _judge(rule: Rule, program: Program, chosen: Values, scope: Scope | None = None) -> list[Finding]:
    found = _judge_one(rule, program, chosen, scope, None)
    return [] if found is None else [found]


def _judge_one(
    rule: Rule, program: Program, chosen: Values, scope: Scope | None, item: PlanItem | None
) -> Finding | None:
    target = item.target if item is not None else None
    try:
        holds = program.holds(chosen)
    except EvaluationError as exc:
        return _failed(rule, str(exc), scope, item)
    if not holds:
        return None
    message = rule.message or f"rule {rule.name} holds"
    return Finding(rule.name, rule.effect, message, scope, target, rule.tier if rule.effect is Effect.TIER else None)


def _failed(rule: Rule, why: str, scope: Scope | None = None, item: PlanItem | None = None) -> Finding:
    """Fail closed: a rule that cannot be evaluated denies what it was evaluated over."""
    message = f"could not be evaluated ({why}): denied until the rule or its input is fixed"
    return Finding(rule.name, Effect.DENY, message, scope, item.target if item is not None else None)
