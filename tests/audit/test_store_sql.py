"""The SQL audit store on SQLite and PostgreSQL: append, read, query, checkpoints, fail closed."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from itertools import pairwise

import pytest
from sqlalchemy import Engine, MetaData, String, func, inspect, select, text, update
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker

from audit import (
    GENESIS_HASH,
    AuditEntry,
    AuditQuery,
    AuditRecordRow,
    AuditTreeHashRow,
    AuditWriteError,
    Head,
    MemoryAuditStore,
    SqlAuditStore,
    checkpoint_from_json,
    checkpoint_to_json,
    create_schema,
    generate_signing_key,
    leaf_hash,
    metadata,
    sign_checkpoint,
    verify_store,
)
from audit.tlog.merkle import (
    consistency_proof,
    inclusion_proof,
    merkle_tree_hash,
    stored_hash_count,
    tree_hash,
    verify_consistency,
    verify_inclusion,
)
from broker.storage.db import make_engine, session_factory
from tests.audit.forgery import rebuild_tree

T0 = datetime(2026, 2, 2, 8, 0, tzinfo=UTC)


class Clock:
    """A settable clock for the store."""

    def __init__(self, now: datetime = T0) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


class _NoteBase(DeclarativeBase):
    metadata = MetaData()


class Note(_NoteBase):
    """A stand-in for the broker's own data, written in the same transaction as the audit."""

    __tablename__ = "test_note"
    id: Mapped[int] = mapped_column(primary_key=True)
    text: Mapped[str] = mapped_column(String(50))


@pytest.fixture
def sessions(db_engine: Engine) -> Iterator[sessionmaker[Session]]:
    create_schema(db_engine)
    _NoteBase.metadata.create_all(db_engine)
    yield session_factory(db_engine)


def view(subject: str | None = "psn:a", **changes: object) -> AuditEntry:
    fields: dict[str, object] = {
        "event": "case.view",
        "action": "read",
        "outcome": "success",
        "person_id": "politie:agent-1",
        "party": "politie",
        "role": "case_worker",
        "purpose": "casusoverleg",
        "subject": subject,
        "case_id": "case-1",
        "fields_disclosed": {"surname": "show", "bsn": "mask"},
        "fields_withheld": ("care_details",),
        "detail": {"status": 200},
    }
    fields.update(changes)
    return AuditEntry(**fields)  # type: ignore[arg-type]


TABLES = {
    "audit_record",
    "audit_head",
    "audit_checkpoint",
    "audit_log_checkpoint",
    "audit_tree_hash",
}


def test_the_schema_has_the_documented_tables_and_a_genesis_head(db_engine: Engine) -> None:
    """create_schema makes the five tables, the subject index and the genesis head row."""
    create_schema(db_engine)
    create_schema(db_engine)  # idempotent
    inspector = inspect(db_engine)
    assert set(inspector.get_table_names()) >= TABLES
    indexes = {ix["name"] for ix in inspector.get_indexes("audit_record")}
    assert "ix_audit_record_subject_seq" in indexes
    with session_factory(db_engine)() as session:
        assert SqlAuditStore().head(session) == Head(0, GENESIS_HASH, None)
    assert set(metadata.tables) == TABLES


def test_appends_chain_and_read_back_as_written(sessions: sessionmaker[Session]) -> None:
    """Records come back from the columns and from the stored bytes exactly as sealed."""
    store = SqlAuditStore(clock=Clock())
    with sessions.begin() as session:
        first = store.append(session, [view("psn:a"), view("psn:b")])
    with sessions.begin() as session:
        second = store.append(session, [view("psn:a", outcome="denied", fields_disclosed={})])
    written = first + second
    assert [r.seq for r in written] == [1, 2, 3]
    assert written[0].prev_hash == GENESIS_HASH
    assert all(b.prev_hash == a.hash for a, b in pairwise(written))
    with sessions() as session:
        assert list(store.records(session)) == written
        assert [link.body for link in store.links(session)] == [r.body for r in written]
        assert list(store.records(session, since_seq=2, until_seq=2)) == written[1:2]
        assert store.head(session) == Head(3, written[-1].hash, T0)
        result = verify_store(store, session, deep=True)
    assert result.is_intact, result.description
    assert result.records_checked == 3


def test_an_empty_append_writes_nothing(sessions: sessionmaker[Session]) -> None:
    """Appending no entries changes nothing."""
    store = SqlAuditStore()
    with sessions.begin() as session:
        assert store.append(session, []) == []
        assert store.head(session).seq == 0


def test_time_never_runs_backwards_along_the_chain(sessions: sessionmaker[Session]) -> None:
    """If the clock steps back, a record takes its predecessor's time."""
    clock = Clock()
    store = SqlAuditStore(clock=clock)
    with sessions.begin() as session:
        store.append(session, [view()])
    clock.now = T0 - timedelta(minutes=5)
    with sessions.begin() as session:
        (record,) = store.append(session, [view()])
    assert record.time == T0


def test_the_privacy_officers_query_filters_and_pages(sessions: sessionmaker[Session]) -> None:
    """Queries filter by subject, person, party, purpose, action, outcome and time; and page."""
    clock = Clock()
    store = SqlAuditStore(clock=clock)
    memory = MemoryAuditStore(clock=clock)
    batches = [
        [view("psn:a"), view("psn:b", party="school", person_id="school:mentor")],
        [view("psn:a", outcome="denied", purpose="uitvoering")],
        [view(None, event="case.list", action="search")],
        [view("psn:a"), view("psn:a", party="om", person_id="om:officier")],
    ]
    for i, batch in enumerate(batches):
        clock.now = T0 + timedelta(hours=i)
        with sessions.begin() as session:
            store.append(session, batch)
        memory.append(None, batch)
    queries = {
        AuditQuery(subject="psn:a"): [1, 3, 5, 6],
        AuditQuery(subject="psn:a", limit=2): [1, 3],
        AuditQuery(subject="psn:a", after_seq=3, limit=2): [5, 6],
        AuditQuery(person_id="school:mentor"): [2],
        AuditQuery(party="politie", purpose="casusoverleg"): [1, 4, 5],
        AuditQuery(action="search"): [4],
        AuditQuery(outcome="denied"): [3],
        AuditQuery(event="case.list"): [4],
        AuditQuery(case_id="case-1", party="om"): [6],
        AuditQuery(since=T0 + timedelta(hours=1), until=T0 + timedelta(hours=3)): [3, 4],
        AuditQuery(subject="psn:nobody"): [],
    }
    with sessions() as session:
        for query, expected in queries.items():
            assert [r.seq for r in store.query(session, query)] == expected, query
            assert [r.seq for r in memory.query(None, query)] == expected, query


def test_checkpoints_are_kept_and_catch_a_truncated_log(sessions: sessionmaker[Session]) -> None:
    """A kept checkpoint survives export/import and catches records deleted from the end."""
    store = SqlAuditStore()
    key = generate_signing_key()
    with sessions.begin() as session:
        store.append(session, [view() for _ in range(5)])
        head = store.head(session)
        checkpoint = sign_checkpoint(key, head.seq, head.hash)
        store.add_checkpoint(session, checkpoint)
    exported = checkpoint_to_json(checkpoint)
    with sessions() as session:
        assert store.checkpoints(session) == [checkpoint]
        assert verify_store(store, session, public_key=key.public_key()).is_intact
    with sessions.begin() as session:  # an intruder drops the last two and rewinds the head
        session.execute(text("DELETE FROM audit_record WHERE seq > 3"))
        session.execute(text("DELETE FROM audit_checkpoint"))
        kept = list(store.links(session))
        session.execute(text("UPDATE audit_head SET seq = 3, hash = :h"), {"h": kept[-1].hash})
    with sessions() as session:  # the tree hashes of records 4 and 5 are still stored
        left = verify_store(store, session)
    assert (left.reason, left.first_bad_seq) == ("tree_hash_extra", 4), left.description
    with sessions.begin() as session:  # and deletes those too
        rebuild_tree(session, 3)
    with sessions() as session:
        assert verify_store(store, session).is_intact  # the database alone cannot tell
        result = verify_store(
            store,
            session,
            checkpoints=[checkpoint_from_json(exported)],
            public_key=key.public_key(),
        )
    assert (result.reason, result.first_bad_seq) == ("truncated", 4)


def test_tampered_rows_are_found(sessions: sessionmaker[Session]) -> None:
    """A changed column and a changed body are both named by the plain pass (and the deep)."""
    store = SqlAuditStore()
    with sessions.begin() as session:
        store.append(session, [view(f"psn:s{i}") for i in range(6)])
    with sessions.begin() as session:
        session.execute(text("UPDATE audit_record SET subject = 'psn:other' WHERE seq = 4"))
    with sessions() as session:
        for deep in (False, True):
            found = verify_store(store, session, deep=deep)
            assert (found.reason, found.first_bad_seq, found.column) == (
                "column_mismatch",
                4,
                "subject",
            ), found.description
    with sessions.begin() as session:
        session.execute(text("UPDATE audit_record SET subject = 'psn:s3' WHERE seq = 4"))
        body = session.scalar(select(AuditRecordRow.body).where(AuditRecordRow.seq == 2))
        assert body is not None
        session.execute(
            text("UPDATE audit_record SET body = :b WHERE seq = 2"),
            {"b": body.replace(b"psn:s1", b"psn:s9")},
        )
    with sessions() as session:
        fast = verify_store(store, session)
    assert (fast.reason, fast.first_bad_seq) == ("hash_mismatch", 2)


def test_a_purge_needs_an_anchor_and_keeps_the_log_verifiable(
    sessions: sessionmaker[Session],
) -> None:
    """Records up to a checkpoint can be purged; the rest still verifies from the anchor."""
    store = SqlAuditStore()
    key = generate_signing_key()
    with sessions.begin() as session:
        written = store.append(session, [view() for _ in range(6)])
    with sessions.begin() as session, pytest.raises(AuditWriteError, match="no kept checkpoint"):
        store.purge_through(session, 3)
    with sessions.begin() as session:
        store.add_checkpoint(session, sign_checkpoint(key, 3, written[2].hash))
        assert store.purge_through(session, 3) == 3
        store.append(
            session, [view(event="retention.purge", action="delete", detail={"through_seq": 3})]
        )
    with sessions() as session:
        assert [link.seq for link in store.links(session)] == [4, 5, 6, 7]
        result = verify_store(store, session, public_key=key.public_key(), deep=True)
    assert result.is_intact, result.description
    assert (result.anchor_seq, result.first_seq, result.last_seq) == (3, 4, 7)
    assert (result.purged, result.purged_checked, result.records_checked) == (3, True, 4)
    assert "records 1..3: purged by retention, content not checked" in result.checked()[0]


def test_purged_records_keep_what_the_tree_needs(sessions: sessionmaker[Session]) -> None:
    """After a purge the root and old proofs still verify from the stored hashes; the purged
    range is reported as such; a kept leaf hash changed (or the chain over the kept leaves
    recomputed) is named."""
    store = SqlAuditStore()
    key = generate_signing_key()
    with sessions.begin() as session:
        written = store.append(session, [view(f"psn:s{i}") for i in range(8)])
        store.add_checkpoint(session, sign_checkpoint(key, 5, written[4].hash))
        reader = store.hash_reader(session)
        root_8 = tree_hash(8, reader)
        proof = inclusion_proof(2, 8, reader)
    leaves = [leaf_hash(r.body) for r in written]
    assert root_8 == merkle_tree_hash(leaves)
    with sessions.begin() as session:
        assert store.purge_through(session, 5) == 5
        (last,) = store.append(session, [view("psn:after")])
    with sessions() as session:
        reader = store.hash_reader(session)
        assert tree_hash(8, reader) == root_8
        assert inclusion_proof(2, 8, reader) == proof
        assert verify_inclusion(leaves[2], 2, 8, proof, root_8)
        root_9 = tree_hash(9, reader)
        assert verify_consistency(8, 9, root_8, root_9, consistency_proof(8, 9, reader))
        result = verify_store(store, session, public_key=key.public_key())
    assert result.is_intact, result.description
    assert (result.purged, result.purged_checked) == (5, True)
    assert (result.first_seq, result.last_seq, result.records_checked) == (6, 9, 4)
    assert (
        result.tree_root == root_9.hex() == merkle_tree_hash([*leaves, leaf_hash(last.body)]).hex()
    )
    tree = AuditTreeHashRow.__table__.c
    with sessions.begin() as session:  # the kept leaf hash of purged record 2 is changed
        session.execute(
            update(AuditTreeHashRow).where(tree.idx == stored_hash_count(1)).values(hash=bytes(32))
        )
    with sessions() as session:
        changed = verify_store(store, session, public_key=key.public_key())
    assert (changed.reason, changed.first_bad_seq) == ("tree_hash_mismatch", 2)
    assert changed.purged == 5
    with sessions.begin() as session:  # and the tree over the kept leaves recomputed too
        rebuild_tree(session, 9)
    with sessions() as session:
        rebuilt = verify_store(store, session, public_key=key.public_key())
    assert (rebuilt.reason, rebuilt.first_bad_seq) == ("purged_mismatch", 1)


def test_verification_can_start_at_a_checkpoint(sessions: sessionmaker[Session]) -> None:
    """An incremental check from the last checkpoint reads only the records after it."""
    store = SqlAuditStore()
    key = generate_signing_key()
    with sessions.begin() as session:
        written = store.append(session, [view() for _ in range(8)])
        store.add_checkpoint(session, sign_checkpoint(key, 5, written[4].hash))
    with sessions() as session:
        result = verify_store(store, session, public_key=key.public_key(), since_seq=6)
    assert result.is_intact, result.description
    assert (result.first_seq, result.records_checked) == (6, 3)


def test_a_failed_append_rolls_the_whole_transaction_back(
    sessions: sessionmaker[Session], db_engine: Engine
) -> None:
    """If the audit record cannot be written, the request's own writes are not committed."""
    store = SqlAuditStore()
    with sessions.begin() as session:
        store.append(session, [view()])
    with db_engine.begin() as connection:
        connection.execute(text("DROP TABLE audit_record"))
    with pytest.raises(AuditWriteError), sessions.begin() as session:
        session.add(Note(id=1, text="written before the audit"))
        store.append(session, [view()])
    # Even a caller that swallows the error and commits sends nothing to disk.
    with sessions() as session:
        session.add(Note(id=2, text="caller ignores the failure"))
        with pytest.raises(AuditWriteError):
            store.append(session, [view()])
        session.commit()
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(Note)) == 0


def test_a_read_only_database_fails_closed(
    sessions: sessionmaker[Session], db_engine: Engine
) -> None:
    """On a database that refuses writes, append raises AuditWriteError and writes nothing."""
    store = SqlAuditStore()
    if db_engine.dialect.name == "sqlite":
        read_only = make_engine(f"sqlite:///file:{db_engine.url.database}?mode=ro&uri=true")
        try:
            with session_factory(read_only)() as session, pytest.raises(AuditWriteError):
                store.append(session, [view()])
        finally:
            read_only.dispose()
    else:
        with sessions() as session:
            session.execute(text("SET TRANSACTION READ ONLY"))
            with pytest.raises(AuditWriteError):
                store.append(session, [view()])
    with sessions() as session:
        assert store.head(session).seq == 0
        assert session.scalar(select(func.count()).select_from(AuditRecordRow)) == 0


def test_only_entries_can_be_appended(sessions: sessionmaker[Session]) -> None:
    """Anything but an AuditEntry is refused before anything is written."""
    store = SqlAuditStore()
    with sessions() as session, pytest.raises(AuditWriteError):
        store.append(session, [{"event": "case.view"}])  # type: ignore[list-item]


def test_append_recreates_a_missing_head_row(sessions: sessionmaker[Session]) -> None:
    """A schema migrated without the genesis head row still starts the chain at seq 1."""
    store = SqlAuditStore()
    with sessions.begin() as session:
        session.execute(text("DELETE FROM audit_head"))
    with sessions.begin() as session:
        (record,) = store.append(session, [view()])
    assert (record.seq, record.prev_hash) == (1, GENESIS_HASH)
