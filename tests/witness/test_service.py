"""POST /add-checkpoint over real HTTP, answer by answer as c2sp.org/tlog-witness lists them.

Every request body is built by the log's side of the pure code (`format_add_checkpoint` in
`FakeLog`); every cosignature is checked twice: with `open_cosignatures`, and by hand from the
spec's bytes (key ID, big-endian timestamp, Ed25519 over `cosignature/v1\\ntime T\\n<note>`)
with nothing but the `cryptography` package. A refusal never changes the stored state.
"""

from __future__ import annotations

import base64
import hashlib

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from audit.tlog import (
    SIZE_CONTENT_TYPE,
    Ed25519Signer,
    TreeState,
    format_add_checkpoint,
    open_cosignatures,
    parse_cosignature_key,
    parse_note,
    parse_tlog_size,
    sign_note,
)
from tests.witness.support import NOW, ORIGIN, WITNESS_NAME, FakeLog, get, post
from witness import MAX_BODY_BYTES, StateDir


def _latest(store: StateDir) -> TreeState | None:
    log = store.read().log(ORIGIN)
    assert log is not None
    return log.latest


def _cosign(url: str, log: FakeLog, old: int, size: int | None = None) -> None:
    answer = post(url, log.request(old, size))
    assert answer.status == 200, answer.body


def _by_hand(store: StateDir, checkpoint: bytes, line: str) -> bool:
    """Whether `line` is the witness's cosignature/v1 of `checkpoint`, checked from the spec."""
    vkey = store.read().vkey
    name, hex_id, material = vkey.split("+", 2)
    raw = base64.b64decode(material)
    assert raw[0] == 0x04 and len(raw) == 33
    expected_id = hashlib.sha256(name.encode() + b"\n" + raw).digest()[:4]
    assert bytes.fromhex(hex_id) == expected_id
    assert line.startswith(f"— {name} ") and line.endswith("\n")
    data = base64.b64decode(line[len(f"— {name} ") : -1])
    assert data[:4] == expected_id and len(data) == 4 + 8 + 64
    timestamp = int.from_bytes(data[4:12], "big")
    text = parse_note(checkpoint).text
    message = f"cosignature/v1\ntime {timestamp}\n{text}".encode()
    try:
        Ed25519PublicKey.from_public_bytes(raw[1:]).verify(data[12:], message)
    except Exception:
        return False
    return timestamp == NOW


def test_200_cosigns_and_persists(witness_url: str, witness_dir: StateDir, log: FakeLog) -> None:
    """A first checkpoint (old 0, no proof) is cosigned with a cosignature/v1 line at the
    witness's time, and its size and root are stored before the answer."""
    checkpoint = log.checkpoint()
    answer = post(witness_url, format_add_checkpoint(0, [], checkpoint))
    assert answer.status == 200
    assert answer.content_type.startswith("text/plain")
    witness_key = parse_cosignature_key(witness_dir.read().vkey)
    (signature,) = open_cosignatures(checkpoint, answer.body, [witness_key])
    assert signature.name == WITNESS_NAME
    assert _by_hand(witness_dir, checkpoint, answer.body.decode())
    assert _latest(witness_dir) == TreeState(20, log.store.root())


def test_200_for_an_extension_with_its_proof(
    witness_url: str, witness_dir: StateDir, log: FakeLog
) -> None:
    """After size 10, the checkpoint at 20 with the consistency proof 10 → 20 is cosigned."""
    _cosign(witness_url, log, 0, 10)
    answer = post(witness_url, log.request(10, 20))
    assert answer.status == 200
    assert _by_hand(witness_dir, log.checkpoint(20), answer.body.decode())
    assert _latest(witness_dir) == TreeState(20, log.store.root(20))


def test_unknown_signatures_are_ignored(
    witness_url: str, witness_dir: StateDir, log: FakeLog
) -> None:
    """A checkpoint that also carries signatures by unknown keys is cosigned all the same."""
    stranger = Ed25519Signer("stranger.example/key", Ed25519PrivateKey.generate())
    note = parse_note(log.checkpoint())
    both = sign_note(note.text, [stranger], existing=note.unverified)
    answer = post(witness_url, format_add_checkpoint(0, [], both))
    assert answer.status == 200, answer.body
    assert _by_hand(witness_dir, both, answer.body.decode())


def test_404_for_an_unknown_origin(witness_url: str, witness_dir: StateDir) -> None:
    """A checkpoint of a log the witness does not know is 404, and nothing is stored."""
    other = FakeLog(5, origin="other.example/log")
    answer = post(witness_url, other.request(0))
    assert answer.status == 404
    assert "other.example/log" in answer.body.decode()
    assert witness_dir.read().log("other.example/log") is None


def test_403_without_a_trusted_signature(
    witness_url: str, witness_dir: StateDir, log: FakeLog
) -> None:
    """The origin's name signed with another key is 403; so is the trusted key's signature
    with one bit flipped."""
    impostor = FakeLog(20, Ed25519Signer(ORIGIN, Ed25519PrivateKey.generate()))
    assert post(witness_url, impostor.request(0)).status == 403
    checkpoint = bytearray(log.checkpoint())
    signature_at = checkpoint.rindex(b" ") + 10  # inside the base64 after the key ID
    checkpoint[signature_at] = ord("A") if checkpoint[signature_at] != ord("A") else ord("B")
    assert post(witness_url, format_add_checkpoint(0, [], bytes(checkpoint))).status == 403
    assert _latest(witness_dir) is None


@pytest.mark.parametrize(
    ("body", "says"),
    [
        (b"", "empty line"),
        (b"old 0\n", "empty line"),
        (b"old 00\n\n", "leading zeroes"),
        (b"new 0\n\n", "'old <size>'"),
        (b"old 0\nnot-base64\n\n", "base64 of 32 bytes"),
        (b"old 0\n" + b"AAAA\n" + b"\n", "base64 of 32 bytes"),
        (b"old 0\n\nbroker.example/audit\n20\nroot\n", "signed note"),
    ],
)
def test_400_for_a_malformed_body(
    witness_url: str, witness_dir: StateDir, body: bytes, says: str
) -> None:
    """A body that breaks the spec's syntax is 400 with a reason, nothing stored."""
    answer = post(witness_url, body)
    assert answer.status == 400
    assert says in answer.body.decode()
    assert _latest(witness_dir) is None


def test_400_for_more_than_63_proof_lines(witness_url: str, log: FakeLog) -> None:
    """64 proof lines is 400: the client MUST NOT send more than 63."""
    proof_line = base64.b64encode(bytes(32)) + b"\n"
    body = b"old 0\n" + proof_line * 64 + b"\n" + log.checkpoint()
    answer = post(witness_url, body)
    assert answer.status == 400
    assert "63" in answer.body.decode()


def test_400_for_an_old_size_above_the_checkpoint(
    witness_url: str, witness_dir: StateDir, log: FakeLog
) -> None:
    """An old size above the checkpoint's size is 400, even when it is the stored size."""
    _cosign(witness_url, log, 0, 20)
    answer = post(witness_url, format_add_checkpoint(20, [], log.checkpoint(10)))
    assert answer.status == 400
    assert "above" in answer.body.decode()
    assert _latest(witness_dir) == TreeState(20, log.store.root(20))


def test_409_with_the_latest_size_when_the_old_size_is_not_it(
    witness_url: str, witness_dir: StateDir, log: FakeLog
) -> None:
    """An old size other than the latest cosigned one is 409 `text/x.tlog.size` with that size:
    0 before anything was cosigned, then the size cosigned."""
    before = post(witness_url, log.request(10, 20))
    assert (before.status, before.content_type, before.body) == (409, SIZE_CONTENT_TYPE, b"0\n")
    _cosign(witness_url, log, 0, 15)
    log.grow(5)
    after = post(witness_url, log.request(10, 25))
    assert (after.status, after.content_type) == (409, SIZE_CONTENT_TYPE)
    assert parse_tlog_size(after.body) == 15
    assert _latest(witness_dir) == TreeState(15, log.store.root(15))


def test_422_when_the_consistency_proof_fails(
    witness_url: str, witness_dir: StateDir, log: FakeLog
) -> None:
    """A proof with one hash changed, left out or cut short, and a proof sent where the sizes
    are equal, are each 422; the stored tree stays the one cosigned."""
    _cosign(witness_url, log, 0, 10)
    proof = log.store.consistency_proof(10, 20)
    changed = [proof[0][:-1] + bytes([proof[0][-1] ^ 1]), *proof[1:]]
    for body in (
        format_add_checkpoint(10, changed, log.checkpoint(20)),
        format_add_checkpoint(10, [], log.checkpoint(20)),
        format_add_checkpoint(10, proof[:-1], log.checkpoint(20)),
    ):
        answer = post(witness_url, body)
        assert answer.status == 422, answer.body
    assert post(witness_url, format_add_checkpoint(10, proof, log.checkpoint(10))).status == 422
    assert _latest(witness_dir) == TreeState(10, log.store.root(10))


def test_409_for_another_root_at_the_same_size(
    witness_url: str, witness_dir: StateDir, log: FakeLog
) -> None:
    """The same size with a different root (signed by the log) is 409, kept as evidence."""
    _cosign(witness_url, log, 0, 20)
    forged = log.rewritten(10)
    answer = post(witness_url, forged.request(20, 20))
    assert answer.status == 409
    assert answer.content_type.startswith("text/plain")
    assert "another root" in answer.body.decode()
    assert _latest(witness_dir) == TreeState(20, log.store.root(20))
    (evidence,) = witness_dir.evidence_dir.iterdir()
    assert "409-root_mismatch" in evidence.name
    assert evidence.read_bytes() == forged.request(20, 20)


def test_the_same_checkpoint_again_is_cosigned_again(witness_url: str, log: FakeLog) -> None:
    """Old size equal to the checkpoint's, same root, no proof: cosigned (nothing to add)."""
    _cosign(witness_url, log, 0, 20)
    assert post(witness_url, log.request(20, 20)).status == 200


def test_the_body_is_bounded(witness_url: str, witness_dir: StateDir, log: FakeLog) -> None:
    """A body over MAX_BODY_BYTES is refused with 413 before it is read."""
    body = log.request(0) + b"x" * MAX_BODY_BYTES
    answer = post(witness_url, body)
    assert answer.status == 413
    assert _latest(witness_dir) is None


def test_only_post_add_checkpoint_is_served(witness_url: str) -> None:
    """GET /add-checkpoint is 405 and any other path 404, each as a line of text."""
    wrong_method = get(witness_url, "/add-checkpoint")
    assert wrong_method.status == 405 and "POST" in wrong_method.body.decode()
    elsewhere = post(witness_url, b"old 0\n\n", path="/checkpoint")
    assert elsewhere.status == 404 and elsewhere.content_type.startswith("text/plain")


def test_a_broken_state_cosigns_nothing(
    witness_url: str, witness_dir: StateDir, log: FakeLog
) -> None:
    """When state.json cannot be read the answer is 500 and carries no cosignature."""
    witness_dir.state_file.write_text("{not json", encoding="utf-8")
    answer = post(witness_url, log.request(0))
    assert answer.status == 500
    assert b"\xe2\x80\x94" not in answer.body


def test_a_log_trusted_while_serving_is_witnessed_at_once(
    witness_url: str, witness_dir: StateDir, log: FakeLog
) -> None:
    """`trust` changes state.json under the lock; the running witness reads it per request:
    a new log is cosigned without a restart, and a log's second key (rotation) is honoured
    beside the first."""
    other = FakeLog(3, origin="other.example/log")
    assert post(witness_url, other.request(0)).status == 404
    witness_dir.trust(other.vkey)
    assert post(witness_url, other.request(0)).status == 200
    _cosign(witness_url, log, 0, 10)
    rotated = FakeLog(20, Ed25519Signer(ORIGIN, Ed25519PrivateKey.generate()))
    assert post(witness_url, rotated.request(10, 20)).status == 403
    witness_dir.trust(rotated.vkey)
    assert post(witness_url, rotated.request(10, 20)).status == 200
    assert _latest(witness_dir) == TreeState(20, log.store.root(20))
