"""The witness at work: answer an add-checkpoint body and persist what it cosigns.

The decision is the pure one of `audit.tlog` (c2sp.org/tlog-witness, in the spec's order of
checks); this module reads the state it decides on, and commits a 200 only through the state's
compare-and-swap: when another request moved the origin's latest tree in between, the
cosignature made is dropped and the answer is 409 `text/x.tlog.size` with the size stored now,
so the witness is never rolled back. A refusal that carries the log's valid signature (422, and
409 for another root at an equal size) is kept as evidence, as the spec allows.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from audit.tlog import (
    SIZE_CONTENT_TYPE,
    TEXT_CONTENT_TYPE,
    MalformedRequestError,
    TreeState,
    Verifier,
    WitnessAnswer,
    decide_add_checkpoint,
    parse_add_checkpoint,
)

from .state import StateDir, WitnessStateError

__all__ = ["EVIDENCE_CODES", "Pending", "Witness", "posix_now"]

EVIDENCE_CODES = frozenset({"inconsistent", "root_mismatch"})
"""The refusals worth keeping: the log signed a tree that does not extend what was cosigned."""


@dataclass(frozen=True, slots=True)
class Pending:
    """A decided answer not yet committed: the body, the answer, and the state it was read from."""

    body: bytes
    answer: WitnessAnswer
    seen: TreeState | None = None
    checkpoint: str | None = None
    timestamp: int = 0


def posix_now() -> int:
    """The POSIX time now, in whole seconds (a cosignature's timestamp)."""
    return int(time.time())


class Witness:
    """One witness over its state directory; `clock` gives the cosignatures' POSIX time."""

    def __init__(self, store: StateDir, clock: Callable[[], int] = posix_now) -> None:
        self.store = store
        self.signer = store.signer()
        self.clock = clock

    def decide(self, body: bytes) -> Pending:
        """Read the state and decide the answer to `body`, without persisting anything."""
        try:
            request = parse_add_checkpoint(body)
        except MalformedRequestError as error:
            refusal = f"{error.description}\n".encode()
            answer = WitnessAnswer(400, error.code, error.description, TEXT_CONTENT_TYPE, refusal)
            return Pending(body, answer)
        log = self.store.read().log(request.origin)
        keys: Sequence[Verifier] = [] if log is None else log.verifiers
        seen = None if log is None else log.latest
        timestamp = self.clock()
        answer = decide_add_checkpoint(
            request, log_keys=keys, latest=seen, cosigners=[self.signer], timestamp=timestamp
        )
        return Pending(body, answer, seen, request.checkpoint.decode(), timestamp)

    def commit(self, pending: Pending) -> WitnessAnswer:
        """Persist a cosigned answer by compare-and-swap, or keep a refusal's evidence."""
        answer = pending.answer
        if not answer.is_ok:
            if answer.code in EVIDENCE_CODES:
                self.store.keep_evidence(pending.body, answer.status, answer.code, self.clock())
            return answer
        if answer.origin is None or answer.new_state is None or pending.checkpoint is None:
            raise WitnessStateError("a cosigned answer without its origin and tree")
        stored = self.store.swap_latest(
            answer.origin, pending.seen, answer.new_state, pending.checkpoint, pending.timestamp
        )
        if stored is None:
            return answer
        description = f"the latest cosigned size is now {stored.size} (another request was first)"
        return WitnessAnswer(
            409,
            "old_size_mismatch",
            description,
            SIZE_CONTENT_TYPE,
            f"{stored.size}\n".encode(),
            answer.origin,
            answer.checkpoint,
            stored.size,
        )

    def add_checkpoint(self, body: bytes) -> WitnessAnswer:
        """Decide and commit: the answer to one add-checkpoint request."""
        return self.commit(self.decide(body))
