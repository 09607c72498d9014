"""Signed checkpoints: an Ed25519 signature over (seq, head hash, time, key id).

A checkpoint kept outside the database (exported as JSON, printed, mailed to the privacy
officer) pins the chain: a truncated log, or one rewritten and rehashed from some record on,
no longer reaches the hash the checkpoint names. A checkpoint also anchors the log's new start
after a retention purge. Keys are passed in as objects, bytes or paths; nothing is global.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

from .errors import CheckpointError

__all__ = [
    "CHECKPOINT_DOMAIN",
    "Checkpoint",
    "checkpoint_from_json",
    "checkpoint_payload",
    "checkpoint_to_json",
    "generate_signing_key",
    "key_id",
    "load_private_key",
    "load_private_key_file",
    "load_public_key",
    "load_public_key_file",
    "private_key_to_pem",
    "public_key_to_pem",
    "sign_checkpoint",
    "verify_checkpoint",
]

CHECKPOINT_DOMAIN: Final = b"multiteam.audit.checkpoint.v1\n"
_FORMAT: Final = "multiteam.audit.checkpoint.v1"
_HEX64 = re.compile(r"[0-9a-f]{64}")
_KEY_ID = re.compile(r"ed25519:[0-9a-f]{16}")
_SIGNATURE = re.compile(r"[0-9a-f]{128}")


def _time_text(time: datetime) -> str:
    return time.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """The chain's head at `seq` (hash `head_hash`), signed at `time` by key `key_id`."""

    seq: int
    head_hash: str
    time: datetime
    key_id: str
    signature: str

    def __post_init__(self) -> None:
        if not isinstance(self.seq, int) or isinstance(self.seq, bool) or self.seq < 0:
            raise CheckpointError(f"checkpoint seq must be an int >= 0, not {self.seq!r}")
        if not isinstance(self.head_hash, str) or _HEX64.fullmatch(self.head_hash) is None:
            raise CheckpointError("checkpoint head_hash must be 64 lower-case hex digits")
        if not isinstance(self.time, datetime) or self.time.utcoffset() is None:
            raise CheckpointError("checkpoint time must be a timezone-aware datetime")
        object.__setattr__(self, "time", self.time.astimezone(UTC))
        if not isinstance(self.key_id, str) or _KEY_ID.fullmatch(self.key_id) is None:
            raise CheckpointError("checkpoint key_id must look like 'ed25519:<16 hex digits>'")
        if not isinstance(self.signature, str) or _SIGNATURE.fullmatch(self.signature) is None:
            raise CheckpointError("checkpoint signature must be 128 lower-case hex digits")

    @property
    def payload(self) -> bytes:
        """The bytes the signature covers."""
        return checkpoint_payload(self.seq, self.head_hash, self.time, self.key_id)


def checkpoint_payload(seq: int, head_hash: str, time: datetime, key_id: str) -> bytes:
    """Canonical, domain-separated bytes of a checkpoint (compact sorted-key JSON)."""
    document = {"head_hash": head_hash, "key_id": key_id, "seq": seq, "time": _time_text(time)}
    text = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return CHECKPOINT_DOMAIN + text.encode("ascii")


def key_id(public_key: Ed25519PublicKey) -> str:
    """A short stable id of a public key: 'ed25519:' + the first 16 hex of SHA-256(raw key)."""
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return "ed25519:" + hashlib.sha256(raw).hexdigest()[:16]


def sign_checkpoint(
    private_key: Ed25519PrivateKey, seq: int, head_hash: str, time: datetime | None = None
) -> Checkpoint:
    """Sign the head (`seq`, `head_hash`) with `private_key`; `time` defaults to now (UTC)."""
    when = (time or datetime.now(UTC)).astimezone(UTC)
    kid = key_id(private_key.public_key())
    signature = private_key.sign(checkpoint_payload(seq, head_hash, when, kid)).hex()
    return Checkpoint(seq=seq, head_hash=head_hash, time=when, key_id=kid, signature=signature)


def verify_checkpoint(
    checkpoint: Checkpoint, public_key: Ed25519PublicKey | Iterable[Ed25519PublicKey]
) -> bool:
    """Whether the checkpoint is signed by (one of) the given key(s) under its own key id."""
    keys = [public_key] if isinstance(public_key, Ed25519PublicKey) else list(public_key)
    for key in keys:
        if key_id(key) != checkpoint.key_id:
            continue
        try:
            key.verify(bytes.fromhex(checkpoint.signature), checkpoint.payload)
        except InvalidSignature:
            return False
        return True
    return False


def checkpoint_to_json(checkpoint: Checkpoint) -> str:
    """Export a checkpoint as a small, self-describing JSON document."""
    return json.dumps(
        {
            "format": _FORMAT,
            "seq": checkpoint.seq,
            "head_hash": checkpoint.head_hash,
            "time": _time_text(checkpoint.time),
            "key_id": checkpoint.key_id,
            "signature": checkpoint.signature,
        },
        sort_keys=True,
        indent=2,
    )


def checkpoint_from_json(text: str | bytes) -> Checkpoint:
    """Import a checkpoint exported by `checkpoint_to_json`; raise CheckpointError if malformed.

    The signature is not checked here; `verify_checkpoint` (or `verify`) does that.
    """
    try:
        document: Any = json.loads(text)
    except (ValueError, UnicodeDecodeError) as exc:
        raise CheckpointError(f"checkpoint is not JSON: {exc}") from None
    if not isinstance(document, Mapping) or document.get("format") != _FORMAT:
        raise CheckpointError(f"checkpoint must be a JSON object with format {_FORMAT!r}")
    try:
        time = datetime.fromisoformat(str(document["time"]))
        return Checkpoint(
            seq=document["seq"],
            head_hash=document["head_hash"],
            time=time,
            key_id=document["key_id"],
            signature=document["signature"],
        )
    except KeyError as exc:
        raise CheckpointError(f"checkpoint lacks {exc.args[0]!r}") from None
    except ValueError as exc:
        raise CheckpointError(f"checkpoint time is not ISO 8601: {exc}") from None


def generate_signing_key() -> Ed25519PrivateKey:
    """A new random Ed25519 signing key."""
    return Ed25519PrivateKey.generate()


def private_key_to_pem(private_key: Ed25519PrivateKey, password: bytes | None = None) -> bytes:
    """PKCS#8 PEM of the key, encrypted with `password` when one is given."""
    encryption: serialization.KeySerializationEncryption = (
        serialization.BestAvailableEncryption(password)
        if password
        else serialization.NoEncryption()
    )
    return private_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption
    )


def public_key_to_pem(public_key: Ed25519PublicKey) -> bytes:
    """SubjectPublicKeyInfo PEM of the key."""
    return public_key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def load_private_key(data: bytes, password: bytes | None = None) -> Ed25519PrivateKey:
    """An Ed25519 private key from PEM (PKCS#8) or from its 32 raw bytes."""
    if len(data) == 32 and not data.startswith(b"-----"):
        return Ed25519PrivateKey.from_private_bytes(data)
    try:
        key = serialization.load_pem_private_key(data, password=password)
    except (ValueError, TypeError) as exc:
        raise CheckpointError(f"cannot read the private key: {exc}") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise CheckpointError(f"the private key is {type(key).__name__}, not Ed25519")
    return key


def load_public_key(data: bytes) -> Ed25519PublicKey:
    """An Ed25519 public key from PEM (SubjectPublicKeyInfo) or from its 32 raw bytes."""
    if len(data) == 32 and not data.startswith(b"-----"):
        return Ed25519PublicKey.from_public_bytes(data)
    try:
        key = serialization.load_pem_public_key(data)
    except (ValueError, TypeError) as exc:
        raise CheckpointError(f"cannot read the public key: {exc}") from None
    if not isinstance(key, Ed25519PublicKey):
        raise CheckpointError(f"the public key is {type(key).__name__}, not Ed25519")
    return key


def load_private_key_file(
    path: str | os.PathLike[str], password: bytes | None = None
) -> Ed25519PrivateKey:
    """Read `load_private_key` input from a file."""
    return load_private_key(Path(path).read_bytes(), password)


def load_public_key_file(path: str | os.PathLike[str]) -> Ed25519PublicKey:
    """Read `load_public_key` input from a file."""
    return load_public_key(Path(path).read_bytes())
