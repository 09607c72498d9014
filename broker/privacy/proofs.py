"""The log as a transparency log's clients read it: the newest C2SP checkpoint (with the
witnesses' cosignatures, once there are witnesses), inclusion proofs of records and
consistency proofs between tree sizes (RFC 9162 §2.1.3, §2.1.4), each read audited.

Who may read what is decided by the caller (`broker.api.proofs`): the privacy officer any
record; a person or partner system of a party the checkpoint, the consistency proofs and the
inclusion proofs of its own party's records (`party`), any other seq being "not found".
"""

from __future__ import annotations

import base64
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from audit import AuditRecordRow, StoredLogCheckpoint, latest_log_checkpoint
from audit.tlog import HashReaderError, consistency_proof, inclusion_proof
from broker.core.context import Context, audit_and_commit
from broker.core.problems import Problem
from broker.core.runtime import Runtime

__all__ = ["consistency", "gather_cosignatures", "inclusion", "newest_checkpoint", "served_note"]


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def newest_checkpoint(session: Session) -> StoredLogCheckpoint:
    """The newest signed C2SP checkpoint; 404 when none was made yet."""
    newest = latest_log_checkpoint(session)
    if newest is None:
        raise Problem(
            404,
            "no_checkpoint",
            "The log has no signed checkpoint yet: one is made with the first records, or by "
            "`broker audit checkpoint`.",
        )
    return newest


def gather_cosignatures(session: Session, checkpoint: StoredLogCheckpoint) -> str:
    """The checkpoint's note with every cosignature gathered for it added.

    The hook for the witnesses (issue 13, part 4): none are gathered yet, so the note is
    served as the log signed it. Once witnesses cosign, their signature lines (c2sp.org/
    tlog-cosignature) are added here, after the log's own.
    """
    del session
    return checkpoint.note


def served_note(session: Session, rt: Runtime, ctx: Context) -> str:
    """The newest checkpoint with its cosignatures, the read audited."""
    newest = newest_checkpoint(session)
    note = gather_cosignatures(session, newest)
    detail = {"size": newest.size, "key_id": f"{newest.key_id:08x}"}
    entry = ctx.entry("audit.log_checkpoint", "read", "success", detail=detail)
    audit_and_commit(session, rt, [entry])
    return note


def _tree_problem() -> Problem:
    return Problem(
        503,
        "audit_tree_incomplete",
        "The stored tree lacks a hash this proof needs: run `broker audit verify`.",
    )


def inclusion(
    session: Session, rt: Runtime, ctx: Context, seq: int, size: int, party: str | None
) -> dict[str, Any]:
    """The inclusion proof of record `seq` in the tree of `size` leaves (the caller checked
    seq ≤ size ≤ the newest checkpoint's size), with the record's canonical bytes as the
    leaf; 404 when there is no such record, or it is not of `party` (when given)."""
    row = session.execute(
        select(AuditRecordRow.body, AuditRecordRow.party).where(AuditRecordRow.seq == seq)
    ).first()
    if row is None or (party is not None and row.party != party):
        raise Problem(
            404,
            "record_not_found",
            f"There is no record {seq} you may see (a purged record, one of another party's"
            " accesses, or none).",
        )
    try:
        proof = inclusion_proof(seq - 1, size, rt.audit.hash_reader(session))
    except HashReaderError:
        session.rollback()
        raise _tree_problem() from None
    entry = ctx.entry(
        "audit.inclusion_proof", "read", "success", detail={"seq": seq, "tree_size": size}
    )
    audit_and_commit(session, rt, [entry])
    return {
        "seq": seq,
        "tree_size": size,
        "leaf": _b64(bytes(row.body)),
        "proof": [_b64(h) for h in proof],
    }


def consistency(session: Session, rt: Runtime, ctx: Context, old: int, new: int) -> dict[str, Any]:
    """The consistency proof from the tree of `old` leaves to that of `new` (the caller
    checked old ≤ new ≤ the newest checkpoint's size); empty when old is 0 or new."""
    try:
        proof = consistency_proof(old, new, rt.audit.hash_reader(session))
    except HashReaderError:
        session.rollback()
        raise _tree_problem() from None
    entry = ctx.entry(
        "audit.consistency_proof", "read", "success", detail={"old_size": old, "new_size": new}
    )
    audit_and_commit(session, rt, [entry])
    return {"old_size": old, "new_size": new, "proof": [_b64(h) for h in proof]}
