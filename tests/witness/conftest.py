"""Fixtures of the witness's tests: a log, a witness that trusts it, the witness served."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.witness.support import NOW, WITNESS_NAME, FakeLog, served
from witness import StateDir, create_app


@pytest.fixture
def log() -> FakeLog:
    """A log of 20 records with its own key."""
    return FakeLog(20)


@pytest.fixture
def witness_dir(tmp_path: Path, log: FakeLog) -> StateDir:
    """A new witness's state that trusts `log`."""
    store, _ = StateDir.create(tmp_path / "witness", WITNESS_NAME)
    store.trust(log.vkey)
    return store


@pytest.fixture
def witness_url(witness_dir: StateDir) -> Iterator[str]:
    """The witness over `witness_dir`, served over HTTP in a thread; its clock stands at NOW."""
    with served(create_app(witness_dir.path, clock=lambda: NOW)) as url:
        yield url
