"""Properties of the Merkle tree that must hold for every tree, not just the published ones."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from audit.tlog import (
    HashReaderError,
    MemoryHashStore,
    leaf_hash,
    merkle_tree_hash,
    split_stored_hash_index,
    stored_hash_count,
    stored_hash_index,
    verify_consistency,
    verify_inclusion,
)

# Trees of up to 300 leaves: a random salt makes the entries, all distinct.
distinct_entries = st.builds(
    lambda size, salt: [salt + i.to_bytes(2, "big") for i in range(size)],
    st.integers(1, 300),
    st.binary(max_size=8),
)


def _flip(value: bytes, bit: int) -> bytes:
    return bytes([value[0] ^ (1 << (bit % 8))]) + value[1:]


@settings(max_examples=60, deadline=None)
@given(entries=distinct_entries, bit=st.integers(0, 7), data=st.data())
def test_every_inclusion_proof_verifies_and_no_wrong_one_does(
    entries: list[bytes], bit: int, data: st.DataObject
) -> None:
    """Each leaf's proof verifies; with another leaf, another index or another root it fails."""
    store = MemoryHashStore(entries)
    size, root = store.size, store.root()
    for index, entry in enumerate(entries):
        proof = store.inclusion_proof(index)
        assert verify_inclusion(leaf_hash(entry), index, size, proof, root)
        assert not verify_inclusion(leaf_hash(entry + b"!"), index, size, proof, root)
        assert not verify_inclusion(leaf_hash(entry), index, size, proof, _flip(root, bit))
        if size > 1:
            other = data.draw(st.integers(0, size - 1).filter(lambda j, i=index: j != i))
            assert not verify_inclusion(leaf_hash(entry), other, size, proof, root)
        if proof:
            at = data.draw(st.integers(0, len(proof) - 1))
            bent = [*proof[:at], _flip(proof[at], bit), *proof[at + 1 :]]
            assert not verify_inclusion(leaf_hash(entry), index, size, bent, root)


@settings(max_examples=60, deadline=None)
@given(entries=distinct_entries, data=st.data())
def test_inclusion_proofs_in_earlier_trees_verify(
    entries: list[bytes], data: st.DataObject
) -> None:
    """A proof for an older tree size verifies against that size's root."""
    store = MemoryHashStore(entries)
    size = data.draw(st.integers(1, store.size))
    index = data.draw(st.integers(0, size - 1))
    proof = store.inclusion_proof(index, size)
    assert verify_inclusion(leaf_hash(entries[index]), index, size, proof, store.root(size))


@settings(max_examples=100, deadline=None)
@given(entries=distinct_entries, data=st.data())
def test_every_consistency_proof_verifies_and_fails_for_another_old_tree(
    entries: list[bytes], data: st.DataObject
) -> None:
    """The proof from m to n ≤ size verifies; an old tree with one leaf changed does not."""
    store = MemoryHashStore(entries)
    new = data.draw(st.integers(1, store.size))
    old = data.draw(st.integers(0, new))
    proof = store.consistency_proof(old, new)
    old_root, new_root = store.root(old), store.root(new)
    assert verify_consistency(old, new, old_root, new_root, proof)
    if old >= 1:
        changed = data.draw(st.integers(0, old - 1))
        other = [*entries[:old]]
        other[changed] += b"!"
        other_root = MemoryHashStore(other).root()
        assert not verify_consistency(old, new, other_root, new_root, proof)
    if 0 < old < new:
        assert not verify_consistency(old, new, old_root, new_root, proof[:-1])
        assert not verify_consistency(old + 1, new, old_root, new_root, proof)
        assert not verify_consistency(old, new, new_root, old_root, proof)


@settings(max_examples=100, deadline=None)
@given(entries=st.lists(st.binary(max_size=8), max_size=80))
def test_stored_hash_roots_equal_the_recursive_mth(entries: list[bytes]) -> None:
    """Stored-hash roots equal RFC 9162's recursive MTH at every size; the count is exact."""
    store = MemoryHashStore(entries)
    hashes = [leaf_hash(entry) for entry in entries]
    for size in range(len(entries) + 1):
        assert store.root(size) == merkle_tree_hash(hashes[:size])
    count = stored_hash_count(len(entries))
    assert len(store.read_hashes([split_stored_hash_index(i) for i in range(count)])) == count
    with pytest.raises(HashReaderError):
        store.read_hashes([split_stored_hash_index(count)])


@given(level=st.integers(0, 40), index=st.integers(0, 2**40))
def test_split_stored_hash_index_inverts_stored_hash_index(level: int, index: int) -> None:
    """Every node's stored position maps back to the node."""
    assert split_stored_hash_index(stored_hash_index(level, index)) == (level, index)


@given(position=st.integers(0, 2**50))
def test_stored_hash_index_inverts_split(position: int) -> None:
    """Every position holds exactly one node."""
    assert stored_hash_index(*split_stored_hash_index(position)) == position


def test_all_proofs_of_all_trees_up_to_33_leaves() -> None:
    """Exhaustively: every inclusion and consistency proof in trees of 1..33 leaves verifies."""
    entries = [b"entry %d" % i for i in range(33)]
    store = MemoryHashStore(entries)
    for new in range(1, 34):
        root = store.root(new)
        for index in range(new):
            proof = store.inclusion_proof(index, new)
            assert verify_inclusion(leaf_hash(entries[index]), index, new, proof, root)
        for old in range(new + 1):
            proof = store.consistency_proof(old, new)
            assert verify_consistency(old, new, store.root(old), root, proof)
