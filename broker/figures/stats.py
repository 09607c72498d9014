"""The monitoring figures for the dashboard: per period, young people per track and per wijk,
cases started and ended, and the median time from first signal to triage — with small-cell
suppression (`broker.suppression`), so that no figure singles out a young person.

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

import bisect
import calendar
import csv
import datetime as dt
import io
import re
import statistics
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal
from zoneinfo import ZoneInfo

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from broker.casework.services import Context, audit_and_commit
from broker.core.runtime import Runtime
from broker.storage.models import Case, FieldValue, Signal, TrackChange

from .suppression import (
    DEFAULT_THRESHOLD,
    PROTECTIVE_MARK,
    CellId,
    Relation,
    RelationKind,
    Suppression,
    Table,
    small_mark,
    suppress,
)

__all__ = [
    "FIRST_YEAR",
    "LAST_YEAR",
    "MAX_MONTHS",
    "PURPOSE",
    "ROLE",
    "UNKNOWN_WIJK",
    "CaseHistory",
    "Figures",
    "Period",
    "StatsRequest",
    "StatsRequestError",
    "count",
    "csv_text",
    "load_histories",
    "parse_request",
    "publish",
    "stats_report",
    "table_of",
]

AMSTERDAM = ZoneInfo("Europe/Amsterdam")
MAX_MONTHS = 60  # five years
FIRST_YEAR, LAST_YEAR = 1900, 2999  # a date outside these years is a typing mistake
PURPOSE = "uitvoering"  # the programme's monitoring is part of carrying out the plans
ROLE = "coordinator"
UNKNOWN_WIJK = "onbekend"
Grouping = Literal["month", "quarter"]
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


# ── the request ─────────────────────────────────────────────────────────────────────────────


class StatsRequestError(ValueError):
    """A period that cannot be asked for; `errors` name the parameters and the problems."""

    code = "invalid_period"

    def __init__(self, errors: list[dict[str, str]]):
        super().__init__("; ".join(f"{e['field']} {e['problem']}" for e in errors))
        self.errors = errors


@dataclass(frozen=True, slots=True)
class Period:
    """A stretch of whole days, first to last inclusive (Europe/Amsterdam)."""

    label: str
    kind: Literal["range", "month", "quarter"]
    first: dt.date
    last: dt.date

    @property
    def start(self) -> dt.datetime:
        """The first moment of the period."""
        return dt.datetime.combine(self.first, dt.time(), AMSTERDAM)

    @property
    def end(self) -> dt.datetime:
        """The first moment after the period."""
        return dt.datetime.combine(self.last + dt.timedelta(days=1), dt.time(), AMSTERDAM)

    def holds(self, moment: dt.datetime | None) -> bool:
        """Whether the moment falls in the period."""
        return moment is not None and self.start <= moment < self.end

    def overlaps(self, start: dt.datetime, end: dt.datetime | None) -> bool:
        """Whether [start, end) and the period share some time (end None: still going)."""
        return start < self.end and (end is None or end > self.start) and start != end


@dataclass(frozen=True, slots=True)
class StatsRequest:
    """The figures asked for: whole months from `first` to `last`, grouped `by`."""

    first: dt.date
    last: dt.date
    by: Grouping = "month"

    @property
    def whole(self) -> Period:
        """The whole range."""
        label = f"{self.first.isoformat()}/{self.last.isoformat()}"
        return Period(label, "range", self.first, self.last)

    def periods(self) -> list[Period]:
        """The whole range, then each month or quarter in it (none when there is only one)."""
        parts: list[Period] = []
        year, month = self.first.year, self.first.month
        step = 1 if self.by == "month" else 3
        if self.by == "quarter":
            month -= (month - 1) % 3
        while dt.date(year, month, 1) <= self.last:
            end_month = month + step - 1
            last = dt.date(year, end_month, calendar.monthrange(year, end_month)[1])
            first = max(dt.date(year, month, 1), self.first)
            label = f"{year}-{month:02d}" if self.by == "month" else f"{year}-Q{(month + 2) // 3}"
            parts.append(Period(label, self.by, first, min(last, self.last)))
            month += step
            if month > 12:
                year, month = year + 1, month - 12
        return [self.whole] if len(parts) == 1 else [self.whole, *parts]


def parse_request(first: str | None, last: str | None, by: str | None) -> StatsRequest:
    """The request from its parameters: `from` the first day of a month, `to` the last day of
    a month, at most five years; StatsRequestError naming every problem otherwise."""
    errors: list[dict[str, str]] = []
    dates: dict[str, dt.date] = {}
    for name, raw in (("from", first), ("to", last)):
        if raw is None or raw == "":
            errors.append({"field": name, "problem": "is required (YYYY-MM-DD)"})
            continue
        try:
            if not _DATE.match(raw):
                raise ValueError
            dates[name] = dt.date.fromisoformat(raw)
        except ValueError:
            errors.append({"field": name, "problem": "must be a date (YYYY-MM-DD)"})
    grouping = by or "month"
    if grouping not in ("month", "quarter"):
        errors.append({"field": "by", "problem": "must be month or quarter"})
    for name in ("from", "to"):
        day = dates.get(name)
        if day is not None and not FIRST_YEAR <= day.year <= LAST_YEAR:
            errors.append(
                {"field": name, "problem": f"must lie in the years {FIRST_YEAR} to {LAST_YEAR}"}
            )
            del dates[name]
    start, end = dates.get("from"), dates.get("to")
    if start is not None and start.day != 1:
        errors.append({"field": "from", "problem": "must be the first day of a month"})
    if end is not None and end != _month_end(end):
        errors.append({"field": "to", "problem": "must be the last day of a month"})
    if start is not None and end is not None:
        if start > end:
            errors.append({"field": "to", "problem": "must not be before from"})
        elif (end.year - start.year) * 12 + end.month - start.month + 1 > MAX_MONTHS:
            errors.append(
                {"field": "to", "problem": f"the range is at most {MAX_MONTHS} months (5 years)"}
            )
    if errors:
        raise StatsRequestError(errors)
    assert start is not None and end is not None
    return StatsRequest(start, end, "quarter" if grouping == "quarter" else "month")


def _month_end(day: dt.date) -> dt.date:
    return day.replace(day=calendar.monthrange(day.year, day.month)[1])


# ── what is counted ─────────────────────────────────────────────────────────────────────────


@dataclass(frozen=True, slots=True)
class CaseHistory:
    """What the figures need of one case: no values but its wijk."""

    person: int
    opened_at: dt.datetime
    ended_at: dt.datetime | None  # closed or purged; None while open
    first_signal_at: dt.datetime
    stints: tuple[tuple[dt.datetime, str], ...]  # (since, track), in order, from opened_at
    triaged_at: dt.datetime | None
    wijk: str | None

    def is_open_during(self, period: Period, now: dt.datetime) -> bool:
        """Whether the case was open during part of the period (up to `now`)."""
        end = _earliest(self.ended_at, now)
        return self.opened_at < end and period.overlaps(self.opened_at, end)


def _earliest(*moments: dt.datetime | None) -> dt.datetime:
    return min(m for m in moments if m is not None)


@dataclass
class Figures:
    """The true figures of one period (before suppression)."""

    period: Period
    young_people: int = 0
    by_track: dict[str, int] = field(default_factory=dict)
    by_wijk: dict[str, int] = field(default_factory=dict)
    started: int = 0
    ended: int = 0
    days_to_triage: list[float] = field(default_factory=list)


def normalise_wijk(value: Any) -> str | None:
    """A wijk as a label: trimmed, single spaces, at most 64 characters; None when empty."""
    if not isinstance(value, str):
        return None
    label = " ".join(value.split())[:64]
    return label or None


def count(
    histories: Iterable[CaseHistory],
    periods: Sequence[Period],
    tracks: Sequence[str],
    now: dt.datetime,
) -> list[Figures]:
    """The figures of each period; the first period is the whole range, the others lie in it."""
    cases = list(histories)
    whole = periods[0]
    # one wijk per young person for the whole answer: that of their newest case in the range
    newest: dict[int, CaseHistory] = {}
    for case in cases:
        if case.is_open_during(whole, now):
            known = newest.get(case.person)
            if known is None or case.opened_at >= known.opened_at:
                newest[case.person] = case
    wijk_of = {person: normalise_wijk(case.wijk) or UNKNOWN_WIJK for person, case in newest.items()}
    seen_tracks = {t for case in cases for _, t in case.stints}
    all_tracks = [*tracks, *sorted(seen_tracks - set(tracks))]
    wijken = sorted(set(wijk_of.values()) - {UNKNOWN_WIJK})
    if UNKNOWN_WIJK in wijk_of.values():
        wijken.append(UNKNOWN_WIJK)
    whole_start, whole_end = whole.start, whole.end
    parts = list(periods[1:])
    starts = [p.start for p in parts]
    ends = [p.end for p in parts]

    def indexes(start: dt.datetime, until: dt.datetime) -> list[int]:
        """0 for the whole range, then 1 + each part that [start, until) overlaps."""
        if not (start < until and start < whole_end and until > whole_start):
            return []
        lo = bisect.bisect_right(ends, start)
        hi = bisect.bisect_left(starts, until)
        return [0, *(i + 1 for i in range(lo, hi))]

    def index_of(moment: dt.datetime | None) -> list[int]:
        if moment is None or not whole_start <= moment < whole_end:
            return []
        return [0, *(i + 1 for i in range(len(parts)) if starts[i] <= moment < ends[i])]

    out = [Figures(p, by_track=dict.fromkeys(all_tracks, 0)) for p in periods]
    people: list[set[int]] = [set() for _ in periods]
    in_track: list[dict[str, set[int]]] = [defaultdict(set) for _ in periods]
    for case in cases:
        end = _earliest(case.ended_at, now)
        for i in indexes(case.opened_at, end):
            people[i].add(case.person)
        for n, (since, track) in enumerate(case.stints):
            until = case.stints[n + 1][0] if n + 1 < len(case.stints) else end
            for i in indexes(since, min(until, end)):
                in_track[i][track].add(case.person)
        for i in index_of(case.opened_at):
            out[i].started += 1
        if case.ended_at is not None and case.ended_at <= now:
            for i in index_of(case.ended_at):
                out[i].ended += 1
        if case.triaged_at is not None:
            seconds = (case.triaged_at - case.first_signal_at).total_seconds()
            for i in index_of(case.triaged_at):
                out[i].days_to_triage.append(max(seconds, 0.0) / 86400)
    for i, figures in enumerate(out):
        figures.young_people = len(people[i])
        for track, members in in_track[i].items():
            figures.by_track[track] = len(members)
        figures.by_wijk = dict.fromkeys(wijken, 0)
        for person in people[i]:
            figures.by_wijk[wijk_of[person]] += 1
    return out


# ── the relations between the figures, and suppression ──────────────────────────────────────


def _cell(kind: str, period: Period, name: str | None = None) -> CellId:
    return (kind, period.label) if name is None else (kind, period.label, name)


def table_of(figures: Sequence[Figures]) -> Table:
    """The counts as a table, with every relation a reader knows holds between them:

    - in each period, the wijken add up to the young people (SUM) and the tracks cover them
      (COVER: a young person is in at least one track, maybe several);
    - the months (or quarters) cover the range: young people in total, per track and per wijk
      (COVER: everyone in the range is in some month, maybe several); and the cases started and
      ended in the months add up to those of the range (SUM).
    """
    values: dict[CellId, int] = {}
    relations: list[Relation] = []
    for f in figures:
        p = f.period
        values[_cell("young_people", p)] = f.young_people
        for track, n in f.by_track.items():
            values[_cell("track", p, track)] = n
        for wijk, n in f.by_wijk.items():
            values[_cell("wijk", p, wijk)] = n
        values[_cell("started", p)] = f.started
        values[_cell("ended", p)] = f.ended
        total = _cell("young_people", p)
        if f.by_wijk:
            wijken = tuple(_cell("wijk", p, w) for w in f.by_wijk)
            relations.append(Relation(RelationKind.SUM, total, wijken))
        if f.by_track:
            tracks = tuple(_cell("track", p, t) for t in f.by_track)
            relations.append(Relation(RelationKind.COVER, total, tracks))
    if len(figures) > 1:
        whole, parts = figures[0], figures[1:]
        w, ps = whole.period, [f.period for f in parts]

        def across(kind: str, name: str | None, relation: RelationKind) -> None:
            relations.append(
                Relation(relation, _cell(kind, w, name), tuple(_cell(kind, p, name) for p in ps))
            )

        across("young_people", None, RelationKind.COVER)
        for track in whole.by_track:
            across("track", track, RelationKind.COVER)
        for wijk in whole.by_wijk:
            across("wijk", wijk, RelationKind.COVER)
        across("started", None, RelationKind.SUM)
        across("ended", None, RelationKind.SUM)
    return Table(values, tuple(relations))


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
                "young_people": result.shown(_cell("young_people", p)),
                "by_track": {t: result.shown(_cell("track", p, t)) for t in f.by_track},
                "by_wijk": {w: result.shown(_cell("wijk", p, w)) for w in f.by_wijk},
                "started": result.shown(_cell("started", p)),
                "ended": result.shown(_cell("ended", p)),
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
