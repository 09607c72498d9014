"""The coordinator's monitoring dashboard: the figures the API publishes, as charts and tables
— a withheld figure with its marker and never a bar — the CSV, who may see it, the period form,
and every request audited."""

from __future__ import annotations

import csv
import datetime as dt
import html
import io
import itertools
import re
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from broker.cli.service import issue_token
from broker.figures.stats import csv_text
from broker.identity.subjects import is_valid_bsn
from broker.web.dashboard import Cell, PeriodForm, column_chart, row_chart
from tests.broker.test_stats import case, population, young
from tests.strategies import suppression_counts
from tests.web.conftest import Site, text_of

AMSTERDAM = ZoneInfo("Europe/Amsterdam")
MARKERS = ("<5", "x")
TIME_SERIES = ("young_people", "started", "ended")
PROPERTY = settings(
    max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
_wijk_serial = itertools.count(1)


# ── reading the page ────────────────────────────────────────────────────────────────────────


@dataclass
class Shown:
    """What a dashboard page shows: its tables (figure → row → column → text) and, per chart,
    the bars and the markers drawn (chart → {(key, series)} / {(key, series): text})."""

    tables: dict[str, dict[str, dict[str, str]]] = field(default_factory=dict)
    bars: dict[str, dict[tuple[str, str], float]] = field(default_factory=dict)  # their lengths
    markers: dict[str, dict[tuple[str, str], str]] = field(default_factory=dict)
    values: dict[str, dict[tuple[str, str], str]] = field(default_factory=dict)


class _Reader(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.shown = Shown()
        self._table: dict[str, dict[str, str]] | None = None
        self._row: dict[str, str] | None = None
        self._column: str | None = None
        self._chart: str | None = None
        self._length = "width"
        self._text: tuple[str, tuple[str, str]] | None = None
        self._data: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "table" and "data-figure" in a:
            self._table = self.shown.tables.setdefault(a["data-figure"], {})
        elif tag == "tr" and self._table is not None and "data-key" in a:
            self._row = self._table.setdefault(a["data-key"], {})
        elif tag == "td" and self._row is not None and "data-column" in a:
            self._column, self._data = a["data-column"], []
        elif tag == "svg":
            self._chart = a["aria-labelledby"]
            self._length = "width" if "chart-rows" in a.get("class", "") else "height"
            for kind in (self.shown.bars, self.shown.markers, self.shown.values):
                kind[self._chart] = {}
        elif tag == "rect" and self._chart and "bar" in a.get("class", "").split():
            length = float(a[self._length])
            self.shown.bars[self._chart][(a["data-key"], a["data-series"])] = length
        elif tag == "text" and self._chart and a.get("class") in ("marker", "value"):
            self._text, self._data = (a["class"], (a["data-key"], a["data-series"])), []

    def handle_endtag(self, tag: str) -> None:
        if tag == "td" and self._column is not None and self._row is not None:
            self._row[self._column] = "".join(self._data).strip()
            self._column = None
        elif tag == "text" and self._text is not None and self._chart is not None:
            kind, key = self._text
            where = self.shown.markers if kind == "marker" else self.shown.values
            where[self._chart][key] = "".join(self._data).strip()
            self._text = None
        elif tag == "tr":
            self._row = None
        elif tag == "table":
            self._table = None
        elif tag == "svg":
            self._chart = None

    def handle_data(self, data: str) -> None:
        if self._column is not None or self._text is not None:
            self._data.append(data)


def read(page: str) -> Shown:
    """The tables and charts of a dashboard page."""
    reader = _Reader()
    reader.feed(page)
    return reader.shown


def number(text: str) -> int | float | str:
    """A figure as the page writes it (Dutch: 1.234 and 2,5) back as the API gives it."""
    if text in MARKERS:
        return text
    plain = text.replace(".", "")
    return float(plain.replace(",", ".")) if "," in plain else int(plain)


# ── asking ──────────────────────────────────────────────────────────────────────────────────


def _days(params: dict[str, str]) -> dict[str, str]:
    """The API's parameters for the page's months."""
    first = dt.date.fromisoformat(params["from"] + "-01")
    last_month = dt.date.fromisoformat(params["to"] + "-01")
    last = (last_month + dt.timedelta(days=32)).replace(day=1) - dt.timedelta(days=1)
    return {"from": first.isoformat(), "to": last.isoformat(), "by": params.get("by", "month")}


def api_report(site: Site, params: dict[str, str]) -> dict[str, Any]:
    """What /api/v1/stats publishes to the coordinator for the page's months."""
    with site.app.app_context():
        token = issue_token("mulder")
    response = site.app.test_client().get(
        "/api/v1/stats", query_string=_days(params), headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status_code == 200, response.json
    body = response.get_json()
    assert isinstance(body, dict)
    return body


def default_months() -> dict[str, str]:
    """The page's default: the last twelve months, this one included (Amsterdam)."""
    today = dt.datetime.now(AMSTERDAM).date()
    index = today.year * 12 + today.month - 1 - 11
    return {
        "from": f"{index // 12:04d}-{index % 12 + 1:02d}",
        "to": f"{today.year:04d}-{today.month:02d}",
        "by": "month",
    }


def fictitious_bsn(n: int) -> str:
    """A test number from `n` that passes the eleven-check (all of them start with 99)."""
    return next(b for b in (f"99{n:04d}{t:03d}" for t in range(1000)) if is_valid_bsn(b))


# ── checking ────────────────────────────────────────────────────────────────────────────────


def assert_tables_match(shown: Shown, report: dict[str, Any]) -> None:
    """Every table of the page holds exactly what the API published, and nothing more."""
    periods = report["periods"]
    whole, parts = periods[0], periods[1:]
    tables = {
        k: {r: {c: number(v) for c, v in cols.items()} for r, cols in rows.items()}
        for k, rows in shown.tables.items()
    }
    assert tables["by_track"] == {t: {"young_people": v} for t, v in whole["by_track"].items()}
    if whole["by_wijk"]:
        assert tables["by_wijk"] == {w: {"young_people": v} for w, v in whole["by_wijk"].items()}
    else:
        assert "by_wijk" not in tables
    columns = ("young_people", "started", "ended", "median_days_to_triage")
    expected = {p["period"]: {c: p[c] for c in columns} for p in (parts or [whole])}
    if parts:
        expected[whole["period"]] = {c: whole[c] for c in columns}
    assert tables["periods"] == expected
    everything = {}
    for p in periods:
        row = {c: p[c] for c in columns}
        row.update({f"track:{t}": v for t, v in p["by_track"].items()})
        row.update({f"wijk:{w}": v for w, v in p["by_wijk"].items()})
        everything[p["period"]] = row
    assert tables["all"] == everything


def assert_charts_match(shown: Shown, report: dict[str, Any]) -> None:
    """Each published figure has its bar and its value; each withheld one its marker and no
    bar; the bars' lengths are in proportion to the published figures."""
    periods = report["periods"]
    whole = periods[0]
    charts = {
        "grafiek-trajecten-titel": {(t, "young_people"): v for t, v in whole["by_track"].items()},
        "grafiek-wijken-titel": {(w, "young_people"): v for w, v in whole["by_wijk"].items()},
        "grafiek-tijd-titel": {
            (p["period"], s): p[s] for p in (periods[1:] or periods[:1]) for s in TIME_SERIES
        },
    }
    if not whole["by_wijk"]:
        del charts["grafiek-wijken-titel"]
    assert set(shown.bars) == set(charts)
    for chart, published in charts.items():
        withheld = {k: v for k, v in published.items() if v in MARKERS}
        counted = {k: v for k, v in published.items() if v not in MARKERS}
        assert shown.markers[chart] == withheld, chart
        assert set(shown.bars[chart]) == set(counted), chart
        assert {k: number(v) for k, v in shown.values[chart].items()} == counted, chart
        assert_in_proportion({k: (shown.bars[chart][k], v) for k, v in counted.items()})


def assert_in_proportion(bars: dict[Any, tuple[float, Any]]) -> None:
    """Each bar's length is its figure times one scale (the lengths are rounded to 0.1)."""
    if not bars:
        return
    length, top = max(bars.values(), key=lambda b: b[1])
    for key, (other, value) in bars.items():
        assert abs(other - value * length / top) <= 0.1, key


def stats_reads(site: Site, since: int) -> list[Any]:
    """The stats.read audit records after the first `since` entries."""
    return [e for e in site.entries()[since:] if e.event == "stats.read"]


# ── the figures ─────────────────────────────────────────────────────────────────────────────


@pytest.mark.parametrize(
    "params",
    [
        {"from": "2026-01", "to": "2026-03", "by": "month"},
        {"from": "2025-11", "to": "2026-06", "by": "quarter"},
        {"from": "2026-02", "to": "2026-02", "by": "month"},
    ],
)
def test_the_page_shows_what_the_api_publishes(any_site: Site, params: dict[str, str]) -> None:
    """Per track, per wijk and per period the page's tables and charts hold exactly the
    figures /api/v1/stats publishes for the same months, "<5" and "x" included."""
    population(any_site.app)
    report = api_report(any_site, params)
    published = [
        v for p in report["periods"] for v in (*p["by_track"].values(), *p["by_wijk"].values())
    ]
    assert "<5" in published and any(isinstance(v, int) for v in published)
    response = any_site.login("mulder").get("/dashboard", query_string=params)
    assert response.status_code == 200
    shown = read(text_of(response))
    assert_tables_match(shown, report)
    assert_charts_match(shown, report)


def test_a_protected_figure_is_an_x_without_a_bar(site: Site) -> None:
    """In January–March 2026 a wijk of one young person is "<5", and a figure of 5 or more is
    withheld as "x" so that the "<5" cannot be worked out: neither gets a bar."""
    population(site.app)
    params = {"from": "2026-01", "to": "2026-03", "by": "month"}
    report = api_report(site, params)
    whole = report["periods"][0]
    assert whole["by_wijk"]["Oud Oost"] == "<5"
    assert "x" in (whole["by_wijk"]["Vlietzone"], whole["young_people"])
    page = text_of(site.login("mulder").get("/dashboard", query_string=params))
    shown = read(page)
    wijken = shown.bars["grafiek-wijken-titel"]
    for wijk, value in whole["by_wijk"].items():
        if value in MARKERS:
            assert shown.markers["grafiek-wijken-titel"][(wijk, "young_people")] == value
            assert (wijk, "young_people") not in wijken
    assert shown.tables["by_wijk"]["Oud Oost"] == {"young_people": "<5"}
    footer = shown.tables["periods"][whole["period"]]
    assert footer["young_people"] == str(whole["young_people"])
    assert "x" in (shown.tables["by_wijk"]["Vlietzone"]["young_people"], footer["young_people"])


def test_signals_of_a_few_young_people_in_a_wijk_are_suppressed(site: Site) -> None:
    """Signals submitted through the API this month — six young people in one wijk, two in
    another — show up in the default period as the API publishes them: the two as "<5",
    without a bar."""
    with site.app.app_context():
        police = issue_token("jansen")
    client = site.app.test_client()
    for n, wijk in enumerate(["Camminghaburen"] * 6 + ["De Zuidlanden"] * 2):
        response = client.post(
            "/api/v1/signals",
            json={"subject": {"bsn": fictitious_bsn(n)}, "fields": {"wijk": wijk}},
            headers={"Authorization": f"Bearer {police}"},
        )
        assert response.status_code == 201, response.json
    params = default_months()
    report = api_report(site, params)
    shown = read(text_of(site.login("mulder").get("/dashboard")))
    assert_tables_match(shown, report)
    assert_charts_match(shown, report)
    assert shown.tables["by_wijk"]["De Zuidlanden"] == {"young_people": "<5"}
    assert ("De Zuidlanden", "young_people") not in shown.bars["grafiek-wijken-titel"]
    many = report["periods"][0]["by_wijk"]["Camminghaburen"]
    assert many in (6, "x")
    assert (("Camminghaburen", "young_people") in shown.bars["grafiek-wijken-titel"]) == (many == 6)


@PROPERTY
@given(counts=st.lists(suppression_counts, min_size=1, max_size=4))
def test_no_withheld_figure_shows_its_true_count(site: Site, counts: list[int]) -> None:
    """For young people in new wijken in February 2026 (any counts around the threshold): a
    wijk under 5 is "<5", a published one its true count, and no withheld wijk's true count
    appears as its value, nor does it get a bar."""
    wijken = [f"Proefwijk {next(_wijk_serial)}" for _ in counts]
    for wijk, n in zip(wijken, counts, strict=True):
        for _ in range(n):
            case(site.app, young(site.app), "2026-02-10", [], wijk)
    params = {"from": "2026-02", "to": "2026-02", "by": "month"}
    shown = read(text_of(site.browser("mulder").get("/dashboard", query_string=params)))
    table = shown.tables.get("by_wijk", {})
    bars = shown.bars.get("grafiek-wijken-titel", {})
    for wijk, n in zip(wijken, counts, strict=True):
        if n == 0:
            assert wijk not in table  # nobody there: not a wijk of the figures
            continue
        value = table[wijk]["young_people"]
        if n < 5:
            assert value == "<5"
        if value in MARKERS:
            assert (wijk, "young_people") not in bars
            assert shown.markers["grafiek-wijken-titel"][(wijk, "young_people")] == value
            assert (wijk, "young_people") not in shown.values["grafiek-wijken-titel"]
        else:
            assert number(value) == n and (wijk, "young_people") in bars


@given(
    shown=st.lists(
        st.one_of(st.sampled_from(MARKERS), st.integers(min_value=5, max_value=5000)),
        min_size=1,
        max_size=12,
    )
)
def test_a_chart_draws_bars_for_published_figures_only(shown: list[int | str]) -> None:
    """Whatever is published: a bar (in proportion) for each count, the marker alone for each
    withheld figure, in both kinds of chart."""
    cells = [Cell(f"k{i}", f"naam {i}", v) for i, v in enumerate(shown)]
    rows = row_chart("r", "titel", "uitleg", cells)
    columns = column_chart(
        "c",
        "titel",
        "uitleg",
        [(c.key, c.label, {"young_people": c}) for c in cells],
        series=("young_people",),
    )
    for chart, length in ((rows, 2), (columns, 3)):
        counted = {c.key: c.shown for c in cells if not c.is_withheld}
        assert {m.key for m in chart.bars} == set(counted)
        assert {m.key: m.text for m in chart.marks if m.bar is None} == {
            c.key: c.shown for c in cells if c.is_withheld
        }
        assert_in_proportion(
            {m.key: (m.bar[length], counted[m.key]) for m in chart.bars if m.bar is not None}
        )


# ── the CSV ─────────────────────────────────────────────────────────────────────────────────


def test_the_csv_is_the_api_report_as_csv(any_site: Site) -> None:
    """/dashboard.csv gives csv_text of the API's report for the same months (the same rows
    and columns; the API's JSON sorts the tracks by name, the CSV keeps the convenant's order,
    as `broker stats` does), as an attachment named after them, and is audited like the page."""
    population(any_site.app)
    params = {"from": "2026-01", "to": "2026-03", "by": "month"}
    report = api_report(any_site, params)
    client = any_site.login("mulder")
    page = text_of(client.get("/dashboard", query_string=params))
    link = re.search(r'<a href="(/dashboard\.csv\?[^"]+)"', page)
    assert link
    before = len(any_site.entries())
    response = client.get(html.unescape(link.group(1)))
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert response.headers["Content-Disposition"] == (
        'attachment; filename="monitoring-2026-01-2026-03.csv"'
    )
    text = response.get_data(as_text=True)
    rows = list(csv.DictReader(io.StringIO(text)))
    assert rows == list(csv.DictReader(io.StringIO(csv_text(report))))
    assert len(rows) == len(report["periods"]) == 4
    (read_,) = stats_reads(any_site, before)
    assert (read_.outcome, read_.person_id, read_.role, read_.purpose) == (
        "success",
        "mulder",
        "coordinator",
        "uitvoering",
    )
    assert (read_.detail["from"], read_.detail["to"]) == ("2026-01-01", "2026-03-31")
    command = any_site.app.test_cli_runner().invoke(
        args=["stats", "--from", "2026-01-01", "--to", "2026-03-31", "--by", "month"]
    )
    assert command.exit_code == 0 and command.output == text


# ── who may see it ──────────────────────────────────────────────────────────────────────────


def test_the_dashboard_needs_a_login(site: Site) -> None:
    """Without a session the page and the CSV send the browser to /login."""
    for path in ("/dashboard", "/dashboard.csv"):
        response = site.client().get(path)
        assert response.status_code == 302
        location = urlsplit(response.headers["Location"])
        assert location.path == "/login" and parse_qs(location.query)["next"] == [path]


@pytest.mark.parametrize("username", ["bakker", "dekker"])
def test_only_the_coordinator_sees_the_dashboard(site: Site, username: str) -> None:
    """A case worker and the privacy officer get 403 for the page and the CSV, audited as a
    refused read of the figures, and no menu item for it."""
    client = site.login(username)
    before = len(site.entries())
    assert client.get("/dashboard").status_code == 403
    assert client.get("/dashboard.csv").status_code == 403
    refused = stats_reads(site, before)
    assert [(e.outcome, e.person_id, e.detail["code"]) for e in refused] == [
        ("denied", username, "coordinator_only")
    ] * 2
    home = client.get("/", follow_redirects=True)
    assert 'href="/dashboard"' not in text_of(home)
    assert 'href="/dashboard"' in text_of(site.login("mulder").get("/dashboard"))


def test_the_page_is_read_once_and_audited(site: Site) -> None:
    """Opening the page writes one record: a read of the figures by the coordinator for
    uitvoering, without a young person, for the last twelve months by default."""
    months = default_months()
    before = len(site.entries())
    page = text_of(site.login("mulder").get("/dashboard"))
    (entry,) = stats_reads(site, before)
    assert (entry.action, entry.outcome, entry.person_id) == ("read", "success", "mulder")
    assert (entry.role, entry.purpose, entry.subject) == ("coordinator", "uitvoering", None)
    expected = _days(months)
    assert (entry.detail["from"], entry.detail["to"], entry.detail["by"]) == (
        expected["from"],
        expected["to"],
        "month",
    )
    assert f'name="from" type="month" value="{months["from"]}"' in page
    assert f'name="to" type="month" value="{months["to"]}"' in page


# ── the form ────────────────────────────────────────────────────────────────────────────────


@pytest.mark.parametrize(
    ("params", "name"),
    [
        ({"from": "2026-05", "to": "2026-02"}, "to"),
        ({"from": "maart"}, "from"),
        ({"to": "2026-13"}, "to"),
        ({"from": "2020-01", "to": "2025-01"}, "to"),
        ({"by": "week"}, "by"),
    ],
)
def test_a_bad_period_is_named_by_its_field(site: Site, params: dict[str, str], name: str) -> None:
    """From after to, not a month, more than 60 months or an unknown grouping: 422 with the
    problem beside its field, audited as a refusal, and no figures read."""
    client = site.login("mulder")
    for path in ("/dashboard", "/dashboard.csv"):
        before = len(site.entries())
        response = client.get(path, query_string=params)
        assert response.status_code == 422 and response.mimetype == "text/html"
        page = text_of(response)
        assert f'id="p-{name}-fout"' in page and 'aria-invalid="true"' in page
        assert 'class="error-summary"' in page and "<svg" not in page
        entries = site.entries()[before:]
        assert [(e.event, e.outcome, e.detail["code"]) for e in entries] == [
            ("stats.read", "invalid", "invalid_period")
        ]


@pytest.mark.parametrize(
    ("args", "first", "last"),
    [
        ({"from": "2026-03", "to": "2026-05"}, "2026-03-01", "2026-05-31"),
        ({"from": "2026-3", "to": "5-2026"}, "2026-03-01", "2026-05-31"),
        ({"from": "03/2026", "to": "2026-02"}, None, None),
        ({"from": " 2024-02 ", "to": "2024-02"}, "2024-02-01", "2024-02-29"),
        ({"to": "2026-02"}, "2025-03-01", "2026-02-28"),
        ({}, "2025-12-01", "2026-11-30"),
        ({"from": "2026-00"}, None, "2026-11-30"),
        ({"from": "2026-03-01"}, None, "2026-11-30"),
    ],
)
def test_months_are_read_as_typed_or_as_a_browser_sends_them(
    args: dict[str, str], first: str | None, last: str | None
) -> None:
    """A month as <input type="month"> sends it, or typed by hand; without one, the twelve
    months up to `to` (this month by default)."""
    form = PeriodForm.read(args, (2026, 11))
    if first is None:
        assert form.asked is None and form.errors
        return
    assert form.asked is not None and not form.errors
    assert (form.asked.first.isoformat(), form.asked.last.isoformat()) == (first, last)
    assert last is not None
    assert form.values["from"] == first[:7] and form.values["to"] == last[:7]


def test_the_page_has_no_inline_code_and_its_charts_are_named(site: Site) -> None:
    """No inline script or style (the CSP allows neither); each chart is a figure with a
    caption, an SVG image with a title, and a table with a caption and header cells."""
    population(site.app)
    page = text_of(
        site.login("mulder").get("/dashboard", query_string={"from": "2026-01", "to": "2026-03"})
    )
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", page)
    assert "<style" not in page and not re.search(r"\sstyle=", page)
    svgs = re.findall(r"<svg\b[^>]*>.*?</svg>", page, flags=re.S)
    assert len(svgs) == 3
    for svg in svgs:
        opening = svg[: svg.index(">")]
        assert 'role="img"' in opening
        labelled = re.search(r'aria-labelledby="([^"]+)"', opening)
        assert labelled and f'<title id="{labelled.group(1)}">' in svg
    assert page.count("<figure") == 3 and page.count("<figcaption>") == 3
    tables = re.findall(r"<table\b.*?</table>", page, flags=re.S)
    assert len(tables) == 4
    for table in tables:
        assert "<caption>" in table and 'scope="col"' in table and 'scope="row"' in table
