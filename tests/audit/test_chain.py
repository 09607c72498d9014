"""The canonical encoding, chaining and verification of the audit log (pure, no database)."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from audit import (
    ENCODING_PREFIX,
    GENESIS_HASH,
    AuditEntry,
    AuditRecord,
    Head,
    Link,
    decode,
    encode,
    generate_signing_key,
    leaf_hash,
    seal,
    sign_checkpoint,
    verify,
)
from tests.strategies import audit_chain_of

T0 = datetime(2026, 1, 5, 9, 0, 0, 123456, tzinfo=UTC)

GOLDEN_BODY = (
    b"multiteam.audit.record.v1\n"
    b'{"entry":{"action":"read","case_id":"case-1","client_id":null,"convenant_hash":null,'
    b'"detail":{"status":200},"event":"case.view",'
    b'"fields_disclosed":{"bsn":"mask","surname":"show"},"fields_withheld":["care_details"],'
    b'"legal_basis":null,"on_behalf_of":null,"outcome":"success","party":"politie",'
    b'"person_id":"politie:w.agent","person_name":null,"purpose":"casusoverleg",'
    b'"request_id":null,"role":"case_worker","source_address":null,"subject":"psn:abc"},'
    b'"event_id":"00000000-0000-4000-8000-000000000001","seq":1,'
    b'"time":"2026-01-05T09:00:00.123456Z"}'
)
# The v1 chain hashed the body itself: SHA-256("multiteam.audit.chain.v1\0" || prev || body).
GOLDEN_HASH_V1 = "2076fa4e04836194fbc15626c999ef5958c584586cdc8bbb65de57b83e21a179"


def golden_entry() -> AuditEntry:
    return AuditEntry(
        event="case.view",
        action="read",
        outcome="success",
        person_id="politie:w.agent",
        party="politie",
        role="case_worker",
        purpose="casusoverleg",
        subject="psn:abc",
        case_id="case-1",
        fields_disclosed={"surname": "show", "bsn": "mask"},
        fields_withheld=("care_details",),
        detail={"status": 200},
    )


def chain(n: int) -> list[AuditRecord]:
    entries = [
        AuditEntry(event="case.view", action="read", outcome="success", subject=f"psn:s{i % 3}")
        for i in range(n)
    ]
    return audit_chain_of(entries)


def links(records: list[AuditRecord]) -> list[Link]:
    return [Link(r.seq, r.prev_hash, r.hash, r.body) for r in records]


def test_the_encoding_and_hash_are_fixed() -> None:
    """A known record encodes to known bytes and hash: old logs stay verifiable."""
    record = seal(
        golden_entry(),
        seq=1,
        prev_hash=GENESIS_HASH,
        time=T0,
        event_id="00000000-0000-4000-8000-000000000001",
    )
    assert record.body == GOLDEN_BODY
    leaf = hashlib.sha256(b"\x00" + GOLDEN_BODY).digest()  # RFC 9162 §2.1.1 leaf hash
    assert leaf_hash(GOLDEN_BODY) == leaf
    expected = hashlib.sha256(b"multiteam.audit.chain.v2\x00" + bytes(32) + leaf)
    assert record.hash == expected.hexdigest()
    v1 = hashlib.sha256(b"multiteam.audit.chain.v1\x00" + bytes(32) + GOLDEN_BODY)
    assert v1.hexdigest() == GOLDEN_HASH_V1 != record.hash


def test_the_encoding_is_plain_canonical_json() -> None:
    """The body is exactly what a sorted-key compact JSON dump of its own content gives."""
    body = chain(1)[0].body
    document = json.loads(body[len(ENCODING_PREFIX) :])
    dumped = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert body == ENCODING_PREFIX + dumped.encode("utf-8")


def test_the_encoding_is_deterministic_and_order_free() -> None:
    """Mapping order and time zone do not change the bytes."""
    a = golden_entry()
    b = dataclasses.replace(a, fields_disclosed={"bsn": "mask", "surname": "show"})
    other_zone = T0.astimezone(ZoneInfo("Europe/Amsterdam"))
    eid = "00000000-0000-4000-8000-000000000001"
    assert encode(1, eid, T0, a) == encode(1, eid, other_zone, b)


def test_the_hash_binds_seq_predecessor_and_content() -> None:
    """Changing seq, prev hash, time or any field changes the hash."""
    base = seal(golden_entry(), seq=2, prev_hash="11" * 32, time=T0, event_id=str(uuid.uuid4()))
    variants = [
        seal(golden_entry(), seq=3, prev_hash="11" * 32, time=T0, event_id=base.event_id),
        seal(golden_entry(), seq=2, prev_hash="12" * 32, time=T0, event_id=base.event_id),
        seal(
            golden_entry(),
            seq=2,
            prev_hash="11" * 32,
            time=T0 + timedelta(microseconds=1),
            event_id=base.event_id,
        ),
        seal(
            dataclasses.replace(golden_entry(), outcome="denied"),
            seq=2,
            prev_hash="11" * 32,
            time=T0,
            event_id=base.event_id,
        ),
    ]
    assert len({base.hash, *(v.hash for v in variants)}) == 5


def test_decode_gives_back_the_record() -> None:
    """The stored bytes decode to the very record that was sealed."""
    for record in chain(5):
        assert decode(Link(record.seq, record.prev_hash, record.hash, record.body)) == record


def test_an_intact_chain_verifies_in_both_forms() -> None:
    """A sealed chain verifies as records (re-encoded) and as stored bytes."""
    records = chain(20)
    head = Head(20, records[-1].hash)
    for form in (records, links(records)):
        result = verify(form, head=head)
        assert result.is_intact, result.description
        assert (result.first_seq, result.last_seq, result.records_checked) == (1, 20, 20)
        assert result.head_hash == records[-1].hash


def test_an_empty_log_is_intact_unless_something_vouches_for_records() -> None:
    """No records and no checkpoints is intact; a checkpoint or head past 0 is truncation."""
    assert verify([]).is_intact
    assert verify([], head=Head(0, GENESIS_HASH)).is_intact
    result = verify([], head=Head(3, "ab" * 32))
    assert (result.is_intact, result.reason, result.first_bad_seq) == (False, "truncated", 1)


def test_a_streamed_chain_is_consumed_once() -> None:
    """Verification takes a one-shot iterator (a database cursor) and reads it once."""
    records = chain(50)
    consumed = []

    def stream() -> Iterator[Link]:
        for r in links(records):
            consumed.append(r.seq)
            yield r

    assert verify(stream()).is_intact
    assert consumed == list(range(1, 51))


def test_a_bad_checkpoint_signature_fails_verification() -> None:
    """With a public key, a checkpoint signed by another key or altered is refused."""
    records = chain(5)
    key, other = generate_signing_key(), generate_signing_key()
    good = sign_checkpoint(key, 3, records[2].hash)
    assert verify(records, [good], key.public_key()).is_intact
    assert verify(records, [good], [other.public_key(), key.public_key()]).is_intact
    forged = dataclasses.replace(good, seq=4, head_hash=records[3].hash)
    result = verify(records, [forged], key.public_key())
    assert (result.is_intact, result.reason) == (False, "checkpoint_signature")
    result = verify(records, [good], other.public_key())
    assert (result.is_intact, result.reason) == (False, "checkpoint_signature")
    unverified = verify(records, [forged])
    assert unverified.is_intact and not unverified.signatures_checked


def test_conflicting_checkpoints_fail_verification() -> None:
    """Two checkpoints for one seq with different hashes cannot both be right."""
    records = chain(4)
    key = generate_signing_key()
    a = sign_checkpoint(key, 2, records[1].hash)
    b = sign_checkpoint(key, 2, records[2].hash)
    result = verify(records, [a, b], key.public_key())
    assert (result.reason, result.first_bad_seq) == ("checkpoint_conflict", 2)


def test_records_past_the_recorded_head_are_reported() -> None:
    """A record appended without moving the head is named."""
    records = chain(6)
    result = verify(records, head=Head(5, records[4].hash))
    assert (result.reason, result.first_bad_seq) == ("head_mismatch", 6)


@pytest.mark.parametrize("where", [1, 4, 8])
def test_a_whole_purged_log_anchored_by_a_checkpoint(where: int) -> None:
    """After a purge, verification starts at the anchoring checkpoint and goes on normally."""
    records = chain(8)
    key = generate_signing_key()
    cp = sign_checkpoint(key, where, records[where - 1].hash)
    result = verify(records[where:], [cp], key.public_key(), head=Head(8, records[-1].hash))
    assert result.is_intact, result.description
    assert result.anchor_seq == where
    assert result.records_checked == 8 - where
