"""The privacy officer's work: audit queries, verification, checkpoints, anomalies, access
reports, exports and retention of the audit log."""

from __future__ import annotations

import datetime as dt
import json
from collections import defaultdict
from collections.abc import Iterator
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
    Head,
    Link,
    Verification,
    checkpoint_from_json,
    checkpoint_to_json,
    public_key_to_pem,
    sign_checkpoint,
    verify,
)
from audit.store import verify_store
from broker.core.context import Context, audit_and_commit
from broker.core.problems import Problem
from broker.core.runtime import Runtime
from broker.identity.subjects import subject_key
from broker.storage.models import Case, FieldValue, Signal, YoungPerson, utcnow

__all__ = [
    "access_report",
    "anomalies",
    "checkpoint_dict",
    "checkpoint_now",
    "export_lines",
    "make_checkpoint",
    "purge_audit",
    "query_audit",
    "record_dict",
    "verification_entry",
    "verify_export",
    "verify_log",
]

AMSTERDAM = ZoneInfo("Europe/Amsterdam")
EXPORT_FORMAT = "multiteam-audit-export/v1"
DISCLOSURE_EVENTS = ("case.view", "case.list")
# Refusals worth the privacy officer's attention: on case data, the audit log and logins.
REFUSAL_WATCHED = ("case.", "signal.", "track.", "subject.", "audit.", "api.", "token.", "login")
# Alarms raised as they happened (`alarm.bulk_views`), listed as they were recorded.
ALARM_PREFIX = "alarm."


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
    checkpoints: list[Checkpoint] | None = None,
) -> Verification:
    """Verify the stored chain against its (or the given) checkpoints and our public key."""
    return verify_store(
        rt.audit,
        session,
        checkpoints=checkpoints,
        public_key=rt.checkpoint_key.public_key(),
        deep=deep,
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


def checkpoint_now(session: Session, rt: Runtime, ctx: Context) -> Checkpoint:
    """Sign a checkpoint of the head now, audited and committed (503 when it cannot be
    made)."""
    try:
        made = make_checkpoint(session, rt)
    except SQLAlchemyError:
        session.rollback()
        raise Problem(503, "audit_unavailable", "The checkpoint could not be made.") from None
    entry = ctx.entry("audit.checkpoint", "create", "success", detail={"seq": made.seq})
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
            "records": result.records_checked,
            **detail,
        },
    )


def public_key_pem(rt: Runtime) -> str:
    """The checkpoint verification key, PEM."""
    return public_key_to_pem(rt.checkpoint_key.public_key()).decode()


def _window(
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


def _office_hours(text: str) -> tuple[dt.time, dt.time]:
    start, _, end = text.partition("-")
    return dt.time.fromisoformat(start), dt.time.fromisoformat(end)


def anomalies(
    session: Session,
    rt: Runtime,
    ctx: Context,
    since: dt.datetime,
    until: dt.datetime,
    office_hours: str,
    bulk_limit: int,
) -> dict[str, Any]:
    """What the privacy officer should look at in a period, with the alarms raised in it; the
    look is audited."""
    refused: list[dict[str, Any]] = []
    outside_team: list[dict[str, Any]] = []
    after_hours: list[dict[str, Any]] = []
    alarms: list[dict[str, Any]] = []
    opened: dict[str, list[tuple[dt.datetime, str]]] = defaultdict(list)
    start, end = _office_hours(office_hours)
    for record in _window(session, rt, since, until):
        e = record.entry
        if e.event.startswith(ALARM_PREFIX):
            alarms.append(record_dict(record))
        if e.outcome in ("denied", "not_found", "unauthorized") and (
            e.event.startswith(REFUSAL_WATCHED)
        ):
            refused.append(record_dict(record))
        if e.detail.get("reason") == "not_on_case_team" or e.detail.get("own_data_only"):
            outside_team.append(record_dict(record))
        if e.event == "case.view" and e.outcome == "success":
            local = record.time.astimezone(AMSTERDAM)
            if local.weekday() >= 5 or not start <= local.time() < end:
                after_hours.append(record_dict(record))
            if e.person_id and e.subject:
                opened[e.person_id].append((record.time, e.subject))
    bulk = []
    for person, views in opened.items():
        views.sort()
        left = 0
        for right in range(len(views)):
            while views[right][0] - views[left][0] > dt.timedelta(hours=1):
                left += 1
            distinct = {s for _, s in views[left : right + 1]}
            if len(distinct) > bulk_limit:
                bulk.append(
                    {
                        "person_id": person,
                        "young_people": len(distinct),
                        "from": views[left][0].isoformat(),
                        "until": views[right][0].isoformat(),
                    }
                )
                break
    entry = ctx.entry(
        "audit.anomalies",
        "search",
        "success",
        detail={
            "refused": len(refused),
            "outside_team": len(outside_team),
            "after_hours": len(after_hours),
            "bulk": len(bulk),
            "alarms": len(alarms),
        },
    )
    audit_and_commit(session, rt, [entry])
    return {
        "since": since.isoformat(),
        "until": until.isoformat(),
        "refused": refused,
        "outside_case_team": outside_team,
        "outside_office_hours": after_hours,
        "bulk_views": bulk,
        "alarms": alarms,
        "settings": {
            "office_hours": office_hours + " Europe/Amsterdam, weekdays",
            "bulk_limit_per_hour": bulk_limit,
        },
    }


def access_report(
    session: Session, rt: Runtime, ctx: Context, bsn: str, years: int = 4
) -> dict[str, Any]:
    """For a young person: which data is held and from whom, and every disclosure.

    Names fields and parties, never values: the privacy officer sees no case content; the
    copy of the data itself (AVG art. 15 lid 3) comes from the parties that supplied it.
    """
    key = subject_key(rt.subject_secret, bsn=bsn)
    person = session.scalar(select(YoungPerson).where(YoungPerson.subject_key == key))
    held: list[dict[str, Any]] = []
    cases: list[dict[str, Any]] = []
    if person is not None:
        for case in session.scalars(
            select(Case).where(Case.young_person_id == person.id).order_by(Case.opened_at)
        ):
            cases.append(
                {
                    "case_id": case.id,
                    "track": case.track,
                    "opened_at": case.opened_at.isoformat(),
                    "closed_at": case.closed_at.isoformat() if case.closed_at else None,
                    "history": [
                        {"from": h.from_track, "to": h.to_track, "at": h.decided_at.isoformat()}
                        for h in case.track_changes
                    ],
                    "signals": [
                        {"party": p, "received_at": at.isoformat()}
                        for p, at in session.execute(
                            select(Signal.party, Signal.received_at)
                            .where(Signal.case_id == case.id)
                            .order_by(Signal.received_at)
                        )
                    ],
                }
            )
            # what is held: a value a correction superseded is erased, so it is not listed
            rows = session.execute(
                select(
                    FieldValue.field,
                    FieldValue.party,
                    FieldValue.regime,
                    FieldValue.supplied_at,
                    FieldValue.correction_id,
                )
                .where(FieldValue.case_id == case.id, FieldValue.superseded_at.is_(None))
                .order_by(FieldValue.id)
            )
            for name, party, regime, supplied_at, correction_id in rows:
                field = rt.convenant.fields.get(name)
                held.append(
                    {
                        "case_id": case.id,
                        "field": name,
                        "category": field.category if field else None,
                        "description": field.description if field else None,
                        "party": party,
                        "regime": regime,
                        "supplied_at": supplied_at.isoformat(),
                        "corrected": correction_id is not None,
                    }
                )
    since = utcnow() - dt.timedelta(days=365 * years + years // 4 + 1)
    disclosures = [
        {
            "time": r.time.isoformat(),
            "event": r.entry.event,
            "party": r.entry.party,
            "role": r.entry.role,
            "person": r.entry.person_name or r.entry.person_id,
            "purpose": r.entry.purpose,
            "legal_basis": r.entry.legal_basis,
            "case_id": r.entry.case_id,
            "fields": dict(r.entry.fields_disclosed),
            "outcome": r.entry.outcome,
        }
        for r in _window(session, rt, since, utcnow() + dt.timedelta(seconds=1), subject=key)
        if r.entry.event in DISCLOSURE_EVENTS and r.entry.outcome == "success"
    ]
    entry = ctx.entry(
        "subject.access_report",
        "read",
        "success",
        subject=key,
        legal_basis=rt.convenant.purposes["inzageverzoek"].legal_basis
        if "inzageverzoek" in rt.convenant.purposes
        else None,
        detail={"found": person is not None, "disclosures": len(disclosures)},
    )
    audit_and_commit(session, rt, [entry])
    return {
        "subject": key,
        "known": person is not None,
        "generated_at": utcnow().isoformat(),
        "period_from": since.isoformat(),
        "convenant": {"version": rt.convenant.version, "hash": rt.convenant.hash},
        "cases": cases,
        "data_held": held,
        "disclosures": disclosures,
    }


# ── export and offline verification ─────────────────────────────────────────────────────────


def export_lines(
    session: Session, rt: Runtime, since: dt.datetime | None, until: dt.datetime | None
) -> Iterator[str]:
    """JSON lines: a header, the kept checkpoints, then every record in the period (as stored).

    The range is widened back to the nearest checkpoint so the export verifies on its own.
    """
    checkpoints = rt.audit.checkpoints(session)
    first, last = _seq_bounds(session, since, until)
    header: dict[str, Any] = {
        "type": "header",
        "format": EXPORT_FORMAT,
        "from_seq": None,
        "until_seq": None,
        "until_hash": None,
        "exported_at": utcnow().isoformat(),
        "public_key": public_key_pem(rt),
    }
    if first is None or last is None or last < first:  # nothing in the period
        yield json.dumps(header)
        return
    anchors = [c for c in checkpoints if c.seq < first]
    start = anchors[-1].seq + 1 if anchors else 1
    last_link = next(iter(rt.audit.links(session, since_seq=last, until_seq=last)))
    header.update(from_seq=start, until_seq=last, until_hash=last_link.hash)
    yield json.dumps(header)
    for c in checkpoints:
        if c.seq <= last:
            yield json.dumps({"type": "checkpoint", "checkpoint": checkpoint_dict(c)})
    for link in rt.audit.links(session, since_seq=start, until_seq=last):
        yield json.dumps(
            {
                "type": "record",
                "seq": link.seq,
                "prev_hash": link.prev_hash,
                "hash": link.hash,
                "body": link.body.decode("utf-8"),
            },
            ensure_ascii=False,
        )


def _seq_bounds(
    session: Session, since: dt.datetime | None, until: dt.datetime | None
) -> tuple[int | None, int | None]:
    """The first seq at or after `since` and the last before `until` (None when there is none)."""
    seq, time = AuditRecordRow.seq, AuditRecordRow.time
    first = session.scalar(select(func.min(seq)).where(*([time >= since] if since else [])))
    last = session.scalar(select(func.max(seq)).where(*([time < until] if until else [])))
    return first, last


def verify_export(lines: Iterator[str], public_key: Any) -> Verification:
    """Verify an export offline: its records against its checkpoints, the key, and the range
    its header promises (so records cut off the end are found too)."""
    checkpoints: list[Checkpoint] = []
    links: list[Link] = []
    header: dict[str, Any] | None = None
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        item = json.loads(line)
        kind = item.get("type")
        if kind == "header" and header is None and number == 1:
            if item.get("format") != EXPORT_FORMAT:
                raise ValueError(f"line 1: not a {EXPORT_FORMAT} export")
            header = item
        elif kind == "checkpoint":
            checkpoints.append(checkpoint_from_json(json.dumps(item["checkpoint"])))
        elif kind == "record":
            body = item["body"].encode("utf-8")
            links.append(Link(item["seq"], item["prev_hash"], item["hash"], body))
        else:
            raise ValueError(f"line {number}: unexpected line type {kind!r}")
    if header is None:
        raise ValueError("line 1: the export has no header")
    until, until_hash = header.get("until_seq"), header.get("until_hash")
    if until is None:
        return verify(links, [], public_key)
    usable = [c for c in checkpoints if c.seq <= until]
    return verify(links, usable, public_key, head=Head(until, until_hash))


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
