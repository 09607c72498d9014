"""Signed checkpoints: canonical payload, Ed25519 signature, JSON export/import, keys."""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from audit import (
    Checkpoint,
    CheckpointError,
    checkpoint_from_json,
    checkpoint_payload,
    checkpoint_to_json,
    generate_signing_key,
    key_id,
    load_private_key,
    load_private_key_file,
    load_public_key,
    load_public_key_file,
    private_key_to_pem,
    public_key_to_pem,
    sign_checkpoint,
    verify_checkpoint,
)

WHEN = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def test_a_signed_checkpoint_verifies_and_survives_json() -> None:
    """Export then import gives the same checkpoint, still validly signed."""
    key = generate_signing_key()
    cp = sign_checkpoint(key, 42, "ab" * 32, WHEN)
    again = checkpoint_from_json(checkpoint_to_json(cp))
    assert again == cp
    assert verify_checkpoint(again, key.public_key())
    assert cp.key_id == key_id(key.public_key())


def test_the_payload_is_canonical_and_domain_separated() -> None:
    """The signed bytes are a fixed, documented form."""
    payload = checkpoint_payload(7, "00" * 32, WHEN, "ed25519:0123456789abcdef")
    assert payload == (
        b"multiteam.audit.checkpoint.v1\n"
        b'{"head_hash":"' + b"00" * 32 + b'","key_id":"ed25519:0123456789abcdef",'
        b'"seq":7,"time":"2026-03-01T12:00:00.000000Z"}'
    )


@pytest.mark.parametrize("change", ["seq", "head_hash", "time"])
def test_any_change_breaks_the_signature(change: str) -> None:
    """Altering seq, head hash or time of a signed checkpoint is detected."""
    key = generate_signing_key()
    cp = sign_checkpoint(key, 42, "ab" * 32, WHEN)
    other: dict[str, object] = {
        "seq": 43,
        "head_hash": "cd" * 32,
        "time": datetime(2027, 1, 1, tzinfo=UTC),
    }
    altered = dataclasses.replace(cp, **{change: other[change]})  # type: ignore[arg-type]
    assert not verify_checkpoint(altered, key.public_key())


def test_another_key_does_not_verify() -> None:
    """A checkpoint verifies only under the key that signed it."""
    cp = sign_checkpoint(generate_signing_key(), 1, "ab" * 32, WHEN)
    assert not verify_checkpoint(cp, generate_signing_key().public_key())


@pytest.mark.parametrize(
    "text",
    [
        "not json",
        "[]",
        json.dumps({"format": "other"}),
        json.dumps({"format": "multiteam.audit.checkpoint.v1", "seq": 1}),
        json.dumps(
            {
                "format": "multiteam.audit.checkpoint.v1",
                "seq": -1,
                "head_hash": "00" * 32,
                "time": "2026-01-01T00:00:00Z",
                "key_id": "ed25519:0123456789abcdef",
                "signature": "00" * 64,
            }
        ),
        json.dumps(
            {
                "format": "multiteam.audit.checkpoint.v1",
                "seq": 1,
                "head_hash": "00" * 32,
                "time": "2026-01-01T00:00:00",
                "key_id": "ed25519:0123456789abcdef",
                "signature": "00" * 64,
            }
        ),
        json.dumps(
            {
                "format": "multiteam.audit.checkpoint.v1",
                "seq": 1,
                "head_hash": "00" * 32,
                "time": "yesterday",
                "key_id": "ed25519:0123456789abcdef",
                "signature": "00" * 64,
            }
        ),
    ],
)
def test_malformed_checkpoint_documents_are_refused(text: str) -> None:
    """Import refuses anything but a complete, well-formed checkpoint document."""
    with pytest.raises(CheckpointError):
        checkpoint_from_json(text)


def test_keys_round_trip_through_pem_raw_bytes_and_files(tmp_path: Path) -> None:
    """Keys load from PEM (optionally encrypted), raw bytes and files; ids stay the same."""
    key = generate_signing_key()
    kid = key_id(key.public_key())
    pem = private_key_to_pem(key)
    encrypted = private_key_to_pem(key, b"s3cret")
    (tmp_path / "key.pem").write_bytes(encrypted)
    (tmp_path / "pub.pem").write_bytes(public_key_to_pem(key.public_key()))
    assert key_id(load_private_key(pem).public_key()) == kid
    assert key_id(load_private_key(encrypted, b"s3cret").public_key()) == kid
    assert key_id(load_private_key_file(tmp_path / "key.pem", b"s3cret").public_key()) == kid
    assert key_id(load_public_key_file(tmp_path / "pub.pem")) == kid
    raw = key.public_key().public_bytes_raw()
    assert key_id(load_public_key(raw)) == kid
    with pytest.raises(CheckpointError):
        load_private_key(encrypted)
    with pytest.raises(CheckpointError):
        load_public_key(b"-----BEGIN PUBLIC KEY-----\nnope\n-----END PUBLIC KEY-----\n")


def test_a_checkpoint_needs_an_aware_time() -> None:
    """Checkpoints refuse naive times and malformed fields."""
    with pytest.raises(CheckpointError):
        Checkpoint(1, "00" * 32, datetime(2026, 1, 1), "ed25519:0123456789abcdef", "00" * 64)
