"""The monitoring figures end to end (SQLite and PostgreSQL): exact counts where 5 or more,
"<5" where fewer, nothing a reader can work out, the CSV command, and every request audited."""

from __future__ import annotations

import csv
import datetime as dt
import io
import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from flask import Flask

from broker.core.runtime import runtime
from broker.storage.models import Case, FieldValue, Signal, TrackChange, YoungPerson
from tests.broker.conftest import Api

AMSTERDAM = ZoneInfo("Europe/Amsterdam")
RANGE = "2026-01-01/2026-03-31"
_serial = itertools.count(1)


def at(day: str, hour: int = 12) -> dt.datetime:
    """Noon (or `hour`) in Leeuwarden on that day."""
    return dt.datetime.combine(dt.date.fromisoformat(day), dt.time(hour), AMSTERDAM)


@dataclass
class Young:
    """A young person made directly in the database (the figures look back in time, which the
    API cannot do)."""

    id: int


def young(app: Flask) -> Young:
    with app.app_context():
        session = runtime().sessions()
        try:
            person = YoungPerson(subject_key=f"yp-stats-{next(_serial):04d}")
            session.add(person)
            session.commit()
            return Young(person.id)
        finally:
            session.close()


def case(
    app: Flask,
    who: Young,
    opened: str,
    moves: Sequence[tuple[str, str]] = (),
    wijk: str | None = None,
    closed: str | None = None,
    purged: str | None = None,
    superseded_wijk: str | None = None,
) -> str:
    """A case opened on `opened`, moved to each (day, track), closed and purged as given; its
    wijk as a value (or kept at the purge), plus a newer wijk value corrected away."""
    with app.app_context():
        session = runtime().sessions()
        try:
            track = moves[-1][1] if moves else "signaal"
            row = Case(
                young_person_id=who.id,
                track=track,
                opened_at=at(opened),
                closed_at=at(closed) if closed else None,
                purged_at=at(purged) if purged else None,
                wijk_at_purge=wijk if purged else None,
            )
            session.add(row)
            session.flush()
            steps = [
                TrackChange(
                    case_id=row.id,
                    from_track=None,
                    to_track="signaal",
                    reason="Signaal ontvangen",
                    decided_at=at(opened),
                )
            ]
            previous = "signaal"
            for day, to in moves:
                steps.append(
                    TrackChange(
                        case_id=row.id,
                        kind="track",
                        from_track=previous,
                        to_track=to,
                        reason="Besproken",
                        decided_at=at(day),
                    )
                )
                previous = to
            if closed:
                steps.append(
                    TrackChange(
                        case_id=row.id,
                        kind="close",
                        from_track=previous,
                        to_track=previous,
                        reason="verhuisd",
                        decided_at=at(closed),
                    )
                )
            session.add_all(steps)
            signal = Signal(case_id=row.id, party="gemeente", regime="avg", received_at=at(opened))
            session.add(signal)
            session.flush()
            values = [] if purged else [(wijk, None)] if wijk else []
            if superseded_wijk:
                values.append((superseded_wijk, at(opened, 13)))
            for value, superseded in values:
                session.add(
                    FieldValue(
                        case_id=row.id,
                        signal_id=signal.id,
                        field="wijk",
                        value=value,
                        party="gemeente",
                        regime="avg",
                        supplied_at=at(opened),
                        superseded_at=superseded,
                    )
                )
            session.commit()
            return row.id
        finally:
            session.close()


def population(app: Flask) -> None:
    """January–March 2026 in Leeuwarden Oost:

    - 7 in Bilgaard, signalled 10 January, PGA from 20 January (10 days to triage); one of them
      had a newer wijk value that the privacy officer corrected away (Heechterp);
    - 6 in Vlietzone, signalled 5 February, local preventive from 8 February (3 days); two of
      them to the ZVH on 1 March;
    - 2 in Oud Oost, signalled 3 January, never triaged, closed 15 February; one is signalled
      again on 10 March, now living in Vlietzone (one young person, two cases);
    - 1 purged case (Bilgaard, kept at the purge): PGA since December, closed 5 January;
    - 1 case closed before the range and 1 opened after it: not counted.
    """
    for n in range(7):
        who = young(app)
        case(
            app,
            who,
            "2026-01-10",
            [("2026-01-20", "pga")],
            "Bilgaard",
            superseded_wijk="Heechterp" if n == 0 else None,
        )
    for n in range(6):
        moves = [("2026-02-08", "lokaal_preventief")]
        if n < 2:
            moves.append(("2026-03-01", "zvh"))
        case(app, young(app), "2026-02-05", moves, "Vlietzone")
    moved_away = young(app)
    case(app, moved_away, "2026-01-03", [], "Oud Oost", closed="2026-02-15")
    case(app, moved_away, "2026-03-10", [], "Vlietzone")
    case(app, young(app), "2026-01-03", [], "Oud Oost", closed="2026-02-15")
    case(
        app,
        young(app),
        "2025-12-01",
        [("2025-12-15", "pga")],
        "Bilgaard",
        closed="2026-01-05",
        purged="2026-01-06",
    )
    case(app, young(app), "2025-10-01", [], "Bilgaard", closed="2025-11-01")
    case(app, young(app), "2026-04-10", [], "Bilgaard")


# The true figures of the population above, by period (worked out by hand).
TRUE: dict[str, dict[str, Any]] = {
    RANGE: {
        "young_people": 16,
        "by_track": {"signaal": 15, "lokaal_preventief": 6, "pga": 8, "zvh": 2},
        "by_wijk": {"Bilgaard": 8, "Oud Oost": 1, "Vlietzone": 7},
        "started": 16,
        "ended": 3,
        "median_days_to_triage": 10.0,
    },
    "2026-01": {
        "young_people": 10,
        "by_track": {"signaal": 9, "lokaal_preventief": 0, "pga": 8, "zvh": 0},
        "by_wijk": {"Bilgaard": 8, "Oud Oost": 1, "Vlietzone": 1},
        "started": 9,
        "ended": 1,
        "median_days_to_triage": 10.0,
    },
    "2026-02": {
        "young_people": 15,
        "by_track": {"signaal": 8, "lokaal_preventief": 6, "pga": 7, "zvh": 0},
        "by_wijk": {"Bilgaard": 7, "Oud Oost": 1, "Vlietzone": 7},
        "started": 6,
        "ended": 2,
        "median_days_to_triage": 3.0,
    },
    "2026-03": {
        "young_people": 14,
        "by_track": {"signaal": 1, "lokaal_preventief": 6, "pga": 7, "zvh": 2},
        "by_wijk": {"Bilgaard": 7, "Oud Oost": 0, "Vlietzone": 7},
        "started": 1,
        "ended": 0,
        "median_days_to_triage": "<5",
    },
}


def figures(api: Api, username: str = "mulder", **params: str) -> Any:
    query = {"from": "2026-01-01", "to": "2026-03-31", **params}
    return api.client.get("/api/v1/stats", query_string=query, headers=api.headers(username))


def _cells(period: dict[str, Any]) -> dict[str, Any]:
    out = {"young_people": period["young_people"], "started": period["started"]}
    out["ended"] = period["ended"]
    out.update({f"track:{k}": v for k, v in period["by_track"].items()})
    out.update({f"wijk:{k}": v for k, v in period["by_wijk"].items()})
    return out


def assert_faithful(shown: dict[str, Any], true: dict[str, Any]) -> None:
    """Every published count is the true one and at least 5; every count under 5 is "<5";
    an "x" stands for 5 or more."""
    assert shown.keys() == true.keys()
    for name, value in shown.items():
        if true[name] < 5:
            assert value == "<5", name
        else:
            assert value in (true[name], "x"), name


def test_figures_per_track_wijk_and_month_are_exact_or_suppressed(api: Api) -> None:
    """The coordinator gets the range and each month: counts of 5 or more exact (or withheld
    as "x" to protect a small one), counts under 5 as "<5", medians over 5 or more cases."""
    population(api.app)
    response = figures(api)
    assert response.status_code == 200, response.json
    body = response.json
    assert (body["from"], body["to"], body["by"]) == ("2026-01-01", "2026-03-31", "month")
    assert [p["period"] for p in body["periods"]] == [RANGE, "2026-01", "2026-02", "2026-03"]
    assert [p["kind"] for p in body["periods"]] == ["range", "month", "month", "month"]
    for period in body["periods"]:
        true = TRUE[period["period"]]
        assert set(period["by_track"]) == {"signaal", "lokaal_preventief", "pga", "zvh"}
        assert set(period["by_wijk"]) == {"Bilgaard", "Oud Oost", "Vlietzone"}
        assert_faithful(_cells(period), _cells(true))
        assert period["median_days_to_triage"] == true["median_days_to_triage"]
    whole = body["periods"][0]
    # the headline figures stay: 16 young people helped, 8 in the PGA, 16 signals
    assert whole["young_people"] == 16
    assert whole["by_track"]["pga"] == 8 and whole["by_track"]["signaal"] == 15
    assert whole["started"] == 16 and whole["by_wijk"]["Bilgaard"] == 8
    assert whole["by_wijk"]["Oud Oost"] == "<5" and whole["by_track"]["zvh"] == "<5"
    # Oud Oost (1) is not "the range minus Bilgaard and Vlietzone": one of those is withheld
    assert "x" in (whole["by_wijk"]["Vlietzone"], whole["young_people"])
    assert body["suppression"]["threshold"] == 5
    assert set(body["suppression"]["markers"]) == {"<5", "x"}
    assert "note" in body["suppression"] and "by_wijk" in body["definitions"]
    # a wijk value corrected away is never counted nor named
    assert "Heechterp" not in response.get_data(as_text=True)


def test_by_quarter_gives_the_range_alone_when_it_is_one_quarter(api: Api) -> None:
    """January–March by quarter is one period: the range, with the same figures."""
    population(api.app)
    body = figures(api, by="quarter").json
    assert [p["period"] for p in body["periods"]] == [RANGE]
    assert_faithful(_cells(body["periods"][0]), _cells(TRUE[RANGE]))
    by_month = figures(api).json["periods"][0]
    assert body["periods"][0]["young_people"] == by_month["young_people"] == 16


def test_quarters_within_a_longer_range(api: Api) -> None:
    """A range of two quarters answers the range and both quarters, labelled 2026-Q1/Q2."""
    population(api.app)
    body = figures(api, to="2026-06-30", by="quarter").json
    assert [p["period"] for p in body["periods"]] == ["2026-01-01/2026-06-30", "2026-Q1", "2026-Q2"]
    q1, q2 = body["periods"][1], body["periods"][2]
    assert_faithful(_cells(q1), _cells(TRUE[RANGE]))
    # in April–June: the 13 open cases of Bilgaard and Vlietzone, the signal of 10 March and
    # the case opened on 10 April (Bilgaard)
    true_q2 = {
        "young_people": 15,
        "by_track": {"signaal": 2, "lokaal_preventief": 4, "pga": 7, "zvh": 2},
        "by_wijk": {"Bilgaard": 8, "Oud Oost": 0, "Vlietzone": 7},
        "started": 1,
        "ended": 0,
    }
    assert_faithful(_cells(q2), _cells(true_q2))
    assert q2["median_days_to_triage"] == "<5"


def test_the_request_is_audited_without_a_subject(api: Api) -> None:
    """A read of the figures is one audit record: read, no young person, no case, the period
    in its detail, the coordinator's purpose and role."""
    population(api.app)
    assert figures(api).status_code == 200
    entry = api.audit_records()[-1].entry
    assert (entry.event, entry.action, entry.outcome) == ("stats.read", "read", "success")
    assert entry.subject is None and entry.case_id is None
    assert (entry.person_id, entry.role, entry.purpose) == ("mulder", "coordinator", "uitvoering")
    assert entry.detail["from"] == "2026-01-01" and entry.detail["to"] == "2026-03-31"
    assert entry.detail["by"] == "month" and entry.detail["periods"] == 4
    assert entry.legal_basis and "uitvoering" in entry.legal_basis


@pytest.mark.parametrize("username", ["jansen", "bos", "dekker"])
def test_only_the_coordinator_gets_the_figures(api: Api, username: str) -> None:
    """Case workers and the privacy officer are refused (403), and the refusal is audited."""
    population(api.app)
    response = figures(api, username)
    assert response.status_code == 403
    assert response.mimetype == "application/problem+json"
    entry = api.audit_records()[-1].entry
    assert (entry.event, entry.outcome, entry.person_id) == ("stats.read", "denied", username)


def test_another_purpose_is_refused(api: Api) -> None:
    """The figures serve the purpose uitvoering; asking them for triage is refused (403)."""
    response = figures(api, purpose="triage")
    assert response.status_code == 403
    assert response.json["code"] == "purpose_not_for_endpoint"


def test_no_token_is_refused(api: Api) -> None:
    """Without a token: 401 problem+json."""
    response = api.client.get("/api/v1/stats?from=2026-01-01&to=2026-03-31")
    assert response.status_code == 401 and response.mimetype == "application/problem+json"


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"from": "2026-13-01"}, "from"),
        ({"from": "01-01-2026"}, "from"),
        ({"from": "20260101"}, "from"),
        ({"to": "2026-02-30"}, "to"),
        ({"from": ""}, "from"),
        ({"from": "2026-01-15"}, "from"),
        ({"to": "2026-03-30"}, "to"),
        ({"from": "2026-04-01"}, "to"),
        ({"from": "2020-01-01", "to": "2025-01-31"}, "to"),
        ({"by": "week"}, "by"),
        ({"from": "9999-01-01", "to": "9999-12-31"}, "to"),
        ({"from": "0001-01-01", "to": "0001-12-31"}, "from"),
    ],
)
def test_a_bad_period_is_refused(api: Api, params: dict[str, str], field: str) -> None:
    """Bad dates, a range that is not whole months, to before from, more than five years or an
    unknown grouping: 422 naming the parameter, audited, nothing else happens."""
    before = len(api.audit_records())
    response = figures(api, **params)
    assert response.status_code == 422 and response.mimetype == "application/problem+json"
    assert response.json["code"] == "invalid_period"
    assert field in {e["field"] for e in response.json["errors"]}
    records = api.audit_records()
    assert len(records) == before + 2  # the token, then the refusal
    assert (records[-1].entry.event, records[-1].entry.outcome) == ("stats.read", "invalid")


def test_five_years_is_the_longest_range(api: Api) -> None:
    """Sixty months are answered (by quarter: the range and twenty quarters)."""
    body = figures(api, **{"from": "2022-01-01", "to": "2026-12-31", "by": "quarter"}).json
    assert len(body["periods"]) == 21 and body["periods"][-1]["period"] == "2026-Q4"


def test_an_empty_period_shows_only_small_counts(api: Api) -> None:
    """With no cases, every count is "<5" and no median is given."""
    body = figures(api).json
    for period in body["periods"]:
        assert period["young_people"] == "<5" and period["by_wijk"] == {}
        assert set(period["by_track"].values()) == {"<5"}
        assert period["median_days_to_triage"] == "<5"


def test_cases_made_through_the_api_are_counted(api: Api) -> None:
    """Signals, track changes and a closing done through the API show up in this month's
    figures: 6 young people signalled, 5 put on the PGA, 1 closed."""
    today = dt.datetime.now(AMSTERDAM).date()
    first = today.replace(day=1)
    last = (first + dt.timedelta(days=32)).replace(day=1) - dt.timedelta(days=1)
    ids = []
    for n in range(6):
        bsn = _bsn(n)
        response = api.signal("jansen", {"bsn": bsn}, {"wijk": "Heechterp-Schieringen"})
        assert response.status_code == 201, response.json
        ids.append(response.json["case_id"])
    for case_id in ids[:5]:
        assert api.track(case_id, "pga").status_code == 200
    closing = api.client.post(
        f"/api/v1/cases/{ids[5]}/close",
        json={"reason_code": "geen_grond"},
        headers=api.headers("mulder"),
    )
    assert closing.status_code == 200, closing.json
    response = figures(api, **{"from": first.isoformat(), "to": last.isoformat()})
    (period,) = response.json["periods"]
    assert period["young_people"] == 6 and period["started"] == 6 and period["ended"] == "<5"
    assert period["by_track"] == {"signaal": 6, "lokaal_preventief": "<5", "pga": 5, "zvh": "<5"}
    assert period["by_wijk"] == {"Heechterp-Schieringen": 6}
    assert period["median_days_to_triage"] == 0.0


def _bsn(n: int) -> str:
    """A fictitious BSN that passes the eleven-check."""
    for tail in range(1000):
        digits = [int(ch) for ch in f"2{n:04d}{tail:03d}"]
        check = sum(w * d for w, d in zip(range(9, 1, -1), digits, strict=True)) % 11
        if check < 10:
            return "".join(map(str, digits)) + str(check)
    raise AssertionError("no BSN")


def test_the_csv_command_prints_the_figures_and_is_audited(api: Api) -> None:
    """`broker stats --from --to --by` prints one CSV row per period with the same figures as
    the API, "<5" and "x" included, and writes an audit record."""
    population(api.app)
    expected = figures(api).json
    result = api.app.test_cli_runner().invoke(
        args=["stats", "--from", "2026-01-01", "--to", "2026-03-31", "--by", "month"]
    )
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(result.output)))
    assert [r["period"] for r in rows] == [RANGE, "2026-01", "2026-02", "2026-03"]
    assert list(rows[0])[:5] == ["period", "kind", "from", "to", "young_people"]
    for row, period in zip(rows, expected["periods"], strict=True):
        for name, value in _cells(period).items():
            assert row[name] == str(value), (row["period"], name)
        assert row["median_days_to_triage"] == str(period["median_days_to_triage"])
    entry = api.audit_records()[-1].entry
    assert (entry.event, entry.action, entry.purpose) == ("stats.read", "read", "uitvoering")
    assert entry.subject is None and entry.detail["cli"] is True


def test_the_csv_command_refuses_a_bad_period(api: Api) -> None:
    """A range that does not end on the last day of a month: exit 2 naming --to, no output."""
    before = len(api.audit_records())
    result = api.app.test_cli_runner().invoke(
        args=["stats", "--from", "2026-01-01", "--to", "2026-03-15"]
    )
    assert result.exit_code == 2
    assert "--to" in result.output and "last day of a month" in result.output
    assert len(api.audit_records()) == before
