"""`broker serve`: the issuer follows the address it serves on unless BROKER_ISSUER is set.

(gunicorn on a free port without BROKER_ISSUER, with the whole page login, is in
tests/test_docs.py; here the development server, an explicit issuer, and the address rule.)
"""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from broker.cli.service import served_issuer

BIN = Path(sys.executable).parent


@pytest.mark.parametrize(
    ("host", "port", "issuer"),
    [
        ("127.0.0.1", 8001, "http://127.0.0.1:8001"),
        ("localhost", 8000, "http://localhost:8000"),
        ("0.0.0.0", 8080, "http://127.0.0.1:8080"),
        ("", 8080, "http://127.0.0.1:8080"),
        ("::", 8443, "http://[::1]:8443"),
        ("::1", 8001, "http://[::1]:8001"),
        ("broker.example", 80, "http://broker.example:80"),
    ],
)
def test_the_issuer_of_a_served_address(host: str, port: int, issuer: str) -> None:
    """The address served on, with the loopback address for a wildcard, IPv6 in brackets."""
    assert served_issuer(host, port) == issuer


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _get(port: int, path: str) -> tuple[int, str, str]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        return response.status, response.getheader("Location") or "", response.read().decode()
    finally:
        connection.close()


@pytest.fixture
def serve_dev(tmp_path: Path) -> Iterator[Callable[..., int]]:
    """Start `broker serve --dev --port P` with extra environment; stopped afterwards."""
    started: list[subprocess.Popen[bytes]] = []

    def start(**env: str) -> int:
        port = _free_port()
        environment = {
            k: v for k, v in os.environ.items() if k not in ("BROKER_ISSUER", "BROKER_DATABASE_URL")
        }
        environment.update(
            BROKER_INSTANCE_PATH=str(tmp_path / "instance"), BROKER_LOG_LEVEL="WARNING", **env
        )
        log = tmp_path / f"serve-{port}.log"
        with log.open("wb") as out:
            process = subprocess.Popen(
                [str(BIN / "broker"), "serve", "--dev", "--port", str(port)],
                env=environment,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        started.append(process)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            assert process.poll() is None, log.read_text(errors="replace")
            try:
                if _get(port, "/healthz")[0] == 200:
                    return port
            except OSError:
                time.sleep(0.2)
        raise AssertionError(log.read_text(errors="replace"))

    yield start
    for process in started:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=15)


def _issuer_and_callback(port: int) -> tuple[str, list[str]]:
    status, _, body = _get(port, "/.well-known/oauth-authorization-server")
    assert status == 200
    status, location, _ = _get(port, "/login")
    assert status == 303
    return json.loads(body)["issuer"], parse_qs(urlsplit(location).query)["redirect_uri"]


def test_the_development_server_follows_its_port(serve_dev: Callable[..., int]) -> None:
    """--dev without BROKER_ISSUER: metadata and the login's callback name the served port."""
    port = serve_dev()
    issuer, callback = _issuer_and_callback(port)
    assert issuer == f"http://127.0.0.1:{port}"
    assert callback == [f"http://127.0.0.1:{port}/callback"]


def test_a_configured_issuer_wins(serve_dev: Callable[..., int]) -> None:
    """BROKER_ISSUER set: the broker keeps it, whatever port it serves on."""
    port = serve_dev(BROKER_ISSUER="https://broker.example")
    issuer, callback = _issuer_and_callback(port)
    assert issuer == "https://broker.example"
    assert callback == ["https://broker.example/callback"]


def test_the_workers_keep_the_log_origin_whatever_port(
    serve_dev: Callable[..., int], tmp_path: Path
) -> None:
    """Without BROKER_ISSUER the log's origin (and its key's name) is the default issuer's,
    not the served port's: a checkpoint signed by the served broker names 127.0.0.1:8000."""
    environment = {
        k: v for k, v in os.environ.items() if k not in ("BROKER_ISSUER", "BROKER_DATABASE_URL")
    }
    environment.update(BROKER_INSTANCE_PATH=str(tmp_path / "instance"), BROKER_LOG_LEVEL="WARNING")

    def broker(*args: str, **env: str) -> str:
        done = subprocess.run(
            [str(BIN / "broker"), *args],
            env={**environment, **env},
            capture_output=True,
            check=True,
        )
        return done.stdout.decode()

    broker("demo")
    vkey = broker("audit", "vkey").strip().splitlines()[-1]
    assert vkey.startswith("127.0.0.1:8000/audit+")
    port = serve_dev()
    assert port != 8000
    # a token for the served issuer (the issuer follows the port; the origin does not)
    served_at = f"http://127.0.0.1:{port}"
    token = broker("token", "dekker", BROKER_ISSUER=served_at).strip().splitlines()[-1]
    headers = {"Authorization": f"Bearer {token}"}
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request("POST", "/api/v1/audit/checkpoints", headers=headers)
        made = connection.getresponse()
        assert made.status == 201, made.read()
        made.read()
        connection.request("GET", "/api/v1/audit/checkpoint", headers=headers)
        served = connection.getresponse()
        note = served.read().decode()
    finally:
        connection.close()
    assert served.status == 200, note
    assert note.startswith("127.0.0.1:8000/audit\n")
    assert "\n— 127.0.0.1:8000/audit " in note
