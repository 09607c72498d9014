"""The attack the witness exists for: whoever holds the log's key rewrites a record, recomputes
every hash and signs the new tree — a witness that cosigned an earlier tree refuses it.

Over HTTP for the issue's example (record 10 of 20, then 5 more records), and as properties
over the witness's core (`Witness`, the same code the service runs) for any size, any rewritten
record, and any sequence of honest, stale and rewritten submissions.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from audit.tlog import (
    SIZE_CONTENT_TYPE,
    TreeState,
    open_cosignatures,
    parse_cosignature_key,
)
from tests.witness.strategies import MAX_SIZE, attacks, submissions
from tests.witness.support import ORIGIN, WITNESS_NAME, FakeLog, post
from witness import StateDir, Witness


def _latest(store: StateDir) -> TreeState | None:
    trusted = store.read().log(ORIGIN)
    assert trusted is not None
    return trusted.latest


def test_a_rewritten_log_is_refused_over_http(
    witness_url: str, witness_dir: StateDir, log: FakeLog
) -> None:
    """Cosigned at 20; record 10 rewritten, 5 records added, all recomputed and signed with the
    log's key: 422 at size 25 and 409 at size 20 — the honest log at 25 is still cosigned."""
    assert post(witness_url, log.request(0, 20)).status == 200
    forged = log.rewritten(10, extra=5)
    longer = post(witness_url, forged.request(20, 25))
    assert longer.status == 422, longer.body
    assert "does not verify" in longer.body.decode()
    same = post(witness_url, forged.request(20, 20))
    assert same.status == 409 and same.content_type != SIZE_CONTENT_TYPE
    assert _latest(witness_dir) == TreeState(20, log.store.root(20))
    kept = sorted(path.name for path in witness_dir.evidence_dir.iterdir())
    assert [name.split("-", 1)[1][:16] for name in kept] == ["409-root_mismatc", "422-inconsistent"]
    log.grow(5)
    assert post(witness_url, log.request(20, 25)).status == 200


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(attacks)
def test_any_rewrite_of_a_cosigned_record_is_refused(attack: tuple[int, int, int]) -> None:
    """For any cosigned size n, any record among the first n rewritten, and k records added:
    the rewritten tree is refused (422, or 409 at the same size) and the witness keeps n; a
    record rewritten past n is not the witness's to judge, and is cosigned."""
    n, k, which = attack
    seq = 1 + (which - 1) % n
    log = FakeLog(n)
    with tempfile.TemporaryDirectory() as directory:
        store, _ = StateDir.create(Path(directory) / "w", WITNESS_NAME)
        store.trust(log.vkey)
        witness = Witness(store)
        assert witness.add_checkpoint(log.request(0)).status == 200
        forged = log.rewritten(seq, extra=k)
        answer = witness.add_checkpoint(forged.request(n))
        assert (answer.status, answer.code) == (
            (409, "root_mismatch") if k == 0 else (422, "inconsistent")
        )
        assert _latest(store) == TreeState(n, log.store.root())
        if k:
            honest = FakeLog(n + k, log.key)
            past = honest.rewritten(n + k)  # the last record, never cosigned, rewritten
            assert witness.add_checkpoint(past.request(n)).status == 200


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_the_witness_only_ever_moves_forward(data: st.DataObject) -> None:
    """Any sequence of submissions: each answer is the one the spec gives for the state
    before it, every 200 carries a valid cosignature, and the stored tree only grows and is
    always the honest log's tree at its size."""
    log = FakeLog(MAX_SIZE)
    with tempfile.TemporaryDirectory() as directory:
        store, signer = StateDir.create(Path(directory) / "w", WITNESS_NAME)
        store.trust(log.vkey)
        witness = Witness(store)
        witness_key = parse_cosignature_key(signer.verifier.vkey)
        stored = 0
        for _ in range(data.draw(st.integers(min_value=1, max_value=12))):
            sub = data.draw(submissions(stored))
            sender = log if sub.rewrite is None else log.rewritten(sub.rewrite)
            proof_old = min(sub.old, sub.size)
            body = sender.request(proof_old, sub.size).replace(
                f"old {proof_old}\n".encode(), f"old {sub.old}\n".encode(), 1
            )
            answer = witness.add_checkpoint(body)
            if sub.old > sub.size:
                expected = 400
            elif sub.old != stored:
                expected = 409
                assert answer.body == f"{stored}\n".encode()
            elif sub.rewrite is not None:
                expected = 409 if sub.size == stored else 422
            else:
                expected = 200
            assert answer.status == expected, (sub, stored, answer.description)
            event(f"answer {answer.status} {answer.code}")
            if expected == 200:
                checkpoint = sender.checkpoint(sub.size)
                assert open_cosignatures(checkpoint, answer.body, [witness_key])
                stored = sub.size
            latest = _latest(store)
            if latest is not None or stored:  # None until the first 200 (even one at size 0)
                assert latest == TreeState(stored, log.store.root(stored))
