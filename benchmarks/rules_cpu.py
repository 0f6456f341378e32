"""What evaluating rules adds to a plan of 100,000 targets (issue 15: less than 10%), in-process.

The rules are every rule of examples/policies/ (3 item rules: one reads each target, one its declarations, one only
the scope and manifest; 2 scope rules; 3 plan rules), loaded by couponctl's own config loader from a project that
lists them in policyFiles. The states are those of benchmarks/diff_cpu.py (10 scopes, 10% account ids and 90%
emails), their manifests labelled (``team``, ``campaign``) so that the rules read what they name.

Two cases: the benchmark workload (90% of the targets already hold a coupon: 10,000 items to issue) and the worst
case (none does: 100,000 items). For each, the CPU of the plan's in-process steps without rules (the diff, the live
digest, the checksum and the plan JSON: everything ``couponctl plan`` computes besides reading live state) and with
them (the same, plus evaluate_rules, with the findings in the checksummed JSON). The read itself is left out, so the
ratio is an upper bound of what rules add to a whole plan. Best of ``--repeat`` runs; prints JSON.

    python benchmarks/rules_cpu.py [--targets 100000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import gc
import json
import shutil
import sys
import tempfile
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from counting_sink import Sink
from diff_cpu import build_states, timed

from reconciler.app.session import live_digest
from reconciler.config.load import load_config
from reconciler.governance.model import Effect, GitContext, Governance, Rule
from reconciler.governance.rules import evaluate_rules
from reconciler.plan.checksum import with_checksum
from reconciler.plan.diff import diff
from reconciler.plan.model import Plan
from reconciler.plan.serialize import write_plan_json
from reconciler.state.desired import DesiredState
from reconciler.state.live import LiveState

REPO = Path(__file__).resolve().parent.parent
POLICIES = REPO / "examples" / "policies"
NOW = datetime(2027, 1, 1, tzinfo=UTC)
GIT = GitContext("bench", "main", "0" * 40)


def example_rules() -> tuple[Rule, ...]:
    """Every rule of examples/policies/, through the config loader."""
    with tempfile.TemporaryDirectory() as directory:
        project = Path(directory)
        shutil.copytree(POLICIES, project / "policies")
        (project / "couponctl.yaml").write_text(
            "providers:\n  bench: {type: msads, environment: local}\n"
            "policyFiles: ['policies/*.yaml']\n"
            "approvals:\n  tiers:\n    - {name: standard, environments: [coupons]}\n"
            "    - {name: finance, environments: [money]}\n",
            encoding="utf-8",
        )
        return load_config(project).governance.rules


def labelled(desired: DesiredState) -> DesiredState:
    """Each manifest labelled with a team and a campaign of its own."""
    names = {name for spec in desired.scopes.values() for name in spec.manifests}
    return replace(desired, labels={name: {"team": "bench", "campaign": f"spring-{name}"} for name in names})


def nothing_held(live: LiveState) -> LiveState:
    return LiveState({scope: replace(state, issued={}) for scope, state in live.scopes.items()})


def plan_steps(desired: DesiredState, live: LiveState, rules: tuple[Rule, ...]) -> tuple[int, int, float]:
    """Items to issue, findings, and the CPU seconds of the plan's in-process steps (with ``rules`` if any)."""

    def steps() -> tuple[int, int]:
        plan: Plan = diff(desired, live, created_at=NOW)
        live_digest(live)
        findings = evaluate_rules(rules, plan, desired, budgets=(), git=GIT) if rules else ()
        checked = with_checksum(replace(plan, governance=Governance(digest="0" * 64, findings=findings, git=GIT)))
        write_plan_json(checked, Sink())
        return plan.item_count, len(findings)

    gc.collect()
    (items, findings), cpu, _ = timed(steps)
    return items, findings, cpu


def rules_only(desired: DesiredState, live: LiveState, rules: tuple[Rule, ...]) -> float:
    plan = diff(desired, live, created_at=NOW)
    gc.collect()
    _, cpu, _ = timed(lambda: evaluate_rules(rules, plan, desired, budgets=(), git=GIT))
    return cpu


def measure(desired: DesiredState, live: LiveState, rules: tuple[Rule, ...], repeat: int) -> dict[str, Any]:
    without = [plan_steps(desired, live, ()) for _ in range(repeat)]
    with_rules = [plan_steps(desired, live, rules) for _ in range(repeat)]
    alone = [rules_only(desired, live, rules) for _ in range(repeat)]
    base = min(cpu for _, _, cpu in without)
    ruled = min(cpu for _, _, cpu in with_rules)
    return {
        "to_issue": without[0][0],
        "findings": with_rules[0][1],
        "plan_cpu_without_rules_s": round(base, 3),
        "plan_cpu_with_rules_s": round(ruled, 3),
        "ratio": round(ruled / base, 3),
        "evaluate_rules_cpu_s": round(min(alone), 3),
        "evaluate_rules_share_of_plan": round(min(alone) / base, 3),
        "runs_without_s": [round(cpu, 3) for _, _, cpu in without],
        "runs_with_s": [round(cpu, 3) for _, _, cpu in with_rules],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--targets", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    rules = example_rules()
    desired, live = build_states(args.targets)
    desired = labelled(desired)
    all_missing = nothing_held(live)
    result = {
        "targets": desired.target_count(),
        "rules": {level: [r.name for r in rules if r.level.value == level] for level in ("item", "scope", "plan")},
        "tier_rules": [r.name for r in rules if r.effect is Effect.TIER],
        "workload_10pct_to_issue": measure(desired, live, rules, args.repeat),
        "worst_case_all_to_issue": measure(desired, all_missing, rules, args.repeat),
    }
    json.dump(result, sys.stdout, indent=2)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
