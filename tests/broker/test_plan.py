"""The plan of approach end to end: versioned writes by the coordinator or the case director,
visible in full to the case team of the current track and to no one else, validated with
problems that name the field, every read, write and refusal audited."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest

from tests.broker.casework_support import before, get, open_case, post, put, refused
from tests.broker.conftest import Api
from tests.broker.test_bola import CASE_TEAMS, USERS

BSN = "725763863"
CONCERNS = "Concerns-Sentinel: langdurig verzuim"
REVIEW = (dt.date.today() + dt.timedelta(days=60)).isoformat()
UNKNOWN_CASE = "case-" + "0" * 32


def plan(**changes: Any) -> dict[str, Any]:
    """A valid plan of approach for a case on the local preventive track, with changes."""
    body: dict[str, Any] = {
        "concerns": CONCERNS,
        "goals": ["Daan gaat weer naar school", "Geen nieuwe incidenten"],
        "agreements": [
            {"party": "school", "agreement": "Mentor meldt verzuim dezelfde dag"},
            {"party": "jeugdhulp", "agreement": "Gezinscoach twee keer per week"},
        ],
        "review_date": REVIEW,
    }
    body.update(changes)
    return body


def write(api: Api, case_id: str, username: str, body: Any, **params: Any) -> Any:
    """PUT the plan as the account."""
    return put(api, username, f"/cases/{case_id}/plan", body, **params)


def read(api: Api, case_id: str, username: str, **params: Any) -> Any:
    """GET the plan as the account (purpose casusoverleg unless given)."""
    return get(api, username, f"/cases/{case_id}/plan", **{"purpose": "casusoverleg", **params})


@pytest.fixture
def case_id(api: Api) -> str:
    """A case on the local preventive track with devries (jeugdhulp) as case director."""
    return open_case(api, BSN, {"surname": "Hoekstra"}, "lokaal_preventief", "devries")


def last_event(api: Api, event: str) -> Any:
    """The newest audit entry of an event."""
    return [r.entry for r in api.audit_records() if r.entry.event == event][-1]


# ── writing and reading ─────────────────────────────────────────────────────────────────────


def test_coordinator_and_case_director_write_versions(api: Api, case_id: str) -> None:
    """The coordinator writes version 1, the case director version 2; the newest is read by
    default, ?version=1 gives the first, the versions are listed newest first."""
    first = write(api, case_id, "mulder", plan())
    assert first.status_code == 201, first.json
    assert first.json["version"] == 1 and first.json["author"]["username"] == "mulder"
    assert first.headers["Location"].endswith(f"/cases/{case_id}/plan?version=1")
    second = write(api, case_id, "devries", plan(goals=["Daan haalt zijn diploma"]))
    assert second.status_code == 201 and second.json["version"] == 2
    newest = read(api, case_id, "bakker")
    assert newest.status_code == 200
    assert (newest.json["version"], newest.json["versions"]) == (2, 2)
    assert newest.json["goals"] == ["Daan haalt zijn diploma"]
    older = read(api, case_id, "jansen", version="1", purpose="uitvoering")
    assert older.status_code == 200 and older.json["goals"] == plan()["goals"]
    assert older.json["concerns"] == CONCERNS and older.json["review_date"] == REVIEW
    assert older.json["agreements"] == plan()["agreements"]
    versions = get(api, "devries", f"/cases/{case_id}/plan/versions", purpose="casusoverleg")
    assert versions.status_code == 200
    assert [(v["version"], v["author"]["username"]) for v in versions.json["items"]] == [
        (2, "devries"),
        (1, "mulder"),
    ]


def test_a_plan_saved_meanwhile_is_not_overwritten(api: Api, case_id: str) -> None:
    """With ?base_version the save goes through only while that version is still the newest:
    otherwise 409 plan_changed naming the newest version, nothing saved, the refusal audited."""
    assert write(api, case_id, "mulder", plan(), base_version="0").status_code == 201
    assert write(api, case_id, "devries", plan(), base_version="1").status_code == 201
    was = before(api, "mulder")
    late = write(api, case_id, "mulder", plan(goals=["Te laat"]), base_version="1")
    body = refused(api, was, late, 409, "plan_changed", event="plan.write", outcome="conflict")
    assert body["newest_version"] == 2
    assert write(api, case_id, "mulder", plan(), base_version="x").status_code == 400
    assert (
        write(api, case_id, "mulder", plan(goals=["Nu wel"]), base_version="2").json["version"] == 3
    )


def test_every_plan_read_and_write_is_audited_without_content(api: Api, case_id: str) -> None:
    """plan.write (create) and plan.view (read, naming the plan's parts as disclosed) are
    audited with the case and young person; the plan's text never is."""
    assert write(api, case_id, "mulder", plan()).status_code == 201
    assert read(api, case_id, "bakker").status_code == 200
    written, viewed = last_event(api, "plan.write"), last_event(api, "plan.view")
    assert (written.action, written.outcome, written.case_id) == ("create", "success", case_id)
    assert written.detail["version"] == 1 and written.detail["agreements"] == 2
    assert (viewed.action, viewed.person_id, viewed.party) == ("read", "bakker", "school")
    assert set(viewed.fields_disclosed) == {
        "plan_concerns",
        "plan_goals",
        "plan_agreements",
        "plan_review_date",
    }
    assert viewed.subject == written.subject and viewed.subject.startswith("yp-")
    dump = "".join(r.body.decode() for r in api.audit_records())
    assert "Concerns-Sentinel" not in dump and "Mentor meldt" not in dump


def test_the_new_case_team_sees_the_plan_and_the_old_one_not(api: Api, case_id: str) -> None:
    """After a move to the ZVH track the ZVH sees the plan and the school (off the team) gets
    404, as for a case view."""
    assert write(api, case_id, "mulder", plan()).status_code == 201
    assert read(api, case_id, "bos").status_code == 404
    assert api.track(case_id, "zvh").status_code == 200
    assert read(api, case_id, "bos").status_code == 200
    gone = read(api, case_id, "bakker")
    assert gone.status_code == 404 and "Sentinel" not in gone.get_data(as_text=True)


def test_a_new_case_director_may_write_and_the_old_one_not(api: Api, case_id: str) -> None:
    """Writing follows the case director: once jansen is named, devries may no longer write."""
    changed = post(
        api,
        "mulder",
        f"/cases/{case_id}/case-director",
        {"case_director": "jansen", "reason": "Politie neemt de regie"},
    )
    assert changed.status_code == 200
    assert write(api, case_id, "jansen", plan()).status_code == 201
    assert write(api, case_id, "devries", plan()).status_code == 403


def test_closed_case_plan_is_read_but_not_written(api: Api, case_id: str) -> None:
    """A closed case keeps its plan for the case team to read; a new version is 409."""
    assert write(api, case_id, "mulder", plan()).status_code == 201
    closing = post(api, "mulder", f"/cases/{case_id}/close", {"reason_code": "doel_bereikt"})
    assert closing.status_code == 200
    assert read(api, case_id, "bakker").status_code == 200
    was = before(api, "mulder")
    refused(
        api,
        was,
        write(api, case_id, "mulder", plan()),
        409,
        "case_closed",
        event="plan.write",
        outcome="conflict",
    )


def test_no_plan_yet_and_unknown_version_are_404(api: Api, case_id: str) -> None:
    """Before the first version, and for a version that does not exist: 404 plan_not_found."""
    assert read(api, case_id, "mulder").json["code"] == "plan_not_found"
    assert write(api, case_id, "mulder", plan()).status_code == 201
    missing = read(api, case_id, "mulder", version="7")
    assert missing.status_code == 404 and missing.json["code"] == "plan_not_found"


# ── who may read: the case team only ────────────────────────────────────────────────────────

READ_REFUSALS = {
    "police_off_the_track": ("visser", {}, 404, "case_not_found", "not_found"),
    "housing_off_the_track": ("smit", {}, 404, "case_not_found", "not_found"),
    "zvh_off_the_track": ("bos", {}, 404, "case_not_found", "not_found"),
    "privacy_officer": ("dekker", {"purpose": "toezicht"}, 403, "purpose_not_for_plan", "denied"),
    "triage_purpose": ("mulder", {"purpose": "triage"}, 403, "purpose_not_for_plan", "denied"),
    "no_purpose": ("bakker", {"purpose": ""}, 403, "purpose_missing", "denied"),
    "bad_version": ("bakker", {"version": "0"}, 400, "bad_parameter", "invalid"),
}


@pytest.mark.parametrize(
    ("route", "kind"),
    [
        (route, kind)
        for route in ("plan", "versions")
        for kind in sorted(READ_REFUSALS)
        if not (route == "versions" and kind == "bad_version")
    ],
)
def test_plan_reads_outside_the_case_team_are_refused(
    api: Api, case_id: str, kind: str, route: str
) -> None:
    """Parties off the case team get 404 as for a case view; the privacy officer, the triage
    purpose and a missing purpose 403; each refusal is audited and shows nothing."""
    username, params, status, code, outcome = READ_REFUSALS[kind]
    assert write(api, case_id, "mulder", plan()).status_code == 201
    was = before(api, username)
    path = f"/cases/{case_id}/plan" + ("/versions" if route == "versions" else "")
    response = get(api, username, path, **{"purpose": "casusoverleg", **params})
    event = "plan.versions" if route == "versions" else "plan.view"
    refused(api, was, response, status, code, event=event, outcome=outcome)
    assert "Sentinel" not in response.get_data(as_text=True)


@pytest.mark.parametrize("track", sorted(CASE_TEAMS))
def test_plan_and_history_are_for_the_case_team_of_every_track(api: Api, track: str) -> None:
    """In every track exactly the parties on its case team (as the matrix says) read the plan
    in full, its versions and the history; every other party gets 404, also the police that
    signalled the case."""
    case_id = open_case(api, BSN, track=None if track == "signaal" else track)
    agreement = {"party": "gemeente", "agreement": "Coördinator bewaakt de afspraken"}
    assert write(api, case_id, "mulder", plan(agreements=[agreement])).status_code == 201
    for party, username in USERS.items():
        expected = 200 if party in CASE_TEAMS[track] else 404
        for path in ("plan", "plan/versions", "history"):
            response = get(api, username, f"/cases/{case_id}/{path}", purpose="casusoverleg")
            assert response.status_code == expected, (party, path, response.json)
            if expected == 404:
                assert "Sentinel" not in response.get_data(as_text=True)
            elif path == "plan":
                assert response.json["concerns"] == CONCERNS
                assert response.json["agreements"] == [agreement]


def test_unknown_case_plan_is_404(api: Api) -> None:
    """A plan of a case that does not exist is 404 case_not_found, audited."""
    was = before(api, "mulder")
    response = read(api, UNKNOWN_CASE, "mulder")
    refused(api, was, response, 404, "case_not_found", event="plan.view", outcome="not_found")


# ── who may write ───────────────────────────────────────────────────────────────────────────

WRITE_REFUSALS = {
    "case_worker_not_director": ("bakker", 403, "plan_writer_only", "denied"),
    "police_case_worker": ("jansen", 403, "plan_writer_only", "denied"),
    "off_the_case_team": ("smit", 404, "case_not_found", "not_found"),
    "privacy_officer": ("dekker", 403, "purpose_not_for_role", "denied"),
}


@pytest.mark.parametrize("kind", sorted(WRITE_REFUSALS))
def test_only_coordinator_and_case_director_write(api: Api, case_id: str, kind: str) -> None:
    """A case worker who is not the case director gets 403, a party off the team 404, the
    privacy officer 403; nothing is stored, one audit record each."""
    username, status, code, outcome = WRITE_REFUSALS[kind]
    was = before(api, username)
    response = write(api, case_id, username, plan())
    refused(api, was, response, status, code, event="plan.write", outcome=outcome)


# ── validation ──────────────────────────────────────────────────────────────────────────────

INVALID = {
    "concerns_missing": ({k: v for k, v in plan().items() if k != "concerns"}, "concerns"),
    "concerns_blank": (plan(concerns="   "), "concerns"),
    "concerns_control_characters": (plan(concerns="Zorg\x00en"), "concerns"),
    "concerns_too_long": (plan(concerns="x" * 4001), "concerns"),
    "goals_empty": (plan(goals=[]), "goals"),
    "goals_not_a_list": (plan(goals="Naar school"), "goals"),
    "goal_not_text": (plan(goals=["Naar school", 7]), "goals.1"),
    "agreement_party_off_the_team": (
        plan(agreements=[{"party": "zvh", "agreement": "Procesregie"}]),
        "agreements.0.party",
    ),
    "agreement_party_unknown": (
        plan(agreements=[{"party": "Party-Sentinel", "agreement": "x"}]),
        "agreements.0.party",
    ),
    "agreement_without_text": (plan(agreements=[{"party": "school"}]), "agreements.0.agreement"),
    "agreement_unknown_member": (
        plan(agreements=[{"party": "school", "agreement": "x", "due": "morgen"}]),
        "agreements.0.due",
    ),
    "review_date_not_a_date": (plan(review_date="volgende week"), "review_date"),
    "review_date_in_the_past": (plan(review_date="2020-01-01"), "review_date"),
    "unknown_member": (plan(owner="mulder"), "owner"),
    "not_an_object": (["plan"], "body"),
}


@pytest.mark.parametrize("kind", sorted(INVALID))
def test_invalid_plans_are_422_naming_the_field(api: Api, case_id: str, kind: str) -> None:
    """An invalid plan is 422 invalid_plan naming the field (never echoing the value);
    nothing is stored; one audit record."""
    body, field = INVALID[kind]
    was = before(api, "mulder")
    response = write(api, case_id, "mulder", body)
    problem = refused(
        api, was, response, 422, "invalid_plan", event="plan.write", outcome="invalid"
    )
    assert field in [e["field"] for e in problem["errors"]], problem["errors"]
    text = json.dumps(problem)
    assert "Party-Sentinel" not in text and "volgende week" not in text and "morgen" not in text


def test_malformed_plan_json_is_400(api: Api, case_id: str) -> None:
    """A body that is not JSON is 400 malformed_json; nothing stored, audited."""
    was = before(api, "mulder")
    response = api.client.put(
        f"/api/v1/cases/{case_id}/plan",
        data="{",
        content_type="application/json",
        headers=api.headers("mulder"),
    )
    refused(api, was, response, 400, "malformed_json", event="plan.write", outcome="invalid")
