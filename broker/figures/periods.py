"""The monitoring figures' request: who may ask (the coordinator, purpose uitvoering) and for which
period (whole months, Europe/Amsterdam, at most five years, by month or quarter).
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
from dataclasses import dataclass
from typing import Literal
from zoneinfo import ZoneInfo

import policies
from broker.core.auth import choose_role
from broker.core.problems import Problem
from broker.identity.actors import Actor

__all__ = [
    "AMSTERDAM",
    "FIRST_YEAR",
    "LAST_YEAR",
    "MAX_MONTHS",
    "PURPOSE",
    "ROLE",
    "Grouping",
    "Period",
    "StatsRequest",
    "StatsRequestError",
    "coordinator_role",
    "parse_request",
]


MAX_MONTHS = 60  # five years


FIRST_YEAR, LAST_YEAR = 1900, 2999  # a date outside these years is a typing mistake


PURPOSE = "uitvoering"  # the programme's monitoring is part of carrying out the plans


ROLE = "coordinator"


Grouping = Literal["month", "quarter"]


_DATE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")


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


AMSTERDAM = ZoneInfo("Europe/Amsterdam")


def coordinator_role(c: policies.Convenant, actor: Actor, asked: str | None) -> str:
    """The role in which `actor` asks for the figures: the coordinator's, for the purpose
    `uitvoering`. 403 when another purpose is asked or the actor is not the coordinator."""
    if asked is not None and asked != PURPOSE:
        raise Problem(
            403,
            "purpose_not_for_endpoint",
            f"The monitoring figures serve the purpose {PURPOSE!r}.",
        )
    role = c.roles.get(ROLE)
    if ROLE not in actor.roles or role is None or actor.party not in role.parties:
        raise Problem(403, "coordinator_only", "Only the coordinator asks for the figures.")
    return choose_role(c, actor, PURPOSE, ROLE)
