"""Checkpoints (c2sp.org/tlog-checkpoint) and cosignature/v1 (c2sp.org/tlog-cosignature).

Vector sources (data only): C2SP/C2SP tlog-checkpoint.md and tlog-cosignature.md — the example
checkpoint of example.com/behind-the-sofa, its cosignature line by witness.example.com/w1 and the
example signed message at time 1679315147 (the spec publishes no private keys, so those lines
are read, not verified); golang/mod sumdb/note/note_test.go — PeterNeumann's Ed25519 seed, used
here as a key from outside; each cosignature is also checked against the message built by hand
from the spec's wording, with the raw Ed25519 of `cryptography`.
"""

from __future__ import annotations

import base64

import pytest
from cryptography.exceptions import InvalidSignature

from audit.tlog import (
    COSIGNATURE_V1,
    MAX_TREE_SIZE,
    CosignatureSigner,
    CosignatureVerifier,
    KeyFormatError,
    LogCheckpoint,
    MalformedCheckpointError,
    Signature,
    cosignature_message,
    cosignature_timestamp,
    decode_verifier_key,
    key_id,
    open_log_checkpoint,
    open_note,
    parse_cosignature_key,
    parse_log_checkpoint,
    parse_note,
    parse_signer_key,
    parse_verifier_key,
    sign_log_checkpoint,
    sign_note,
)
from audit.tlog.note import UnverifiedNoteError

# C2SP/C2SP tlog-checkpoint.md and tlog-cosignature.md
SPEC_BODY = "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"
SPEC_LOG_SIG = (
    "— example.com/behind-the-sofa Az3grlgtzPICa5OS8npVmf1Myq/5IZniMp+ZJurmRDeOoRDe4URYN7u5/Zhcyv2q"
    "1gGzGku9nTo+zyWE+xeMcTOAYQ8=\n"
)
SPEC_COSIG = (
    "— witness.example.com/w1 jWbPPwAAAABkGFDLEZMHwSRaJNiIDoe9DYn/zXcrtPHeolMI5OWXEhZCB9dlrDJsX3b"
    "2oyin1nPZqhf5nNo0xUe+mbIUBkBIfZ+qnA==\n"
)
SPEC_MESSAGE = (
    "cosignature/v1\ntime 1679315147\n"
    "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"
)

# golang/mod sumdb/note/note_test.go
PETER_SKEY = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
PETER_VKEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
WITNESS = "witness.example/w1"


def _witness() -> CosignatureSigner:
    return CosignatureSigner(WITNESS, parse_signer_key(PETER_SKEY).private_key)


def test_the_spec_checkpoint_reads_and_writes_back() -> None:
    """The spec's example body reads as origin, size and root, and formats to the same text."""
    checkpoint = parse_log_checkpoint(SPEC_BODY)
    assert checkpoint.origin == "example.com/behind-the-sofa"
    assert checkpoint.size == 20852163
    assert checkpoint.root_hash == base64.b64decode("CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=")
    assert checkpoint.extensions == ()
    assert checkpoint.body == SPEC_BODY


def test_the_spec_signed_checkpoint_parses_as_a_note() -> None:
    """The spec's signed example is a note with one Ed25519-sized signature by the origin."""
    note = parse_note((SPEC_BODY + "\n" + SPEC_LOG_SIG).encode())
    assert note.text == SPEC_BODY
    (signature,) = note.unverified
    assert (signature.name, len(signature.signature)) == ("example.com/behind-the-sofa", 64)


def test_extension_lines_are_kept() -> None:
    """Lines after the root hash are extension lines, kept in order."""
    checkpoint = parse_log_checkpoint(SPEC_BODY + "ext one\next two\n")
    assert checkpoint.extensions == ("ext one", "ext two")
    assert checkpoint.body == SPEC_BODY + "ext one\next two\n"


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("example.com/log\n5\n", "two lines"),
        ("example.com/log\n5\n" + "A" * 43 + "=", "no final newline"),
        ("\n5\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n", "an empty origin"),
        ("o\n05\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n", "a leading zero"),
        ("o\n-5\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n", "a sign"),
        ("o\n+5\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n", "a plus sign"),
        ("o\n 5\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n", "a space"),
        ("o\n５\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n", "a non-ASCII digit"),
        ("o\n\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n", "an empty size"),
        (f"o\n{2**63}\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n", "a size above int64"),
        ("o\n5\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2=\n", "a 31-byte root"),
        ("o\n5\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I\n", "unpadded base64"),
        ("o\n5\nCsUYapGGPo4dkMgIAUqom_Xajj7h2fB2MPA3j2jxq2I=\n", "URL-safe base64"),
        ("o\n5\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n\n", "an empty extension line"),
        ("o\n5\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\nx\ty\n", "a control character"),
    ],
)
def test_malformed_checkpoints_are_refused(text: str, why: str) -> None:
    """Each break of the checkpoint's note-text rules is a MalformedCheckpointError."""
    with pytest.raises(MalformedCheckpointError):
        parse_log_checkpoint(text)


def test_sizes_up_to_int64_are_read() -> None:
    """Size 0 and 2**63 − 1 are the bounds of what is read."""
    root = "CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I="
    assert parse_log_checkpoint(f"o\n0\n{root}\n").size == 0
    assert parse_log_checkpoint(f"o\n{MAX_TREE_SIZE}\n{root}\n").size == MAX_TREE_SIZE


def test_our_checkpoints_keep_the_origin_recommendation_when_asked() -> None:
    """strict_origin refuses an origin with a space or '+', which reading never does."""
    root = bytes(32)
    assert LogCheckpoint("a b", 1, root).origin == "a b"
    for origin in ("a b", "a+b"):
        with pytest.raises(MalformedCheckpointError):
            LogCheckpoint(origin, 1, root, strict_origin=True)


def test_a_signed_checkpoint_opens_with_the_log_key_only() -> None:
    """A checkpoint signed by the log's key opens with that key and not without it."""
    checkpoint = LogCheckpoint("PeterNeumann", 8, bytes(range(32)))
    message = sign_log_checkpoint(checkpoint, [parse_signer_key(PETER_SKEY)])
    opened, note = open_log_checkpoint(message, [parse_verifier_key(PETER_VKEY)])
    assert opened == checkpoint
    assert [s.name for s in note.signatures] == ["PeterNeumann"]
    with pytest.raises(UnverifiedNoteError):
        open_log_checkpoint(message, [_witness().verifier])


def test_a_signed_non_checkpoint_is_refused() -> None:
    """A validly signed note whose text is not a checkpoint is a MalformedCheckpointError."""
    message = sign_note("hello\nworld\n", [parse_signer_key(PETER_SKEY)])
    with pytest.raises(MalformedCheckpointError):
        open_log_checkpoint(message, [parse_verifier_key(PETER_VKEY)])


def test_the_spec_cosignature_line_carries_the_spec_timestamp() -> None:
    """The spec's cosignature is 72 bytes whose first 8 are the example's time 1679315147."""
    note = parse_note((SPEC_BODY + "\n" + SPEC_LOG_SIG + SPEC_COSIG).encode())
    signature = note.unverified[1]
    assert signature.name == "witness.example.com/w1"
    assert len(signature.signature) == 72
    assert cosignature_timestamp(signature) == 1679315147


def test_the_signed_message_is_the_spec_example() -> None:
    """Header line, time line and the whole checkpoint body, byte for byte as in the spec."""
    assert cosignature_message(1679315147, SPEC_BODY) == SPEC_MESSAGE.encode()


def test_a_cosignature_is_timestamp_then_ed25519_over_the_spec_message() -> None:
    """The 72 bytes are u64 big-endian time ‖ Ed25519 over the message built from the spec."""
    signer = _witness()
    signature = signer.cosign(SPEC_BODY, 1679315147)
    assert signature.signature[:8] == (1679315147).to_bytes(8, "big")
    public = signer.private_key.public_key()
    public.verify(signature.signature[8:], SPEC_MESSAGE.encode())  # raises when it does not hold
    with pytest.raises(InvalidSignature):
        public.verify(signature.signature[8:], SPEC_BODY.encode())


def test_the_cosignature_key_id_uses_type_0x04() -> None:
    """The key ID is SHA-256(name ‖ \\n ‖ 0x04 ‖ key)[:4], not the Ed25519 note key's."""
    signer = _witness()
    raw = decode_verifier_key(PETER_VKEY).public_key
    assert signer.key_id == key_id(WITNESS, 0x04, raw)
    assert signer.key_id != key_id(WITNESS, 0x01, raw)
    vkey = signer.verifier.vkey
    assert decode_verifier_key(vkey).signature_type == COSIGNATURE_V1
    assert parse_cosignature_key(vkey) == signer.verifier


def test_key_strings_of_the_other_type_are_refused() -> None:
    """A cosignature key is not a note key, and a note key is not a cosignature key."""
    with pytest.raises(KeyFormatError):
        parse_verifier_key(_witness().verifier.vkey)
    with pytest.raises(KeyFormatError):
        parse_cosignature_key(PETER_VKEY)


def test_cosigned_notes_verify_and_each_change_is_caught() -> None:
    """A cosigned checkpoint opens with the witness key; a changed time or body does not."""
    body = SPEC_BODY + "an extension\n"
    signer = _witness()
    signature = signer.cosign(body, 1700000000)
    verifier = signer.verifier
    assert open_note(f"{body}\n{signature.line}".encode(), [verifier]).signatures == (signature,)
    later = Signature(
        signature.name,
        signature.key_id,
        (1700000001).to_bytes(8, "big") + signature.signature[8:],
    )
    assert not verifier.verify(body.encode(), later.signature)
    assert not verifier.verify(SPEC_BODY.encode(), signature.signature)
    assert not verifier.verify(body.encode(), signature.signature[:71])
    assert not verifier.verify(b"not a checkpoint\n", signature.signature)


def test_timestamps_above_int64_are_refused() -> None:
    """A timestamp above 2**63 − 1 is neither signed nor accepted."""
    signer = _witness()
    with pytest.raises(ValueError):
        signer.cosign(SPEC_BODY, 2**63)
    forged = (2**63).to_bytes(8, "big") + bytes(64)
    assert not signer.verifier.verify(SPEC_BODY.encode(), forged)


def test_the_signer_refuses_what_is_not_a_checkpoint() -> None:
    """A witness cosigns checkpoints only."""
    with pytest.raises(MalformedCheckpointError):
        _witness().cosign("hello\n", 1)


def test_sign_reads_the_clock() -> None:
    """Signing as a note signer stamps the clock's time."""
    signer = CosignatureSigner(WITNESS, _witness().private_key, clock=lambda: 1234)
    message = sign_note(SPEC_BODY, [signer])
    (signature,) = open_note(message, [signer.verifier]).signatures
    assert cosignature_timestamp(signature) == 1234


def test_a_cosigner_verifier_is_the_same_whichever_way_it_is_made() -> None:
    """From the key string or from the signer, the verifier is equal."""
    signer = _witness()
    made = CosignatureVerifier(WITNESS, signer.private_key.public_key())
    assert made == signer.verifier == parse_cosignature_key(made.vkey)
