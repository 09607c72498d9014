"""Anomalies for the privacy officer, read from the audit log: refused attempts, access outside the
case team, one person opening many young people within an hour (the bulk-view alarm), and views
outside office hours (Europe/Amsterdam, weekdays).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from typing import Any

from sqlalchemy.orm import Session

from broker.core.context import Context, audit_and_commit
from broker.core.runtime import Runtime

from .audit_log import AMSTERDAM, record_dict, time_window

__all__ = [
    "ALARM_PREFIX",
    "REFUSAL_WATCHED",
    "anomalies",
]


# Refusals worth the privacy officer's attention: on case data, the audit log and logins.
REFUSAL_WATCHED = ("case.", "signal.", "track.", "subject.", "audit.", "api.", "token.", "login")


# Alarms raised as they happened (`alarm.bulk_views`), listed as they were recorded.
ALARM_PREFIX = "alarm."


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
    for record in time_window(session, rt, since, until):
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
