"""The RFC 9162 Merkle tree against vectors of implementations that are not ours.

Vector sources (data only, copied as data):
- transparency-dev/merkle, testonly/constants.go: the eight leaf inputs, the node hashes of
  every complete subtree, and the roots of the trees of sizes 0..8;
- transparency-dev/merkle, proof/verify_test.go: inclusion and consistency proofs in those
  trees, the corruptions a verifier must refuse, and the edge cases of sizes 0 and equal sizes;
- golang/mod, sumdb/tlog/testdata/argon2020/*.json (read by sumdb/tlog/ct_test.go): responses of
  Google's Argon 2020 Certificate Transparency log — a leaf at index 10000 with its inclusion
  proof in the tree of 961984013 leaves, and the consistency proof from 3654490 leaves;
- C2SP/C2SP, merkle-tree.md, "Example": the proofs of the 7-entry tree, by node label.
"""

from __future__ import annotations

import base64

import pytest

from audit.tlog import (
    EMPTY_ROOT,
    CallableHashReader,
    HashReaderError,
    MemoryHashStore,
    ProofRequestError,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    merkle_tree_hash,
    node_hash,
    root_from_inclusion_proof,
    split_stored_hash_index,
    stored_hash_count,
    stored_hash_index,
    stored_hashes,
    tree_hash,
    verify_consistency,
    verify_inclusion,
)

# transparency-dev/merkle testonly/constants.go: LeafInputs()
LEAVES = [
    bytes.fromhex(h)
    for h in [
        "",
        "00",
        "10",
        "2021",
        "3031",
        "40414243",
        "5051525354555657",
        "606162636465666768696a6b6c6d6e6f",
    ]
]

# transparency-dev/merkle testonly/constants.go: NodeHashes()[level][index]
NODE_HASHES = [
    [
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
        "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
        "0298d122906dcfc10892cb53a73992fc5b9f493ea4c9badb27b791b4127a7fe7",
        "07506a85fd9dd2f120eb694f86011e5bb4662e5c415a62917033d4a9624487e7",
        "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        "4271a26be0d8a84f0bd54c8c302e7cb3a3b5d1fa6780a40bcce2873477dab658",
        "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
        "46f6ffadd3d06a09ff3c5860d2755c8b9819db7df44251788c7d8e3180de8eb1",
    ],
    [
        "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
        "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
        "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
        "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
    ],
    [
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
    ],
    ["5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328"],
]

# transparency-dev/merkle testonly/constants.go: RootHashes()[size]
ROOTS = [
    bytes.fromhex(h)
    for h in [
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
        "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
        "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
        "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
        "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
        "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
    ]
]

# transparency-dev/merkle proof/verify_test.go: inclusionProofs (leaf is 1-based there)
INCLUSION = [
    (1, 1, []),
    (
        1,
        8,
        [
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
    ),
    (
        6,
        8,
        [
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
    (3, 3, ["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"]),
    (
        2,
        5,
        [
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ],
    ),
]

# transparency-dev/merkle proof/verify_test.go: consistencyProofs
CONSISTENCY = [
    (1, 1, []),
    (
        1,
        8,
        [
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
    ),
    (
        6,
        8,
        [
            "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
    (
        2,
        5,
        [
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ],
    ),
    (
        6,
        7,
        [
            "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
]

SOME_HASH = bytes.fromhex("abacaba000000000000000000000000000000000000000000060061e00123456")


def _hashes(hexes: list[str]) -> list[bytes]:
    return [bytes.fromhex(h) for h in hexes]


def _b64(texts: list[str]) -> list[bytes]:
    return [base64.b64decode(t) for t in texts]


def test_empty_tree_hash_is_sha256_of_nothing() -> None:
    """MTH({}) is SHA-256 of the empty string, from the recursion and from stored hashes."""
    assert merkle_tree_hash([]) == EMPTY_ROOT == ROOTS[0]
    assert tree_hash(0, MemoryHashStore()) == ROOTS[0]


def test_leaf_hashes_match_the_published_level_zero() -> None:
    """SHA-256(0x00 ‖ leaf) of each published input is the published leaf hash."""
    assert [leaf_hash(leaf).hex() for leaf in LEAVES] == NODE_HASHES[0]


def test_node_hashes_match_the_published_levels() -> None:
    """SHA-256(0x01 ‖ left ‖ right) builds every published complete subtree hash."""
    for level in range(1, len(NODE_HASHES)):
        below = _hashes(NODE_HASHES[level - 1])
        built = [node_hash(below[2 * i], below[2 * i + 1]).hex() for i in range(len(below) // 2)]
        assert built == NODE_HASHES[level]


@pytest.mark.parametrize("size", range(9))
def test_roots_of_every_size_match(size: int) -> None:
    """The root of the first `size` leaves is the published root, recursively and stored."""
    assert merkle_tree_hash([leaf_hash(leaf) for leaf in LEAVES[:size]]) == ROOTS[size]
    assert MemoryHashStore(LEAVES).root(size) == ROOTS[size]
    assert MemoryHashStore(LEAVES[:size]).root() == ROOTS[size]


def test_stored_nodes_are_the_published_subtree_hashes() -> None:
    """Every node the store keeps for 8 leaves is the published hash of that subtree."""
    store = MemoryHashStore(LEAVES)
    for level, row in enumerate(NODE_HASHES):
        assert [h.hex() for h in store.read_hashes([(level, i) for i in range(len(row))])] == row


@pytest.mark.parametrize(("leaf", "size", "proof"), INCLUSION)
def test_inclusion_proofs_are_generated_as_published(
    leaf: int, size: int, proof: list[str]
) -> None:
    """The proof the store makes for a leaf is the published proof, and it verifies."""
    store = MemoryHashStore(LEAVES)
    assert store.inclusion_proof(leaf - 1, size) == _hashes(proof)
    assert verify_inclusion(
        leaf_hash(LEAVES[leaf - 1]), leaf - 1, size, _hashes(proof), ROOTS[size]
    )


def _inclusion_corruptions(
    index: int, size: int, proof: list[bytes], root: bytes, leaf: bytes
) -> list[tuple[str, int, int, list[bytes], bytes, bytes]]:
    """The probes of transparency-dev/merkle's corruptInclusionProof."""
    probes = [
        ("index - 1", index - 1, size, proof, root, leaf),
        ("index + 1", index + 1, size, proof, root, leaf),
        ("index ^ 2", index ^ 2, size, proof, root, leaf),
        ("size * 2", index, size * 2, proof, root, leaf),
        ("size // 2", index, size // 2, proof, root, leaf),
        ("wrong leaf", index, size, proof, root, b"WrongLeaf"),
        ("empty root", index, size, proof, EMPTY_ROOT, leaf),
        ("random root", index, size, proof, SOME_HASH, leaf),
        ("trailing garbage", index, size, [*proof, b""], root, leaf),
        ("trailing root", index, size, [*proof, root], root, leaf),
        ("preceding garbage", index, size, [b"", *proof], root, leaf),
        ("preceding root", index, size, [root, *proof], root, leaf),
    ]
    for i in range(len(proof)):
        flipped = [*proof]
        flipped[i] = bytes([proof[i][0] ^ 8]) + proof[i][1:]
        probes.append((f"proof[{i}] bit 3", index, size, flipped, root, leaf))
    if proof:
        probes.append(("removed component", index, size, proof[:-1], root, leaf))
    if len(proof) > 1:
        probes.append(("inserted", index, size, [proof[0], SOME_HASH, *proof[1:]], root, leaf))
    return probes


@pytest.mark.parametrize(("leaf", "size", "proof"), INCLUSION)
def test_inclusion_corruptions_are_refused(leaf: int, size: int, proof: list[str]) -> None:
    """Each corruption transparency-dev/merkle tries on a good inclusion proof fails here."""
    probes = _inclusion_corruptions(
        leaf - 1, size, _hashes(proof), ROOTS[size], leaf_hash(LEAVES[leaf - 1])
    )
    accepted = [p[0] for p in probes if verify_inclusion(p[5], p[1], p[2], p[3], p[4])]
    assert accepted == []


@pytest.mark.parametrize(("index", "size"), [(0, 0), (0, 1), (1, 0), (2, 1)])
def test_inclusion_with_bad_hashes_or_sizes_is_refused(index: int, size: int) -> None:
    """An empty proof with an empty or impossible root, leaf or position never verifies."""
    assert not verify_inclusion(SOME_HASH, index, size, [], b"")
    assert not verify_inclusion(b"", index, size, [], EMPTY_ROOT)
    assert not verify_inclusion(SOME_HASH, index, size, [], EMPTY_ROOT)


def test_single_leaf_tree_inclusion() -> None:
    """In a one-leaf tree the root is the leaf hash and the proof is empty (verify_test.go)."""
    data_hash = leaf_hash(b"data")
    assert verify_inclusion(data_hash, 0, 1, [], data_hash)
    assert not verify_inclusion(b"", 0, 1, [], data_hash)
    assert not verify_inclusion(data_hash, 0, 1, [], b"")
    assert not verify_inclusion(b"", 0, 1, [], b"")


@pytest.mark.parametrize(("old", "new", "proof"), CONSISTENCY)
def test_consistency_proofs_are_generated_as_published(
    old: int, new: int, proof: list[str]
) -> None:
    """The proof the store makes between two sizes is the published one, and it verifies."""
    assert MemoryHashStore(LEAVES).consistency_proof(old, new) == _hashes(proof)
    assert verify_consistency(old, new, ROOTS[old], ROOTS[new], _hashes(proof))


@pytest.mark.parametrize(("old", "new", "proof"), [c for c in CONSISTENCY if c[2]])
def test_consistency_corruptions_are_refused(old: int, new: int, proof: list[str]) -> None:
    """Each corruption of transparency-dev/merkle's corruptConsistencyProof fails here."""
    p, r1, r2 = _hashes(proof), ROOTS[old], ROOTS[new]
    probes = [
        ("old - 1", old - 1, new, r1, r2, p),
        ("old + 1", old + 1, new, r1, r2, p),
        ("old ^ 2", old ^ 2, new, r1, r2, p),
        ("new * 2", old, new * 2, r1, r2, p),
        ("new // 2", old, new // 2, r1, r2, p),
        ("wrong root1", old, new, b"WrongRoot", r2, p),
        ("wrong root2", old, new, r1, b"WrongRoot", p),
        ("swapped roots", old, new, r2, r1, p),
        ("empty proof", old, new, r1, r2, []),
        ("trailing garbage", old, new, r1, r2, [*p, b""]),
        ("trailing root1", old, new, r1, r2, [*p, r1]),
        ("trailing root2", old, new, r1, r2, [*p, r2]),
        ("preceding garbage", old, new, r1, r2, [b"", *p]),
        ("preceding root1", old, new, r1, r2, [r1, *p]),
        ("preceding root2", old, new, r1, r2, [r2, *p]),
        ("preceding proof[0]", old, new, r1, r2, [p[0], *p]),
        ("truncated", old, new, r1, r2, p[:-1]),
    ]
    for i in range(len(p)):
        flipped = [*p]
        flipped[i] = bytes([p[i][0] ^ 16]) + p[i][1:]
        probes.append((f"proof[{i}] bit 4", old, new, r1, r2, flipped))
    accepted = [x[0] for x in probes if verify_consistency(x[1], x[2], x[3], x[4], x[5])]
    assert accepted == []


ROOT1, ROOT2 = b"don't care 1".ljust(32, b"."), b"don't care 2".ljust(32, b".")


@pytest.mark.parametrize(
    ("old", "new", "root1", "root2", "proof", "verifies"),
    [
        (0, 0, ROOT1, ROOT2, [], False),
        (1, 1, ROOT1, ROOT2, [], False),
        (0, 0, ROOT1, ROOT1, [], True),
        (0, 1, ROOT1, ROOT2, [], True),
        (1, 1, ROOT2, ROOT2, [], True),
        (1, 0, ROOT1, ROOT2, [], False),
        (2, 1, ROOT1, ROOT2, [], False),
        (1, 2, ROOT1, ROOT2, [], False),
        (0, 0, EMPTY_ROOT, ROOT2, [], False),
        (1, 1, EMPTY_ROOT, ROOT2, [], False),
        (0, 0, EMPTY_ROOT, EMPTY_ROOT, [EMPTY_ROOT], False),
        (0, 1, EMPTY_ROOT, EMPTY_ROOT, [EMPTY_ROOT], False),
        (1, 1, EMPTY_ROOT, EMPTY_ROOT, [EMPTY_ROOT], False),
    ],
)
def test_consistency_edge_cases(
    old: int, new: int, root1: bytes, root2: bytes, proof: list[bytes], verifies: bool
) -> None:
    """Sizes 0 and equal sizes as transparency-dev/merkle's TestVerifyConsistency has them.

    (Its "don't care" roots are 12 bytes there; here they are padded to 32 so that the
    case turns on the sizes and proof, not on the length check.)
    """
    assert verify_consistency(old, new, root1, root2, proof) is verifies


# golang/mod sumdb/tlog/testdata/argon2020: sth.json, entries.json, proof.json, consistency.json
ARGON_SIZE = 961984013
ARGON_ROOT = "dwlueapdd7LaOEnX2W2Wp9v2XE+KzejHRQGHwEx0oaM="
ARGON_LEAF_10000 = (
    "AAAAAAFelPhqUwAAAAViMIIFXjCCBEagAwIBAgIRAOodHzZdqWIFzYyl/SovhCMwDQYJKoZIhvcNAQELBQAwgZAxCzAJ"
    "BgNVBAYTAkdCMRswGQYDVQQIExJHcmVhdGVyIE1hbmNoZXN0ZXIxEDAOBgNVBAcTB1NhbGZvcmQxGjAYBgNVBAoTEUNP"
    "TU9ETyBDQSBMaW1pdGVkMTYwNAYDVQQDEy1DT01PRE8gUlNBIERvbWFpbiBWYWxpZGF0aW9uIFNlY3VyZSBTZXJ2ZXIg"
    "Q0EwHhcNMTcwMjE1MDAwMDAwWhcNMjAwNDE2MjM1OTU5WjBfMSEwHwYDVQQLExhEb21haW4gQ29udHJvbCBWYWxpZGF0"
    "ZWQxHTAbBgNVBAsTFFBvc2l0aXZlU1NMIFdpbGRjYXJkMRswGQYDVQQDDBIqLmxhbmRsb3Jkcy5jb20uYXUwggEiMA0G"
    "CSqGSIb3DQEBAQUAA4IBDwAwggEKAoIBAQCtPBKKHj4zdrGlCjgTHzb5gx9JCs97DwvBz60f14gDufF2haWbOxyJ0a3o"
    "pAMsZnOr8HkARVCwxdqG/PTfACcb0QM7FOlzvxGqxataTYiChwvkkif8F9GlJw69HuHgzhusPf1Ytfk3ps1PRC14Mkyr"
    "S4kwPrk/Le4XdkqRpRw62wG4V6IkbzsNMEOl1H8EgUbfyapdOcVxHjIzvBVy56fBRKG05Fr5wNq3Acak5kYZdNsLhhml"
    "rqAfAjiombW3hb3V5blJdRC0BDdYHv2+zKey6LqJ1FDoXo6IzbzPpC+aifZy47YX+/N1U64Qn5xlDg7mOP8JXfkNJHbU"
    "1TJZHif5AgMBAAGjggHhMIIB3TAfBgNVHSMEGDAWgBSQr2o6lFoL2JDqElZz30O0Oija5zAdBgNVHQ4EFgQUNQSLjkoz"
    "01I+iuuoC5lgEp0anhcwDgYDVR0PAQH/BAQDAgWgMAwGA1UdEwEB/wQCMAAwHQYDVR0lBBYwFAYIKwYBBQUHAwEGCCsG"
    "AQUFBwMCME8GA1UdIARIMEYwOgYLKwYBBAGyMQECAgcwKzApBggrBgEFBQcCARYdaHR0cHM6Ly9zZWN1cmUuY29tb2Rv"
    "LmNvbS9DUFMwCAYGZ4EMAQIBMFQGA1UdHwRNMEswSaBHoEWGQ2h0dHA6Ly9jcmwuY29tb2RvY2EuY29tL0NPTU9ET1JT"
    "QURvbWFpblZhbGlkYXRpb25TZWN1cmVTZXJ2ZXJDQS5jcmwwgYUGCCsGAQUFBwEBBHkwdzBPBggrBgEFBQcwAoZDaHR0"
    "cDovL2NydC5jb21vZG9jYS5jb20vQ09NT0RPUlNBRG9tYWluVmFsaWRhdGlvblNlY3VyZVNlcnZlckNBLmNydDAkBggr"
    "BgEFBQcwAYYYaHR0cDovL29jc3AuY29tb2RvY2EuY29tMC8GA1UdEQQoMCaCEioubGFuZGxvcmRzLmNvbS5hdYIQbGFu"
    "ZGxvcmRzLmNvbS5hdTANBgkqhkiG9w0BAQsFAAOCAQEACyHqxUzrexToY7tOv4+kyGPP2D27P1tQpyzeAl1bPObiMhNK"
    "2b9vvBLDWAaqm8c0YL1h+DBdLoWzf3xFsIkTCVCjWJTNSNlcYtgRk6or1s7jWsfXzWqsnPjPPmTIOCw7EfH7Yme3oxPs"
    "3UUsmShAgPwNohAtL9GqlqMiKM6v1WU3NHt01jEoNP23LRa6KeNK6AH6WHJykzL223IlhgXjHTeuQj6lR+TNrQXJuhwT"
    "XYe+20rrpPQxc1Pn7AqnvfWgmicRQ7gdIcr4V6+ecTvLfNOaJ0ZYe5G5giuAAdTm7F57pk04f4gyZNYKrj88mvbkoriN"
    "8b6jcWExtrYO6bm2TwAA"
)
ARGON_AUDIT_PATH = [
    "T46AmJsuOM/gFiGlUp+IJJebp+1Z5qratFNW7U0JyOQ=",
    "9Jj1Feodn42uRYEfffkV4HF/EIPFQ5Zo9IwkxbQ2uhk=",
    "D53/1oCNebF4J59HHgioovKZxrmrKcVuCVhy3Izg8Ck=",
    "wSFDgGSrsXRPA+1c8WHoAFCsWeUv8NDyP/Q/SgsyVyY=",
    "516/RcwsgdwdzHn18v1dJHqBkgFUbNhmCIWOGjsMJaE=",
    "naTFY2ajLFgrgs5XUl+zJYZnnlJksLGsA1VYwpLfqbY=",
    "mKBRJo6qao+0Kdh/rhGkZUbHUAxMhrtrclrTpIbNjIg=",
    "Co4ueOFE7lpifLio94irxxsv1wFMMaK3tPu2ZQkHlro=",
    "yRgy800K6JMYCC05sWfqF2kvCg2riT/pVM+nEa6V5+0=",
    "n2O38XJZC8/Wpbwi9HhgVizlUyeUHVZvYyQB1607MRc=",
    "go3tAjuNfNSCj87y2Rg1xOroDknGN1eaf3cgvzObf7Q=",
    "8D0Mj3/J7ySSnFb0afIHYXv6rlOhECnsebY6XKi1IR8=",
    "6rcez46ZU8M5vPiWVMAUfJfAOV0pPP/mch/lYzZhj/M=",
    "2rtIeXrPvSdUyHc5maIgSAVB2BzaKaupWxSAiVayDE4=",
    "nniW/IMFQPN5xw8UsHFn7CRStYbm1gLu7NNa6kkRqJQ=",
    "mRPPi7sQS22MduIEyvcNzCNFqIt6kLwYPkNKrVtIcu8=",
    "JvTivzESNS9wHI8aph5a7uieVmtS/p9PciMZ5D6GyOo=",
    "UTyQd+Ym0wY4zG+qK806bBORwi1CSVvFQ/KknnqoZj8=",
    "hXODrqN+ff+U6zPqRQ+ZQKs6im1fPcxIerDSfNwflhE=",
    "II6GE+WY/DrpZzfHztLwkR46o37zVkNLCyPYlf68zA0=",
    "d609kWWcNBllbA8Jb/ad4XAVVGnScLRmtP8FYyr+Dck=",
    "rikBsP0G0gioXRpBFED2CzQdSLrGPvRd0bEcbEZw1rI=",
    "GXIElfmnRuWfbA4z7ubV/UwlpSRUbUeec7oL5HDDnh0=",
    "pR0SH/NYP6s9+8azWwaeUXA4Ze/3WCIgMfh5YW6wvcE=",
    "f3GuAKYVrF8RBg3s15jvA/YvV9oAliWtzP/imwPhQVA=",
    "WHn8zDxlVgkV+lSlmzaOdfSBrTHoRr5nT3d76q0KKWE=",
    "f2uV2ZxVgULzLPKuZcowRY3ZY7fRlX59iDBjV1R8kNQ=",
    "NzQVjJsvQwbi7WStMr9oFkh9VbHfK7LB6o7WwAqwNTs=",
    "C0LttBeYHZHgL+032JIcJC3CTBIyza/hsbmJUgJfmDI=",
    "nixU5CWTFVDlF4BGdcU6kA7WSYurEpe9jRWc+F/7sOc=",
]
ARGON_OLD_SIZE = 3654490
ARGON_OLD_ROOT = "AuIZ5V6sDUj1vn3Y1K85oOaQ7y+FJJKtyRTl1edIKBQ="
ARGON_CONSISTENCY = [
    "80Sfbj6UQEdVSZCSIgh9NMPj3vCBzcc1A48B2crJSWg=",
    "FZcrgAHUk6nNPviJZq8kEK6jCG1d18pJOFE45ZDc1TQ=",
    "Q67reWXmPBo1UfmwBap4Xi9PMPfFdUSSw3WGlRZdG7k=",
    "eJ7CyhR4PxzBxDIsWgrVYW1eFUb9ndgf46tFmiqVrxA=",
    "QrDwp062Grm5WY8KdrhFsBuuNjGzRox2Jb8PmVL5OYw=",
    "XM4YMjMEdLH/XJam/ZWyaP14k3cmsOtnPsOWQ54lW1s=",
    "SGiBh+jOTGccXU48ZzgQ88lRcBmtB4wz4oSDndv2QTg=",
    "WAS6txqNLYKGL1GdBdpqmV42TTfn6cJsuDsqLXuTCNI=",
    "QFmRS0rirUA7ZN3lxFjDncV+E1OCrn3NUB4RCp+5fzc=",
    "Hdbp7It2XBNZmNDBpCN/KPd7vfVqxgzwOosqVIaEA9E=",
    "mxvHL0ZiblBdD7j7pIa1jlfB0gSqfJ6oX0UGo7L0VsU=",
    "q5hjyvoW6TL/PThgcitpDcSTrnKX2p1+aqscqH2euRA=",
    "jTOWDqt3IHj2NVFeezyBz2ofpru+ztEywqKUAfFclKI=",
    "GIRn0w3HqJdvU9j1WVD//eR6lk2AaTVjyzjsJNP8U88=",
    "x52GJvxG81fnQBrgOTbll1A5tz95/LXK0Ag1NhB0r1I=",
    "6/0OqrcTgc3o5dD5PymmoC96lB9yLPFuTHVvLy8fSGk=",
    "Gf+iKLfcXO5l4JEFmsZvSdG5q1uEeWPfYLrds6pmjz0=",
    "DGuaco+McyM3AfRSF6qX7RwSetwe2ieYJmxw5e9rVx0=",
    "2tQJ9V32hnYp+fdpP6TcjmgJmLeNVOMKM0Ml1kk4cNU=",
    "3PapK+IkyJr8I9yAErAmzuZezzLMzsg+PfeRCgNW8NQ=",
    "s6xiYeejb+wtqHA+URJZ2I/SCPyIW8coP6aB00FJbMY=",
    "z9lSpmdTcr5M5ZzKlc4EPh3SrSypKFdk6JUF/UccaZU=",
    "GXIElfmnRuWfbA4z7ubV/UwlpSRUbUeec7oL5HDDnh0=",
    "pR0SH/NYP6s9+8azWwaeUXA4Ze/3WCIgMfh5YW6wvcE=",
    "f3GuAKYVrF8RBg3s15jvA/YvV9oAliWtzP/imwPhQVA=",
    "WHn8zDxlVgkV+lSlmzaOdfSBrTHoRr5nT3d76q0KKWE=",
    "f2uV2ZxVgULzLPKuZcowRY3ZY7fRlX59iDBjV1R8kNQ=",
    "NzQVjJsvQwbi7WStMr9oFkh9VbHfK7LB6o7WwAqwNTs=",
    "C0LttBeYHZHgL+032JIcJC3CTBIyza/hsbmJUgJfmDI=",
    "nixU5CWTFVDlF4BGdcU6kA7WSYurEpe9jRWc+F/7sOc=",
]


def test_a_real_certificate_transparency_inclusion_proof_verifies() -> None:
    """Leaf 10000 of Argon 2020 is in its tree of 961984013 leaves, not at another place."""
    leaf = leaf_hash(base64.b64decode(ARGON_LEAF_10000))
    root, proof = base64.b64decode(ARGON_ROOT), _b64(ARGON_AUDIT_PATH)
    assert verify_inclusion(leaf, 10000, ARGON_SIZE, proof, root)
    assert not verify_inclusion(leaf, 10001, ARGON_SIZE, proof, root)
    assert not verify_inclusion(leaf, 10000, ARGON_SIZE * 2, proof, root)
    assert not verify_inclusion(leaf, 10000, ARGON_SIZE // 2, proof, root)
    assert not verify_inclusion(leaf_hash(b"another certificate"), 10000, ARGON_SIZE, proof, root)


def test_a_real_certificate_transparency_consistency_proof_verifies() -> None:
    """Argon 2020 at 3654490 leaves is a prefix of Argon 2020 at 961984013 leaves."""
    old, new = base64.b64decode(ARGON_OLD_ROOT), base64.b64decode(ARGON_ROOT)
    proof = _b64(ARGON_CONSISTENCY)
    assert verify_consistency(ARGON_OLD_SIZE, ARGON_SIZE, old, new, proof)
    assert not verify_consistency(ARGON_OLD_SIZE + 1, ARGON_SIZE, old, new, proof)
    assert not verify_consistency(ARGON_OLD_SIZE, ARGON_SIZE, new, new, proof)
    assert not verify_consistency(ARGON_OLD_SIZE, ARGON_SIZE, old, new, proof[:-1])


def test_the_c2sp_seven_entry_example() -> None:
    """The proofs of C2SP merkle-tree.md's 7-entry example, by the example's node labels."""
    entries = [f"d[{i}]".encode() for i in range(7)]
    a, b, c, d, e, f, g = (leaf_hash(x) for x in entries)
    h, i, j = node_hash(a, b), node_hash(c, d), node_hash(e, f)
    k, l = node_hash(h, i), node_hash(j, g)  # noqa: E741 (the spec's label)
    store = MemoryHashStore(entries)
    assert store.root() == node_hash(k, l)
    assert store.inclusion_proof(0) == [b, i, l]
    assert store.inclusion_proof(3) == [c, h, l]
    assert store.inclusion_proof(4) == [f, g, k]
    assert store.inclusion_proof(6) == [j, k]
    assert store.consistency_proof(3) == [c, d, h, l]
    assert store.consistency_proof(4) == [l]
    assert store.consistency_proof(6) == [j, g, k]


def test_stored_hash_positions_follow_the_write_order() -> None:
    """Leaf t's hash is written, then each subtree it completes (Crosby–Wallach order)."""
    # Worked by hand from the rule: leaves 0..7 write 1,2,1,3,1,2,1,4 hashes.
    order = [(0, 0), (0, 1), (1, 0), (0, 2), (0, 3), (1, 1), (2, 0), (0, 4), (0, 5), (1, 2)]
    order += [(0, 6), (0, 7), (1, 3), (2, 1), (3, 0)]
    assert [stored_hash_index(*node) for node in order] == list(range(len(order)))
    assert [split_stored_hash_index(i) for i in range(len(order))] == order
    assert [stored_hash_count(n) for n in range(9)] == [0, 1, 3, 4, 7, 8, 10, 11, 15]


def test_stored_hashes_for_a_leaf_name_the_completed_subtrees() -> None:
    """Appending leaf 7 of the published tree stores its hash and the nodes (1,3), (2,1), (3,0)."""
    store = MemoryHashStore(LEAVES[:7])
    written = stored_hashes(7, leaf_hash(LEAVES[7]), store)
    assert [node for node, _ in written] == [(0, 7), (1, 3), (2, 1), (3, 0)]
    assert [h.hex() for _, h in written] == [
        NODE_HASHES[0][7],
        NODE_HASHES[1][3],
        NODE_HASHES[2][1],
        NODE_HASHES[3][0],
    ]


def test_a_callable_reader_serves_the_same_proofs() -> None:
    """Proofs over a function (level, index) → hash equal those of the store it reads."""
    store = MemoryHashStore(LEAVES)
    reader = CallableHashReader(lambda level, index: store.read_hashes([(level, index)])[0])
    assert tree_hash(8, reader) == ROOTS[8]
    assert inclusion_proof(5, 7, reader) == store.inclusion_proof(5, 7)
    assert consistency_proof(3, 8, reader) == store.consistency_proof(3, 8)


def test_a_misbehaving_store_is_reported_not_trusted() -> None:
    """A reader that returns too few hashes or a short one raises HashReaderError."""
    short = CallableHashReader(lambda level, index: b"short")
    with pytest.raises(HashReaderError):
        tree_hash(3, short)
    with pytest.raises(HashReaderError):
        tree_hash(3, MemoryHashStore(LEAVES[:2]))


@pytest.mark.parametrize(
    "call",
    [
        lambda s: s.inclusion_proof(8, 8),
        lambda s: s.inclusion_proof(-1, 8),
        lambda s: s.inclusion_proof(0, 9),
        lambda s: s.consistency_proof(5, 4),
        lambda s: s.consistency_proof(-1, 4),
        lambda s: s.root(9),
        lambda s: inclusion_proof(0, 0, s),
        lambda s: stored_hash_index(-1, 0),
    ],
)
def test_impossible_proof_requests_are_refused(call: object) -> None:
    """Asking for a leaf or a size the tree does not have is a ProofRequestError."""
    store = MemoryHashStore(LEAVES)
    with pytest.raises(ProofRequestError):
        call(store)  # type: ignore[operator]


def test_root_from_an_inclusion_proof() -> None:
    """The root an inclusion proof implies is the tree's root; impossible runs give None."""
    store = MemoryHashStore(LEAVES)
    proof = store.inclusion_proof(2, 5)
    assert root_from_inclusion_proof(2, 5, leaf_hash(LEAVES[2]), proof) == ROOTS[5]
    assert root_from_inclusion_proof(5, 5, leaf_hash(LEAVES[2]), proof) is None
    assert root_from_inclusion_proof(2, 5, leaf_hash(LEAVES[2]), [*proof, SOME_HASH]) is None
