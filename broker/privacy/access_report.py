"""The access report of a young person (AVG art. 15, Wpg art. 25): which data is held, from which
party and since when, and every disclosure of the last four years — who, party and role, when,
for which purpose, which fields; names of fields, never their values.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from broker.core.context import Context, audit_and_commit
from broker.core.runtime import Runtime
from broker.identity.subjects import subject_key
from broker.storage.models import Case, FieldValue, Signal, YoungPerson, utcnow

from .audit_log import time_window

__all__ = [
    "DISCLOSURE_EVENTS",
    "access_report",
]


DISCLOSURE_EVENTS = ("case.view", "case.list")


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
        for r in time_window(session, rt, since, utcnow() + dt.timedelta(seconds=1), subject=key)
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
