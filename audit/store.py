"""The one storage interface of the audit log, a small in-memory fake, and `verify_store`.

The caller owns the session and its transaction: it does its own reads and writes, appends the
audit record(s) last, commits, and only then lets data leave. `append` locks the chain's head
inside that transaction, so concurrent appends form one chain; if it fails it rolls the
caller's transaction back and raises `AuditWriteError` (fail closed).

Verification (`audit.check.verify_store`) reads every stored column of the records
(`row_chunks`), the stored tree hashes (`tree_hash_rows`) and what lies outside the chain
(`survey`); a long window in stretches side by side when the store can read them so
(`segments`).
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable, Collection, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Final, NamedTuple, Protocol, TypeVar

from .chain import GENESIS_HASH, Head, Link, seal
from .checkpoint import Checkpoint
from .columns import canonical_json
from .errors import AuditEntryError, AuditWriteError
from .record import ACTIONS, OUTCOMES, AuditEntry, AuditRecord
from .segments import Segment, seq_ranges
from .stored import verify_stored_segment
from .tlog.errors import HashReaderError
from .tlog.merkle import (
    Node,
    leaf_hash,
    stored_hash_count,
    stored_hash_index,
    stored_hashes,
    subtree_nodes,
)
from .tree import Frontier, TreeCheck

__all__ = [
    "MAX_QUERY_LIMIT",
    "AuditQuery",
    "AuditStore",
    "MemoryAuditStore",
    "Survey",
    "matches",
]

MAX_QUERY_LIMIT: Final = 1000

SessionT_contra = TypeVar("SessionT_contra", contravariant=True)
SessionT = TypeVar("SessionT")


@dataclass(frozen=True, slots=True, kw_only=True)
class AuditQuery:
    """The privacy officer's filters; all optional, combined with AND; paged by `after_seq`.

    `since` is inclusive and `until` exclusive; results come in seq order, at most `limit`.
    """

    subject: str | None = None
    person_id: str | None = None
    party: str | None = None
    purpose: str | None = None
    action: str | None = None
    outcome: str | None = None
    event: str | None = None
    case_id: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    after_seq: int = 0
    limit: int = 100

    def __post_init__(self) -> None:
        if self.action is not None and self.action not in ACTIONS:
            raise AuditEntryError(f"query action must be one of {sorted(ACTIONS)}")
        if self.outcome is not None and self.outcome not in OUTCOMES:
            raise AuditEntryError(f"query outcome must be one of {sorted(OUTCOMES)}")
        for name in ("since", "until"):
            value = getattr(self, name)
            if value is not None and value.utcoffset() is None:
                raise AuditEntryError(f"query {name} must be timezone-aware")
        if not 1 <= self.limit <= MAX_QUERY_LIMIT:
            raise AuditEntryError(f"query limit must be 1..{MAX_QUERY_LIMIT}")
        if self.after_seq < 0:
            raise AuditEntryError("query after_seq must be >= 0")


def matches(record: AuditRecord, query: AuditQuery) -> bool:
    """Whether `record` passes the query's filters (paging aside)."""
    entry = record.entry
    pairs = (
        (query.subject, entry.subject),
        (query.person_id, entry.person_id),
        (query.party, entry.party),
        (query.purpose, entry.purpose),
        (query.action, entry.action),
        (query.outcome, entry.outcome),
        (query.event, entry.event),
        (query.case_id, entry.case_id),
    )
    if any(wanted is not None and wanted != actual for wanted, actual in pairs):
        return False
    if query.since is not None and record.time < query.since:
        return False
    return query.until is None or record.time < query.until


class Survey(NamedTuple):
    """Where the stored records start, and what lies outside the chain: the lowest seq >= 1
    (None: no record), the lowest seq below 1, the lowest above the head, and the lowest
    stored tree hash position past the head's tree (each None when there is none)."""

    first_seq: int | None
    below_one: int | None
    past_head: int | None
    tree_past_head: int | None


class AuditStore(Protocol[SessionT_contra]):
    """Where sealed audit records, the chain head and checkpoints live."""

    def append(self, session: SessionT_contra, entries: Sequence[AuditEntry]) -> list[AuditRecord]:
        """Seal and add `entries` at the head, in the caller's transaction (caller commits)."""
        ...

    def head(self, session: SessionT_contra) -> Head:
        """The chain's head as recorded: last seq and hash (0 and genesis when empty)."""
        ...

    def records(
        self,
        session: SessionT_contra,
        *,
        since_seq: int | None = None,
        until_seq: int | None = None,
    ) -> Iterator[AuditRecord]:
        """Records with since_seq <= seq <= until_seq, in seq order, streamed."""
        ...

    def links(
        self,
        session: SessionT_contra,
        *,
        since_seq: int | None = None,
        until_seq: int | None = None,
    ) -> Iterator[Link]:
        """Like `records`, as stored bytes: the fast input of `verify`."""
        ...

    def segments(
        self,
        session: SessionT_contra,
        *,
        since_seq: int | None,
        until_seq: int,
        marks: Collection[int],
        workers: int,
    ) -> list[Segment] | None:
        """The stored records from since_seq (or the first) to until_seq, cut into stretches
        each checked by `verify_segment` (asked for the `marks` in it), by up to `workers` at
        once; None when the store cannot read them so (verify in one pass instead)."""
        ...

    def row_chunks(
        self, session: SessionT_contra, *, since_seq: int, until_seq: int
    ) -> Iterator[Sequence[tuple[Any, ...]]]:
        """Every stored column (`audit.columns.STORED_COLUMNS`) of the records with
        since_seq <= seq <= until_seq, as stored, in seq order, in chunks."""
        ...

    def tree_hash_rows(
        self, session: SessionT_contra, start: int, end: int
    ) -> Sequence[tuple[int, bytes]]:
        """The stored tree hashes (position, hash) at positions start <= idx < end, in order."""
        ...

    def survey(self, session: SessionT_contra, head_seq: int) -> Survey:
        """Where the stored records start, and what lies outside the chain up to `head_seq`."""
        ...

    def add_checkpoint(self, session: SessionT_contra, checkpoint: Checkpoint) -> None:
        """Keep a signed checkpoint with the log (export it elsewhere too)."""
        ...

    def checkpoints(self, session: SessionT_contra) -> list[Checkpoint]:
        """Every kept checkpoint, in seq order."""
        ...

    def query(self, session: SessionT_contra, query: AuditQuery) -> list[AuditRecord]:
        """Records passing the query's filters with seq > after_seq, in seq order."""
        ...


class MemoryAuditStore:
    """An `AuditStore` in memory for unit tests: any session object is accepted and ignored.

    Appends are serialised by a lock; there is no transaction, so nothing is rolled back.
    """

    def __init__(self, clock: Callable[[], datetime] | None = None) -> None:
        self._clock = clock or (lambda: datetime.now(UTC))
        self._lock = threading.Lock()
        self._records: list[AuditRecord] = []
        self._checkpoints: list[Checkpoint] = []
        self._head = Head(0, GENESIS_HASH, None)
        self._tree: list[bytes] = []  # the stored tree hashes, by position

    def append(self, session: object, entries: Sequence[AuditEntry]) -> list[AuditRecord]:
        """Seal and add `entries` at the head."""
        batch = list(entries)
        if not all(isinstance(e, AuditEntry) for e in batch):
            raise AuditWriteError("only AuditEntry objects can be appended")
        with self._lock:
            now = self._clock()
            if self._head.time is not None and now < self._head.time:
                now = self._head.time
            sealed: list[AuditRecord] = []
            prev_hash = self._head.hash
            for seq, entry in enumerate(batch, start=self._head.seq + 1):
                record = seal(entry, seq=seq, prev_hash=prev_hash, time=now)
                sealed.append(record)
                prev_hash = record.hash
            for record in sealed:
                for _, digest in stored_hashes(record.seq - 1, leaf_hash(record.body), self):
                    self._tree.append(digest)  # stored_hashes gives them in position order
            if sealed:
                self._records.extend(sealed)
                self._head = Head(sealed[-1].seq, sealed[-1].hash, now)
            return sealed

    def read_hashes(self, nodes: Sequence[Node]) -> list[bytes]:
        """The stored tree hashes of `nodes` (an `audit.tlog.merkle.HashReader`)."""
        positions = [stored_hash_index(level, index) for level, index in nodes]
        if any(at >= len(self._tree) for at in positions):
            raise HashReaderError("no stored tree hash for a node asked for")
        return [self._tree[at] for at in positions]

    def row_chunks(
        self, session: object, *, since_seq: int, until_seq: int
    ) -> Iterator[list[tuple[Any, ...]]]:
        """The records' columns as the SQL store keeps them (JSON as canonical text)."""
        rows = [_columns(r) for r in self._records if since_seq <= r.seq <= until_seq]
        yield rows

    def tree_hash_rows(self, session: object, start: int, end: int) -> list[tuple[int, bytes]]:
        """The stored tree hashes at positions start <= idx < end."""
        return [(at, self._tree[at]) for at in range(max(start, 0), min(end, len(self._tree)))]

    def survey(self, session: object, head_seq: int) -> Survey:
        """Where the records start; nothing lies outside the chain in memory."""
        first = self._records[0].seq if self._records else None
        edge = stored_hash_count(head_seq)
        return Survey(first, None, None, edge if len(self._tree) > edge else None)

    def head(self, session: object) -> Head:
        """The chain's head."""
        return self._head

    def records(
        self, session: object, *, since_seq: int | None = None, until_seq: int | None = None
    ) -> Iterator[AuditRecord]:
        """Records in [since_seq, until_seq], in seq order."""
        low = since_seq if since_seq is not None else 0
        high = until_seq if until_seq is not None else self._head.seq
        return iter([r for r in self._records if low <= r.seq <= high])

    def links(
        self, session: object, *, since_seq: int | None = None, until_seq: int | None = None
    ) -> Iterator[Link]:
        """Records in [since_seq, until_seq] as stored bytes."""
        for r in self.records(session, since_seq=since_seq, until_seq=until_seq):
            yield Link(r.seq, r.prev_hash, r.hash, r.body)

    def segments(
        self,
        session: object,
        *,
        since_seq: int | None,
        until_seq: int,
        marks: Collection[int],
        workers: int,
    ) -> list[Segment] | None:
        """The records in stretches, `workers` of them, checked one after the other as stored
        stretches are (chain, columns, tree hashes from the stored edge before each)."""
        stored = [r.seq for r in self._records if (since_seq or 0) <= r.seq <= until_seq]
        if not stored:
            return None
        found: list[Segment] = []
        for low, high in seq_ranges(min(stored), until_seq, workers):
            edge = Frontier(low - 1, self.read_hashes(subtree_nodes(0, low - 1)))
            tree = TreeCheck(edge, functools.partial(self.tree_hash_rows, session))
            chunks = self.row_chunks(session, since_seq=low, until_seq=high)
            found.append(verify_stored_segment(chunks, low, high, marks, tree))
        return found

    def add_checkpoint(self, session: object, checkpoint: Checkpoint) -> None:
        """Keep a checkpoint."""
        self._checkpoints.append(checkpoint)

    def checkpoints(self, session: object) -> list[Checkpoint]:
        """Kept checkpoints in seq order."""
        return sorted(self._checkpoints, key=lambda c: (c.seq, c.key_id))

    def query(self, session: object, query: AuditQuery) -> list[AuditRecord]:
        """Records passing the filters after `after_seq`, at most `limit`."""
        found = (r for r in self._records if r.seq > query.after_seq and matches(r, query))
        return [r for _, r in zip(range(query.limit), found, strict=False)]

    def purge_through(self, session: object, seq: int) -> int:
        """Drop records up to and including `seq`; a kept checkpoint at `seq` must anchor it."""
        if not any(c.seq == seq for c in self._checkpoints):
            raise AuditWriteError(f"no kept checkpoint at seq {seq} anchors the purge")
        before = len(self._records)
        self._records = [r for r in self._records if r.seq > seq]
        return before - len(self._records)


def _columns(record: AuditRecord) -> tuple[Any, ...]:
    """A record's stored columns (`audit.columns.STORED_COLUMNS`), as the SQL store keeps them."""
    e = record.entry
    return (
        record.seq,
        record.prev_hash,
        record.hash,
        record.body,
        record.event_id,
        record.time,
        e.event,
        e.action,
        e.outcome,
        e.person_id,
        e.person_name,
        e.on_behalf_of,
        e.role,
        e.party,
        e.client_id,
        e.purpose,
        e.legal_basis,
        e.subject,
        e.case_id,
        canonical_json(dict(e.fields_disclosed)),
        canonical_json(list(e.fields_withheld)),
        e.convenant_hash,
        e.request_id,
        e.source_address,
        canonical_json(dict(e.detail)),
    )


if TYPE_CHECKING:
    _conforms: AuditStore[object] = MemoryAuditStore()
