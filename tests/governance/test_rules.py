"""evaluate_rules over plans built directly: each level evaluated over what it names, the variables as documented,
and a rule that cannot be evaluated denying what it was evaluated over (fail closed)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal

from reconciler.governance.model import BudgetStatus, Effect, Finding, GitContext, Level, Rule
from reconciler.governance.rules import evaluate_rules
from reconciler.plan.model import Plan, PlanItem
from reconciler.state.desired import DesiredItem, DesiredState, Position, Scope, ScopeSpec, Target
from reconciler.state.live import FaceValue
from tests.support.plan_factories import ALIYUN, MSADS, plan, scope_plan

WINBACK = Scope("msads-prod", "251186883", "WINBACK27-RET-50")
ANA = Target.email("ana@example.com")
BO = Target.email("bo@example.org")
ACCOUNT = Target.account(180535609)
UID = Target.uid(1918000000883)
HERE = Position("couponctl.yaml", 1, 1)


def rule(when: str, level: Level = Level.ITEM, effect: Effect = Effect.WARN, name: str = "r", **extra: str) -> Rule:
    return Rule(name, level, when, effect, extra.get("message", ""), HERE, extra.get("tier"))


def desired(declared: Mapping[Scope, Mapping[Target, str]], labels: Mapping[str, Mapping[str, str]]) -> DesiredState:
    items = {
        scope: {target: DesiredItem(target, manifest, HERE) for target, manifest in targets.items()}
        for scope, targets in declared.items()
    }
    specs = {scope: ScopeSpec(scope, "msads", tuple(sorted(set(t.values())))) for scope, t in declared.items()}
    return DesiredState(specs, items, labels)


def example() -> tuple[Plan, DesiredState]:
    """Spring (Acquisition, USD 100): ana and an account from m-spring; winback (USD 50): ana and bo from m-win;
    aliyun: a uid of CNY 30 from m-ali. ana is declared in both msads classes."""
    spring = scope_plan(MSADS, to_issue=(PlanItem(ANA, "m-spring"), PlanItem(ACCOUNT, "m-spring")), available=500)
    winback = scope_plan(
        WINBACK,
        to_issue=(PlanItem(ANA, "m-win"), PlanItem(BO, "m-win")),
        face_value=FaceValue(Decimal(50), "USD", "Retention"),
        available=None,
        manifests=("m-win",),
    )
    ali = scope_plan(
        ALIYUN,
        to_issue=(PlanItem(UID, "m-ali", Decimal(30)),),
        face_value=None,
        available=None,
        currency="CNY",
        provider_type="aliyun",
        manifests=("m-ali",),
    )
    state = desired(
        {
            MSADS: {ANA: "m-spring", ACCOUNT: "m-spring"},
            WINBACK: {ANA: "m-win", BO: "m-win"},
            ALIYUN: {UID: "m-ali"},
        },
        {"m-spring": {"campaign": "q2", "team": "growth"}, "m-win": {"campaign": "q2"}, "m-ali": {}},
    )
    return plan(spring, winback, ali), state


def evaluate(
    rules: Sequence[Rule],
    *,
    budgets: Sequence[BudgetStatus] = (),
    git: GitContext = GitContext(),  # noqa: B008 - frozen
) -> tuple[Finding, ...]:
    subject, state = example()
    return evaluate_rules(rules, subject, state, budgets=budgets, git=git)


def targets(findings: Sequence[Finding]) -> set[str]:
    return {str(f.target) for f in findings}


def test_an_item_rule_is_evaluated_over_each_item_to_issue() -> None:
    found = evaluate([rule('target.kind == "email" && amount >= 50')])
    assert targets(found) == {"email:ana@example.com", "email:bo@example.org"}
    assert {str(f.scope) for f in found} == {str(MSADS), str(WINBACK)}
    assert {f.effect for f in found} == {Effect.WARN}


def test_an_items_own_amount_replaces_the_face_value() -> None:
    found = evaluate([rule('amount == 30.0 && currency == "CNY"'), rule("amount == 100", name="face")])
    assert [(f.rule, str(f.target)) for f in found] == [
        ("r", "uid:1918000000883"),
        ("face", "account:180535609"),
        ("face", "email:ana@example.com"),
    ]


def test_a_rule_that_reads_no_target_still_finds_each_item() -> None:
    # Evaluated once per manifest and amount of a scope, it must still name every item it holds for.
    found = evaluate([rule('manifest.name == "m-win" && scope.couponType == "Retention"')])
    assert targets(found) == {"email:ana@example.com", "email:bo@example.org"}


def test_declared_holds_every_declaration_of_the_target_across_scopes() -> None:
    campaign = "declared.exists(d, d.labels.campaign == manifest.labels.campaign && d.couponClass != scope.couponClass)"
    found = evaluate([rule(f'"campaign" in manifest.labels && {campaign}', effect=Effect.DENY)])
    assert {(str(f.scope), str(f.target)) for f in found} == {
        (str(MSADS), "email:ana@example.com"),
        (str(WINBACK), "email:ana@example.com"),
    }
    # Targets declared once share their declarations' answer, each still found (ana is declared twice).
    once = evaluate([rule("size(declared) == 1 && declared[0].couponClass == scope.couponClass")])
    assert targets(once) == {"account:180535609", "email:bo@example.org", "uid:1918000000883"}


def test_a_scope_rule_is_evaluated_over_each_scope_with_items() -> None:
    found = evaluate(
        [
            rule(
                "items == 2 && inventory.needed == 2 && amount == 200.0 && manifests[0].labels.team == 'growth'",
                Level.SCOPE,
            )
        ]
    )
    assert [(str(f.scope), f.target) for f in found] == [(str(MSADS), None)]
    unknown = evaluate([rule("inventory.available == -1", Level.SCOPE)])
    assert [str(f.scope) for f in unknown] == [str(ALIYUN), str(WINBACK)]


def test_a_plan_rule_sees_the_whole_plan() -> None:
    when = "items == 5 && plan.scopes == 3 && exposure.USD == 300.0 && exposure.CNY == 30.0 && plan.items == 5"
    found = evaluate([rule(when, Level.PLAN, Effect.TIER, tier="finance")])
    assert found == (Finding("r", Effect.TIER, "rule r holds", None, None, "finance"),)


def test_git_is_empty_strings_where_unknown() -> None:
    assert evaluate([rule('git.branch == "" && git.author == "" && git.commit == ""', Level.PLAN)])
    known = GitContext("alice", "feature/x", "abc123")
    assert evaluate([rule('git.branch.startsWith("feature/") && git.author == "alice"', Level.PLAN)], git=known)


def test_budgets_are_a_map_of_name_currency_and_amounts() -> None:
    status = BudgetStatus("q2", "USD", Decimal(1000), Decimal(600), Decimal(100), Decimal(300), "lifetime")
    when = (
        "budgets.q2.USD.remaining == 0.0 && budgets.q2.USD.spent == 600.0 && budgets.q2.USD.inDoubt == 100.0 "
        "&& budgets.q2.USD.adds == 300.0 && budgets.q2.USD.limit == 1000.0"
    )
    assert evaluate([rule(when, Level.PLAN)], budgets=[status])
    assert evaluate([rule("size(budgets) == 0", Level.PLAN)])


def test_a_rule_that_cannot_be_evaluated_denies_each_input_it_failed_on() -> None:
    # m-ali has no campaign label: a missing key for its item, not for the others (whose campaign is not "x").
    found = evaluate([rule('manifest.labels.campaign == "x"', effect=Effect.WARN)])
    assert [(f.effect, str(f.target)) for f in found] == [(Effect.DENY, "uid:1918000000883")]
    assert "could not be evaluated" in found[0].message


def test_a_condition_that_is_not_a_bool_denies() -> None:
    found = evaluate([rule("manifest.name", effect=Effect.TIER, tier="finance")])
    assert {f.effect for f in found} == {Effect.DENY}
    assert len(found) == 5
    assert all(f.tier is None and "not a bool" in f.message for f in found)


def test_the_message_is_the_rules_or_one_naming_it() -> None:
    [given] = evaluate([rule("items > 0", Level.PLAN, message="look at this")])
    [default] = evaluate([rule("items > 0", Level.PLAN, name="bigplan")])
    assert given.message == "look at this"
    assert "bigplan" in default.message


def test_each_level_evaluates_only_its_rules() -> None:
    rules = [rule("true", level, name=level.value[0]) for level in (Level.ITEM, Level.SCOPE, Level.PLAN)]
    found = evaluate(rules)
    assert [f.rule for f in found].count("i") == 5
    assert [f.rule for f in found].count("s") == 3
    assert [f.rule for f in found].count("p") == 1


def test_no_rules_no_findings_and_a_plan_without_items_has_no_item_or_scope_findings() -> None:
    assert evaluate([]) == ()
    empty = plan(scope_plan(MSADS))
    rules = [rule("true"), rule("true", Level.SCOPE, name="s"), rule("items == 0", Level.PLAN, name="p")]
    found = evaluate_rules(rules, empty, desired({}, {}), budgets=(), git=GitContext())
    assert [f.rule for f in found] == ["p"]
