"""Retention of case data, as the convenant's `retention` says (`broker purge`).

Three rules, each against a given clock `now` (the CLI's `--now`; by default the real time):

- **untriaged_signal** — a signal whose case never left the initial track (`signaal`) is
  deleted, with its values, `months` after it came in (each signal on its own, as the
  convenant says). A case left with no signal is closed (when open) and purged; so is an
  initial-track case without any signal (all deleted by the privacy officer) that long after
  it was opened.
- **age_limit** — an open case whose young person turned `years` (the newest `birth_date`, in
  Amsterdam) is closed with reason `leeftijdsgrens`; its retention starts then.
- **closed_case** — a case closed `years` ago is purged.

Purging a case removes its identifying data: every field value (superseded ones too), the
signals' summaries, match keys, plan versions, the privacy officer's corrections and deletions
(with their reasons), the notifications' link to the case and the reasons in its track history.
The case row and its track history stay, with `purged_at` and the `wijk_at_purge` (for the
monitoring figures). When the young person has no other unpurged case, their objections go and
their subject key is replaced by a random one: the BSN no longer leads to them.

Every run that finds something is audited, in the transaction of its changes: one record per
affected case and a summary record — names, counts and ids, never a value. A dry run changes
nothing and writes one summary record (a search). A run that finds nothing writes nothing, so a
daily cron job adds no noise; a second run right after a first finds nothing. Runs are
serialised (PostgreSQL: a transaction-scoped advisory lock; SQLite: BEGIN IMMEDIATE), so two
runs at once never delete or audit the same thing twice.
"""

from __future__ import annotations

import calendar
import datetime as dt
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from sqlalchemy import delete, func, select, text, update
from sqlalchemy.orm import Session

from broker.casework.matching import refresh_match_keys
from broker.casework.tracks import record_close
from broker.core.context import Context, audit_and_commit
from broker.core.runtime import Runtime
from broker.identity.subjects import parse_date
from broker.storage.models import (
    Case,
    FieldValue,
    MatchKey,
    Notification,
    Objection,
    PlanVersion,
    RightsAction,
    Signal,
    TrackChange,
    YoungPerson,
)

__all__ = [
    "PURGED_REASON",
    "RETENTION_BASIS",
    "CaseRetention",
    "add_months",
    "plan_retention",
    "purge_cases",
]


AMSTERDAM = ZoneInfo("Europe/Amsterdam")
RETENTION_BASIS = "AVG art. 5 lid 1 sub e (opslagbeperking); convenant, bewaartermijnen"
PURGED_REASON = "(verwijderd: bewaartermijn verstreken)"
UNTRIAGED_NOTE = "Niet getrieerd binnen de bewaartermijn; signalen verwijderd"
# any constant: the key of the advisory lock that serialises purge runs on PostgreSQL
_LOCK_KEY = 0x6D74_7075_7267_6501

When = TypeVar("When", dt.date, dt.datetime)


def add_months(when: When, months: int) -> When:
    """The same moment `months` calendar months later (or earlier), on the last day of the
    month when that day does not exist (31 August + 6 months = 28/29 February)."""
    years, month0 = divmod(when.month - 1 + months, 12)
    year, month = when.year + years, month0 + 1
    return when.replace(
        year=year, month=month, day=min(when.day, calendar.monthrange(year, month)[1])
    )


@dataclass
class CaseRetention:
    """What retention does to one case in this run."""

    case_id: str
    subject: str
    rules: list[str] = field(default_factory=list)
    signals: list[str] = field(default_factory=list)  # signals to delete
    close: str | None = None  # the close reason, when an open case is closed
    purge: bool = False
    values_deleted: int = 0

    def as_dict(self) -> dict[str, Any]:
        """The report line of this case: ids, rules and counts."""
        return {
            "case_id": self.case_id,
            "rules": list(self.rules),
            "signals_deleted": len(self.signals),
            "values_deleted": self.values_deleted,
            "closed": self.close is not None,
            "close_reason": self.close,
            "purged": self.purge,
        }


def plan_retention(session: Session, rt: Runtime, now: dt.datetime) -> list[CaseRetention]:
    """What the convenant's retention says is due at `now`, per case (reads only)."""
    c = rt.convenant
    ret = c.retention
    plans: dict[str, CaseRetention] = {}

    def plan(case_id: str, subject: str) -> CaseRetention:
        return plans.setdefault(case_id, CaseRetention(case_id, subject))

    # untriaged signals: the initial track, each signal `months` after it came in
    months = ret.untriaged_signal_months
    initial = session.execute(
        select(Case.id, Case.opened_at, Case.closed_at, YoungPerson.subject_key)
        .join(YoungPerson, YoungPerson.id == Case.young_person_id)
        .where(Case.track == c.initial_track, Case.purged_at.is_(None))
    ).all()
    if initial:
        signals: dict[str, list[tuple[str, dt.datetime]]] = defaultdict(list)
        for signal_id, case_id, received_at in session.execute(
            select(Signal.id, Signal.case_id, Signal.received_at)
            .join(Case, Case.id == Signal.case_id)
            .where(Case.track == c.initial_track, Case.purged_at.is_(None))
            .order_by(Signal.received_at, Signal.id)
        ):
            signals[case_id].append((signal_id, received_at))
        for case_id, opened_at, closed_at, subject in initial:
            received = signals.get(case_id, [])
            due = [s for s, at in received if add_months(at, months) <= now]
            empty = not received and add_months(opened_at, months) <= now
            if not due and not empty:
                continue
            p = plan(case_id, subject)
            p.rules.append("untriaged_signal")
            p.signals = due
            if len(due) == len(received):
                p.purge = True
                if closed_at is None:
                    p.close = "bewaartermijn"

    # the age limit: open cases whose young person turned `years`
    today = now.astimezone(AMSTERDAM).date()
    born: dict[str, tuple[Any, str]] = {}
    for case_id, value, subject in session.execute(
        select(FieldValue.case_id, FieldValue.value, YoungPerson.subject_key)
        .join(Case, Case.id == FieldValue.case_id)
        .join(YoungPerson, YoungPerson.id == Case.young_person_id)
        .where(
            FieldValue.field == "birth_date",
            FieldValue.superseded_at.is_(None),
            Case.closed_at.is_(None),
            Case.purged_at.is_(None),
        )
        .order_by(FieldValue.id)
    ):
        born[case_id] = (value, subject)  # the newest value wins
    for case_id, (value, subject) in born.items():
        birth_date = parse_date(value)
        if birth_date is None or add_months(birth_date, 12 * ret.age_limit_years) > today:
            continue
        p = plan(case_id, subject)
        p.rules.append("age_limit")
        if not p.purge:
            p.close = "leeftijdsgrens"

    # closed cases: purged `years` after closing (a coarse filter in SQL, exact here)
    years = ret.closed_case_years
    for case_id, closed_at, subject in session.execute(
        select(Case.id, Case.closed_at, YoungPerson.subject_key)
        .join(YoungPerson, YoungPerson.id == Case.young_person_id)
        .where(
            Case.closed_at.is_not(None),
            Case.purged_at.is_(None),
            Case.closed_at <= add_months(now, -12 * years) + dt.timedelta(days=3),
        )
    ):
        if closed_at is not None and add_months(closed_at, 12 * years) <= now:
            p = plan(case_id, subject)
            p.rules.append("closed_case")
            p.purge = True
    return sorted(plans.values(), key=lambda p: p.case_id)


def _lock(session: Session) -> None:
    """Serialise purge runs: on PostgreSQL an advisory lock until the transaction ends; on
    SQLite the transaction began IMMEDIATE, which already holds the write lock."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _LOCK_KEY})
    else:
        session.execute(select(1))  # begin now (IMMEDIATE): the write lock is ours


def _delete_signals(session: Session, rt: Runtime, case_id: str, signal_ids: list[str]) -> int:
    """Delete signals and their values; refresh the case's match keys they touched."""
    if not signal_ids:
        return 0
    names = set(
        session.scalars(
            select(FieldValue.field).where(FieldValue.signal_id.in_(signal_ids)).distinct()
        )
    )
    deleted = session.execute(delete(FieldValue).where(FieldValue.signal_id.in_(signal_ids)))
    session.execute(delete(Signal).where(Signal.id.in_(signal_ids)))
    refresh_match_keys(session, rt.subject_secret, case_id, names)
    return int(getattr(deleted, "rowcount", 0) or 0)


def _purge(session: Session, case: Case, now: dt.datetime) -> int:
    """Remove the case's identifying data (see the module's docstring); the values deleted."""
    wijk = session.scalar(
        select(FieldValue.value)
        .where(
            FieldValue.case_id == case.id,
            FieldValue.field == "wijk",
            FieldValue.superseded_at.is_(None),
        )
        .order_by(FieldValue.id.desc())
        .limit(1)
    )
    case.wijk_at_purge = wijk[:64] if isinstance(wijk, str) else None
    deleted = session.execute(delete(FieldValue).where(FieldValue.case_id == case.id))
    session.execute(delete(RightsAction).where(RightsAction.case_id == case.id))
    session.execute(update(Signal).where(Signal.case_id == case.id).values(summary=None))
    session.execute(delete(MatchKey).where(MatchKey.case_id == case.id))
    session.execute(delete(PlanVersion).where(PlanVersion.case_id == case.id))
    session.execute(
        update(Notification).where(Notification.case_id == case.id).values(case_id=None)
    )
    session.execute(
        update(TrackChange).where(TrackChange.case_id == case.id).values(reason=PURGED_REASON)
    )
    case.purged_at = now
    others = session.scalar(
        select(func.count())
        .select_from(Case)
        .where(
            Case.young_person_id == case.young_person_id,
            Case.id != case.id,
            Case.purged_at.is_(None),
        )
    )
    if not others:
        session.execute(delete(Objection).where(Objection.young_person_id == case.young_person_id))
        session.execute(
            update(YoungPerson)
            .where(YoungPerson.id == case.young_person_id)
            .values(subject_key=f"purged-{uuid.uuid4().hex}")
        )
    return int(getattr(deleted, "rowcount", 0) or 0)


def purge_cases(
    session: Session,
    rt: Runtime,
    ctx: Context,
    now: dt.datetime,
    dry_run: bool,
    clock: str = "system",
) -> dict[str, Any]:
    """Apply the retention rules at `now` (or, with `dry_run`, only say what is due); audited
    as the module says. `clock` ("system" or "given") is recorded in the summary record."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    _lock(session)
    plans = plan_retention(session, rt, now)
    report: dict[str, Any] = {"now": now.isoformat(), "dry_run": dry_run}
    if not plans:
        session.rollback()
        return {**report, "cases": [], "totals": _totals([])}
    if not dry_run:
        for p in plans:
            case = session.scalar(select(Case).where(Case.id == p.case_id).with_for_update())
            assert case is not None
            p.values_deleted = _delete_signals(session, rt, case.id, p.signals)
            if p.close is not None and case.closed_at is None:
                note = UNTRIAGED_NOTE if p.close == "bewaartermijn" else None
                record_close(session, case, p.close, note, None, now)
            session.flush()
            if p.purge:
                p.values_deleted += _purge(session, case, now)
        session.flush()
    else:
        for p in plans:
            p.values_deleted = _count_values(session, p)
        session.rollback()
    totals = _totals(plans)
    entries = [
        ctx.entry(
            "retention.case",
            "delete" if p.purge or p.signals else "update",
            "success",
            subject=p.subject,
            case_id=p.case_id,
            convenant_hash=rt.convenant.hash,
            legal_basis=RETENTION_BASIS,
            detail={
                "rules": ",".join(p.rules),
                "signals_deleted": len(p.signals),
                "values_deleted": p.values_deleted,
                "closed": p.close is not None,
                "purged": p.purge,
            },
        )
        for p in ([] if dry_run else plans)
    ]
    entries.append(
        ctx.entry(
            "retention.run",
            "search" if dry_run else "delete",
            "success",
            convenant_hash=rt.convenant.hash,
            legal_basis=RETENTION_BASIS,
            detail={"dry_run": dry_run, "now": now.isoformat(), "clock": clock, **totals},
        )
    )
    audit_and_commit(session, rt, entries)
    return {**report, "cases": [p.as_dict() for p in plans], "totals": totals}


def _count_values(session: Session, p: CaseRetention) -> int:
    """How many values the plan for this case would delete."""
    where = (
        FieldValue.case_id == p.case_id if p.purge else FieldValue.signal_id.in_(p.signals or [""])
    )
    return session.scalar(select(func.count()).select_from(FieldValue).where(where)) or 0


def _totals(plans: list[CaseRetention]) -> dict[str, int]:
    return {
        "cases": len(plans),
        "signals_deleted": sum(len(p.signals) for p in plans),
        "values_deleted": sum(p.values_deleted for p in plans),
        "closed": sum(p.close is not None for p in plans),
        "purged": sum(p.purge for p in plans),
    }
