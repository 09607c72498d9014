"""Retention with a controllable clock (`broker purge --now`): untriaged signals after six
months, the age limit closing a case, closed cases purged after two years — what is due goes,
what is not stays (to the second), the run is audited and the chain still verifies; dry runs
and second runs change nothing; two runs at once never purge twice."""

from __future__ import annotations

import datetime as dt
import json
import random
import threading
from typing import Any
from zoneinfo import ZoneInfo

from flask import Flask
from sqlalchemy import select

from broker.core.context import Context
from broker.core.runtime import runtime
from broker.privacy.audit_log import verify_log
from broker.privacy.retention import PURGED_REASON, add_months, purge_cases
from broker.storage.models import (
    Base,
    Case,
    FieldValue,
    MatchKey,
    Notification,
    Objection,
    Person,
    PlanVersion,
    RightsAction,
    Signal,
    TrackChange,
    YoungPerson,
)
from tests.broker.conftest import Api
from tests.broker.test_privacy_api import OFFICER, audit_text, officer, sentinel
from tests.broker.test_views_matrix import valid_bsn

AMSTERDAM = ZoneInfo("Europe/Amsterdam")
OPERATOR = Context(None, None, None, purpose="toezicht")
SECOND = dt.timedelta(seconds=1)


def purge(app: Flask, now: dt.datetime, dry_run: bool = False) -> dict[str, Any]:
    """broker.privacy.retention.purge_cases at `now`, as the operator (its own session)."""
    with app.app_context():
        rt = runtime()
        session = rt.sessions()
        try:
            return purge_cases(session, rt, OPERATOR, now, dry_run, "given")
        finally:
            session.close()


def edit(app: Flask, change: Any) -> Any:
    """Run `change(session)` in a committed transaction; its result."""
    with app.app_context():
        session = runtime().sessions()
        try:
            result = change(session)
            session.commit()
            return result
        finally:
            session.close()


def case_of(app: Flask, case_id: str) -> Case:
    """The case row as stored now."""
    return edit(app, lambda s: s.get(Case, case_id))


def count(app: Flask, model: Any, **where: Any) -> int:
    """How many rows of `model` match the column values."""

    def run(session: Any) -> int:
        query = select(model)
        for name, value in where.items():
            query = query.where(getattr(model, name) == value)
        return len(session.scalars(query).all())

    return int(edit(app, run))


def dump(app: Flask) -> str:
    """Every row of the broker's own tables (not the audit log), as text."""

    def run(session: Any) -> str:
        return repr(
            [list(session.execute(table.select())) for table in Base.metadata.sorted_tables]
        )

    return str(edit(app, run))


def events(api: Api, name: str) -> list[Any]:
    """The audit entries of one event, in order."""
    return [r.entry for r in api.audit_records() if r.entry.event == name]


def intact(api: Api) -> bool:
    """Whether the stored chain verifies (deep) against its checkpoints."""
    with api.app.app_context():
        rt = runtime()
        session = rt.sessions()
        try:
            result = verify_log(session, rt, deep=True)
        finally:
            session.close()
    return result.is_intact


def test_months_and_years_are_calendar_months() -> None:
    """31 March + 6 months is 30 September; 29 February + 1 year is 28 February."""
    at = dt.datetime(2026, 3, 31, 10, 0, tzinfo=dt.UTC)
    assert add_months(at, 6) == dt.datetime(2026, 9, 30, 10, 0, tzinfo=dt.UTC)
    assert add_months(dt.date(2024, 2, 29), 12) == dt.date(2025, 2, 28)
    assert add_months(dt.date(2024, 2, 29), 48) == dt.date(2028, 2, 29)
    assert add_months(dt.date(2026, 1, 15), -13) == dt.date(2024, 12, 15)


def test_untriaged_signals_go_six_months_after_they_came_in(api: Api) -> None:
    """Scenario 4: each signal of a case still in signaal goes six months after it came in (not
    a second earlier); the last one takes the case's identifying data with it; audited."""
    rng = random.Random(41)
    bsn = valid_bsn(rng)
    name = sentinel("school", "surname")
    first = api.signal("bakker", {"bsn": bsn}, {"surname": name, "attendance_problem": True})
    second = api.signal("bakker", {"bsn": bsn}, {"dropout_risk": True}, summary="S-summary-4")
    case_id, s1, s2 = first.json["case_id"], first.json["signal_id"], second.json["signal_id"]
    t1 = dt.datetime(2026, 3, 31, 10, 0, tzinfo=dt.UTC)
    t2 = dt.datetime(2026, 4, 15, 10, 0, tzinfo=dt.UTC)

    def backdate(session: Any) -> None:
        session.get(Signal, s1).received_at = t1
        session.get(Signal, s2).received_at = t2
        session.get(Case, case_id).opened_at = t1

    edit(api.app, backdate)
    due1 = dt.datetime(2026, 9, 30, 10, 0, tzinfo=dt.UTC)
    before = api.audit_records()
    early = purge(api.app, due1 - SECOND)
    assert early["cases"] == [] and api.audit_records() == before
    assert purge(api.app, due1 - SECOND, dry_run=True)["cases"] == []
    assert api.audit_records() == before
    dry = purge(api.app, due1, dry_run=True)
    assert dry["cases"] == [
        {
            "case_id": case_id,
            "rules": ["untriaged_signal"],
            "signals_deleted": 1,
            "values_deleted": 3,  # bsn (from the subject), surname, attendance_problem
            "closed": False,
            "close_reason": None,
            "purged": False,
        }
    ]
    assert count(api.app, Signal, case_id=case_id) == 2
    assert [(e.action, e.detail["dry_run"]) for e in events(api, "retention.run")] == [
        ("search", True)
    ]
    done = purge(api.app, due1)
    assert done["cases"] == dry["cases"]
    assert [s.id for s in edit(api.app, lambda s: s.scalars(select(Signal)).all())] == [s2]
    assert count(api.app, FieldValue, case_id=case_id) == 1
    case = case_of(api.app, case_id)
    assert (case.track, case.closed_at, case.purged_at) == ("signaal", None, None)
    (entry,) = events(api, "retention.case")
    assert (entry.action, entry.case_id, entry.detail["rules"]) == (
        "delete",
        case_id,
        "untriaged_signal",
    )
    assert entry.purpose == "toezicht" and entry.legal_basis
    again = api.audit_records()
    assert purge(api.app, due1)["cases"] == [] and api.audit_records() == again
    due2 = dt.datetime(2026, 10, 15, 10, 0, tzinfo=dt.UTC)
    assert purge(api.app, due2 - SECOND)["cases"] == []
    last = purge(api.app, due2)["cases"]
    assert [(c["closed"], c["close_reason"], c["purged"]) for c in last] == [
        (True, "bewaartermijn", True)
    ]
    case = case_of(api.app, case_id)
    assert (
        case.closed_at == due2 and case.purged_at == due2 and case.close_reason == "bewaartermijn"
    )
    assert count(api.app, Signal, case_id=case_id) == 0
    assert count(api.app, FieldValue, case_id=case_id) == 0
    history = edit(
        api.app,
        lambda s: [
            (h.kind, h.reason)
            for h in s.scalars(select(TrackChange).where(TrackChange.case_id == case_id))
        ],
    )
    assert history == [("track", PURGED_REASON), ("close", PURGED_REASON)]
    report = officer(api, "/api/v1/subjects/access-report", bsn=bsn)
    assert report.json["known"] is False  # the BSN leads nowhere any more
    assert name not in dump(api.app) and "S-summary-4" not in dump(api.app)
    assert name not in audit_text(api)
    assert intact(api)


def test_the_age_limit_closes_and_two_years_later_the_case_is_purged(api: Api) -> None:
    """Turning 23 closes the case (leeftijdsgrens) on the birthday, not a second before; two
    years after closing its identifying data goes, the case row and history stay; the young
    person stays findable while another case is open, and is unlinked with the last one."""
    rng = random.Random(42)
    bsn = valid_bsn(rng)
    today = dt.date.today()
    born = add_months(today, -22 * 12) - dt.timedelta(days=30)
    values = {
        "surname": sentinel("politie", "surname"),
        "birth_date": born.isoformat(),
        "street": sentinel("politie", "street"),
        "house_number": "12",
        "postcode": "8924 QZ",
        "city": sentinel("politie", "city"),
        "wijk": "Heechterp-Schieringen",
        "guardian_name": sentinel("politie", "guardian"),
        "incidents_summary": sentinel("politie", "incidents"),
    }
    summary = sentinel("politie", "summary")
    first = api.signal("jansen", {"bsn": bsn}, values, summary=summary)
    case_id = first.json["case_id"]
    school = {"school_name": sentinel("school", "school")}
    assert api.signal("bakker", {"bsn": bsn}, school).status_code == 201
    assert api.track(case_id, "lokaal_preventief", director="devries").status_code == 200
    corrected = sentinel("fg", "city")
    body = {"subject": {"bsn": bsn}, "field": "city", "value": corrected, "reason": "Verzoek"}
    fg = {"Authorization": f"Bearer {api.token(OFFICER)}"}
    assert api.client.post("/api/v1/subjects/corrections", json=body, headers=fg).status_code == 201
    objection = {"subject": {"bsn": bsn}, "targets": ["school"], "reason": "Bezwaar"}
    assert (
        api.client.post("/api/v1/subjects/objections", json=objection, headers=fg).status_code
        == 201
    )
    concerns = sentinel("gemeente", "concerns")

    def plan_and_notice(session: Any) -> None:
        mulder = session.scalars(select(Person).where(Person.username == "mulder")).one()
        session.add(
            PlanVersion(
                case_id=case_id,
                version=1,
                concerns=concerns,
                goals=["Naar school"],
                agreements=[{"party": "school", "agreement": "Verzuim melden"}],
                author_id=mulder.id,
            )
        )
        session.add(Notification(person_id=mulder.id, case_id=case_id, kind="t", message="m"))

    edit(api.app, plan_and_notice)
    assert count(api.app, MatchKey, case_id=case_id) == 2  # address and parent
    birthday = dt.datetime.combine(add_months(born, 23 * 12), dt.time(), tzinfo=AMSTERDAM)
    assert purge(api.app, birthday - SECOND)["cases"] == []
    closed = purge(api.app, birthday)["cases"]
    assert [(c["case_id"], c["rules"], c["close_reason"], c["purged"]) for c in closed] == [
        (case_id, ["age_limit"], "leeftijdsgrens", False)
    ]
    case = case_of(api.app, case_id)
    assert (case.closed_at, case.close_reason, case.closed_by_id) == (
        birthday,
        "leeftijdsgrens",
        None,
    )
    assert events(api, "retention.case")[-1].action == "update"
    assert api.view("jansen", case_id).status_code == 200  # closed, not purged: still there
    again = api.signal("jansen", {"bsn": bsn}, {"phone": sentinel("politie", "phone")})
    assert again.json["new_case"] is True
    other = again.json["case_id"]
    assert api.track(other, "lokaal_preventief").status_code == 200  # triaged: not untriaged
    expiry = add_months(birthday, 24)
    assert purge(api.app, expiry - SECOND)["cases"] == []
    purged = purge(api.app, expiry)["cases"]
    assert [(c["case_id"], c["rules"], c["purged"]) for c in purged] == [
        (case_id, ["closed_case"], True)
    ]
    case = case_of(api.app, case_id)
    assert (case.purged_at, case.wijk_at_purge, case.track) == (
        expiry,
        "Heechterp-Schieringen",
        "lokaal_preventief",
    )
    for model in (FieldValue, MatchKey, PlanVersion, Notification, RightsAction):
        assert count(api.app, model, case_id=case_id) == 0, model.__name__
    assert count(api.app, Signal, case_id=case_id) == 2
    assert count(api.app, Signal, case_id=case_id, summary=None) == 2
    assert count(api.app, TrackChange, case_id=case_id, reason=PURGED_REASON) == 3
    assert count(api.app, Objection) == 1  # the young person still has an open case
    assert officer(api, "/api/v1/subjects/access-report", bsn=bsn).json["known"] is True
    assert api.view("jansen", case_id).status_code == 404
    for value in (*[v for k, v in values.items() if k != "wijk"], summary, corrected, concerns):
        if len(str(value)) > 3:
            assert str(value) not in dump(api.app), value

    def close_other(session: Any) -> None:
        session.get(Case, other).closed_at = expiry - dt.timedelta(days=3 * 365)

    edit(api.app, close_other)
    assert [c["case_id"] for c in purge(api.app, expiry)["cases"]] == [other]
    assert count(api.app, Objection) == 0
    assert officer(api, "/api/v1/subjects/access-report", bsn=bsn).json["known"] is False
    subjects = edit(api.app, lambda s: s.scalars(select(YoungPerson.subject_key)).all())
    assert all(key.startswith("purged-") for key in subjects)
    records = [e.case_id for e in events(api, "retention.case")]
    assert records == [case_id, case_id, other]
    text = audit_text(api)
    assert not any(str(v) in text for v in (summary, corrected, concerns, values["surname"]))
    assert intact(api)


def test_the_purge_command_takes_a_clock_and_reports_json(api: Api) -> None:
    """`broker purge --dry-run --now` lists what is due and changes nothing; `broker purge
    --now` purges it; a second run finds nothing; a bad --now is a usage error."""
    bsn = valid_bsn(random.Random(43))
    case_id = api.signal("bakker", {"bsn": bsn}, {"dropout_risk": True}).json["case_id"]
    received = edit(api.app, lambda s: s.scalars(select(Signal.received_at)).one())
    due = add_months(received, 6).isoformat()
    runner = api.app.test_cli_runner()
    dry = runner.invoke(args=["purge", "--dry-run", "--now", due])
    assert dry.exit_code == 0, dry.output
    report = json.loads(dry.stdout)
    assert [c["case_id"] for c in report["cases"]["cases"]] == [case_id]
    assert report["cases"]["dry_run"] is True and report["audit"]["records"] == 0
    assert count(api.app, Signal) == 1
    done = runner.invoke(args=["purge", "--now", due])
    assert json.loads(done.stdout)["cases"]["totals"]["purged"] == 1
    assert count(api.app, Signal) == 0
    assert events(api, "retention.run")[-1].detail["clock"] == "given"
    assert json.loads(runner.invoke(args=["purge", "--now", due]).stdout)["cases"]["cases"] == []
    bad = runner.invoke(args=["purge", "--now", "next tuesday"])
    assert bad.exit_code == 2 and "--now" in bad.output


def test_two_runs_at_once_purge_each_case_once(api: Api) -> None:
    """Concurrent runs are serialised: every due case is purged and audited exactly once."""
    rng = random.Random(44)
    cases = [
        api.signal("bakker", {"bsn": valid_bsn(rng)}, {"dropout_risk": True}).json["case_id"]
        for _ in range(4)
    ]
    latest = max(edit(api.app, lambda s: s.scalars(select(Signal.received_at)).all()))
    now = add_months(latest, 6)
    start = threading.Barrier(2)
    results: list[dict[str, Any]] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            start.wait()
            results.append(purge(api.app, now))
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    purged = sorted(c["case_id"] for r in results for c in r["cases"])
    assert purged == sorted(cases)
    assert sorted(e.case_id for e in events(api, "retention.case")) == sorted(cases)
    assert len(events(api, "retention.run")) == 1
    assert intact(api)
