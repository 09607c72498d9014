"""Errors of the transparency-log building blocks: values with a stable code and HTTP shape.

Every error here is a `ValueError` about bytes that came from outside (a note, a key string, a
checkpoint, a witness request) or a misbehaving hash store; none is raised for a valid input.
A failed proof is not an error: the verifiers answer False.
"""

from __future__ import annotations

from ..errors import AuditError

__all__ = [
    "AmbiguousKeyError",
    "HashReaderError",
    "InvalidSignatureError",
    "KeyFormatError",
    "MalformedCheckpointError",
    "MalformedNoteError",
    "MalformedRequestError",
    "ProofRequestError",
    "TlogError",
]


class TlogError(AuditError, ValueError):
    """Base of the transparency-log errors."""

    code = "tlog_invalid"
    status_code = 400


class MalformedNoteError(TlogError):
    """A signed note that breaks the c2sp.org/signed-note syntax."""

    code = "note_malformed"
    status_code = 400


class InvalidSignatureError(TlogError):
    """A signature by a known key (name and key ID match) that does not verify."""

    code = "note_signature_invalid"
    status_code = 403

    def __init__(self, description: str, name: str, key_id: int) -> None:
        super().__init__(description)
        self.name = name
        self.key_id = key_id


class AmbiguousKeyError(TlogError):
    """Two configured verifier keys share both name and key ID: a configuration fault."""

    code = "note_key_ambiguous"
    status_code = 500


class KeyFormatError(TlogError):
    """A verifier or signer key string that cannot be read."""

    code = "note_key_invalid"
    status_code = 400


class MalformedCheckpointError(TlogError):
    """A checkpoint body that breaks c2sp.org/tlog-checkpoint."""

    code = "checkpoint_malformed"
    status_code = 400


class MalformedRequestError(TlogError):
    """A witness add-checkpoint request body that breaks c2sp.org/tlog-witness."""

    code = "witness_request_malformed"
    status_code = 400


class ProofRequestError(TlogError):
    """A proof asked for positions the tree does not have (index ≥ size, old > new, …)."""

    code = "proof_request_invalid"
    status_code = 400


class HashReaderError(TlogError):
    """The hash store returned the wrong number of hashes, or one that is not 32 bytes."""

    code = "hash_store_invalid"
    status_code = 500
