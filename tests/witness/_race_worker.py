"""A process that races another over one witness state (run by multiprocessing, spawned).

Each round: wait for the other process, read the size stored now, decide the add-checkpoint
from that size to size + 1 + `index` (so the two ask for different trees), wait again so that
both have decided on the same stored size, then commit; report (round, index, old size,
status, body) on `results`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from audit.tlog import MemoryHashStore, parse_signer_key
from tests.witness.support import ORIGIN, FakeLog, record
from witness import StateDir, Witness


def race(
    state_dir: str, log_skey: str, index: int, rounds: int, barrier: Any, results: Any
) -> None:
    """Run `rounds` rounds of decide, wait, commit against the witness in `state_dir`."""
    store = StateDir(Path(state_dir))
    witness = Witness(store)
    log = FakeLog(0, parse_signer_key(log_skey))
    log.store = MemoryHashStore(record(seq) for seq in range(1, 2 * rounds + 3))
    for round_ in range(rounds):
        barrier.wait()
        trusted = store.read().log(ORIGIN)
        old = 0 if trusted is None or trusted.latest is None else trusted.latest.size
        pending = witness.decide(log.request(old, old + 1 + index))
        barrier.wait()
        answer = witness.commit(pending)
        results.put((round_, index, old, answer.status, answer.body))
