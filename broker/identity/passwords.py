"""Passwords and client secrets: stored only as hashes, compared in constant time.

A person's password is hashed with scrypt (RFC 7914) and a random salt of its own; the stored
form names its parameters (`scrypt$N$r$p$salt$hash`), so they can be raised later without
invalidating what is stored. A client secret is 256 random bits made by the broker, so a
fast hash (SHA-256) is as good as a slow one there.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from functools import cache

__all__ = [
    "MIN_PASSWORD_LENGTH",
    "hash_password",
    "hash_secret",
    "new_secret",
    "verify_password",
    "verify_secret",
]

MIN_PASSWORD_LENGTH = 12
_N, _R, _P = 2**15, 8, 1  # about 32 MiB and 0.1 s per hash
_MAXMEM = 64 * 1024 * 1024
_DKLEN = 32


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _scrypt(password: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(password.encode(), salt=salt, n=n, r=r, p=p, maxmem=_MAXMEM, dklen=_DKLEN)


def hash_password(password: str) -> str:
    """The stored form of `password`: scrypt with a fresh 16-byte salt."""
    salt = secrets.token_bytes(16)
    digest = _scrypt(password, salt, _N, _R, _P)
    return f"scrypt${_N}${_R}${_P}${_b64(salt)}${_b64(digest)}"


@cache
def _dummy() -> str:
    """A hash to compare against when there is none, so that an unknown username costs as
    much time as a wrong password (no account enumeration by timing)."""
    return hash_password(secrets.token_urlsafe(16))


def verify_password(password: str, stored: str | None) -> bool:
    """Whether `password` matches the stored hash; False (after the same work) when none."""
    try:
        scheme, n, r, p, salt, digest = (stored or _dummy()).split("$")
        if scheme != "scrypt":
            return False
        actual = _scrypt(password, _unb64(salt), int(n), int(r), int(p))
    except (ValueError, TypeError):
        return False
    return stored is not None and hmac.compare_digest(actual, _unb64(digest))


def new_secret() -> str:
    """A new client secret: 256 random bits, URL-safe."""
    return secrets.token_urlsafe(32)


def hash_secret(secret: str) -> str:
    """The stored form of a client secret."""
    return "sha256$" + hashlib.sha256(secret.encode()).hexdigest()


def verify_secret(secret: str, stored: str | None) -> bool:
    """Whether `secret` matches the stored hash, compared in constant time."""
    if not stored or not stored.startswith("sha256$"):
        return False
    return hmac.compare_digest(hash_secret(secret), stored)
