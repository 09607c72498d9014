"""Verification in stretches side by side on SQLite and PostgreSQL: worker processes read their
stretches on connections of their own, and the answer is the one-pass answer, whatever was
tampered with and wherever the stretches meet."""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, delete, insert, select, update
from sqlalchemy.orm import Session, sessionmaker

from audit import (
    AuditEntry,
    AuditHeadRow,
    AuditRecordRow,
    AuditTreeHashRow,
    Checkpoint,
    Link,
    SqlAuditStore,
    Verification,
    chain_hash,
    create_schema,
    decode,
    generate_signing_key,
    seal,
    seq_ranges,
    sign_checkpoint,
    verify_store,
)
from audit.tlog.merkle import split_stored_hash_index, stored_hash_count
from broker.storage.db import make_engine, session_factory
from tests.audit.forgery import rebuild_tree

N = 37  # records: 8 stretches of 4 or 5 for two workers
WORKERS = 2
KEY = generate_signing_key()
T0 = datetime(2026, 2, 2, 8, 0, tzinfo=UTC)
RECORDS = AuditRecordRow.__table__


def view(i: int) -> AuditEntry:
    return AuditEntry(
        event="case.view",
        action="read",
        outcome="success",
        person_id=f"politie:agent-{i % 3}",
        party="politie",
        role="case_worker",
        purpose="casusoverleg",
        subject=f"psn:s{i % 5}",
        case_id=f"case-{i % 4}",
        fields_disclosed={"surname": "show"},
        fields_withheld=("care_details",),
    )


@dataclass
class Log:
    """A store with N records written, and a way back to them after each tampering."""

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
            session.execute(insert(AuditTreeHashRow), [dict(row) for row in self.tree])
            last = self.rows[-1]
            session.execute(
                update(AuditHeadRow).values(seq=last["seq"], hash=last["hash"], time=last["time"])
            )

    def stretches(self, workers: int = WORKERS) -> list[tuple[int, int]]:
        """Where `segments` cuts 1..N for `workers` processes."""
        return seq_ranges(1, N, workers * self.store.stretches_per_worker)

    def both(
        self, checkpoints: list[Checkpoint] | None = None, workers: int = WORKERS, **kw: Any
    ) -> tuple[Verification, Verification]:
        """verify_store in stretches side by side, and in one pass."""
        with self.sessions() as session:
            parallel = verify_store(
                self.store, session, checkpoints=checkpoints, workers=workers, **kw
            )
        with self.sessions() as session:
            one_pass = verify_store(self.store, session, checkpoints=checkpoints, workers=1, **kw)
        return parallel, one_pass


@pytest.fixture
def log(db_engine: Engine) -> Log:
    create_schema(db_engine)
    sessions = session_factory(db_engine)
    store = SqlAuditStore(clock=lambda: T0)
    with sessions.begin() as session:
        store.append(session, [view(i) for i in range(N)])
    with sessions() as session:
        rows = session.execute(select(RECORDS).order_by(RECORDS.c.seq)).mappings().all()
        tree = session.execute(select(AuditTreeHashRow.__table__)).mappings().all()
    return Log(store, sessions, rows, tree)


def link_at(session: Session, seq: int) -> Link:
    return next(iter(SqlAuditStore().links(session, since_seq=seq, until_seq=seq)))


def set_body(session: Session, seq: int, body: bytes, *, rehash: bool) -> None:
    """Replace a record's stored bytes; with `rehash` also its hash (its link stays)."""
    values: dict[str, Any] = {"body": body}
    if rehash:
        values["hash"] = chain_hash(link_at(session, seq).prev_hash, body)
    session.execute(update(AuditRecordRow).where(AuditRecordRow.seq == seq).values(**values))


def altered_body(session: Session, seq: int) -> bytes:
    """The record's bytes as an intruder would rewrite them: one field changed."""
    return link_at(session, seq).body.replace(b'"outcome":"success"', b'"outcome":"denied"')


def swap(session: Session, i: int, j: int) -> None:
    """Swap the content of rows i and j, each keeping its seq."""
    rows = {
        row["seq"]: dict(row)
        for row in session.execute(select(RECORDS).where(RECORDS.c.seq.in_([i, j]))).mappings()
    }
    session.execute(delete(AuditRecordRow).where(AuditRecordRow.seq.in_([i, j])))
    session.execute(insert(RECORDS), [{**rows[j], "seq": i}, {**rows[i], "seq": j}])


def rewrite_from(session: Session, k: int) -> None:
    """Change record k and recompute the chain after it, head included."""
    links = list(SqlAuditStore().links(session, since_seq=k))
    prev_hash = links[0].prev_hash
    for link in links:
        record = decode(link)
        entry = record.entry
        if link.seq == k:
            entry = dataclasses.replace(entry, outcome="denied")
        forged = seal(
            entry, seq=link.seq, prev_hash=prev_hash, time=record.time, event_id=record.event_id
        )
        session.execute(
            update(AuditRecordRow)
            .where(AuditRecordRow.seq == link.seq)
            .values(outcome=entry.outcome, body=forged.body, hash=forged.hash, prev_hash=prev_hash)
        )
        prev_hash = forged.hash
    session.execute(update(AuditHeadRow).values(seq=links[-1].seq, hash=prev_hash))
    rebuild_tree(session)


def cut_after(session: Session, keep: int, *, tree_too: bool = True) -> None:
    """Delete the records after `keep` (and, `tree_too`, their tree hashes) and point the head
    at `keep`."""
    session.execute(delete(AuditRecordRow).where(AuditRecordRow.seq > keep))
    if tree_too:
        rebuild_tree(session, keep)
    session.execute(update(AuditHeadRow).values(seq=keep, hash=link_at(session, keep).hash))


def test_an_intact_log_is_read_in_stretches_by_worker_processes(log: Log) -> None:
    """Worker processes verify every stretch; joined, they give the one-pass Verification."""
    with log.sessions() as session:
        segments = log.store.segments(
            session, since_seq=None, until_seq=N, marks={N}, workers=WORKERS
        )
    assert segments is not None
    assert sorted((s.low, s.high) for s in segments) == log.stretches()
    assert all(s.is_sound for s in segments)
    assert [h for s in segments for h in s.marked] == [(N, log.rows[-1]["hash"])]
    parallel, one_pass = log.both()
    assert parallel == one_pass
    assert parallel.is_intact and parallel.records_checked == N


@pytest.mark.parametrize(
    ("tampering", "reason"),
    [
        ("rehash the last of a stretch", "broken_link"),
        ("change the first of a stretch", "hash_mismatch"),
        ("delete the first of a stretch", "sequence_gap"),
        ("delete the last of a stretch", "sequence_gap"),
        ("delete a whole stretch", "sequence_gap"),
    ],
)
def test_a_break_where_stretches_meet_is_named_at_its_seq(
    log: Log, tampering: str, reason: str
) -> None:
    """A record changed, rehashed or deleted where two stretches meet is named at its seq."""
    for (_, end), (start, last) in zip(log.stretches(), log.stretches()[1:], strict=False):
        bad = start if "first" in tampering or "whole" in tampering else end
        with log.sessions.begin() as session:
            if tampering.startswith("rehash"):
                set_body(session, end, altered_body(session, end), rehash=True)
            elif tampering.startswith("change"):
                set_body(session, start, altered_body(session, start), rehash=False)
            elif "whole" in tampering:
                session.execute(
                    delete(AuditRecordRow).where(AuditRecordRow.seq.between(start, last))
                )
            else:
                session.execute(delete(AuditRecordRow).where(AuditRecordRow.seq == bad))
        parallel, one_pass = log.both()
        assert parallel == one_pass
        named = "truncated" if "whole" in tampering and last == N else reason  # the end is gone
        assert (parallel.reason, parallel.first_bad_seq) == (named, bad), parallel.description
        log.restore()


def test_truncation_and_a_recomputed_chain_are_caught_by_a_kept_checkpoint(log: Log) -> None:
    """A kept checkpoint catches a cut-off end and a recomputed chain, as in one pass."""
    checkpoint = sign_checkpoint(KEY, N, log.rows[-1]["hash"])
    with log.sessions.begin() as session:
        cut_after(session, 20, tree_too=False)
    parallel, one_pass = log.both()  # the tree hashes left behind tell
    assert parallel == one_pass
    assert (parallel.reason, parallel.first_bad_seq) == ("tree_hash_extra", 21)
    log.restore()
    with log.sessions.begin() as session:
        cut_after(session, 20)
    assert log.both()[0].is_intact  # the database alone cannot tell
    parallel, one_pass = log.both([checkpoint], public_key=KEY.public_key())
    assert parallel == one_pass
    assert (parallel.reason, parallel.first_bad_seq) == ("truncated", 21)
    log.restore()
    with log.sessions.begin() as session:
        rewrite_from(session, 9)
    assert log.both()[0].is_intact
    parallel, one_pass = log.both([checkpoint], public_key=KEY.public_key())
    assert parallel == one_pass
    assert parallel.reason == "checkpoint_mismatch"
    assert parallel.first_bad_seq is not None and parallel.first_bad_seq <= 9


def test_a_changed_column_is_named_by_the_plain_pass_at_the_end_of_a_stretch(log: Log) -> None:
    """A column changed behind the stored bytes, where stretches meet: the plain pass names
    its seq and the column, in stretches as in one pass; so does the deep pass."""
    (_, end), _ = log.stretches()[:2]
    with log.sessions.begin() as session:
        session.execute(
            update(AuditRecordRow).where(AuditRecordRow.seq == end).values(subject="psn:other")
        )
    for deep in (False, True):
        parallel, one_pass = log.both(deep=deep)
        assert parallel == one_pass
        found = (parallel.reason, parallel.first_bad_seq, parallel.column)
        assert found == ("column_mismatch", end, "subject"), parallel.description
        assert parallel.records_checked == end - 1


def test_records_this_session_has_not_committed_are_verified_too(log: Log) -> None:
    """Records the workers cannot see yet send verification to one pass, which sees them."""
    with log.sessions() as session:
        log.store.append(session, [view(i) for i in range(5)])
        result = verify_store(log.store, session, workers=WORKERS)
        session.rollback()
    assert result.is_intact, result.description
    assert result.records_checked == N + 5


def test_a_threaded_process_takes_its_workers_from_a_fork_server(log: Log) -> None:
    """A process running threads (a web server) gets its workers from a fork server."""
    release = threading.Event()
    thread = threading.Thread(target=release.wait)
    thread.start()
    try:
        with log.sessions() as session:
            segments = log.store.segments(
                session, since_seq=None, until_seq=N, marks={N}, workers=WORKERS
            )
    finally:
        release.set()
        thread.join()
    assert segments is not None
    assert sorted((s.low, s.high) for s in segments) == log.stretches()
    assert all(s.is_sound for s in segments)


def test_an_in_memory_database_is_verified_in_one_pass() -> None:
    """Worker processes cannot reach a database held in memory: one pass verifies it."""
    engine = make_engine("sqlite://")
    try:
        create_schema(engine)
        store = SqlAuditStore()
        with Session(engine) as session:
            store.append(session, [view(i) for i in range(9)])
            session.commit()
            segments = store.segments(session, since_seq=None, until_seq=9, marks=(), workers=2)
            result = verify_store(store, session, workers=2)
    finally:
        engine.dispose()
    assert segments is None
    assert result.is_intact and result.records_checked == 9


KINDS = [
    "none",
    "change",
    "rehash",
    "delete",
    "delete_range",
    "swap",
    "truncate",
    "recompute",
    "column",
    "tree",
]


@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(kind=st.sampled_from(KINDS), workers=st.integers(2, 3), data=st.data())
def test_a_tampered_store_verified_in_stretches_gives_the_one_pass_answer(
    log: Log, kind: str, workers: int, data: st.DataObject
) -> None:
    """Any tampering of the stored rows, verified in stretches, gives the one-pass answer."""
    k = data.draw(st.integers(1, N - 1), label="k")
    checkpoints: list[Checkpoint] | None = None
    expected: int | None = None
    log.restore()
    with log.sessions.begin() as session:
        if kind in ("change", "rehash"):
            set_body(session, k, altered_body(session, k), rehash=kind == "rehash")
            expected = k
        elif kind == "delete":
            session.execute(delete(AuditRecordRow).where(AuditRecordRow.seq == k))
            expected = k
        elif kind == "delete_range":
            last = data.draw(st.integers(k, N), label="last")
            session.execute(delete(AuditRecordRow).where(AuditRecordRow.seq.between(k, last)))
            expected = k
        elif kind == "swap":
            swap(session, k, data.draw(st.integers(k + 1, N), label="j"))
            expected = k
        elif kind == "truncate":
            cut_after(session, k)
            checkpoints = [sign_checkpoint(KEY, N, log.rows[-1]["hash"])]
            expected = k + 1
        elif kind == "recompute":
            rewrite_from(session, k)
            checkpoints = [sign_checkpoint(KEY, N, log.rows[-1]["hash"])]
        elif kind == "column":
            session.execute(
                update(AuditRecordRow).where(AuditRecordRow.seq == k).values(party="om")
            )
            expected = k
        elif kind == "tree":
            position = data.draw(st.integers(0, stored_hash_count(N) - 1), label="position")
            level, index = split_stored_hash_index(position)
            session.execute(
                update(AuditTreeHashRow)
                .where(AuditTreeHashRow.idx == position)
                .values(hash=bytes(32))
            )
            expected = (index + 1) << level
    parallel, one_pass = log.both(checkpoints, workers=workers)
    assert parallel == one_pass
    assert parallel.is_intact == (kind == "none")
    if expected is not None:
        assert parallel.first_bad_seq == expected, parallel.description
