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
