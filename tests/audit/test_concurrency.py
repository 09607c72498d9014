"""Many writers, one chain and one tree: 2 processes x 8 threads appending on SQLite and
PostgreSQL; and every acknowledged append survives kill -9 of its writer, tree hashes too.

AUDIT_CONCURRENCY_RECORDS sets the total (default 2,000; the acceptance run uses 10,000).
"""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
from pathlib import Path

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from audit import AuditTreeHashRow, SqlAuditStore, create_schema, leaf_hash, verify_store
from audit.tlog.merkle import merkle_tree_hash, stored_hash_count, tree_hash
from broker.storage.db import session_factory

ROOT = Path(__file__).resolve().parents[2]
WORKER = "tests.audit._append_worker"
PROCESSES = 2
THREADS = 8
TOTAL = int(os.environ.get("AUDIT_CONCURRENCY_RECORDS", "2000"))


def test_concurrent_appends_form_one_chain(db_url: str, db_engine: Engine) -> None:
    """Every append gets its own contiguous seqs; the result is one chain, no fork, no gap."""
    create_schema(db_engine)
    per_thread = math.ceil(TOTAL / (PROCESSES * THREADS))
    command = [sys.executable, "-m", WORKER, "threads", db_url, str(THREADS)]
    workers = [
        subprocess.Popen(
            [*command, str(per_thread), str(worker)],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for worker in range(PROCESSES)
    ]
    reports = []
    for worker in workers:
        out, err = worker.communicate(timeout=600)
        assert worker.returncode == 0, err
        reports.append(json.loads(out))
    errors = [e for r in reports for e in r["errors"]]
    assert errors == []
    batches = [b for r in reports for b in r["batches"]]
    seqs = sorted(s for b in batches for s in b)
    expected = PROCESSES * THREADS * per_thread
    assert seqs == list(range(1, expected + 1))  # no seq given twice, none skipped
    assert all(b == list(range(b[0], b[0] + len(b))) for b in batches)  # batches stay together
    with session_factory(db_engine)() as session:
        store = SqlAuditStore()
        result = verify_store(store, session, deep=True)
        assert store.head(session).seq == expected
        assert_one_tree(store, session, expected, result.tree_root)
    assert result.is_intact, result.description
    assert result.records_checked == expected


def assert_one_tree(store: SqlAuditStore, session: Session, size: int, root: str | None) -> None:
    """The stored tree is the tree of the stored bodies: its root from the stored hashes is
    the root recomputed from the bodies (and the one verification reported), and it holds
    exactly tlog's count of hashes."""
    leaves = [leaf_hash(link.body) for link in store.links(session)]
    assert len(leaves) == size
    from_bodies = merkle_tree_hash(leaves)
    assert tree_hash(size, store.hash_reader(session)) == from_bodies
    assert root == from_bodies.hex()
    count = session.scalar(select(func.count()).select_from(AuditTreeHashRow))
    assert count == stored_hash_count(size)


def test_acknowledged_appends_survive_kill_9(db_url: str, db_engine: Engine) -> None:
    """A writer killed with SIGKILL mid-stream leaves every acknowledged record, chain intact."""
    create_schema(db_engine)
    writer = subprocess.Popen(
        [sys.executable, "-m", WORKER, "stream", db_url],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    acknowledged = 0
    try:
        assert writer.stdout is not None
        for line in writer.stdout:
            acknowledged = int(line)
            if acknowledged >= 200:
                break
    finally:
        writer.send_signal(signal.SIGKILL)
        _, err = writer.communicate(timeout=60)
    assert acknowledged >= 200, err
    with session_factory(db_engine)() as session:
        store = SqlAuditStore()
        head = store.head(session)
        result = verify_store(store, session, deep=True)
        assert_one_tree(store, session, head.seq, result.tree_root)
    assert result.is_intact, result.description
    assert head.seq >= acknowledged
    assert result.records_checked == head.seq
