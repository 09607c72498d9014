"""Verifying a long chain in stretches, side by side, and joining them. Pure, no I/O.

A long chain can be verified in stretches, side by side: `verify_segment` checks one stretch
low..high on its own (every seq once, in order, each record chained to the one before and
matching its hash) and notes the hashes at the checkpoints' and the head's seqs;
`verify_segments` then joins the stretches (each must chain to the end of the one before),
anchors the first as `verify` does and checks the marks. It answers only "intact", with the
very `Verification` that `verify` gives for the same records; anything else is None, and the
caller runs `verify` to name the first bad seq. `seq_ranges` cuts a window into stretches.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Callable, Iterable
from typing import NamedTuple

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from .chain import Head, Link, _advance
from .checkpoint import Checkpoint
from .verification import Verification, _checked_points, _keys, _Mark, _Run

__all__ = ["Segment", "seq_ranges", "verify_segment", "verify_segments"]


class Segment(NamedTuple):
    """What `verify_segment` found in the stretch low..high of a chain, verified on its own.

    `is_sound`: every seq low..high came once and in order, each record chained to the one
    before it and matched its hash. Then `prev_hash` is the first record's stored link (not
    checked here: joining checks it), `hash` the last record's hash and `marked` the hash at
    each seq asked for. A stretch of stored records (`audit.stored.verify_stored_segment`) is
    sound only if its columns and tree hashes are too, and says the tree's root after it and
    how many stored tree hashes it compared.
    """

    low: int
    high: int
    is_sound: bool
    prev_hash: str = ""
    hash: str = ""
    marked: tuple[tuple[int, str], ...] = ()
    tree_root: str | None = None  # stored stretches: the root after high, and hashes compared
    tree_hashes: int = 0
    columns_checked: bool = False


def seq_ranges(low: int, high: int, parts: int) -> list[tuple[int, int]]:
    """low..high cut into at most `parts` contiguous stretches of (nearly) equal length."""
    count = high - low + 1
    if count <= 0:
        return []
    parts = max(1, min(parts, count))
    size, extra = divmod(count, parts)
    ranges: list[tuple[int, int]] = []
    start = low
    for part in range(parts):
        end = start + size - 1 + (part < extra)
        ranges.append((start, end))
        start = end + 1
    return ranges


def verify_segment(
    links: Iterable[tuple[int, str, str, bytes]],
    low: int,
    high: int,
    marks: Iterable[int] = (),
    *,
    keep: Callable[[bytes], object] | None = None,
) -> Segment:
    """Verify the stretch low..high on its own, from stored links in seq order (`Link`s or
    plain (seq, prev_hash, hash, body) rows); note the hash at each seq of `marks` in it, and
    hand each accepted record's leaf hash to `keep`. Stops at the first link out of place
    (then not sound)."""
    unsound = Segment(low, high, is_sound=False)
    stream = iter(links)
    first = next(stream, None)
    if first is None or first[0] != low or high < low:
        return unsound
    wanted = {seq for seq in marks if low <= seq <= high}
    marked: list[tuple[int, str]] = []
    rest = itertools.chain((first,), stream)
    expected, last_hash, previous = low, first[1], first
    for until in sorted(wanted | {high}):
        try:
            stop = _advance(rest, expected, last_hash, previous, until, keep)
        except ValueError:  # a stored link that is not a hash at all
            return unsound
        if stop.culprit is not None or stop.expected != until + 1:
            return unsound
        expected, last_hash, previous = stop.expected, stop.last_hash, stop.previous
        if until in wanted:
            marked.append((until, last_hash))
    if next(rest, None) is not None:
        return unsound
    return Segment(low, high, True, first[1], last_hash, tuple(marked))


def verify_segments(
    segments: Iterable[Segment],
    checkpoints: Iterable[Checkpoint] = (),
    public_key: Ed25519PublicKey | Iterable[Ed25519PublicKey] | None = None,
    *,
    head: Head | None = None,
) -> Verification | None:
    """Join verified stretches into one chain: the `Verification` that `verify` gives over the
    same records when it is intact, else None (run `verify` to name the first bad seq).

    Each stretch must be sound and chain to the end of the one before, without a gap; the
    first must start at genesis or right after a checkpoint; every checkpoint and the head
    must match the hash at its seq (each stretch asked for the marks in it), and nothing may
    be missing at the end.
    """
    keys = _keys(public_key)
    points = _checked_points(checkpoints, keys)
    ordered = sorted(segments, key=lambda segment: segment.low)
    if isinstance(points, Verification) or not ordered:
        return None
    for before, after in itertools.pairwise(ordered):
        if after.low != before.high + 1 or after.prev_hash != before.hash:
            return None
    if not all(segment.is_sound for segment in ordered):
        return None
    run = _Run(points, head, signatures_checked=keys is not None)
    first = ordered[0]
    if run.anchor_start(Link(first.low, first.prev_hash, "", b"")) is not None:
        return None
    last = ordered[-1]
    hashes = {seq: digest for segment in ordered for seq, digest in segment.marked}
    remaining: list[_Mark] = []
    for mark in run.marks:
        if mark.seq < run.start:
            continue
        if mark.seq > last.high:
            remaining.append(mark)
        elif hashes.get(mark.seq) != mark.hash:
            return None
        else:
            run.matched += mark.is_checkpoint
            run.confirmed = mark.seq
    run.reached(last.high + 1, last.hash)
    result = run.check_end(remaining)
    if not result.is_intact:
        return None
    if all(segment.columns_checked for segment in ordered):
        result = dataclasses.replace(
            result,
            columns_checked=True,
            tree_hashes_checked=sum(segment.tree_hashes for segment in ordered),
            tree_size=last.high,
            tree_root=last.tree_root,
        )
    return result
