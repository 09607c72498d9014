"""The monitoring figures for the dashboard: per period, young people per track and per wijk,
cases started and ended, and the median time from first signal to triage — with small-cell
suppression (`broker.figures.suppression`), so that no figure singles out a young person.

Definitions (also in every answer, under `definitions`):

- a **period** is the whole range asked for, and each calendar month or quarter in it; a range
  is whole months (Europe/Amsterdam), so two answers never differ by a few days;
- a young person is **in a period** when one of their cases was open during part of it (from the
  first signal until closed or purged); **young_people** counts them once;
- **by_track**: young people per track they were in during the period — one who passed through
  several tracks counts once in each, so these do not add up to young_people;
- **by_wijk**: young people per wijk: the newest wijk of their newest case (for a purged case
  the wijk kept at the purge), the same for every period of one answer, `onbekend` when none;
  these add up to young_people;
- **started** / **ended**: cases opened (a young person's first signal) / closed (or purged) in
  the period; the months add up to the range;
- **median_days_to_triage**: over the cases triaged in the period (their first track change out
  of the initial track), the median of the days from the first signal; shown only over five
  cases or more.

Loading reads the database; counting, the relations between the figures, suppression and the
shape of the answer are pure functions of what was loaded.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import statistics
from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from broker.core.context import Context, audit_and_commit
from broker.core.runtime import Runtime
from broker.storage.models import Case, FieldValue, Signal, TrackChange

from .counting import CaseHistory, Figures, cell_id, count, table_of
from .periods import PURPOSE, StatsRequest
from .suppression import (
    DEFAULT_THRESHOLD,
    PROTECTIVE_MARK,
    Suppression,
    small_mark,
    suppress,
)

__all__ = [
    "csv_text",
    "load_histories",
    "publish",
    "stats_report",
]


# ── the request ─────────────────────────────────────────────────────────────────────────────


# ── what is counted ─────────────────────────────────────────────────────────────────────────


# ── the relations between the figures, and suppression ──────────────────────────────────────


SUPPRESSION_NOTE = (
    "Counts under {t} are shown as '{small}'. A count of {t} or more shown as '{x}' is withheld "
    "so that no '{small}' can be worked out from the other figures (totals minus the rest, the "
    "months against the range). A young person may pass through several tracks, so the tracks "
    "do not add up to young_people; the wijken do. A median over fewer than {t} cases is shown "
    "as '{small}'."
)
DEFINITIONS = {
    "young_people": "young people with a case open during part of the period",
    "by_track": "young people per track they were in during the period (several tracks: "
    "counted in each)",
    "by_wijk": "young people per wijk: the newest wijk of their newest case (for a purged case "
    "the wijk kept at the purge), the same in every period of this answer; 'onbekend' when none",
    "started": "cases opened in the period (a young person's first signal)",
    "ended": "cases closed or purged in the period",
    "median_days_to_triage": "median days from the first signal to the first track change out "
    "of the initial track, over the cases triaged in the period",
}


def publish(
    request: StatsRequest, figures: Sequence[Figures], result: Suppression
) -> dict[str, Any]:
    """The answer: every period with its figures as published ('<5', 'x' where withheld)."""
    threshold = result.threshold
    small = small_mark(threshold)
    periods = []
    for f in figures:
        p = f.period
        days = f.days_to_triage
        median: float | str = round(statistics.median(days), 1) if len(days) >= threshold else small
        periods.append(
            {
                "period": p.label,
                "kind": p.kind,
                "from": p.first.isoformat(),
                "to": p.last.isoformat(),
                "young_people": result.shown(cell_id("young_people", p)),
                "by_track": {t: result.shown(cell_id("track", p, t)) for t in f.by_track},
                "by_wijk": {w: result.shown(cell_id("wijk", p, w)) for w in f.by_wijk},
                "started": result.shown(cell_id("started", p)),
                "ended": result.shown(cell_id("ended", p)),
                "median_days_to_triage": median,
            }
        )
    return {
        "from": request.first.isoformat(),
        "to": request.last.isoformat(),
        "by": request.by,
        "periods": periods,
        "suppression": {
            "threshold": threshold,
            "markers": {
                small: f"fewer than {threshold}",
                PROTECTIVE_MARK: f"{threshold} or more, withheld to protect a '{small}'",
            },
            "note": SUPPRESSION_NOTE.format(t=threshold, small=small, x=PROTECTIVE_MARK),
        },
        "definitions": DEFINITIONS,
    }


def csv_text(report: Mapping[str, Any]) -> str:
    """The answer as CSV: one row per period; a column per track (`track:pga`) and per wijk
    (`wijk:Bilgaard`: the prefix also keeps a wijk typed as a formula from being one)."""
    periods = report["periods"]
    tracks = list(periods[0]["by_track"]) if periods else []
    wijken = list(periods[0]["by_wijk"]) if periods else []
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    header = [
        "period",
        "kind",
        "from",
        "to",
        "young_people",
        *(f"track:{t}" for t in tracks),
        *(f"wijk:{w}" for w in wijken),
        "started",
        "ended",
        "median_days_to_triage",
    ]
    writer.writerow(header)
    for p in periods:
        row = [
            p["period"],
            p["kind"],
            p["from"],
            p["to"],
            p["young_people"],
            *(p["by_track"][t] for t in tracks),
            *(p["by_wijk"][w] for w in wijken),
            p["started"],
            p["ended"],
            p["median_days_to_triage"],
        ]
        writer.writerow(row)
    return out.getvalue()


# ── loading, and the use case ───────────────────────────────────────────────────────────────


def load_histories(
    session: Session, start: dt.datetime, end: dt.datetime, initial_track: str
) -> list[CaseHistory]:
    """The history of every case that may have been open between `start` and `end`."""
    relevant = (
        Case.opened_at < end,
        or_(Case.closed_at.is_(None), Case.closed_at >= start),
        or_(Case.purged_at.is_(None), Case.purged_at >= start),
    )
    ids = select(Case.id).where(*relevant)
    cases = session.execute(
        select(
            Case.id,
            Case.young_person_id,
            Case.track,
            Case.opened_at,
            Case.closed_at,
            Case.purged_at,
            Case.wijk_at_purge,
        )
        .where(*relevant)
        .order_by(Case.id)
    ).all()
    changes: dict[str, list[tuple[str, str | None, str, dt.datetime]]] = defaultdict(list)
    for case_id, kind, from_track, to_track, decided_at in session.execute(
        select(
            TrackChange.case_id,
            TrackChange.kind,
            TrackChange.from_track,
            TrackChange.to_track,
            TrackChange.decided_at,
        )
        .where(TrackChange.case_id.in_(ids))
        .order_by(TrackChange.case_id, TrackChange.decided_at, TrackChange.id)
    ):
        changes[case_id].append((kind, from_track, to_track, decided_at))
    wijk: dict[str, Any] = {}
    for case_id, value in session.execute(
        select(FieldValue.case_id, FieldValue.value)
        .where(
            FieldValue.case_id.in_(ids),
            FieldValue.field == "wijk",
            FieldValue.superseded_at.is_(None),
        )
        .order_by(FieldValue.id)
    ):
        wijk[case_id] = value  # the newest value wins
    first_signal: dict[str, dt.datetime] = {}
    for case_id, received_at in session.execute(
        select(Signal.case_id, func.min(Signal.received_at))
        .where(Signal.case_id.in_(ids))
        .group_by(Signal.case_id)
    ):
        first_signal[case_id] = received_at
    out = []
    for case_id, person, track, opened_at, closed_at, purged_at, kept_wijk in cases:
        history = changes.get(case_id, [])
        stints = _stints(opened_at, track, history, initial_track)
        triaged = next(
            (
                at
                for kind, from_track, to_track, at in history
                if kind == "track" and from_track == initial_track and to_track != initial_track
            ),
            None,
        )
        signalled = first_signal.get(case_id)
        value = wijk.get(case_id)
        out.append(
            CaseHistory(
                person=person,
                opened_at=opened_at,
                ended_at=min((m for m in (closed_at, purged_at) if m is not None), default=None),
                first_signal_at=min(signalled, opened_at) if signalled else opened_at,
                stints=stints,
                triaged_at=max(triaged, opened_at) if triaged else None,
                wijk=value if value is not None else kept_wijk,
            )
        )
    return out


def _stints(
    opened_at: dt.datetime,
    track: str,
    history: Sequence[tuple[str, str | None, str, dt.datetime]],
    initial_track: str,
) -> tuple[tuple[dt.datetime, str], ...]:
    """(since, track) from the opening on: the track changes proper, never before the opening."""
    moves = [(at, to) for kind, frm, to, at in history if kind == "track" and frm is not None]
    if not history:
        return ((opened_at, track),)
    first = history[0]
    start_track = first[2] if first[1] is None else initial_track
    stints = [(opened_at, start_track)]
    for at, to in moves:
        since = max(at, stints[-1][0])
        if to != stints[-1][1]:
            stints.append((since, to))
    return tuple(stints)


def stats_report(
    session: Session,
    rt: Runtime,
    ctx: Context,
    request: StatsRequest,
    now: dt.datetime,
    threshold: int = DEFAULT_THRESHOLD,
) -> dict[str, Any]:
    """The monitoring figures of the request, suppressed; audited (aggregated figures: a read
    without a subject) and committed before they are returned."""
    c = rt.convenant
    periods = request.periods()
    whole = periods[0]
    histories = load_histories(session, whole.start, whole.end, c.initial_track)
    figures = count(histories, periods, list(c.tracks), now)
    result = suppress(table_of(figures), threshold)
    report = publish(request, figures, result)
    withheld = result.withheld()
    purpose = c.purposes.get(PURPOSE)
    entry = ctx.entry(
        "stats.read",
        "read",
        "success",
        convenant_hash=c.hash,
        legal_basis=purpose.legal_basis if purpose is not None else None,
        detail={
            "from": request.first.isoformat(),
            "to": request.last.isoformat(),
            "by": request.by,
            "periods": len(periods),
            "cells": len(result.table.values),
            "withheld": len(withheld),
            **{k: v for k, v in ctx.extra.items() if k == "cli"},
        },
    )
    audit_and_commit(session, rt, [entry])
    return report
