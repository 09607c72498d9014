"""The RFC 9162 §2.1 (= RFC 6962 §2.1, c2sp.org/merkle-tree) Merkle tree, hashes and proofs.

Hashing: a leaf is SHA-256(0x00 ‖ entry), an interior node SHA-256(0x01 ‖ left ‖ right), and
the tree of n entries splits at k, the largest power of two below n (MTH, §2.1.1); the empty
tree's hash is SHA-256 of the empty string.

Verification (`verify_inclusion`, §2.1.3.2; `verify_consistency`, §2.1.4.2) needs nothing but
sizes, hashes and the proof, and answers False — never raises — for anything that does not
verify, including hashes of the wrong length and impossible sizes. The cases m = 0 and m = n of
a consistency proof (which RFC 9162 leaves to the caller) are handled as c2sp.org/merkle-tree
says: the proof must be empty, and for m = n the two roots must be equal.

Generation works without the leaves in memory. A tree is addressed by complete subtrees: node
`(level, index)` is the hash of the 2**level leaves from index·2**level on. Every hash a proof
or a root needs is the hash of such a node or a fold of a few of them, so the functions here
first work out which nodes they need, ask a `HashReader` for all of them in one call, and fold.
A store keeps, for each appended leaf, the leaf hash and the hashes of the subtrees that leaf
completes (`stored_hashes`, on average just under two per leaf); `stored_hash_index` numbers
those nodes densely in the order they are written (the ordering of Crosby and Wallach §3.3, as
golang.org/x/mod/sumdb/tlog uses), for a store that keeps them in one sequence.
`MemoryHashStore` is the in-memory store.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Iterable, Sequence
from typing import Final, Protocol

from .errors import HashReaderError, ProofRequestError

__all__ = [
    "EMPTY_ROOT",
    "HASH_SIZE",
    "CallableHashReader",
    "HashReader",
    "MemoryHashStore",
    "Node",
    "consistency_proof",
    "inclusion_proof",
    "leaf_hash",
    "merkle_tree_hash",
    "node_hash",
    "root_from_inclusion_proof",
    "split_stored_hash_index",
    "stored_hash_count",
    "stored_hash_index",
    "stored_hashes",
    "subtree_nodes",
    "tree_hash",
    "verify_consistency",
    "verify_inclusion",
]

HASH_SIZE: Final = 32
EMPTY_ROOT: Final = hashlib.sha256(b"").digest()

Node = tuple[int, int]
"""A complete subtree: (level, index) covers leaves [index·2**level, (index+1)·2**level)."""


def leaf_hash(entry: bytes) -> bytes:
    """The hash of one entry as a leaf: SHA-256(0x00 ‖ entry)."""
    return hashlib.sha256(b"\x00" + entry).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """The hash of an interior node: SHA-256(0x01 ‖ left ‖ right)."""
    return hashlib.sha256(b"\x01" + left + right).digest()


def _split(n: int) -> int:
    """k: the largest power of two smaller than n (n ≥ 2)."""
    return 1 << ((n - 1).bit_length() - 1)


def merkle_tree_hash(leaf_hashes: Sequence[bytes]) -> bytes:
    """MTH over the given leaf hashes, by the recursion of RFC 9162 §2.1.1."""

    def mth(lo: int, hi: int) -> bytes:
        if hi - lo == 1:
            return leaf_hashes[lo]
        k = _split(hi - lo)
        return node_hash(mth(lo, lo + k), mth(lo + k, hi))

    return EMPTY_ROOT if not leaf_hashes else mth(0, len(leaf_hashes))


# ---------------------------------------------------------------------------------------------
# Verification (RFC 9162 §2.1.3.2 and §2.1.4.2)
# ---------------------------------------------------------------------------------------------


def _is_hash(value: object) -> bool:
    return isinstance(value, bytes) and len(value) == HASH_SIZE


def _is_size(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def root_from_inclusion_proof(
    index: int, size: int, leaf: bytes, proof: Sequence[bytes]
) -> bytes | None:
    """The root that `proof` implies for leaf hash `leaf` at `index` in a tree of `size`.

    None when the proof cannot be run at all: index ≥ size, a proof too long or too short for
    the tree's shape, or anything that is not a 32-byte hash.
    """
    if not (_is_size(index) and _is_size(size) and index < size and _is_hash(leaf)):
        return None
    if not all(_is_hash(p) for p in proof):
        return None
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            return None
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            r = node_hash(r, p)
        fn, sn = fn >> 1, sn >> 1
    return r if sn == 0 else None


def verify_inclusion(
    leaf: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes
) -> bool:
    """Whether `proof` shows leaf hash `leaf` at `index` in the tree of `size` with `root`."""
    found = root_from_inclusion_proof(index, size, leaf, proof)
    return found is not None and _is_hash(root) and hmac.compare_digest(found, root)


def verify_consistency(
    old_size: int, new_size: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]
) -> bool:
    """Whether `proof` shows the tree (`old_size`, `old_root`) is a prefix of (`new_size`, …)."""
    if not (_is_size(old_size) and _is_size(new_size) and old_size <= new_size):
        return False
    if not (_is_hash(old_root) and _is_hash(new_root) and all(_is_hash(p) for p in proof)):
        return False
    if old_size == new_size:
        return not proof and hmac.compare_digest(old_root, new_root)
    if old_size == 0:
        return not proof
    if not proof:
        return False
    path = list(proof)
    if old_size & (old_size - 1) == 0:
        path.insert(0, old_root)
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn, sn = fn >> 1, sn >> 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr, sr = node_hash(c, fr), node_hash(c, sr)
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            sr = node_hash(sr, c)
        fn, sn = fn >> 1, sn >> 1
    return sn == 0 and hmac.compare_digest(fr, old_root) and hmac.compare_digest(sr, new_root)


# ---------------------------------------------------------------------------------------------
# Generation over stored subtree hashes
# ---------------------------------------------------------------------------------------------


class HashReader(Protocol):
    """Where the hashes of complete subtrees are kept (a database table, a dict, tiles)."""

    def read_hashes(self, nodes: Sequence[Node]) -> Sequence[bytes]:
        """The hashes of `nodes`, in order; every node asked for is complete and stored."""
        ...


class CallableHashReader:
    """A `HashReader` over a function (level, index) → hash, called once per node."""

    def __init__(self, read: Callable[[int, int], bytes]) -> None:
        self._read = read

    def read_hashes(self, nodes: Sequence[Node]) -> list[bytes]:
        """Each node's hash, read one by one."""
        return [self._read(level, index) for level, index in nodes]


def subtree_nodes(lo: int, hi: int) -> list[Node]:
    """The complete subtrees whose fold is MTH of leaves [lo, hi), largest (leftmost) first.

    The range is one that occurs in the RFC's recursion: `lo` is a multiple of the largest
    power of two not above hi − lo, so each piece is a complete subtree.
    """
    nodes: list[Node] = []
    while lo < hi:
        level = (hi - lo).bit_length() - 1
        if lo & ((1 << level) - 1):
            raise ProofRequestError(f"leaves [{lo}, {hi}) are not a subtree of an RFC 9162 tree")
        nodes.append((level, lo >> level))
        lo += 1 << level
    return nodes


def _fold(hashes: Sequence[bytes]) -> bytes:
    """MTH of a range from its complete subtrees (left to right): fold from the right."""
    result = hashes[-1]
    for left in reversed(hashes[:-1]):
        result = node_hash(left, result)
    return result


def _read(reader: HashReader, nodes: Sequence[Node]) -> list[bytes]:
    if not nodes:
        return []
    hashes = list(reader.read_hashes(nodes))
    if len(hashes) != len(nodes):
        raise HashReaderError(f"asked for {len(nodes)} hashes, got {len(hashes)}")
    if not all(_is_hash(h) for h in hashes):
        raise HashReaderError("the hash store returned a value that is not a 32-byte hash")
    return hashes


def _range_hashes(reader: HashReader, ranges: Sequence[tuple[int, int]]) -> list[bytes]:
    """MTH of each range [lo, hi), with one read for all the nodes they need."""
    pieces = [subtree_nodes(lo, hi) for lo, hi in ranges]
    hashes = _read(reader, [node for piece in pieces for node in piece])
    result: list[bytes] = []
    at = 0
    for piece in pieces:
        result.append(_fold(hashes[at : at + len(piece)]))
        at += len(piece)
    return result


def tree_hash(size: int, reader: HashReader) -> bytes:
    """MTH of the first `size` leaves, from stored subtree hashes (≤ 1 + log2 size of them)."""
    if not _is_size(size):
        raise ProofRequestError(f"a tree size is an int >= 0, not {size!r}")
    return EMPTY_ROOT if size == 0 else _range_hashes(reader, [(0, size)])[0]


def _path_ranges(index: int, lo: int, hi: int) -> list[tuple[int, int]]:
    """PATH(m, D[lo:hi]) of RFC 9162 §2.1.3.1 as the leaf ranges whose MTHs form it."""
    ranges: list[tuple[int, int]] = []
    while hi - lo > 1:
        k = _split(hi - lo)
        if index < lo + k:
            ranges.append((lo + k, hi))
            hi = lo + k
        else:
            ranges.append((lo, lo + k))
            lo = lo + k
    ranges.reverse()
    return ranges


def inclusion_proof(index: int, size: int, reader: HashReader) -> list[bytes]:
    """The inclusion proof (audit path) of leaf `index` in the tree of `size` leaves."""
    if not (_is_size(index) and _is_size(size) and index < size):
        raise ProofRequestError(f"no leaf {index!r} in a tree of size {size!r}")
    return _range_hashes(reader, _path_ranges(index, 0, size))


def _subproof_ranges(old: int, lo: int, hi: int) -> list[tuple[int, int]]:
    """SUBPROOF(m, D[lo:hi], true) of RFC 9162 §2.1.4.1 as leaf ranges, for 0 < m < n."""
    ranges: list[tuple[int, int]] = []
    whole_is_known = True  # the b of SUBPROOF: the verifier already has this subtree's hash
    while True:
        n = hi - lo
        if old == n:
            if not whole_is_known:
                ranges.append((lo, hi))
            break
        k = _split(n)
        if old <= k:
            ranges.append((lo + k, hi))
            hi = lo + k
        else:
            ranges.append((lo, lo + k))
            old, lo, whole_is_known = old - k, lo + k, False
    ranges.reverse()
    return ranges


def consistency_proof(old_size: int, new_size: int, reader: HashReader) -> list[bytes]:
    """The consistency proof from the tree of `old_size` to that of `new_size` leaves.

    Empty when old_size is 0 or equal to new_size, as c2sp.org/merkle-tree says.
    """
    if not (_is_size(old_size) and _is_size(new_size) and old_size <= new_size):
        raise ProofRequestError(f"no consistency proof from size {old_size!r} to {new_size!r}")
    if old_size in (0, new_size):
        return []
    return _range_hashes(reader, _subproof_ranges(old_size, 0, new_size))


# ---------------------------------------------------------------------------------------------
# Stored hashes: what to keep when a leaf is appended, and where
# ---------------------------------------------------------------------------------------------


def _stored_before(leaves: int) -> int:
    """How many hashes are stored for a tree of `leaves` leaves.

    Leaf t stores its own hash and one per subtree it completes (the trailing 1-bits of t), so
    the total over t < j is j + Σ_{u=1..j} v2(u) = j + (j − popcount(j)).
    """
    return 2 * leaves - leaves.bit_count()


def stored_hash_count(size: int) -> int:
    """How many node hashes a store holds for a tree of `size` leaves."""
    if not _is_size(size):
        raise ProofRequestError(f"a tree size is an int >= 0, not {size!r}")
    return _stored_before(size)


def stored_hash_index(level: int, index: int) -> int:
    """The position of node (level, index) in the order the hashes are written.

    The node is completed by leaf j = (index + 1)·2**level − 1, written right after that
    leaf's own hash and the level − 1 nodes below it that the same leaf completes.
    """
    if not (_is_size(level) and _is_size(index)):
        raise ProofRequestError(f"no node ({level!r}, {index!r})")
    last_leaf = ((index + 1) << level) - 1
    return _stored_before(last_leaf) + level


def split_stored_hash_index(position: int) -> Node:
    """The node (level, index) stored at `position`: the inverse of `stored_hash_index`."""
    if not _is_size(position):
        raise ProofRequestError(f"no stored hash at {position!r}")
    leaf = position // 2  # _stored_before(j) ≥ 2j − bit_length(j), so j is just above this
    while _stored_before(leaf + 1) <= position:
        leaf += 1
    while _stored_before(leaf) > position:
        leaf -= 1
    level = position - _stored_before(leaf)
    return level, leaf >> level


def stored_hashes(index: int, leaf: bytes, reader: HashReader) -> list[tuple[Node, bytes]]:
    """The nodes to store when leaf `index` (hash `leaf`) is appended to a tree of `index` leaves.

    The leaf's own node (0, index) first, then each subtree the leaf completes, lowest first;
    reads the left siblings (at most log2 of them) from `reader` in one call.
    """
    if not _is_size(index):
        raise ProofRequestError(f"a leaf index is an int >= 0, not {index!r}")
    if not _is_hash(leaf):
        raise ProofRequestError("a leaf hash is 32 bytes")
    completed = ((index + 1) & -(index + 1)).bit_length() - 1  # trailing 1-bits of index
    siblings = [(level, (index >> level) - 1) for level in range(completed)]
    left_hashes = _read(reader, siblings)
    result: list[tuple[Node, bytes]] = [((0, index), leaf)]
    current = leaf
    for level, left in enumerate(left_hashes, start=1):
        current = node_hash(left, current)
        result.append(((level, index >> level), current))
    return result


class MemoryHashStore:
    """An append-only tree held in memory as its stored node hashes (the tests' store)."""

    def __init__(self, entries: Iterable[bytes] = ()) -> None:
        self._hashes: dict[Node, bytes] = {}
        self._size = 0
        for entry in entries:
            self.append(entry)

    @property
    def size(self) -> int:
        """How many leaves the tree has."""
        return self._size

    def append(self, entry: bytes) -> int:
        """Append an entry as a leaf; its index."""
        return self.append_leaf_hash(leaf_hash(entry))

    def append_leaf_hash(self, leaf: bytes) -> int:
        """Append a leaf by its hash; its index."""
        index = self._size
        for node, value in stored_hashes(index, leaf, self):
            self._hashes[node] = value
        self._size += 1
        return index

    def read_hashes(self, nodes: Sequence[Node]) -> list[bytes]:
        """The stored hashes of `nodes`."""
        missing = [node for node in nodes if node not in self._hashes]
        if missing:
            raise HashReaderError(f"no stored hash for node {missing[0]}")
        return [self._hashes[node] for node in nodes]

    def root(self, size: int | None = None) -> bytes:
        """MTH of the first `size` leaves (all of them by default)."""
        return tree_hash(self._size if size is None else self._checked(size), self)

    def inclusion_proof(self, index: int, size: int | None = None) -> list[bytes]:
        """The proof of leaf `index` in the tree of `size` leaves (all of them by default)."""
        return inclusion_proof(index, self._size if size is None else self._checked(size), self)

    def consistency_proof(self, old_size: int, new_size: int | None = None) -> list[bytes]:
        """The proof from the tree of `old_size` leaves to that of `new_size` (default: all)."""
        new = self._size if new_size is None else self._checked(new_size)
        return consistency_proof(old_size, new, self)

    def _checked(self, size: int) -> int:
        if not (_is_size(size) and size <= self._size):
            raise ProofRequestError(f"the tree has {self._size} leaves, not {size!r}")
        return size
