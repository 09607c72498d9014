"""Any single change an intruder makes to a stored log is named by the plain verification, at
its seq (and, for a column, with the column), on SQLite and PostgreSQL, without an exception:
a changed column of any record, a changed body, link or hash, a deleted, inserted or reordered
record, a record appended past the head, a changed or missing tree hash."""

from __future__ import annotations

import dataclasses
import json
import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, delete, insert, select, text, update
from sqlalchemy.orm import Session, sessionmaker

from audit import (
    GENESIS_HASH,
    AuditEntry,
    AuditHeadRow,
    AuditRecordRow,
    AuditTreeHashRow,
    SqlAuditStore,
    Verification,
    chain_hash,
    create_schema,
    leaf_hash,
    seal,
    verify_store,
)
from audit.tlog.merkle import (
    merkle_tree_hash,
    split_stored_hash_index,
    stored_hash_count,
    tree_hash,
)
from broker.storage.db import session_factory
from tests.audit.forgery import insert_record, rebuild_tree

N = 10
T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
RECORDS = AuditRecordRow.__table__
TREE = AuditTreeHashRow.__table__
# The entry columns and what a NULL in them does (NOT NULL columns refuse it).
STRINGS = {
    "event": False,
    "action": False,
    "outcome": False,
    "person_id": True,
    "person_name": True,
    "on_behalf_of": True,
    "role": True,
    "party": True,
    "client_id": True,
    "purpose": True,
    "legal_basis": True,
    "subject": True,
    "case_id": True,
    "convenant_hash": True,
    "request_id": True,
    "source_address": True,
    "event_id": False,
}
JSON = ("fields_disclosed", "fields_withheld", "detail")


def entries() -> list[AuditEntry]:
    """Ten entries that between them leave every optional column empty and filled, with
    quotes, backslashes, brackets and non-ASCII in the free texts."""
    full = AuditEntry(
        event="case.view",
        action="read",
        outcome="success",
        person_id="politie:w.agent",
        person_name='J. "Jan" de Vries \\ Ünal',
        on_behalf_of="om:officier",
        role="case_worker",
        party="politie",
        client_id="broker-web",
        purpose="casusoverleg",
        legal_basis="Wet {x}, art. 2: [lid 1]",
        subject="psn:abc",
        case_id="case-1",
        fields_disclosed={"surname": "show", "bsn": "mask", "birth_date": "generalise"},
        fields_withheld=("care_details", "notes"),
        convenant_hash="sha256:" + "ab" * 32,
        request_id=str(uuid.UUID(int=7)),
        source_address="2001:db8::1",
        detail={"status": 200, "note": 'a},"event":"x', "flag": True, "none": None},
    )
    bare = AuditEntry(event="case.list", action="search", outcome="denied")
    return [
        full if i % 3 == 0 else bare if i % 3 == 1 else dataclasses.replace(full, outcome="error")
        for i in range(N)
    ]


@dataclass
class Log:
    """A store with N records, and a way back to them after each tampering."""

    store: SqlAuditStore
    sessions: sessionmaker[Session]
    rows: Sequence[Mapping[str, Any]]
    tree: Sequence[Mapping[str, Any]]

    def restore(self) -> None:
        """Put the records, their tree hashes and the head back as written."""
        with self.sessions.begin() as session:
            session.execute(delete(AuditRecordRow))
            session.execute(insert(RECORDS), [dict(row) for row in self.rows])
            session.execute(delete(AuditTreeHashRow))
            session.execute(insert(TREE), [dict(row) for row in self.tree])
            last = self.rows[-1]
            session.execute(
                update(AuditHeadRow).values(seq=last["seq"], hash=last["hash"], time=last["time"])
            )

    def verify(self, **kw: Any) -> Verification:
        with self.sessions() as session:
            return verify_store(self.store, session, workers=1, **kw)


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        self.now += timedelta(seconds=1, microseconds=1)
        return self.now


@pytest.fixture
def log(db_engine: Engine) -> Iterator[Log]:
    create_schema(db_engine)
    sessions = session_factory(db_engine)
    store = SqlAuditStore(clock=Clock())
    for entry in entries():
        with sessions.begin() as session:
            store.append(session, [entry])
    with sessions() as session:
        rows = session.execute(select(RECORDS).order_by(RECORDS.c.seq)).mappings().all()
        tree = session.execute(select(TREE).order_by(TREE.c.idx)).mappings().all()
    yield Log(store, sessions, rows, tree)


def test_an_intact_log_verifies_whole_and_its_tree_is_the_bodies_tree(log: Log) -> None:
    """Intact: every record and column checked, every stored hash compared, and the stored
    tree is RFC 9162's over the bodies, laid out as Go's tlog lays it out."""
    result = log.verify()
    assert result.is_intact, result.description
    assert (result.records_checked, result.first_seq, result.last_seq) == (N, 1, N)
    assert result.columns_checked
    assert result.tree_hashes_checked == stored_hash_count(N) == len(log.tree)
    leaves = [leaf_hash(row["body"]) for row in log.rows]
    assert result.tree_root == merkle_tree_hash(leaves).hex()
    stored = {row["idx"]: row["hash"] for row in log.tree}
    assert sorted(stored) == list(range(stored_hash_count(N)))
    for position, digest in stored.items():
        level, index = split_stored_hash_index(position)
        assert digest == merkle_tree_hash(leaves[index << level : (index + 1) << level])
    with log.sessions() as session:
        reader = log.store.hash_reader(session)
        for size in range(N + 1):
            assert tree_hash(size, reader) == merkle_tree_hash(leaves[:size])


@st.composite
def tamperings(draw: st.DrawFn) -> tuple[str, int, str | None, Any]:
    """(kind, seq, column, what): one change an intruder could make, and the seq (and the
    column) verification must name."""
    kind = draw(
        st.sampled_from(
            [
                "string",
                "json",
                "time",
                "seq",
                "body",
                "hash",
                "prev_hash",
                "delete",
                "insert",
                "swap",
                "past_head",
                "tree",
            ]
        )
    )
    k = draw(st.integers(1, N), label="k")
    if kind == "string":
        column, nullable = draw(st.sampled_from(sorted(STRINGS.items())))
        return kind, k, column, nullable
    if kind == "json":
        return kind, k, draw(st.sampled_from(JSON)), draw(st.booleans())
    if kind == "swap":
        return kind, min(k, N - 1), None, draw(st.integers(min(k, N - 1) + 1, N))
    if kind == "tree":
        position = draw(st.integers(0, stored_hash_count(N) - 1))
        return kind, k, None, (position, draw(st.booleans()))
    return kind, k, None, draw(st.booleans())


def _tamper(
    session: Session, log: Log, kind: str, k: int, column: str | None, what: Any, data: Any
) -> tuple[int, str | None]:
    """Make the change; the seq and column verification must name."""
    row = dict(log.rows[k - 1])
    at = RECORDS.c.seq == k
    if kind == "string":
        assert column is not None
        new = data.draw(_values(row[column], nullable=what), label="value")
        session.execute(update(RECORDS).where(at).values({column: new}))
        return k, column
    if kind == "json":
        assert column is not None
        old = row[column]
        new = [*old, "extra"] if isinstance(old, list) else {**old, "extra_key": "show"}
        session.execute(update(RECORDS).where(at).values({column: new}))
        return k, column
    if kind == "time":
        session.execute(update(RECORDS).where(at).values(time=row["time"] + timedelta(0, 0, 1)))
        return k, "time"
    if kind == "seq":
        session.execute(update(RECORDS).where(at).values(seq=N + 3))
        return k, None
    if kind == "body":
        body = row["body"].replace(b'"seq":', b'"seq": ', 1)
        session.execute(update(RECORDS).where(at).values(body=body))
        return k, None
    if kind in ("hash", "prev_hash"):
        session.execute(update(RECORDS).where(at).values({kind: "0" * 63 + "1"}))
        return k, None
    if kind == "delete":
        session.execute(delete(AuditRecordRow).where(at))
        return k, None
    if kind == "insert":
        session.execute(update(RECORDS).where(RECORDS.c.seq >= k).values(seq=-RECORDS.c.seq))
        session.execute(update(RECORDS).where(RECORDS.c.seq < 0).values(seq=1 - RECORDS.c.seq))
        before = log.rows[k - 2]["hash"] if k > 1 else GENESIS_HASH
        forged = seal(entries()[1], seq=k, prev_hash=before, time=row["time"])
        # the record moved up now chains to the one inserted (prev_hash is unique)
        after = RECORDS.c.seq == k + 1
        session.execute(update(RECORDS).where(after).values(prev_hash=forged.hash))
        insert_record(session, forged)
        return k, None
    if kind == "swap":
        j = what
        other = dict(log.rows[j - 1])
        session.execute(delete(AuditRecordRow).where(RECORDS.c.seq.in_([k, j])))
        session.execute(insert(RECORDS), [{**other, "seq": k}, {**row, "seq": j}])
        return k, None
    if kind == "past_head":
        last = log.rows[-1]
        forged = seal(entries()[1], seq=N + 1, prev_hash=last["hash"], time=last["time"])
        insert_record(session, forged)
        if what:  # and the tree hashes it would add
            rebuild_tree(session, N + 1)
        return N + 1, None
    position, remove = what
    level, index = split_stored_hash_index(position)
    if remove:
        session.execute(delete(AuditTreeHashRow).where(TREE.c.idx == position))
    else:
        session.execute(update(TREE).where(TREE.c.idx == position).values(hash=bytes(32)))
    return (index + 1) << level, None


def _values(old: object, nullable: bool) -> st.SearchStrategy[str | None]:
    tricky = st.text(alphabet=' "\\{}[],:aéx.', max_size=12)
    return ((st.none() | tricky) if nullable else tricky).filter(lambda v: v != old)


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(tampering=tamperings(), data=st.data())
def test_any_single_change_is_named_at_its_seq(
    log: Log, tampering: tuple[str, int, str | None, Any], data: st.DataObject
) -> None:
    """One change of any kind: the plain verification names its seq (and its column)."""
    kind, k, column, what = tampering
    event(kind)
    log.restore()
    with log.sessions.begin() as session:
        seq, named = _tamper(session, log, kind, k, column, what, data)
    for deep in (False, True):
        result = log.verify(deep=deep)
        assert not result.is_intact, (kind, deep)
        assert result.first_bad_seq == seq, (kind, deep, result.description)
        assert result.column == named, (kind, deep, result.description)
        assert result.reason != "unreadable", result.description
        assert result.records_checked == (N if kind == "past_head" else seq - 1)
        if named is not None:
            assert named in result.description


def test_a_column_that_is_no_valid_member_is_a_finding_not_a_crash(log: Log) -> None:
    """action = 'frobnicate': named with its column, plain and deep, never an exception."""
    with log.sessions.begin() as session:
        session.execute(update(RECORDS).where(RECORDS.c.seq == 4).values(action="frobnicate"))
    for deep in (False, True):
        result = log.verify(deep=deep)
        assert (result.reason, result.first_bad_seq, result.column) == (
            "column_mismatch",
            4,
            "action",
        )
        assert "not a valid action" in result.description
        assert "frobnicate" not in result.description  # a stored value is never repeated


def _recompute_from(session: Session, k: int, body: bytes) -> None:
    """Replace record k's body and recompute its chain and the head, and the tree: all the
    database holds, but not the record's columns."""
    rows = session.execute(select(RECORDS).where(RECORDS.c.seq >= k).order_by(RECORDS.c.seq))
    links = [(r.seq, r.prev_hash, r.body) for r in rows]
    prev_hash = links[0][1]
    for seq, _, stored in links:
        content = body if seq == k else stored
        digest = chain_hash(prev_hash, content)
        session.execute(
            update(RECORDS)
            .where(RECORDS.c.seq == seq)
            .values(body=content, hash=digest, prev_hash=prev_hash)
        )
        prev_hash = digest
    session.execute(update(AuditHeadRow).values(hash=prev_hash))
    rebuild_tree(session)


@pytest.mark.parametrize("forgery", ["garbage", "other record"])
def test_a_body_forged_with_chain_and_tree_recomputed_is_given_away_by_its_columns(
    log: Log, forgery: str
) -> None:
    """An intruder rewrites record 5's body and recomputes the chain, the head and the tree:
    only a checkpoint kept elsewhere pins that, but the columns still say what record 5 was:
    a body that is no record, or another record's, is named at 5."""
    row = log.rows[4]
    if forgery == "garbage":
        body = b"multiteam.audit.record.v1\n{not a record"
    else:
        other = dataclasses.replace(entries()[4], outcome="success", party="om")
        body = seal(other, seq=5, prev_hash=row["prev_hash"], time=row["time"]).body
    with log.sessions.begin() as session:
        _recompute_from(session, 5, body)
    for deep in (False, True):
        result = log.verify(deep=deep)
        assert result.first_bad_seq == 5, result.description
        if forgery == "garbage":
            assert (result.reason, result.column) == ("unreadable_record", None)
        else:
            assert result.reason == "column_mismatch"
            assert result.column in ("outcome", "party", "event", "action")


def test_a_json_column_written_another_way_with_the_same_value_is_no_finding(log: Log) -> None:
    """The JSON columns are compared by value when their text is not the canonical one."""
    spaced = json.dumps(dict(log.rows[0]["detail"]), indent=1, sort_keys=False)
    with log.sessions.begin() as session:
        if session.get_bind().dialect.name == "postgresql":
            statement = "UPDATE audit_record SET detail = CAST(:t AS JSON) WHERE seq = 1"
        else:
            statement = "UPDATE audit_record SET detail = :t WHERE seq = 1"
        session.execute(text(statement), {"t": spaced})
    result = log.verify()
    assert result.is_intact, result.description
    assert result.records_checked == N


def test_a_time_stored_in_another_form_is_named_where_the_form_is_what_is_stored(
    log: Log,
) -> None:
    """On SQLite the stored text is what time filters compare: another form of the same time
    is a finding. PostgreSQL stores the instant: the same instant written with another offset
    is the same value, and no finding."""
    with log.sessions.begin() as session:
        is_sqlite = session.get_bind().dialect.name == "sqlite"
        if is_sqlite:
            statement = "UPDATE audit_record SET time = substr(time, 1, 19) WHERE seq = 3"
        else:
            statement = (
                "UPDATE audit_record SET time = CAST(:t AS TIMESTAMP WITH TIME ZONE) WHERE seq = 3"
            )
        offset = log.rows[2]["time"].astimezone(timezone(timedelta(hours=2)))
        session.execute(text(statement), {"t": offset.isoformat()})
    result = log.verify()
    if is_sqlite:
        found = (result.reason, result.first_bad_seq, result.column)
        assert found == ("column_mismatch", 3, "time")
    else:
        assert result.is_intact, result.description


def test_a_record_below_seq_1_is_named(log: Log) -> None:
    """A record stored at seq 0 lies outside every chain; it is named by its seq."""
    first = log.rows[0]
    forged = seal(entries()[1], seq=N + 5, prev_hash="1" * 64, time=first["time"])
    with log.sessions.begin() as session:
        insert_record(session, forged)
        session.execute(update(RECORDS).where(RECORDS.c.prev_hash == "1" * 64).values(seq=0))
    result = log.verify()
    assert (result.reason, result.first_bad_seq) == ("seq_out_of_range", 0)


def test_a_log_that_cannot_be_read_is_a_finding(log: Log, db_engine: Engine) -> None:
    """Without its tree table the log cannot be verified: it says so, it does not raise."""
    with db_engine.begin() as connection:
        connection.execute(text("DROP TABLE audit_tree_hash"))
    result = log.verify()
    assert not result.is_intact
    assert (result.reason, result.first_bad_seq, result.records_checked) == ("unreadable", None, 0)
    assert "intact" not in result.description
