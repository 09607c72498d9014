"""Properties of the chain: any single tampering is found at its exact seq.

Every property runs on both inputs of `verify`: the records re-encoded from their fields
("records") and the bytes as stored ("links"). The recorded head is passed as the store does.
Verifying in stretches side by side (`verify_segment`, `verify_segments`) gives the one-pass
answer for every kind of tampering, wherever the stretches are cut.
"""

from __future__ import annotations

import dataclasses
import itertools
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
    Checkpoint,
    Head,
    Link,
    Segment,
    encode,
    generate_signing_key,
    leaf_hash,
    seal,
    seq_ranges,
    sign_checkpoint,
    verify,
    verify_segment,
    verify_segments,
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


TAMPERINGS = [
    "none",
    "change",
    "rehash",
    "delete",
    "delete_renumber",
    "insert",
    "insert_renumber",
    "swap",
    "swap_renumber",
    "truncate",
    "recompute",
    "purge",
    "purge_unanchored",
]


def tampered(
    records: list[AuditRecord], extra: AuditEntry, kind: str, data: st.DataObject
) -> tuple[list[Chained], list[Checkpoint], Head]:
    """The stored links after one tampering of `kind`, the checkpoints kept, the recorded head."""
    n = len(records)
    items = as_form(records, "links")
    head = head_of(records)
    kept: list[Checkpoint] = []
    k = data.draw(st.integers(1, n - 1), label="k")  # records has at least 2
    if kind == "change":
        items[k - 1] = with_entry(records[k - 1], altered(records[k - 1].entry), "links")
    elif kind == "rehash":
        r = records[k - 1]
        forged = seal(
            altered(r.entry), seq=k, prev_hash=r.prev_hash, time=r.time, event_id=r.event_id
        )
        items[k - 1] = as_form([forged], "links")[0]
    elif kind in ("delete", "delete_renumber"):
        del items[k - 1]
        if kind == "delete_renumber":
            items[k - 1 :] = [relabelled(item, item.seq - 1) for item in items[k - 1 :]]
            head = Head(len(items), items[-1].hash)
    elif kind in ("insert", "insert_renumber"):
        prev_hash = records[k - 2].hash if k > 1 else GENESIS_HASH
        forged = seal(extra, seq=k, prev_hash=prev_hash, time=records[k - 1].time)
        if kind == "insert_renumber":
            items[k - 1 :] = [relabelled(item, item.seq + 1) for item in items[k - 1 :]]
            items.insert(k - 1, as_form([forged], "links")[0])
            head = Head(len(items), items[-1].hash)
        else:
            items.insert(k - 1, as_form([forged], "links")[0])
    elif kind in ("swap", "swap_renumber"):
        j = data.draw(st.integers(k + 1, n), label="j")
        items[k - 1], items[j - 1] = items[j - 1], items[k - 1]
        if kind == "swap_renumber":
            items[k - 1] = relabelled(items[k - 1], k)
            items[j - 1] = relabelled(items[j - 1], j)
    elif kind == "truncate":
        c = data.draw(st.integers(k + 1, n), label="c")
        kept.append(sign_checkpoint(KEY, c, records[c - 1].hash))
        items = items[:k]
        head = head_of(records[:k])
    elif kind == "recompute":
        c = data.draw(st.integers(k, n), label="c")
        kept.append(sign_checkpoint(KEY, c, records[c - 1].hash))
        entries = [r.entry for r in records]
        entries[k - 1] = altered(entries[k - 1])
        rewritten = audit_chain_of(entries)
        items = as_form(rewritten, "links")
        head = head_of(rewritten)
    elif kind in ("purge", "purge_unanchored"):
        if kind == "purge":
            kept.append(sign_checkpoint(KEY, k, records[k - 1].hash))
        items = items[k:]
    extra_checkpoint = data.draw(st.none() | st.integers(1, n), label="extra checkpoint")
    if extra_checkpoint is not None:
        kept.append(sign_checkpoint(KEY, extra_checkpoint, records[extra_checkpoint - 1].hash))
    return items, kept, head


@given(
    records=audit_chains(min_size=2),
    extra=audit_entries(),
    kind=st.sampled_from(TAMPERINGS),
    data=st.data(),
)
def test_stretches_side_by_side_give_the_one_pass_answer(
    records: list[AuditRecord], extra: AuditEntry, kind: str, data: st.DataObject
) -> None:
    """Stretches cut anywhere and joined give the one-pass Verification, or None if broken."""
    items, kept, head = tampered(records, extra, kind, data)
    stored = sorted(items, key=lambda item: item.seq)  # as a store reads them: by seq
    one_pass = verify(stored, kept, PUBLIC, head=head)
    window = [item.seq for item in stored if item.seq <= head.seq]
    joined = None
    if window:
        low = window[0]
        cuts = data.draw(st.sets(st.integers(low + 1, max(low + 1, head.seq)), max_size=5))
        bounds = [low, *sorted(c for c in cuts if c <= head.seq), head.seq + 1]
        ranges = [(a, b - 1) for a, b in itertools.pairwise(bounds)]
        marks = {c.seq for c in kept} | {head.seq}
        segments = [
            verify_segment([i for i in stored if a <= i.seq <= b], a, b, marks) for a, b in ranges
        ]
        joined = verify_segments(data.draw(st.permutations(segments)), kept, PUBLIC, head=head)
    if one_pass.is_intact:
        assert joined == one_pass
    else:
        assert joined is None, one_pass.description


@given(low=st.integers(0, 10**12), count=st.integers(0, 500), parts=st.integers(1, 40))
def test_seq_ranges_cut_a_window_into_even_contiguous_stretches(
    low: int, count: int, parts: int
) -> None:
    """The stretches cover the window once, in order, without gaps, their lengths within one."""
    high = low + count - 1
    ranges = seq_ranges(low, high, parts)
    assert len(ranges) == min(parts, count)
    covered = [seq for a, b in ranges for seq in range(a, b + 1)]
    assert covered == list(range(low, high + 1))
    lengths = {b - a + 1 for a, b in ranges}
    assert not lengths or max(lengths) - min(lengths) <= 1


def test_a_stretch_with_a_bad_link_inside_or_a_record_missing_at_its_edge_is_not_sound() -> None:
    """A stretch is sound only if every seq low..high comes once, chained and matching its hash."""
    entry = AuditEntry(event="case.view", action="read", outcome="success", subject="psn:a")
    records = audit_chain_of([entry] * 6)
    links = as_form(records, "links")
    leaves: list[bytes] = []
    sound = verify_segment(links[1:4], 2, 4, {3, 6}, keep=leaves.append)
    assert sound == Segment(2, 4, True, records[0].hash, records[3].hash, ((3, records[2].hash),))
    assert leaves == [leaf_hash(r.body) for r in records[1:4]]  # each accepted record's leaf
    assert not verify_segment(links[2:4], 2, 4).is_sound  # seq 2 missing at the start
    assert not verify_segment(links[1:3], 2, 4).is_sound  # seq 4 missing at the end
    assert not verify_segment(links[1:5], 2, 4).is_sound  # seq 5 beyond the end
    assert not verify_segment([links[1], links[3], links[2]], 2, 4).is_sound
    broken = [links[1], links[2]._replace(prev_hash=records[0].hash), links[3]]
    assert not verify_segment(broken, 2, 4).is_sound
    assert not verify_segment([links[1]._replace(prev_hash="not hex")], 2, 2).is_sound
