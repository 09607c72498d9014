"""Verifying stored records: chain, every column and the stored tree hashes in one pass. Pure.

A store hands verification each record as all its stored columns (`audit.columns`), in seq
order and in chunks, and its stored tree hashes by position (`audit.tree.TreeCheck`). One pass
over them (`verify_rows`) checks, for every record: that it chains to the one before and
matches its hash (`audit.verification`, which also hashes the body into its leaf hash), that
every stored column says what the body says (`audit.columns`), and that the tree hashes it
completes are stored as the leaf hashes give them. The answer names the lowest seq at which
anything is wrong; at one seq a broken chain comes before a tree hash, and a tree hash before a
column (the body itself is the first thing to doubt). Each body is hashed once.

A stretch of records is verified the same way on its own (`verify_stored_segment`, for worker
processes), starting from the tree's right edge as stored before it: every stored hash is
compared by the stretch that holds the record completing it, so when every stretch is sound
the edges they started from were verified too, by the stretches before them.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Collection, Generator, Iterable, Sequence
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from .chain import Head, Link
from .checkpoint import Checkpoint
from .columns import ColumnFinding, column_problem, explain
from .findings import Verification, broken
from .segments import Segment, verify_segment
from .tree import TreeCheck, TreeFinding
from .verification import _checked_points, _keys, _Run

__all__ = ["verify_rows", "verify_stored_segment"]

Row = Sequence[Any]


def _link(row: Row) -> tuple[Any, ...]:
    """The chain's part of a stored row, (seq, prev_hash, hash, body); a value of the wrong
    type becomes one that cannot match, so the chain names the record instead of the hashing
    failing on it."""
    link = tuple(row[:4])
    if type(link[3]) is bytes and type(link[1]) is str and type(link[2]) is str:
        return link
    seq, prev_hash, digest, body = link
    if type(body) is not bytes:
        body = bytes(body) if isinstance(body, bytearray | memoryview) else b""
    return Link(
        seq,
        prev_hash if type(prev_hash) is str else "",
        digest if type(digest) is str else "",
        body,
    )


class _Inspector:
    """Feeds the chain the links of stored rows while checking their columns, and the stored
    tree hashes of the leaf hashes the chain hands back, chunk by chunk. After the first
    finding at seq f it feeds the rows up to f + 2 only: enough for the chain to judge f
    itself (a record changed and rehashed is named through the two after it)."""

    def __init__(
        self, chunks: Iterable[Sequence[Row]], tree: TreeCheck | None, *, deep: bool
    ) -> None:
        self.chunks = iter(chunks)
        self.tree = tree
        self.deep = deep
        self.leaves: list[bytes] = []
        self.column: ColumnFinding | None = None
        self.tree_finding: TreeFinding | None = None
        self.column_prev = self.tree_prev = ""  # the stored links of the findings' records
        self.batch: Sequence[Row] = ()  # the rows whose leaf hashes are waiting

    def links(self) -> Generator[tuple[Any, ...], None, None]:
        check = explain if self.deep else column_problem
        for chunk in self.chunks:
            if self.flush():
                assert self.tree_finding is not None
                yield from self._tail(chunk, self.tree_finding.seq + 2)
                return
            self.batch = chunk
            for index, row in enumerate(chunk):
                problem = check(row)
                yield _link(row)
                if problem is not None:
                    self.column = problem
                    self.column_prev = str(row[1])
                    yield from self._tail(chunk[index + 1 :], row[0] + 2)
                    return
        self.flush()

    def _tail(self, rows: Sequence[Row], last: int) -> Generator[tuple[Any, ...], None, None]:
        """The links of `rows` and the chunks after them, up to seq `last`."""
        for row in itertools.chain(rows, itertools.chain.from_iterable(self.chunks)):
            if row[0] > last:
                return
            yield _link(row)

    def flush(self) -> bool:
        """Check the stored tree hashes of the leaves so far; whether one differs."""
        if self.tree is not None and self.leaves and self.tree_finding is None:
            finding = self.tree.check(self.leaves)
            if finding is not None:
                self.tree_finding = finding
                self.tree_prev = next(
                    (str(row[1]) for row in self.batch if row[0] == finding.seq), ""
                )
        self.leaves.clear()
        return self.tree_finding is not None

    def settle(self, result: Verification, run: _Run) -> Verification:
        """The answer: the lowest seq of the chain's, the tree's and the columns' findings."""
        found: list[tuple[int, int]] = []
        if self.tree_finding is not None:
            found.append((self.tree_finding.seq, 1))
        if self.column is not None:
            found.append((self.column.seq, 2))
        if not result.is_intact:
            if result.first_bad_seq is None:
                return result
            # A checkpoint or the head the chain does not reach bounds a range; a record in it
            # that the tree or its columns give away is the one that was changed.
            bounds_only = result.reason == "checkpoint_mismatch"
            if not (bounds_only and any(seq >= result.first_bad_seq for seq, _ in found)):
                found.append((result.first_bad_seq, 0))
        checked = self.tree.checked if self.tree is not None else 0
        scope: dict[str, Any] = {"columns_checked": True, "tree_hashes_checked": checked}
        if not found or min(found)[1] == 0:
            if result.is_intact and self.tree is not None:
                frontier = self.tree.frontier
                scope.update(tree_size=frontier.size, tree_root=frontier.root().hex())
            return dataclasses.replace(result, **scope)
        seq, kind = min(found)
        if kind == 1:
            assert self.tree_finding is not None
            finding = self.tree_finding
            prev_hash = self.tree_prev
            reason = "tree_hash_missing" if finding.is_missing else "tree_hash_mismatch"
            description, column = f"record {seq}: {finding.describe()}", None
        else:
            assert self.column is not None
            reason, description, column = (
                self.column.reason,
                self.column.description,
                self.column.column,
            )
            prev_hash = self.column_prev
        start = run.start
        matched = (1 if run.anchor else 0) + sum(
            1 for mark in run.marks if mark.is_checkpoint and start <= mark.seq < seq
        )
        failed = broken(
            reason,
            seq,
            description,
            signatures_checked=run.signatures_checked,
            records_checked=seq - start,
            first_seq=start if seq > start else None,
            last_seq=seq - 1 if seq > start else None,
            head_hash=prev_hash or run.last_hash,
            anchor_seq=run.anchor,
            checkpoints_matched=matched,
            column=column,
        )
        return dataclasses.replace(failed, **scope)


def verify_rows(
    chunks: Iterable[Sequence[Row]],
    checkpoints: Iterable[Checkpoint] = (),
    public_key: Ed25519PublicKey | Iterable[Ed25519PublicKey] | None = None,
    *,
    head: Head | None = None,
    tree: TreeCheck | None = None,
    deep: bool = False,
) -> Verification:
    """Verify stored rows (`audit.columns.STORED_COLUMNS`, in seq order) as `verify` verifies
    links, and also every column against the body and, with `tree`, the stored tree hashes;
    `deep` decodes and validates every body instead of comparing the rebuilt bytes."""
    keys = _keys(public_key)
    points = _checked_points(checkpoints, keys)
    if isinstance(points, Verification):
        return points
    run = _Run(points, head, signatures_checked=keys is not None)
    inspector = _Inspector(chunks, tree, deep=deep)
    run.keep = inspector.leaves.append
    links = inspector.links()
    try:
        result = run.verify(links)
    finally:
        links.close()
    inspector.flush()
    return inspector.settle(result, run)


def verify_stored_segment(
    chunks: Iterable[Sequence[Row]], low: int, high: int, marks: Collection[int], tree: TreeCheck
) -> Segment:
    """`verify_segment` over stored rows: sound only if the chain holds, every column says
    what its body says and every tree hash the stretch completes is stored as computed (from
    the stored right edge before `low`)."""
    inspector = _Inspector(chunks, tree, deep=False)
    links = inspector.links()
    try:
        segment = verify_segment(links, low, high, marks, keep=inspector.leaves.append)
        if segment.is_sound and next(links, None) is not None:
            segment = Segment(low, high, is_sound=False)
    finally:
        links.close()
    if inspector.flush() or inspector.column is not None or not segment.is_sound:
        return Segment(low, high, is_sound=False)
    return segment._replace(
        tree_root=tree.frontier.root().hex(), tree_hashes=tree.checked, columns_checked=True
    )
