"""Signed notes against golang.org/x/mod/sumdb/note's test data and C2SP signed-note's rules.

Vector sources (data only): golang/mod, sumdb/note/note_test.go — the keys of PeterNeumann and
EnochRoot, their signatures of the Peter Neumann quote, and the malformed notes Open refuses;
C2SP/C2SP, signed-note.md — the example note (its key is not published, so it is parsed only).
"""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from audit.tlog import (
    ED25519,
    MAX_SIGNATURES,
    AmbiguousKeyError,
    Ed25519Signer,
    Ed25519Verifier,
    InvalidSignatureError,
    KeyFormatError,
    MalformedNoteError,
    Signature,
    UnverifiedNoteError,
    decode_verifier_key,
    generate_signer_key,
    is_valid_key_name,
    key_id,
    open_note,
    parse_note,
    parse_signer_key,
    parse_verifier_key,
    sign_note,
)

# golang/mod sumdb/note/note_test.go
PETER_VKEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
PETER_SKEY = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
ENOCH_VKEY = "EnochRoot+af0cfe78+ATtqJ7zOtqQtYqOo0CpvDXNlMhV3HeJDpjrASKGLWdop"
TEXT = (
    "If you think cryptography is the answer to your problem,\n"
    "then you don't know what your problem is.\n"
)
PETER_SIG = (
    "— PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6"
    "KE6RyyBwJnAM=\n"
)
ENOCH_SIG = (
    "— EnochRoot rwz+eBzmZa0SO3NbfRGzPCpDckykFXSdeX+MNtCOXm2/5n2tiOHp+vAF1aGrQ5ovTG01oOTGwnWLox33W"
    "Wd1RvMc+QQ=\n"
)

# C2SP/C2SP signed-note.md: the example note
QUASIMODO = (
    "Ognuno sta solo sul cuor della terra\ntrafitto da un raggio di sole:\n\ned è subito sera.\n\n"
    "— quasimodo.example/salvatore NnugSzTjtVAewIS+Z/iJhUPeFDkO/5QQ2i5ddnGITLlC+EhfLW9oJKONrMouFSQ"
    "U0xMcXxj99ihAQwaqP3ZekRwNtIc=\n"
)


def _note(*signature_lines: str) -> bytes:
    return (TEXT + "\n" + "".join(signature_lines)).encode()


def test_the_go_verifier_key_reads_with_its_key_id() -> None:
    """PeterNeumann's verifier key reads as Ed25519 with key ID c74f20a3."""
    verifier = parse_verifier_key(PETER_VKEY)
    assert (verifier.name, verifier.key_id) == ("PeterNeumann", 0xC74F20A3)
    assert verifier.vkey == PETER_VKEY


def test_every_mangled_verifier_key_is_refused() -> None:
    """Every proper substring and every one-byte change of the key is refused (note_test.go)."""
    raw = PETER_VKEY.encode()
    accepted = []
    for i in range(len(raw) + 1):
        for j in range(i + 1, len(raw) + 1):
            if (i, j) != (0, len(raw)):
                accepted += _accepted_verifier_key(raw[i:j])
    for i in range(len(raw)):
        accepted += _accepted_verifier_key(raw[:i] + bytes([raw[i] + 1]) + raw[i + 1 :])
    assert accepted == []


def _accepted_verifier_key(raw: bytes) -> list[bytes]:
    try:
        parse_verifier_key(raw.decode("utf-8"))
    except (KeyFormatError, UnicodeDecodeError):
        return []
    return [raw]


@pytest.mark.parametrize(
    "vkey",
    [
        # wrong length key, with adjusted key hash (note_test.go)
        "PeterNeumann+cc469956+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TWBADKEY==",
        # unknown algorithm, with adjusted key hash (note_test.go)
        "PeterNeumann+173116ae+ZRpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
    ],
)
def test_verifier_keys_of_wrong_length_or_type_are_refused(vkey: str) -> None:
    """A key of 35 bytes, or of an unknown type, is refused though its key ID matches."""
    decode_verifier_key(vkey)  # the key ID is right …
    with pytest.raises(KeyFormatError):
        parse_verifier_key(vkey)  # … but the key is not an Ed25519 one


def test_the_go_signer_key_reads_and_every_mangling_is_refused() -> None:
    """PeterNeumann's signer key reads; its substrings and one-byte changes do not."""
    signer = parse_signer_key(PETER_SKEY)
    assert (signer.name, signer.key_id, signer.skey) == ("PeterNeumann", 0xC74F20A3, PETER_SKEY)
    assert signer.verifier.vkey == PETER_VKEY
    raw = PETER_SKEY.encode()
    candidates = [raw[i:j] for i in range(len(raw) + 1) for j in range(i + 1, len(raw) + 1)]
    candidates = [c for c in candidates if c != raw]
    candidates += [raw[:i] + bytes([raw[i] + 1]) + raw[i + 1 :] for i in range(len(raw))]
    accepted = []
    for candidate in candidates:
        try:
            parse_signer_key(candidate.decode("utf-8"))
        except (KeyFormatError, UnicodeDecodeError):
            continue
        accepted.append(candidate)
    assert accepted == []


def test_signing_gives_the_go_signature() -> None:
    """Signing the quote with PeterNeumann's key gives the note note_test.go expects."""
    assert sign_note(TEXT, [parse_signer_key(PETER_SKEY)]) == _note(PETER_SIG)


def test_signing_replaces_an_existing_signature_by_the_same_key() -> None:
    """A stale signature by the signing key is dropped for the new one (note_test.go)."""
    stale = Signature("PeterNeumann", 0xC74F20A3, b"BADSIGN")
    assert sign_note(TEXT, [parse_signer_key(PETER_SKEY)], [stale]) == _note(PETER_SIG)


def test_signing_keeps_other_signatures_first() -> None:
    """Existing signatures by other keys stay, before the new ones."""
    enoch = parse_note(_note(ENOCH_SIG)).unverified[0]
    assert sign_note(TEXT, [parse_signer_key(PETER_SKEY)], [enoch]) == _note(ENOCH_SIG, PETER_SIG)


@pytest.mark.parametrize(
    ("text", "existing", "signer_name"),
    [
        ("abc", [], "PeterNeumann"),
        (TEXT, [Signature("a+b", 1, b"x")], "PeterNeumann"),
        (TEXT, [], "bad name"),
        ("tab\there\n", [], "PeterNeumann"),
    ],
)
def test_signing_bad_input_is_refused(
    text: str, existing: list[Signature], signer_name: str
) -> None:
    """No final newline, a bad existing name, a bad signer name or a control character."""
    signer = parse_signer_key(PETER_SKEY)
    renamed = _Renamed(signer_name, signer)
    with pytest.raises(MalformedNoteError):
        sign_note(text, [renamed], existing)


class _Renamed:
    def __init__(self, name: str, signer: Ed25519Signer) -> None:
        self.name, self.key_id, self._signer = name, signer.key_id, signer

    def sign(self, message: bytes) -> bytes:
        return self._signer.sign(message)


def test_one_verified_and_one_unknown_signature() -> None:
    """With Peter's key only: Peter's signature verifies, Enoch's is kept apart (note_test.go)."""
    note = open_note(_note(PETER_SIG, ENOCH_SIG), [parse_verifier_key(PETER_VKEY)])
    assert note.text == TEXT
    assert [(s.name, s.key_id) for s in note.signatures] == [("PeterNeumann", 0xC74F20A3)]
    assert [(s.name, s.key_id) for s in note.unverified] == [("EnochRoot", 0xAF0CFE78)]


def test_both_signatures_verified() -> None:
    """With both keys both signatures verify, in note order."""
    keys = [parse_verifier_key(PETER_VKEY), parse_verifier_key(ENOCH_VKEY)]
    note = open_note(_note(PETER_SIG, ENOCH_SIG), keys)
    assert [s.name for s in note.signatures] == ["PeterNeumann", "EnochRoot"]
    assert note.unverified == ()


def test_no_known_key_means_unverified() -> None:
    """Without a known key the note is refused, and the error carries the parsed note."""
    with pytest.raises(UnverifiedNoteError) as caught:
        open_note(_note(PETER_SIG, ENOCH_SIG), [])
    assert [s.name for s in caught.value.note.unverified] == ["PeterNeumann", "EnochRoot"]
    assert caught.value.status_code == 403


def test_a_duplicated_verifier_is_ambiguous_only_when_used() -> None:
    """Two identical keys are an error for their signature, not for another one."""
    peter, enoch = parse_verifier_key(PETER_VKEY), parse_verifier_key(ENOCH_VKEY)
    with pytest.raises(AmbiguousKeyError):
        open_note(_note(ENOCH_SIG), [enoch, peter, enoch])
    assert open_note(_note(PETER_SIG), [enoch, peter, enoch]).signatures


def test_signature_count_is_limited() -> None:
    """101 signature lines are malformed, whatever the keys; 100 and 16 are read."""
    peter = parse_verifier_key(PETER_VKEY)
    for keys in ([peter], []):
        with pytest.raises(MalformedNoteError):
            open_note(_note(PETER_SIG * (MAX_SIGNATURES + 1)), keys)
    assert len(open_note(_note(PETER_SIG * MAX_SIGNATURES), [peter]).signatures) == 1
    assert len(parse_note(_note(ENOCH_SIG * 16)).unverified) == 16


def test_a_known_key_whose_signature_fails_rejects_the_note() -> None:
    """A signature by Peter's key that does not verify rejects the whole note (note_test.go)."""
    broken = PETER_SIG[:60] + "ABCD" + PETER_SIG[60:]
    with pytest.raises(InvalidSignatureError) as caught:
        open_note(_note(broken), [parse_verifier_key(PETER_VKEY)])
    assert (caught.value.name, caught.value.key_id) == ("PeterNeumann", 0xC74F20A3)
    with pytest.raises(InvalidSignatureError):
        open_note(_note(ENOCH_SIG, PETER_SIG, broken), [parse_verifier_key(PETER_VKEY)])


def test_duplicated_signatures_count_once() -> None:
    """Repeated lines count once; a changed unknown signature is another unknown one."""
    enoch_abcd = ENOCH_SIG[:60] + "ABCD" + ENOCH_SIG[60:]
    message = _note(PETER_SIG, PETER_SIG, ENOCH_SIG, ENOCH_SIG, enoch_abcd)
    note = open_note(message, [parse_verifier_key(PETER_VKEY)])
    assert [s.name for s in note.signatures] == ["PeterNeumann"]
    assert [s.line for s in note.unverified] == [ENOCH_SIG, enoch_abcd]


@pytest.mark.parametrize(
    "message",
    [
        TEXT.encode(),
        (TEXT + "\n").encode(),
        _note(PETER_SIG[:-1]),
        b"\x01" + _note(PETER_SIG),
        b"\xff" + _note(PETER_SIG),
        _note(
            "— Bad Name x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngo"
            "tpRZb6KE6RyyBwJnAM="
        ),
        _note(PETER_SIG, "Unexpected line.\n"),
    ],
)
def test_the_go_malformed_notes_are_refused(message: bytes) -> None:
    """Each malformed note of note_test.go's TestOpen is refused as malformed."""
    with pytest.raises(MalformedNoteError):
        open_note(message, [parse_verifier_key(PETER_VKEY)])


@pytest.mark.parametrize(
    ("message", "why"),
    [
        (_note(PETER_SIG.replace("PeterNeumann", "Peter+Neumann")), "a '+' in a key name"),
        (_note(PETER_SIG.replace("— ", "-- ")), "no em dash"),
        (_note(PETER_SIG.replace("— ", "—")), "no space after the em dash"),
        (_note("— PeterNeumann AAAAAA==\n"), "4 bytes: a key ID and no signature"),
        (_note("— PeterNeumann x08go/ZJkuBS9\n"), "base64 without its padding"),
        (("a\rb\n\n" + PETER_SIG).encode(), "a carriage return"),
        (("a\tb\n\n" + PETER_SIG).encode(), "a tab"),
        (_note(PETER_SIG.replace("PeterNeumann", "Peter\u00a0Neumann")), "a no-break space"),
        (_note(PETER_SIG.replace("PeterNeumann", "Peter\u2003Neumann")), "an em space"),
        (("\n" + PETER_SIG).encode(), "no blank line before the signature"),
    ],
)
def test_spec_rules_refuse_malformed_notes(message: bytes, why: str) -> None:
    """Each rule of c2sp.org/signed-note's Format section refuses a note that breaks it."""
    with pytest.raises(MalformedNoteError):
        parse_note(message)


def test_the_last_blank_line_separates_the_text() -> None:
    """Lines before a later blank line belong to the text, even if they look like signatures."""
    note = parse_note(_note(PETER_SIG, "\n", ENOCH_SIG))
    assert note.text == TEXT + "\n" + PETER_SIG
    assert [s.name for s in note.unverified] == ["EnochRoot"]


def test_unknown_keys_sharing_a_name_or_an_id_are_ignored() -> None:
    """A signature matching a known key in name only, or in key ID only, is unverified."""
    peter = parse_verifier_key(PETER_VKEY)
    signature = parse_note(_note(PETER_SIG)).unverified[0].signature
    same_name = Signature("PeterNeumann", 0xC74F20A4, signature).line
    same_id = Signature("PeterNeuman", 0xC74F20A3, signature).line
    note = open_note(_note(same_name, same_id, PETER_SIG), [peter])
    assert [s.name for s in note.signatures] == ["PeterNeumann"]
    assert [(s.name, s.key_id) for s in note.unverified] == [
        ("PeterNeumann", 0xC74F20A4),
        ("PeterNeuman", 0xC74F20A3),
    ]


def test_the_c2sp_example_note_parses_at_its_last_blank_line() -> None:
    """The spec's example keeps its inner blank line in the text; its key is unknown to us."""
    note = parse_note(QUASIMODO.encode())
    assert note.text == (
        "Ognuno sta solo sul cuor della terra\ntrafitto da un raggio di sole:\n"
        "\ned è subito sera.\n"
    )
    assert [s.name for s in note.unverified] == ["quasimodo.example/salvatore"]
    assert len(note.unverified[0].signature) == 64
    with pytest.raises(UnverifiedNoteError):
        open_note(QUASIMODO.encode(), [parse_verifier_key(PETER_VKEY)])


def test_key_ids_follow_the_spec_formula() -> None:
    """The key ID is SHA-256(name ‖ 0x0A ‖ type ‖ key)[:4]; the type changes it."""
    decoded = decode_verifier_key(PETER_VKEY)
    assert decoded.signature_type == ED25519
    assert key_id("PeterNeumann", ED25519, decoded.public_key) == 0xC74F20A3
    assert key_id("PeterNeumann", 0x04, decoded.public_key) != 0xC74F20A3


def test_generated_keys_sign_and_verify() -> None:
    """A generated key pair signs a note its verifier key opens, and nothing else does."""
    skey, vkey = generate_signer_key("broker.example/audit")
    signer, verifier = parse_signer_key(skey), parse_verifier_key(vkey)
    message = sign_note("hello\n", [signer])
    assert open_note(message, [verifier]).text == "hello\n"
    other = Ed25519Verifier("broker.example/audit", Ed25519PrivateKey.generate().public_key())
    with pytest.raises(UnverifiedNoteError):
        open_note(message, [other])


@pytest.mark.parametrize(
    ("name", "valid"),
    [
        ("example.com/log", True),
        ("", False),
        ("a+b", False),
        ("a b", False),
        ("a\u00a0b", False),
        ("a\u3000b", False),
        ("ü.example", True),
    ],
)
def test_key_name_rules(name: str, valid: bool) -> None:
    """Key names are non-empty, without Unicode spaces and without '+'."""
    assert is_valid_key_name(name) is valid
