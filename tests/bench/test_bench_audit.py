"""The audit bench: its chain verifies, its queries find the right records; no timing asserted."""

from __future__ import annotations

import contextlib
import functools
import random
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from audit import SqlAuditStore, create_schema, generate_signing_key, verify_store
from bench import audit as bench
from broker.storage.db import session_factory

TINY = [
    *("--quick", "--records", "2000", "--queries", "20", "--appends", "20", "--batches", "2"),
    *("--workers", "2", "--writer-transactions", "3"),
]


@pytest.fixture(scope="module")
def workload() -> bench.Workload:
    """A small workload: 15 subjects with their BSNs, cases and requesters."""
    return bench.make_workload(15, seed=7)


@pytest.fixture
def chain(workload: bench.Workload, db_engine: Engine, db_url: str, tmp_path: Path) -> bench.Chain:
    """300 records bulk-loaded by the bench's loader for this database, head and checkpoint set."""
    create_schema(db_engine)
    opener: Callable[[], contextlib.AbstractContextManager[bench.Load]]
    if db_engine.dialect.name == "sqlite":
        opener = functools.partial(bench.sqlite_loader, db_url)
    else:
        opener = functools.partial(bench.postgres_loader, db_engine)
    built = bench.build_chain(
        workload,
        300,
        {"db": opener},
        tmp_path / "bodies.bin",
        generate_signing_key(),
        seed=7,
        chunk=120,
    )
    bench.finish_load(db_engine, built)
    return built


def test_quick_run_checks_verification_queries_and_appends(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A tiny quick run finds its chain intact and every query answered with the right records."""
    assert bench.main(TINY) == 0, capsys.readouterr().err
    out = capsys.readouterr().out
    assert "every verification: intact, 2,000 records" in out
    assert "sha256sum's digest equals the digest of the bodies as sealed" in out
    assert "every query returned exactly its subject's records, in seq order" in out
    assert "the appended records verify intact on every backend" in out
    assert "their columns and tree hashes too" in out
    assert "verify_store also compared every stored column of every record" in out
    assert "plain insert of the same rows" in out
    assert "targets (from the issues)" in out


def test_bulk_loaded_rows_read_back_as_the_sealed_records(
    chain: bench.Chain, db_engine: Engine
) -> None:
    """Verification, plain and deep, finds every column what its body says and the stored tree
    the bodies' tree: the bulk load stored exactly what `SqlAuditStore.append` would have."""
    with Session(db_engine) as session:
        result = verify_store(SqlAuditStore(), session, public_key=chain.public_key, deep=True)
        plain = verify_store(SqlAuditStore(), session, public_key=chain.public_key)
    assert result.is_intact, result.description
    assert plain == result
    assert result.records_checked == 300
    assert result.tree_root == chain.tree_root
    assert result.checkpoints_matched == 1
    assert result.head_hash == chain.head.hash


def test_exported_bodies_are_the_stored_bytes(chain: bench.Chain, db_engine: Engine) -> None:
    """The file sha256sum reads holds the stored bodies, in seq order, and nothing else."""
    with Session(db_engine) as session:
        stored = b"".join(link.body for link in SqlAuditStore().links(session))
    assert chain.export.read_bytes() == stored


def test_query_by_bsn_returns_exactly_that_subjects_records(
    chain: bench.Chain, workload: bench.Workload, db_engine: Engine
) -> None:
    """Each subject's query returns all of its records in seq order, and no other subject's."""
    for subject in workload.subjects:
        found = bench.query_by_bsn(session_factory(db_engine), workload.secret, subject.bsn)
        assert [r.seq for r in found] == chain.seqs_by_subject.get(subject.key, [])
        assert {r.entry.subject for r in found} <= {subject.key}
    assert sum(len(seqs) for seqs in chain.seqs_by_subject.values()) == 300


def test_query_limit_returns_the_first_records(
    chain: bench.Chain, workload: bench.Workload, db_engine: Engine
) -> None:
    """With a limit the query returns that subject's first records, which the check accepts."""
    subject = max(workload.subjects, key=lambda s: len(chain.seqs_by_subject.get(s.key, [])))
    expected = chain.seqs_by_subject[subject.key]
    assert len(expected) > 3
    found = bench.query_by_bsn(session_factory(db_engine), workload.secret, subject.bsn, limit=3)
    assert [r.seq for r in found] == expected[:3]
    assert bench.query_problems(subject, found, expected, 3) == []


def test_query_check_catches_a_wrong_answer(
    chain: bench.Chain, workload: bench.Workload, db_engine: Engine
) -> None:
    """Another subject's record, or a missing record, is reported by the bench's check."""
    first, second = sorted(
        workload.subjects, key=lambda s: -len(chain.seqs_by_subject.get(s.key, []))
    )[:2]
    mine = bench.query_by_bsn(session_factory(db_engine), workload.secret, first.bsn)
    theirs = bench.query_by_bsn(session_factory(db_engine), workload.secret, second.bsn)
    expected = chain.seqs_by_subject[first.key]
    mixed = sorted([*mine[1:], theirs[0]], key=lambda r: r.seq)
    problems = bench.query_problems(first, mixed, expected, bench.QUERY_LIMIT)
    assert any("another subject" in p for p in problems)
    assert any("instead of" in p for p in problems)
    assert bench.query_problems(first, mine[:-1], expected, bench.QUERY_LIMIT)


def test_case_view_entries_are_realistic_and_carry_no_bsn(
    chain: bench.Chain, workload: bench.Workload
) -> None:
    """Entries name ~30 fields and a keyed subject; no BSN of any subject is in any body."""
    bodies = chain.export.read_bytes()
    assert all(s.bsn.encode() not in bodies for s in workload.subjects)
    entry = bench.case_view(workload, random.Random(1))
    assert entry.event == "case.view" and entry.action == "read"
    assert entry.subject is not None and entry.subject.startswith("yp-")
    assert len(entry.fields_disclosed) + len(entry.fields_withheld) == 30
    assert entry.purpose in bench.CASE_VIEW_PURPOSES
