"""The in-memory store, a fake for unit tests, behaves like the SQL store."""

from __future__ import annotations

import pytest

from audit import (
    AuditEntry,
    AuditWriteError,
    Head,
    MemoryAuditStore,
    generate_signing_key,
    sign_checkpoint,
    verify_store,
)


def entry(subject: str = "psn:a") -> AuditEntry:
    return AuditEntry(event="case.view", action="read", outcome="success", subject=subject)


def test_the_fake_chains_verifies_and_purges_like_the_real_store() -> None:
    """Appends chain from genesis; a purge needs an anchoring checkpoint and keeps it verifiable."""
    store = MemoryAuditStore()
    key = generate_signing_key()
    written = store.append(None, [entry(f"psn:s{i}") for i in range(5)])
    assert store.head(None) == Head(5, written[-1].hash, written[-1].time)
    assert verify_store(store, None, deep=True).is_intact
    with pytest.raises(AuditWriteError):
        store.purge_through(None, 2)
    store.add_checkpoint(None, sign_checkpoint(key, 2, written[1].hash))
    assert store.purge_through(None, 2) == 2
    result = verify_store(store, None, public_key=key.public_key())
    assert result.is_intact, result.description
    assert (result.anchor_seq, result.first_seq) == (2, 3)


def test_the_fake_refuses_anything_but_entries() -> None:
    """Only AuditEntry objects are appended."""
    with pytest.raises(AuditWriteError):
        MemoryAuditStore().append(None, ["case.view"])  # type: ignore[list-item]


def test_the_fake_verifies_in_stretches_with_the_one_pass_answer() -> None:
    """Stretches of the fake, joined, give the one-pass Verification, after a purge too."""
    store = MemoryAuditStore()
    key = generate_signing_key()
    written = store.append(None, [entry(f"psn:s{i}") for i in range(11)])
    store.add_checkpoint(None, sign_checkpoint(key, 4, written[3].hash))
    segments = store.segments(None, since_seq=None, until_seq=11, marks={4, 11}, workers=3)
    assert segments is not None
    assert [(s.low, s.high, s.is_sound) for s in segments] == [
        (1, 4, True),
        (5, 8, True),
        (9, 11, True),
    ]
    one_pass = verify_store(store, None, public_key=key.public_key(), workers=1)
    assert verify_store(store, None, public_key=key.public_key(), workers=3) == one_pass
    assert one_pass.is_intact and one_pass.checkpoints_matched == 1
    store.purge_through(None, 4)
    assert verify_store(store, None, workers=3) == verify_store(store, None, workers=1)
    assert verify_store(store, None, workers=3).first_seq == 5
