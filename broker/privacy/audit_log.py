"""The audit log as the privacy officer reads it: records as dicts, queries with filters,
verification from the database, signed checkpoints (periodic and on demand) and the purge of
records past their retention, anchored by a checkpoint.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator, Sequence
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from audit import (
    AuditEntry,
    AuditQuery,
    AuditRecord,
    AuditRecordRow,
    Checkpoint,
    StoredLogCheckpoint,
    Verification,
    checkpoint_to_json,
    make_log_checkpoint,
    public_key_to_pem,
    sign_checkpoint,
    unreadable,
    verify_store,
)
from broker.core.context import Context, audit_and_commit
from broker.core.problems import Problem
from broker.core.runtime import Runtime
from broker.identity.log_key import LogKeyError

__all__ = [
    "checkpoint_dict",
    "checkpoint_now",
    "make_checkpoint",
    "make_log_checkpoint_now",
    "purge_audit",
    "query_audit",
    "record_dict",
    "verification_entry",
    "verification_problem",
    "verify_log",
]


AMSTERDAM = ZoneInfo("Europe/Amsterdam")


def record_dict(record: AuditRecord) -> dict[str, Any]:
    """An audit record as JSON: names, effects and ids, never values."""
    e = record.entry
    return {
        "seq": record.seq,
        "event_id": record.event_id,
        "time": record.time.isoformat(),
        "event": e.event,
        "action": e.action,
        "outcome": e.outcome,
        "person_id": e.person_id,
        "person_name": e.person_name,
        "on_behalf_of": e.on_behalf_of,
        "role": e.role,
        "party": e.party,
        "client_id": e.client_id,
        "purpose": e.purpose,
        "legal_basis": e.legal_basis,
        "subject": e.subject,
        "case_id": e.case_id,
        "fields_disclosed": dict(e.fields_disclosed),
        "fields_withheld": list(e.fields_withheld),
        "convenant_hash": e.convenant_hash,
        "request_id": e.request_id,
        "source_address": e.source_address,
        "detail": dict(e.detail),
        "hash": record.hash,
    }


def query_audit(
    session: Session, rt: Runtime, ctx: Context, query: AuditQuery, bsn_given: bool
) -> dict[str, Any]:
    """A page of audit records for the filters; the query itself is audited."""
    records = rt.audit.query(session, query)
    entry = ctx.entry(
        "audit.query",
        "search",
        "success",
        subject=query.subject,
        legal_basis=rt.convenant.purposes[ctx.purpose].legal_basis if ctx.purpose else None,
        detail={
            "by_bsn": bsn_given,
            "results": len(records),
            "after_seq": query.after_seq,
            "party": query.party,
            "person": query.person_id,
            "event": query.event,
            "outcome": query.outcome,
            "action": query.action,
            "filter_purpose": query.purpose,
        },
    )
    audit_and_commit(session, rt, [entry])
    return {
        "items": [record_dict(r) for r in records],
        "next_after_seq": records[-1].seq if len(records) == query.limit else None,
    }


def verify_log(
    session: Session,
    rt: Runtime,
    *,
    deep: bool = False,
    outside: Sequence[Checkpoint] = (),
) -> Verification:
    """Verify the stored log whole (every column, the chain, the tree, purged records, what
    lies past the head) against its kept checkpoints, those kept `outside` the broker, and
    our public key. Never raises: a log that cannot be read is a finding."""
    public_key = rt.checkpoint_key.public_key()
    checkpoints = None
    if outside:
        try:
            checkpoints = [*rt.audit.checkpoints(session), *outside]
        except SQLAlchemyError as exc:
            session.rollback()
            return unreadable(exc, signatures_checked=True)
    return verify_store(
        rt.audit, session, checkpoints=checkpoints, public_key=public_key, deep=deep
    )


def verification_problem(result: Verification) -> Problem:
    """The 503 when a verification's own audit record cannot be written: the log cannot be
    appended to; what the verification found comes with it (no record's content)."""
    return Problem(
        503,
        "audit_unavailable",
        "The audit log could not be written, so this verification is not recorded. What it "
        "found is included: a log that cannot be appended to is usually a broken one.",
        verification=result.as_dict(),
        audit={"skip": True},
    )


def make_checkpoint(session: Session, rt: Runtime) -> Checkpoint:
    """Sign the current head and keep the checkpoint (the caller commits)."""
    head = rt.audit.head(session)
    kept = rt.audit.checkpoints(session)
    if kept and kept[-1].seq == head.seq:
        return kept[-1]
    checkpoint = sign_checkpoint(rt.checkpoint_key, head.seq, head.hash)
    rt.audit.add_checkpoint(session, checkpoint)
    return checkpoint


def make_log_checkpoint_now(session: Session, rt: Runtime) -> StoredLogCheckpoint:
    """Sign a C2SP checkpoint of the tree at the head now, with the log key, and keep it (the
    caller commits); the newest one when it already names this size. LogKeyError when the
    log key is not the origin's."""
    signer = rt.log_key.signer()
    return make_log_checkpoint(session, rt.audit, signer, dt.datetime.now(dt.UTC))


def checkpoint_now(session: Session, rt: Runtime, ctx: Context) -> Checkpoint:
    """Sign a checkpoint of the head now, and a C2SP one of the tree, audited and committed
    (503 when they cannot be made)."""
    try:
        made = make_checkpoint(session, rt)
        log = make_log_checkpoint_now(session, rt)
    except (SQLAlchemyError, LogKeyError):
        session.rollback()
        raise Problem(503, "audit_unavailable", "The checkpoint could not be made.") from None
    detail = {"seq": made.seq, "log_size": log.size}
    entry = ctx.entry("audit.checkpoint", "create", "success", detail=detail)
    audit_and_commit(session, rt, [entry])
    return made


def checkpoint_dict(checkpoint: Checkpoint) -> dict[str, Any]:
    """A checkpoint as the JSON object it is kept and exported as."""
    found: dict[str, Any] = json.loads(checkpoint_to_json(checkpoint))
    return found


def verification_entry(ctx: Context, result: Verification, **detail: Any) -> AuditEntry:
    """The audit entry of a verification of the chain: what it found (never a record)."""
    return ctx.entry(
        "audit.verify",
        "execute",
        "success",
        detail={
            "intact": result.is_intact,
            "first_bad_seq": result.first_bad_seq,
            "reason": result.reason,
            "column": result.column,
            "records": result.records_checked,
            "tree_hashes": result.tree_hashes_checked,
            "purged": result.purged,
            **detail,
        },
    )


def public_key_pem(rt: Runtime) -> str:
    """The checkpoint verification key, PEM."""
    return public_key_to_pem(rt.checkpoint_key.public_key()).decode()


# ── export and offline verification ─────────────────────────────────────────────────────────


# ── retention ───────────────────────────────────────────────────────────────────────────────


def purge_audit(
    session: Session, rt: Runtime, ctx: Context, now: dt.datetime, dry_run: bool
) -> dict[str, Any]:
    """Delete audit records past retention, anchored by a signed checkpoint; audited."""
    years = rt.convenant.retention.audit_record_years
    cutoff = now - dt.timedelta(days=365 * years + years // 4 + 1)
    seq = AuditRecordRow.seq
    last_due, first = session.execute(
        select(func.max(seq), func.min(seq)).where(AuditRecordRow.time < cutoff)
    ).one()
    if last_due is None:
        session.rollback()
        return {"cutoff": cutoff.isoformat(), "records": 0, "through_seq": None, "dry_run": dry_run}
    count = last_due - first + 1
    if dry_run:
        session.rollback()
        return {
            "cutoff": cutoff.isoformat(),
            "records": count,
            "through_seq": last_due,
            "dry_run": True,
        }
    at = next(iter(rt.audit.links(session, since_seq=last_due, until_seq=last_due)))
    kept = {c.seq for c in rt.audit.checkpoints(session)}
    if last_due not in kept:
        rt.audit.add_checkpoint(session, sign_checkpoint(rt.checkpoint_key, at.seq, at.hash))
    deleted = rt.audit.purge_through(session, last_due)
    entry = ctx.entry(
        "retention.purge",
        "delete",
        "success",
        detail={
            "audit_records": deleted,
            "through_seq": last_due,
            "cutoff": cutoff.date().isoformat(),
        },
    )
    audit_and_commit(session, rt, [entry])
    return {
        "cutoff": cutoff.isoformat(),
        "records": deleted,
        "through_seq": last_due,
        "dry_run": False,
    }


def time_window(
    session: Session, rt: Runtime, since: dt.datetime, until: dt.datetime, **filters: Any
) -> Iterator[AuditRecord]:
    after = 0
    while True:
        page = rt.audit.query(
            session, AuditQuery(since=since, until=until, after_seq=after, limit=1000, **filters)
        )
        yield from page
        if len(page) < 1000:
            return
        after = page[-1].seq
