"""Verifying a chain in one pass: `verify` and its answer, a `Verification`. Pure, no I/O.

Verification takes any iterable of records in seq order — stored `Link` rows (the bytes as
they were hashed, fast) or `AuditRecord`s (re-encoded from their fields) — and keeps O(1)
state besides the checkpoints.

What `verify` names as `first_bad_seq`: a changed record, its seq; a removed record, its seq
(with or without the rest renumbered); an inserted record, its seq; two swapped records, the
first of them; a record changed and rehashed, its seq, because the record after it still
vouches for the original (the last record through the head or a checkpoint). Limits, by
construction of any hash chain: a log rewritten and rehashed from some record on is caught
only by a checkpoint (or head) kept elsewhere, and then named as the range since the last
matching checkpoint; records after the last checkpoint can be cut off unseen by someone who
also rewrites the head row. Sign checkpoints often and keep them outside the database.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any, NamedTuple

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from .chain import GENESIS_HASH, Chained, Head, Link, _advance, chain_hash
from .checkpoint import Checkpoint, verify_checkpoint
from .findings import REASONS, Verification, broken
from .record import ENCODING_PREFIX

__all__ = ["REASONS", "Verification", "verify"]


class _Mark(NamedTuple):
    seq: int
    hash: str
    what: str
    is_checkpoint: bool


def _keys(
    public_key: Ed25519PublicKey | Iterable[Ed25519PublicKey] | None,
) -> list[Ed25519PublicKey] | None:
    if public_key is None:
        return None
    if isinstance(public_key, Ed25519PublicKey):
        return [public_key]
    return list(public_key)


def verify(
    records: Iterable[Chained],
    checkpoints: Iterable[Checkpoint] = (),
    public_key: Ed25519PublicKey | Iterable[Ed25519PublicKey] | None = None,
    *,
    head: Head | None = None,
) -> Verification:
    """Check a chain (in seq order) against checkpoints and, if given, the recorded head.

    With `public_key` every checkpoint must carry a valid signature by (one of) the key(s);
    without it the checkpoints are taken as given. Stops at the first bad seq.
    """
    keys = _keys(public_key)
    points = _checked_points(checkpoints, keys)
    if isinstance(points, Verification):
        return points
    run = _Run(points, head, signatures_checked=keys is not None)
    return run.verify(iter(records))


def _checked_points(
    checkpoints: Iterable[Checkpoint], keys: list[Ed25519PublicKey] | None
) -> list[Checkpoint] | Verification:
    """The checkpoints in seq order, or why they cannot be used (a bad signature, a conflict)."""
    points = sorted(checkpoints, key=lambda c: c.seq)
    by_seq: dict[int, str] = {}
    for cp in points:
        if keys is not None and not verify_checkpoint(cp, keys):
            return broken(
                "checkpoint_signature",
                None,
                f"checkpoint at seq {cp.seq} (key {cp.key_id}) is not validly signed by a "
                "trusted key",
                signatures_checked=True,
            )
        if by_seq.setdefault(cp.seq, cp.head_hash) != cp.head_hash:
            return broken(
                "checkpoint_conflict",
                cp.seq,
                f"two checkpoints at seq {cp.seq} name different head hashes",
                signatures_checked=keys is not None,
            )
    return points


def _body_seq(body: bytes) -> int | None:
    """The seq written inside the stored bytes (None when they cannot be read)."""
    if not body.startswith(ENCODING_PREFIX):
        return None
    try:
        value = json.loads(body[len(ENCODING_PREFIX) :]).get("seq")
    except (ValueError, AttributeError):
        return None
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _as_link(record: Chained | tuple[Any, ...]) -> Link:
    """`record` as a `Link` (re-encoded when it is an `AuditRecord`; a plain stored row
    (seq, prev_hash, hash, body) as it is)."""
    if type(record) is Link:
        return record
    if type(record) is tuple:
        return Link._make(record)
    assert not isinstance(record, tuple)
    return Link(record.seq, record.prev_hash, record.hash, record.body)


def _self_consistent(record: Chained) -> bool:
    try:
        return chain_hash(record.prev_hash, record.body) == record.hash
    except (ValueError, TypeError):
        return False


class _Run:
    """One verification pass; the hot loop lives in `verify`, the rare paths in helpers."""

    def __init__(
        self, points: Sequence[Checkpoint], head: Head | None, *, signatures_checked: bool
    ) -> None:
        self.points = points
        self.head = head
        self.signatures_checked = signatures_checked
        marks = [_Mark(cp.seq, cp.head_hash, f"checkpoint {cp.seq}", True) for cp in points]
        if head is not None:
            marks.append(_Mark(head.seq, head.hash, f"recorded head {head.seq}", False))
        self.marks = sorted(marks, key=lambda m: m.seq)
        self.start = 0
        self.anchor = 0
        self.checked = 0
        self.matched = 0
        self.confirmed = 0
        self.last_seq: int | None = None
        self.last_hash = GENESIS_HASH
        self.keep: Callable[[bytes], object] | None = None  # takes each accepted leaf hash

    def fail(self, reason: str, first_bad_seq: int | None, description: str) -> Verification:
        return broken(
            reason,
            first_bad_seq,
            description,
            signatures_checked=self.signatures_checked,
            records_checked=self.checked,
            first_seq=self.start or None,
            last_seq=self.last_seq,
            head_hash=self.last_hash,
            anchor_seq=self.anchor,
            checkpoints_matched=self.matched,
        )

    def intact(self) -> Verification:
        return Verification(
            is_intact=True,
            records_checked=self.checked,
            first_seq=self.start or None,
            last_seq=self.last_seq,
            head_hash=self.last_hash,
            anchor_seq=self.anchor,
            checkpoints_matched=self.matched,
            signatures_checked=self.signatures_checked,
        )

    def verify(self, records: Iterator[Any]) -> Verification:
        """Verify `records` in seq order: `Chained` records, or plain stored rows (seq,
        prev_hash, hash, body), which the hot loop takes as they come."""
        given: Any = next(records, None)
        if given is None:
            return self.verify_empty()
        first = _as_link(given)
        problem = self.anchor_start(first)
        if problem is not None:
            return problem
        marks = [m for m in self.marks if m.seq >= self.start]
        mark_index = 0
        rest = itertools.chain((given,), records)
        stream: Iterator[Any] = rest if isinstance(given, tuple) else map(_as_link, rest)
        expected, last_hash = self.start, first.prev_hash
        previous: Any = first
        while True:
            until = marks[mark_index].seq if mark_index < len(marks) else -1
            stop = _advance(stream, expected, last_hash, previous, until, self.keep)
            expected, last_hash, previous = stop.expected, stop.last_hash, stop.previous
            if stop.culprit is not None:
                self.reached(expected, last_hash)
                if stop.is_hash_mismatch:
                    return self.fail(
                        "hash_mismatch",
                        expected,
                        f"record {expected} was altered: its content does not match its hash",
                    )
                return self.diagnose(
                    _as_link(stop.culprit), _as_link(previous), expected, stream, marks, mark_index
                )
            if expected != until + 1:
                break  # the records ended
            while mark_index < len(marks) and marks[mark_index].seq == until:
                mark = marks[mark_index]
                if mark.hash != last_hash:
                    # A tampering local to this record shows in the next one; a chain
                    # rewritten from some record on does not, and the mark only bounds it.
                    following = next(stream, None)
                    successor = None if following is None else _as_link(following)
                    if successor is not None and (
                        successor.seq != expected or successor.prev_hash != last_hash
                    ):
                        self.reached(expected, last_hash)
                        return self.diagnose(
                            successor, _as_link(previous), expected, stream, marks, mark_index
                        )
                    self.reached(until, _as_link(previous).prev_hash)
                    return self.fail(
                        "checkpoint_mismatch",
                        self.confirmed + 1,
                        f"the chain at seq {until} does not match {mark.what}: a record "
                        f"in seq {self.confirmed + 1}..{until} was changed and the chain "
                        "recomputed after it",
                    )
                self.matched += mark.is_checkpoint
                self.confirmed = until
                mark_index += 1
        self.reached(expected, last_hash)
        return self.check_end(marks[mark_index:])

    def reached(self, expected: int, last_hash: str) -> None:
        """Note how far the chain verified: every seq before `expected`, ending in `last_hash`."""
        self.checked = expected - self.start
        self.last_seq = expected - 1 if expected > self.start else None
        self.last_hash = last_hash

    def anchor_start(self, first: Chained) -> Verification | None:
        """Accept the first record if it starts at genesis or right after a checkpoint."""
        self.start = first.seq
        if first.seq == 1 and first.prev_hash == GENESIS_HASH:
            return None
        if first.seq > 1:
            for cp in self.points:
                if cp.seq == first.seq - 1 and cp.head_hash == first.prev_hash:
                    self.anchor = self.confirmed = cp.seq
                    self.matched += 1
                    return None
        self.start = 0
        stored_seq = _body_seq(first.body)
        if stored_seq is not None and stored_seq != first.seq:
            return self.fail(
                "renumbered",
                min(stored_seq, first.seq),
                f"the first record, at seq {first.seq}, was written as seq {stored_seq}",
            )
        below = [cp.seq for cp in self.points if cp.seq < first.seq - 1]
        missing_from = (max(below) + 1) if below else 1
        if first.seq == 1 or any(cp.seq == first.seq - 1 for cp in self.points):
            missing_from = first.seq
        if missing_from == first.seq:
            return self.fail(
                "unanchored_start",
                first.seq,
                f"record {first.seq} chains neither to genesis nor to the checkpoint before it",
            )
        return self.fail(
            "unanchored_start",
            missing_from,
            f"the log starts at seq {first.seq} but no checkpoint anchors it: records "
            f"{missing_from}..{first.seq - 1} are missing",
        )

    def verify_empty(self) -> Verification:
        """No records: intact only if nothing vouches for records that should be there."""
        if not self.marks or self.marks[-1].seq == 0:
            return self.intact()
        top = self.marks[-1].seq
        anchors = [cp for cp in self.points if cp.seq == top]
        head_agrees = self.head is None or (
            self.head.seq == top and all(cp.head_hash == self.head.hash for cp in anchors)
        )
        if anchors and head_agrees:
            self.anchor = self.confirmed = top
            self.last_hash = anchors[0].head_hash
            return self.intact()
        below = [cp.seq for cp in self.points if cp.seq < top]
        missing_from = (max(below) + 1) if below else 1
        return self.fail(
            "truncated",
            missing_from,
            f"the log is empty but {self.marks[-1].what} vouches for records up to seq {top}",
        )

    def check_end(self, remaining: Sequence[_Mark]) -> Verification:
        last = self.last_seq if self.last_seq is not None else self.start - 1
        if remaining:
            mark = remaining[0]
            return self.fail(
                "truncated",
                last + 1,
                f"the log ends at seq {last} but {mark.what} vouches for seq {mark.seq}: "
                f"records from {last + 1} are missing",
            )
        if self.head is not None and self.head.seq < last:
            return self.fail(
                "head_mismatch",
                self.head.seq + 1,
                f"the log goes on to seq {last} past its recorded head {self.head.seq}",
            )
        return self.intact()

    def diagnose(
        self,
        record: Chained,
        previous: Chained,
        expected: int,
        rest: Iterator[Any],
        marks: Sequence[_Mark],
        mark_index: int,
    ) -> Verification:
        """Name the culprit of a seq or link anomaly at `expected` (rare path)."""
        if record.seq > expected:
            return self.fail(
                "sequence_gap",
                expected,
                f"record {expected} is missing: seq {record.seq} follows {expected - 1} "
                "(removed, or moved out of order)",
            )
        if record.seq < expected:
            return self.fail(
                "sequence_repeat",
                record.seq,
                f"seq {record.seq} comes again after {expected - 1} (a record was "
                "inserted, duplicated or moved)",
            )
        stored_seq = _body_seq(record.body)
        if stored_seq is not None and stored_seq > record.seq:
            return self.fail(
                "renumbered",
                record.seq,
                f"the record at seq {record.seq} was written as seq {stored_seq}: records "
                "before it were removed or moved and the rest renumbered",
            )
        if stored_seq is not None and stored_seq < record.seq:
            first_bad = max(stored_seq, self.start)
            return self.fail(
                "renumbered",
                first_bad,
                f"the record at seq {record.seq} was written as seq {stored_seq}: a record "
                f"was inserted at seq {first_bad} and the rest renumbered",
            )
        # The seq is right but the link is not: `previous` was altered and rehashed, or
        # `record`'s link was. Whichever the rest of the chain vouches for is authentic.
        vouched = False
        if _self_consistent(record):
            following = next(rest, None)
            successor = None if following is None else _as_link(following)
            if successor is not None:
                vouched = (
                    successor.seq == record.seq + 1
                    and successor.prev_hash == record.hash
                    and _self_consistent(successor)
                )
            else:
                vouched = any(
                    m.seq == record.seq and m.hash == record.hash for m in marks[mark_index:]
                )
        if vouched and previous.seq > self.confirmed:
            return self.fail(
                "broken_link",
                previous.seq,
                f"record {previous.seq} was altered and rehashed (or replaced): record "
                f"{record.seq} chains to another hash",
            )
        return self.fail(
            "broken_link",
            record.seq,
            f"record {record.seq} does not chain to record {previous.seq}",
        )
