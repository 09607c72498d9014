"""Secrets kept in the instance folder: created once, atomically, then read by every process."""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Callable
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from joserfc.jwk import ECKey

from audit import generate_signing_key, load_private_key, private_key_to_pem

__all__ = ["audit_signing_key", "instance_secret", "signing_key"]


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


def signing_key(folder: Path, name: str = "token-signing-key.json") -> ECKey:
    """The broker's token signing key (P-256, with a kid), created on first use."""

    def make() -> bytes:
        key = ECKey.generate_key("P-256", parameters={"use": "sig", "alg": "ES256"}, auto_kid=True)
        return json.dumps(key.as_dict(private=True)).encode()

    return ECKey.import_key(json.loads(_create_once(folder / name, make)))


def audit_signing_key(folder: Path, name: str = "audit-signing-key.pem") -> Ed25519PrivateKey:
    """The Ed25519 key that signs audit checkpoints, created on first use."""
    data = _create_once(folder / name, lambda: private_key_to_pem(generate_signing_key()))
    return load_private_key(data)
