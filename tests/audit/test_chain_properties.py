"""Properties of the chain: any single tampering is found at its exact seq.

Every property runs on both inputs of `verify`: the records re-encoded from their fields
("records") and the bytes as stored ("links"). The recorded head is passed as the store does.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from audit import (
    GENESIS_HASH,
    AuditEntry,
    AuditRecord,
    Chained,
    Head,
    Link,
    encode,
    generate_signing_key,
    seal,
    sign_checkpoint,
    verify,
)
from tests.strategies import audit_chain_of, audit_chains, audit_entries

KEY = generate_signing_key()
PUBLIC = KEY.public_key()
FORMS = ["records", "links"]


def as_form(records: Sequence[AuditRecord], form: str) -> list[Chained]:
    if form == "records":
        return list(records)
    return [Link(r.seq, r.prev_hash, r.hash, r.body) for r in records]


def head_of(records: Sequence[AuditRecord]) -> Head:
    return Head(records[-1].seq, records[-1].hash)


def altered(entry: AuditEntry) -> AuditEntry:
    """The same entry with one field changed."""
    outcome = "denied" if entry.outcome != "denied" else "success"
    return dataclasses.replace(entry, outcome=outcome)


def with_entry(record: AuditRecord, entry: AuditEntry, form: str) -> Chained:
    """`record` with other content but its stored hash and link unchanged."""
    if form == "records":
        return dataclasses.replace(record, entry=entry)
    body = encode(record.seq, record.event_id, record.time, entry)
    return Link(record.seq, record.prev_hash, record.hash, body)


def relabelled(item: Chained, seq: int) -> Chained:
    """`item` moved to another seq by changing only its seq (as an UPDATE of the row would)."""
    if isinstance(item, Link):
        return item._replace(seq=seq)
    assert isinstance(item, AuditRecord)
    return dataclasses.replace(item, seq=seq)


@pytest.mark.parametrize("form", FORMS)
@given(records=audit_chains(min_size=1), data=st.data())
def test_a_changed_record_is_named(
    form: str, records: list[AuditRecord], data: st.DataObject
) -> None:
    """Changing any one record's content is found at that record's seq."""
    k = data.draw(st.integers(1, len(records)), label="k")
    items = as_form(records, form)
    items[k - 1] = with_entry(records[k - 1], altered(records[k - 1].entry), form)
    result = verify(items, head=head_of(records))
    assert (result.is_intact, result.reason, result.first_bad_seq) == (False, "hash_mismatch", k)
    assert result.records_checked == k - 1


@pytest.mark.parametrize("form", FORMS)
@given(records=audit_chains(min_size=2), data=st.data())
def test_a_changed_and_rehashed_record_is_named(
    form: str, records: list[AuditRecord], data: st.DataObject
) -> None:
    """Changing a record and recomputing its own hash is found at that record's seq."""
    k = data.draw(st.integers(1, len(records) - 1), label="k")
    original = records[k - 1]
    forged = seal(
        altered(original.entry),
        seq=k,
        prev_hash=original.prev_hash,
        time=original.time,
        event_id=original.event_id,
    )
    items = as_form(records, form)
    items[k - 1] = as_form([forged], form)[0]
    result = verify(items, head=head_of(records))
    assert (result.is_intact, result.reason, result.first_bad_seq) == (False, "broken_link", k)


@pytest.mark.parametrize("form", FORMS)
@given(records=audit_chains(min_size=1), data=st.data())
def test_a_deleted_record_is_named(
    form: str, records: list[AuditRecord], data: st.DataObject
) -> None:
    """Deleting any one record is found at its seq (the last one through the head)."""
    k = data.draw(st.integers(1, len(records)), label="k")
    items = as_form(records, form)
    del items[k - 1]
    result = verify(items, head=head_of(records))
    assert not result.is_intact
    assert result.first_bad_seq == k, result.description


@pytest.mark.parametrize("form", FORMS)
@given(records=audit_chains(min_size=2), data=st.data())
def test_a_deleted_record_with_the_rest_renumbered_is_named(
    form: str, records: list[AuditRecord], data: st.DataObject
) -> None:
    """Deleting a record and renumbering the ones after it is found at the deleted seq."""
    k = data.draw(st.integers(1, len(records) - 1), label="k")
    items = as_form(records, form)
    del items[k - 1]
    items[k - 1 :] = [relabelled(item, item.seq - 1) for item in items[k - 1 :]]
    result = verify(items, head=Head(len(items), items[-1].hash))
    assert not result.is_intact
    assert result.first_bad_seq == k, result.description


@pytest.mark.parametrize("form", FORMS)
@given(records=audit_chains(min_size=1), extra=audit_entries(), data=st.data())
def test_an_inserted_record_is_named(
    form: str, records: list[AuditRecord], extra: AuditEntry, data: st.DataObject
) -> None:
    """A forged record that chains properly to its predecessor is found at its seq."""
    k = data.draw(st.integers(1, len(records) + 1), label="k")
    prev_hash = records[k - 2].hash if k > 1 else GENESIS_HASH
    when = records[k - 2].time if k > 1 else records[0].time - timedelta(seconds=1)
    forged = seal(extra, seq=k, prev_hash=prev_hash, time=when)
    items = as_form(records, form)
    items.insert(k - 1, as_form([forged], form)[0])
    result = verify(items, head=head_of(records))
    assert not result.is_intact
    assert result.first_bad_seq == k, result.description


@given(records=audit_chains(min_size=1), extra=audit_entries(), data=st.data())
def test_an_inserted_record_with_the_rest_renumbered_is_named(
    records: list[AuditRecord], extra: AuditEntry, data: st.DataObject
) -> None:
    """A forged record slipped in with the stored rows after it renumbered is found at its seq.

    (Stored rows keep their original seq inside their bytes, which names the insertion.)
    """
    k = data.draw(st.integers(1, len(records)), label="k")
    prev_hash = records[k - 2].hash if k > 1 else GENESIS_HASH
    forged = seal(extra, seq=k, prev_hash=prev_hash, time=records[k - 1].time)
    items = as_form(records, "links")
    items[k - 1 :] = [relabelled(item, item.seq + 1) for item in items[k - 1 :]]
    items.insert(k - 1, as_form([forged], "links")[0])
    result = verify(items, head=Head(len(items), items[-1].hash))
    assert not result.is_intact
    assert result.first_bad_seq == k, result.description


@pytest.mark.parametrize("form", FORMS)
@pytest.mark.parametrize("renumber", [False, True])
@given(records=audit_chains(min_size=2), data=st.data())
def test_reordered_records_are_named(
    form: str, renumber: bool, records: list[AuditRecord], data: st.DataObject
) -> None:
    """Swapping two records (keeping or renumbering seqs) is found at the first of them."""
    i = data.draw(st.integers(1, len(records) - 1), label="i")
    j = data.draw(st.integers(i + 1, len(records)), label="j")
    items = as_form(records, form)
    items[i - 1], items[j - 1] = items[j - 1], items[i - 1]
    if renumber:
        items[i - 1] = relabelled(items[i - 1], i)
        items[j - 1] = relabelled(items[j - 1], j)
    result = verify(items, head=head_of(records))
    assert not result.is_intact
    assert result.first_bad_seq == i, result.description


@pytest.mark.parametrize("form", FORMS)
@given(records=audit_chains(min_size=1), data=st.data())
def test_a_recomputed_chain_is_caught_by_a_kept_checkpoint(
    form: str, records: list[AuditRecord], data: st.DataObject
) -> None:
    """Changing record k and rehashing everything after it is caught by a checkpoint at c >= k.

    The first bad seq named is at or before k (the checkpoint can only bound where it began).
    """
    k = data.draw(st.integers(1, len(records)), label="k")
    c = data.draw(st.integers(k, len(records)), label="c")
    checkpoint = sign_checkpoint(KEY, c, records[c - 1].hash)
    entries = [r.entry for r in records]
    entries[k - 1] = altered(entries[k - 1])
    rewritten = audit_chain_of(entries)
    assert verify(as_form(rewritten, form), head=head_of(rewritten)).is_intact
    result = verify(as_form(rewritten, form), [checkpoint], PUBLIC, head=head_of(rewritten))
    assert (result.is_intact, result.reason) == (False, "checkpoint_mismatch")
    assert result.first_bad_seq is not None and result.first_bad_seq <= k <= c


@pytest.mark.parametrize("form", FORMS)
@given(records=audit_chains(min_size=2), data=st.data())
def test_truncation_is_caught_by_a_checkpoint(
    form: str, records: list[AuditRecord], data: st.DataObject
) -> None:
    """Cutting off the last records (head rewritten too) is caught by a later checkpoint."""
    keep = data.draw(st.integers(1, len(records) - 1), label="keep")
    c = data.draw(st.integers(keep + 1, len(records)), label="c")
    checkpoint = sign_checkpoint(KEY, c, records[c - 1].hash)
    items = as_form(records[:keep], form)
    result = verify(items, [checkpoint], PUBLIC, head=head_of(records[:keep]))
    assert (result.is_intact, result.reason, result.first_bad_seq) == (False, "truncated", keep + 1)


@pytest.mark.parametrize("form", FORMS)
@given(records=audit_chains(min_size=2), data=st.data())
def test_a_purged_prefix_anchored_by_a_checkpoint_verifies(
    form: str, records: list[AuditRecord], data: st.DataObject
) -> None:
    """Dropping records 1..p with a checkpoint at p still verifies, from p + 1 on."""
    p = data.draw(st.integers(1, len(records) - 1), label="p")
    earlier = [sign_checkpoint(KEY, s, records[s - 1].hash) for s in range(1, p)]
    anchor = sign_checkpoint(KEY, p, records[p - 1].hash)
    items = as_form(records[p:], form)
    result = verify(items, [*earlier, anchor], PUBLIC, head=head_of(records))
    assert result.is_intact, result.description
    assert (result.anchor_seq, result.first_seq, result.last_seq) == (p, p + 1, len(records))


@pytest.mark.parametrize("form", FORMS)
@given(records=audit_chains(min_size=3), data=st.data())
def test_a_purge_without_its_anchor_is_named(
    form: str, records: list[AuditRecord], data: st.DataObject
) -> None:
    """Dropping a prefix past the last checkpoint names the first record no checkpoint covers."""
    p = data.draw(st.integers(0, len(records) - 2), label="p")
    cut = data.draw(st.integers(p + 1, len(records) - 1), label="cut")
    kept = [sign_checkpoint(KEY, p, records[p - 1].hash)] if p else []
    result = verify(as_form(records[cut:], form), kept, PUBLIC, head=head_of(records))
    assert (result.is_intact, result.reason, result.first_bad_seq) == (
        False,
        "unanchored_start",
        p + 1,
    )


@pytest.mark.parametrize("form", FORMS)
@given(records=audit_chains(min_size=3), data=st.data())
def test_tampering_after_a_purge_is_still_named(
    form: str, records: list[AuditRecord], data: st.DataObject
) -> None:
    """After an anchored purge, a changed record is still found at its seq."""
    p = data.draw(st.integers(1, len(records) - 2), label="p")
    k = data.draw(st.integers(p + 1, len(records)), label="k")
    anchor = sign_checkpoint(KEY, p, records[p - 1].hash)
    items = as_form(records, form)
    items[k - 1] = with_entry(records[k - 1], altered(records[k - 1].entry), form)
    result = verify(items[p:], [anchor], PUBLIC, head=head_of(records))
    assert (result.reason, result.first_bad_seq) == ("hash_mismatch", k)
