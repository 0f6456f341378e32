"""couponctl at scale, side by side with the vendor's SDK and with the floor. One command:

    python benchmarks/run.py [--quick] [--profile] [--write-results]

Serves the sandbox on loopback (``couponctl sandbox serve --fault '*:latency-ms=20'``) over a store seeded with
10 classes of 10,000..100,000 coupons (550,000) where 90% of 100,000 desired targets already hold a coupon, and
measures (benchmarks/README.md says what each number means):

- plan:  ``couponctl plan --format json`` / an SDK script reading page after page / the floor;
- apply: ``couponctl apply --yes`` / an SDK script issuing batch after batch;
- the diff alone on 1,000,000 synthetic targets (CPU);
- peak RSS of ``couponctl validate`` and ``couponctl plan`` over 1,000,000 desired targets.

``--quick`` divides the sizes by 10 (a smoke run). Results go to WORKDIR/results.json and results.md;
``--write-results`` also replaces the generated part of benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import shutil
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import floor
import measure
import report
import workload as wl

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
ISSUING = ("dispatch", "distribute")


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def machine() -> dict[str, Any]:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if "model name" in line
        ),
        platform.processor(),
    )
    mem_kb = next(int(line.split()[1]) for line in Path("/proc/meminfo").read_text().splitlines() if "MemTotal" in line)

    def git(*args: str) -> str:
        done = subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True, check=False)
        return done.stdout.strip()

    dirty = [line for line in git("status", "--porcelain", "--", "reconciler").splitlines() if line.strip()]
    return {
        "nproc": os.cpu_count(),
        "cpu": cpu,
        "ram_gib": round(mem_kb / 1024 / 1024, 1),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "commit": git("rev-parse", "--short", "HEAD"),
        "reconciler_uncommitted_files": len(dirty),
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
    }


def couponctl(project: Path, *args: str) -> list[str]:
    return [*measure.COUPONCTL, "-C", str(project), *args]


def issuing_window(database: Path, latency_s: float) -> dict[str, float]:
    """First to last issuing call logged (each logged after it was processed), plus one call's latency."""
    db = sqlite3.connect(f"file:{database}?mode=ro", uri=True)
    try:
        first, last, count = db.execute(
            "SELECT min(at), max(at), count(*) FROM calls WHERE endpoint IN ('dispatch', 'distribute')"
        ).fetchone()
    finally:
        db.close()
    if not count:
        return {"calls": 0, "seconds": 0.0}
    return {"calls": count, "seconds": last - first + latency_s}


def run_profiled(argv: list[str], profile: Path, *, env: dict[str, str], cwd: Path | None = None) -> None:
    """``argv`` (a ``python -m reconciler`` command) again under cProfile, untimed."""
    assert argv[:3] == measure.COUPONCTL
    command = [sys.executable, "-m", "cProfile", "-o", str(profile), "-m", "reconciler", *argv[3:]]
    subprocess.run(command, env={**os.environ, **env}, cwd=cwd, stdout=subprocess.DEVNULL, check=False)


def plan_summary(path: Path) -> dict[str, Any]:
    plan = json.loads(path.read_text(encoding="utf-8"))
    scopes = plan["scopes"]
    return {
        "to_issue": sum(len(s.get("toIssue", s.get("to_issue", []))) for s in scopes),
        "satisfied": sum(int(s.get("satisfied", 0)) for s in scopes),
    }


def stage_read(args: argparse.Namespace, work: Path, load: wl.Workload, base: Path, out: dict[str, Any]) -> None:
    """(a) couponctl plan, (b) the SDK script, (c) the floor, against one served store."""
    project = work / "project"
    env = wl.credentials_env()
    store = measure.copy_store(base, work / "read.sqlite")
    shutil.rmtree(project / ".couponctl", ignore_errors=True)
    latency_s = args.latency_ms / 1000
    with measure.Sandbox(store, latency_ms=args.latency_ms, log=work / "server-read.log") as sandbox:
        wl.point_project_at(project, sandbox.url)
        log(f"sandbox at {sandbox.url}; floor: the oracle reads every page once with httpx")
        sizes = [floor.ScopeSize(c.customer_id, c.name, c.coupons) for c in load.classes]
        cpu0, busy0, own0 = sandbox.cpu_s(), measure.machine_busy_s(), time.process_time()
        found = floor.measure_floor(
            sandbox.url,
            sizes,
            developer_token=wl.DEVELOPER_TOKEN,
            access_token=wl.ACCESS_TOKEN,
            concurrency=out["workload"]["concurrency"],  # what couponctl reads with (client_settings)
            latency_s=latency_s,
        )
        oracle_server_cpu = sandbox.cpu_s() - cpu0
        # the parse timing is included in the busy time: other processes' share is approximate here
        other = measure.machine_busy_s() - busy0 - oracle_server_cpu - (time.process_time() - own0)
        out["floor"] = {**asdict(found), "calls_s": found.calls_s, "total_s": found.total_s}
        out["floor"]["oracle_server_cpu_s"] = oracle_server_cpu
        out["floor"]["other_cpu_s"] = max(0.0, other)
        log(f"floor {found.total_s:.1f} s ({found.calls} calls), oracle wall {found.oracle_wall_s:.1f} s")

        log("couponctl plan --format json")
        plan_out = work / "plan.json"
        plan = measure.run_measured(
            couponctl(project, "plan", "--format", "json"), env=env, stdout=plan_out, server=sandbox
        )
        out["plan"] = {**run_dict(plan), **plan_summary(plan_out)}
        log(f"plan: {plan.wall_s:.1f} s wall, {plan.cpu_s:.1f} s CPU, {plan.total_calls} calls, exit {plan.returncode}")

        if not args.no_sdk:
            stage_sdk_read(work, sandbox, out)

        if args.profile:
            log("couponctl plan again under cProfile (untimed)")
            run_profiled(couponctl(project, "plan", "--format", "json"), work / "plan.prof", env=env)
            out["plan_profile"] = report.profile_top(work / "plan.prof")
    if args.profile:
        log("the sandbox under cProfile, serving one more plan (untimed)")
        with measure.Sandbox(
            store, latency_ms=args.latency_ms, log=work / "server-prof.log", profile=work / "server.prof"
        ) as sandbox:
            wl.point_project_at(project, sandbox.url)
            measure.run_measured(couponctl(project, "plan", "--format", "json"), env=env, server=sandbox)
        out["server_profile"] = report.profile_top(work / "server.prof")


def stage_sdk_read(work: Path, sandbox: measure.Sandbox, out: dict[str, Any]) -> None:
    """(b) the SDK script, page after page, against the served store of the read stage."""
    log("SDK read, one page after another")
    sdk_out = work / "sdk-read.json"
    sdk = measure.run_measured(
        [
            sys.executable,
            str(HERE / "sdk_read.py"),
            "--url",
            sandbox.url,
            "--scopes",
            str(work / "read-scopes.json"),
            "--developer-token",
            wl.DEVELOPER_TOKEN,
            "--access-token",
            wl.ACCESS_TOKEN,
        ],
        stdout=sdk_out,
        server=sandbox,
    )
    summary = json.loads(sdk_out.read_text(encoding="utf-8"))
    out["sdk_read"] = {**run_dict(sdk), "missing": summary["missing"], "script_seconds": summary["seconds"]}
    log(f"SDK read: {sdk.wall_s:.1f} s wall, {sdk.total_calls} calls")


def stage_side_by_side(
    args: argparse.Namespace, work: Path, load: wl.Workload, name: str, latency_ms: int, out: dict[str, Any]
) -> None:
    """``couponctl plan`` and the SDK script over ``load`` at ``latency_ms`` a call, in WORK/NAME (its own seeded
    store and project), with the arithmetic floor (no oracle: at 200 ms it would take as long as the plan)."""
    sub = work / name
    sub.mkdir(parents=True, exist_ok=True)
    project = prepare_project(args, sub, load)
    concurrency = int(wl.client_settings(project)["concurrency"])
    base = prepare_store(args, sub, load, {})
    store = measure.copy_store(base, sub / "read.sqlite")
    env = wl.credentials_env()
    result: dict[str, Any] = {"targets": load.targets, "coupons": load.coupons, "latency_ms": latency_ms}
    with measure.Sandbox(store, latency_ms=latency_ms, log=sub / "server.log") as sandbox:
        wl.point_project_at(project, sandbox.url)
        log(f"{name}: couponctl plan over {load.targets:,} targets at {latency_ms} ms a call")
        plan_out = sub / "plan.json"
        plan = measure.run_measured(
            couponctl(project, "plan", "--format", "json"), env=env, stdout=plan_out, server=sandbox
        )
        result["plan"] = {**run_dict(plan), **plan_summary(plan_out)}
        log(f"{name}: plan {plan.wall_s:.1f} s wall, {plan.total_calls} calls")
        sdk: dict[str, Any] = {}
        stage_sdk_read(sub, sandbox, sdk)
        result["sdk_read"] = sdk["sdk_read"]
    pages = sum(floor.minimal_pages(c.coupons) for c in load.classes)
    result["floor"] = {"calls": pages, "concurrency": concurrency, "calls_s": pages * latency_ms / 1000 / concurrency}
    out[name] = result


def stage_script(name: str, script: str, argv: list[str], out: dict[str, Any]) -> None:
    """A standalone benchmark script of benchmarks/ that prints its results as JSON."""
    log(f"{name}: {script} {' '.join(argv)}")
    done = subprocess.run(
        [sys.executable, str(HERE / script), *argv], capture_output=True, text=True, check=True, cwd=REPO
    )
    out[name] = json.loads(done.stdout)


def stage_apply(args: argparse.Namespace, work: Path, load: wl.Workload, base: Path, out: dict[str, Any]) -> None:
    """couponctl apply --yes against a fresh store, then the SDK batch-by-batch script against another."""
    project = work / "project"
    env = wl.credentials_env()
    latency_s = args.latency_ms / 1000
    store = measure.copy_store(base, work / "apply.sqlite")
    shutil.rmtree(project / ".couponctl", ignore_errors=True)
    with measure.Sandbox(store, latency_ms=args.latency_ms, log=work / "server-apply.log") as sandbox:
        wl.point_project_at(project, sandbox.url)
        log("couponctl apply --yes")
        applied = measure.run_measured(
            couponctl(project, "-q", "apply", "--yes"), env=env, stdout=work / "apply.out", server=sandbox
        )
    out["apply"] = {**run_dict(applied), "issuing": issuing_window(store, latency_s)}
    log(f"apply: {applied.wall_s:.1f} s wall, calls {dict(applied.calls)}, exit {applied.returncode}")

    store = measure.copy_store(base, work / "apply-sdk.sqlite")
    with measure.Sandbox(store, latency_ms=args.latency_ms, log=work / "server-apply-sdk.log") as sandbox:
        log("SDK issue, batch after batch")
        sdk_out = work / "sdk-issue.json"
        sdk = measure.run_measured(
            [
                sys.executable,
                str(HERE / "sdk_issue.py"),
                "--url",
                sandbox.url,
                "--scopes",
                str(work / "issue-scopes.json"),
                "--developer-token",
                wl.DEVELOPER_TOKEN,
                "--access-token",
                wl.ACCESS_TOKEN,
            ],
            stdout=sdk_out,
            server=sandbox,
        )
    summary = json.loads(sdk_out.read_text(encoding="utf-8"))
    out["sdk_issue"] = {
        **run_dict(sdk),
        "issued": summary["issued"],
        "failed": summary["failed"],
        "script_seconds": summary["seconds"],
        "issuing": issuing_window(store, latency_s),
    }
    log(f"SDK issue: {sdk.wall_s:.1f} s wall, {sdk.total_calls} calls")


def stage_diff(args: argparse.Namespace, work: Path, out: dict[str, Any]) -> None:
    log(f"diff alone on {args.diff_targets:,} synthetic targets")
    argv = [sys.executable, str(HERE / "diff_cpu.py"), "--targets", str(args.diff_targets)]
    if args.profile:
        argv += ["--profile", str(work / "diff.prof")]
    done = subprocess.run(argv, capture_output=True, text=True, check=True)
    out["diff"] = json.loads(done.stdout)
    log(f"diff: {out['diff']['diff_cpu_s']:.2f} s CPU")


def stage_rss(args: argparse.Namespace, work: Path, load: wl.Workload, out: dict[str, Any]) -> None:
    """validate and plan over ``--rss-targets`` desired emails, against a sandbox of 1,000 coupons a class."""
    per_class = args.rss_targets // len(load.classes)
    lists = [[wl.email_of(c.index, n) for n in range(per_class)] for c in load.classes]
    small = [1000] * len(load.classes)
    directory = work / "rss"
    shutil.rmtree(directory, ignore_errors=True)
    store_dir = directory / "store"
    store_dir.mkdir(parents=True)
    seed = store_dir / "seed.yaml"
    seed.write_text(wl.seed_text(load, class_sizes=small), encoding="utf-8")
    database = store_dir / "sandbox.sqlite"
    subprocess.run(
        [*measure.COUPONCTL, "sandbox", "seed", str(seed), "--db", str(database)],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    project = wl.write_project(load, directory / "project", concurrency=args.concurrency, email_lists=lists)
    del lists  # written; a child forked while this process holds them may count them in its peak RSS
    gc.collect()
    env = wl.credentials_env()
    with measure.Sandbox(database, latency_ms=args.latency_ms, log=directory / "server.log") as sandbox:
        wl.point_project_at(project, sandbox.url)
        log(f"couponctl validate over {per_class * len(load.classes):,} targets")
        validate = measure.run_measured(couponctl(project, "validate"), env=env, stdout=directory / "validate.out")
        log(f"couponctl plan --format json over {per_class * len(load.classes):,} targets")
        plan = measure.run_measured(
            couponctl(project, "plan", "--format", "json"), env=env, stdout=directory / "plan.json", server=sandbox
        )
        log("the plan's steps in-process, with the RSS after each")
        steps = subprocess.run(
            [sys.executable, str(HERE / "rss_steps.py"), str(project)],
            env={**os.environ, **env},
            capture_output=True,
            text=True,
            check=True,
        )
    out["rss"] = {
        "targets": per_class * len(load.classes),
        "validate": run_dict(validate),
        "plan": run_dict(plan),
        "steps": json.loads(steps.stdout),
    }
    log(f"RSS: validate {validate.max_rss_mb:.0f} MB, plan {plan.max_rss_mb:.0f} MB (exit {plan.returncode})")


def run_dict(run: measure.Run) -> dict[str, Any]:
    return {
        "returncode": run.returncode,
        "wall_s": run.wall_s,
        "cpu_s": run.cpu_s,
        "user_s": run.user_s,
        "sys_s": run.sys_s,
        "max_rss_mb": run.max_rss_mb,
        "server_cpu_s": run.server_cpu_s,
        "other_cpu_s": run.other_cpu_s,
        "calls": dict(run.calls),
        "total_calls": run.total_calls,
    }


def prepare_store(args: argparse.Namespace, work: Path, load: wl.Workload, out: dict[str, Any]) -> Path:
    """The base store, reused when the workload is the same."""
    # through JSON, as the stamp is read back (asdict gives a tuple of class sizes, the stamp a list)
    key = json.loads(json.dumps({"sizes": asdict(load.sizes), "version": 1}))
    base_dir = work / "base"
    stamp = base_dir / "workload.json"
    base = base_dir / "sandbox.sqlite"
    if base.exists() and stamp.exists() and json.loads(stamp.read_text()) == key and not args.reseed:
        log(f"reusing the seeded store {base}")
        out["seeding"] = json.loads((base_dir / "timings.json").read_text())
    else:
        log(f"seeding {load.coupons:,} coupons and issuing {load.targets - load.missing:,} of them")
        base, timings = wl.build_store(load, base_dir)
        measure.checkpoint(base)
        (base_dir / "timings.json").write_text(json.dumps(timings))
        stamp.write_text(json.dumps(key))
        out["seeding"] = timings
    return base


def prepare_project(args: argparse.Namespace, work: Path, load: wl.Workload) -> Path:
    """The couponctl project and the SDK scripts' scope files."""
    project = work / "project"
    shutil.rmtree(project, ignore_errors=True)
    wl.write_project(load, project, concurrency=args.concurrency)
    scopes = wl.scopes_json(load)
    read_scopes = [
        {
            "customerId": s["customerId"],
            "className": s["className"],
            "emailsCsv": str(project / "lists" / f"c{c.index:02d}.csv"),
            "accounts": list(c.accounts),
        }
        for s, c in zip(scopes, load.classes, strict=True)
    ]
    (work / "read-scopes.json").write_text(json.dumps(read_scopes))
    (work / "issue-scopes.json").write_text(json.dumps(scopes))
    return project


STAGE_KEYS = {
    "read": ("floor", "plan", "sdk_read", "plan_profile", "server_profile"),
    "apply": ("apply", "sdk_issue"),
    "diff": ("diff",),
    "rss": ("rss",),
    "small": ("small",),
    "slow": ("slow",),
    "throttle": ("throttle",),
    "validate": ("validate",),
    "rules": ("rules",),
}


def stage_keys(stages: set[str]) -> list[str]:
    return [key for stage in stages for key in STAGE_KEYS.get(stage, ())]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="sizes divided by 10: a smoke run")
    parser.add_argument("--workdir", type=Path, default=HERE / ".work", help="generated files (default: %(default)s)")
    parser.add_argument("--latency-ms", type=int, default=20)
    parser.add_argument(
        "--concurrency",
        type=int,
        help="couponctl's provider concurrency, written into the project (default: none written, couponctl's own)",
    )
    parser.add_argument(
        "--only",
        default="read,apply,diff,rss,small,throttle,validate,rules",
        help="stages to run (default: %(default)s; `slow`, the plan and the SDK at 200 ms a call over the full "
        "workload, takes about 25 minutes and runs only when named)",
    )
    parser.add_argument("--diff-targets", type=int, help="synthetic targets of the diff stage (default 1,000,000)")
    parser.add_argument("--rss-targets", type=int, help="desired targets of the RSS stage (default 1,000,000)")
    parser.add_argument("--profile", action="store_true", help="also profile plan, the sandbox and diff (cProfile)")
    parser.add_argument("--reseed", action="store_true", help="seed the store again even if one is there")
    parser.add_argument("--write-results", action="store_true", help="update the generated part of RESULTS.md")
    parser.add_argument("--no-sdk", action="store_true", help="read stage without the (slow) SDK script")
    parser.add_argument("--fresh", action="store_true", help="do not keep the results of stages not run")
    args = parser.parse_args(argv)
    scale = 10 if args.quick else 1
    args.diff_targets = args.diff_targets or 1_000_000 // scale
    args.rss_targets = args.rss_targets or 1_000_000 // scale
    stages = set(args.only.split(","))

    work = args.workdir.resolve() / ("quick" if args.quick else "full")
    work.mkdir(parents=True, exist_ok=True)
    load = wl.build_workload(wl.Sizes.quick() if args.quick else wl.Sizes.full())
    started = time.perf_counter()
    project = prepare_project(args, work, load)
    client = wl.client_settings(project)
    command = "python benchmarks/run.py" + (" --quick" if args.quick else "")
    command += f" --concurrency {args.concurrency}" if args.concurrency is not None else ""
    out: dict[str, Any] = {
        "machine": machine(),
        "command": command,
        "workload": {
            "classes": len(load.classes),
            "class_sizes": list(load.sizes.class_sizes),
            "coupons": load.coupons,
            "targets": load.targets,
            "missing": load.missing,
            "missing_accounts": sum(len(c.missing_accounts) for c in load.classes),
            "missing_emails": sum(len(c.missing_emails) for c in load.classes),
            "latency_ms": args.latency_ms,
            # resolved from the generated project by couponctl's own config code, defaults included
            "concurrency": client["concurrency"],
            "concurrency_given": args.concurrency is not None,
            "requests_per_second": client["requests_per_second"],
            "search_window": client["search_window"],
        },
    }
    previous = work / "results.json"
    if previous.exists() and not args.fresh:
        # keep the stages not run this time (their own "machine" block says when they ran)
        kept = json.loads(previous.read_text())
        if kept.get("workload") == out["workload"]:
            out = {**kept, **out}
            skipped = {"plan_profile", "server_profile"} if not args.profile else set()
            skipped |= {"sdk_read"} if args.no_sdk else set()
            for key in stage_keys(stages):
                if key not in skipped:
                    out.pop(key, None)
    base = prepare_store(args, work, load, out)
    small_sizes = wl.Sizes.quick() if args.quick else wl.Sizes.small()
    throttle_argv = ["--runs", "1", "--pages", "300"] if args.quick else ["--runs", "3"]
    validate_argv = ["--targets", str(10_000_000 // scale)]
    rules_argv = ["--targets", str(100_000 // scale), "--repeat", "3"]
    steps: list[tuple[str, Callable[[], None]]] = [
        ("read", lambda: stage_read(args, work, load, base, out)),
        ("apply", lambda: stage_apply(args, work, load, base, out)),
        ("diff", lambda: stage_diff(args, work, out)),
        ("rss", lambda: stage_rss(args, work, load, out)),
        ("small", lambda: stage_side_by_side(args, work, wl.build_workload(small_sizes), "small", 20, out)),
        ("slow", lambda: stage_side_by_side(args, work, load, "slow", 200, out)),
        ("throttle", lambda: stage_script("throttle", "throttle.py", throttle_argv, out)),
        ("validate", lambda: stage_script("validate", "validate_rss.py", validate_argv, out)),
        ("rules", lambda: stage_script("rules", "rules_cpu.py", rules_argv, out)),
    ]
    for name, step in steps:
        if name not in stages:
            continue
        out.get("failed_stages", {}).pop(name, None)  # a failure kept from an earlier run
        try:
            step()
        except Exception as exc:  # one stage failing must not lose the others' numbers
            log(f"stage {name} failed: {exc!r}")
            out.setdefault("failed_stages", {})[name] = repr(exc)
        (work / "results.json").write_text(json.dumps(out, indent=2))
    out["seconds"] = time.perf_counter() - started
    (work / "results.json").write_text(json.dumps(out, indent=2))
    text = report.render(out)
    (work / "results.md").write_text(text)
    print(text)
    if args.write_results:
        report.update_results(HERE / "RESULTS.md", text)
        log("updated benchmarks/RESULTS.md")
    log(f"done in {out['seconds']:.0f} s; {work / 'results.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
