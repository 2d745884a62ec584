#!/usr/bin/env python3
"""One core against every core: ``bedrock-customize validate`` on the same generated file.

    python3 benchmarks/validate_cores.py [--size-mb 300] [--kind realistic] [--repeat 3]

Generates the file once (``generators.py``: realistic prompt/completion data by default), then
runs the command line's ``validate --json`` in fresh processes, interleaved, ``--repeat``
times each: ``--workers 1`` pinned to one core, and ``--workers N`` with N the cores this
process may use (its CPU affinity). Whole-process wall time, the fastest run of each side
counts. Prints the machine (cores allowed, CPU model), MB/s of each side, the speed-up
against the issue's target of 0.7 x cores, and whether the two JSON reports are identical
(they must be: shards merge into the single-pass report).

It also measures what the machine gives: the same pure-Python loop in one process, then in
one process per allowed core at once. A virtual machine whose cores share a physical one
(or a busy host) runs N processes at well under N times one; the validator cannot do better
than that ceiling, so it is printed beside the speed-up.
"""

from __future__ import annotations

import argparse
import hashlib
import multiprocessing
import os
import platform
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

from generators import GENERATORS  # noqa: E402

MODELS = {
    "clean": "amazon.titan-text-express-v1:0:8k",
    "realistic": "amazon.titan-text-express-v1:0:8k",
    "nova": "amazon.nova-lite-v1:0:300k",
}
TARGET_PER_CORE = 0.7


@dataclass
class Run:
    seconds: float
    report_digest: str


def allowed_cores() -> set[int]:
    return set(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else {0}


def cpu_model() -> str:
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def _spin(_: int) -> float:
    start = time.perf_counter()
    total = 0
    for i in range(10_000_000):
        total += i
    return time.perf_counter() - start


def machine_ceiling(n: int, repeat: int) -> float:
    """How many times one process's work ``n`` CPU-bound processes get done in the same time
    (``n`` on a machine whose cores are real and idle)."""
    context = multiprocessing.get_context("spawn")
    with context.Pool(n) as pool:
        alone = min(min(pool.map(_spin, [0])) for _ in range(repeat))
        together = min(max(pool.map(_spin, range(n))) for _ in range(repeat))
    return n * alone / together


def timed(path: Path, model: str, workers: int, cores: set[int]) -> Run:
    """One fresh ``validate`` process on ``cores``; its wall time and its report's digest."""
    cmd = [sys.executable, "-m", "lambda_handlers.cli", "validate", str(path)]
    cmd += ["--type", "FINE_TUNING", "--base-model", model, "--json", "--workers", str(workers)]

    def pin() -> None:
        os.sched_setaffinity(0, cores)

    start = time.perf_counter()
    done = subprocess.run(
        cmd,
        cwd=ROOT,
        capture_output=True,
        preexec_fn=pin if hasattr(os, "sched_setaffinity") else None,
        check=False,
    )
    seconds = time.perf_counter() - start
    if done.returncode not in (0, 1):  # 1: the data is invalid, still a report
        raise SystemExit(f"{' '.join(cmd)} failed:\n{done.stderr.decode()}")
    return Run(seconds, hashlib.sha256(done.stdout).hexdigest())


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--size-mb", type=int, default=300, help="file size (default 300)")
    parser.add_argument("--kind", choices=sorted(GENERATORS), default="realistic")
    parser.add_argument("--repeat", type=int, default=3, help="runs per side; the fastest counts")
    args = parser.parse_args()
    cores = allowed_cores()
    n = len(cores)
    print(f"machine: {n} cores allowed ({os.cpu_count()} in the machine), {cpu_model()}")
    print(f"python {platform.python_version()}, {platform.system()} {platform.release()}")
    ceiling = machine_ceiling(n, args.repeat)
    print(f"machine ceiling: {n} CPU-bound processes do {ceiling:.2f}x the work of one")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"{args.kind}.jsonl"
        written = GENERATORS[args.kind](path, args.size_mb * 1024 * 1024)
        size_mb = path.stat().st_size / 1024 / 1024
        print(f"file: {args.kind}, {size_mb:.0f} MB, {written.records:,} records")
        sides = {"one core": (1, {min(cores)}), f"{n} cores": (n, cores)}
        best: dict[str, Run] = {}
        digests: set[str] = set()
        for _ in range(args.repeat):
            for label, (workers, allowed) in sides.items():
                run = timed(path, MODELS[args.kind], workers, allowed)
                digests.add(run.report_digest)
                if label not in best or run.seconds < best[label].seconds:
                    best[label] = run
    for label, run in best.items():
        print(f"{label:10} {size_mb / run.seconds:8.1f} MB/s  {run.seconds:6.2f} s")
    speed_up = best["one core"].seconds / best[f"{n} cores"].seconds
    print(
        f"speed-up: {speed_up:.2f}x on {n} cores, {speed_up / n:.2f} per core "
        f"(target: at least {TARGET_PER_CORE} per core, {TARGET_PER_CORE * n:.1f}x; "
        f"this machine's ceiling {ceiling:.2f}x)"
    )
    print("reports identical: " + ("yes" if len(digests) == 1 else "NO"))


if __name__ == "__main__":
    main()
