"""The project's own standards, enforced by the suite: ruff clean, mypy --strict on domain/,
and the domain layer free of I/O frameworks."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FORBIDDEN_IN_DOMAIN = {
    "temporalio",
    "asyncpg",
    "structlog",
    "os",
    "socket",
    "subprocess",
    "time",
    "urllib",
    "http",
    "requests",
    "zoneinfo",
    "pathlib",
    "eventstore",
    "activities",
    "workflows",
}


def test_ruff_is_clean() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "."], cwd=ROOT, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_mypy_strict_on_domain() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "domain"], cwd=ROOT, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_domain_imports_no_io() -> None:
    offenders = []
    for path in sorted((ROOT / "domain").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module]
            offenders += [f"{path.name}: {n}" for n in names if n.split(".")[0] in FORBIDDEN_IN_DOMAIN]
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "open":
                offenders.append(f"{path.name}: open()")
            # randomness only through an explicitly seeded random.Random(...)
            func = node.func if isinstance(node, ast.Call) else None
            if (
                isinstance(func, ast.Attribute)
                and getattr(func.value, "id", None) == "random"
                and func.attr != "Random"
            ):
                offenders.append(f"{path.name}: unseeded random.{func.attr}()")
            if isinstance(func, ast.Attribute) and func.attr in ("now", "utcnow", "today"):
                offenders.append(f"{path.name}: clock .{func.attr}()")
    assert offenders == []
