"""Witness cosignatures (c2sp.org/tlog-cosignature), the Ed25519 `cosignature/v1` kind.

A cosignature is a note signature (type 0x04) on a checkpoint. Its key ID is
SHA-256(<name> ‖ "\\n" ‖ 0x04 ‖ 32-byte Ed25519 public key)[:4]; its bytes are the 72-byte
`timestamped_signature`: the POSIX time of signing as a big-endian u64 (at most 2**63 − 1),
then the 64-byte Ed25519 signature over

    cosignature/v1
    time <timestamp in ASCII decimal, no leading zeroes>
    <the whole checkpoint note text, extension lines included, final newline included>

Semantically: as of that time, this is the largest consistent tree head the witness has seen
for the origin. The signer here only cosigns text that reads as a checkpoint, and the verifier
only accepts cosignatures on such text. The ML-DSA-44 (`subtree/v1`, type 0x06) kind is not
implemented. The time is passed in (`sign_at`); `sign` reads it from the signer's clock.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Final

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

from .checkpoint import parse_log_checkpoint
from .errors import KeyFormatError, MalformedCheckpointError
from .note import (
    Signature,
    decode_verifier_key,
    ed25519_public_key,
    format_verifier_key,
    is_valid_key_name,
    key_id,
)

__all__ = [
    "COSIGNATURE_HEADER",
    "COSIGNATURE_V1",
    "MAX_TIMESTAMP",
    "CosignatureSigner",
    "CosignatureVerifier",
    "cosignature_message",
    "cosignature_timestamp",
    "parse_cosignature_key",
]

COSIGNATURE_V1: Final = 0x04
COSIGNATURE_HEADER: Final = "cosignature/v1"
MAX_TIMESTAMP: Final = 2**63 - 1
_SIGNATURE_SIZE: Final = 8 + 64


def _raw_public(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def _check_timestamp(timestamp: int) -> None:
    if isinstance(timestamp, bool) or not isinstance(timestamp, int):
        raise ValueError("a cosignature timestamp is an int")
    if not 0 <= timestamp <= MAX_TIMESTAMP:
        raise ValueError(f"a cosignature timestamp is between 0 and {MAX_TIMESTAMP}")


def cosignature_message(timestamp: int, checkpoint_text: str) -> bytes:
    """The bytes a cosignature signs: header line, time line, then the checkpoint's note text.

    Raises MalformedCheckpointError when the text is not a checkpoint.
    """
    _check_timestamp(timestamp)
    parse_log_checkpoint(checkpoint_text)
    return f"{COSIGNATURE_HEADER}\ntime {timestamp}\n{checkpoint_text}".encode()


def cosignature_timestamp(signature: Signature) -> int | None:
    """The time a cosignature line claims, or None when it is not 72 bytes."""
    if len(signature.signature) != _SIGNATURE_SIZE:
        return None
    return int.from_bytes(signature.signature[:8], "big")


@dataclass(frozen=True, slots=True)
class CosignatureVerifier:
    """A witness's cosignature/v1 public key, as a note verifier."""

    name: str
    public_key: Ed25519PublicKey
    key_id: int = field(init=False)

    def __post_init__(self) -> None:
        if not is_valid_key_name(self.name):
            raise KeyFormatError(f"{self.name!r} is not a valid key name")
        raw = _raw_public(self.public_key)
        object.__setattr__(self, "key_id", key_id(self.name, COSIGNATURE_V1, raw))

    @property
    def vkey(self) -> str:
        """This key as a verifier key string (signature type 0x04)."""
        return format_verifier_key(self.name, COSIGNATURE_V1, _raw_public(self.public_key))

    def verify(self, message: bytes, signature: bytes) -> bool:
        """Whether `signature` is a timestamped cosignature/v1 of checkpoint text `message`."""
        if len(signature) != _SIGNATURE_SIZE:
            return False
        timestamp = int.from_bytes(signature[:8], "big")
        try:
            signed = cosignature_message(timestamp, message.decode("utf-8"))
            self.public_key.verify(signature[8:], signed)
        except (ValueError, UnicodeDecodeError, InvalidSignature):
            return False
        return True


@dataclass(frozen=True, slots=True)
class CosignatureSigner:
    """A witness's cosignature/v1 private key, as a note signer (`sign` reads `clock`)."""

    name: str
    private_key: Ed25519PrivateKey
    clock: Callable[[], int] = field(default=lambda: int(time.time()), compare=False)
    key_id: int = field(init=False)

    def __post_init__(self) -> None:
        if not is_valid_key_name(self.name):
            raise KeyFormatError(f"{self.name!r} is not a valid key name")
        raw = _raw_public(self.private_key.public_key())
        object.__setattr__(self, "key_id", key_id(self.name, COSIGNATURE_V1, raw))

    @property
    def verifier(self) -> CosignatureVerifier:
        """The matching verifier."""
        return CosignatureVerifier(self.name, self.private_key.public_key())

    def sign_at(self, message: bytes, timestamp: int) -> bytes:
        """The 72-byte timestamped signature of checkpoint text `message` at `timestamp`.

        Raises MalformedCheckpointError when `message` is not a checkpoint's note text.
        """
        try:
            text = message.decode("utf-8")
        except UnicodeDecodeError as error:
            raise MalformedCheckpointError("a checkpoint is UTF-8") from error
        signed = cosignature_message(timestamp, text)
        return timestamp.to_bytes(8, "big") + self.private_key.sign(signed)

    def sign(self, message: bytes) -> bytes:
        """The timestamped signature of checkpoint text `message`, at the clock's time now."""
        return self.sign_at(message, self.clock())

    def cosign(self, checkpoint_text: str, timestamp: int) -> Signature:
        """The cosignature of a checkpoint's note text at `timestamp`, as a signature line."""
        return Signature(self.name, self.key_id, self.sign_at(checkpoint_text.encode(), timestamp))


def parse_cosignature_key(vkey: str) -> CosignatureVerifier:
    """A cosignature/v1 verifier from its key string (signature type 0x04 only)."""
    decoded = decode_verifier_key(vkey)
    if decoded.signature_type != COSIGNATURE_V1:
        raise KeyFormatError(
            f"verifier key {decoded.name!r} has signature type {decoded.signature_type:#04x},"
            " not cosignature/v1 (0x04)"
        )
    return CosignatureVerifier(decoded.name, ed25519_public_key(decoded.public_key))
