"""Broken object-level authorisation: every party reads every case of every track, and gets it
or "not found" exactly as the case teams of the convenant matrix say; lists hold no more.

The case teams are transcribed here from shared/convenant-matrix.md ("Tracks and who is on the
case team"), independently of convenant.yaml. A party that signalled a case but is not on its
team sees only the values it supplied itself (the matrix's "own data" rule), never another's.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from tests.broker.conftest import Api

# shared/convenant-matrix.md, "Tracks (trajecten) and who is on the case team".
CASE_TEAMS: dict[str, frozenset[str]] = {
    "signaal": frozenset({"gemeente"}),
    "lokaal_preventief": frozenset({"gemeente", "politie", "jeugdhulp", "school"}),
    "pga": frozenset({"gemeente", "politie", "om", "jeugdhulp", "school", "woningcorporatie"}),
    "zvh": frozenset({"gemeente", "politie", "om", "jeugdhulp", "zvh"}),
}
PARTIES = ("gemeente", "politie", "om", "jeugdhulp", "zvh", "school", "woningcorporatie")
# The demo account of each party: a case worker, but the coordinator at gemeente.
USERS = {
    "gemeente": "mulder",
    "politie": "jansen",
    "om": "visser",
    "jeugdhulp": "devries",
    "zvh": "bos",
    "school": "bakker",
    "woningcorporatie": "smit",
}
# Who signals the case of each track: one party on its team (where one can signal) and one
# that is not, so "own data only" is covered in every track; every other party has no tie.
SIGNALLERS: dict[str, tuple[str, ...]] = {
    "signaal": ("politie", "school"),
    "lokaal_preventief": ("jeugdhulp", "woningcorporatie"),
    "pga": ("om", "zvh"),
    "zvh": ("politie", "school"),
}
# A text field each party may supply (matrix: "may be supplied by"), for its sentinel value.
SENTINEL_FIELD = {
    "politie": "incidents_summary",
    "om": "halt_outcome",
    "jeugdhulp": "care_details",
    "zvh": "family_concerns",
    "school": "school_name",
    "woningcorporatie": "street",
    "gemeente": "debt_details",
}
BSNS = {
    "signaal": "111222333",
    "lokaal_preventief": "123456782",
    "pga": "192285142",
    "zvh": "321146487",
}


def sentinel(party: str, track: str) -> str:
    """The unique value `party` supplies to the case of `track`."""
    return f"Zeldzaam {party} {track} waarde"


@dataclass(frozen=True)
class Cases:
    """The case of each track, by track."""

    ids: dict[str, str]


def make_cases(api: Api) -> Cases:
    """One case per track through the API: the signals, then the coordinator's track change."""
    ids = {}
    for track, signallers in SIGNALLERS.items():
        case_id = None
        for party in signallers:
            fields = {SENTINEL_FIELD[party]: sentinel(party, track)}
            response = api.signal(USERS[party], {"bsn": BSNS[track]}, fields)
            assert response.status_code == 201, response.json
            assert case_id in (None, response.json["case_id"])
            case_id = str(response.json["case_id"])
        assert case_id is not None
        if track != "signaal":
            response = api.track(case_id, track)
            assert response.status_code == 200, response.json
        ids[track] = case_id
    return Cases(ids)


def expected(party: str, track: str) -> str:
    """What `party` gets of the case of `track`: "team", "own" (only its own values) or 404."""
    if party in CASE_TEAMS[track]:
        return "team"
    return "own" if party in SIGNALLERS[track] else "404"


def readers() -> list[tuple[str, str]]:
    """(party, purpose): each party's account for casusoverleg, and the coordinator for triage."""
    return [(party, "casusoverleg") for party in PARTIES] + [("gemeente", "triage")]


def outcome(api: Api, party: str, track: str, case_id: str, purpose: str) -> str:
    """What the party got, in the terms of `expected`, checking the body on the way."""
    response = api.view(USERS[party], case_id, purpose)
    text = response.get_data(as_text=True)
    if response.status_code == 404:
        assert response.json["code"] == "case_not_found", text
        assert all(sentinel(p, track) not in text for p in PARTIES), text
        return "404"
    assert response.status_code == 200, (party, track, purpose, text)
    body: dict[str, Any] = response.json
    assert body["case_id"] == case_id and body["track"] == track
    others = [p for p in SIGNALLERS[track] if p != party]
    if body["on_case_team"]:
        return "team"
    # Not on the team: every value shown is one this party supplied, none of another's.
    assert {s["party"] for s in body["sources"].values()} <= {party}, text
    assert body["fields"][SENTINEL_FIELD[party]] == sentinel(party, track), text
    assert all(sentinel(p, track) not in text for p in others), text
    return "own"


def test_every_party_reads_every_track_as_the_case_teams_say(api: Api) -> None:
    """Each party × each track's case: 200 on the team, own values only for a non-team
    signaller, 404 (as for a case that does not exist) for everyone else."""
    cases = make_cases(api)
    got, want = {}, {}
    for track, case_id in cases.ids.items():
        for party, purpose in readers():
            want[party, purpose, track] = expected(party, track)
            got[party, purpose, track] = outcome(api, party, track, case_id, purpose)
    assert got == want
    assert sorted(set(want.values())) == ["404", "own", "team"]  # every branch is exercised


def test_not_found_is_the_same_as_for_a_case_that_does_not_exist(api: Api) -> None:
    """The 404 of a case on another team tells nothing a made-up case id would not."""
    cases = make_cases(api)
    hidden = api.view("smit", cases.ids["zvh"]).json
    missing = api.view("smit", "case-" + "0" * 32).json
    volatile = {"instance", "request_id", "case_id"}
    assert {k: v for k, v in hidden.items() if k not in volatile} == {
        k: v for k, v in missing.items() if k not in volatile
    }


@pytest.mark.parametrize(("party", "purpose"), readers())
def test_lists_hold_exactly_the_cases_of_the_partys_tracks(
    api: Api, party: str, purpose: str
) -> None:
    """GET /api/v1/cases lists exactly the cases of the tracks whose team holds the party."""
    cases = make_cases(api)
    response = api.client.get(
        "/api/v1/cases",
        query_string={"purpose": purpose, "per_page": "100"},
        headers=api.headers(USERS[party]),
    )
    assert response.status_code == 200, response.json
    listed = {item["case_id"]: item["track"] for item in response.json["items"]}
    assert listed == {cases.ids[t]: t for t in CASE_TEAMS if party in CASE_TEAMS[t]}
    assert response.json["total"] == len(listed)
