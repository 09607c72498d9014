"""Checkpoints (c2sp.org/tlog-checkpoint): a log's tree head as the text of a signed note.

The text is at least three non-empty newline-terminated lines: the origin (the log's unique
name), the tree size in ASCII decimal without leading zeroes, and the base64 RFC 6962 root hash
of the tree at that size; any further lines are opaque extension lines, each non-empty.

Two limits are ours, not the spec's, and say so: a tree size above 2**63 − 1 is refused (the
int64 every known implementation holds it in, so such a checkpoint could not be witnessed), and
the origin is only required to be non-empty, as the spec requires — that it SHOULD be a
schema-less URL without spaces or '+' is checked for the checkpoints we make
(`LogCheckpoint(…, strict_origin=True)`), never assumed of the ones we read.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Final

from .errors import MalformedCheckpointError
from .merkle import HASH_SIZE
from .note import Note, Signer, Verifier, decode_b64, is_valid_key_name, open_note, sign_note

__all__ = [
    "MAX_TREE_SIZE",
    "LogCheckpoint",
    "open_log_checkpoint",
    "parse_log_checkpoint",
    "parse_size",
    "sign_log_checkpoint",
]

MAX_TREE_SIZE: Final = 2**63 - 1
_DECIMAL = re.compile(r"0|[1-9][0-9]*")


def parse_size(text: str) -> int | None:
    """An ASCII decimal without leading zeroes, at most 2**63 − 1; or None."""
    if _DECIMAL.fullmatch(text) is None or len(text) > 19:
        return None
    value = int(text)
    return value if value <= MAX_TREE_SIZE else None


@dataclass(frozen=True, slots=True)
class LogCheckpoint:
    """The head of the log named `origin`: `size` leaves with Merkle root `root_hash`."""

    origin: str
    size: int
    root_hash: bytes
    extensions: tuple[str, ...] = ()
    strict_origin: bool = field(default=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        if not isinstance(self.origin, str) or not self.origin or "\n" in self.origin:
            raise MalformedCheckpointError("a checkpoint's origin is one non-empty line")
        if self.strict_origin and not is_valid_key_name(self.origin):
            raise MalformedCheckpointError("our origins have no spaces, '+' or control characters")
        if isinstance(self.size, bool) or not isinstance(self.size, int):
            raise MalformedCheckpointError("a checkpoint's tree size is an int")
        if not 0 <= self.size <= MAX_TREE_SIZE:
            raise MalformedCheckpointError(f"a tree size is between 0 and {MAX_TREE_SIZE}")
        if not isinstance(self.root_hash, bytes) or len(self.root_hash) != HASH_SIZE:
            raise MalformedCheckpointError("a checkpoint's root hash is 32 bytes")
        for line in self.extensions:
            if not isinstance(line, str) or not line or "\n" in line:
                raise MalformedCheckpointError("an extension line is one non-empty line")
        if any(ord(ch) < 0x20 for line in (self.origin, *self.extensions) for ch in line):
            raise MalformedCheckpointError("a checkpoint has no control characters")

    @property
    def body(self) -> str:
        """The note text: origin, size, root hash and extension lines, each ending in '\\n'."""
        root = base64.b64encode(self.root_hash).decode()
        return "".join(
            f"{line}\n" for line in (self.origin, str(self.size), root, *self.extensions)
        )


def parse_log_checkpoint(text: str) -> LogCheckpoint:
    """A checkpoint from its note text, refusing anything the spec does not allow."""
    if not text.endswith("\n"):
        raise MalformedCheckpointError("a checkpoint's lines each end with a newline")
    lines = text[:-1].split("\n")
    if len(lines) < 3:
        raise MalformedCheckpointError("a checkpoint has an origin, a size and a root hash")
    origin, size_text, root_text, *extensions = lines
    size = parse_size(size_text)
    if size is None:
        raise MalformedCheckpointError(
            "a checkpoint's tree size is decimal without leading zeroes, at most 2**63 - 1"
        )
    root = decode_b64(root_text)
    if root is None or len(root) != HASH_SIZE:
        raise MalformedCheckpointError("a checkpoint's root hash is the base64 of 32 bytes")
    return LogCheckpoint(origin, size, root, tuple(extensions))


def open_log_checkpoint(
    message: bytes, verifiers: Iterable[Verifier]
) -> tuple[LogCheckpoint, Note]:
    """Verify a signed checkpoint note (see `open_note`) and read its text as a checkpoint."""
    note = open_note(message, verifiers)
    return parse_log_checkpoint(note.text), note


def sign_log_checkpoint(checkpoint: LogCheckpoint, signers: Iterable[Signer]) -> bytes:
    """The checkpoint as a note signed by `signers` (the log's key name SHOULD be the origin)."""
    return sign_note(checkpoint.body, list(signers))
