"""``couponctl plan`` of 100,000 targets with and without rules, end to end (issue 15: rules add less than 10%).

The workload of benchmarks/run.py (the served sandbox with ``--fault '*:latency-ms=20'``, 10 classes, 100,000
desired targets; ``--quick``: a tenth), its manifests labelled ``team`` and ``campaign`` (a campaign per class, so
that no target is denied). Two projects over the same served store: one without rules, one with every rule of
examples/policies/ in policyFiles (3 item, 2 scope and 3 plan rules) and the approval tiers they name. The plans
alternate (without, with, without, ...) so that a disturbed minute hits both. Two cases: the benchmark's store (90%
of the targets already hold a coupon: 10,000 to issue), and a store where none does (``--all-missing`` too: 100,000
to issue, rules over every one). Prints JSON: each plan's wall and CPU, the medians and their ratios.

    python benchmarks/rules_plan.py [--quick] [--rounds 2] [--all-missing]
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import measure
import workload as wl

HERE = Path(__file__).resolve().parent
POLICIES = HERE.parent / "examples" / "policies"
APPROVALS = """
policyFiles: ['policies/*.yaml']
approvals:
  tiers:
    - {name: standard, environments: [coupons]}
    - {name: finance, environments: [money]}
"""


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def projects(load: wl.Workload, work: Path) -> dict[str, Path]:
    """The benchmark's project twice, its manifests labelled: without rules, and with the example policies."""
    made = {}
    for name in ("without", "with"):
        project = work / f"project-{name}-rules"
        shutil.rmtree(project, ignore_errors=True)
        wl.write_project(load, project)
        for manifest in (project / "manifests").glob("*.yaml"):
            text = manifest.read_text(encoding="utf-8")
            labels = f"metadata: {{labels: {{team: bench, campaign: spring-{manifest.stem}}}, name: bench-c"
            manifest.write_text(text.replace("metadata: {name: bench-c", labels), encoding="utf-8")
        made[name] = project
    shutil.copytree(POLICIES, made["with"] / "policies")
    return made


def configure(project: Path, rules: bool) -> None:
    """Point at the served sandbox first (wl.point_project_at rewrites couponctl.yaml), then add the policies."""
    if rules:
        with (project / "couponctl.yaml").open("a", encoding="utf-8") as config:
            config.write(APPROVALS)


def measure_case(store: Path, made: dict[str, Path], rounds: int, latency_ms: int, work: Path) -> dict[str, Any]:
    env = wl.credentials_env()
    runs: dict[str, list[measure.Run]] = {"without": [], "with": []}
    with measure.Sandbox(store, latency_ms=latency_ms, log=work / "server-rules.log") as sandbox:
        for name, project in made.items():
            shutil.rmtree(project / ".couponctl", ignore_errors=True)
            wl.point_project_at(project, sandbox.url)
            configure(project, name == "with")
        for round_ in range(rounds):
            for name, project in made.items():
                out = work / f"plan-{name}-rules.json"
                argv = [*measure.COUPONCTL, "-C", str(project), "plan", "--format", "json"]
                done = measure.run_measured(argv, env={**env, "GITHUB_REF_NAME": "main"}, stdout=out, server=sandbox)
                runs[name].append(done)
                log(f"round {round_ + 1} {name} rules: {done.wall_s:.1f} s wall, {done.cpu_s:.1f} s CPU")
    plan = json.loads((work / "plan-with-rules.json").read_text(encoding="utf-8"))
    governance = plan["governance"]
    result: dict[str, Any] = {
        "to_issue": sum(len(s["toIssue"]) for s in plan["scopes"]),
        "findings": len(governance["findings"]),
        "findings_by_rule": dict(Counter(f["rule"] for f in governance["findings"])),
        "approval_tier": governance["approvalTier"],
    }
    for name, measured in runs.items():
        result[name] = {
            "wall_s": [round(r.wall_s, 2) for r in measured],
            "cpu_s": [round(r.cpu_s, 2) for r in measured],
            "other_cpu_s": [round(r.other_cpu_s, 2) for r in measured],
            "returncodes": [r.returncode for r in measured],
        }
    for what in ("wall_s", "cpu_s"):
        base = statistics.median(result["without"][what])
        ruled = statistics.median(result["with"][what])
        result[f"median_{what}"] = {"without": round(base, 2), "with": round(ruled, 2), "ratio": round(ruled / base, 3)}
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="sizes divided by 10: a smoke run")
    parser.add_argument("--workdir", type=Path, default=HERE / ".work", help="generated files (default: %(default)s)")
    parser.add_argument("--latency-ms", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--all-missing", action="store_true", help="also the case where no target holds a coupon")
    args = parser.parse_args(argv)
    work = args.workdir.resolve() / ("quick" if args.quick else "full") / "rules"
    work.mkdir(parents=True, exist_ok=True)
    load = wl.build_workload(wl.Sizes.quick() if args.quick else wl.Sizes.full())
    made = projects(load, work)
    result: dict[str, Any] = {"targets": load.targets, "latency_ms": args.latency_ms, "rounds": args.rounds}
    cases = [("workload", True)] + ([("all_missing", False)] if args.all_missing else [])
    for case, preissue in cases:
        log(f"{case}: seeding {load.coupons:,} coupons" + (" and issuing 90% of the targets'" if preissue else ""))
        store, _ = wl.build_store(load, work / f"store-{case}", preissue=preissue)
        measure.checkpoint(store)
        result[case] = measure_case(store, made, args.rounds, args.latency_ms, work)
    json.dump(result, sys.stdout, indent=2)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
