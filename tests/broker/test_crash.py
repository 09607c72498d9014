"""kill -9 during a burst of views: every view a client got is in the audit log, and the chain
still verifies when the broker is opened again.

The broker runs as in production (gunicorn, two workers, four threads each) on a database
prepared in-process; several client threads view cases; the whole process group is killed
with SIGKILL once part of the burst has been answered. Bounded: a fixed number of requests,
timeouts everywhere, and the processes are always killed and reaped.
"""

from __future__ import annotations

import http.client
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from broker import create_app
from broker.cli.demo import load_demo
from broker.cli.service import init_database, issue_token
from broker.core.runtime import runtime
from broker.privacy.audit_log import verify_log
from broker.storage.models import Case

ROOT = Path(__file__).resolve().parents[2]
VIEWERS = ("jansen", "devries", "mulder")  # on the case team of every demo track they view
THREADS = 6
REQUESTS = 300  # in all; the kill comes after KILL_AFTER of them were answered
KILL_AFTER = 60
DEADLINE = 60.0  # seconds for the whole burst


def free_port() -> int:
    """A TCP port nobody listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def prepare(db_url: str, instance: Path) -> tuple[dict[str, str], list[str]]:
    """Schema, demo data and a token per viewer, in-process; the cases they may view."""
    app = create_app(
        {"DATABASE_URL": db_url, "INSTANCE_PATH": str(instance), "LOG_LEVEL": "WARNING"}
    )
    try:
        with app.app_context():
            init_database()
            load_demo()
            tokens = {username: issue_token(username, ttl=600) for username in VIEWERS}
            session = runtime().sessions()
            try:
                cases = list(
                    session.scalars(
                        select(Case.id).where(Case.track.in_(("lokaal_preventief", "pga", "zvh")))
                    )
                )
            finally:
                session.close()
    finally:
        app.extensions["broker"].engine.dispose()
    return tokens, cases


@pytest.fixture
def server(db_url: str, tmp_path: Path) -> Iterator[dict[str, Any]]:
    """The broker under gunicorn in its own process group; killed and reaped afterwards."""
    instance = tmp_path / "instance"
    tokens, cases = prepare(db_url, instance)
    port = free_port()
    env = {
        **os.environ,
        "BROKER_INSTANCE_PATH": str(instance),
        "BROKER_DATABASE_URL": db_url,
        "BROKER_LOG_LEVEL": "WARNING",
    }
    log = (tmp_path / "gunicorn.log").open("wb")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "--workers",
            "2",
            "--threads",
            "4",
            "--timeout",
            "30",
            "-b",
            f"127.0.0.1:{port}",
            "broker:create_app()",
        ],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        wait_ready(port, process, tmp_path / "gunicorn.log")
        yield {
            "port": port,
            "process": process,
            "tokens": tokens,
            "cases": cases,
            "db_url": db_url,
            "instance": instance,
        }
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=30)
        log.close()


def wait_ready(port: int, process: subprocess.Popen[bytes], log: Path) -> None:
    """Until /readyz answers 200 (at most 30 s)."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError("gunicorn exited:\n" + log.read_text(errors="replace"))
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
        try:
            connection.request("GET", "/readyz")
            if connection.getresponse().status == 200:
                return
        except OSError:
            pass
        finally:
            connection.close()
        time.sleep(0.1)
    raise AssertionError("gunicorn did not become ready:\n" + log.read_text(errors="replace"))


def test_every_answered_view_survives_kill_9(server: dict[str, Any]) -> None:
    """After kill -9 mid-burst every 200 a client got has its audit record; the chain verifies."""
    answered: list[tuple[str, str]] = []  # (request id sent, X-Request-ID received)
    failures: list[str] = []
    lock = threading.Lock()
    next_request = iter(range(REQUESTS))
    killed = threading.Event()
    deadline = time.monotonic() + DEADLINE

    def client() -> None:
        connection = http.client.HTTPConnection("127.0.0.1", server["port"], timeout=10)
        try:
            burst(connection)
        finally:
            connection.close()

    def burst(connection: http.client.HTTPConnection) -> None:
        while not killed.is_set() and time.monotonic() < deadline:
            with lock:
                number = next(next_request, None)
            if number is None:
                return
            username = VIEWERS[number % len(VIEWERS)]
            case_id = server["cases"][number % len(server["cases"])]
            sent = uuid.uuid4().hex
            try:
                connection.request(
                    "GET",
                    f"/api/v1/cases/{case_id}?purpose=uitvoering",
                    headers={
                        "Authorization": f"Bearer {server['tokens'][username]}",
                        "X-Request-ID": sent,
                    },
                )
                response = connection.getresponse()
                response.read()
            except (OSError, http.client.HTTPException):
                connection.close()  # reconnects on the next request, unless killed
                continue
            with lock:
                if response.status == 200:
                    answered.append((sent, response.getheader("X-Request-ID") or ""))
                    if len(answered) >= KILL_AFTER and not killed.is_set():
                        os.killpg(server["process"].pid, signal.SIGKILL)
                        killed.set()
                else:
                    failures.append(f"{response.status} for {username} on {case_id}")

    threads = [threading.Thread(target=client, daemon=True) for _ in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=DEADLINE + 15)
    assert not any(thread.is_alive() for thread in threads), "a client hangs"
    assert killed.is_set(), f"no kill: {len(answered)} answered; {failures[:3]}"
    server["process"].wait(timeout=30)
    assert not failures, failures[:5]
    assert len(answered) < REQUESTS, "the kill came after the burst"
    assert all(sent == got for sent, got in answered), "X-Request-ID was not echoed"

    app = create_app(
        {
            "DATABASE_URL": server["db_url"],
            "INSTANCE_PATH": str(server["instance"]),
            "LOG_LEVEL": "WARNING",
        }
    )
    try:
        with app.app_context():
            rt = runtime()
            session = rt.sessions()
            try:
                records = {
                    r.entry.request_id: r.entry
                    for r in rt.audit.records(session)
                    if r.entry.request_id
                }
                result = verify_log(session, rt, deep=True)
            finally:
                session.close()
    finally:
        app.extensions["broker"].engine.dispose()
    missing = [got for _, got in answered if got not in records]
    assert not missing, f"{len(missing)} answered view(s) have no audit record"
    assert all(
        (records[got].event, records[got].outcome) == ("case.view", "success")
        for _, got in answered
    )
    assert result.is_intact, result.description
