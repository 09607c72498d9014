"""Signed notes (c2sp.org/signed-note): text signed by one or more named keys.

A note is UTF-8 text ending in a newline, a blank line, then one or more signature lines
`— <key name> <base64(4-byte key ID ‖ signature)>`. The text is separated from the signatures
by the last blank line; no ASCII control character but the newline may appear anywhere. A key
name is non-empty and has neither Unicode spaces nor '+'. The key ID is the first four bytes
(big-endian) of SHA-256(key name ‖ 0x0A ‖ signature type ‖ public key); Ed25519 is type 0x01.

`open_note` verifies: a signature whose name and key ID match a known key MUST verify, and one
that does not rejects the whole note (the spec's SHOULD); signatures from unknown keys are kept
apart, unverified; a note without a verified signature is rejected. At most `MAX_SIGNATURES`
signature lines are read (the spec asks for at least 16; golang.org/x/mod/sumdb/note reads 100).

Key strings are those of golang.org/x/mod/sumdb/note, which the signed-note spec's verifier keys
(vkeys) describe: `<name>+<8 hex digits of the key ID>+<base64(type ‖ public key)>`, and for
signer keys `PRIVATE+KEY+<name>+<key ID>+<base64(type ‖ 32-byte Ed25519 seed)>`.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Final, Protocol

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

from audit.tlog.errors import (
    AmbiguousKeyError,
    InvalidSignatureError,
    KeyFormatError,
    MalformedNoteError,
)

from .errors import TlogError

__all__ = [
    "ED25519",
    "MAX_SIGNATURES",
    "SIGNATURE_PREFIX",
    "Ed25519Signer",
    "Ed25519Verifier",
    "Note",
    "Signature",
    "Signer",
    "UnverifiedNoteError",
    "Verifier",
    "VerifierKey",
    "decode_b64",
    "decode_verifier_key",
    "ed25519_public_key",
    "format_signer_key",
    "format_verifier_key",
    "generate_signer_key",
    "is_valid_key_name",
    "key_id",
    "open_note",
    "parse_note",
    "parse_signer_key",
    "parse_verifier_key",
    "read_signer_key",
    "sign_note",
]

ED25519: Final = 0x01
MAX_SIGNATURES: Final = 100
SIGNATURE_PREFIX: Final = "— "
_HEX8 = re.compile(r"[0-9a-fA-F]{8}")
_B64 = re.compile(r"[A-Za-z0-9+/]*={0,2}")


def is_valid_key_name(name: str) -> bool:
    """Non-empty, without Unicode spaces (or control characters) and without '+'."""
    return bool(name) and "+" not in name and not any(ch.isspace() or ord(ch) < 0x20 for ch in name)


def key_id(name: str, signature_type: int, public_key: bytes) -> int:
    """SHA-256(name ‖ 0x0A ‖ type ‖ public key)[:4] as a big-endian uint32."""
    digest = hashlib.sha256(name.encode() + b"\n" + bytes([signature_type]) + public_key)
    return int.from_bytes(digest.digest()[:4], "big")


def decode_b64(text: str) -> bytes | None:
    """Standard base64 (RFC 4648 §4) with padding, or None; no whitespace, no other alphabet."""
    if _B64.fullmatch(text) is None or len(text) % 4:
        return None
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return None


class Verifier(Protocol):
    """One known public key: its name, its key ID, and a check of a signature over a message."""

    @property
    def name(self) -> str: ...

    @property
    def key_id(self) -> int: ...

    def verify(self, message: bytes, signature: bytes) -> bool:
        """Whether `signature` (without the key ID) is this key's over `message`."""
        ...


class Signer(Protocol):
    """One private key: its name, its key ID, and a signature over a message."""

    @property
    def name(self) -> str: ...

    @property
    def key_id(self) -> int: ...

    def sign(self, message: bytes) -> bytes:
        """The signature over `message` (without the key ID)."""
        ...


def _raw_public(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def format_verifier_key(name: str, signature_type: int, public_key: bytes) -> str:
    """The key string `<name>+<hex key ID>+<base64(type ‖ public key)>`."""
    if not is_valid_key_name(name):
        raise KeyFormatError(f"{name!r} is not a valid key name")
    material = base64.b64encode(bytes([signature_type]) + public_key).decode()
    return f"{name}+{key_id(name, signature_type, public_key):08x}+{material}"


@dataclass(frozen=True, slots=True)
class Ed25519Verifier:
    """An Ed25519 (type 0x01) note verifier."""

    name: str
    public_key: Ed25519PublicKey
    key_id: int = field(init=False)

    def __post_init__(self) -> None:
        if not is_valid_key_name(self.name):
            raise KeyFormatError(f"{self.name!r} is not a valid key name")
        object.__setattr__(self, "key_id", key_id(self.name, ED25519, _raw_public(self.public_key)))

    @property
    def vkey(self) -> str:
        """This key as a verifier key string."""
        return format_verifier_key(self.name, ED25519, _raw_public(self.public_key))

    def verify(self, message: bytes, signature: bytes) -> bool:
        """Whether `signature` is a valid Ed25519 signature of `message` by this key."""
        if len(signature) != 64:
            return False
        try:
            self.public_key.verify(signature, message)
        except InvalidSignature:
            return False
        return True


@dataclass(frozen=True, slots=True)
class Ed25519Signer:
    """An Ed25519 (type 0x01) note signer."""

    name: str
    private_key: Ed25519PrivateKey
    key_id: int = field(init=False)

    def __post_init__(self) -> None:
        if not is_valid_key_name(self.name):
            raise KeyFormatError(f"{self.name!r} is not a valid key name")
        public = _raw_public(self.private_key.public_key())
        object.__setattr__(self, "key_id", key_id(self.name, ED25519, public))

    @property
    def verifier(self) -> Ed25519Verifier:
        """The matching verifier."""
        return Ed25519Verifier(self.name, self.private_key.public_key())

    @property
    def skey(self) -> str:
        """This key as a signer key string (secret: anyone holding it can sign)."""
        return format_signer_key(self.name, ED25519, self.private_key)

    def sign(self, message: bytes) -> bytes:
        """The Ed25519 signature of `message`."""
        return self.private_key.sign(message)


@dataclass(frozen=True, slots=True)
class VerifierKey:
    """A decoded verifier key string: name, key ID, signature type and public key bytes."""

    name: str
    key_id: int
    signature_type: int
    public_key: bytes


def decode_verifier_key(vkey: str) -> VerifierKey:
    """Read `<name>+<hex key ID>+<base64(type ‖ key)>`, checking the key ID against the key."""
    parts = vkey.split("+", 2)  # base64 has '+' too: the key material is all after the 2nd
    if len(parts) != 3:
        raise KeyFormatError("a verifier key is <name>+<key ID>+<key>")
    name, hex_id, material_text = parts
    material = decode_b64(material_text)
    if not is_valid_key_name(name) or _HEX8.fullmatch(hex_id) is None or not material:
        raise KeyFormatError("a verifier key is <name>+<8 hex digits>+<base64 key>")
    signature_type, public_key = material[0], material[1:]
    if int(hex_id, 16) != key_id(name, signature_type, public_key):
        raise KeyFormatError(f"the key ID of verifier key {name!r} does not match its key")
    return VerifierKey(name, int(hex_id, 16), signature_type, public_key)


def ed25519_public_key(raw: bytes) -> Ed25519PublicKey:
    """An Ed25519 public key from its 32 bytes (RFC 8032 encoding)."""
    if len(raw) != 32:
        raise KeyFormatError(f"an Ed25519 public key is 32 bytes, not {len(raw)}")
    try:
        return Ed25519PublicKey.from_public_bytes(raw)
    except ValueError as error:
        raise KeyFormatError("not an Ed25519 public key") from error


def parse_verifier_key(vkey: str) -> Ed25519Verifier:
    """An Ed25519 (type 0x01) verifier from its key string; other types are refused."""
    decoded = decode_verifier_key(vkey)
    if decoded.signature_type != ED25519:
        raise KeyFormatError(
            f"verifier key {decoded.name!r} has signature type {decoded.signature_type:#04x},"
            " not Ed25519 (0x01)"
        )
    return Ed25519Verifier(decoded.name, ed25519_public_key(decoded.public_key))


def format_signer_key(name: str, key_type: int, private_key: Ed25519PrivateKey) -> str:
    """`PRIVATE+KEY+<name>+<key ID>+<base64(type ‖ seed)>` for an Ed25519 key of `key_type`
    (0x01 a note signer, 0x04 a cosigner): secret, whoever holds it can sign."""
    seed = private_key.private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    )
    material = base64.b64encode(bytes([key_type]) + seed).decode()
    public = _raw_public(private_key.public_key())
    return f"PRIVATE+KEY+{name}+{key_id(name, key_type, public):08x}+{material}"


def read_signer_key(skey: str, key_type: int) -> tuple[str, Ed25519PrivateKey]:
    """The name and Ed25519 key of a signer key string of `key_type`; KeyFormatError for
    another format, type or length, or a key ID that does not match the key."""
    parts = skey.split("+", 4)
    if len(parts) != 5 or parts[0] != "PRIVATE" or parts[1] != "KEY":
        raise KeyFormatError("a signer key is PRIVATE+KEY+<name>+<key ID>+<key>")
    name, hex_id, material_text = parts[2:]
    material = decode_b64(material_text)
    if not is_valid_key_name(name) or _HEX8.fullmatch(hex_id) is None or not material:
        raise KeyFormatError("a signer key is PRIVATE+KEY+<name>+<8 hex digits>+<base64 key>")
    if material[0] != key_type or len(material) != 33:
        raise KeyFormatError(f"this signer key holds 0x{key_type:02x} and a 32-byte Ed25519 seed")
    private_key = Ed25519PrivateKey.from_private_bytes(material[1:])
    if key_id(name, key_type, _raw_public(private_key.public_key())) != int(hex_id, 16):
        raise KeyFormatError(f"the key ID of signer key {name!r} does not match its key")
    return name, private_key


def parse_signer_key(skey: str) -> Ed25519Signer:
    """An Ed25519 signer from `PRIVATE+KEY+<name>+<key ID>+<base64(0x01 ‖ seed)>`."""
    return Ed25519Signer(*read_signer_key(skey, ED25519))


def generate_signer_key(name: str) -> tuple[str, str]:
    """A new Ed25519 key for `name`: (signer key string, verifier key string)."""
    signer = Ed25519Signer(name, Ed25519PrivateKey.generate())
    return signer.skey, signer.verifier.vkey


# ---------------------------------------------------------------------------------------------
# Notes
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Signature:
    """One signature line: the key's name and ID, and the signature bytes after the ID."""

    name: str
    key_id: int
    signature: bytes

    @property
    def line(self) -> str:
        """The signature line, newline included."""
        data = self.key_id.to_bytes(4, "big") + self.signature
        return f"{SIGNATURE_PREFIX}{self.name} {base64.b64encode(data).decode()}\n"


@dataclass(frozen=True, slots=True)
class Note:
    """A note's text with its verified signatures and those from unknown keys."""

    text: str
    signatures: tuple[Signature, ...]
    unverified: tuple[Signature, ...] = ()


def _check_characters(text: str) -> None:
    if any(ord(ch) < 0x20 and ch != "\n" for ch in text):
        raise MalformedNoteError("a note has no control characters but the newline")


def _parse_signature_line(line: str) -> Signature:
    if not line.startswith(SIGNATURE_PREFIX):
        raise MalformedNoteError("a signature line starts with an em dash and a space")
    name, _, encoded = line[len(SIGNATURE_PREFIX) :].partition(" ")
    if not is_valid_key_name(name):
        raise MalformedNoteError("a signature line names a key without spaces or '+'")
    data = decode_b64(encoded)
    if data is None or len(data) < 5:
        raise MalformedNoteError(f"the signature by {name!r} is not base64 of key ID and bytes")
    return Signature(name, int.from_bytes(data[:4], "big"), data[4:])


def parse_note(message: bytes, max_signatures: int = MAX_SIGNATURES) -> Note:
    """The text and signature lines of a note, all unverified; checks the syntax only."""
    try:
        decoded = message.decode("utf-8")
    except UnicodeDecodeError as error:
        raise MalformedNoteError("a note is UTF-8") from error
    _check_characters(decoded)
    split = decoded.rfind("\n\n")
    if split < 0:
        raise MalformedNoteError("a note has a blank line before its signatures")
    text, block = decoded[: split + 1], decoded[split + 2 :]
    if not block.endswith("\n"):
        raise MalformedNoteError("a note ends with one or more newline-terminated signatures")
    lines = block[:-1].split("\n")
    if len(lines) > max_signatures:
        raise MalformedNoteError(f"a note has at most {max_signatures} signatures")
    return Note(text, (), tuple(_parse_signature_line(line) for line in lines))


def _known_keys(verifiers: Iterable[Verifier]) -> dict[tuple[str, int], list[Verifier]]:
    known: dict[tuple[str, int], list[Verifier]] = {}
    for verifier in verifiers:
        known.setdefault((verifier.name, verifier.key_id), []).append(verifier)
    return known


def open_note(
    message: bytes, verifiers: Iterable[Verifier], max_signatures: int = MAX_SIGNATURES
) -> Note:
    """Parse a note and verify its signatures against `verifiers`.

    Every signature by a known key (same name and key ID) is verified and must hold; signatures
    by unknown keys are returned apart as unverified. Identical signature lines count once.
    Raises MalformedNoteError, InvalidSignatureError, UnverifiedNoteError (no known key
    signed), or AmbiguousKeyError when two verifiers share the name and key ID of a signature.
    """
    parsed = parse_note(message, max_signatures)
    known = _known_keys(verifiers)
    text = parsed.text.encode()
    verified: list[Signature] = []
    unknown: list[Signature] = []
    for signature in parsed.unverified:
        candidates = known.get((signature.name, signature.key_id), [])
        if not candidates:
            if signature not in unknown:
                unknown.append(signature)
            continue
        if len(candidates) > 1:
            raise AmbiguousKeyError(
                f"two verifier keys are named {signature.name}+{signature.key_id:08x}"
            )
        if not candidates[0].verify(text, signature.signature):
            raise InvalidSignatureError(
                f"the signature by {signature.name}+{signature.key_id:08x} does not verify",
                signature.name,
                signature.key_id,
            )
        if signature not in verified:
            verified.append(signature)
    note = Note(parsed.text, tuple(verified), tuple(unknown))
    if not verified:
        raise UnverifiedNoteError("no signature on the note is by a known key", note)
    return note


def sign_note(text: str, signers: Sequence[Signer], existing: Sequence[Signature] = ()) -> bytes:
    """The note of `text` signed by `signers`, after the `existing` signature lines.

    An existing signature by the key of one of the signers is replaced by the new one.
    """
    if not text.endswith("\n"):
        raise MalformedNoteError("a note's text ends with a newline")
    _check_characters(text)
    for signer in signers:
        if not is_valid_key_name(signer.name):
            raise MalformedNoteError(f"{signer.name!r} is not a valid key name")
    for signature in existing:
        if not (is_valid_key_name(signature.name) and 0 <= signature.key_id < 2**32):
            raise MalformedNoteError(f"{signature.name!r} is not a valid signature's key")
        if not signature.signature:
            raise MalformedNoteError(f"the signature by {signature.name!r} is empty")
    renewed = {(signer.name, signer.key_id) for signer in signers}
    kept = [s for s in existing if (s.name, s.key_id) not in renewed]
    fresh = [Signature(s.name, s.key_id, s.sign(text.encode())) for s in signers]
    lines = "".join(signature.line for signature in [*kept, *fresh])
    if not lines:
        raise MalformedNoteError("a note has at least one signature")
    message = f"{text}\n{lines}".encode()
    if parse_note(message, max_signatures=len(kept) + len(fresh)).text != text:
        raise MalformedNoteError("the text would not read back as the same note")
    return message


class UnverifiedNoteError(TlogError):
    """A well-formed note without one signature that verifies against a known key."""

    code = "note_unverified"
    status_code = 403

    def __init__(self, description: str, note: Note) -> None:
        super().__init__(description)
        self.note = note
