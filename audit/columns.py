"""Whether a stored record's columns say what its canonical bytes say. Pure, no I/O.

A record is stored twice: as its canonical bytes (`body`: the tree's leaf, what the chain and
the tree vouch for) and as the columns that queries filter on and pages show. Verification
reads every stored column of every record (`STORED_COLUMNS`, in that order, as the database
driver returns them) and compares it with the body.

The fast path (`column_problem`) rebuilds the canonical bytes from the columns and compares
them with the body: one join and one comparison per record. The rebuilt bytes are fixed
separators with the columns between them: each string column JSON-encoded (or null), each
JSON column as its stored text (the store writes it as the canonical fragment), the time in
the store's text form. Equal bytes mean equal values: a JSON string literal ends at its first
unescaped quote, so it cannot reach into the next column; a JSON column's text must start
and end with its brackets, and in a canonical body the only such bracket followed by the next
column's key (`},"event":`, `},"fields_withheld":`, `],"legal_basis":`) is the one that
closes that column's value (`,"` never occurs inside a string, and the values hold no nested
object). Anything else — a value of another type, a JSON text written another way, a body
that does not decode — goes to the slow path (`explain`): the body is decoded and validated as
a record, each column compared with the value it holds, and the first that differs named.
A JSON column written another way with the same value is not a finding; a string column or the
time stored in another form is, because queries compare the stored form. Descriptions name the
seq and the column, never a stored value.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from datetime import datetime
from json.encoder import encode_basestring
from typing import Any, Final, NamedTuple

from .chain import GENESIS_HASH, Link, decode
from .errors import AuditEntryError
from .record import _ENCODER, ACTIONS, ENCODING_PREFIX, OUTCOMES

__all__ = [
    "COLUMN_ORDER",
    "JSON_COLUMNS",
    "STORED_COLUMNS",
    "ColumnFinding",
    "canonical_json",
    "column_problem",
    "explain",
]

# The columns of a stored record, in the order a store hands them to verification.
STORED_COLUMNS: Final = (
    "seq",
    "prev_hash",
    "hash",
    "body",
    "event_id",
    "time",
    "event",
    "action",
    "outcome",
    "person_id",
    "person_name",
    "on_behalf_of",
    "role",
    "party",
    "client_id",
    "purpose",
    "legal_basis",
    "subject",
    "case_id",
    "fields_disclosed",
    "fields_withheld",
    "convenant_hash",
    "request_id",
    "source_address",
    "detail",
)
JSON_COLUMNS: Final = frozenset({"fields_disclosed", "fields_withheld", "detail"})
# The order in which a finding names the first column that differs.
COLUMN_ORDER: Final = (
    "event",
    "action",
    "outcome",
    "person_id",
    "person_name",
    "on_behalf_of",
    "role",
    "party",
    "client_id",
    "purpose",
    "legal_basis",
    "subject",
    "case_id",
    "fields_disclosed",
    "fields_withheld",
    "convenant_hash",
    "request_id",
    "source_address",
    "detail",
    "time",
    "event_id",
    "seq",
)
_INDEX: Final = {name: i for i, name in enumerate(STORED_COLUMNS)}
_MEMBERS: Final = {"action": ACTIONS, "outcome": OUTCOMES}
_PREFIX_LENGTH: Final = len(ENCODING_PREFIX)
_TIME_TAIL: Final = 29  # 2026-01-31T12:00:00.000000Z"}
_FIELD = re.compile(r"field '([a-z_.]+)")

Row = Sequence[Any]


class ColumnFinding(NamedTuple):
    """A record whose stored columns are not what its canonical bytes say."""

    seq: int
    column: str | None
    reason: str  # "column_mismatch" or "unreadable_record"
    description: str


def _stored_time(value: object, body_time: str) -> bool:
    """Whether the stored time is the body's time in the store's form: SQLite's text
    (YYYY-MM-DD HH:MM:SS.ffffff, UTC, as SQLAlchemy writes it) or an aware datetime."""
    if isinstance(value, str):
        return value == f"{body_time[:10]} {body_time[11:26]}"
    if isinstance(value, datetime) and value.utcoffset() is not None:
        return value == datetime.fromisoformat(body_time)
    return False


def column_problem(row: Row, enc: Callable[[str], str] = encode_basestring) -> ColumnFinding | None:
    """None when the columns of `row` (in `STORED_COLUMNS` order) say what its body says;
    else the finding (from `explain`). Rebuilds the canonical bytes; see the module. (`enc`
    is JSON's string encoder, bound here: this runs once per record.)"""
    try:
        (
            seq,
            _prev_hash,
            _hash,
            body,
            event_id,
            time,
            event,
            action,
            outcome,
            person_id,
            person_name,
            on_behalf_of,
            role,
            party,
            client_id,
            purpose,
            legal_basis,
            subject,
            case_id,
            disclosed,
            withheld,
            convenant_hash,
            request_id,
            source_address,
            detail,
        ) = row
        if (
            disclosed[0] == "{"
            and disclosed[-1] == "}"
            and withheld[0] == "["
            and withheld[-1] == "]"
            and detail[0] == "{"
            and detail[-1] == "}"
            and type(seq) is int
        ):
            rebuilt = "".join(
                (
                    '{"entry":{"action":',
                    "null" if action is None else enc(action),
                    ',"case_id":',
                    "null" if case_id is None else enc(case_id),
                    ',"client_id":',
                    "null" if client_id is None else enc(client_id),
                    ',"convenant_hash":',
                    "null" if convenant_hash is None else enc(convenant_hash),
                    ',"detail":',
                    detail,
                    ',"event":',
                    "null" if event is None else enc(event),
                    ',"fields_disclosed":',
                    disclosed,
                    ',"fields_withheld":',
                    withheld,
                    ',"legal_basis":',
                    "null" if legal_basis is None else enc(legal_basis),
                    ',"on_behalf_of":',
                    "null" if on_behalf_of is None else enc(on_behalf_of),
                    ',"outcome":',
                    "null" if outcome is None else enc(outcome),
                    ',"party":',
                    "null" if party is None else enc(party),
                    ',"person_id":',
                    "null" if person_id is None else enc(person_id),
                    ',"person_name":',
                    "null" if person_name is None else enc(person_name),
                    ',"purpose":',
                    "null" if purpose is None else enc(purpose),
                    ',"request_id":',
                    "null" if request_id is None else enc(request_id),
                    ',"role":',
                    "null" if role is None else enc(role),
                    ',"source_address":',
                    "null" if source_address is None else enc(source_address),
                    ',"subject":',
                    "null" if subject is None else enc(subject),
                    '},"event_id":',
                    enc(event_id),
                    ',"seq":',
                    str(seq),
                    ',"time":"',
                )
            ).encode("utf-8")
            end = _PREFIX_LENGTH + len(rebuilt)
            if (
                type(body) is bytes
                and len(body) == end + _TIME_TAIL
                and body.startswith(ENCODING_PREFIX)
                and body.startswith(rebuilt, _PREFIX_LENGTH)
                and body.endswith(b'"}')
                and _stored_time(time, body[end:-2].decode("ascii"))
            ):
                return None
    except (TypeError, ValueError, IndexError, UnicodeError):
        pass  # a column of another type or shape: the slow path says which
    return explain(row)


def explain(row: Row) -> ColumnFinding | None:
    """Decode the body of `row` as a record and compare each stored column with it: the first
    column that differs (in `COLUMN_ORDER`), or why the body is no record; None when every
    column holds the body's value (a JSON column may be written another way)."""
    seq = row[0]
    body = row[_INDEX["body"]]
    if isinstance(body, bytearray | memoryview):
        body = bytes(body)
    if not isinstance(body, bytes):
        return ColumnFinding(
            seq, "body", "unreadable_record", f"record {seq}: its stored body is not bytes"
        )
    try:
        record = decode(Link(seq, GENESIS_HASH, GENESIS_HASH, body))
        document = json.loads(body[_PREFIX_LENGTH:])
    except (AuditEntryError, ValueError) as exc:
        field = _FIELD.search(str(exc))
        where = f" (field {field.group(1)})" if field else ""
        return ColumnFinding(
            seq,
            None,
            "unreadable_record",
            f"record {seq}: its canonical bytes do not decode to a valid record{where}",
        )
    expected: dict[str, Any] = dict(document["entry"])
    expected.update(event_id=record.event_id, seq=record.seq, time=document["time"])
    differing = [name for name in COLUMN_ORDER if not _same(name, row, expected)]
    if not differing:
        return None
    first = differing[0]
    note = ""
    allowed = _MEMBERS.get(first)
    stored = row[_INDEX[first]]
    if allowed is not None and stored not in allowed:
        note = f"; the stored value is not a valid {first} at all"
    others = f" (also: {', '.join(differing[1:])})" if len(differing) > 1 else ""
    return ColumnFinding(
        seq,
        first,
        "column_mismatch",
        f"record {seq}: the stored column {first} is not what the record says{note}{others}",
    )


def _same(name: str, row: Row, expected: dict[str, Any]) -> bool:
    stored = row[_INDEX[name]]
    want = expected.get(name)
    if name == "time":
        return _stored_time(stored, str(want))
    if name in JSON_COLUMNS:
        if not isinstance(stored, str):
            return False
        try:
            value = json.loads(stored)
        except ValueError:
            return False
        return _json_equal(value, want)
    if name == "seq":
        return type(stored) is int and stored == want
    return (stored is None and want is None) or (type(stored) is str and stored == want)


def _json_equal(a: object, b: object) -> bool:
    """Equal as JSON values: same types (True is not 1), same keys, same items in order."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_json_equal(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_json_equal(x, y) for x, y in zip(a, b, strict=True))
    return a == b


def canonical_json(value: object) -> str:
    """The canonical text of a JSON column: compact, sorted keys, UTF-8, as in the body."""
    return _ENCODER.encode(value)
