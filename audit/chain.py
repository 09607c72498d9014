"""The hash chain: links, heads, the chain hash and sealing. Pure, no I/O.

    leaf = SHA-256(0x00 || body)                       (the record's RFC 9162 leaf hash)
    hash = SHA-256(HASH_DOMAIN || raw 32 bytes of prev_hash || leaf)

where `body` is the record's canonical encoding (`audit.record.encode`). The first record's
`prev_hash` is `GENESIS_HASH` (64 zeros); after a retention purge the first remaining record's
`prev_hash` must equal the `head_hash` of a checkpoint at the seq just before it. A record is
stored as a `Link` (seq, both hashes and the bytes as they were hashed), read back with
`decode`; the chain's end is a `Head`. `_advance` is the hot loop that walks links, shared by
`audit.verification` and `audit.segments`.

Why a chain beside the Merkle tree (`audit.tree`), and why over the leaf hash. The tree proves
to outsiders what the log holds; the chain is how the log checks itself record by record. Each
record names its predecessor's link, so a record that was changed (and even rehashed) is named
by its own seq — the record after it still vouches for the original — and a deletion, an
insertion or two records swapped break the run exactly where they are. The chain also lets
stretches of the log be verified side by side and joined by comparing the hashes where they
meet (`audit.segments`). Chaining over the leaf hash rather than over the body (the v1 chain)
hashes each body once for both: verification, the dearest part of which is SHA-256 over the
bodies, costs no more with the tree than without it; and because a link needs only leaf
hashes, the chain through purged records can still be recomputed from the leaf hashes the
tree keeps (`audit.retention`).
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Final, Generic, NamedTuple, Protocol, TypeVar

from .errors import AuditEntryError
from .record import ENCODING_PREFIX, AuditEntry, AuditRecord, encode
from .tlog.merkle import leaf_hash

__all__ = [
    "GENESIS_HASH",
    "HASH_DOMAIN",
    "Chained",
    "Head",
    "Link",
    "chain_hash",
    "decode",
    "leaf_hash",
    "link_hash",
    "seal",
]

HASH_DOMAIN: Final = b"multiteam.audit.chain.v2\x00"
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


def link_hash(prev_hash: str, leaf: bytes) -> str:
    """SHA-256(HASH_DOMAIN || prev_hash as 32 raw bytes || leaf hash), as lower-case hex."""
    return hashlib.sha256(HASH_DOMAIN + bytes.fromhex(prev_hash) + leaf).hexdigest()


def chain_hash(prev_hash: str, body: bytes) -> str:
    """The link of a record with canonical bytes `body` after `prev_hash` (lower-case hex)."""
    return link_hash(prev_hash, leaf_hash(body))


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
    links: Iterator[_RowT],
    expected: int,
    last_hash: str,
    previous: _RowT,
    until: int,
    keep: Callable[[bytes], object] | None = None,
) -> _Stop[_RowT]:
    """The hot loop: take links while each has the expected seq, chains to `last_hash` and
    matches its hash; stop right after seq `until`, at the first that does not, or at the end.
    Each accepted record's leaf hash goes to `keep`, in seq order.
    """
    leaf_state = hashlib.sha256(b"\x00").copy  # the prefixes absorbed once, not per record
    domain = hashlib.sha256(HASH_DOMAIN).copy
    last_raw = bytes.fromhex(last_hash)
    stop_at = until + 1  # never reached when `until` is -1
    for link in links:
        seq, prev_hash, stored_hash, body = link
        if seq != expected or prev_hash != last_hash:
            return _Stop(expected, last_hash, previous, link)
        state = leaf_state()
        state.update(body)
        leaf = state.digest()
        state = domain()
        state.update(last_raw)
        state.update(leaf)
        last_raw = state.digest()
        digest = last_raw.hex()
        if digest != stored_hash:
            return _Stop(expected, last_hash, previous, link, is_hash_mismatch=True)
        if keep is not None:
            keep(leaf)
        last_hash = digest
        previous = link
        expected += 1
        if expected == stop_at:
            return _Stop(expected, last_hash, previous)
    return _Stop(expected, last_hash, previous)
