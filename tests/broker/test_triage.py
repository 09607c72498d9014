"""The triage queue end to end: DAT-information only, the three Verwijsindex matches by keyed
hashes (never by value), every listed case audited, every refusal audited with nothing changed."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select

from broker import create_app
from broker.casework.matching import match_key, match_secret
from broker.cli.demo import ensure_accounts
from broker.cli.service import init_database
from broker.core.runtime import runtime
from broker.storage.models import MatchKey
from tests.broker.casework_support import before, get, open_case, refused
from tests.broker.conftest import Api
from tests.strategies import dutch_postcodes, house_numbers, parent_names, respelled

BSN_A, BSN_B, BSN_C = "725763863", "162275869", "192285142"
PARENT = "Anna Guardian-Sentinel"
ADDRESS = {"street": "Egelantierstraat", "postcode": "8924 CK", "house_number": "12a"}


def queue(api: Api, username: str = "mulder", **params: Any) -> dict[str, Any]:
    """GET /api/v1/triage as the account; the body of a 200."""
    response = get(api, username, "/triage", **params)
    assert response.status_code == 200, response.get_data(as_text=True)
    body: dict[str, Any] = response.json
    return body


def item(body: dict[str, Any], case_id: str) -> dict[str, Any]:
    """The queue item of one case."""
    found = [i for i in body["items"] if i["case_id"] == case_id]
    assert len(found) == 1, body
    return found[0]


def kinds(entry: dict[str, Any]) -> dict[str, Any]:
    """kind → the other case id (or the parties, for second_party) of an item's matches."""
    return {m["kind"]: m.get("case_id", m.get("parties")) for m in entry["matches"]}


def triage_records(api: Api) -> list[Any]:
    """The audit entries of the triage queue, in order."""
    return [r.entry for r in api.audit_records() if r.entry.event == "triage.list"]


# ── what the queue shows ────────────────────────────────────────────────────────────────────


def test_queue_shows_dat_information_and_the_triage_identification(api: Api) -> None:
    """An item holds the identification as the convenant shows it for triage (BSN masked), who
    signalled and when, which categories hold data — and no value of any other category."""
    case_id = open_case(
        api,
        BSN_A,
        {
            "surname": "Hoekstra",
            "given_names": "Daan",
            "incident_count": 4,
            "incidents_summary": "Incident-Sentinel",
            "guardian_name": PARENT,
        },
    )
    assert (
        api.signal("bakker", {"bsn": BSN_A}, {"school_name": "School-Sentinel"}).status_code == 201
    )
    body = queue(api)
    assert (body["track"], body["purpose"], body["role"], body["total"]) == (
        "signaal",
        "triage",
        "coordinator",
        1,
    )
    entry = item(body, case_id)
    assert entry["identification"] == {
        "bsn": "******863",
        "surname": "Hoekstra",
        "given_names": "Daan",
    }
    assert entry["effects"] == {"bsn": "mask", "surname": "show", "given_names": "show"}
    involvement = entry["involvement"]
    assert involvement["parties"] == ["politie", "school"]
    assert involvement["categories"] == ["contact", "identification", "police", "school"]
    assert [s["party"] for s in involvement["signals"]] == ["politie", "school"]
    assert all(s["received_at"] for s in involvement["signals"])
    text = json.dumps(body)
    for value in ("Incident-Sentinel", "School-Sentinel", PARENT, "725763863"):
        assert value not in text


def test_only_open_cases_in_signaal_are_in_the_queue(api: Api) -> None:
    """A case on another track is not in the queue, nor a closed one."""
    waiting = open_case(api, BSN_A)
    open_case(api, BSN_B, track="pga")
    closed = open_case(api, BSN_C)
    closing = api.client.post(
        f"/api/v1/cases/{closed}/close",
        json={"reason_code": "geen_grond"},
        headers=api.headers("mulder"),
    )
    assert closing.status_code == 200, closing.json
    body = queue(api)
    assert [i["case_id"] for i in body["items"]] == [waiting] and body["total"] == 1


def test_queue_is_paginated_oldest_first(api: Api) -> None:
    """per_page and page walk the queue, oldest case first; total counts them all."""
    ids = [open_case(api, bsn) for bsn in (BSN_A, BSN_B, BSN_C)]
    pages = [queue(api, page=n, per_page=2) for n in (1, 2, 3)]
    assert [[i["case_id"] for i in p["items"]] for p in pages] == [ids[:2], ids[2:], []]
    assert {p["total"] for p in pages} == {3}


# ── the three kinds of match ────────────────────────────────────────────────────────────────


def test_second_party_on_the_same_young_person_is_a_match(api: Api) -> None:
    """One party: no match; a second party signalling about the same young person: a match
    of kind second_party naming both parties."""
    case_id = open_case(api, BSN_A)
    assert item(queue(api), case_id)["matches"] == []
    assert api.signal("bakker", {"bsn": BSN_A}, {"attendance_problem": True}).status_code == 201
    assert kinds(item(queue(api), case_id)) == {"second_party": ["politie", "school"]}


def test_same_address_written_differently_is_a_match(api: Api) -> None:
    """Two young people at one postcode and house number (other case and spacing) match both
    ways with the other case's id; the same postcode at another number does not."""
    first = open_case(api, BSN_A, {"postcode": "8924 CK", "house_number": "12a"})
    second = open_case(api, BSN_B, {"postcode": "8924ck", "house_number": " 12 A "})
    other = open_case(api, BSN_C, {"postcode": "8924 CK", "house_number": "14"})
    body = queue(api)
    assert kinds(item(body, first)) == {"address": second}
    assert kinds(item(body, second)) == {"address": first}
    assert item(body, other)["matches"] == []


def test_address_match_with_a_case_on_another_track(api: Api) -> None:
    """A signal at the address of a case already in PGA matches it; the coordinator, on every
    case team, gets that case's id."""
    pga = open_case(api, BSN_A, {"surname": "de Jong", **ADDRESS}, track="pga", director="jansen")
    waiting = open_case(api, BSN_B, {"surname": "de Jong", **ADDRESS})
    assert kinds(item(queue(api), waiting)) == {"address": pga}


def test_address_needs_postcode_and_house_number(api: Api) -> None:
    """A postcode alone makes no address key; once the house number arrives (from another
    party), the match is there."""
    first = open_case(api, BSN_A, ADDRESS)
    second = open_case(api, BSN_B, {"postcode": ADDRESS["postcode"]})
    assert item(queue(api), second)["matches"] == []
    response = api.signal("bakker", {"bsn": BSN_B}, {"house_number": "12A"})
    assert response.status_code == 201
    assert kinds(item(queue(api), second)) == {
        "address": first,
        "second_party": ["politie", "school"],
    }


def test_a_new_address_replaces_the_old_key(api: Api) -> None:
    """When a young person moves (a new postcode and number), the old address matches no more."""
    first = open_case(api, BSN_A, ADDRESS)
    second = open_case(api, BSN_B, ADDRESS)
    assert kinds(item(queue(api), second)) == {"address": first}
    moved = api.signal("jansen", {"bsn": BSN_B}, {"postcode": "8917 BP", "house_number": "40"})
    assert moved.status_code == 201
    assert item(queue(api), second)["matches"] == []
    with api.app.app_context():
        session = runtime().sessions()
        try:
            keys = session.scalars(select(MatchKey).where(MatchKey.case_id == second)).all()
        finally:
            session.close()
    assert [k.kind for k in keys] == ["address"]


def test_same_parent_written_differently_is_a_match(api: Api) -> None:
    """Two young people with the same parent (case, spacing and accents aside) match, also at
    different addresses; another parent does not."""
    first = open_case(api, BSN_A, {"guardian_name": "Petra Bouma-Hoekstra", "postcode": "8921 GD"})
    second = open_case(api, BSN_B, {"guardian_name": "  petra  BOUMA-HOEKSTRA"})
    other = open_case(api, BSN_C, {"guardian_name": "Petra Bouma"})
    body = queue(api)
    assert kinds(item(body, first)) == {"parent": second}
    assert kinds(item(body, second)) == {"parent": first}
    assert item(body, other)["matches"] == []


def test_a_closed_case_matches_no_more(api: Api) -> None:
    """Once the other case is closed, its address is no longer a match."""
    first = open_case(api, BSN_A, ADDRESS, track="lokaal_preventief")
    second = open_case(api, BSN_B, ADDRESS)
    assert kinds(item(queue(api), second)) == {"address": first}
    closing = api.client.post(
        f"/api/v1/cases/{first}/close",
        json={"reason_code": "verhuisd"},
        headers=api.headers("mulder"),
    )
    assert closing.status_code == 200
    assert item(queue(api), second)["matches"] == []


# ── no matching value leaves ────────────────────────────────────────────────────────────────


def test_no_matching_value_in_the_response_the_audit_or_the_keys(api: Api) -> None:
    """The match names its kind and the other case, never the parent or address that matched:
    not in the queue, not in the audit log, not in match_keys (keyed hashes only)."""
    pga = open_case(
        api,
        BSN_A,
        {"guardian_name": PARENT, "postcode": "8917 BP", "house_number": "40"},
        track="pga",
    )
    waiting = open_case(
        api, BSN_B, {"guardian_name": PARENT.upper(), "postcode": "8917BP", "house_number": "40"}
    )
    body = queue(api)
    matches = item(body, waiting)["matches"]
    assert sorted(m["kind"] for m in matches) == ["address", "parent"]
    assert all(set(m) == {"kind", "case_id"} and m["case_id"] == pga for m in matches)
    text = json.dumps(body).casefold()
    assert PARENT.casefold() not in text and "guardian" not in text
    audit_text = "".join(r.body.decode() for r in api.audit_records()).casefold()
    for value in (PARENT.casefold(), "8917 bp", "8917bp"):
        assert value not in audit_text
    with api.app.app_context():
        session = runtime().sessions()
        try:
            keys = session.scalars(select(MatchKey)).all()
            secret = match_secret(runtime().subject_secret)
        finally:
            session.close()
    assert len(keys) == 4
    assert all(len(k.key) == 64 and set(k.key) <= set("0123456789abcdef") for k in keys)
    parent_keys = {k.key for k in keys if k.kind == "parent"}
    assert parent_keys == {match_key(secret, "parent", {"guardian_name": PARENT})}
    assert hashlib.sha256(PARENT.casefold().encode()).hexdigest() not in parent_keys


def test_match_keys_depend_on_the_broker_secret() -> None:
    """The same value under two broker secrets gives unrelated keys, and a match key is never
    the subject secret's own HMAC of it (domain separation)."""
    values = {"postcode": "8924 CK", "house_number": "12"}
    one, two = match_secret(b"a" * 32), match_secret(b"b" * 32)
    assert one != two and match_key(one, "address", values) != match_key(two, "address", values)


@given(dutch_postcodes, house_numbers, parent_names, st.data())
def test_match_keys_ignore_case_and_white_space(
    postcode: str, number: str, parent: str, data: st.DataObject
) -> None:
    """A postcode, house number or parent typed with other case and white space has the same
    key; another house number has another key."""
    secret = match_secret(b"k" * 32)
    address = match_key(secret, "address", {"postcode": postcode, "house_number": number})
    assert address is not None
    typed = data.draw(st.sampled_from(["", " "])).join((postcode[:4], postcode[4:]))
    again = {
        "postcode": data.draw(respelled(typed)),
        "house_number": data.draw(respelled(number, gaps=False)),
    }
    assert match_key(secret, "address", again) == address
    assert match_key(secret, "parent", {"guardian_name": parent}) == match_key(
        secret, "parent", {"guardian_name": data.draw(respelled(parent))}
    )
    other = match_key(secret, "address", {"postcode": postcode, "house_number": number + "9"})
    assert other != address


# ── the other case's id only when the coordinator may see it ────────────────────────────────


@pytest.fixture
def extern_api(db_url: str, tmp_path: Path) -> Iterator[Api]:
    """The broker under a convenant with a track `extern` whose case team lacks gemeente."""
    text = (Path(__file__).parents[2] / "convenant.yaml").read_text(encoding="utf-8")
    text = text.replace(
        "tracks:\n",
        "tracks:\n  extern:\n    description: Buiten het MultiTeam\n    case_team: [politie]\n",
        1,
    )
    path = tmp_path / "convenant.yaml"
    path.write_text(text, encoding="utf-8")
    app: Flask = create_app(
        {
            "DATABASE_URL": db_url,
            "INSTANCE_PATH": str(tmp_path / "instance"),
            "CONVENANT": str(path),
            "LOG_LEVEL": "WARNING",
            "TESTING": True,
        }
    )
    with app.app_context():
        init_database()
        ensure_accounts()
    yield Api(app, app.test_client(), {})
    app.extensions["broker"].engine.dispose()


def test_other_case_id_only_when_the_coordinator_may_see_it(extern_api: Api) -> None:
    """A match with a case on a track the coordinator is not on says its kind, not the id."""
    api = extern_api
    hidden = open_case(api, BSN_A, ADDRESS, track="extern")
    waiting = open_case(api, BSN_B, ADDRESS)
    entry = item(queue(api), waiting)
    assert entry["matches"] == [{"kind": "address", "case_id": None}]
    assert hidden not in json.dumps(entry)


# ── the audit ───────────────────────────────────────────────────────────────────────────────


def test_every_listed_case_is_audited_naming_the_fields(api: Api) -> None:
    """One triage.list record per listed case, with its young person, the fields disclosed
    with their effects and the match kinds; an empty page leaves one record."""
    first = open_case(api, BSN_A, {"surname": "Hoekstra", **ADDRESS})
    second = open_case(api, BSN_B, {"surname": "Bouma", **ADDRESS})
    body = queue(api)
    records = triage_records(api)
    assert [r.case_id for r in records] == [first, second]
    for record, entry in zip(records, body["items"], strict=True):
        assert (record.action, record.outcome, record.purpose, record.role) == (
            "search",
            "success",
            "triage",
            "coordinator",
        )
        assert record.subject and record.subject.startswith("yp-")
        assert dict(record.fields_disclosed) == entry["effects"]
        assert record.detail["match_kinds"] == "address"
        assert record.legal_basis
    queue(api, page=5)
    empty = triage_records(api)[-1]
    assert empty.case_id is None and empty.detail["results"] == 0


# ── refusals ────────────────────────────────────────────────────────────────────────────────

REFUSALS = {
    "case_worker": ("jansen", {}, 403, "purpose_not_for_role", "denied"),
    "privacy_officer": ("dekker", {}, 403, "purpose_not_for_role", "denied"),
    "another_purpose": (
        "mulder",
        {"purpose": "casusoverleg"},
        403,
        "purpose_not_for_endpoint",
        "denied",
    ),
    "bad_page": ("mulder", {"page": "0"}, 400, "bad_parameter", "invalid"),
    "bad_per_page": ("mulder", {"per_page": "1000"}, 400, "bad_parameter", "invalid"),
}


@pytest.mark.parametrize("kind", sorted(REFUSALS))
def test_refusals_are_audited_and_change_nothing(api: Api, kind: str) -> None:
    """Anyone but the coordinator, another purpose or a bad page: a problem, one audit
    record, nothing changed."""
    username, params, status, code, outcome = REFUSALS[kind]
    open_case(api, BSN_A, {"surname": "Refusal-Sentinel"})
    was = before(api, username)
    response = get(api, username, "/triage", **params)
    refused(api, was, response, status, code, event="triage.list", outcome=outcome)
    assert "Refusal-Sentinel" not in response.get_data(as_text=True)


def test_without_a_token_the_queue_is_401(api: Api) -> None:
    """No bearer token: 401, audited, nothing listed."""
    open_case(api, BSN_A)
    was = before(api)
    response = api.client.get("/api/v1/triage")
    refused(api, was, response, 401, "missing_token", event="triage.list", outcome="unauthorized")


def test_an_objection_withholds_identification_in_the_queue(api: Api) -> None:
    """An objection against gemeente on the surname withholds it in the triage queue too, and
    the value appears nowhere in the answer; the other identification stays."""
    case_id = open_case(api, BSN_A, {"surname": "Bezwaar-Sentinel", "given_names": "Daan"})
    objection = api.client.post(
        "/api/v1/subjects/objections",
        query_string={"purpose": "inzageverzoek"},
        json={
            "subject": {"bsn": BSN_A},
            "targets": ["surname"],
            "parties": ["gemeente"],
            "reason": "Bezwaar",
        },
        headers=api.headers("dekker"),
    )
    assert objection.status_code == 201, objection.get_data(as_text=True)
    body = queue(api)
    entry = item(body, case_id)
    assert entry["identification"] == {"bsn": "******863", "given_names": "Daan"}
    assert "surname" not in entry["effects"]
    assert "Bezwaar-Sentinel" not in json.dumps(body)
