"""`broker witness verify`: a partner's own check against a broker — here a small fake broker
made from the pure tlog code, serving the two endpoints the check reads:

    GET /api/v1/audit/checkpoint                      text/plain, cosignatures appended
    GET /api/v1/audit/proofs/consistency?old=M&new=N  {"old_size", "new_size", "proof"}

It says the log only grew (exit 0) for an honest broker, and for anything else exits 1 with
the reason on its last line — a rewritten history, a broker that is down, answers 4xx/5xx or
bad JSON, an untrusted signature, a forged cosignature — never with a traceback.
"""

from __future__ import annotations

import base64
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from flask import Flask, Response, jsonify, request

import broker.main
from audit.tlog import Ed25519Signer
from tests.witness.support import ORIGIN, FakeLog, free_port, served
from witness import StateDir, Witness

PROBLEM = "application/problem+json"


class FakeBroker:
    """The broker's audit endpoints over `log`; `cosignatures[size]` are appended to the
    checkpoint at that size; `answers[path]` replaces an endpoint's answer; `token`, when
    set, is required as a bearer token."""

    def __init__(self, log: FakeLog, token: str | None = None) -> None:
        self.log = log
        self.token = token
        self.cosignatures: dict[int, bytes] = {}
        self.answers: dict[str, tuple[int, str, bytes]] = {}
        self.asked: list[str] = []

    def app(self) -> Flask:
        """The WSGI app."""
        app = Flask("fake-broker")

        @app.before_request
        def gate() -> Any:
            self.asked.append(request.full_path)
            if self.token and request.headers.get("Authorization") != f"Bearer {self.token}":
                problem = {"title": "Unauthorized", "detail": "a bearer token is needed"}
                return Response(json.dumps(problem), 401, {"Content-Type": PROBLEM})
            if request.path in self.answers:
                status, content_type, body = self.answers[request.path]
                headers = {"Content-Type": content_type}
                if status in (301, 302, 307, 308):
                    headers["Location"] = "/moved"  # where the checkpoint would be found
                return Response(body, status, headers)
            return None

        @app.get("/moved")
        @app.get("/api/v1/audit/checkpoint")
        def checkpoint() -> Response:
            size = self.log.size
            note = self.log.checkpoint() + self.cosignatures.get(size, b"")
            return Response(note, 200, {"Content-Type": "text/plain; charset=utf-8"})

        @app.get("/api/v1/audit/proofs/consistency")
        def consistency() -> Response:
            old, new = int(request.args["old"]), int(request.args["new"])
            proof = self.log.store.consistency_proof(old, new)
            hashes = [base64.b64encode(h).decode() for h in proof]
            return jsonify({"old_size": old, "new_size": new, "proof": hashes})

        return app


@pytest.fixture
def cosigned(witness_dir: StateDir, log: FakeLog) -> bytes:
    """The witness has cosigned the log at size 20; its cosignature lines."""
    answer = Witness(witness_dir).add_checkpoint(log.request(0, 20))
    assert answer.status == 200
    return answer.body


@pytest.fixture
def fake_broker(log: FakeLog) -> Iterator[tuple[FakeBroker, str]]:
    """A fake broker over `log`, served; the broker and its URL."""
    broker = FakeBroker(log)
    with served(broker.app()) as url:
        yield broker, url


def verify(store: StateDir, url: str, *extra: str) -> Result:
    """Run `broker witness verify` through the broker's own command group."""
    args = ["witness", "verify", "--state", str(store.path), "--url", url, *extra]
    return CliRunner().invoke(broker.main.cli, args)


def _no_crash(result: Result) -> list[str]:
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    assert "Traceback" not in result.output
    return result.output.strip().splitlines()


def test_a_log_that_only_grew(
    witness_dir: StateDir, log: FakeLog, cosigned: bytes, fake_broker: tuple[FakeBroker, str]
) -> None:
    """Cosigned at 20, the broker at 30: the proof 20 → 30 verifies against the witness's
    own root; exit 0 saying the 20 records are unchanged and 10 were added."""
    broker, url = fake_broker
    log.grow(10)
    result = verify(witness_dir, url)
    lines = _no_crash(result)
    assert result.exit_code == 0, result.output
    assert "consistency proof 20 → 30: verifies" in result.output
    assert "has not cosigned this checkpoint" in result.output
    assert lines[-1] == (
        "OK: the log only grew: the 20 records this witness cosigned are unchanged,"
        " 10 were added (size 30)"
    )
    assert "/api/v1/audit/proofs/consistency?old=20&new=30" in broker.asked


def test_a_log_that_did_not_change_with_our_cosignature(
    witness_dir: StateDir, log: FakeLog, cosigned: bytes, fake_broker: tuple[FakeBroker, str]
) -> None:
    """At the size cosigned, with the witness's cosignature served: it verifies, exit 0."""
    broker, url = fake_broker
    broker.cosignatures[20] = cosigned
    result = verify(witness_dir, url)
    lines = _no_crash(result)
    assert result.exit_code == 0
    assert any(line.startswith("this witness's cosignature on it verifies") for line in lines)
    assert lines[-1].startswith("OK: the log did not change")


def test_a_rewritten_history_is_found(
    witness_dir: StateDir, log: FakeLog, cosigned: bytes, fake_broker: tuple[FakeBroker, str]
) -> None:
    """Record 10 rewritten, 10 records added, all recomputed and signed with the log's key:
    the broker's own consistency proof fails against the witness's root; exit 1, saying so."""
    broker, url = fake_broker
    broker.log = log.rewritten(10, extra=10)
    result = verify(witness_dir, url)
    lines = _no_crash(result)
    assert result.exit_code == 1
    assert lines[-1].startswith(
        "FAILED: the consistency proof from size 20 to 30 does not verify against the root"
        " this witness cosigned at size 20"
    )


def test_a_rewrite_at_the_same_size_is_found(
    witness_dir: StateDir, log: FakeLog, cosigned: bytes, fake_broker: tuple[FakeBroker, str]
) -> None:
    """Record 10 rewritten, nothing added: another root at size 20; exit 1."""
    broker, url = fake_broker
    broker.log = log.rewritten(10)
    result = verify(witness_dir, url)
    lines = _no_crash(result)
    assert result.exit_code == 1
    assert lines[-1].startswith("FAILED: at size 20 the broker's root is")
    assert lines[-1].endswith("the log's history was rewritten")


def test_a_shorter_log_is_found(
    witness_dir: StateDir, log: FakeLog, cosigned: bytes, fake_broker: tuple[FakeBroker, str]
) -> None:
    """The broker shows 15 records after the witness cosigned 20: exit 1."""
    broker, url = fake_broker
    broker.log = FakeLog(15, log.key)
    lines = _no_crash(result := verify(witness_dir, url))
    assert result.exit_code == 1
    assert "size 15, below the size 20" in lines[-1]


def test_a_forged_cosignature_in_our_name_is_found(
    witness_dir: StateDir, log: FakeLog, cosigned: bytes, fake_broker: tuple[FakeBroker, str]
) -> None:
    """A cosignature line in the witness's name and key ID that does not verify: exit 1."""
    broker, url = fake_broker
    name, encoded = cosigned.decode().removeprefix("— ").split(" ")
    data = bytearray(base64.b64decode(encoded))
    data[-1] ^= 1
    broker.cosignatures[20] = f"— {name} {base64.b64encode(bytes(data)).decode()}\n".encode()
    lines = _no_crash(result := verify(witness_dir, url))
    assert result.exit_code == 1
    assert "this witness did not make" in lines[-1]


def test_a_checkpoint_without_the_trusted_signature_is_refused(
    witness_dir: StateDir, log: FakeLog, cosigned: bytes, fake_broker: tuple[FakeBroker, str]
) -> None:
    """The same origin signed by a key the witness does not trust: exit 1, nothing compared."""
    broker, url = fake_broker
    broker.log = FakeLog(30, Ed25519Signer(ORIGIN, Ed25519PrivateKey.generate()))
    lines = _no_crash(result := verify(witness_dir, url))
    assert result.exit_code == 1
    assert lines[-1] == f"FAILED: no signature on the checkpoint is by a trusted key of {ORIGIN}"
    assert not any("consistency" in asked for asked in broker.asked)


def test_a_witness_that_never_cosigned_cannot_tell(
    witness_dir: StateDir, log: FakeLog, fake_broker: tuple[FakeBroker, str]
) -> None:
    """Before any cosignature there is nothing to compare: exit 1 saying it cannot tell."""
    _, url = fake_broker
    lines = _no_crash(result := verify(witness_dir, url))
    assert result.exit_code == 1
    assert lines[-1].startswith("FAILED: cannot tell")


@pytest.mark.parametrize(
    ("path", "answer", "says"),
    [
        ("/api/v1/audit/checkpoint", (500, "text/plain", b"boom"), "answered 500"),
        ("/api/v1/audit/checkpoint", (200, "text/plain", b"not a note"), "not a signed note"),
        (
            "/api/v1/audit/checkpoint",
            (302, "text/plain", b""),
            "answered 302 FOUND to '/moved' (redirects are not followed)",
        ),
        ("/api/v1/audit/proofs/consistency", (200, "application/json", b"{"), "not JSON"),
        ("/api/v1/audit/proofs/consistency", (404, "application/json", b"{}"), "answered 404"),
        (
            "/api/v1/audit/proofs/consistency",
            (200, "application/json", b'{"old_size": 10, "new_size": 30, "proof": []}'),
            "for 10 → 30, not 20 → 30",
        ),
        (
            "/api/v1/audit/proofs/consistency",
            (200, "application/json", b'{"old_size": 20, "new_size": 30, "proof": ["x"]}'),
            "not a base64 SHA-256 hash",
        ),
    ],
)
def test_a_broker_that_answers_badly_is_a_finding(
    witness_dir: StateDir,
    log: FakeLog,
    cosigned: bytes,
    fake_broker: tuple[FakeBroker, str],
    path: str,
    answer: tuple[int, str, bytes],
    says: str,
) -> None:
    """A 4xx/5xx, a redirect (not followed, though it leads to the checkpoint), a body that
    does not parse, or a proof for other sizes: exit 1 naming what was asked and what came
    back."""
    broker, url = fake_broker
    log.grow(10)
    broker.answers[path] = answer
    lines = _no_crash(result := verify(witness_dir, url))
    assert result.exit_code == 1
    assert lines[-1].startswith("FAILED: ") and says in lines[-1], lines[-1]


def test_a_token_is_sent_when_given(witness_dir: StateDir, log: FakeLog, cosigned: bytes) -> None:
    """A broker that wants a bearer token: without one, exit 1 with its 401 and problem
    title; with --token, exit 0."""
    broker = FakeBroker(log, token="partner-token")
    log.grow(3)
    with served(broker.app()) as url:
        refused = verify(witness_dir, url)
        lines = _no_crash(refused)
        assert refused.exit_code == 1
        assert "answered 401 UNAUTHORIZED (Unauthorized: a bearer token is needed)" in lines[-1]
        allowed = verify(witness_dir, url, "--token", "partner-token")
        assert allowed.exit_code == 0, allowed.output
        assert "partner-token" not in allowed.output + refused.output


@pytest.mark.parametrize("url", ["file:///etc/passwd", "broker.example", "ftp://broker.example"])
def test_only_http_addresses_are_asked(witness_dir: StateDir, cosigned: bytes, url: str) -> None:
    """Anything but an http(s) URL is refused before anything is fetched: exit 1."""
    lines = _no_crash(result := verify(witness_dir, url))
    assert result.exit_code == 1
    assert "is not a broker's address" in lines[-1]


def test_a_broker_that_is_down_is_a_finding_not_a_crash(
    witness_dir: StateDir, cosigned: bytes
) -> None:
    """Nobody listens at the broker's address: the console script exits 1 with the reason on
    its last line and no traceback."""
    url = f"http://127.0.0.1:{free_port()}"
    command = [str(Path(sys.executable).parent / "broker"), "witness", "verify"]
    result = subprocess.run(
        [*command, "--state", str(witness_dir.path), "--url", url, "--timeout", "5"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert "Traceback" not in result.stdout + result.stderr
    last = result.stdout.strip().splitlines()[-1]
    assert last.startswith("FAILED: the checkpoint: the broker cannot be reached at")
    assert "Connection refused" in last


def test_verify_needs_no_broker_app(
    monkeypatch: pytest.MonkeyPatch, witness_dir: StateDir, cosigned: bytes, log: FakeLog
) -> None:
    """The witness's commands run through `broker` without building the broker's app."""

    def no_app(*_args: Any, **_kwargs: Any) -> Flask:
        raise AssertionError("the witness must not build the broker's app")

    monkeypatch.setattr(broker.main, "create_app", no_app)
    fake = FakeBroker(log)
    with served(fake.app()) as url:
        result = verify(witness_dir, url)
    assert result.exit_code == 0, result.output
    assert result.output.strip().splitlines()[-1].startswith("OK: the log did not change")
