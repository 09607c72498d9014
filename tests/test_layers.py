"""The rooms of the house and the one direction of their imports, checked by import-linter
against the contracts in pyproject.toml; and no module grows past what a reader takes in."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("broker", "policies", "audit", "witness")
MAX_LINES = 500
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"


def _lint_imports(where: Path) -> subprocess.CompletedProcess[str]:
    """Run import-linter on the tree at `where` (its own copy of the packages first on the
    path), without its cache, so that what it reads is that tree."""
    if not LINT_IMPORTS.exists():
        pytest.fail("import-linter is not installed (pip install -e '.[dev]')")
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache", "--config", str(where / "pyproject.toml")],
        cwd=where,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(where)},
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_the_import_contracts_hold() -> None:
    """Every contract in pyproject.toml is kept: the rooms of broker/ import only downwards,
    use cases never touch Flask, policies/ and audit/ stay pure and apart, and there is no
    import circle anywhere in the tree."""
    result = _lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


@pytest.fixture
def tree_copy(tmp_path: Path) -> Path:
    """A copy of the packages and the contracts, to break on purpose."""
    for package in PACKAGES:
        shutil.copytree(
            ROOT / package, tmp_path / package, ignore=shutil.ignore_patterns("__pycache__")
        )
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


def _add_import(tree: Path, module: str, line: str) -> None:
    path = tree / (module.replace(".", "/") + ".py")
    path.write_text(path.read_text(encoding="utf-8") + f"\n{line}\n", encoding="utf-8")


@pytest.mark.parametrize(
    ("module", "line", "contract"),
    [
        # storage reaching up into a use case: an upward import
        (
            "broker.storage.models",
            "from broker.casework import views",
            "each room imports only the rooms below it",
        ),
        # two pages modules importing each other: a circle inside a room
        ("broker.web.i18n", "from broker.web import team", "no import circle"),
        # the pure log importing the engine
        ("audit.record", "import policies", "do not import each other"),
        # a use case touching the request
        ("broker.casework.views", "import flask", "never touch the request"),
        # the partner's witness reaching into the broker
        ("witness.check", "from broker.core import runtime", "witness/ never imports the broker"),
    ],
)
def test_the_contracts_catch_a_broken_rule(
    tree_copy: Path, module: str, line: str, contract: str
) -> None:
    """Each kind of breach fails the check and names the contract it breaks."""
    assert _lint_imports(tree_copy).returncode == 0
    _add_import(tree_copy, module, line)
    result = _lint_imports(tree_copy)
    assert result.returncode != 0
    broken = result.stdout.split("Broken contracts", 1)[-1]
    assert contract in broken, result.stdout


def test_no_module_is_longer_than_a_reader_takes_in() -> None:
    """No file under broker/, policies/, audit/ or witness/ is over 500 lines (migrations excepted:
    Alembic writes them once and they are never edited)."""
    too_long = {
        str(path.relative_to(ROOT)): n
        for package in PACKAGES
        for path in sorted((ROOT / package).rglob("*.py"))
        if "migrations" not in path.parts
        and (n := len(path.read_text(encoding="utf-8").splitlines())) > MAX_LINES
    }
    assert too_long == {}, f"split these along their own sections: {too_long}"


def test_every_package_says_what_lives_there() -> None:
    """Every package has a docstring saying what it holds and what may import it, and states
    its public API in __all__ (an empty one when its modules are imported directly)."""
    missing = []
    for package in PACKAGES:
        for init in sorted((ROOT / package).rglob("__init__.py")):
            if "migrations" in init.parts:
                continue
            text = init.read_text(encoding="utf-8")
            docstring = text.lstrip().startswith('"""') and len(text.split('"""')[1]) > 80
            if not docstring or "__all__" not in text:
                missing.append(str(init.relative_to(ROOT)))
    assert missing == [], missing
