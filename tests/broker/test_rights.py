"""The young person's rights through the API (privacy officer): corrections, deletions of
signals and objections — end to end on SQLite and PostgreSQL, never a value in an answer or an
audit record, and every refusal changes nothing.

Values sent are unique sentinels (tests.broker.test_views_matrix), so "not shown any more" is
checked by looking for them in the text a party gets.
"""

from __future__ import annotations

import random
import uuid
from typing import Any

from hypothesis import HealthCheck, given, settings
from sqlalchemy import select
from werkzeug.test import TestResponse

from broker.core.runtime import runtime
from broker.storage.models import FieldValue, Objection, RightsAction, Signal
from tests.broker.conftest import Api
from tests.broker.test_privacy_api import (
    OFFICER,
    audit_text,
    key_of,
    officer,
    scenario_one,
    sentinel,
)
from tests.broker.test_views_matrix import (
    CATEGORIES,
    CATEGORY_OF,
    FIELDS,
    PARTIES,
    TEAMS,
    USERS,
    appears,
    build,
    final_suppliers,
    matrix,
)
from tests.strategies import objections

BASE = "/api/v1/subjects"
PROPERTY = settings(
    max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def post(api: Api, path: str, body: Any, username: str = OFFICER) -> TestResponse:
    """POST JSON to a rights endpoint (as the privacy officer unless told)."""
    return api.client.post(path, json=body, headers=api.headers(username))


def correct(api: Api, bsn: str, field: str, value: Any, username: str = OFFICER) -> TestResponse:
    """POST /subjects/corrections."""
    body = {"subject": {"bsn": bsn}, "field": field, "value": value, "reason": "Verzoek"}
    return post(api, f"{BASE}/corrections", body, username)


def object_to(
    api: Api, bsn: str, targets: list[str], parties: list[str], username: str = OFFICER
) -> TestResponse:
    """POST /subjects/objections."""
    body = {"subject": {"bsn": bsn}, "targets": targets, "parties": parties, "reason": "Bezwaar"}
    return post(api, f"{BASE}/objections", body, username)


def lift(api: Api, objection_id: int, username: str = OFFICER) -> TestResponse:
    """POST /subjects/objections/{id}/lift."""
    return post(api, f"{BASE}/objections/{objection_id}/lift", {}, username)


def rows(api: Api) -> dict[str, list[tuple[Any, ...]]]:
    """The rows the rights endpoints may change, to compare before and after a refusal."""
    with api.app.app_context():
        session = runtime().sessions()
        try:
            return {
                "values": [
                    tuple(r)
                    for r in session.execute(
                        select(
                            FieldValue.id,
                            FieldValue.value,
                            FieldValue.superseded_at,
                            FieldValue.correction_id,
                        ).order_by(FieldValue.id)
                    )
                ],
                "signals": [
                    tuple(r) for r in session.execute(select(Signal.id).order_by(Signal.id))
                ],
                "objections": [
                    tuple(r)
                    for r in session.execute(
                        select(Objection.id, Objection.lifted_at).order_by(Objection.id)
                    )
                ],
                "actions": [
                    tuple(r)
                    for r in session.execute(select(RightsAction.id).order_by(RightsAction.id))
                ],
            }
        finally:
            session.close()


def signal_ids(api: Api, case_id: str) -> dict[str, str]:
    """The case's signals: id → party."""
    with api.app.app_context():
        session = runtime().sessions()
        try:
            query = select(Signal.id, Signal.party).where(Signal.case_id == case_id)
            return {sid: party for sid, party in session.execute(query)}
        finally:
            session.close()


def field_rows(api: Api, case_id: str, field: str) -> list[Any]:
    """Every stored value row of one field of a case, oldest first."""
    with api.app.app_context():
        session = runtime().sessions()
        try:
            return list(
                session.execute(
                    select(
                        FieldValue.value,
                        FieldValue.party,
                        FieldValue.person_id,
                        FieldValue.superseded_at,
                        FieldValue.correction_id,
                    )
                    .where(FieldValue.case_id == case_id, FieldValue.field == field)
                    .order_by(FieldValue.id)
                )
            )
        finally:
            session.close()


def last_record(api: Api) -> Any:
    """The newest audit record's entry."""
    return api.audit_records()[-1].entry


# ── corrections ─────────────────────────────────────────────────────────────────────────────


def test_a_correction_replaces_the_value_and_the_old_one_is_gone(api: Api) -> None:
    """A corrected value is what every party sees; the old one is erased, in no view, answer,
    access report or audit record, and its provenance stays."""
    rng = random.Random(61)
    boy = scenario_one(api, rng)
    before = [v for v in boy.values if isinstance(v, str) and v.startswith("S-politie-surname")]
    assert len(before) == 1
    old, new = before[0], sentinel("fg", "surname")
    response = correct(api, boy.bsn, "surname", new)
    assert response.status_code == 201, response.get_data(as_text=True)
    text = response.get_data(as_text=True)
    assert old not in text and new not in text
    assert (response.json["field"], response.json["superseded"]) == ("surname", 1)
    assert response.json["supplier"] == "politie"
    for username in ("jansen", "bakker", "devries", "mulder"):
        view = api.view(username, boy.case_id)
        assert view.status_code == 200
        assert old not in view.get_data(as_text=True), username
        assert view.json["fields"]["surname"] == new, username
    assert api.view("jansen", boy.case_id).json["sources"]["surname"]["party"] == "politie"
    stored = field_rows(api, boy.case_id, "surname")
    assert [(r.value, r.party, r.superseded_at is not None) for r in stored] == [
        (None, "politie", True),
        (new, "politie", False),
    ]
    assert stored[1].correction_id is not None and stored[0].correction_id is None
    entry = next(r.entry for r in api.audit_records() if r.entry.event == "subject.correction")
    assert (entry.action, entry.outcome, entry.person_id) == ("update", "success", OFFICER)
    assert (entry.detail["field"], entry.case_id) == ("surname", boy.case_id)
    assert entry.subject == key_of(api.app, boy.bsn)
    assert old not in audit_text(api) and new not in audit_text(api)
    report = officer(api, f"{BASE}/access-report", bsn=boy.bsn)
    held = [h for h in report.json["data_held"] if h["field"] == "surname"]
    assert [(h["party"], h["corrected"]) for h in held] == [("politie", True)]
    assert old not in report.get_data(as_text=True)


def test_a_correction_supersedes_every_current_value_of_the_field(api: Api) -> None:
    """Two parties supplied the field: both values are superseded and neither comes back."""
    rng = random.Random(62)
    boy = scenario_one(api, rng)
    school_phone, police_phone = sentinel("school", "phone"), sentinel("politie", "phone")
    assert api.signal("bakker", {"bsn": boy.bsn}, {"phone": school_phone}).status_code == 201
    assert api.signal("jansen", {"bsn": boy.bsn}, {"phone": police_phone}).status_code == 201
    new = sentinel("fg", "phone")
    response = correct(api, boy.bsn, "phone", new)
    assert response.json["superseded"] == 2 and response.json["supplier"] == "politie"
    view = api.view("bakker", boy.case_id)  # the school supplied a phone: no longer its own
    assert "phone" not in view.json["fields"]
    text = view.get_data(as_text=True) + api.view("jansen", boy.case_id).get_data(as_text=True)
    assert school_phone not in text and police_phone not in text and new in text


def test_a_correction_is_checked_as_a_signal_is(api: Api) -> None:
    """A value of the wrong type, an unknown field, the BSN, no reason: 422, nothing changed."""
    boy = scenario_one(api, random.Random(63))
    before = rows(api)
    cases = [
        ({"field": "incident_count", "value": "veel"}, "value"),
        ({"field": "incident_count", "value": True}, "value"),
        ({"field": "birth_date", "value": "1990-01-01"}, "value.birth_date"),
        ({"field": "postcode", "value": "nope"}, "value"),
        ({"field": "nickname", "value": "x"}, "field"),
        ({"field": "bsn", "value": "111222333"}, "field"),
        ({"field": "surname"}, "value"),
        ({"field": "surname", "value": "Jansen", "reason": ""}, "reason"),
        ({"field": "surname", "value": "Jansen", "extra": 1}, "extra"),
    ]
    for change, where in cases:
        body = {"subject": {"bsn": boy.bsn}, "reason": "Verzoek", **change}
        response = post(api, f"{BASE}/corrections", body)
        assert response.status_code == 422, (change, response.get_data(as_text=True))
        assert response.mimetype == "application/problem+json"
        assert where in {e["field"] for e in response.json["errors"]}, response.json
        assert "veel" not in response.get_data(as_text=True)
    bad_subject = {"subject": {"bsn": "123456789"}, "field": "surname", "value": "X", "reason": "R"}
    assert post(api, f"{BASE}/corrections", bad_subject).status_code == 422
    assert rows(api) == before
    assert last_record(api).outcome == "invalid"


def test_correction_refusals_change_nothing(api: Api) -> None:
    """Not the privacy officer: 403; no open case or no value to correct: 404; all audited."""
    boy = scenario_one(api, random.Random(64))
    before = rows(api)
    for username in ("jansen", "mulder", "bakker"):
        response = correct(api, boy.bsn, "surname", "Anders", username)
        assert response.status_code == 403, username
        assert response.json["code"] == "purpose_not_for_role"
        assert "Anders" not in response.get_data(as_text=True)
    assert correct(api, "111222333", "surname", "Anders").status_code == 404
    missing = correct(api, boy.bsn, "debt_details", "Anders")
    assert (missing.status_code, missing.json["code"]) == (404, "value_not_found")
    assert rows(api) == before
    refusals = [r.entry for r in api.audit_records() if r.entry.event == "subject.correction"]
    assert [e.outcome for e in refusals] == ["denied"] * 3 + ["not_found"] * 2
    assert refusals[-1].case_id == boy.case_id


# ── deletions ───────────────────────────────────────────────────────────────────────────────


def test_deleting_a_signal_removes_it_and_its_values_but_not_the_audit(api: Api) -> None:
    """The school's signal goes with its values; the police's stays; the audit records stay."""
    boy = scenario_one(api, random.Random(65))
    signals = {party: sid for sid, party in signal_ids(api, boy.case_id).items()}
    created = [r.seq for r in api.audit_records() if r.entry.event == "signal.create"]
    response = api.client.delete(
        f"/api/v1/signals/{signals['school']}",
        json={"reason": "Onterecht gemeld"},
        headers=api.headers(OFFICER),
    )
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.json["values_deleted"] == 2
    assert set(signal_ids(api, boy.case_id).values()) == {"politie"}
    view = api.view("bakker", boy.case_id)
    assert "school_name" not in view.json["fields"]
    school_values = [v for v in boy.values if isinstance(v, str) and v.startswith("S-school")]
    assert school_values and not any(v in view.get_data(as_text=True) for v in school_values)
    records = api.audit_records()
    assert [r.seq for r in records if r.entry.event == "signal.create"] == created
    entry = next(r.entry for r in records if r.entry.event == "signal.delete")
    assert (entry.action, entry.outcome, entry.case_id) == ("delete", "success", boy.case_id)
    assert entry.detail["signal_id"] == signals["school"] and entry.detail["values"] == 2
    again = api.client.delete(
        f"/api/v1/signals/{signals['school']}?reason=Nogmaals", headers=api.headers(OFFICER)
    )
    assert (again.status_code, again.json["code"]) == (404, "signal_not_found")
    by_query = api.client.delete(
        f"/api/v1/signals/{signals['politie']}?reason=Verzoek", headers=api.headers(OFFICER)
    )
    assert by_query.status_code == 200 and not signal_ids(api, boy.case_id)


def test_deletion_refusals_change_nothing(api: Api) -> None:
    """Not the privacy officer 403, unknown or malformed id 404, no reason 422: nothing goes."""
    boy = scenario_one(api, random.Random(66))
    sid = next(iter(signal_ids(api, boy.case_id)))
    before = rows(api)
    for username in ("jansen", "mulder"):
        response = api.client.delete(
            f"/api/v1/signals/{sid}?reason=X", headers=api.headers(username)
        )
        assert response.status_code == 403
    for path in (f"sig-{uuid.uuid4().hex}", "sig-1", "case-" + "0" * 32):
        response = api.client.delete(
            f"/api/v1/signals/{path}?reason=X", headers=api.headers(OFFICER)
        )
        assert response.status_code == 404, path
    for query in ("", "?reason=", "?reason=%20%20"):
        response = api.client.delete(f"/api/v1/signals/{sid}{query}", headers=api.headers(OFFICER))
        assert response.status_code == 422, query
    malformed = api.client.delete(
        f"/api/v1/signals/{sid}",
        data="{",
        content_type="application/json",
        headers=api.headers(OFFICER),
    )
    assert malformed.status_code == 400
    assert rows(api) == before


# ── objections ──────────────────────────────────────────────────────────────────────────────


def test_an_objection_withholds_from_the_named_party_and_explain_says_why(api: Api) -> None:
    """An objection on the school category for the police hides it from the police only, with
    rule bezwaar in the view and in explain; the police's own values stay; lifting restores."""
    boy = scenario_one(api, random.Random(67))
    assert api.view("jansen", boy.case_id).json["fields"]["attendance_problem"] is True
    response = object_to(api, boy.bsn, ["school", "surname"], ["politie"])
    assert response.status_code == 201, response.get_data(as_text=True)
    objection = response.json
    assert objection["fields"] == ["attendance_problem", "dropout_risk", "school_name", "surname"]
    assert objection["in_force"] and objection["parties"] == ["politie"]
    police = api.view("jansen", boy.case_id).json
    assert "attendance_problem" not in police["fields"]
    withheld = {w["field"]: w for w in police["withheld"]}
    assert withheld["attendance_problem"]["rule"] == "bezwaar"
    assert "AVG art. 21" in withheld["attendance_problem"]["legal_basis"]
    assert police["fields"]["surname"].startswith("S-politie-surname")  # its own value
    assert "surname" in police["own_data"]
    school = api.view("bakker", boy.case_id).json
    assert school["fields"]["attendance_problem"] is True and "surname" in school["fields"]
    explained = api.client.get(
        f"/api/v1/cases/{boy.case_id}/explain",
        query_string={"purpose": "casusoverleg"},
        headers=api.headers("jansen"),
    )
    assert explained.status_code == 200, explained.get_data(as_text=True)
    rules = {f["field"]: f["rule"] for f in explained.json["fields"]}
    assert rules["attendance_problem"] == "bezwaar" and rules["surname"] == "bezwaar"
    assert explained.json["withheld_by_objection"] == ["attendance_problem", "surname"]
    assert "zelf" in explained.json["own_data"]["explanation"]
    assert boy.bsn not in explained.get_data(as_text=True)
    school_explained = api.client.get(
        f"/api/v1/cases/{boy.case_id}/explain",
        query_string={"purpose": "casusoverleg"},
        headers=api.headers("bakker"),
    )
    assert school_explained.json["withheld_by_objection"] == []
    entry = next(r.entry for r in api.audit_records() if r.entry.event == "subject.objection")
    assert entry.action == "create" and "attendance_problem" in entry.fields_withheld
    lifted = lift(api, objection["objection_id"])
    assert lifted.status_code == 200 and lifted.json["in_force"] is False
    assert api.view("jansen", boy.case_id).json["fields"]["attendance_problem"] is True
    listed = officer(api, f"{BASE}/objections", bsn=boy.bsn)
    assert [(o["objection_id"], o["in_force"]) for o in listed.json["items"]] == [
        (objection["objection_id"], False)
    ]
    assert listed.json["items"][0]["lifted_by"] == OFFICER


def test_an_objection_for_every_party_also_hides_names_in_lists_and_triage(api: Api) -> None:
    """Without parties it withholds from all: the case list's names and the coordinator's
    triage view (identification, and the categories that hold data) honour it."""
    rng = random.Random(68)
    boy = scenario_one(api, rng)
    assert object_to(api, boy.bsn, ["surname", "given_names", "school"], []).status_code == 201
    listing = api.client.get(
        "/api/v1/cases", query_string={"purpose": "uitvoering"}, headers=api.headers("bakker")
    )
    item = next(i for i in listing.json["items"] if i["case_id"] == boy.case_id)
    assert "surname" not in item["name"] and "given_names" not in item["name"]
    names = [
        v
        for v in boy.values
        if isinstance(v, str) and v.startswith(("S-politie-surname", "S-politie-given"))
    ]
    assert len(names) == 2 and not any(v in listing.get_data(as_text=True) for v in names)
    triage = api.view("mulder", boy.case_id, "triage").json
    assert "surname" not in triage["fields"] and "school" not in triage["involvement"]["categories"]
    assert "police" in triage["involvement"]["categories"]


def test_objection_refusals_change_nothing(api: Api) -> None:
    """Not the privacy officer 403, an unknown young person or objection 404, unknown names
    422, lifting twice 409: nothing recorded or lifted."""
    boy = scenario_one(api, random.Random(69))
    made = object_to(api, boy.bsn, ["care"], []).json["objection_id"]
    before = rows(api)
    assert object_to(api, boy.bsn, ["care"], [], "jansen").status_code == 403
    assert object_to(api, boy.bsn, ["care"], [], "mulder").status_code == 403
    assert lift(api, made, "mulder").status_code == 403
    assert officer(api, f"{BASE}/objections", username="jansen", bsn=boy.bsn).status_code == 403
    assert object_to(api, "111222333", ["care"], []).status_code == 404
    assert lift(api, 987654).status_code == 404 and lift(api, "x1").status_code == 404  # type: ignore[arg-type]
    for targets, parties in (([], []), (["secret"], []), (["care"], ["nsa"]), ("care", [])):
        response = object_to(api, boy.bsn, targets, parties)  # type: ignore[arg-type]
        assert response.status_code == 422, (targets, parties)
    no_reason = post(api, f"{BASE}/objections", {"subject": {"bsn": boy.bsn}, "targets": ["care"]})
    assert no_reason.status_code == 422
    assert officer(api, f"{BASE}/objections", bsn="123456789").status_code == 422
    assert rows(api) == before
    assert lift(api, made).status_code == 200
    twice = lift(api, made)
    assert (twice.status_code, twice.json["code"]) == (409, "objection_lifted")


def test_explain_refuses_as_the_case_view_does(api: Api) -> None:
    """Explain of a case: 404 off the case team or unknown, 403 for the privacy officer."""
    boy = scenario_one(api, random.Random(70))
    for username in ("smit", "bos", "visser"):
        response = api.client.get(
            f"/api/v1/cases/{boy.case_id}/explain?purpose=casusoverleg",
            headers=api.headers(username),
        )
        assert response.status_code == 404, username
    unknown = api.client.get(
        f"/api/v1/cases/case-{uuid.uuid4().hex}/explain?purpose=casusoverleg",
        headers=api.headers("jansen"),
    )
    assert unknown.status_code == 404
    fg = api.client.get(
        f"/api/v1/cases/{boy.case_id}/explain?purpose=inzageverzoek", headers=api.headers(OFFICER)
    )
    assert fg.status_code == 403
    refused = [r.entry for r in api.audit_records() if r.entry.event == "case.explain"]
    assert [e.outcome for e in refused] == ["not_found"] * 4 + ["denied"]


# ── the property: no restricted value in any party's view ──────────────────────────────────

TARGETS = tuple(CATEGORIES) + FIELDS
TRACK = "pga"


@PROPERTY
@given(objection=objections(TARGETS, PARTIES))
def test_no_value_under_an_objection_appears_in_any_partys_view(
    api: Api, objection: tuple[list[str], list[str]]
) -> None:
    """For any objection, no party's view (case team, own data only, triage) holds a value
    the objection withholds from it, unless that party supplied it; the rest is as before."""
    scenario = getattr(api, "_rights_scenario", None)
    if scenario is None:
        scenario = build(api, TRACK, final_suppliers(TRACK, own_data=True), "rights-property")
        api._rights_scenario = scenario  # type: ignore[attr-defined]
    targets, parties = objection
    fields = {f for t in targets for f in (CATEGORIES.get(t) or (t,))}
    made = object_to(api, scenario.bsn, targets, parties)
    assert made.status_code == 201, made.get_data(as_text=True)
    assert set(made.json["fields"]) == fields
    try:
        for party in PARTIES:
            restricted = fields if not parties or party in parties else set()
            own = scenario.own(party)
            hidden = restricted - own
            response = api.view(USERS[party], scenario.case_id, "casusoverleg")
            assert response.status_code == 200, response.get_data(as_text=True)
            body, text = response.json, response.get_data(as_text=True)
            assert not hidden & set(body["fields"]), (party, hidden & set(body["fields"]))
            leaked = [
                name
                for name in hidden
                if not isinstance(scenario.current[name][0], bool)
                and appears(scenario.current[name][0], text)
            ]
            assert not leaked, (party, leaked)
            if party in TEAMS[TRACK]:
                cells = matrix(party, "casusoverleg", TRACK)
                expected = {n for n in FIELDS if n in own or cells[n] != "withhold"} - hidden
                assert set(body["effects"]) == expected, party
                rules = {w["field"]: w["rule"] for w in body["withheld"]}
                for name in hidden:
                    by_objection = rules[name] == "bezwaar"
                    assert by_objection == (cells[name] != "withhold"), (party, name)
            else:
                assert set(body["fields"]) == own, party
        triage = api.view("mulder", scenario.case_id, "triage").json
        restricted = fields if not parties or "gemeente" in parties else set()
        assert not (restricted - scenario.own("gemeente")) & set(triage["fields"])
        categories = {CATEGORY_OF[n] for n in FIELDS if n not in restricted}
        assert set(triage["involvement"]["categories"]) == categories
    finally:
        assert lift(api, made.json["objection_id"]).status_code == 200


def test_objections_honour_the_fallback_identity(api: Api) -> None:
    """A young person without a BSN is named by the five identity fields, as in a signal."""
    rng = random.Random(71)
    identity = {
        "surname": sentinel("politie", "surname"),
        "given_names": sentinel("politie", "given"),
        "birth_date": "2011-03-04",
        "postcode": f"{rng.randrange(1000, 10000)} QZ",
        "house_number": "7",
    }
    first = api.signal("jansen", identity, {"incidents_summary": sentinel("politie", "inc")})
    assert first.status_code == 201, first.get_data(as_text=True)
    made = post(
        api,
        f"{BASE}/objections",
        {"subject": identity, "targets": ["police"], "parties": ["gemeente"], "reason": "R"},
    )
    assert made.status_code == 201
    listed = api.client.get(
        f"{BASE}/objections", query_string=identity, headers=api.headers(OFFICER)
    )
    assert [o["targets"] for o in listed.json["items"]] == [["police"]]
    named = [identity[k] for k in ("surname", "given_names", "birth_date", "postcode")]
    assert all(v not in listed.get_data(as_text=True) for v in named)
    assert listed.json["items"][0]["in_force"] is True


def _matches(api: Api, case_id: str) -> set[str]:
    """The kinds of match the triage queue shows for a case."""
    queue = api.client.get("/api/v1/triage", headers=api.headers("mulder")).json
    return {m["kind"] for i in queue["items"] if i["case_id"] == case_id for m in i["matches"]}


def test_corrections_and_deletions_refresh_the_match_keys(api: Api) -> None:
    """A corrected address no longer matches the other case at the old one; a deleted signal
    takes the match on its parent's name along."""
    address = {"postcode": "8924 AB", "house_number": "12"}
    first = api.signal("jansen", {"bsn": "321146487"}, {"surname": "Kramer", **address})
    second = api.signal("jansen", {"bsn": "123456782"}, {"surname": "Kramer", **address})
    assert first.status_code == second.status_code == 201
    case_id = first.json["case_id"]
    assert _matches(api, case_id) == {"address"}
    corrected = correct(api, "321146487", "postcode", "8925 AB")
    assert corrected.status_code == 201, corrected.get_data(as_text=True)
    assert _matches(api, case_id) == set()
    parent = api.signal("devries", {"bsn": "321146487"}, {"guardian_name": "J. Kramer"})
    other = api.signal("jansen", {"bsn": "123456782"}, {"guardian_name": "J. Kramer"})
    assert parent.status_code == other.status_code == 201
    assert _matches(api, case_id) == {"parent", "second_party"}
    deleted = api.client.delete(
        f"/api/v1/signals/{parent.json['signal_id']}?reason=Onterecht",
        headers=api.headers(OFFICER),
    )
    assert deleted.status_code == 200, deleted.get_data(as_text=True)
    assert _matches(api, case_id) == set()


def test_a_whole_number_written_as_a_float_is_an_integer(api: Api) -> None:
    """12.0 is the JSON number 12 (and the document's `integer` admits it): a correction of an
    integer field with 12.0 stores 12, as a signal with it does; 12.5 stays refused."""
    rng = random.Random(63)
    boy = scenario_one(api, rng)
    signal = api.signal("jansen", {"bsn": boy.bsn}, {"incident_count": 3.0})
    assert signal.status_code == 201, signal.get_data(as_text=True)
    assert api.view("jansen", boy.case_id).json["fields"]["incident_count"] == 3
    assert correct(api, boy.bsn, "incident_count", 12.5).status_code == 422
    response = correct(api, boy.bsn, "incident_count", 12.0)
    assert response.status_code == 201, response.get_data(as_text=True)
    assert api.view("jansen", boy.case_id).json["fields"]["incident_count"] == 12


def test_every_identity_member_of_a_query_is_checked_beside_a_bsn(api: Api) -> None:
    """GET objections?bsn=…&surname=… checks the surname too (422 naming it), as a body's
    subject is checked; the read is refused and audited as such."""
    rng = random.Random(64)
    boy = scenario_one(api, rng)
    good = officer(api, f"{BASE}/objections", bsn=boy.bsn, surname="Kramer")
    assert good.status_code == 200, good.get_data(as_text=True)
    bad = officer(api, f"{BASE}/objections", bsn=boy.bsn, surname="\x07Kramer")
    assert bad.status_code == 422, bad.get_data(as_text=True)
    assert [e["field"] for e in bad.json["errors"]] == ["subject.surname"]
    assert last_record(api).outcome == "invalid"
