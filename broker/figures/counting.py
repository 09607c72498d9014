"""What is counted: each case's history reduced to what the figures need, the figures of a period
counted from the histories, and the relations between them (a table whose cells the suppression
protects together).
"""

from __future__ import annotations

import bisect
import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from .periods import Period
from .suppression import (
    CellId,
    Relation,
    RelationKind,
    Table,
)

__all__ = [
    "UNKNOWN_WIJK",
    "CaseHistory",
    "Figures",
    "cell_id",
    "count",
    "normalise_wijk",
    "table_of",
]


UNKNOWN_WIJK = "onbekend"


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


def cell_id(kind: str, period: Period, name: str | None = None) -> CellId:
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
        values[cell_id("young_people", p)] = f.young_people
        for track, n in f.by_track.items():
            values[cell_id("track", p, track)] = n
        for wijk, n in f.by_wijk.items():
            values[cell_id("wijk", p, wijk)] = n
        values[cell_id("started", p)] = f.started
        values[cell_id("ended", p)] = f.ended
        total = cell_id("young_people", p)
        if f.by_wijk:
            wijken = tuple(cell_id("wijk", p, w) for w in f.by_wijk)
            relations.append(Relation(RelationKind.SUM, total, wijken))
        if f.by_track:
            tracks = tuple(cell_id("track", p, t) for t in f.by_track)
            relations.append(Relation(RelationKind.COVER, total, tracks))
    if len(figures) > 1:
        whole, parts = figures[0], figures[1:]
        w, ps = whole.period, [f.period for f in parts]

        def across(kind: str, name: str | None, relation: RelationKind) -> None:
            relations.append(
                Relation(
                    relation, cell_id(kind, w, name), tuple(cell_id(kind, p, name) for p in ps)
                )
            )

        across("young_people", None, RelationKind.COVER)
        for track in whole.by_track:
            across("track", track, RelationKind.COVER)
        for wijk in whole.by_wijk:
            across("wijk", wijk, RelationKind.COVER)
        across("started", None, RelationKind.SUM)
        across("ended", None, RelationKind.SUM)
    return Table(values, tuple(relations))
