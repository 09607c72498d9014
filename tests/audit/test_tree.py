"""The store's tree (`audit.tree`) and the column check (`audit.columns`), pure: the hashes a
verification recomputes are the ones `audit.tlog.merkle.stored_hashes` stores (itself tested
against Go's tlog and transparency-dev vectors), in tlog's order; the column check accepts
every sealed record as stored and names any single column that differs."""

from __future__ import annotations

import dataclasses
import hashlib
from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from audit import (
    GENESIS_HASH,
    AuditEntry,
    Frontier,
    TreeCheck,
    column_problem,
    explain,
    leaf_hash,
    seal,
)
from audit.columns import COLUMN_ORDER, STORED_COLUMNS, canonical_json
from audit.store import _columns
from audit.tlog.merkle import (
    MemoryHashStore,
    merkle_tree_hash,
    split_stored_hash_index,
    stored_hash_count,
    stored_hash_index,
    stored_hashes,
    subtree_nodes,
)
from tests.strategies import audit_entries

leaves_strategy = st.lists(st.binary(min_size=32, max_size=32), max_size=70)


@given(leaves=leaves_strategy, cut=st.integers(0, 70))
def test_the_frontier_adds_what_stored_hashes_stores_in_tlog_order(
    leaves: list[bytes], cut: int
) -> None:
    """Frontier.extend gives, leaf by leaf, the nodes `stored_hashes` gives, at positions
    stored_hash_count(i)...; started from a stored edge anywhere, it goes on the same way."""
    store = MemoryHashStore()
    expected: list[bytes] = []
    for index, leaf in enumerate(leaves):
        nodes = stored_hashes(index, leaf, store)
        assert [stored_hash_index(*node) for node, _ in nodes] == list(
            range(stored_hash_count(index), stored_hash_count(index + 1))
        )
        expected += [digest for _, digest in nodes]
        store.append_leaf_hash(leaf)
    assert Frontier().extend(leaves) == expected
    assert len(expected) == stored_hash_count(len(leaves))
    cut = min(cut, len(leaves))
    edge = Frontier(cut, store.read_hashes(subtree_nodes(0, cut)))
    assert edge.extend(leaves[cut:]) == expected[stored_hash_count(cut) :]
    assert edge.root() == merkle_tree_hash(leaves) == store.root()


@given(leaves=leaves_strategy.filter(bool), data=st.data())
def test_the_tree_check_names_the_record_that_completes_a_changed_or_missing_hash(
    leaves: list[bytes], data: st.DataObject
) -> None:
    """A stored hash changed or missing: the check names the seq of the record completing its
    node, and counts the hashes it found equal before it."""
    stored = dict(enumerate(Frontier().extend(leaves)))
    position = data.draw(st.integers(0, len(stored) - 1))
    removed = data.draw(st.booleans())
    if removed:
        del stored[position]
    else:
        stored[position] = bytes(b ^ 0xFF for b in stored[position])

    def rows(start: int, end: int) -> list[tuple[int, bytes]]:
        return [(i, stored[i]) for i in range(start, end) if i in stored]

    check = TreeCheck(Frontier(), rows)
    finding = check.check(leaves)
    assert finding is not None
    level, index = split_stored_hash_index(position)
    assert (finding.node, finding.position) == ((level, index), position)
    assert finding.seq == (index + 1) << level  # the last leaf under the node, as a seq
    assert finding.is_missing == removed
    assert check.checked == position
    intact = TreeCheck(Frontier(), lambda a, b: list(enumerate(Frontier().extend(leaves)))[a:b])
    assert intact.check(leaves) is None


T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
ENTRY = AuditEntry(event="case.view", action="read", outcome="success")


def stored_row(entry: Any, seq: int = 1) -> list[Any]:
    """A sealed record's columns as the SQL store keeps them."""
    record = seal(entry, seq=seq, prev_hash=GENESIS_HASH, time=T0 + timedelta(microseconds=seq))
    return list(_columns(record))


@given(entry=audit_entries())
def test_every_sealed_record_passes_the_column_check_on_its_fast_path(entry: Any) -> None:
    """Rebuilt from its columns, every record gives its own bytes: no finding, fast or slow;
    with the SQLite form of the time too."""
    row = stored_row(entry)
    assert column_problem(row) is None
    assert explain(row) is None
    row[STORED_COLUMNS.index("time")] = row[5].strftime("%Y-%m-%d %H:%M:%S.%f")
    assert column_problem(row) is None


def _other(value: Any, column: str) -> Any:
    if column == "seq":
        return value + 1
    if column == "time":
        return value + timedelta(microseconds=1)
    if column in ("fields_disclosed", "detail"):
        return canonical_json({"zz_other": "show"})
    if column == "fields_withheld":
        return canonical_json(["zz_other"])
    return None if value is not None else "x"


@given(entry=audit_entries(), column=st.sampled_from(COLUMN_ORDER))
def test_any_column_that_differs_is_named(entry: Any, column: str) -> None:
    """A single column changed: the check names it (and the fast path does not hide it)."""
    row = stored_row(entry)
    at = STORED_COLUMNS.index(column)
    row[at] = _other(row[at], column)
    finding = column_problem(row)
    assert finding is not None
    assert (finding.column, finding.reason) == (column, "column_mismatch")


def test_a_json_column_cannot_borrow_the_next_columns_text() -> None:
    """A field named like the next column: shifting text between the two JSON columns keeps
    the rebuilt bytes equal, and the check still sees that the columns differ."""
    entry = dataclasses.replace(
        ENTRY, fields_disclosed={"a": "show", "fields_withheld": "show"}, fields_withheld=("b",)
    )
    row = stored_row(entry)
    disclosed, withheld = (
        STORED_COLUMNS.index("fields_disclosed"),
        STORED_COLUMNS.index("fields_withheld"),
    )
    assert row[disclosed] == '{"a":"show","fields_withheld":"show"}'
    row[disclosed], row[withheld] = '{"a":"show"', '"show"},"fields_withheld":["b"]'
    finding = column_problem(row)
    assert finding is not None and finding.column == "fields_disclosed"


def test_the_leaf_is_the_rfc_9162_leaf_of_the_body() -> None:
    """The tree's leaf for a record is SHA-256(0x00 || its canonical bytes)."""
    body = seal(ENTRY, seq=1, prev_hash=GENESIS_HASH, time=T0).body
    assert leaf_hash(body) == hashlib.sha256(b"\x00" + body).digest()
