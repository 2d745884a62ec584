#!/usr/bin/env python3
"""Side by side in one run, one core: the guide's validator against the engine on clean and on
realistic prompt/completion data, and AWS's Nova validator against the engine on Nova
conversation data, with the verdicts checked.

    python3 benchmarks/compare.py --size-mb 100 [--nova-size-mb 100] [--repeat 5]

Every run is a fresh process pinned to one core (CPU affinity), timed from the outside: wall
time of the whole process (interpreter start, imports, reading, checking) and its peak RSS. The
sides run interleaved, ``--repeat`` times each; the fastest run of each side counts, and the
highest peak RSS of any of its runs is shown.

AWS's Nova validator (MIT-0, aws-samples/amazon-bedrock-samples, ``NOVA_PATH`` at
``NOVA_COMMIT``) is not copied into this repository: give its file with ``--nova-validator``,
or a clone of the repository with ``--aws-samples-git`` (``git show`` takes the file at that
commit). It needs pydantic 2.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

from generators import GENERATORS, Written  # noqa: E402

NOVA_COMMIT = "f1fff8b788ec1bf97689561f78a0038ffa07e938"
NOVA_PATH = (
    "custom-models/bedrock-fine-tuning/nova/understanding/dataset_validation/"
    "nova_ft_dataset_validator.py"
)
NOVA_URL = f"https://raw.githubusercontent.com/aws-samples/amazon-bedrock-samples/{NOVA_COMMIT}/{NOVA_PATH}"
DEFAULT_CLONE = Path("/work/.mirror/aws-samples+amazon-bedrock-samples/repo")
ENGINE_MODEL = {
    "clean": "amazon.titan-text-express-v1:0:8k",
    "realistic": "amazon.titan-text-express-v1:0:8k",
    "nova": "amazon.nova-lite-v1:0:300k",
}
TARGETS = {"clean": None, "realistic": 5.0, "nova": 2.5}


@dataclass
class Run:
    seconds: float
    peak_rss_mb: float
    verdict: str
    detail: dict


def run_in_child(which: str, path: str, model: str, engine_root: str) -> None:
    """The body of one timed process: validate ``path`` and print the verdict as JSON."""
    if which == "floor":
        print(json.dumps({"verdict": "decoded", "records": decode_only(path)}))
        return
    if which == "guide":
        from validate_throughput import guide_validate_training_data

        valid = guide_validate_training_data(path)
        print(json.dumps({"verdict": "valid" if valid else "invalid"}))
        return
    sys.path.insert(0, engine_root)
    from lambda_handlers.validation import open_source, validate_dataset

    report = validate_dataset(
        open_source(path), None, customization_type="FINE_TUNING", base_model=model
    )
    print(json.dumps({k: report[k] for k in ("verdict", "errors", "warnings")}))


def decode_only(path: str) -> int:
    """The least any Python validator of this JSONL does: read it in 4 MiB blocks of whole
    lines and decode every line with msgspec (the fastest JSON decoder the engine has), no
    check at all. Returns the records decoded."""
    import msgspec

    decoder = msgspec.json.Decoder()
    records = 0
    rest = b""
    with open(path, "rb") as f:
        while chunk := f.read(4 << 20):
            chunk = rest + chunk
            cut = chunk.rfind(b"\n") + 1
            rest = chunk[cut:]
            records += len(decoder.decode_lines(chunk[:cut]))
    return records + len(decoder.decode_lines(rest))


def _pin_to_one_core() -> None:
    os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})


def timed(cmd: list[str], aws: bool) -> Run:
    """Run ``cmd`` to the end; wall time and peak RSS of that process alone (wait4)."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, preexec_fn=_pin_to_one_core)
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read().decode(), err.read().decode()
    if aws:  # AWS's validator prints on success and raises NovaClientError otherwise
        ok = proc.returncode == 0 and "Validation successful" in stdout
        lines = stderr.strip().splitlines()
        detail = {"message": (lines[-1] if lines else stdout.strip())[:300]}
        return Run(seconds, usage.ru_maxrss / 1024, "valid" if ok else "invalid", detail)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{stderr}")
    detail = json.loads(stdout.strip().splitlines()[-1])
    return Run(seconds, usage.ru_maxrss / 1024, detail.pop("verdict"), detail)


def nova_validator(args: argparse.Namespace, tmp: Path) -> Path | None:
    if args.nova_validator:
        return Path(args.nova_validator)
    clone = Path(args.aws_samples_git)
    if not clone.exists():
        return None
    shown = subprocess.run(
        ["git", "--git-dir", str(clone), "show", f"{NOVA_COMMIT}:{NOVA_PATH}"],
        capture_output=True,
        check=False,
    )
    if shown.returncode != 0:
        return None
    target = tmp / "nova_ft_dataset_validator.py"
    target.write_bytes(shown.stdout)
    return target


def commands(kind: str, path: Path, nova: Path | None, root: Path) -> dict[str, list[str]]:
    me = [sys.executable, str(Path(__file__).resolve()), "--run"]
    sides = {
        "engine": [*me, "engine", str(path), ENGINE_MODEL[kind], str(root)],
        "floor": [*me, "floor", str(path), "-", "-"],
    }
    if kind != "nova":
        sides["baseline"] = [*me, "guide", str(path), "-", "-"]
    elif nova is not None:
        sides["baseline"] = [sys.executable, str(nova), "-i", str(path), "-m", "lite"]
    return sides


def measure(
    files: dict[str, Path], nova: Path | None, root: Path, repeat: int
) -> dict[str, dict[str, Run]]:
    """Interleaved: each round runs every side of every kind once; the fastest run counts."""
    best: dict[str, dict[str, Run]] = {kind: {} for kind in files}
    for _ in range(repeat):
        for kind, path in files.items():
            for side, cmd in commands(kind, path, nova, root).items():
                run = timed(cmd, aws=kind == "nova" and side == "baseline")
                kept = best[kind].get(side)
                if kept is None or run.seconds < kept.seconds:
                    run.peak_rss_mb = max(run.peak_rss_mb, kept.peak_rss_mb if kept else 0.0)
                    best[kind][side] = run
                else:
                    kept.peak_rss_mb = max(kept.peak_rss_mb, run.peak_rss_mb)
    return best


BASELINE_NAME = {
    "clean": "guide",
    "realistic": "guide",
    "nova": f"AWS Nova validator {NOVA_COMMIT[:7]}",
}


def verdict_problems(kind: str, sides: dict[str, Run], written: Written) -> list[str]:
    """What the engine must have said about the generated data."""
    engine = sides["engine"]
    problems = []
    if engine.verdict != "valid" or engine.detail["errors"]:
        problems.append(f"{kind}: engine says {engine.verdict} {engine.detail['errors']}")
    if kind == "clean" and engine.detail["warnings"]:
        problems.append(f"clean: engine warns {engine.detail['warnings']}")
    if kind == "realistic":
        expected = {
            "unknown-field": sum(written.extra_fields.values()),
            "blank-line": written.blank_lines,
            "duplicate-record": written.duplicates,
        }
        got = {code: engine.detail["warnings"].get(code, 0) for code in expected}
        if got != expected:
            problems.append(f"realistic: engine counted {got}, the file has {expected}")
    if sides["floor"].detail["records"] != written.records:
        problems.append(f"{kind}: the floor decoded {sides['floor'].detail['records']} records")
    if kind == "nova" and "baseline" in sides and sides["baseline"].verdict != engine.verdict:
        aws = sides["baseline"]
        problems.append(f"nova: AWS says {aws.verdict} ({aws.detail}), engine {engine.verdict}")
    return problems


def row(label: str, size_mb: float, run: Run) -> str:
    return (
        f"  {label:34} {size_mb / run.seconds:8.1f} MB/s {run.seconds:7.2f} s"
        f"  peak RSS {run.peak_rss_mb:7.1f} MB  {run.verdict}"
    )


def report(files: dict[str, Path], written: dict[str, Written], best: dict) -> list[str]:
    problems: list[str] = []
    for kind, path in files.items():
        size_mb = path.stat().st_size / 1_000_000
        w = written[kind]
        print(
            f"{kind}: {size_mb:.1f} MB, {w.records} records ({path.stat().st_size // w.records} B each)"
        )
        sides = best[kind]
        if "baseline" in sides:
            print(row(BASELINE_NAME[kind], size_mb, sides["baseline"]))
        else:
            print(f"  {BASELINE_NAME[kind]:34} not run: file not found ({NOVA_URL})")
        print(row("engine (bedrock-customize)", size_mb, sides["engine"]))
        if kind == "realistic":
            print(f"  engine warnings: {sides['engine'].detail['warnings']}")
        if "baseline" in sides:
            ratio = sides["baseline"].seconds / sides["engine"].seconds
            target = TARGETS[kind]
            verdict = (
                ""
                if target is None
                else f" (target {target}x: {'met' if ratio >= target else 'MISSED'})"
            )
            print(f"  speed-up {ratio:.2f}x{verdict}")
        print(row("floor: read + decode, no checks", size_mb, sides["floor"]))
        if "baseline" in sides and TARGETS[kind] is not None:
            goal = sides["baseline"].seconds / TARGETS[kind]
            spare = goal - sides["floor"].seconds
            print(
                f"  the target is {goal:.2f} s: {spare:.2f} s beyond the floor for every check,"
                f" {spare / w.records * 1e6:.2f} us per record"
            )
        problems += verdict_problems(kind, sides, w)
    return problems


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--size-mb", type=float, default=100, help="prompt/completion files (MB)")
    parser.add_argument("--nova-size-mb", type=float, help="Nova file (MB; default: --size-mb)")
    parser.add_argument("--repeat", type=int, default=5, help="runs per side; the fastest counts")
    parser.add_argument("--nova-validator", help="path of AWS's nova_ft_dataset_validator.py")
    parser.add_argument(
        "--engine-root",
        default=str(ROOT),
        help="where lambda_handlers/ is read from, e.g. a `git archive` of one commit "
        "(default: this working tree)",
    )
    parser.add_argument(
        "--aws-samples-git",
        default=str(DEFAULT_CLONE),
        help="git directory of an amazon-bedrock-samples clone (default: %(default)s)",
    )
    parser.add_argument(
        "--run", nargs=4, metavar=("WHICH", "PATH", "MODEL", "ROOT"), help=argparse.SUPPRESS
    )
    args = parser.parse_args()
    if args.run:
        run_in_child(*args.run)
        return
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        "unknown CPU",
    )
    print(
        f"machine: {cpu}, {os.cpu_count()} cores, {len(os.sched_getaffinity(0))} allowed; each run on one core, fastest of {args.repeat}"
    )
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        sizes = {
            "clean": args.size_mb,
            "realistic": args.size_mb,
            "nova": args.nova_size_mb or args.size_mb,
        }
        files = {kind: tmp / f"{kind}.jsonl" for kind in sizes}
        written = {
            kind: GENERATORS[kind](files[kind], int(size * 1_000_000))
            for kind, size in sizes.items()
        }
        best = measure(files, nova_validator(args, tmp), Path(args.engine_root), args.repeat)
        problems = report(files, written, best)
    if problems:
        raise SystemExit("verdicts differ from what the data holds:\n  " + "\n  ".join(problems))


if __name__ == "__main__":
    main()
