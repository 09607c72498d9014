"""Tracks, the case director, closing a case, its history and notifications, end to end:
every change audited, every refusal audited with nothing changed."""

from __future__ import annotations

import json
from typing import Any

import pytest
from sqlalchemy import select

from broker.core.runtime import runtime
from broker.storage.models import Case, Notification, TrackChange
from tests.broker.casework_support import before, get, open_case, post, refused
from tests.broker.conftest import Api

BSN, OTHER_BSN = "725763863", "162275869"
SURNAME = "Hoekstra-Sentinel"
UNKNOWN_CASE = "case-" + "0" * 32


def history(api: Api, case_id: str, username: str = "mulder") -> dict[str, Any]:
    """GET the case's history (purpose casusoverleg); the body of a 200."""
    response = get(api, username, f"/cases/{case_id}/history", purpose="casusoverleg")
    assert response.status_code == 200, response.get_data(as_text=True)
    body: dict[str, Any] = response.json
    return body


def notifications(api: Api, username: str, **params: Any) -> dict[str, Any]:
    """GET the account's notifications; the body of a 200."""
    response = get(api, username, "/notifications", **params)
    assert response.status_code == 200, response.get_data(as_text=True)
    body: dict[str, Any] = response.json
    return body


def case_row(api: Api, case_id: str) -> Case:
    """The case as stored."""
    with api.app.app_context():
        session = runtime().sessions()
        try:
            return session.scalars(select(Case).where(Case.id == case_id)).one()
        finally:
            session.close()


def last_event(api: Api, event: str) -> Any:
    """The newest audit entry of an event."""
    return [r.entry for r in api.audit_records() if r.entry.event == event][-1]


@pytest.fixture
def case_id(api: Api) -> str:
    """A case in track signaal, opened by a police signal with a distinctive surname."""
    return open_case(api, BSN, {"surname": SURNAME, "incident_count": 2})


# ── tracks ──────────────────────────────────────────────────────────────────────────────────


def test_track_assignment_is_kept_with_kind_director_and_reason(api: Api, case_id: str) -> None:
    """Assigning a track records kind track, from and to, the case director, who and why."""
    response = api.track(case_id, "lokaal_preventief", "Lokaal op te pakken", director="devries")
    assert response.status_code == 200, response.json
    assert response.json["case_director"] == "devries"
    steps = history(api, case_id)["history"]
    assert [(s["kind"], s["from_track"], s["to_track"]) for s in steps] == [
        ("track", None, "signaal"),
        ("track", "signaal", "lokaal_preventief"),
    ]
    step = steps[-1]
    assert step["case_director"]["username"] == "devries"
    assert step["reason"] == "Lokaal op te pakken"
    assert step["decided_by"]["username"] == "mulder" and step["decided_at"]
    entry = last_event(api, "track.change")
    assert (entry.action, entry.outcome, entry.case_id) == ("update", "success", case_id)
    assert entry.detail["to_track"] == "lokaal_preventief"
    assert entry.detail["notified"] == 3


def test_new_case_team_is_notified_without_values(api: Api, case_id: str) -> None:
    """The persons of the parties joining the case team and the named case director get a
    notification naming case and track, never a value; parties already on it get none."""
    assert api.track(case_id, "lokaal_preventief", director="devries").status_code == 200
    kinds = {u: [n["kind"] for n in notifications(api, u)["items"]] for u in ("jansen", "devries")}
    assert kinds == {"jansen": ["case_team"], "devries": ["case_director"]}
    for username in ("bakker", "visser", "smit", "bos", "mulder"):
        expected = 1 if username == "bakker" else 0
        assert notifications(api, username)["total"] == expected, username
    assert api.track(case_id, "pga").status_code == 200
    assert notifications(api, "jansen")["total"] == 1  # politie was on the team already
    assert [n["kind"] for n in notifications(api, "visser")["items"]] == ["case_team"]
    assert [n["kind"] for n in notifications(api, "smit")["items"]] == ["case_team"]
    message = notifications(api, "smit")["items"][0]["message"]
    assert case_id in message and "pga" in message
    with api.app.app_context():
        session = runtime().sessions()
        try:
            messages = session.scalars(select(Notification.message)).all()
        finally:
            session.close()
    assert messages and all(SURNAME not in m and BSN not in m for m in messages)


def test_director_whose_party_leaves_the_team_is_cleared(api: Api, case_id: str) -> None:
    """Moving from PGA to the ZVH track, where the school is not on the case team, clears a
    school case director; the audit record says so."""
    assert api.track(case_id, "pga", director="bakker").status_code == 200
    moved = api.track(case_id, "zvh")
    assert moved.status_code == 200 and moved.json["case_director"] is None
    assert last_event(api, "track.change").detail["case_director_cleared"] is True


def test_same_track_with_another_director_is_a_director_step(api: Api, case_id: str) -> None:
    """The track endpoint with the current track and a new director records kind director."""
    assert api.track(case_id, "pga", director="jansen").status_code == 200
    assert api.track(case_id, "pga", director="visser").status_code == 200
    step = history(api, case_id)["history"][-1]
    assert (step["kind"], step["case_director"]["username"]) == ("director", "visser")


# ── the case director ───────────────────────────────────────────────────────────────────────


def test_coordinator_names_and_changes_the_case_director(api: Api, case_id: str) -> None:
    """case-director names a person of a party on the case team; the history keeps each step,
    the director is notified, the change is audited."""
    assert api.track(case_id, "pga").status_code == 200
    first = post(
        api,
        "mulder",
        f"/cases/{case_id}/case-director",
        {
            "case_director": "smit",
            "reason": "Woonproblematiek staat voorop",
        },
    )
    assert first.status_code == 200, first.json
    second = post(
        api,
        "mulder",
        f"/cases/{case_id}/case-director",
        {
            "case_director": "jansen",
            "reason": "Ondermijning staat nu voorop",
        },
    )
    assert second.json == {"case_id": case_id, "track": "pga", "case_director": "jansen"}
    body = history(api, case_id, "visser")
    assert body["case_director"] == "jansen"
    steps = [(s["kind"], (s["case_director"] or {}).get("username")) for s in body["history"]]
    assert steps[-2:] == [("director", "smit"), ("director", "jansen")]
    assert [n["kind"] for n in notifications(api, "jansen", unread="true")["items"]] == [
        "case_director",
        "case_team",
    ]
    entry = last_event(api, "case_director.change")
    assert (entry.action, entry.outcome) == ("update", "success")
    assert entry.detail["previous_case_director"] == "smit"
    assert entry.detail["case_director"] == "jansen"
    assert case_row(api, case_id).case_director_id is not None


# ── closing ─────────────────────────────────────────────────────────────────────────────────


def test_coordinator_closes_a_case_with_a_reason(api: Api, case_id: str) -> None:
    """close sets closed_at, the reason code and who closed it, adds a close step with the
    note, is audited — and the young person's next signal opens a new case."""
    assert api.track(case_id, "lokaal_preventief", director="devries").status_code == 200
    response = post(
        api,
        "mulder",
        f"/cases/{case_id}/close",
        {
            "reason_code": "verhuisd",
            "note": "Verhuisd naar Groningen",
        },
    )
    assert response.status_code == 200, response.json
    assert response.json["close_reason"] == "verhuisd"
    assert response.json["closed_by"] == "mulder"
    stored = case_row(api, case_id)
    assert stored.closed_at is not None and stored.close_reason == "verhuisd"
    assert stored.closed_by_id is not None
    body = history(api, case_id, "jansen")
    assert body["close_reason"] == "verhuisd" and body["closed_at"]
    step = body["history"][-1]
    assert (step["kind"], step["reason"]) == ("close", "Verhuisd naar Groningen")
    entry = last_event(api, "case.close")
    assert (entry.action, entry.detail["reason_code"]) == ("update", "verhuisd")
    again = api.signal("jansen", {"bsn": BSN}, {"incident_count": 1})
    assert again.status_code == 201 and again.json["new_case"] is True


def test_close_without_a_note_records_the_reason_in_words(api: Api, case_id: str) -> None:
    """Without a note, the close step's reason is the reason code in words."""
    assert (
        post(api, "mulder", f"/cases/{case_id}/close", {"reason_code": "geen_grond"}).status_code
        == 200
    )
    step = history(api, case_id)["history"][-1]
    assert step["kind"] == "close" and "grond" in step["reason"]


# ── history ─────────────────────────────────────────────────────────────────────────────────


def test_history_is_for_the_case_team_and_audited(api: Api, case_id: str) -> None:
    """Parties on the case team of the current track read the history (audited); who
    signalled is DAT-information, shown to the coordinator only."""
    assert api.track(case_id, "lokaal_preventief", director="devries").status_code == 200
    school = history(api, case_id, "bakker")
    assert school["history"][0]["decided_by"] is None
    coordinator = history(api, case_id, "mulder")
    assert coordinator["history"][0]["decided_by"]["party"] == "politie"
    entry = last_event(api, "case.history")
    assert (entry.action, entry.outcome, entry.case_id) == ("read", "success", case_id)
    assert entry.person_id == "mulder" and entry.purpose == "casusoverleg"
    assert SURNAME not in json.dumps(school)


# ── notifications ───────────────────────────────────────────────────────────────────────────


def test_notifications_are_per_person_newest_first_with_read_state(api: Api) -> None:
    """Each person sees only their own notifications, newest first, paged; marking one read
    takes it out of ?unread=true, and the listing and the marking are audited."""
    first = open_case(api, BSN, track="lokaal_preventief")
    second = open_case(api, OTHER_BSN, track="pga")
    mine = notifications(api, "bakker")
    assert [n["case_id"] for n in mine["items"]] == [second, first]
    assert (mine["total"], mine["unread"]) == (2, 2)
    paged = notifications(api, "bakker", per_page=1, page=2)
    assert [n["case_id"] for n in paged["items"]] == [first] and paged["total"] == 2
    newest = mine["items"][0]["id"]
    marked = post(api, "bakker", f"/notifications/{newest}/read", {})
    assert marked.status_code == 200 and marked.json["read_at"]
    unread = notifications(api, "bakker", unread="true")
    assert [n["case_id"] for n in unread["items"]] == [first] and unread["unread"] == 1
    assert len(notifications(api, "bakker")["items"]) == 2
    assert last_event(api, "notification.list").person_id == "bakker"
    read = last_event(api, "notification.read")
    assert (read.action, read.case_id) == ("update", second)
    assert {n["case_id"] for n in notifications(api, "smit")["items"]} == {second}


# ── refusals: each class, audited, nothing changed ──────────────────────────────────────────

TRACK = "/cases/{case}/track"
DIRECTOR = "/cases/{case}/case-director"
CLOSE = "/cases/{case}/close"
GOOD_DIRECTOR = {"case_director": "jansen", "reason": "Besproken"}

# name: (username, path, body, status, code, event, outcome); the case is in lokaal_preventief
# with devries as case director
REFUSALS: dict[str, tuple[str, str, Any, int, str, str, str]] = {
    "track_by_a_case_worker": (
        "jansen",
        TRACK,
        {"track": "pga", "reason": "x"},
        403,
        "purpose_not_for_role",
        "track.change",
        "denied",
    ),
    "director_by_a_case_worker": (
        "jansen",
        DIRECTOR,
        GOOD_DIRECTOR,
        403,
        "coordinator_only",
        "case_director.change",
        "denied",
    ),
    "close_by_a_case_worker": (
        "devries",
        CLOSE,
        {"reason_code": "doel_bereikt"},
        403,
        "coordinator_only",
        "case.close",
        "denied",
    ),
    "director_unknown_case": (
        "mulder",
        DIRECTOR.replace("{case}", UNKNOWN_CASE),
        GOOD_DIRECTOR,
        404,
        "case_not_found",
        "case_director.change",
        "not_found",
    ),
    "close_unknown_case": (
        "mulder",
        CLOSE.replace("{case}", UNKNOWN_CASE),
        {"reason_code": "verhuisd"},
        404,
        "case_not_found",
        "case.close",
        "not_found",
    ),
    "director_unknown_person": (
        "mulder",
        DIRECTOR,
        {"case_director": "niemand", "reason": "x"},
        422,
        "invalid_director_change",
        "case_director.change",
        "invalid",
    ),
    "director_off_the_case_team": (
        "mulder",
        DIRECTOR,
        {"case_director": "smit", "reason": "x"},
        422,
        "invalid_director_change",
        "case_director.change",
        "invalid",
    ),
    "director_without_a_case_role": (
        "mulder",
        DIRECTOR,
        {"case_director": "dekker", "reason": "x"},
        422,
        "invalid_director_change",
        "case_director.change",
        "invalid",
    ),
    "director_without_reason": (
        "mulder",
        DIRECTOR,
        {"case_director": "jansen", "reason": "  "},
        422,
        "invalid_director_change",
        "case_director.change",
        "invalid",
    ),
    "director_unknown_member": (
        "mulder",
        DIRECTOR,
        {**GOOD_DIRECTOR, "track": "pga"},
        422,
        "invalid_director_change",
        "case_director.change",
        "invalid",
    ),
    "director_the_same": (
        "mulder",
        DIRECTOR,
        {"case_director": "devries", "reason": "x"},
        409,
        "same_case_director",
        "case_director.change",
        "conflict",
    ),
    "close_unknown_reason": (
        "mulder",
        CLOSE,
        {"reason_code": "opgelost"},
        422,
        "invalid_close",
        "case.close",
        "invalid",
    ),
    "close_without_reason": (
        "mulder",
        CLOSE,
        {"note": "klaar"},
        422,
        "invalid_close",
        "case.close",
        "invalid",
    ),
    "close_not_an_object": (
        "mulder",
        CLOSE,
        ["verhuisd"],
        422,
        "invalid_close",
        "case.close",
        "invalid",
    ),
    "close_malformed_json": (
        "mulder",
        CLOSE,
        None,
        400,
        "malformed_json",
        "case.close",
        "invalid",
    ),
}


@pytest.mark.parametrize("kind", sorted(REFUSALS))
def test_refused_changes_are_audited_and_change_nothing(api: Api, kind: str) -> None:
    """Every class of refused track, director or close request: problem+json naming the
    problem, one audit record, no table changed."""
    username, path, body, status, code, event, outcome = REFUSALS[kind]
    case_id = open_case(api, BSN, {"surname": SURNAME}, "lokaal_preventief", "devries")
    was = before(api, username)
    url = "/api/v1" + path.replace("{case}", case_id)
    if body is None:
        response = api.client.post(
            url, data="{", content_type="application/json", headers=api.headers(username)
        )
    else:
        response = api.client.post(url, json=body, headers=api.headers(username))
    problem = refused(api, was, response, status, code, event=event, outcome=outcome)
    if status == 422:
        assert problem["errors"] and all(e["field"] for e in problem["errors"])
    assert SURNAME not in response.get_data(as_text=True)


def test_unknown_reason_code_names_the_codes(api: Api, case_id: str) -> None:
    """A reason code outside the list is 422 naming the field and the codes allowed."""
    response = post(api, "mulder", f"/cases/{case_id}/close", {"reason_code": "opgelost"})
    assert response.status_code == 422
    (error,) = response.json["errors"]
    assert error["field"] == "reason_code" and "verhuisd" in error["problem"]
    assert "opgelost" not in response.get_data(as_text=True)


CLOSED_REFUSALS = {
    "track": (TRACK, {"track": "pga", "reason": "x"}, "track.change"),
    "director": (DIRECTOR, GOOD_DIRECTOR, "case_director.change"),
    "close": (CLOSE, {"reason_code": "verhuisd"}, "case.close"),
}


@pytest.mark.parametrize("kind", sorted(CLOSED_REFUSALS))
def test_a_closed_case_takes_no_more_changes(api: Api, kind: str) -> None:
    """On a closed case a track change, a director change and closing again are 409
    case_closed, audited, nothing changed."""
    path, body, event = CLOSED_REFUSALS[kind]
    case_id = open_case(api, BSN, track="lokaal_preventief")
    closing = post(api, "mulder", f"/cases/{case_id}/close", {"reason_code": "doel_bereikt"})
    assert closing.status_code == 200
    was = before(api, "mulder")
    response = post(api, "mulder", path.replace("{case}", case_id), body)
    refused(api, was, response, 409, "case_closed", event=event, outcome="conflict")


HISTORY_REFUSALS = {
    "not_on_the_case_team": (
        "smit",
        {"purpose": "casusoverleg"},
        404,
        "case_not_found",
        "not_found",
    ),
    "privacy_officer": ("dekker", {"purpose": "toezicht"}, 403, "no_case_content", "denied"),
    "no_purpose": ("jansen", {}, 403, "purpose_missing", "denied"),
    "unknown_case": ("mulder", {"purpose": "casusoverleg"}, 404, "case_not_found", "not_found"),
}


@pytest.mark.parametrize("kind", sorted(HISTORY_REFUSALS))
def test_history_refusals_are_audited(api: Api, kind: str) -> None:
    """A party off the case team gets 404 as for a case view; no case purpose or no purpose
    is 403; each refusal is audited and shows nothing."""
    username, params, status, code, outcome = HISTORY_REFUSALS[kind]
    case_id = open_case(api, BSN, {"surname": SURNAME}, "lokaal_preventief", "devries")
    target = UNKNOWN_CASE if kind == "unknown_case" else case_id
    was = before(api, username)
    response = get(api, username, f"/cases/{target}/history", **params)
    refused(api, was, response, status, code, event="case.history", outcome=outcome)
    assert "Lokaal" not in response.get_data(as_text=True)


NOTIFICATION_REFUSALS = {
    "anothers": ("smit", "{own}", 404, "notification_not_found", "not_found"),
    "unknown": ("bakker", "999999", 404, "notification_not_found", "not_found"),
    "not_a_number": ("bakker", "abc", 404, "notification_not_found", "not_found"),
}


@pytest.mark.parametrize("kind", sorted(NOTIFICATION_REFUSALS))
def test_marking_anothers_or_an_unknown_notification_is_404(api: Api, kind: str) -> None:
    """Another person's notification, or none, is 404; it stays unread; audited."""
    username, target, status, code, outcome = NOTIFICATION_REFUSALS[kind]
    open_case(api, BSN, track="lokaal_preventief")
    own = notifications(api, "bakker")["items"][0]["id"]
    was = before(api, username)
    response = post(api, username, f"/notifications/{target.replace('{own}', str(own))}/read", {})
    refused(api, was, response, status, code, event="notification.read", outcome=outcome)
    assert notifications(api, "bakker", unread="true")["total"] == 1


def test_bad_unread_parameter_is_400(api: Api) -> None:
    """?unread= other than true or false is 400, audited."""
    was = before(api, "bakker")
    response = get(api, "bakker", "/notifications", unread="ja")
    refused(api, was, response, 400, "bad_parameter", event="notification.list", outcome="invalid")


def test_track_history_rows_are_never_rewritten(api: Api, case_id: str) -> None:
    """A track change, a director change and closing each add a history row; no earlier row
    changes."""

    def stored() -> list[tuple[Any, ...]]:
        with api.app.app_context():
            session = runtime().sessions()
            try:
                return [
                    (t.id, t.kind, t.from_track, t.to_track, t.reason, t.decided_at)
                    for t in session.scalars(select(TrackChange).order_by(TrackChange.id))
                ]
            finally:
                session.close()

    seen = stored()
    for step in (
        lambda: api.track(case_id, "pga"),
        lambda: post(api, "mulder", f"/cases/{case_id}/case-director", GOOD_DIRECTOR),
        lambda: post(api, "mulder", f"/cases/{case_id}/close", {"reason_code": "doel_bereikt"}),
    ):
        assert step().status_code == 200
        now = stored()
        assert now[: len(seen)] == seen and len(now) == len(seen) + 1
        seen = now
    assert [row[1] for row in seen] == ["track", "track", "director", "close"]
