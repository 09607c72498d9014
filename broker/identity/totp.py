"""Time-based one-time passwords (RFC 6238): HMAC-SHA-1, 6 digits, 30-second steps.

Pure functions over a base32 secret and a time in seconds; the caller passes the time in (a
controllable clock for tests) and keeps the last accepted step, so no code is used twice.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import struct
from urllib.parse import quote, urlencode

__all__ = [
    "DIGITS",
    "PERIOD",
    "WINDOW",
    "code_at",
    "matching_step",
    "new_secret",
    "otpauth_uri",
    "step_at",
]

DIGITS = 6
PERIOD = 30  # seconds
WINDOW = 1  # steps accepted either side of the current one (clock drift, slow typing)
SECRET_BYTES = 20  # 160 bits, as RFC 4226 recommends for HMAC-SHA-1


def new_secret() -> str:
    """A fresh random secret, base32 without padding (what authenticator apps accept)."""
    return base64.b32encode(secrets.token_bytes(SECRET_BYTES)).decode().rstrip("=")


def _key(secret: str) -> bytes:
    text = secret.strip().replace(" ", "").upper()
    return base64.b32decode(text + "=" * (-len(text) % 8))


def step_at(seconds: float) -> int:
    """The time step (RFC 6238 T) that `seconds` since the Unix epoch falls in."""
    return int(seconds // PERIOD)


def code_at(secret: str, step: int) -> str:
    """The code for one time step (RFC 4226 HOTP with the step as counter)."""
    digest = hmac.new(_key(secret), struct.pack(">Q", step), hashlib.sha1).digest()
    offset = digest[-1] & 0x0F
    number = struct.unpack(">I", digest[offset : offset + 4])[0] & 0x7FFFFFFF
    return str(number % 10**DIGITS).zfill(DIGITS)


def matching_step(secret: str, code: str, seconds: float) -> int | None:
    """The step within ±WINDOW of `seconds` whose code is `code` (None when none is).

    Every candidate is compared in constant time, and all of them always, so the time taken
    says nothing about which step (if any) matched.
    """
    code = code.strip().replace(" ", "")
    if len(code) != DIGITS or not code.isascii() or not code.isdigit():
        return None
    now = step_at(seconds)
    found = None
    for step in range(now - WINDOW, now + WINDOW + 1):
        if hmac.compare_digest(code_at(secret, step), code) and found is None:
            found = step
    return found


def otpauth_uri(secret: str, account: str, issuer: str) -> str:
    """The otpauth:// URI an authenticator app reads (as a QR code or pasted)."""
    label = quote(f"{issuer}:{account}", safe="")
    query = urlencode(
        {
            "secret": secret,
            "issuer": issuer,
            "algorithm": "SHA1",
            "digits": DIGITS,
            "period": PERIOD,
        }
    )
    return f"otpauth://totp/{label}?{query}"
