"""The coordinator's monitoring dashboard: young people per track, per wijk and over time, the
cases started and ended, and the median days to triage — the figures of /api/v1/stats as
charts and tables, and as CSV.

The page calls the same function as the API (`figures.stats.stats_report`), so the figures are
counted, suppressed, audited and committed exactly as there; this module reads the period from
the form and draws what was published. A withheld figure ("<5", "x") gets its marker and never a
bar, and nothing on the page is worked out from it (the scale of a chart comes from the
published figures alone). The charts are inline SVG drawn on the server — the CSP allows no
inline script or style, so the colours are classes in web.css — each with a table of the same
figures for screen readers and keyboards.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from flask import current_app, g, request
from werkzeug.wrappers import Response

import policies
from broker.core.auth import request_id, source_address
from broker.core.context import Context
from broker.core.problems import Problem
from broker.core.runtime import db_session, runtime
from broker.figures.counting import UNKNOWN_WIJK
from broker.figures.periods import (
    AMSTERDAM,
    FIRST_YEAR,
    LAST_YEAR,
    MAX_MONTHS,
    PURPOSE,
    ROLE,
    StatsRequest,
    StatsRequestError,
    coordinator_role,
    parse_request,
)
from broker.figures.stats import csv_text, stats_report
from broker.figures.suppression import PROTECTIVE_MARK, small_mark
from broker.storage.models import utcnow

from .blueprint import REFUSAL_EVENTS, audit_shown, page, register_nav, web
from .charts import Cell, Chart, column_chart, figure, row_chart
from .i18n import gettext
from .session import page_actor

__all__ = [
    "Dashboard",
    "PeriodForm",
    "PeriodRow",
    "dashboard_of",
    "period_label",
    "this_month",
]

FIELDS = ("from", "to", "by")
MONTHS_SHOWN = 12  # without a period: the last twelve months, this one included
MAX_INPUT = 20
# A month as <input type="month"> sends it (2026-03), or typed where a browser shows a text box
# (2026-3, 03-2026, 3/2026).
_MONTH_INPUTS = (
    re.compile(r"^(?P<year>[0-9]{4})-(?P<month>[0-9]{1,2})$"),
    re.compile(r"^(?P<month>[0-9]{1,2})[-/](?P<year>[0-9]{4})$"),
)

register_nav("web.dashboard", "Monitoring", {ROLE}, order=40)
REFUSAL_EVENTS.update(
    {
        "web.dashboard": ("stats.read", "read"),
        "web.dashboard_csv": ("stats.read", "read"),
    }
)

Month = tuple[int, int]  # (year, month)


# ── the period ──────────────────────────────────────────────────────────────────────────────


def _parse_month(text: str) -> Month | None:
    """A month as typed (2026-03, 2026-3, 03-2026, 3/2026); None when it is not one."""
    for pattern in _MONTH_INPUTS:
        found = pattern.match(text)
        if found:
            year, month = int(found["year"]), int(found["month"])
            if FIRST_YEAR <= year <= LAST_YEAR and 1 <= month <= 12:
                return year, month
            return None
    return None


def _shift(month: Month, months: int) -> Month:
    index = month[0] * 12 + month[1] - 1 + months
    return index // 12, index % 12 + 1


def _first_day(month: Month) -> str:
    return dt.date(month[0], month[1], 1).isoformat()


def _last_day(month: Month) -> str:
    year, number = _shift(month, 1)
    return (dt.date(year, number, 1) - dt.timedelta(days=1)).isoformat()


def this_month(now: dt.datetime) -> Month:
    """The calendar month of a moment in Leeuwarden."""
    local = now.astimezone(AMSTERDAM)
    return local.year, local.month


def _period_problem(problem: str) -> str:
    """A problem `broker.figures.periods.parse_request` found, in the person's language."""
    if problem.startswith("must be month or quarter"):
        return gettext("kies per maand of per kwartaal")
    if problem.startswith("must not be before"):
        return gettext("mag niet vóór de eerste maand liggen")
    if problem.startswith("the range is at most"):
        return gettext("de periode is hoogstens {months} maanden (vijf jaar)", months=MAX_MONTHS)
    return gettext("is geen maand (jjjj-mm)")


@dataclass
class PeriodForm:
    """The dashboard's period as typed (`from` and `to` months, `by` month or quarter), the
    problem with each field, and the figures' request when there is none."""

    values: dict[str, str]
    errors: dict[str, str]
    asked: StatsRequest | None = None

    @classmethod
    def read(cls, args: Mapping[str, Any], today: Month) -> PeriodForm:
        """The form of a query string; an empty `to` is this month, an empty `from` the
        eleventh month before `to`, an empty `by` by month."""
        raw = {name: str(args.get(name, "")).strip()[:MAX_INPUT] for name in FIELDS}
        errors: dict[str, str] = {}
        last = _parse_month(raw["to"]) if raw["to"] else today
        if last is None:
            errors["to"] = gettext("is geen maand (jjjj-mm)")
        if raw["from"]:
            first = _parse_month(raw["from"])
        else:
            first = _shift(last or today, 1 - MONTHS_SHOWN)
        if first is None:
            errors["from"] = gettext("is geen maand (jjjj-mm)")
        values = {
            "from": f"{first[0]:04d}-{first[1]:02d}" if first else raw["from"],
            "to": f"{last[0]:04d}-{last[1]:02d}" if last else raw["to"],
            "by": raw["by"] or "month",
        }
        asked = None
        try:
            asked = parse_request(
                _first_day(first) if first else "",
                _last_day(last) if last else "",
                values["by"],
            )
        except StatsRequestError as exc:
            for problem in exc.errors:
                errors.setdefault(problem["field"], _period_problem(problem["problem"]))
        ordered = {name: errors[name] for name in FIELDS if name in errors}
        return cls(values, ordered, asked if not ordered else None)


# ── what the page shows of a report ─────────────────────────────────────────────────────────


@web.app_template_filter("figure")
def _figure_filter(value: Any) -> str:
    return figure(value)


@dataclass(frozen=True)
class PeriodRow:
    """The figures of one period: the period as the API names it, its name on the page, and
    its cells (young people, started, ended, median days to triage, per track, per wijk)."""

    key: str
    label: str
    cells: dict[str, Cell]
    by_track: dict[str, Cell]
    by_wijk: dict[str, Cell]


def _month_names() -> tuple[str, ...]:
    return (
        gettext("jan"),
        gettext("feb"),
        gettext("mrt"),
        gettext("apr"),
        gettext("mei"),
        gettext("jun"),
        gettext("jul"),
        gettext("aug"),
        gettext("sep"),
        gettext("okt"),
        gettext("nov"),
        gettext("dec"),
    )


def period_label(period: Mapping[str, Any]) -> str:
    """A period's name on the page: jan 2026, K1 2026 (its months when the range cuts it
    short), or jan 2026 – mrt 2026 for the whole range."""
    first, last = dt.date.fromisoformat(period["from"]), dt.date.fromisoformat(period["to"])
    names = _month_names()

    def month(day: dt.date) -> str:
        return f"{names[day.month - 1]} {day.year}"

    if period["kind"] == "month":
        return month(first)
    if period["kind"] == "quarter":
        quarter = (first.month + 2) // 3
        text = gettext("K{quarter} {year}", quarter=quarter, year=first.year)
        if first.month != 3 * quarter - 2 or last.month != 3 * quarter:
            text += f" ({names[first.month - 1]}–{names[last.month - 1]})"
        return text
    if (first.year, first.month) == (last.year, last.month):
        return month(first)
    return f"{month(first)} – {month(last)}"


def _figure_names() -> dict[str, str]:
    return {
        "young_people": gettext("Jongeren"),
        "by_track": gettext("Per traject"),
        "by_wijk": gettext("Per wijk"),
        "started": gettext("Gestart"),
        "ended": gettext("Beëindigd"),
        "median_days_to_triage": gettext("Mediaan dagen tot triage"),
    }


def _definitions(report: Mapping[str, Any]) -> list[tuple[str, str, str]]:
    """The report's definitions as (key, name, meaning as the report gives it); the page
    shows its own words for the meanings it knows (the template holds them: they are long)."""
    names = _figure_names()
    return [(key, names.get(key, key), str(text)) for key, text in report["definitions"].items()]


def _track_label(c: policies.Convenant, track: str) -> str:
    known = c.tracks.get(track)
    return known.description if known is not None and known.description else track


def _wijk_label(wijk: str) -> str:
    return gettext("onbekend") if wijk == UNKNOWN_WIJK else wijk


def _row(c: policies.Convenant, period: Mapping[str, Any]) -> PeriodRow:
    names = _figure_names()
    cells = {
        key: Cell(key, names[key], period[key])
        for key in ("young_people", "started", "ended", "median_days_to_triage")
    }
    return PeriodRow(
        key=str(period["period"]),
        label=period_label(period),
        cells=cells,
        by_track={t: Cell(t, _track_label(c, t), v) for t, v in period["by_track"].items()},
        by_wijk={w: Cell(w, _wijk_label(w), v) for w, v in period["by_wijk"].items()},
    )


# ── the charts ──────────────────────────────────────────────────────────────────────────────


@dataclass(frozen=True)
class Dashboard:
    """What the page shows of a report: the range, its figures per track, per wijk and per
    period, the charts drawn from them, what the markers mean, and the definitions."""

    range_label: str
    by: str
    whole: PeriodRow
    parts: list[PeriodRow]
    tracks: list[str]
    wijken: list[str]
    charts: dict[str, Chart]
    threshold: int
    markers: list[str]
    definitions: list[tuple[str, str, str]]

    @property
    def small(self) -> str:
        """The marker of a count under the threshold ("<5")."""
        return small_mark(self.threshold)

    @property
    def protective(self) -> str:
        """The marker of a count withheld to protect a small one ("x")."""
        return PROTECTIVE_MARK

    @property
    def over_time(self) -> list[PeriodRow]:
        """The periods of the chart over time: each month or quarter, or the range alone."""
        return self.parts or [self.whole]

    @property
    def rows(self) -> list[PeriodRow]:
        """Every period: the range first."""
        return [self.whole, *self.parts]


def dashboard_of(report: Mapping[str, Any], c: policies.Convenant) -> Dashboard:
    """The page's view of a published report (never of the true figures)."""
    rows = [_row(c, p) for p in report["periods"]]
    whole, parts = rows[0], rows[1:]
    over_time = parts or [whole]
    in_table = gettext("De cijfers staan ook in de tabel onder de grafiek.")
    withheld = gettext("Een afgeschermd aantal heeft geen staaf maar zijn teken.")
    charts = {
        "tracks": row_chart(
            "grafiek-trajecten",
            gettext("Jongeren per traject, {period}", period=whole.label),
            f"{in_table} {withheld}",
            list(whole.by_track.values()),
        ),
        "wijken": row_chart(
            "grafiek-wijken",
            gettext("Jongeren per wijk, {period}", period=whole.label),
            f"{in_table} {withheld}",
            list(whole.by_wijk.values()),
        ),
        "time": column_chart(
            "grafiek-tijd",
            gettext("Jongeren, gestarte en beëindigde casussen per periode"),
            f"{in_table} {withheld}",
            [(row.key, row.label, row.cells) for row in over_time],
        ),
    }
    return Dashboard(
        range_label=whole.label,
        by=str(report["by"]),
        whole=whole,
        parts=parts,
        tracks=list(whole.by_track),
        wijken=list(whole.by_wijk),
        charts=charts,
        threshold=int(report["suppression"]["threshold"]),
        markers=[str(mark) for mark in report["suppression"]["markers"]],
        definitions=_definitions(report),
    )


# ── the pages ───────────────────────────────────────────────────────────────────────────────


def _coordinator() -> Context:
    """The coordinator acting for `uitvoering`, as for the API (403 for anyone else); the
    purpose and role are kept in `g` for the page's audit record."""
    asked, actor = request.args.get("purpose"), page_actor()
    g.purpose = PURPOSE if asked is None or asked == PURPOSE else None
    g.role = coordinator_role(runtime().convenant, actor, asked)
    return Context(actor, request_id(), source_address(), role=g.role, purpose=PURPOSE)


def _figures() -> tuple[PeriodForm, dict[str, Any] | None]:
    """The form of the request and, when it is valid, the report (audited and committed)."""
    ctx = _coordinator()
    now = utcnow()
    form = PeriodForm.read(request.args, this_month(now))
    if form.asked is None:
        problem = Problem(
            422,
            "invalid_period",
            "The period is not valid: from and to are months, at most five years apart, by "
            "month or quarter.",
            audit={"problems": len(form.errors)},
        )
        audit_shown(problem)  # the form shows the problems itself
        return form, None
    return form, stats_report(db_session(), runtime(), ctx, form.asked, now)


BOUNDS = (f"{FIRST_YEAR}-01", f"{LAST_YEAR}-12")  # the month inputs' min and max


def _form_page(form: PeriodForm) -> Response:
    return page("web/dashboard.html", 422, form=form, view=None, bounds=BOUNDS)


@web.get("/dashboard")
def dashboard() -> Response:
    """The monitoring figures of a range of months as charts and tables, small counts
    suppressed; by default the last twelve months."""
    form, report = _figures()
    if report is None:
        return _form_page(form)
    view = dashboard_of(report, runtime().convenant)
    return page("web/dashboard.html", form=form, view=view, bounds=BOUNDS)


@web.get("/dashboard.csv")
def dashboard_csv() -> Response:
    """The same figures as CSV (one row per period), to download."""
    form, report = _figures()
    if report is None:
        return _form_page(form)
    response = current_app.response_class(csv_text(report), mimetype="text/csv")
    name = f"monitoring-{form.values['from']}-{form.values['to']}.csv"
    response.headers["Content-Disposition"] = f'attachment; filename="{name}"'
    return response
