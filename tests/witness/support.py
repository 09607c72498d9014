"""What the witness's tests share: a log made from the pure tlog code, and real HTTP.

`FakeLog` is the log's side (c2sp.org/tlog-witness from the client's end): its records in a
`MemoryHashStore`, checkpoints signed by its own Ed25519 key, add-checkpoint bodies built by
`format_add_checkpoint`, and `rewritten` — the attack: one record changed, the whole tree
recomputed, and the result signed again with the same key. `served` runs a WSGI app on a free
port in a thread (Werkzeug's server); `post` and `get` speak plain HTTP to it.
"""

from __future__ import annotations

import contextlib
import http.client
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from werkzeug.serving import make_server

from audit.tlog import (
    Ed25519Signer,
    LogCheckpoint,
    MemoryHashStore,
    format_add_checkpoint,
    sign_log_checkpoint,
)

ORIGIN = "broker.example/audit"
WITNESS_NAME = "witness.partner.example/w1"
NOW = 1_760_000_000


def record(seq: int, salt: str = "") -> bytes:
    """The canonical bytes of record `seq` of the test log (salt: a rewritten one)."""
    return f"record {seq}: access by party {seq % 7}{salt}".encode()


class FakeLog:
    """A log of `size` records with its own key; checkpoints and requests at any size."""

    def __init__(self, size: int, key: Ed25519Signer | None = None, origin: str = ORIGIN) -> None:
        self.origin = origin
        self.key = key or Ed25519Signer(origin, Ed25519PrivateKey.generate())
        self.entries = [record(seq) for seq in range(1, size + 1)]
        self.store = MemoryHashStore(self.entries)

    @property
    def vkey(self) -> str:
        """The log's verifier key string (what `broker audit vkey` prints)."""
        return self.key.verifier.vkey

    @property
    def size(self) -> int:
        """How many records the log holds."""
        return self.store.size

    def grow(self, count: int) -> None:
        """Append `count` records."""
        for _ in range(count):
            self.entries.append(record(self.store.size + 1))
            self.store.append(self.entries[-1])

    def checkpoint(self, size: int | None = None) -> bytes:
        """The signed checkpoint of the first `size` records (all by default)."""
        size = self.store.size if size is None else size
        head = LogCheckpoint(self.origin, size, self.store.root(size))
        return sign_log_checkpoint(head, [self.key])

    def request(self, old: int, size: int | None = None) -> bytes:
        """An honest add-checkpoint body from `old` to `size`, with its consistency proof."""
        new = self.store.size if size is None else size
        proof = self.store.consistency_proof(old, new)
        return format_add_checkpoint(old, proof, self.checkpoint(new))

    def rewritten(self, seq: int, extra: int = 0) -> FakeLog:
        """The attack: record `seq` changed, `extra` records appended, every hash recomputed,
        and the result signed again with this log's own key."""
        other = FakeLog(0, self.key, self.origin)
        for at, entry in enumerate(self.entries, start=1):
            other.entries.append(record(at, " (rewritten)") if at == seq else entry)
            other.store.append(other.entries[-1])
        other.grow(extra)
        return other


@dataclass(frozen=True)
class Answer:
    """An HTTP answer: status, Content-Type and body."""

    status: int
    content_type: str
    body: bytes


def _request(url: str, method: str, path: str, body: bytes | None = None) -> Answer:
    host, _, port = url.removeprefix("http://").partition(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=30)
    try:
        connection.request(method, path, body=body)
        response = connection.getresponse()
        return Answer(response.status, response.getheader("Content-Type") or "", response.read())
    finally:
        connection.close()


def post(url: str, body: bytes, path: str = "/add-checkpoint") -> Answer:
    """POST `body` to the witness at `url`."""
    return _request(url, "POST", path, body)


def get(url: str, path: str) -> Answer:
    """GET `path` from the server at `url`."""
    return _request(url, "GET", path)


def free_port() -> int:
    """A TCP port on 127.0.0.1 nobody listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def served(app: Any) -> Iterator[str]:
    """Serve the WSGI `app` on a free port in a thread (threaded: requests run side by side)."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
