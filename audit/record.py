"""What one audit record says: who did what, to which subject, why, with what outcome.

An `AuditEntry` is what the broker hands in; the store seals it into an `AuditRecord` (seq,
event id, time and the two hashes that chain it). Entries validate on construction so that a
field *value* can never end up in the log: only field names, effects, ids and short metadata.

Here too is a record's canonical encoding (`encode`), the bytes its hash covers:

    body = ENCODING_PREFIX || compact sorted-key UTF-8 JSON of the record:
           {"entry": {every entry field}, "event_id": ..., "seq": ..., "time": ...}
"""

from __future__ import annotations

import enum
import ipaddress
import json
import re
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Final

from .errors import AuditEntryError

__all__ = [
    "ACTIONS",
    "EFFECTS",
    "ENCODING_PREFIX",
    "OUTCOMES",
    "Action",
    "AuditEntry",
    "AuditRecord",
    "DetailValue",
    "Outcome",
    "encode",
    "format_time",
    "looks_like_bsn",
]


class Action(enum.StrEnum):
    """What kind of processing the event was (VNG Verwerkingenlogging: handeling)."""

    CREATE = "create"
    READ = "read"
    UPDATE = "update"
    DELETE = "delete"
    SEARCH = "search"
    EXECUTE = "execute"


class Outcome(enum.StrEnum):
    """How the event ended."""

    SUCCESS = "success"
    DENIED = "denied"
    NOT_FOUND = "not_found"
    UNAUTHORIZED = "unauthorized"
    INVALID = "invalid"
    CONFLICT = "conflict"
    ERROR = "error"


ACTIONS: Final = frozenset(a.value for a in Action)
OUTCOMES: Final = frozenset(o.value for o in Outcome)
EFFECTS: Final = frozenset({"show", "generalise", "mask", "pseudonymise", "withhold"})

DetailValue = str | int | bool | None

_NAME = re.compile(r"[a-z][a-z0-9_]*")
_EVENT = re.compile(r"[a-z][a-z0-9_]*(?:\.[a-z][a-z0-9_]*)*")
_IDENT = re.compile(r"[a-z][a-z0-9_.-]*")
_TOKEN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:@/+=-]*")
_CONVENANT_HASH = re.compile(r"[a-z0-9]+:[0-9a-f]{16,128}")
_HEX64 = re.compile(r"[0-9a-f]{64}")
# A BSN is nine digits, sometimes written 1234.56.782 or 1234 56 782.
_BSN_RUN = re.compile(
    r"(?<![0-9A-Za-z])(?:\d{9}|\d{4}[ .-]\d{2}[ .-]\d{3})(?![0-9A-Za-z])", re.ASCII
)

_MAX_NAME = 64
_MAX_TOKEN = 128
_MAX_TEXT = 200
_MAX_DETAIL_KEYS = 32
_BSN_INT_RANGE = range(100_000_000, 1_000_000_000)


def looks_like_bsn(text: str) -> bool:
    """Whether `text` contains a stand-alone run of nine digits (the shape of a BSN)."""
    return _BSN_RUN.search(text) is not None


def _fail(name: str, problem: str) -> AuditEntryError:
    return AuditEntryError(f"audit entry field {name!r}: {problem}")


def _pattern(name: str, value: object, pattern: re.Pattern[str], limit: int) -> str:
    if not isinstance(value, str):
        raise _fail(name, f"must be a string, not {type(value).__name__}")
    if len(value) > limit or pattern.fullmatch(value) is None:
        raise _fail(name, f"must match {pattern.pattern} (at most {limit} characters)")
    return str(value)


def _optional(name: str, value: object, pattern: re.Pattern[str], limit: int) -> str | None:
    return None if value is None else _pattern(name, value, pattern, limit)


def _text(name: str, value: object) -> str | None:
    """Short printable free text (a professional's name, a legal basis); never a BSN."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise _fail(name, f"must be a string, not {type(value).__name__}")
    if not value or len(value) > _MAX_TEXT or not value.isprintable():
        raise _fail(name, f"must be 1..{_MAX_TEXT} printable characters")
    if looks_like_bsn(value):
        raise _fail(name, "looks like it contains a BSN")
    return str(value)


def _member(name: str, value: object, allowed: frozenset[str]) -> str:
    if not isinstance(value, str) or value not in allowed:
        raise _fail(name, f"must be one of {sorted(allowed)}, not {value!r}")
    return str(value)


def _detail_value(key: str, value: object) -> DetailValue:
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int):
        if abs(value) in _BSN_INT_RANGE:
            raise _fail(f"detail.{key}", "a nine-digit number looks like a BSN")
        return int(value)
    if isinstance(value, str):
        if len(value) > _MAX_TEXT or not value.isprintable():
            raise _fail(f"detail.{key}", f"must be at most {_MAX_TEXT} printable characters")
        if looks_like_bsn(value):
            raise _fail(f"detail.{key}", "looks like it contains a BSN")
        return str(value)
    raise _fail(f"detail.{key}", f"must be str, int, bool or None, not {type(value).__name__}")


def _detail(value: object) -> Mapping[str, DetailValue]:
    if not isinstance(value, Mapping):
        raise _fail("detail", "must be a mapping")
    if len(value) > _MAX_DETAIL_KEYS:
        raise _fail("detail", f"at most {_MAX_DETAIL_KEYS} keys")
    checked = {
        _pattern("detail key", k, _NAME, _MAX_NAME): _detail_value(k, v) for k, v in value.items()
    }
    return MappingProxyType(dict(sorted(checked.items())))


def _disclosed(value: object) -> Mapping[str, str]:
    if not isinstance(value, Mapping):
        raise _fail("fields_disclosed", "must be a mapping of field name to effect")
    checked = {
        _pattern("fields_disclosed", k, _NAME, _MAX_NAME): _member(
            f"fields_disclosed.{k}", v, EFFECTS
        )
        for k, v in value.items()
    }
    return MappingProxyType(dict(sorted(checked.items())))


def _withheld(value: object) -> tuple[str, ...]:
    if isinstance(value, str | bytes) or not isinstance(value, Iterable):
        raise _fail("fields_withheld", "must be a sequence of field names")
    return tuple(sorted({_pattern("fields_withheld", v, _NAME, _MAX_NAME) for v in value}))


def _subject(value: object) -> str | None:
    subject = _optional("subject", value, _TOKEN, _MAX_TOKEN)
    if subject is not None and (subject.isdigit() or looks_like_bsn(subject)):
        raise _fail("subject", "must be a keyed pseudonym, never a BSN or other bare number")
    return subject


def _address(value: object) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise _fail("source_address", f"must be a string, not {type(value).__name__}")
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        raise _fail("source_address", "must be an IPv4 or IPv6 address") from None


_EMPTY: Final[Mapping[str, str]] = MappingProxyType({})
_EMPTY_DETAIL: Final[Mapping[str, DetailValue]] = MappingProxyType({})


@dataclass(frozen=True, slots=True, kw_only=True)
class AuditEntry:
    """One audited event as the broker reports it: names and ids only, never field values.

    `event` is dotted lower case ("case.view", "signal.create", "audit.export", ...).
    """

    event: str
    action: str
    outcome: str
    person_id: str | None = None
    person_name: str | None = None
    on_behalf_of: str | None = None
    role: str | None = None
    party: str | None = None
    client_id: str | None = None
    purpose: str | None = None
    legal_basis: str | None = None
    subject: str | None = None
    case_id: str | None = None
    fields_disclosed: Mapping[str, str] = field(default_factory=lambda: _EMPTY)
    fields_withheld: tuple[str, ...] = ()
    convenant_hash: str | None = None
    request_id: str | None = None
    source_address: str | None = None
    detail: Mapping[str, DetailValue] = field(default_factory=lambda: _EMPTY_DETAIL)
    # The entry's canonical JSON, filled in by `encode` on first use.
    _canonical: bytes | None = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        put = object.__setattr__
        put(self, "event", _pattern("event", self.event, _EVENT, _MAX_NAME))
        put(self, "action", _member("action", self.action, ACTIONS))
        put(self, "outcome", _member("outcome", self.outcome, OUTCOMES))
        for name in ("person_id", "on_behalf_of", "client_id", "request_id"):
            put(self, name, _optional(name, getattr(self, name), _TOKEN, _MAX_TOKEN))
        case_id = _optional("case_id", self.case_id, _TOKEN, _MAX_TOKEN)
        if case_id is not None and looks_like_bsn(case_id):
            raise _fail("case_id", "looks like it contains a BSN")
        put(self, "case_id", case_id)
        for name in ("role", "party", "purpose"):
            put(self, name, _optional(name, getattr(self, name), _IDENT, _MAX_NAME))
        put(self, "person_name", _text("person_name", self.person_name))
        put(self, "legal_basis", _text("legal_basis", self.legal_basis))
        put(self, "subject", _subject(self.subject))
        put(
            self,
            "convenant_hash",
            _optional("convenant_hash", self.convenant_hash, _CONVENANT_HASH, _MAX_NAME + 16),
        )
        put(self, "source_address", _address(self.source_address))
        disclosed = _disclosed(self.fields_disclosed)
        withheld = _withheld(self.fields_withheld)
        clash = sorted(f for f in withheld if disclosed.get(f, "withhold") != "withhold")
        if clash:
            raise _fail("fields_withheld", f"also disclosed: {clash}")
        put(self, "fields_disclosed", disclosed)
        put(self, "fields_withheld", withheld)
        put(self, "detail", _detail(self.detail))


@dataclass(frozen=True, slots=True)
class AuditRecord:
    """A sealed entry: its place in the chain (seq from 1), event id, UTC time and hashes."""

    seq: int
    event_id: str
    time: datetime
    prev_hash: str
    hash: str
    entry: AuditEntry

    def __post_init__(self) -> None:
        if not isinstance(self.seq, int) or isinstance(self.seq, bool) or self.seq < 1:
            raise AuditEntryError(f"audit record seq must be an int >= 1, not {self.seq!r}")
        try:
            parsed = uuid.UUID(self.event_id)
        except (TypeError, ValueError, AttributeError):
            raise AuditEntryError(
                f"audit record event_id is not a UUID: {self.event_id!r}"
            ) from None
        if str(parsed) != self.event_id:
            raise AuditEntryError("audit record event_id must be a lower-case hyphenated UUID")
        if not isinstance(self.time, datetime) or self.time.utcoffset() is None:
            raise AuditEntryError("audit record time must be a timezone-aware datetime")
        object.__setattr__(self, "time", self.time.astimezone(UTC))
        for name in ("prev_hash", "hash"):
            value = getattr(self, name)
            if not isinstance(value, str) or _HEX64.fullmatch(value) is None:
                raise AuditEntryError(f"audit record {name} must be 64 lower-case hex digits")
        if not isinstance(self.entry, AuditEntry):
            raise AuditEntryError("audit record entry must be an AuditEntry")

    @property
    def body(self) -> bytes:
        """The canonical bytes of this record (what its hash covers, after `prev_hash`)."""
        return encode(self.seq, self.event_id, self.time, self.entry)


# The canonical encoding: the bytes a record's hash covers (after `prev_hash`).
ENCODING_PREFIX: Final = b"multiteam.audit.record.v1\n"
_ENCODER: Final = json.JSONEncoder(
    ensure_ascii=False, sort_keys=True, separators=(",", ":"), allow_nan=False
)


def format_time(time: datetime) -> str:
    """UTC with microseconds, always the same width: 2026-01-31T12:00:00.000000Z."""
    if time.tzinfo is not UTC:
        time = time.astimezone(UTC)
    return time.replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


def _entry_json(entry: AuditEntry) -> bytes:
    """The entry's canonical JSON, computed once per entry object."""
    cached = entry._canonical
    if cached is None:
        document = {
            "event": entry.event,
            "action": entry.action,
            "outcome": entry.outcome,
            "person_id": entry.person_id,
            "person_name": entry.person_name,
            "on_behalf_of": entry.on_behalf_of,
            "role": entry.role,
            "party": entry.party,
            "client_id": entry.client_id,
            "purpose": entry.purpose,
            "legal_basis": entry.legal_basis,
            "subject": entry.subject,
            "case_id": entry.case_id,
            "fields_disclosed": dict(entry.fields_disclosed),
            "fields_withheld": list(entry.fields_withheld),
            "convenant_hash": entry.convenant_hash,
            "request_id": entry.request_id,
            "source_address": entry.source_address,
            "detail": dict(entry.detail),
        }
        cached = _ENCODER.encode(document).encode("utf-8")
        object.__setattr__(entry, "_canonical", cached)
    return cached


def encode(seq: int, event_id: str, time: datetime, entry: AuditEntry) -> bytes:
    """The canonical bytes of a record: version prefix, then compact sorted-key UTF-8 JSON.

    The document is {"entry": {...every entry field...}, "event_id": ..., "seq": ...,
    "time": ...}; keys sorted at every level, no whitespace, nulls kept, non-ASCII as UTF-8.
    """
    return b"".join(
        (
            ENCODING_PREFIX,
            b'{"entry":',
            _entry_json(entry),
            b',"event_id":',
            _ENCODER.encode(event_id).encode("utf-8"),
            b',"seq":',
            str(int(seq)).encode("ascii"),
            b',"time":"',
            format_time(time).encode("ascii"),
            b'"}',
        )
    )
