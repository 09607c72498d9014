"""Secrets kept in the instance folder: created once, atomically, then read by every process."""

from __future__ import annotations

import fcntl
import json
import os
import secrets
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from joserfc.jwk import ECKey

from audit import generate_signing_key, load_private_key, private_key_to_pem

__all__ = ["KeyRing", "TokenKeys", "audit_signing_key", "instance_secret", "signing_key"]


def _create_once(path: Path, make: Callable[[], bytes]) -> bytes:
    """Write `make()` to `path` unless it exists; a racing process reads the winner's file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        for _ in range(50):
            data = path.read_bytes()
            if data:
                return data
            os.sched_yield()
        raise RuntimeError(f"secret file {path} is empty") from None
    content = make()
    with os.fdopen(fd, "wb") as handle:
        handle.write(content)
        handle.flush()
        os.fsync(handle.fileno())
    return content


def instance_secret(folder: Path, name: str, nbytes: int = 32) -> bytes:
    """A random secret stored (hex) in the instance folder, created on first use."""
    data = _create_once(folder / name, lambda: secrets.token_hex(nbytes).encode())
    return bytes.fromhex(data.decode().strip())


SIGNING_KEY = "token-signing-key.json"
RETIRED_KEYS = "token-signing-keys-retired.json"


def _new_token_key() -> ECKey:
    return ECKey.generate_key("P-256", parameters={"use": "sig", "alg": "ES256"}, auto_kid=True)


def signing_key(folder: Path, name: str = SIGNING_KEY) -> ECKey:
    """The broker's token signing key (P-256, with a kid), created on first use."""

    def make() -> bytes:
        return json.dumps(_new_token_key().as_dict(private=True)).encode()

    return ECKey.import_key(json.loads(_create_once(folder / name, make)))


def _replace(path: Path, content: bytes) -> None:
    """Write `path` atomically: a private temporary file, synced, then renamed over it."""
    temporary = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(content)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)


@dataclass(frozen=True)
class TokenKeys:
    """The token keys in force: one that signs, and retired public keys that still verify."""

    current: ECKey
    retired: tuple[ECKey, ...]


@dataclass(frozen=True)
class RetiredKey:
    """A public key that signed tokens until `retired_at` (Unix time)."""

    key: ECKey
    retired_at: int


class KeyRing:
    """The token signing keys of the instance folder, rotatable.

    `token-signing-key.json` holds the current private key; `token-signing-keys-retired.json`
    the public halves of earlier keys with the time each was retired. A retired key verifies
    for `keep_for` seconds after its retirement (the longest a token it signed can live, plus
    clock skew), then it is left out and dropped at the next rotation. Every process re-reads
    the files when a rotation has replaced them, so `broker keys rotate` needs no restart.
    """

    def __init__(
        self, folder: Path, *, keep_for: int, clock: Callable[[], float] = time.time
    ) -> None:
        self.folder = folder
        self.keep_for = keep_for
        self.clock = clock
        self._lock = threading.Lock()
        self._seen: tuple[object, ...] | None = None
        self._loaded: tuple[ECKey, tuple[RetiredKey, ...]] | None = None
        self._keys: TokenKeys | None = None
        self._valid_until = 0.0

    def _stamp(self) -> tuple[object, ...]:
        stamp: list[object] = []
        for name in (SIGNING_KEY, RETIRED_KEYS):
            try:
                st = (self.folder / name).stat()
                stamp.append((st.st_ino, st.st_mtime_ns, st.st_size))
            except FileNotFoundError:
                stamp.append(None)
        return tuple(stamp)

    def _read_retired(self) -> list[RetiredKey]:
        try:
            data = json.loads((self.folder / RETIRED_KEYS).read_bytes())
        except FileNotFoundError:
            return []
        return [
            RetiredKey(ECKey.import_key(item["key"]), int(item["retired_at"]))
            for item in data.get("retired", [])
        ]

    def keys(self) -> TokenKeys:
        """The keys in force now (re-read when the files changed or a retired key lapsed)."""
        now = self.clock()
        with self._lock:
            stamp = self._stamp()
            if self._keys is not None and stamp == self._seen and now < self._valid_until:
                return self._keys
            if self._loaded is None or stamp != self._seen:
                current = signing_key(self.folder)
                self._loaded = (current, tuple(self._read_retired()))
                self._seen = stamp  # as before reading: a change meanwhile is read next time
            current, retired = self._loaded
            alive = [
                r
                for r in retired
                if r.retired_at + self.keep_for > now and r.key.kid != current.kid
            ]
            self._valid_until = min(
                (r.retired_at + self.keep_for for r in alive), default=float("inf")
            )
            self._keys = TokenKeys(current, tuple(r.key for r in alive))
            return self._keys

    def retired(self) -> list[RetiredKey]:
        """Every retired key on file, also those that no longer verify."""
        return self._read_retired()

    @contextmanager
    def _exclusive(self) -> Iterator[None]:
        self.folder.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.folder / ".token-signing-key.lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)

    def rotate(self) -> tuple[ECKey, ECKey]:
        """Make a new signing key; the old one verifies on for `keep_for` seconds.

        Returns (new key, retired key). The retired list is written before the new key, so a
        process that reads in between sees the old key twice, never a token it cannot verify.
        """
        with self._exclusive():
            now = int(self.clock())
            old = signing_key(self.folder)
            kept = [r for r in self._read_retired() if r.retired_at + self.keep_for > now] + [
                RetiredKey(ECKey.import_key(old.as_dict(private=False)), now)
            ]
            retired = {
                "retired": [
                    {"retired_at": r.retired_at, "key": dict(r.key.as_dict(private=False))}
                    for r in kept
                ]
            }
            _replace(self.folder / RETIRED_KEYS, json.dumps(retired, indent=1).encode())
            new = _new_token_key()
            _replace(self.folder / SIGNING_KEY, json.dumps(new.as_dict(private=True)).encode())
        return new, old


def audit_signing_key(folder: Path, name: str = "audit-signing-key.pem") -> Ed25519PrivateKey:
    """The Ed25519 key that signs audit checkpoints, created on first use."""
    data = _create_once(folder / name, lambda: private_key_to_pem(generate_signing_key()))
    return load_private_key(data)
