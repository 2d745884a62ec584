"""The house style, enforced: ruff (lint and format) on everything, mypy on handlers and constructs."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", *args], cwd=ROOT, capture_output=True, text=True, check=False
    )


def test_ruff_finds_nothing() -> None:
    result = run("ruff", "check", ".")
    assert result.returncode == 0, result.stdout + result.stderr


def test_code_is_formatted() -> None:
    result = run("ruff", "format", "--check", ".")
    assert result.returncode == 0, result.stdout + result.stderr


def test_mypy_finds_nothing() -> None:
    result = run("mypy")
    assert result.returncode == 0, result.stdout + result.stderr


def _python_files() -> list[Path]:
    skip = {".venv", "node_modules", "cdk.out", ".git", "build"}
    return [p for p in ROOT.rglob("*.py") if not skip & set(p.relative_to(ROOT).parts)]


def test_no_function_is_over_80_lines() -> None:
    import ast

    long = []
    for path in _python_files():
        for node in ast.walk(ast.parse(path.read_text("utf-8"))):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                first = min([node.lineno, *(d.lineno for d in node.decorator_list)])
                length = (node.end_lineno or node.lineno) - first + 1
                if length > 80:
                    long.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.name} ({length})")
    assert len(_python_files()) > 100
    assert not long, "split these: " + ", ".join(long)


def test_no_construct_module_is_over_400_lines() -> None:
    modules = list((ROOT / "constructs_lib").rglob("*.py"))
    long = [
        f"{p.relative_to(ROOT)} ({n})"
        for p in modules
        if (n := len(p.read_text("utf-8").splitlines())) > 400
    ]
    assert len(modules) > 10
    assert not long, "split these: " + ", ".join(long)
