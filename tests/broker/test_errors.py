"""Every refusal of the API: problem+json with a code, nothing stored, one audit record."""

from __future__ import annotations

import dataclasses
import datetime as dt
import time
from collections.abc import Callable
from typing import Any

import pytest
import sqlalchemy
from flask import Flask
from joserfc.jwk import ECKey
from sqlalchemy import Engine, select, text, update
from werkzeug.test import TestResponse

from broker.core.runtime import runtime, transaction
from broker.storage.models import Case, Person
from tests.broker.casework_support import before, refused, rows
from tests.broker.conftest import Api

BSN = "725763863"
SENTINELS = ("Hoekstra-Sentinel", "Daan-Sentinel", "Heechterp-Sentinel")
UNKNOWN_CASE = "case-" + "0" * 32


@pytest.fixture(autouse=True)
def _short_lock_wait(app: Flask) -> None:
    """On SQLite, wait 0.5 s (not 30 s) for the write lock, so a lock conflict fails fast."""
    engine: Engine = app.extensions["broker"].engine
    if engine.dialect.name != "sqlite":
        return

    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.execute("PRAGMA busy_timeout=500")

    sqlalchemy.event.listen(engine, "connect", _on_connect)
    engine.dispose()


@pytest.fixture
def case_id(api: Api) -> str:
    """A case in track signaal, opened by a police signal with distinctive values."""
    surname, given, wijk = SENTINELS
    response = api.signal(
        "jansen",
        {"bsn": BSN},
        {"surname": surname, "given_names": given, "wijk": wijk, "incident_count": 2},
    )
    assert response.status_code == 201, response.json
    return str(response.json["case_id"])


def _track_of(api: Api, case_id: str) -> str:
    with api.app.app_context(), transaction() as session:
        return str(session.scalars(select(Case.track).where(Case.id == case_id)).one())


# ── 400 and 413: the body ───────────────────────────────────────────────────────────────────

MALFORMED = {
    "truncated": "{",
    "bad_value": '{"subject": }',
    "empty": "",
}


def test_malformed_json_is_400(api: Api, subtests: pytest.Subtests) -> None:
    """A body that is not JSON (also JSON nested too deep to parse) is 400 malformed_json."""
    for kind, body in MALFORMED.items():
        with subtests.test(kind):
            was = before(api, "jansen")
            response = api.client.post(
                "/api/v1/signals",
                data=body,
                headers=api.headers("jansen"),
                content_type="application/json",
            )
            problem = refused(
                api, was, response, 400, "malformed_json", event="signal.create", outcome="invalid"
            )
            assert "JSON" in problem["detail"]


def test_json_nested_too_deep_is_400(api: Api) -> None:
    """JSON nested deeper than the broker reads (far deeper than the parser goes, too) is 400
    body_too_deep, refused before it is parsed."""
    was = before(api, "jansen")
    response = api.client.post(
        "/api/v1/signals",
        data="[" * 100_000 + "]" * 100_000,
        headers=api.headers("jansen"),
        content_type="application/json",
    )
    problem = refused(
        api, was, response, 400, "body_too_deep", event="signal.create", outcome="invalid"
    )
    assert "nests deeper" in problem["detail"]


def test_body_over_one_mebibyte_is_413(api: Api) -> None:
    """A body just over MAX_CONTENT_LENGTH (1 MiB) is 413 request_too_large."""
    was = before(api, "jansen")
    body = b'{"summary": "' + b"x" * (1024 * 1024) + b'"}'
    response = api.client.post(
        "/api/v1/signals", data=body, headers=api.headers("jansen"), content_type="application/json"
    )
    problem = refused(
        api, was, response, 413, "request_too_large", event="signal.create", outcome="invalid"
    )
    assert str(1024 * 1024) in problem["detail"]


# ── 401: who asks ───────────────────────────────────────────────────────────────────────────


def _forged(api: Api, **changes: Any) -> str:
    """A token for jansen from the app's token service with some of its settings changed."""
    with api.app.app_context():
        service = dataclasses.replace(runtime().tokens, **changes)
    token, _ = service.issue(
        subject="jansen", party="politie", roles=["case_worker"], name="Wijkagent Pieter Jansen"
    )
    return token


def _other_key(kid: str | None = None) -> ECKey:
    key = ECKey.generate_key("P-256", parameters={"use": "sig", "alg": "ES256"}, auto_kid=True)
    if kid is None:
        return key
    return ECKey.import_key({**key.as_dict(private=True), "kid": kid})


def _own_kid(api: Api) -> str:
    with api.app.app_context():
        return str(runtime().tokens.key.kid)


BAD_AUTHORIZATION: dict[str, tuple[Callable[[Api], dict[str, str]], str]] = {
    "no_header": (lambda api: {}, "missing_token"),
    "empty_bearer": (lambda api: {"Authorization": "Bearer "}, "missing_token"),
    "basic_scheme": (lambda api: {"Authorization": "Basic amFuc2VuOmdlaGVpbQ=="}, "missing_token"),
    "garbage": (lambda api: {"Authorization": "Bearer not-a-token"}, "invalid_token"),
    "three_garbage_parts": (lambda api: {"Authorization": "Bearer a.b.c"}, "invalid_token"),
    "expired": (
        lambda api: {"Authorization": "Bearer " + _forged(api, clock=lambda: time.time() - 3600)},
        "invalid_token",
    ),
    "other_key": (
        lambda api: {"Authorization": "Bearer " + _forged(api, key=_other_key())},
        "invalid_token",
    ),
    "other_key_same_kid": (
        lambda api: {"Authorization": "Bearer " + _forged(api, key=_other_key(_own_kid(api)))},
        "invalid_token",
    ),
    "wrong_audience": (
        lambda api: {"Authorization": "Bearer " + _forged(api, audience="another-service")},
        "invalid_token",
    ),
    "wrong_issuer": (
        lambda api: {"Authorization": "Bearer " + _forged(api, issuer="https://issuer.invalid")},
        "invalid_token",
    ),
}


def test_bad_or_missing_token_is_401(api: Api, subtests: pytest.Subtests) -> None:
    """No, malformed, expired, foreign-key, wrong-audience or wrong-issuer token: 401."""
    for kind, (make_headers, code) in BAD_AUTHORIZATION.items():
        with subtests.test(kind):
            headers = make_headers(api)
            was = before(api)
            response = api.client.post(
                "/api/v1/signals",
                json={"subject": {"bsn": BSN}, "fields": {"surname": "Jong"}},
                headers=headers,
            )
            refused(api, was, response, 401, code, event="signal.create", outcome="unauthorized")
            assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_token_of_a_disabled_person_is_401(api: Api) -> None:
    """A valid token stops working once its person is disabled."""
    was = before(api, "jansen")
    with api.app.app_context(), transaction() as session:
        session.execute(update(Person).where(Person.username == "jansen").values(disabled=True))
    response = api.signal("jansen", {"bsn": BSN}, {"surname": "Jong"})
    problem = refused(
        api, was, response, 401, "invalid_token", event="signal.create", outcome="unauthorized"
    )
    assert "disabled" in problem["detail"]


# ── 403: doelbinding ────────────────────────────────────────────────────────────────────────

FORBIDDEN = {
    # username, purpose, extra query, code, a name the detail must mention
    "purpose_not_for_role": ("jansen", "triage", {}, "purpose_not_for_role", "triage"),
    "unknown_purpose": ("jansen", "nieuwsgierigheid", {}, "purpose_unknown", "nieuwsgierigheid"),
    "malformed_purpose": ("jansen", "Triage; DROP", {}, "purpose_unknown", "purpose"),
    "role_not_held": (
        "jansen",
        "casusoverleg",
        {"role": "coordinator"},
        "role_not_held",
        "coordinator",
    ),
    "privacy_officer_asks_content": ("dekker", "toezicht", {}, "no_case_content", "toezicht"),
}


def test_purpose_the_role_may_not_use_is_403(
    api: Api, case_id: str, subtests: pytest.Subtests
) -> None:
    """A purpose that is unknown or not the caller's role's is 403 naming it; nothing shown."""
    for kind, (username, purpose, params, code, named) in FORBIDDEN.items():
        with subtests.test(kind):
            was = before(api, username)
            response = api.view(username, case_id, purpose=purpose, **params)
            problem = refused(api, was, response, 403, code, event="case.view", outcome="denied")
            assert named in problem["detail"]
            assert not any(s in response.get_data(as_text=True) for s in SENTINELS)


def test_missing_purpose_is_403(api: Api, case_id: str) -> None:
    """A read without ?purpose= is 403 purpose_missing listing the purposes."""
    was = before(api, "jansen")
    response = api.client.get(f"/api/v1/cases/{case_id}", headers=api.headers("jansen"))
    problem = refused(
        api, was, response, 403, "purpose_missing", event="case.view", outcome="denied"
    )
    assert "purpose" in problem["detail"] and "casusoverleg" in problem["purposes"]


def test_case_worker_cannot_assign_a_track(
    api: Api, case_id: str, subtests: pytest.Subtests
) -> None:
    """A case worker calling the track endpoint is 403; the track stays as it was."""
    for query, code in (
        ({}, "purpose_not_for_role"),
        ({"purpose": "casusoverleg"}, "coordinator_only"),
    ):
        with subtests.test(code):
            was = before(api, "jansen")
            response = api.client.post(
                f"/api/v1/cases/{case_id}/track",
                query_string=query,
                json={"track": "pga", "reason": "Zelf besloten"},
                headers=api.headers("jansen"),
            )
            refused(api, was, response, 403, code, event="track.change", outcome="denied")
            assert _track_of(api, case_id) == "signaal"


# ── 404: no such case (or none the caller may see) ──────────────────────────────────────────


def test_unknown_or_malformed_case_id_is_404(
    api: Api, case_id: str, subtests: pytest.Subtests
) -> None:
    """A case id that names no case, well-formed or not, is 404 case_not_found."""
    for wanted in (UNKNOWN_CASE, "not-a-case-id", "case-" + "G" * 32, case_id + "0"):
        with subtests.test(wanted):
            was = before(api, "jansen")
            response = api.view("jansen", wanted)
            problem = refused(
                api, was, response, 404, "case_not_found", event="case.view", outcome="not_found"
            )
            assert "case" in problem["detail"]


def test_case_off_the_partys_tracks_is_404_like_an_unknown_one(api: Api, case_id: str) -> None:
    """A party off the case team that supplied nothing gets the unknown-case 404, word for word."""
    was = before(api, "smit")
    response = api.view("smit", case_id)
    problem = refused(
        api, was, response, 404, "case_not_found", event="case.view", outcome="not_found"
    )
    assert api.audit_records()[-1].entry.case_id == case_id
    unknown = api.view("smit", UNKNOWN_CASE).json
    same = ("type", "title", "status", "code", "detail")
    assert {k: problem[k] for k in same} == {k: unknown[k] for k in same}
    assert set(problem) == set(unknown)
    assert not any(s in response.get_data(as_text=True) for s in SENTINELS)


def test_track_change_of_an_unknown_case_is_404(api: Api) -> None:
    """The coordinator assigning a track to a case that does not exist gets 404."""
    was = before(api, "mulder")
    response = api.track(UNKNOWN_CASE, "pga")
    refused(api, was, response, 404, "case_not_found", event="track.change", outcome="not_found")


# ── 422: the signal ─────────────────────────────────────────────────────────────────────────


def _born_years_ago(years: int) -> str:
    return dt.date(dt.date.today().year - years, 1, 1).isoformat()


FALLBACK = {
    "surname": "Jong",
    "given_names": "Kevin",
    "birth_date": _born_years_ago(17),
    "postcode": "8917 BP",
    "house_number": "40",
}

INVALID_SIGNALS: dict[str, tuple[str, dict[str, Any], dict[str, Any], str, str | None]] = {
    # username, subject, fields, the field the problem names, a sent value never echoed
    "bsn_fails_eleven_check": (
        "jansen",
        {"bsn": "123456789"},
        {"surname": "Jong"},
        "subject.bsn",
        "123456789",
    ),
    "bsn_all_zeros": (
        "jansen",
        {"bsn": "000000000"},
        {"surname": "Jong"},
        "subject.bsn",
        "000000000",
    ),
    "bsn_not_a_string": ("jansen", {"bsn": 725763863}, {"surname": "Jong"}, "subject.bsn", None),
    "unknown_field": (
        "jansen",
        {"bsn": BSN},
        {"lievelingskleur": "Zeegroen-Sentinel"},
        "fields.lievelingskleur",
        "Zeegroen-Sentinel",
    ),
    "field_the_party_may_not_supply": (
        "bakker",
        {"bsn": BSN},
        {"incident_count": 2},
        "fields.incident_count",
        None,
    ),
    "string_for_integer": (
        "jansen",
        {"bsn": BSN},
        {"incident_count": "twee-Sentinel"},
        "fields.incident_count",
        "twee-Sentinel",
    ),
    "bool_for_integer": (
        "jansen",
        {"bsn": BSN},
        {"incident_count": True},
        "fields.incident_count",
        None,
    ),
    "bad_postcode": ("jansen", {"bsn": BSN}, {"postcode": "0924 CK"}, "fields.postcode", "0924 CK"),
    "bad_postcode_in_subject": (
        "jansen",
        {**FALLBACK, "postcode": "89175 XX"},
        {"surname": "Jong"},
        "subject.postcode",
        "89175 XX",
    ),
    "bad_date": (
        "jansen",
        {"bsn": BSN},
        {"birth_date": "2010-02-30"},
        "fields.birth_date",
        "2010-02-30",
    ),
    "date_not_iso": (
        "jansen",
        {"bsn": BSN},
        {"birth_date": "14-03-2011"},
        "fields.birth_date",
        "14-03-2011",
    ),
    "younger_than_8": (
        "jansen",
        {"bsn": BSN},
        {"birth_date": _born_years_ago(7)},
        "birth_date",
        None,
    ),
    "older_than_27": (
        "jansen",
        {"bsn": BSN},
        {"birth_date": _born_years_ago(28)},
        "birth_date",
        None,
    ),
    "born_in_the_future": (
        "jansen",
        {"bsn": BSN},
        {"birth_date": _born_years_ago(-1)},
        "birth_date",
        None,
    ),
}


def test_invalid_signal_is_422_naming_the_field(api: Api, subtests: pytest.Subtests) -> None:
    """Each invalid signal is 422 invalid_signal naming the field, never echoing the value."""
    for kind, (username, subject, fields, field, value) in INVALID_SIGNALS.items():
        with subtests.test(kind):
            was = before(api, username)
            response = api.signal(username, subject, fields)
            problem = refused(
                api, was, response, 422, "invalid_signal", event="signal.create", outcome="invalid"
            )
            named = [e["field"] for e in problem["errors"]]
            assert any(n == field or n.endswith("." + field) for n in named), named
            if value is not None:
                assert value not in response.get_data(as_text=True)
                assert value not in api.audit_records()[-1].body.decode()


def test_ages_8_and_27_are_inside_the_target_group(api: Api) -> None:
    """The age limits are inclusive: young people of exactly 8 and of 27 are accepted."""
    for years, bsn in ((8, BSN), (27, "162275869")):
        response = api.signal("jansen", {"bsn": bsn}, {"birth_date": _born_years_ago(years)})
        assert response.status_code == 201, (years, response.json)


# ── 422 and 409: the track change ───────────────────────────────────────────────────────────

INVALID_TRACK_CHANGES: dict[str, tuple[dict[str, Any], str]] = {
    "unknown_track": ({"track": "gesloten_inrichting", "reason": "Besproken"}, "track"),
    "back_to_signaal": ({"track": "signaal", "reason": "Terug naar af"}, "track"),
    "missing_reason": ({"track": "pga"}, "reason"),
    "blank_reason": ({"track": "pga", "reason": "   "}, "reason"),
    "director_off_the_case_team": (
        {"track": "lokaal_preventief", "reason": "Besproken", "case_director": "smit"},
        "case_director",
    ),
    "unknown_director": (
        {"track": "pga", "reason": "Besproken", "case_director": "niemand"},
        "case_director",
    ),
}


def test_invalid_track_change_is_422(api: Api, case_id: str, subtests: pytest.Subtests) -> None:
    """An invalid track change is 422 naming the field; track and history stay as they were."""
    assert api.track(case_id, "lokaal_preventief").status_code == 200
    for kind, (body, field) in INVALID_TRACK_CHANGES.items():
        with subtests.test(kind):
            was = before(api, "mulder")
            response = api.client.post(
                f"/api/v1/cases/{case_id}/track", json=body, headers=api.headers("mulder")
            )
            problem = refused(
                api,
                was,
                response,
                422,
                "invalid_track_change",
                event="track.change",
                outcome="invalid",
            )
            assert field in [e["field"] for e in problem["errors"]]
            assert _track_of(api, case_id) == "lokaal_preventief"


def test_same_track_again_is_409(api: Api, case_id: str) -> None:
    """Assigning the track a case is already in is 409 same_track naming the track."""
    assert api.track(case_id, "pga").status_code == 200
    was = before(api, "mulder")
    response = api.track(case_id, "pga")
    problem = refused(
        api, was, response, 409, "same_track", event="track.change", outcome="conflict"
    )
    assert "pga" in problem["detail"]


# ── 404 and 405: routing ────────────────────────────────────────────────────────────────────


def test_unknown_route_is_404_problem(api: Api) -> None:
    """An unknown route under /api/v1 is a 404 problem, audited as not_found."""
    was = before(api, "jansen")
    response = api.client.get("/api/v1/young_people", headers=api.headers("jansen"))
    refused(api, was, response, 404, "not_found", event="api.request", outcome="not_found")


def test_wrong_method_is_405_problem(api: Api) -> None:
    """A method a route does not have is a 405 problem naming the method."""
    was = before(api, "jansen")
    response = api.client.delete("/api/v1/signals", headers=api.headers("jansen"))
    problem = refused(
        api, was, response, 405, "method_not_allowed", event="api.request", outcome="invalid"
    )
    assert "DELETE" in problem["detail"]


# ── 503: fail closed when the audit log cannot be written ───────────────────────────────────


@pytest.fixture
def audit_broken(api: Api, case_id: str) -> str:
    """The case of `case_id`, with the audit_record table renamed away under the app."""
    for username in ("jansen", "mulder", "bakker"):
        api.token(username)
    with api.app.app_context():
        engine = runtime().engine
    with engine.begin() as connection:
        connection.execute(text("ALTER TABLE audit_record RENAME TO audit_record_away"))
    return case_id


def _unavailable(response: TestResponse) -> None:
    assert response.status_code == 503, response.get_data(as_text=True)
    assert response.mimetype == "application/problem+json"
    assert response.json["code"] == "audit_unavailable"
    text_ = response.get_data(as_text=True)
    assert not any(s in text_ for s in SENTINELS)
    assert BSN not in text_ and "***" not in text_


def test_case_view_fails_closed_without_audit(api: Api, audit_broken: str) -> None:
    """A case view whose audit record cannot be written is 503 and shows no value."""
    _unavailable(api.view("mulder", audit_broken, purpose="triage"))
    response = api.client.get(
        "/api/v1/cases", query_string={"purpose": "triage"}, headers=api.headers("mulder")
    )
    _unavailable(response)


def test_signal_fails_closed_without_audit(api: Api, audit_broken: str) -> None:
    """A signal whose audit record cannot be written is 503 and stores nothing."""
    was = rows(api)
    _unavailable(api.signal("bakker", {"bsn": BSN}, {"attendance_problem": True}))
    _unavailable(api.signal("jansen", {"bsn": "162275869"}, {"surname": "Nieuw"}))
    assert rows(api) == was


def test_track_change_fails_closed_without_audit(api: Api, audit_broken: str) -> None:
    """A track change whose audit record cannot be written is 503 and changes nothing."""
    was = rows(api)
    _unavailable(api.track(audit_broken, "pga"))
    assert rows(api) == was and _track_of(api, audit_broken) == "signaal"


UNAUDITABLE_REFUSALS: dict[str, tuple[str, str, str | None, dict[str, str]]] = {
    "401": ("get", "/api/v1/cases/{case}", None, {"purpose": "casusoverleg"}),
    "403": ("get", "/api/v1/cases/{case}", "jansen", {"purpose": "triage"}),
    "404": ("get", "/api/v1/cases/" + UNKNOWN_CASE, "jansen", {"purpose": "casusoverleg"}),
    "403_track": ("post", "/api/v1/cases/{case}/track", "mulder", {"purpose": "toezicht"}),
    "422_signal": ("post", "/api/v1/signals", "bakker", {}),
    "422_explain": ("get", "/api/v1/convenant/explain", "jansen", {}),
}


def test_refusal_fails_closed_without_audit(
    api: Api, audit_broken: str, subtests: pytest.Subtests
) -> None:
    """A refusal that cannot be audited is 503 problem+json, never a 500 or the refusal."""
    for kind, (method, path, username, query) in UNAUDITABLE_REFUSALS.items():
        with subtests.test(kind):
            response = getattr(api.client, method)(
                path.format(case=audit_broken),
                query_string=query,
                json={"subject": {}},
                headers=api.headers(username),
            )
            _unavailable(response)
