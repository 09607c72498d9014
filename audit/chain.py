"""The hash chain: links, heads, the chain hash and sealing. Pure, no I/O.

    hash = SHA-256(HASH_DOMAIN || raw 32 bytes of prev_hash || body)

where `body` is the record's canonical encoding (`audit.record.encode`). The first record's
`prev_hash` is `GENESIS_HASH` (64 zeros); after a retention purge the first remaining record's
`prev_hash` must equal the `head_hash` of a checkpoint at the seq just before it. A record is
stored as a `Link` (seq, both hashes and the bytes as they were hashed), read back with
`decode`; the chain's end is a `Head`. `_advance` is the hot loop that walks links, shared by
`audit.verification` and `audit.segments`.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Final, Generic, NamedTuple, Protocol, TypeVar

from .errors import AuditEntryError
from .record import ENCODING_PREFIX, AuditEntry, AuditRecord, encode

__all__ = [
    "GENESIS_HASH",
    "HASH_DOMAIN",
    "Chained",
    "Head",
    "Link",
    "chain_hash",
    "decode",
    "seal",
]

HASH_DOMAIN: Final = b"multiteam.audit.chain.v1\x00"
GENESIS_HASH: Final = "0" * 64


class Chained(Protocol):
    """What verification needs of a record: its place, both hashes and its canonical bytes."""

    @property
    def seq(self) -> int: ...
    @property
    def prev_hash(self) -> str: ...
    @property
    def hash(self) -> str: ...
    @property
    def body(self) -> bytes: ...


class Link(NamedTuple):
    """A record as stored: seq, both hashes and the exact bytes that were hashed."""

    seq: int
    prev_hash: str
    hash: str
    body: bytes


class Head(NamedTuple):
    """The chain's end: last seq (0 when empty), its hash (genesis when empty) and time."""

    seq: int
    hash: str
    time: datetime | None = None


def decode(link: Chained) -> AuditRecord:
    """The record stored in `link.body` (raise AuditEntryError if the bytes are not a record)."""
    body = link.body
    if not body.startswith(ENCODING_PREFIX):
        raise AuditEntryError(f"record {link.seq}: unknown encoding")
    try:
        document = json.loads(body[len(ENCODING_PREFIX) :])
        fields = dict(document["entry"])
        fields["fields_withheld"] = tuple(fields.get("fields_withheld", ()))
        return AuditRecord(
            seq=document["seq"],
            event_id=document["event_id"],
            time=datetime.fromisoformat(document["time"]),
            prev_hash=link.prev_hash,
            hash=link.hash,
            entry=AuditEntry(**fields),
        )
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        if isinstance(exc, AuditEntryError):
            raise
        raise AuditEntryError(f"record {link.seq}: cannot decode: {exc}") from None


def chain_hash(prev_hash: str, body: bytes) -> str:
    """SHA-256(HASH_DOMAIN || prev_hash as 32 raw bytes || body), as lower-case hex."""
    return hashlib.sha256(HASH_DOMAIN + bytes.fromhex(prev_hash) + body).hexdigest()


def seal(
    entry: AuditEntry,
    *,
    seq: int,
    prev_hash: str,
    time: datetime,
    event_id: str | None = None,
) -> AuditRecord:
    """Give `entry` its place after `prev_hash`: seq, event id (uuid4), UTC time and hash."""
    eid = event_id or str(uuid.uuid4())
    when = time.astimezone(UTC)
    digest = chain_hash(prev_hash, encode(seq, eid, when, entry))
    return AuditRecord(
        seq=seq, event_id=eid, time=when, prev_hash=prev_hash, hash=digest, entry=entry
    )


_Row = tuple[int, str, str, bytes]  # seq, prev_hash, hash, body: a `Link` or a database row
_RowT = TypeVar("_RowT", bound=_Row)


class _Stop(NamedTuple, Generic[_RowT]):
    """Where `_advance` stopped: the next seq it wanted, the hash that record must chain to,
    the last good link, and the link that broke the run (None: input ended or `until`)."""

    expected: int
    last_hash: str
    previous: _RowT
    culprit: _RowT | None = None
    is_hash_mismatch: bool = False


def _advance(
    links: Iterator[_RowT], expected: int, last_hash: str, previous: _RowT, until: int
) -> _Stop[_RowT]:
    """The hot loop: take links while each has the expected seq, chains to `last_hash` and
    matches its hash; stop right after seq `until`, at the first that does not, or at the end.
    """
    domain = hashlib.sha256(HASH_DOMAIN).copy  # HASH_DOMAIN absorbed once, not per record
    last_raw = bytes.fromhex(last_hash)
    stop_at = until + 1  # never reached when `until` is -1
    for link in links:
        seq, prev_hash, stored_hash, body = link
        if seq != expected or prev_hash != last_hash:
            return _Stop(expected, last_hash, previous, link)
        state = domain()
        state.update(last_raw)
        state.update(body)
        last_raw = state.digest()
        digest = last_raw.hex()
        if digest != stored_hash:
            return _Stop(expected, last_hash, previous, link, is_hash_mismatch=True)
        last_hash = digest
        previous = link
        expected += 1
        if expected == stop_at:
            return _Stop(expected, last_hash, previous)
    return _Stop(expected, last_hash, previous)
