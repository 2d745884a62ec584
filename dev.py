#!/usr/bin/env python3
"""One entry point for a fresh machine with Python 3.11+ and Node.js.

    python3 dev.py synth   # install everything, synthesize the stack into cdk.out/
    python3 dev.py test    # install everything, run the test suite
    python3 dev.py deploy  # install everything, cdk deploy (needs AWS credentials)

It creates ``.venv`` (Python dependencies pinned in pyproject.toml) and
``node_modules`` (the CDK CLI pinned in package-lock.json), and reinstalls only when
those files change.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PYTHON = BIN / "python"
TEMPLATE = ROOT / "cdk.out" / "BedrockCustomization.template.json"


def run(*args: str | Path, env: dict[str, str] | None = None) -> None:
    print("+", " ".join(str(a) for a in args), flush=True)
    subprocess.run([str(a) for a in args], cwd=ROOT, check=True, env=env)


def digest(*paths: Path) -> str:
    h = hashlib.sha256()
    for path in paths:
        h.update(path.read_bytes())
    return h.hexdigest()


def ensure_python(extras: str) -> None:
    if sys.version_info < (3, 11):  # noqa: UP036 - dev.py runs before the venv, on any python3
        sys.exit(f"Python 3.11 or newer is needed, this is {sys.version.split()[0]}")
    stamp = VENV / f".installed-{extras or 'base'}"
    wanted = digest(ROOT / "pyproject.toml")
    if stamp.exists() and stamp.read_text() == wanted:
        return
    if not PYTHON.exists():
        venv.EnvBuilder(with_pip=True).create(VENV)
    run(
        PYTHON, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--upgrade", "pip"
    )
    target = f".[{extras}]" if extras else "."
    run(PYTHON, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "-e", target)
    stamp.write_text(wanted)


def ensure_node() -> None:
    stamp = ROOT / "node_modules" / ".installed"
    wanted = digest(ROOT / "package.json", ROOT / "package-lock.json")
    if stamp.exists() and stamp.read_text() == wanted:
        return
    run("npm", "ci", "--no-audit", "--no-fund", "--loglevel=error")
    stamp.write_text(wanted)


def environment() -> dict[str, str]:
    env = dict(os.environ)
    env["PATH"] = os.pathsep.join(
        [str(BIN), str(ROOT / "node_modules" / ".bin"), env.get("PATH", "")]
    )
    env["VIRTUAL_ENV"] = str(VENV)
    # jsii warns on every run under Node.js 20 (end of life); the README says to prefer 22 or 24.
    env.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "18,20")
    env.setdefault("CDK_DISABLE_CLI_TELEMETRY", "true")
    return env


def cdk(*args: str) -> None:
    run(ROOT / "node_modules" / ".bin" / "cdk", *args, "--no-notices", env=environment())


def synth() -> None:
    ensure_python("")
    ensure_node()
    cdk("synth", "--quiet")
    print(f"\nSynthesized template: {TEMPLATE.relative_to(ROOT)}")
    print(f"All of the cloud assembly: {TEMPLATE.parent.relative_to(ROOT)}/")


def ensure_chromium() -> None:
    """Debian's chromium, which the report tests render pages with; installed once, as root
    with apt-get (CI's clean machine), otherwise left to the tests to skip or, under CI, fail."""
    root = getattr(os, "geteuid", lambda: -1)() == 0  # no geteuid on Windows
    if shutil.which("chromium") or not shutil.which("apt-get") or not root:
        return
    quiet = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}  # CI has no terminal to ask on
    run("apt-get", "update", "-qq", env=quiet)
    run("apt-get", "install", "-y", "-qq", "chromium", env=quiet)  # with its recommended fonts


def test(pytest_args: list[str]) -> None:
    ensure_python("test")
    ensure_chromium()
    run(PYTHON, "-m", "pytest", *pytest_args, env=environment())


def deploy(cdk_args: list[str]) -> None:
    ensure_python("")
    ensure_node()
    cdk("deploy", *cdk_args)


def main(argv: list[str]) -> None:
    commands = {"synth": lambda rest: synth(), "test": test, "deploy": deploy}
    if not argv or argv[0] not in commands:
        sys.exit(f"usage: python3 dev.py {{{'|'.join(commands)}}} [args...]")
    try:
        commands[argv[0]](argv[1:])
    except subprocess.CalledProcessError as error:
        sys.exit(error.returncode)


if __name__ == "__main__":
    main(sys.argv[1:])
