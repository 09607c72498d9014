"""The house's tooling holds: ruff lint and format everywhere, mypy strict on the pure core."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from tests.needs import unavailable

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    tool = BIN / args[0]
    if not tool.exists() and shutil.which(args[0]) is None:
        unavailable(f"{args[0]} is not installed (pip install -e '.[dev]')")
    command = [str(tool) if tool.exists() else args[0], *args[1:]]
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300)


def test_ruff_lint() -> None:
    """ruff finds nothing to complain about."""
    result = _run("ruff", "check", ".")
    assert result.returncode == 0, result.stdout + result.stderr


def test_ruff_format() -> None:
    """Every file is formatted as ruff formats it."""
    result = _run("ruff", "format", "--check", ".")
    assert result.returncode == 0, result.stdout + result.stderr


def test_mypy_strict_on_the_core() -> None:
    """policies/, audit/ and witness/ pass mypy --strict (configured in pyproject.toml)."""
    result = _run("mypy", "policies", "audit", "witness")
    assert result.returncode == 0, result.stdout + result.stderr
