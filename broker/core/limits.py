"""Limits counted from the audit log: the case-view rate per person, the bulk-view alarm, and
failed logins. The log is shared by every broker process, so the limits hold across them.

Each count reads a recent slice of the log: from the first record at or after the window's
start (by the time index; time never decreases along seq), then by person and seq.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import ColumnElement, bindparam, func, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from audit import AuditEntry, AuditRecordRow

from .problems import Problem

if TYPE_CHECKING:
    from .context import Context

__all__ = [
    "BULK_WINDOW",
    "RATE_WINDOW",
    "ViewLimits",
    "bulk_view_alarm",
    "check_view_rate",
    "count_records",
]

RATE_WINDOW = dt.timedelta(minutes=1)
BULK_WINDOW = dt.timedelta(hours=1)
ALARM_EVENT = "alarm.bulk_views"


# The statements of every case view, built once (building one cost more than running it)
_VIEWS_SINCE = (
    select(func.count())
    .select_from(AuditRecordRow)
    .where(
        AuditRecordRow.person_id == bindparam("person_id"),
        AuditRecordRow.event == "case.view",
        AuditRecordRow.outcome == "success",
        AuditRecordRow.time >= bindparam("since"),
    )
)
_SEEN_SINCE = (
    select(AuditRecordRow.seq)
    .where(
        AuditRecordRow.subject == bindparam("subject"),
        AuditRecordRow.person_id == bindparam("person_id"),
        AuditRecordRow.event == "case.view",
        AuditRecordRow.outcome == "success",
        AuditRecordRow.time >= bindparam("since"),
    )
    .limit(1)
)


@dataclass(frozen=True)
class ViewLimits:
    """How many case views one person may have per minute, and how many distinct young
    people per hour before the privacy officer is alarmed."""

    per_minute: int
    bulk_per_hour: int


@contextmanager
def _reading(session: Session) -> Iterator[None]:
    """A limit that cannot be counted fails closed: 503, as when the log cannot be written."""
    try:
        yield
    except SQLAlchemyError:
        session.rollback()
        raise Problem(
            503,
            "audit_unavailable",
            "The audit log could not be read, so nothing was done and no data was sent. "
            "Try again later.",
            audit={"skip": True},
        ) from None


def _recent(session: Session, person_id: str, since: dt.datetime) -> list[ColumnElement[bool]]:
    """The WHERE clauses of a person's records at or after `since`."""
    first = session.scalar(select(func.min(AuditRecordRow.seq)).where(AuditRecordRow.time >= since))
    return [
        AuditRecordRow.person_id == person_id,
        AuditRecordRow.seq >= (first if first is not None else 1 << 62),
        AuditRecordRow.time >= since,
    ]


def count_records(
    session: Session, *, person_id: str, event: str, outcome: str, since: dt.datetime
) -> int:
    """How many records of `event` with `outcome` the person has at or after `since`."""
    with _reading(session):
        where = _recent(session, person_id, since)
        return (
            session.scalar(
                select(func.count())
                .select_from(AuditRecordRow)
                .where(*where, AuditRecordRow.event == event, AuditRecordRow.outcome == outcome)
            )
            or 0
        )


def check_view_rate(session: Session, person_id: str, per_minute: int, now: dt.datetime) -> None:
    """429 Problem (with Retry-After) when the person already had `per_minute` successful case
    views in the last minute. Refusals do not count: only views that disclosed something."""
    since = now - RATE_WINDOW
    with _reading(session):
        # A range of the (person, event, outcome, time) index: no wide rows are read.
        count = (
            session.connection()
            .execute(_VIEWS_SINCE, {"person_id": person_id, "since": since})
            .scalar()
        )
        if (count or 0) < per_minute:
            return
        views = (
            AuditRecordRow.person_id == person_id,
            AuditRecordRow.event == "case.view",
            AuditRecordRow.outcome == "success",
            AuditRecordRow.time >= since,
        )
        oldest_kept = session.scalar(  # the per_minute-th newest view of the window
            select(AuditRecordRow.time)
            .where(*views)
            .order_by(AuditRecordRow.time.desc())
            .offset(per_minute - 1)
            .limit(1)
        )
    frees_at = (oldest_kept or now) + RATE_WINDOW  # when one view leaves the window
    retry_after = max(1, math.ceil((frees_at - now).total_seconds()))
    raise Problem(
        429,
        "rate_limited",
        f"At most {per_minute} case views per minute per person; try again later.",
        headers={"Retry-After": str(retry_after)},
        audit={"reason": "rate_limited"},
        retry_after=retry_after,
    )


def bulk_view_alarm(
    session: Session, ctx: Context, subject: str, bulk_per_hour: int, now: dt.datetime
) -> AuditEntry | None:
    """The alarm record when this view makes the person's distinct young people in the last
    hour exceed `bulk_per_hour` and no alarm for them was raised in that hour; else None.

    Names the person and the count, never a young person.
    """
    actor = ctx.actor
    if actor is None or actor.is_client:
        return None
    person_id = actor.username
    since = now - BULK_WINDOW
    with _reading(session):
        # Seen this young person within the hour already: the distinct count did not grow,
        # so no new crossing (an indexed lookup instead of counting the whole hour).
        repeat = (
            session.connection()
            .execute(_SEEN_SINCE, {"subject": subject, "person_id": person_id, "since": since})
            .scalar()
        )
        if repeat is not None:
            return None
        seen = set(
            session.scalars(
                select(AuditRecordRow.subject)
                .where(
                    *_recent(session, person_id, since),
                    AuditRecordRow.event == "case.view",
                    AuditRecordRow.outcome == "success",
                    AuditRecordRow.subject.is_not(None),
                )
                .distinct()
            )
        )
    seen.add(subject)
    if len(seen) <= bulk_per_hour:
        return None
    raised = count_records(
        session, person_id=person_id, event=ALARM_EVENT, outcome="success", since=since
    )
    if raised:
        return None
    return ctx.entry(
        ALARM_EVENT,
        "execute",
        "success",
        detail={
            "person": person_id,
            "young_people": len(seen),
            "limit_per_hour": bulk_per_hour,
        },
    )
