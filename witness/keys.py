"""The witness's own key: an Ed25519 cosignature/v1 key (c2sp.org/tlog-cosignature) in a file.

The signer key string is that of golang.org/x/mod/sumdb/note with the cosignature type byte:

    PRIVATE+KEY+<name>+<8 hex digits of the key ID>+<base64(0x04 ‖ 32-byte Ed25519 seed)>

with the key ID SHA-256(<name> ‖ "\\n" ‖ 0x04 ‖ public key)[:4], the same as the verifier key
`<name>+<key ID>+<base64(0x04 ‖ public key)>` that the witness hands to the logs it serves
(transparency-dev/formats' `NewSignerForCosignatureV1` reads this string). The file is created
with mode 0600 and never overwritten.
"""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path
from typing import Final

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from audit.tlog import (
    COSIGNATURE_V1,
    CosignatureSigner,
    KeyFormatError,
    format_signer_key,
    is_valid_key_name,
    read_signer_key,
)

__all__ = ["KEY_FILE_MODE", "format_cosigner_key", "parse_cosigner_key", "read_key", "write_key"]

KEY_FILE_MODE: Final = 0o600
_HEX8 = re.compile(r"[0-9a-fA-F]{8}")


def _raw_public(private_key: Ed25519PrivateKey) -> bytes:
    return private_key.public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw
    )


def format_cosigner_key(signer: CosignatureSigner) -> str:
    """The signer key string of a cosignature/v1 key (secret: whoever holds it can cosign)."""
    return format_signer_key(signer.name, COSIGNATURE_V1, signer.private_key)


def parse_cosigner_key(skey: str) -> CosignatureSigner:
    """A cosignature/v1 signer from its key string; KeyFormatError for anything else."""
    return CosignatureSigner(*read_signer_key(skey, COSIGNATURE_V1))


def write_key(path: Path, name: str) -> CosignatureSigner:
    """Make a new cosigner key named `name` in a new file at `path` (mode 0600).

    FileExistsError when the file exists: a witness's key is never replaced in place.
    """
    if not is_valid_key_name(name):
        raise KeyFormatError(f"{name!r} is not a key name: no spaces, no '+', not empty")
    signer = CosignatureSigner(name, Ed25519PrivateKey.generate())
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, KEY_FILE_MODE)
    with os.fdopen(descriptor, "w", encoding="ascii") as file:
        os.fchmod(file.fileno(), KEY_FILE_MODE)  # whatever the umask said
        file.write(format_cosigner_key(signer) + "\n")
        file.flush()
        os.fsync(file.fileno())
    return signer


def read_key(path: Path) -> CosignatureSigner:
    """The cosigner key kept at `path`; KeyFormatError when it is unreadable or open to others."""
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
        text = path.read_text(encoding="ascii")
    except (OSError, UnicodeDecodeError) as error:
        raise KeyFormatError(f"the witness key {path} cannot be read: {error}") from error
    if mode & 0o077:
        raise KeyFormatError(f"the witness key {path} has mode {mode:04o}; it must be 0600")
    return parse_cosigner_key(text.strip())
