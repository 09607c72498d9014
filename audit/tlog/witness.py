"""The witness's add-checkpoint decision (c2sp.org/tlog-witness), pure: the caller persists.

The request body is an `old <size>` line, zero to 63 base64 consistency-proof lines, an empty
line, then a signed checkpoint note; every line ends in a newline. The witness answers, in the
spec's order of checks:

  404  the checkpoint's origin is not a log it knows;
  403  no signature on the checkpoint verifies against that log's keys (a known key's
       signature that fails counts the same: the note is rejected whole);
  400  a malformed body or checkpoint, or an old size above the checkpoint's size;
  409  the old size is not the size of the latest checkpoint it cosigned for the origin (0 if
       none): the body is that size and a newline, Content-Type `text/x.tlog.size`;
  422  the consistency proof from its latest tree to the checkpoint does not verify (it must be
       empty when the old size is 0, and when the sizes are equal);
  409  the sizes are equal but the root hashes are not;
  200  otherwise: one cosignature line per witness key, and the new state to persist.

Persisting is the caller's, and it MUST be atomic with the check of the old size: store
`answer.new_state` only where the stored size still equals `answer.expected_size` (compare and
swap, or the row locked while `latest` was read), and answer 409 with the size now stored when
it does not — otherwise two racing requests can roll the witness back (see the spec).
The log's side is here too: `format_add_checkpoint`, `parse_tlog_size`, `open_cosignatures`.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Final

from .checkpoint import MAX_TREE_SIZE, LogCheckpoint, parse_log_checkpoint, parse_size
from .cosignature import CosignatureSigner
from .errors import (
    InvalidSignatureError,
    MalformedCheckpointError,
    MalformedNoteError,
    MalformedRequestError,
)
from .merkle import EMPTY_ROOT, HASH_SIZE, verify_consistency
from .note import Signature, UnverifiedNoteError, Verifier, decode_b64, open_note, parse_note

__all__ = [
    "MAX_PROOF_LINES",
    "NEVER_COSIGNED",
    "SIZE_CONTENT_TYPE",
    "TEXT_CONTENT_TYPE",
    "AddCheckpointRequest",
    "TreeState",
    "WitnessAnswer",
    "answer_add_checkpoint",
    "decide_add_checkpoint",
    "format_add_checkpoint",
    "open_cosignatures",
    "parse_add_checkpoint",
    "parse_tlog_size",
]

MAX_PROOF_LINES: Final = 63
SIZE_CONTENT_TYPE: Final = "text/x.tlog.size"
TEXT_CONTENT_TYPE: Final = "text/plain; charset=utf-8"


@dataclass(frozen=True, slots=True)
class TreeState:
    """What a witness keeps per origin: the size and root of the latest tree it cosigned."""

    size: int
    root_hash: bytes

    def __post_init__(self) -> None:
        if isinstance(self.size, bool) or not isinstance(self.size, int):
            raise ValueError("a tree size is an int")
        if not 0 <= self.size <= MAX_TREE_SIZE:
            raise ValueError(f"a tree size is between 0 and {MAX_TREE_SIZE}")
        if not isinstance(self.root_hash, bytes) or len(self.root_hash) != HASH_SIZE:
            raise ValueError("a root hash is 32 bytes")


NEVER_COSIGNED: Final = TreeState(0, EMPTY_ROOT)
"""The state of an origin the witness never cosigned for: size 0, the empty tree's root."""


@dataclass(frozen=True, slots=True)
class AddCheckpointRequest:
    """A parsed add-checkpoint body; `origin` is the note's first line, not yet verified."""

    old_size: int
    proof: tuple[bytes, ...]
    checkpoint: bytes
    origin: str


def parse_add_checkpoint(body: bytes) -> AddCheckpointRequest:
    """Read an add-checkpoint body; MalformedRequestError (400) for anything malformed."""
    head, separator, note = body.partition(b"\n\n")
    if not separator:
        raise MalformedRequestError("the body has an empty line before the checkpoint")
    try:
        lines = head.decode("ascii").split("\n")
    except UnicodeDecodeError as error:
        raise MalformedRequestError("the old size and proof lines are ASCII") from error
    if not lines[0].startswith("old "):
        raise MalformedRequestError("the body starts with an 'old <size>' line")
    old_size = parse_size(lines[0][len("old ") :])
    if old_size is None:
        raise MalformedRequestError("the old size is decimal without leading zeroes")
    if len(lines) - 1 > MAX_PROOF_LINES:
        raise MalformedRequestError(f"a consistency proof has at most {MAX_PROOF_LINES} lines")
    proof: list[bytes] = []
    for line in lines[1:]:
        hash_ = decode_b64(line)
        if hash_ is None or len(hash_) != HASH_SIZE:
            raise MalformedRequestError("each consistency proof line is the base64 of 32 bytes")
        proof.append(hash_)
    try:
        text = parse_note(note).text
    except MalformedNoteError as error:
        raise MalformedRequestError(f"the checkpoint is not a signed note: {error}") from error
    return AddCheckpointRequest(old_size, tuple(proof), note, text.partition("\n")[0])


def format_add_checkpoint(old_size: int, proof: Sequence[bytes], checkpoint: bytes) -> bytes:
    """The add-checkpoint body a log sends: old size, proof lines, empty line, checkpoint."""
    if len(proof) > MAX_PROOF_LINES:
        raise MalformedRequestError(f"a consistency proof has at most {MAX_PROOF_LINES} lines")
    lines = [f"old {old_size}", *(base64.b64encode(h).decode() for h in proof)]
    return "".join(f"{line}\n" for line in lines).encode() + b"\n" + checkpoint


@dataclass(frozen=True, slots=True)
class WitnessAnswer:
    """The witness's answer: HTTP status, body and content type, and what to persist."""

    status: int
    code: str
    description: str
    content_type: str
    body: bytes
    origin: str | None = None
    checkpoint: LogCheckpoint | None = None
    expected_size: int | None = None
    new_state: TreeState | None = None

    @property
    def is_ok(self) -> bool:
        """Whether the checkpoint was cosigned (status 200)."""
        return self.status == 200


def _refuse(
    status: int,
    code: str,
    description: str,
    origin: str | None = None,
    checkpoint: LogCheckpoint | None = None,
) -> WitnessAnswer:
    body = f"{description}\n".encode()
    return WitnessAnswer(status, code, description, TEXT_CONTENT_TYPE, body, origin, checkpoint)


def decide_add_checkpoint(
    request: AddCheckpointRequest,
    *,
    log_keys: Sequence[Verifier],
    latest: TreeState | None,
    cosigners: Sequence[CosignatureSigner],
    timestamp: int,
) -> WitnessAnswer:
    """The answer to a parsed request.

    Given the origin's trusted log keys (empty: an unknown origin), the latest state cosigned
    for it (None: never), the witness's own keys and the time now. Two trusted keys sharing a
    name and key ID are a configuration fault and raise AmbiguousKeyError; check keys when
    they are configured.
    """
    if not cosigners:
        raise ValueError("a witness has at least one cosignature key")
    origin = request.origin
    if not log_keys:
        return _refuse(404, "unknown_origin", f"unknown log origin {origin!r}")
    try:
        note = open_note(request.checkpoint, log_keys)
    except (UnverifiedNoteError, InvalidSignatureError) as error:
        return _refuse(403, "no_trusted_signature", error.description, origin)
    try:
        checkpoint = parse_log_checkpoint(note.text)
    except MalformedCheckpointError as error:
        return _refuse(400, error.code, error.description, origin)
    if request.old_size > checkpoint.size:
        description = f"old size {request.old_size} is above the checkpoint's {checkpoint.size}"
        return _refuse(400, "old_size_too_large", description, origin, checkpoint)
    state = NEVER_COSIGNED if latest is None else latest
    if request.old_size != state.size:
        return WitnessAnswer(
            409,
            "old_size_mismatch",
            f"the latest cosigned size is {state.size}, not {request.old_size}",
            SIZE_CONTENT_TYPE,
            f"{state.size}\n".encode(),
            origin,
            checkpoint,
            state.size,
        )
    proof = list(request.proof)
    new_root = checkpoint.root_hash
    if not verify_consistency(state.size, checkpoint.size, state.root_hash, new_root, proof):
        if request.old_size == checkpoint.size and not proof:
            description = f"another root hash was cosigned at size {state.size}"
            return _refuse(409, "root_mismatch", description, origin, checkpoint)
        description = f"the consistency proof from size {state.size} does not verify"
        return _refuse(422, "inconsistent", description, origin, checkpoint)
    lines = "".join(signer.cosign(note.text, timestamp).line for signer in cosigners)
    return WitnessAnswer(
        200,
        "cosigned",
        f"cosigned {origin!r} at size {checkpoint.size}",
        TEXT_CONTENT_TYPE,
        lines.encode(),
        origin,
        checkpoint,
        state.size,
        TreeState(checkpoint.size, checkpoint.root_hash),
    )


def answer_add_checkpoint(
    body: bytes,
    *,
    log_keys: Callable[[str], Sequence[Verifier]],
    latest: Callable[[str], TreeState | None],
    cosigners: Sequence[CosignatureSigner],
    timestamp: int,
) -> WitnessAnswer:
    """Parse a body and decide, looking up the origin's keys and latest state by callables."""
    try:
        request = parse_add_checkpoint(body)
    except MalformedRequestError as error:
        return _refuse(400, error.code, error.description)
    return decide_add_checkpoint(
        request,
        log_keys=log_keys(request.origin),
        latest=latest(request.origin),
        cosigners=cosigners,
        timestamp=timestamp,
    )


def parse_tlog_size(body: bytes) -> int:
    """The size in a 409 `text/x.tlog.size` answer: decimal digits and a newline."""
    try:
        text = body.decode("ascii")
    except UnicodeDecodeError as error:
        raise MalformedRequestError("a tlog size is ASCII") from error
    size = parse_size(text[:-1]) if text.endswith("\n") else None
    if size is None:
        raise MalformedRequestError("a tlog size is decimal digits and a newline")
    return size


def open_cosignatures(
    checkpoint: bytes, response: bytes, witness_keys: Iterable[Verifier]
) -> tuple[Signature, ...]:
    """The verified cosignatures in a witness's 200 answer to our `checkpoint` note.

    As the spec suggests, the answer's lines are appended to the note and the whole is opened
    with the witness keys; lines by unknown keys are ignored, a bad one by a known key raises
    InvalidSignatureError, and none by a known key raises UnverifiedNoteError.
    """
    if not response.endswith(b"\n") or not response.startswith("—".encode()):
        raise MalformedNoteError("a witness answers with newline-terminated signature lines")
    return open_note(checkpoint + response, witness_keys).signatures
