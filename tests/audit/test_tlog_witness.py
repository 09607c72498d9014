"""The witness's add-checkpoint decision, answer by answer as c2sp.org/tlog-witness lists them.

Vector source (data only): C2SP/C2SP tlog-witness.md — the example request body (old size
20852014, four proof lines, the behind-the-sofa checkpoint with two signatures), read here; its
keys are not published, so the decisions are tested on logs and witnesses made in the test.
"""

from __future__ import annotations

import base64

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given, settings
from hypothesis import strategies as st

from audit.tlog import (
    EMPTY_ROOT,
    SIZE_CONTENT_TYPE,
    CosignatureSigner,
    Ed25519Signer,
    LogCheckpoint,
    MalformedNoteError,
    MalformedRequestError,
    MemoryHashStore,
    TreeState,
    UnverifiedNoteError,
    Verifier,
    WitnessAnswer,
    answer_add_checkpoint,
    cosignature_timestamp,
    decide_add_checkpoint,
    format_add_checkpoint,
    open_cosignatures,
    parse_add_checkpoint,
    parse_tlog_size,
    sign_log_checkpoint,
    sign_note,
)

# C2SP/C2SP tlog-witness.md: "Example request body"
SPEC_REQUEST = (
    "old 20852014\n"
    "PlRNCrwHpqhGrupue0L7gxbjbMiKA9temvuZZDDpkaw=\n"
    "jrJZDmY8Y7SyJE0MWLpLozkIVMSMZcD5kvuKxPC3swk=\n"
    "5+pKlUdi2LeF/BcMHBn+Ku6yhPGNCswZZD1X/6QgPd8=\n"
    "/6WVhPs2CwSsb5rYBH5cjHV/wSmA79abXAwhXw3Kj/0=\n"
    "\n"
    "example.com/behind-the-sofa\n"
    "20852163\n"
    "CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"
    "\n"
    "— example.com/behind-the-sofa Az3grlgtzPICa5OS8npVmf1Myq/5IZniMp+ZJurmRDeOoRDe4URYN7u5/Zhcyv"
    "2q1gGzGku9nTo+zyWE+xeMcTOAYQ8=\n"
    "— example.com/behind-the-sofa opLqBQsREYCgu6xQkYQwJr9fo45a62DN9EdmHXnZdXNqlcVGlCum2Wks+49/V6"
    "267UEjw6QUXTS5Rovnzv++qbSzm9Q=\n"
).encode()

ORIGIN = "broker.example/audit"
NOW = 1_760_000_000


class Log:
    """A log made in the test: entries in a MemoryHashStore, checkpoints signed by its key."""

    def __init__(self, entries: list[bytes], key: Ed25519Signer | None = None) -> None:
        self.key = key or Ed25519Signer(ORIGIN, Ed25519PrivateKey.generate())
        self.store = MemoryHashStore(entries)

    def checkpoint(self, size: int | None = None) -> bytes:
        size = self.store.size if size is None else size
        head = LogCheckpoint(ORIGIN, size, self.store.root(size))
        return sign_log_checkpoint(head, [self.key])

    def request(self, old: int, size: int | None = None) -> bytes:
        new = self.store.size if size is None else size
        return format_add_checkpoint(
            old, self.store.consistency_proof(old, new), self.checkpoint(new)
        )


WITNESS = CosignatureSigner("witness.example/w1", Ed25519PrivateKey.generate())
ENTRIES = [b"entry %d" % i for i in range(20)]


def _decide(log: Log, body: bytes, latest: TreeState | None, **kwargs: object) -> WitnessAnswer:
    options: dict[str, object] = {
        "log_keys": [log.key.verifier],
        "latest": latest,
        "cosigners": [WITNESS],
        "timestamp": NOW,
    }
    options.update(kwargs)
    return decide_add_checkpoint(parse_add_checkpoint(body), **options)  # type: ignore[arg-type]


def _state(log: Log, size: int) -> TreeState:
    return TreeState(size, log.store.root(size))


def test_the_spec_example_request_reads() -> None:
    """The spec's example body reads as old size, four hashes and the signed checkpoint."""
    request = parse_add_checkpoint(SPEC_REQUEST)
    assert request.old_size == 20852014
    assert request.proof[0] == base64.b64decode("PlRNCrwHpqhGrupue0L7gxbjbMiKA9temvuZZDDpkaw=")
    assert len(request.proof) == 4
    assert request.origin == "example.com/behind-the-sofa"
    assert request.checkpoint == SPEC_REQUEST[SPEC_REQUEST.index(b"example.com") :]
    assert format_add_checkpoint(request.old_size, request.proof, request.checkpoint) == (
        SPEC_REQUEST
    )


def test_a_first_checkpoint_is_cosigned() -> None:
    """Old size 0 for an origin never cosigned: 200, cosignature lines, the new state."""
    log = Log(ENTRIES[:5])
    answer = _decide(log, log.request(0), None)
    assert (answer.status, answer.code, answer.is_ok) == (200, "cosigned", True)
    assert answer.new_state == _state(log, 5)
    assert answer.expected_size == 0
    (cosignature,) = open_cosignatures(log.checkpoint(), answer.body, [WITNESS.verifier])
    assert cosignature.name == WITNESS.name
    assert cosignature_timestamp(cosignature) == NOW


def test_a_consistent_growth_is_cosigned() -> None:
    """From the latest cosigned size 5 to 13 with the log's consistency proof: 200."""
    log = Log(ENTRIES[:13])
    answer = _decide(log, log.request(5), _state(log, 5))
    assert answer.status == 200
    assert answer.new_state == _state(log, 13)
    assert answer.expected_size == 5


def test_the_same_checkpoint_is_cosigned_again() -> None:
    """Equal sizes with equal roots and an empty proof: 200, a fresh cosignature, same state."""
    log = Log(ENTRIES[:7])
    answer = _decide(log, log.request(7), _state(log, 7), timestamp=NOW + 60)
    assert answer.status == 200
    assert answer.new_state == _state(log, 7)
    (cosignature,) = open_cosignatures(log.checkpoint(), answer.body, [WITNESS.verifier])
    assert cosignature_timestamp(cosignature) == NOW + 60


def test_every_witness_key_cosigns() -> None:
    """Two witness keys give two cosignature lines."""
    other = CosignatureSigner("witness.example/w2", Ed25519PrivateKey.generate())
    log = Log(ENTRIES[:3])
    answer = _decide(log, log.request(0), None, cosigners=[WITNESS, other])
    verified = open_cosignatures(log.checkpoint(), answer.body, [WITNESS.verifier, other.verifier])
    assert [s.name for s in verified] == [WITNESS.name, other.name]


def test_an_unknown_origin_is_404() -> None:
    """No trusted keys for the origin: 404, nothing to persist."""
    log = Log(ENTRIES[:3])
    answer = _decide(log, log.request(0), None, log_keys=[])
    assert (answer.status, answer.code, answer.new_state) == (404, "unknown_origin", None)


def test_a_checkpoint_without_a_trusted_signature_is_403() -> None:
    """Signed by another key than the trusted one: 403."""
    log = Log(ENTRIES[:3])
    impostor = Log(ENTRIES[:3])
    answer = _decide(log, impostor.request(0), None)
    assert (answer.status, answer.code) == (403, "no_trusted_signature")


def test_a_bad_signature_by_the_trusted_key_is_403() -> None:
    """A signature by the trusted key's name and ID that does not verify: 403."""
    log = Log(ENTRIES[:3])
    body = bytearray(log.request(0))
    body[-10] = ord("A") if body[-10] != ord("A") else ord("B")
    answer = _decide(log, bytes(body), None)
    assert answer.status == 403


def test_an_old_size_above_the_checkpoint_is_400() -> None:
    """Old size 6 for a checkpoint of size 5: 400."""
    log = Log(ENTRIES[:6])
    body = format_add_checkpoint(6, [], log.checkpoint(5))
    answer = _decide(log, body, _state(log, 6))
    assert (answer.status, answer.code) == (400, "old_size_too_large")


def test_a_signed_text_that_is_not_a_checkpoint_is_400() -> None:
    """A trusted signature on text that is not a checkpoint: 400."""
    log = Log(ENTRIES[:3])
    note = sign_note(f"{ORIGIN}\nnot a size\n", [log.key])
    answer = _decide(log, format_add_checkpoint(0, [], note), None)
    assert (answer.status, answer.code) == (400, "checkpoint_malformed")


@pytest.mark.parametrize(("latest_size", "old"), [(5, 3), (5, 0), (0, 5), (5, 7)])
def test_an_old_size_that_is_not_the_latest_is_409_with_the_size(
    latest_size: int, old: int
) -> None:
    """Old size ≠ the latest cosigned size: 409, body '<size>\\n' as text/x.tlog.size."""
    log = Log(ENTRIES[:9])
    latest = None if latest_size == 0 else _state(log, latest_size)
    answer = _decide(log, log.request(old, 9), latest)
    assert (answer.status, answer.code) == (409, "old_size_mismatch")
    assert answer.content_type == SIZE_CONTENT_TYPE == "text/x.tlog.size"
    assert answer.body == f"{latest_size}\n".encode()
    assert parse_tlog_size(answer.body) == latest_size
    assert answer.new_state is None


def test_a_proof_that_does_not_verify_is_422() -> None:
    """A consistency proof from another tree, or a changed one: 422."""
    log = Log(ENTRIES[:12])
    fork = Log([*ENTRIES[:3], b"rewritten", *ENTRIES[4:12]], key=log.key)
    answer = _decide(fork, fork.request(6), _state(log, 6))
    assert (answer.status, answer.code) == (422, "inconsistent")
    request = parse_add_checkpoint(log.request(6))
    bent = format_add_checkpoint(6, [request.proof[0][::-1], *request.proof[1:]], log.checkpoint())
    assert _decide(log, bent, _state(log, 6)).status == 422


@pytest.mark.parametrize("old", [0, 5])
def test_a_proof_where_none_belongs_is_422(old: int) -> None:
    """A non-empty proof from size 0, or between equal sizes: 422."""
    log = Log(ENTRIES[:5])
    latest = None if old == 0 else _state(log, 5)
    body = format_add_checkpoint(old, [EMPTY_ROOT], log.checkpoint())
    assert _decide(log, body, latest).status == 422


def test_equal_sizes_with_another_root_is_409() -> None:
    """The same size cosigned with another root: 409 (a fork), nothing to persist."""
    log = Log(ENTRIES[:5])
    fork = Log([*ENTRIES[:4], b"other"], key=log.key)
    answer = _decide(fork, fork.request(5), _state(log, 5))
    assert (answer.status, answer.code, answer.new_state) == (409, "root_mismatch", None)
    assert answer.content_type != SIZE_CONTENT_TYPE


def test_the_empty_tree_is_compared_with_the_empty_root() -> None:
    """Size 0 for a new origin is cosigned with the empty root only."""
    log = Log([])
    assert _decide(log, log.request(0), None).status == 200
    wrong = sign_log_checkpoint(LogCheckpoint(ORIGIN, 0, bytes(32)), [log.key])
    assert _decide(log, format_add_checkpoint(0, [], wrong), None).status == 409


@pytest.mark.parametrize(
    ("body", "why"),
    [
        (b"old 0\n", "no empty line and checkpoint"),
        (b"old 01\n\nx\n\n\xe2\x80\x94 a AAAAAAA=\n", "a leading zero"),
        (b"old -1\n\nx\n\n\xe2\x80\x94 a AAAAAAA=\n", "a negative size"),
        (b"old  1\n\nx\n\n\xe2\x80\x94 a AAAAAAA=\n", "two spaces"),
        (b"olds 1\n\nx\n\n\xe2\x80\x94 a AAAAAAA=\n", "another keyword"),
        (b"old 1\nnot base64\n\nx\n\n\xe2\x80\x94 a AAAAAAA=\n", "a proof line not base64"),
        (b"old 1\nAAAA\n\nx\n\n\xe2\x80\x94 a AAAAAAA=\n", "a proof line of 3 bytes"),
        (b"old 1\n\xc3\xa9\n\nx\n\n\xe2\x80\x94 a AAAAAAA=\n", "a non-ASCII proof line"),
        (b"old 1\n\nx\n\n- a AAAAAAA=\n", "a checkpoint that is not a note"),
        (b"old 1\n" + b"A" * 43 + b"=\n" * 1 + b"\nx\n\nno\n", "a note without signatures"),
        (b"old 9223372036854775808\n\nx\n\n\xe2\x80\x94 a AAAAAAA=\n", "an old size above int64"),
        (
            b"old 1\n" + (b"A" * 43 + b"=\n") * 64 + b"\nx\n\n\xe2\x80\x94 a AAAAAAA=\n",
            "64 proof lines",
        ),
    ],
)
def test_malformed_bodies_are_400(body: bytes, why: str) -> None:
    """Each break of the request format is a 400 before any lookup."""
    with pytest.raises(MalformedRequestError):
        parse_add_checkpoint(body)
    answer = answer_add_checkpoint(
        body,
        log_keys=lambda origin: pytest.fail("no lookup for a malformed body"),
        latest=lambda origin: pytest.fail("no lookup for a malformed body"),
        cosigners=[WITNESS],
        timestamp=NOW,
    )
    assert (answer.status, answer.code) == (400, "witness_request_malformed")


def test_63_proof_lines_are_read() -> None:
    """63 proof lines is the most a client may send, and it is read."""
    body = b"old 1\n" + (b"A" * 43 + b"=\n") * 63 + b"\nx\n\n\xe2\x80\x94 a AAAAAAA=\n"
    assert len(parse_add_checkpoint(body).proof) == 63


def test_the_whole_exchange_looks_up_by_origin() -> None:
    """answer_add_checkpoint reads the origin's keys and state through the callables."""
    log = Log(ENTRIES[:4])
    asked: list[str] = []

    def keys(origin: str) -> list[Verifier]:
        asked.append(origin)
        return [log.key.verifier]

    answer = answer_add_checkpoint(
        log.request(0), log_keys=keys, latest=lambda o: None, cosigners=[WITNESS], timestamp=NOW
    )
    assert answer.status == 200
    assert asked == [ORIGIN]


@pytest.mark.parametrize("body", [b"05\n", b"5", b"", b"five\n", b"-5\n", b"5\n\n"])
def test_malformed_sizes_in_a_409_are_refused(body: bytes) -> None:
    """A 409 size is decimal digits without leading zeroes and one newline."""
    with pytest.raises(MalformedRequestError):
        parse_tlog_size(body)


def test_cosignatures_from_unknown_witnesses_are_ignored() -> None:
    """The log keeps only cosignatures by witness keys it trusts; none at all is an error."""
    log = Log(ENTRIES[:3])
    stranger = CosignatureSigner("stranger.example", Ed25519PrivateKey.generate())
    answer = _decide(log, log.request(0), None, cosigners=[stranger, WITNESS])
    verified = open_cosignatures(log.checkpoint(), answer.body, [WITNESS.verifier])
    assert [s.name for s in verified] == [WITNESS.name]
    with pytest.raises(UnverifiedNoteError):
        open_cosignatures(log.checkpoint(), answer.body, [])
    with pytest.raises(MalformedNoteError):
        open_cosignatures(log.checkpoint(), b"", [WITNESS.verifier])


@settings(max_examples=40, deadline=None)
@given(
    steps=st.lists(st.integers(0, 6), min_size=1, max_size=8),
    fork_at=st.integers(0, 40),
)
def test_an_honest_log_is_always_cosigned_and_a_fork_never(steps: list[int], fork_at: int) -> None:
    """Growing by any steps, each checkpoint is cosigned; a rewritten past is never."""
    entries = [b"e%d" % i for i in range(sum(steps))]
    log = Log(entries)
    latest: TreeState | None = None
    size = 0
    for step in steps:
        old, size = size, size + step
        answer = _decide(log, log.request(old, size), latest)
        assert answer.status == 200, answer.description
        latest = answer.new_state
    if size and fork_at < size:
        forked = [*entries]
        forked[fork_at] += b"!"
        fork = Log([*forked, b"next"], key=log.key)
        answer = _decide(fork, fork.request(size), latest)
        assert answer.status == 422
        answer = _decide(fork, fork.request(size, size), latest)
        assert answer.status == 409
