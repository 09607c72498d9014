"""The audit log's note key (c2sp.org/signed-note): an Ed25519 signer named exactly the log's
origin, kept in the instance folder, rotatable.

`audit-log-key` holds the signer key string (`PRIVATE+KEY+<origin>+<key ID>+…`, mode 0600),
created once like the other keys. `broker keys rotate-log` makes a new one (for the origin in
force, so a changed origin is taken up by a rotation) and appends the old key's verifier key to
`audit-log-keys-retired`, one vkey a line, never removed: a checkpoint signed before the
rotation keeps verifying with `verifiers()`.
"""

from __future__ import annotations

import fcntl
import os
import threading
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from audit.tlog import (
    Ed25519Signer,
    Ed25519Verifier,
    KeyFormatError,
    generate_signer_key,
    is_valid_key_name,
    parse_signer_key,
    parse_verifier_key,
)

from .keys import _create_once, _replace

__all__ = ["LOG_KEY", "LOG_KEYS_RETIRED", "LogKey", "LogKeyError", "log_origin"]

LOG_KEY = "audit-log-key"
LOG_KEYS_RETIRED = "audit-log-keys-retired"


class LogKeyError(ValueError):
    """The log key cannot be used: what is wrong and what to do, in words."""


def log_origin(configured: object, issuer: str) -> str:
    """The log's origin: the configured one, else the issuer's host[:port] + "/audit"
    (schema-less, as c2sp.org/tlog-checkpoint asks). ValueError naming what is wrong."""
    if configured:
        origin = str(configured).strip()
    else:
        parts = urllib.parse.urlsplit(issuer)
        host = parts.netloc.rpartition("@")[2].lower()
        if not host:
            raise ValueError(f"BROKER_ISSUER {issuer!r} has no host to name the log by")
        origin = f"{host}/audit"
    if "://" in origin or not is_valid_key_name(origin):
        raise ValueError(
            f"BROKER_LOG_ORIGIN {origin!r} is not a log origin: a schema-less URL without"
            " spaces, '+' or control characters (e.g. broker.example/audit)"
        )
    return origin


class LogKey:
    """The log key of the instance folder for `origin`; re-read when a rotation replaced it."""

    def __init__(self, folder: Path, origin: str) -> None:
        self.folder = folder
        self.origin = origin
        self._lock = threading.Lock()
        self._seen: object = None
        self._signer: Ed25519Signer | None = None

    @property
    def path(self) -> Path:
        return self.folder / LOG_KEY

    def ensure(self) -> None:
        """Create the key (named the origin) unless the instance folder holds one."""
        _create_once(self.path, lambda: (generate_signer_key(self.origin)[0] + "\n").encode())

    def _read(self) -> Ed25519Signer:
        self.ensure()
        try:
            signer = parse_signer_key(self.path.read_text("utf-8").strip())
        except (KeyFormatError, UnicodeDecodeError) as exc:
            raise LogKeyError(f"{self.path} does not hold a signer key: {exc}") from None
        if signer.name != self.origin:
            raise LogKeyError(
                f"the log key in {self.path} is named {signer.name!r}, not the log's origin"
                f" {self.origin!r}: run `broker keys rotate-log` to make a key for the origin"
            )
        return signer

    def signer(self) -> Ed25519Signer:
        """The key that signs checkpoints now (LogKeyError when it is not the origin's)."""
        with self._lock:
            try:
                st = self.path.stat()
                stamp: object = (st.st_ino, st.st_mtime_ns, st.st_size)
            except FileNotFoundError:
                stamp = None
            if self._signer is None or stamp != self._seen or stamp is None:
                self._signer = self._read()
                self._seen = stamp
            return self._signer

    def retired(self) -> list[Ed25519Verifier]:
        """The verifier keys of earlier log keys, oldest first."""
        try:
            lines = (self.folder / LOG_KEYS_RETIRED).read_text("utf-8").splitlines()
        except FileNotFoundError:
            return []
        return [parse_verifier_key(line.strip()) for line in lines if line.strip()]

    def verifiers(self) -> list[Ed25519Verifier]:
        """The current key's verifier and every retired one (old checkpoints keep verifying)."""
        current = self.signer().verifier
        return [current, *(v for v in self.retired() if v.key_id != current.key_id)]

    @contextmanager
    def _exclusive(self) -> Iterator[None]:
        self.folder.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.folder / f".{LOG_KEY}.lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)

    def rotate(self) -> tuple[str, str | None]:
        """A new key for the origin; the old one's vkey is kept among the retired ones first
        (a process reading in between verifies with both). Returns (new vkey, old vkey)."""
        with self._exclusive():
            old: str | None = None
            try:
                old = parse_signer_key(self.path.read_text("utf-8").strip()).verifier.vkey
            except FileNotFoundError:
                pass
            except (KeyFormatError, UnicodeDecodeError) as exc:
                raise LogKeyError(f"{self.path} does not hold a signer key: {exc}") from None
            if old is not None:
                kept = [v.vkey for v in self.retired()]
                if old not in kept:
                    content = "".join(f"{line}\n" for line in (*kept, old)).encode()
                    _replace(self.folder / LOG_KEYS_RETIRED, content)
            skey, vkey = generate_signer_key(self.origin)
            _replace(self.path, (skey + "\n").encode())
        with self._lock:
            self._signer = None
        return vkey, old
