#!/usr/bin/env python3
"""The two commands of the README, each doing its own set-up on a machine with Python 3.11+.

    python3 run.py start   # virtual environment, install, database, demo data, serve on :8000
    python3 run.py test    # virtual environment, install, the whole test suite

Extra arguments after `test` go to pytest; after `start`, to `broker serve`.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = Path(os.environ.get("BROKER_VENV", ROOT / ".venv"))
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
EXTRAS = "dev,bench"


def _stamp() -> str:
    """What the installed environment was built from: the project metadata and lock file."""
    digest = hashlib.sha256(sys.version.encode())
    for name in ("pyproject.toml", "constraints.txt"):
        path = ROOT / name
        if path.exists():
            digest.update(path.read_bytes())
    return digest.hexdigest()


def ensure_environment() -> None:
    """Create the virtual environment and install the broker into it, when needed."""
    if sys.version_info < (3, 11):  # noqa: UP036 (run.py may be started by an older python3)
        sys.exit(f"The broker needs Python 3.11 or newer; this is {sys.version.split()[0]}.")
    stamp_file = VENV / ".broker-installed"
    if stamp_file.exists() and stamp_file.read_text() == _stamp():
        return
    if not (BIN / "python").exists():
        print(f"run.py: creating the virtual environment in {VENV}", flush=True)
        venv.EnvBuilder(with_pip=True, clear=VENV.exists()).create(VENV)
    print("run.py: installing the broker and its dependencies", flush=True)
    pip = [str(BIN / "python"), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    constraints = ROOT / "constraints.txt"
    extra = ["-c", str(constraints)] if constraints.exists() else []
    subprocess.run([*pip, *extra, "-e", f"{ROOT}[{EXTRAS}]"], check=True)
    stamp_file.write_text(_stamp())


def run(*args: str) -> int:
    """Run a program from the virtual environment in the repository root."""
    return subprocess.run([str(BIN / args[0]), *args[1:]], cwd=ROOT).returncode


def main(argv: list[str]) -> int:
    """Dispatch `start` or `test`."""
    if not argv or argv[0] not in {"start", "test"}:
        print(__doc__)
        return 2
    ensure_environment()
    if argv[0] == "test":
        # one worker per core, each test file on one worker (its module fixtures, such as the
        # browser tests' server, are built once); `-n 0` after `test` runs in one process
        return run("python", "-m", "pytest", "-n", "auto", "--dist", "loadfile", *argv[1:])
    code = run("broker", "demo")
    if code:
        return code
    return run("broker", "serve", *argv[1:])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
