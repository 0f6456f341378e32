"""Peak RSS and time of ``couponctl validate`` over many targets held in ``emailsFrom`` files.

Writes a project of N distinct emails (default 10,000,000) in F plain-list files (default 10, each under the
200 MiB limit of an emails file), all in one scope, then runs ``couponctl validate`` on it as a child process
(reaped with ``os.wait4``: wall, CPU, peak RSS) and prints JSON. Offline; no sandbox.

    python benchmarks/validate_rss.py [--targets 10000000] [--files 10] [--workdir DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
MANIFEST = """apiVersion: couponctl/v1
kind: CouponAssignment
metadata: {{name: big}}
spec:
  provider: m
  customerId: "1"
  couponClass: BENCH-VALIDATE
  dispatch:
    emailsFrom: [{files}]
"""


def write_project(directory: Path, targets: int, files: int) -> None:
    (directory / "manifests").mkdir(parents=True, exist_ok=True)
    (directory / "lists").mkdir(exist_ok=True)
    (directory / "couponctl.yaml").write_text("providers:\n  m: {type: msads, environment: local}\n")
    names = [f"l{i:02d}.txt" for i in range(files)]
    per_file = targets // files
    for i, name in enumerate(names):
        with (directory / "lists" / name).open("w", encoding="utf-8") as out:
            start = i * per_file
            for chunk in range(start, start + per_file, 100_000):
                end = min(chunk + 100_000, start + per_file)
                out.write("".join(f"user{n:08d}@bench.example\n" for n in range(chunk, end)))
    listed = ", ".join(f"../lists/{name}" for name in names)
    (directory / "manifests" / "big.yaml").write_text(MANIFEST.format(files=listed))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--targets", type=int, default=10_000_000)
    parser.add_argument("--files", type=int, default=10)
    parser.add_argument("--workdir", type=Path, default=HERE / ".work" / "validate_rss")
    args = parser.parse_args(argv)
    directory = args.workdir.resolve() / f"project-{args.targets}-{args.files}"
    if not (directory / "manifests" / "big.yaml").exists():
        write_project(directory, args.targets, args.files)
    couponctl = [sys.executable, "-m", "reconciler", "-C", str(directory), "validate"]
    started = time.perf_counter()
    child = subprocess.Popen(couponctl, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(child.pid, 0)
    wall = time.perf_counter() - started
    assert child.stdout is not None and child.stderr is not None
    out = {
        "targets": args.targets,
        "files": args.files,
        "list_bytes": sum(p.stat().st_size for p in (directory / "lists").iterdir()),
        "exit": os.waitstatus_to_exitcode(status),
        "wall_s": round(wall, 2),
        "cpu_s": round(usage.ru_utime + usage.ru_stime, 2),
        "peak_rss_mb": round(usage.ru_maxrss / 1024, 1),
        "stdout": child.stdout.read().decode()[:300],
        "stderr": child.stderr.read().decode()[:300],
    }
    json.dump(out, sys.stdout, indent=1)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
