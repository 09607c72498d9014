"""`verify_store`: the whole truth about a stored log, and what it checked.

In order of seq, what a store's log is checked for:

1. a record stored below seq 1 (`seq_out_of_range`);
2. the purged records 1..p (retention deleted their contents, kept their tree hashes): the kept
   leaf hashes are recomputed into the chain up to each checkpoint among them and must reach
   its hash (`purged_mismatch`), and the tree hashes over them must fit together
   (`tree_hash_mismatch`, `tree_hash_missing`); their content is not checked and not said to
   be (`Verification.purged`);
3. every stored record up to the recorded head: its chain, every column and the tree hashes it
   completes (`audit.stored`), in stretches side by side from `PARALLEL_FROM` records
   (`AuditStore.segments`, joined by `audit.segments.verify_segments`), else, or when they do
   not join into an intact log, in one pass that names the first bad seq;
4. a record stored past the recorded head (`head_mismatch`), a tree hash stored past the head's
   tree (`tree_hash_extra`).

A store that cannot be read gives a finding (`unreadable`), never an exception: whatever the
database holds, verification answers.
"""

from __future__ import annotations

import dataclasses
import functools
import os
from collections.abc import Iterable, Sequence
from typing import Final, TypeVar

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from .chain import GENESIS_HASH, Head, link_hash
from .checkpoint import Checkpoint
from .findings import Verification, broken, unreadable
from .segments import verify_segments
from .store import AuditStore
from .stored import verify_rows
from .tlog.merkle import stored_hash_count, stored_hash_index, subtree_nodes
from .tree import Frontier, HashRows, TreeCheck, TreeFinding, node_seq

__all__ = ["PARALLEL_FROM", "verify_store"]

# `verify_store` verifies in stretches side by side from this many records on (by default).
PARALLEL_FROM: Final = 100_000
_MAX_WORKERS: Final = 8
_PURGED_STEP: Final = 4096  # purged records whose tree hashes are read at once

SessionT = TypeVar("SessionT")


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
    """Verify the stored log up to its recorded head, against its checkpoints; see the module.

    The kept checkpoints are used unless `checkpoints` are given: pass the ones kept outside
    the database to catch a log rewritten together with its checkpoint table. `since_seq`
    verifies from there on (a checkpoint at since_seq - 1 must anchor it; the tree's edge
    before it is taken as stored, so no root is reported). `deep` decodes and validates every
    body instead of comparing the bytes rebuilt from the columns. Checkpoints are read before
    the head and the records only up to that head, so appends committed meanwhile do not
    disturb the result. `workers`: stretches verified side by side (default: the CPUs, from
    `PARALLEL_FROM` records; 1: one pass); the answer is the one-pass answer either way.
    """
    try:
        return _verify(store, session, checkpoints, public_key, since_seq, deep, workers)
    except Exception as exc:  # a store that cannot be read: say so, never raise
        return unreadable(exc, signatures_checked=public_key is not None)


def _verify(
    store: AuditStore[SessionT],
    session: SessionT,
    checkpoints: Iterable[Checkpoint] | None,
    public_key: Ed25519PublicKey | Iterable[Ed25519PublicKey] | None,
    since_seq: int | None,
    deep: bool,
    workers: int | None,
) -> Verification:
    kept = list(store.checkpoints(session) if checkpoints is None else checkpoints)
    head = store.head(session)
    survey = store.survey(session, head.seq)
    signed = public_key is not None
    if survey.below_one is not None:
        return broken(
            "seq_out_of_range",
            survey.below_one,
            f"a record is stored with seq {survey.below_one}, below the first seq 1",
            signatures_checked=signed,
        )
    rows: HashRows = functools.partial(store.tree_hash_rows, session)
    first = since_seq if since_seq is not None else (survey.first_seq or head.seq + 1)
    first = max(1, min(first, head.seq + 1))
    purged = first - 1 if since_seq is None else 0
    if purged:
        check = _verify_purged(rows, purged, kept)
        if isinstance(check, Verification):
            return dataclasses.replace(check, signatures_checked=signed, purged=purged)
        edge: Frontier | TreeFinding = check
    else:
        edge = _stored_edge(rows, first - 1)
    if isinstance(edge, TreeFinding):
        return broken(
            "tree_hash_missing" if edge.is_missing else "tree_hash_mismatch",
            edge.seq,
            f"record {edge.seq}: {edge.describe()}",
            signatures_checked=signed,
        )
    result = _verify_window(store, session, kept, public_key, head, first, edge, deep, workers)
    result = dataclasses.replace(result, purged=purged, purged_checked=bool(purged))
    if since_seq is not None:
        result = dataclasses.replace(result, tree_root=None, tree_size=None)
    if not result.is_intact:
        return result
    return _outside(result, survey.past_head, survey.tree_past_head, head.seq)


def _verify_window(
    store: AuditStore[SessionT],
    session: SessionT,
    kept: Sequence[Checkpoint],
    public_key: Ed25519PublicKey | Iterable[Ed25519PublicKey] | None,
    head: Head,
    first: int,
    edge: Frontier,
    deep: bool,
    workers: int | None,
) -> Verification:
    """The records first..head: in stretches side by side when there are many, else (or when
    the stretches do not join into an intact log) in one pass."""
    count = workers if workers is not None else _default_workers(head.seq - first + 1)
    if count > 1 and not deep and head.seq >= first:
        marks = {c.seq for c in kept} | {head.seq}
        found = store.segments(
            session, since_seq=first, until_seq=head.seq, marks=marks, workers=count
        )
        if found is not None:
            joined = verify_segments(found, kept, public_key, head=head)
            if joined is not None:
                return joined
    tree = TreeCheck(edge, functools.partial(store.tree_hash_rows, session))
    chunks = store.row_chunks(session, since_seq=first, until_seq=head.seq)
    try:
        return verify_rows(chunks, kept, public_key, head=head, tree=tree, deep=deep)
    finally:
        close = getattr(chunks, "close", None)
        if close is not None:
            close()


def _default_workers(records: int) -> int:
    """As many as the CPUs this process may use (at most 8) for a long window, else 1."""
    if records < PARALLEL_FROM:
        return 1
    affinity = getattr(os, "sched_getaffinity", None)
    cpus = len(affinity(0)) if affinity is not None else (os.cpu_count() or 1)
    return max(1, min(cpus, _MAX_WORKERS))


def _stored_edge(rows: HashRows, size: int) -> Frontier | TreeFinding:
    """The right edge of the tree of `size` leaves as stored (or the first hash missing)."""
    hashes: list[bytes] = []
    for level, index in subtree_nodes(0, size):
        position = stored_hash_index(level, index)
        found = dict(rows(position, position + 1)).get(position)
        if found is None or len(found) != 32:
            node, seq = node_seq(position)
            return TreeFinding(seq, node, position, is_missing=found is None)
        hashes.append(found)
    return Frontier(size, hashes)


def _verify_purged(
    rows: HashRows,
    through: int,
    checkpoints: Sequence[Checkpoint],
) -> Frontier | Verification:
    """Records 1..through were purged: recompute the chain over their kept leaf hashes up to
    each checkpoint among them, and check the tree hashes over them fit together. The tree's
    edge after them, or the finding."""
    marks: dict[int, set[str]] = {}
    for cp in checkpoints:
        if cp.seq <= through:
            marks.setdefault(cp.seq, set()).add(cp.head_hash)
    tree = TreeCheck(Frontier(), rows)
    chain = GENESIS_HASH
    confirmed = 0
    for low in range(0, through, _PURGED_STEP):
        high = min(low + _PURGED_STEP, through)
        found = rows(stored_hash_count(low), stored_hash_count(high))
        stored = dict(found)
        leaves: list[bytes] = []
        for index in range(low, high):
            leaf = stored.get(stored_hash_count(index))
            if leaf is None or len(leaf) != 32:
                node, seq = node_seq(stored_hash_count(index))
                what = TreeFinding(seq, node, stored_hash_count(index), is_missing=leaf is None)
                reason = "tree_hash_missing" if leaf is None else "tree_hash_mismatch"
                return _purged_broken(
                    what.seq, f"record {what.seq}: {what.describe()}", tree, reason
                )
            leaves.append(leaf)
        tree.rows = functools.partial(_answer, found)  # the rows read: no second read
        finding = tree.check(leaves)
        if finding is not None:
            reason = "tree_hash_missing" if finding.is_missing else "tree_hash_mismatch"
            return _purged_broken(
                finding.seq, f"record {finding.seq}: {finding.describe()}", tree, reason
            )
        for seq, leaf in enumerate(leaves, start=low + 1):
            chain = link_hash(chain, leaf)
            if seq in marks:
                if marks[seq] != {chain}:
                    return _purged_broken(
                        confirmed + 1,
                        f"the kept leaf hashes of the purged records {confirmed + 1}..{seq} do "
                        f"not chain to the checkpoint at seq {seq}",
                        tree,
                        "purged_mismatch",
                    )
                confirmed = seq
    return tree.frontier


def _answer(rows: Sequence[tuple[int, bytes]], start: int, end: int) -> Sequence[tuple[int, bytes]]:
    return rows


def _purged_broken(seq: int, description: str, tree: TreeCheck, reason: str) -> Verification:
    return dataclasses.replace(
        broken(reason, seq, description, signatures_checked=False),
        tree_hashes_checked=tree.checked,
    )


def _outside(
    result: Verification, past_head: int | None, tree_past_head: int | None, head_seq: int
) -> Verification:
    """An intact `result`, unless a record or a tree hash lies past the recorded head."""
    if past_head is not None:
        description = (
            f"record {past_head} is stored past the recorded head {head_seq}: it was added "
            "outside the log's append, or the head was moved back"
        )
        return dataclasses.replace(
            result,
            is_intact=False,
            first_bad_seq=past_head,
            reason="head_mismatch",
            description=description,
        )
    if tree_past_head is not None:
        (level, index), seq = node_seq(tree_past_head)
        return dataclasses.replace(
            result,
            is_intact=False,
            first_bad_seq=seq,
            reason="tree_hash_extra",
            description=(
                f"a tree hash is stored at position {tree_past_head} (node {level}/{index}, "
                f"completed by record {seq}), past the tree of the recorded head {head_seq}"
            ),
        )
    return result
