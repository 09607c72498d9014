"""The one storage interface of the audit log, a small in-memory fake, and `verify_store`.

The caller owns the session and its transaction: it does its own reads and writes, appends the
audit record(s) last, commits, and only then lets data leave. `append` locks the chain's head
inside that transaction, so concurrent appends form one chain; if it fails it rolls the
caller's transaction back and raises `AuditWriteError` (fail closed).

`verify_store` verifies a long window in stretches side by side when the store can read them
so (`segments`: the SQL store in worker processes, each on its own connection) and joins them;
when they do not join into an intact chain it verifies the window again in one pass, in the
caller's session, which names the first bad seq.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Final, Protocol, TypeVar

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from .chain import GENESIS_HASH, Chained, Head, Link, seal
from .checkpoint import Checkpoint
from .errors import AuditEntryError, AuditWriteError
from .record import ACTIONS, OUTCOMES, AuditEntry, AuditRecord
from .segments import Segment, seq_ranges, verify_segment, verify_segments
from .verification import Verification, verify

__all__ = [
    "MAX_QUERY_LIMIT",
    "PARALLEL_FROM",
    "AuditQuery",
    "AuditStore",
    "MemoryAuditStore",
    "matches",
    "verify_store",
]

MAX_QUERY_LIMIT: Final = 1000
# `verify_store` verifies in stretches side by side from this many records on (by default).
PARALLEL_FROM: Final = 100_000
_MAX_WORKERS: Final = 8

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

    def add_checkpoint(self, session: SessionT_contra, checkpoint: Checkpoint) -> None:
        """Keep a signed checkpoint with the log (export it elsewhere too)."""
        ...

    def checkpoints(self, session: SessionT_contra) -> list[Checkpoint]:
        """Every kept checkpoint, in seq order."""
        ...

    def query(self, session: SessionT_contra, query: AuditQuery) -> list[AuditRecord]:
        """Records passing the query's filters with seq > after_seq, in seq order."""
        ...


def verify_store(
    store: AuditStore[SessionT],
    session: SessionT,
    *,
    checkpoints: Iterable[Checkpoint] | None = None,
    public_key: Ed25519PublicKey | Iterable[Ed25519PublicKey] | None = None,
    since_seq: int | None = None,
    deep: bool = False,
    workers: int | None = None,
) -> Verification:
    """Verify the stored chain up to its recorded head, against its checkpoints.

    The kept checkpoints are used unless `checkpoints` are given: pass the ones kept outside
    the database to catch a log rewritten together with its checkpoint table. The fast pass
    hashes the stored bytes; `deep` also re-encodes every record from its columns, so that a
    changed column (what queries filter on) is caught. `since_seq` verifies from there on (a
    checkpoint at since_seq - 1 must anchor it). Checkpoints are read before the head and the
    records only up to that head, so appends committed meanwhile do not disturb the result.

    `workers` stretches are verified side by side (see `AuditStore.segments`); by default as
    many as there are CPUs, from `PARALLEL_FROM` records on; 1 verifies in one pass. Whatever
    the stretches find, the answer is the one-pass answer: intact only if they join into the
    chain the checkpoints and the head vouch for, else the window is verified in one pass.
    """
    kept = list(store.checkpoints(session) if checkpoints is None else checkpoints)
    head = store.head(session)
    window = {"since_seq": since_seq, "until_seq": head.seq}
    result = None
    count = workers if workers is not None else _default_workers(head.seq - (since_seq or 1) + 1)
    if count > 1 and head.seq >= (since_seq or 1):
        marks = {c.seq for c in kept} | {head.seq}
        found = store.segments(
            session, since_seq=since_seq, until_seq=head.seq, marks=marks, workers=count
        )
        if found is not None:
            result = verify_segments(found, kept, public_key, head=head)
    if result is None:
        result = _verify_closing(store.links(session, **window), kept, public_key, head)
    if not deep:
        return result
    if result.is_intact:
        return _verify_closing(store.records(session, **window), kept, public_key, head)
    # The stored bytes break at some seq; a changed column may come earlier: name the first.
    bad = result.first_bad_seq
    if bad is None or bad <= (since_seq or 1):
        return result
    before = [c for c in kept if c.seq < bad]
    early = _verify_closing(
        store.records(session, since_seq=since_seq, until_seq=bad - 1), before, public_key, None
    )
    if not early.is_intact and early.first_bad_seq is not None and early.first_bad_seq < bad:
        return early
    return result


def _default_workers(records: int) -> int:
    """As many as the CPUs this process may use (at most 8) for a long window, else 1."""
    if records < PARALLEL_FROM:
        return 1
    affinity = getattr(os, "sched_getaffinity", None)
    cpus = len(affinity(0)) if affinity is not None else (os.cpu_count() or 1)
    return max(1, min(cpus, _MAX_WORKERS))


def _verify_closing(
    records: Iterator[Chained],
    checkpoints: Sequence[Checkpoint],
    public_key: Ed25519PublicKey | Iterable[Ed25519PublicKey] | None,
    head: Head | None,
) -> Verification:
    """`verify`, then close the record stream (and its database cursor) even if it stopped early."""
    try:
        return verify(records, checkpoints, public_key, head=head)
    finally:
        close = getattr(records, "close", None)
        if close is not None:
            close()


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
            if sealed:
                self._records.extend(sealed)
                self._head = Head(sealed[-1].seq, sealed[-1].hash, now)
            return sealed

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
        """The records in stretches, `workers` of them, checked one after the other."""
        stored = [r.seq for r in self._records if (since_seq or 0) <= r.seq <= until_seq]
        if not stored:
            return None
        return [
            verify_segment(self.links(session, since_seq=low, until_seq=high), low, high, marks)
            for low, high in seq_ranges(min(stored), until_seq, workers)
        ]

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


if TYPE_CHECKING:
    _conforms: AuditStore[object] = MemoryAuditStore()
