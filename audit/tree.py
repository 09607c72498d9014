"""The log's Merkle tree as the store keeps it: its right edge, the hashes each appended record
adds, and the check of stored hashes against the bodies. Pure, no I/O.

The tree is RFC 9162's (`audit.tlog.merkle`): the leaf with index seq − 1 is the record's
canonical bytes (its `body`), so a record's leaf hash is SHA-256(0x00 ‖ body). A store keeps
every complete subtree hash (`stored_hashes`: on average just under two per record) in one
sequence numbered as golang.org/x/mod/sumdb/tlog numbers it (`stored_hash_index`): the hashes
a record adds are the next ones in that sequence, so the hashes of records a..b−1 are exactly
the positions stored_hash_count(a) .. stored_hash_count(b) − 1. From those, the root, an
inclusion proof or a consistency proof at any size up to the head is a fold of at most
2·log2(size) stored hashes, read in one go (`audit.tlog.merkle.tree_hash`,
`inclusion_proof`, `consistency_proof` over the store's `HashReader`).

`Frontier` is the tree's right edge (the complete subtrees of its first `size` leaves, largest
first): what appending needs, and what a verification that starts anywhere but at leaf 0
takes from the store. `TreeCheck` recomputes the hashes records add and compares them with the
stored ones, naming the seq of the first that differs.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Final, NamedTuple

from .tlog.merkle import (
    EMPTY_ROOT,
    Node,
    node_hash,
    split_stored_hash_index,
    stored_hash_count,
    stored_hash_index,
    subtree_nodes,
)

__all__ = ["Frontier", "HashRows", "TreeCheck", "TreeFinding", "frontier_indexes", "node_seq"]

HASH_SIZE: Final = 32

# What a store answers for the stored hashes at positions [start, end): (position, hash) rows
# in position order; positions with no row are missing.
HashRows = Callable[[int, int], Sequence[tuple[int, bytes]]]


def frontier_indexes(size: int) -> list[int]:
    """Where the store keeps the hashes of the right edge of the tree of `size` leaves."""
    return [stored_hash_index(level, index) for level, index in subtree_nodes(0, size)]


def node_seq(position: int) -> tuple[Node, int]:
    """The node stored at `position` and the seq of the record that completed it."""
    level, index = split_stored_hash_index(position)
    return (level, index), (index + 1) << level


class Frontier:
    """The right edge of a tree of `size` leaves: the hashes of `subtree_nodes(0, size)`."""

    __slots__ = ("hashes", "size")

    def __init__(self, size: int = 0, hashes: Iterable[bytes] = ()) -> None:
        self.size = size
        self.hashes = list(hashes)
        if len(self.hashes) != size.bit_count():
            raise ValueError(f"a tree of {size} leaves has {size.bit_count()} edge hashes")

    def extend(self, leaves: Iterable[bytes]) -> list[bytes]:
        """Append the leaf hashes; the hashes the store keeps for them, in its order.

        For each leaf: the leaf itself, then each subtree it completes, lowest first (the
        order of `audit.tlog.merkle.stored_hashes`).
        """
        stored: list[bytes] = []
        keep = stored.append
        edge = self.hashes
        pop = edge.pop
        push = edge.append
        size = self.size
        for leaf in leaves:
            keep(leaf)
            current = leaf
            completes = size
            while completes & 1:
                current = node_hash(pop(), current)
                keep(current)
                completes >>= 1
            push(current)
            size += 1
        self.size = size
        return stored

    def root(self) -> bytes:
        """MTH of the first `size` leaves (RFC 9162 §2.1.1)."""
        if not self.hashes:
            return EMPTY_ROOT
        result = self.hashes[-1]
        for left in reversed(self.hashes[:-1]):
            result = node_hash(left, result)
        return result

    def copy(self) -> Frontier:
        """An independent copy."""
        return Frontier(self.size, self.hashes)


class TreeFinding(NamedTuple):
    """A stored hash that is not what the bodies give: the seq of the record that completed
    the node, the node, its position, and whether it is missing or differs."""

    seq: int
    node: Node
    position: int
    is_missing: bool

    def describe(self) -> str:
        """What was found, in words."""
        level, index = self.node
        first, last = (index << level) + 1, (index + 1) << level
        what = "is missing" if self.is_missing else "differs from the hash of its records"
        span = f"record {first}" if first == last else f"records {first}..{last}"
        return (
            f"the stored tree hash at position {self.position} (node {level}/{index}, over "
            f"{span}) {what}"
        )


class TreeCheck:
    """Compare the hashes the store keeps for a run of records with those their bodies give.

    Starts from the tree's right edge before the run (`frontier`); `check(leaves)` takes the
    next leaf hashes in seq order, reads the stored hashes for them through `rows` and returns
    the first that differs (or None). `checked` counts the stored hashes compared and found
    equal.
    """

    def __init__(self, frontier: Frontier, rows: HashRows) -> None:
        self.frontier = frontier
        self.rows = rows
        self.checked = 0

    def check(self, leaves: Sequence[bytes]) -> TreeFinding | None:
        """Extend the tree by `leaves` and compare what the store keeps for them."""
        if not leaves:
            return None
        start = stored_hash_count(self.frontier.size)
        expected = self.frontier.extend(leaves)
        end = start + len(expected)
        found = self.rows(start, end)
        if (
            len(found) == len(expected)
            and found
            and found[0][0] == start
            and found[-1][0] == end - 1
            and [digest for _, digest in found] == expected
        ):
            self.checked += len(expected)
            return None
        return self._first_difference(start, expected, found)

    def _first_difference(
        self, start: int, expected: Sequence[bytes], found: Sequence[tuple[int, bytes]]
    ) -> TreeFinding:
        stored = dict(found)
        for offset, digest in enumerate(expected):
            position = start + offset
            value = stored.get(position)
            if value != digest:
                node, seq = node_seq(position)
                return TreeFinding(seq, node, position, is_missing=value is None)
            self.checked += 1
        # Not reached: equal counts, bounds and hashes would have passed above. Say so anyway
        # rather than fail: rows the store should not have answered.
        node, seq = node_seq(start)
        return TreeFinding(seq, node, start, is_missing=False)
