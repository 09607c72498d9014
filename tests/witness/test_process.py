"""`broker witness serve` as the partner runs it: the console script, gunicorn with two worker
processes, killed and started again — the witness remembers what it cosigned, and concurrent
requests from the same old size never roll it back."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from audit.tlog import TreeState, parse_tlog_size
from tests.witness.support import ORIGIN, Answer, FakeLog, free_port, post
from witness import StateDir

BROKER = Path(sys.executable).parent / "broker"
_SERVE = [str(BROKER), "witness", "serve", "--workers", "2", "--state"]


def _at_once(url: str, bodies: list[bytes]) -> list[Answer]:
    """POST each body from its own thread, all released together."""
    start = threading.Barrier(len(bodies))

    def send(body: bytes) -> Answer:
        start.wait()
        return post(url, body)

    with ThreadPoolExecutor(len(bodies)) as pool:
        return list(pool.map(send, bodies))


def _wait_for(port: int, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"the witness stopped: {log.read_text(errors='replace')}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    pytest.fail(f"the witness did not listen on {port}: {log.read_text(errors='replace')}")


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[Callable[[StateDir], tuple[str, Callable[[], None]]]]:
    """Start `broker witness serve` on a free port; returns its URL and a kill (SIGKILL to its
    whole process group: master and workers, no goodbye)."""
    running: list[subprocess.Popen[bytes]] = []

    def start(store: StateDir) -> tuple[str, Callable[[], None]]:
        port = free_port()
        log = tmp_path / f"witness-{port}.log"
        with log.open("wb") as out:
            process = subprocess.Popen(
                [*_SERVE, str(store.path), "--host", "127.0.0.1", "--port", str(port)],
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        running.append(process)
        _wait_for(port, process, log)

        def kill() -> None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=30)

        return f"http://127.0.0.1:{port}", kill

    yield start
    for process in running:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=30)


def _latest(store: StateDir) -> TreeState | None:
    trusted = store.read().log(ORIGIN)
    assert trusted is not None
    return trusted.latest


def test_a_killed_witness_remembers_what_it_cosigned(
    serve: Callable[[StateDir], tuple[str, Callable[[], None]]],
    witness_dir: StateDir,
    log: FakeLog,
) -> None:
    """Cosigned at 20, the witness is killed (SIGKILL) and started again: it answers old 0
    with 409 and size 20, cosigns 20 → 25, and refuses the log rewritten at 25."""
    url, kill = serve(witness_dir)
    assert post(url, log.request(0, 20)).status == 200
    kill()
    url, kill = serve(witness_dir)
    log.grow(5)
    stale = post(url, log.request(0, 25))
    assert stale.status == 409 and parse_tlog_size(stale.body) == 20
    assert post(url, log.rewritten(10).request(20, 25)).status == 422
    assert post(url, log.request(20, 25)).status == 200
    kill()
    assert _latest(witness_dir) == TreeState(25, log.store.root(25))


def test_concurrent_requests_from_one_old_size_have_one_winner(
    serve: Callable[[StateDir], tuple[str, Callable[[], None]]],
    witness_dir: StateDir,
    log: FakeLog,
) -> None:
    """Round after round, two requests from the size stored now to two different sizes are
    sent at once to the two-worker server: one is cosigned, the other is 409 with the
    winner's size, and the witness ends at the last winner's tree."""
    log.grow(40)
    url, kill = serve(witness_dir)
    stored = 0
    for _ in range(10):
        answers = _at_once(url, [log.request(stored, stored + 1), log.request(stored, stored + 3)])
        assert sorted(a.status for a in answers) == [200, 409], answers
        winner = 0 if answers[0].status == 200 else 1
        stored += 1 if winner == 0 else 3
        assert parse_tlog_size(answers[1 - winner].body) == stored
    kill()
    assert _latest(witness_dir) == TreeState(stored, log.store.root(stored))


def test_serve_without_a_state_says_so(tmp_path: Path) -> None:
    """`broker witness serve` on a directory with no witness exits 1 with the reason, no
    traceback, and serves nothing."""
    result = subprocess.run(
        [*_SERVE, str(tmp_path / "none"), "--port", str(free_port())],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert "no witness state" in result.stderr and "broker witness init" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout
