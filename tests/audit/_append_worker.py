"""Worker processes for the concurrency and durability tests.

`python -m tests.audit._append_worker threads URL THREADS RECORDS_PER_THREAD WORKER_ID`
    appends from several threads; prints one JSON line: each transaction's seqs, and errors.
`python -m tests.audit._append_worker stream URL`
    appends one record per transaction until killed, printing each seq once it is committed.
"""

from __future__ import annotations

import json
import sys
import threading

from audit import AuditEntry, SqlAuditStore
from broker.storage.db import make_engine, session_factory


def run(url: str, threads: int, per_thread: int, worker: int) -> dict[str, list[object]]:
    """Append `per_thread` records from each of `threads` threads, in batches of 1 to 3."""
    engine = make_engine(url)
    sessions = session_factory(engine)
    store = SqlAuditStore()
    batches: list[object] = []
    errors: list[object] = []
    start = threading.Barrier(threads)

    def work(thread: int) -> None:
        start.wait()
        done = 0
        i = 0
        while done < per_thread:
            size = min(1 + i % 3, per_thread - done)
            entries = [
                AuditEntry(
                    event="case.view",
                    action="read",
                    outcome="success",
                    person_id=f"worker-{worker}.thread-{thread}",
                    subject=f"psn:w{worker}t{thread}",
                    detail={"batch": i, "item": j},
                )
                for j in range(size)
            ]
            try:
                with sessions.begin() as session:
                    records = store.append(session, entries)
                batches.append([r.seq for r in records])
            except Exception as exc:  # reported to the test, which fails on any
                errors.append(f"{type(exc).__name__}: {exc}")
            done += size
            i += 1

    workers = [threading.Thread(target=work, args=(t,)) for t in range(threads)]
    for thread in workers:
        thread.start()
    for thread in workers:
        thread.join()
    engine.dispose()
    return {"batches": batches, "errors": errors}


def stream(url: str) -> None:
    """Append one record per transaction forever; print each seq after its commit."""
    sessions = session_factory(make_engine(url))
    store = SqlAuditStore()
    entry = AuditEntry(event="case.view", action="read", outcome="success", subject="psn:k")
    while True:
        with sessions.begin() as session:
            (record,) = store.append(session, [entry])
        print(record.seq, flush=True)


if __name__ == "__main__":
    if sys.argv[1] == "stream":
        stream(sys.argv[2])
    else:
        url, threads, per_thread, worker = sys.argv[2], *map(int, sys.argv[3:6])
        print(json.dumps(run(url, threads, per_thread, worker)))
