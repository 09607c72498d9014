"""End to end per track: every party signals, the coordinator assigns the track, and each view
follows the convenant matrix.

The expected effects come from tests/convenant/default.suite.yaml (an independent transcription
of shared/convenant-matrix.md), never from convenant.yaml. Every value a party may supply is a
unique sentinel, so a withheld value can be looked for anywhere in the response text.
"""

from __future__ import annotations

import datetime as dt
import itertools
import random
import re
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml
from werkzeug.test import TestResponse

from tests.broker.conftest import Api

SUITE = Path(__file__).resolve().parents[1] / "convenant" / "default.suite.yaml"

# shared/convenant-matrix.md, "Fields (gegevens), by category" and "Tracks".
CATEGORIES: dict[str, tuple[str, ...]] = {
    "identification": (
        "bsn",
        "surname",
        "given_names",
        "birth_date",
        "street",
        "house_number",
        "postcode",
        "city",
        "wijk",
    ),
    "contact": ("guardian_name", "phone"),
    "school": ("school_name", "attendance_problem", "dropout_risk"),
    "family": ("household", "custody", "family_concerns"),
    "police": ("incident_count", "incidents_summary", "suspect"),
    "justice": ("pending_case", "halt_outcome", "youth_probation"),
    "care": ("care_involved", "mental_health_care", "care_details"),
    "finance": ("debts", "debt_details"),
    "housing": ("nuisance_reports", "eviction_risk"),
}
PARTIES = ("politie", "om", "jeugdhulp", "school", "woningcorporatie", "zvh", "gemeente")
SUPPLIERS: dict[str, tuple[str, ...]] = {
    "identification": PARTIES,
    "contact": PARTIES,
    "school": ("school", "gemeente"),
    "family": ("jeugdhulp", "gemeente", "zvh"),
    "police": ("politie",),
    "justice": ("om",),
    "care": ("jeugdhulp", "zvh"),
    "finance": ("gemeente",),
    "housing": ("woningcorporatie",),
}
TEAMS: dict[str, tuple[str, ...]] = {
    "lokaal_preventief": ("gemeente", "politie", "jeugdhulp", "school"),
    "pga": ("gemeente", "politie", "om", "jeugdhulp", "school", "woningcorporatie"),
    "zvh": ("gemeente", "politie", "om", "jeugdhulp", "zvh"),
}
TRACKS = tuple(TEAMS)
PURPOSES = ("casusoverleg", "uitvoering")
# The demo accounts: gemeente looks as the coordinator, every other party as a case worker.
USERS = {
    "politie": "jansen",
    "om": "visser",
    "jeugdhulp": "devries",
    "school": "bakker",
    "woningcorporatie": "smit",
    "zvh": "bos",
    "gemeente": "mulder",
}
ROLES = {party: "coordinator" if party == "gemeente" else "case_worker" for party in PARTIES}

FIELDS = tuple(itertools.chain.from_iterable(CATEGORIES.values()))
CATEGORY_OF = {name: cat for cat, names in CATEGORIES.items() for name in names}
BOOLEANS = frozenset(
    {
        "attendance_problem",
        "dropout_risk",
        "suspect",
        "pending_case",
        "youth_probation",
        "care_involved",
        "mental_health_care",
        "debts",
        "eviction_risk",
    }
)
INTEGERS = frozenset({"incident_count", "nuisance_reports"})

Key = tuple[str, str, str, str]  # party, role, purpose, track


def suppliable(party: str) -> tuple[str, ...]:
    """The fields the matrix lets `party` supply."""
    return tuple(f for f in FIELDS if party in SUPPLIERS[CATEGORY_OF[f]])


def load_suite() -> tuple[dict[Key, dict[str, str]], dict[Key, str]]:
    """Per (party, role, purpose, track): every field's effect, or the denial code."""
    effects: dict[Key, dict[str, str]] = {}
    denied: dict[Key, str] = {}
    for test in yaml.safe_load(SUITE.read_text(encoding="utf-8"))["tests"]:
        req = test["request"]
        for key in itertools.product(req["parties"], req["roles"], req["purposes"], req["tracks"]):
            assert key not in effects and key not in denied, f"{key} is in the suite twice"
            if "denied" in test:
                denied[key] = test["denied"]
                continue
            expect, otherwise = test["expect"], test["otherwise"]
            unknown = set(expect) - set(CATEGORIES) - set(FIELDS)
            assert not unknown, f"{test['name']}: unknown names {unknown}"
            effects[key] = {f: expect.get(f, expect.get(CATEGORY_OF[f], otherwise)) for f in FIELDS}
    return effects, denied


EFFECTS, DENIED = load_suite()


def matrix(party: str, purpose: str, track: str) -> dict[str, str]:
    """The suite's effect for every field when `party` (in its demo role) views the case."""
    return EFFECTS[(party, ROLES[party], purpose, track)]


def band(count: int) -> str:
    """The incident band of the matrix: "0", "1-2", "3-5", "6+"."""
    return "0" if count == 0 else "1-2" if count <= 2 else "3-5" if count <= 5 else "6+"


def rendered(name: str, effect: str, value: Any) -> Any:
    """What a view must hold for a value under an effect of the matrix (legend F, G, M)."""
    if effect == "show":
        return value
    if (effect, name) == ("generalise", "birth_date"):
        return value[:4]
    if (effect, name) == ("generalise", "incident_count"):
        return band(value)
    if (effect, name) == ("mask", "bsn"):
        return "******" + value[-3:]
    raise AssertionError(f"the matrix has no {effect} for {name}")


def valid_bsn(rng: random.Random) -> str:
    """A random nine-digit number that passes the eleven-check (weights 9..2 and -1)."""
    while True:
        digits = [rng.randrange(1, 10)] + [rng.randrange(10) for _ in range(7)]
        check = sum(w * d for w, d in zip(range(9, 1, -1), digits, strict=True)) % 11
        if check < 10:
            return "".join(map(str, [*digits, check]))


def appears(value: Any, text: str) -> bool:
    """Whether a sentinel occurs in `text` (an integer only as a number of its own)."""
    if isinstance(value, bool):
        raise AssertionError("booleans are no sentinels")
    if isinstance(value, int):
        return re.search(rf"(?<![0-9A-Za-z]){value}(?![0-9A-Za-z])", text) is not None
    return str(value) in text


class Sentinels:
    """Unique values per field kind: a string names party and field, numbers and dates differ."""

    def __init__(self, rng: random.Random, bsn: str) -> None:
        self.rng, self.bsn = rng, bsn
        self.used: set[Any] = set()

    def _fresh(self, make: Any) -> Any:
        while (value := make()) in self.used:
            pass
        self.used.add(value)
        return value

    def value(self, party: str, name: str) -> Any:
        """A new sentinel for `name` as `party` supplies it (booleans: any boolean)."""
        rng = self.rng
        if name == "bsn":
            return self.bsn
        if name in BOOLEANS:
            return rng.random() < 0.5
        if name in INTEGERS:  # five digits: never a stand-alone number in ids or timestamps
            return self._fresh(lambda: rng.randrange(10_000, 100_000))
        if name == "birth_date":  # 11-21 years old; timestamps are of this year, not those
            return self._fresh(
                lambda: (dt.date(2005, 1, 1) + dt.timedelta(days=rng.randrange(3650))).isoformat()
            )
        if name == "postcode":
            letters = "ABCEGHJKLNPRTVXZ"
            return self._fresh(
                lambda: f"{rng.randrange(1000, 10000)} {rng.choice(letters)}{rng.choice(letters)}"
            )
        return self._fresh(lambda: f"S-{party}-{name}-{uuid.uuid4().hex[:12]}")


@dataclass
class Scenario:
    """A young person's case: every value ever supplied, and the current (newest) one."""

    case_id: str
    bsn: str
    supplied: list[tuple[str, str, Any]] = field(default_factory=list)  # party, field, value
    current: dict[str, tuple[Any, str]] = field(default_factory=dict)  # field → value, party

    def record(self, party: str, fields: Mapping[str, Any]) -> None:
        """Note a stored signal: its values become the newest of their fields."""
        for name, value in fields.items():
            self.supplied.append((party, name, value))
            self.current[name] = (value, party)

    def own(self, party: str) -> set[str]:
        """The fields whose newest value `party` supplied."""
        return {name for name, (_, src) in self.current.items() if src == party}

    def forbidden(self, party: str, shown: Iterable[str]) -> list[Any]:
        """Every supplied value (not a boolean) that a view of `party` showing `shown` in full
        must not contain: the others' values, old ones too, except where shown in full."""
        visible = {self.current[name][0] for name in shown}
        return [
            value
            for src, _, value in self.supplied
            if src != party and not isinstance(value, bool) and value not in visible
        ]


def submit(
    api: Api, scenario: Scenario | None, party: str, bsn: str, fields: Mapping[str, Any]
) -> str:
    """POST a signal as the party's demo account; its case id."""
    response = api.signal(USERS[party], {"bsn": bsn}, dict(fields))
    assert response.status_code == 201, response.get_data(as_text=True)
    if scenario is not None:
        scenario.record(party, fields)
    return str(response.json["case_id"])


def final_suppliers(track: str, own_data: bool) -> dict[str, str]:
    """Who supplies each field last.

    Without `own_data`, a party outside the case team or one that sees the field in full: then
    every cell of the case team is checked against the matrix alone. With `own_data`, where it
    can be, a team party whose cell withholds, generalises or masks the field: the "own data"
    rule must then show it its value in full.
    """
    team = TEAMS[track]
    out = {}
    for index, name in enumerate(FIELDS):
        suppliers = SUPPLIERS[CATEGORY_OF[name]]
        neutral = [
            p
            for p in suppliers
            if p not in team or all(matrix(p, u, track)[name] == "show" for u in PURPOSES)
        ]
        lifted = [
            p for p in suppliers if p in team and matrix(p, "casusoverleg", track)[name] != "show"
        ]
        candidates = lifted if own_data and lifted else neutral
        assert candidates, f"no supplier of {name} fits in {track}"
        out[name] = candidates[index % len(candidates)]
    return out


def build(api: Api, track: str, last: Mapping[str, str], seed: str) -> Scenario:
    """Every party signals every field it may supply; then each field's last supplier signals
    it again; then the coordinator assigns `track` with a youth worker as case director."""
    rng = random.Random(seed)
    bsn = valid_bsn(rng)
    values = Sentinels(rng, bsn)
    scenario = Scenario("", bsn)
    for party in PARTIES:
        scenario.case_id = submit(
            api, scenario, party, bsn, {n: values.value(party, n) for n in suppliable(party)}
        )
    for party in PARTIES:
        again = {n: values.value(party, n) for n, p in last.items() if p == party}
        if again:
            submit(api, scenario, party, bsn, again)
    assert {n: src for n, (_, src) in scenario.current.items()} == dict(last)
    response = api.track(scenario.case_id, track, director="devries")
    assert response.status_code == 200, response.get_data(as_text=True)
    return scenario


def check_team_view(
    response: TestResponse, scenario: Scenario, party: str, purpose: str, track: str
) -> None:
    """A case team member's view: the matrix, plus in full whatever the party supplied."""
    assert response.status_code == 200, response.get_data(as_text=True)
    body, text = response.json, response.get_data(as_text=True)
    cells = matrix(party, purpose, track)
    own = scenario.own(party)
    expected = {n: "show" if n in own else cells[n] for n in FIELDS}
    disclosed = {n: e for n, e in expected.items() if e != "withhold"}
    assert body["on_case_team"] is True and body["case_director"] == "devries"
    assert (body["track"], body["purpose"], body["role"]) == (track, purpose, ROLES[party])
    assert body["effects"] == disclosed
    assert body["fields"] == {
        n: rendered(n, e, scenario.current[n][0]) for n, e in disclosed.items()
    }
    assert {n: s["party"] for n, s in body["sources"].items()} == {
        n: scenario.current[n][1] for n in disclosed
    }
    assert sorted(body["own_data"]) == sorted(n for n in own if cells[n] != "show")
    assert sorted(w["field"] for w in body["withheld"]) == sorted(
        n for n, e in expected.items() if e == "withhold"
    )
    shown = [n for n, e in disclosed.items() if e == "show"]
    leaked = [v for v in scenario.forbidden(party, shown) if appears(v, text)]
    assert not leaked, f"{party}/{purpose} sees values it may not: {leaked}"


def check_own_data_view(response: TestResponse, scenario: Scenario, party: str) -> None:
    """A party off the case team that supplied data: its own values, in full, and nothing else."""
    assert response.status_code == 200, response.get_data(as_text=True)
    body, text = response.json, response.get_data(as_text=True)
    own = scenario.own(party)
    assert own, f"{party} was meant to have supplied a newest value"
    assert body["on_case_team"] is False
    assert "case_director" not in body and "opened_at" not in body
    assert body["fields"] == {n: scenario.current[n][0] for n in own}
    assert body["effects"] == dict.fromkeys(own, "show")
    assert sorted(body["own_data"]) == sorted(own)
    assert sorted(w["field"] for w in body["withheld"]) == sorted(set(FIELDS) - own)
    leaked = [v for v in scenario.forbidden(party, own) if appears(v, text)]
    assert not leaked, f"{party} (off the team) sees values it may not: {leaked}"


def check_view_audits(api: Api, responses: list[TestResponse]) -> None:
    """Each view left one case.view record whose disclosed fields are the view's effects."""
    by_request = {
        r.entry.request_id: r.entry for r in api.audit_records() if r.entry.event == "case.view"
    }
    for response in responses:
        entry = by_request[response.headers["X-Request-ID"]]
        body = response.json
        assert (entry.outcome, entry.case_id, entry.purpose) == (
            "success",
            body["case_id"],
            body["purpose"],
        )
        assert dict(entry.fields_disclosed) == body["effects"]
        assert sorted(entry.fields_withheld) == sorted(w["field"] for w in body["withheld"])


def run_views(api: Api, scenario: Scenario, track: str) -> None:
    """Every party views the case for both purposes; each view is checked, then its audit."""
    responses = []
    for party, purpose in itertools.product(PARTIES, PURPOSES):
        response = api.view(USERS[party], scenario.case_id, purpose)
        if party in TEAMS[track]:
            check_team_view(response, scenario, party, purpose, track)
        else:
            check_own_data_view(response, scenario, party)
        responses.append(response)
    check_view_audits(api, responses)


def test_suite_transcription_covers_every_view_checked_here() -> None:
    """The suite gives an effect for every field of every team member's view in each track."""
    for track, team in TEAMS.items():
        for party, purpose in itertools.product(team, PURPOSES):
            assert set(matrix(party, purpose, track)) == set(FIELDS)
        for party in set(PARTIES) - set(team):
            assert DENIED[(party, "case_worker", "casusoverleg", track)] == "not_on_case_team"
    assert matrix("school", "uitvoering", "pga")["bsn"] == "withhold"
    assert matrix("gemeente", "casusoverleg", "zvh")["bsn"] == "mask"
    assert matrix("jeugdhulp", "casusoverleg", "pga")["incident_count"] == "show"


@pytest.mark.parametrize("track", TRACKS)
def test_every_view_of_the_case_team_follows_the_matrix(api: Api, track: str) -> None:
    """Each team member sees F in full, G generalised, M masked, and no withheld value at all."""
    scenario = build(api, track, final_suppliers(track, own_data=False), f"matrix-{track}")
    for party in TEAMS[track]:
        assert all(
            matrix(party, u, track)[n] == "show" for u in PURPOSES for n in scenario.own(party)
        ), party
    run_views(api, scenario, track)


@pytest.mark.parametrize("track", TRACKS)
def test_a_party_always_sees_the_values_it_supplied(api: Api, track: str) -> None:
    """Values a party supplied last show in full even where its matrix cell withholds them."""
    last = final_suppliers(track, own_data=True)
    lifted = [
        (n, p)
        for n, p in last.items()
        if p in TEAMS[track] and matrix(p, "casusoverleg", track)[n] != "show"
    ]
    assert lifted, "the scenario must put at least one own value under a withholding cell"
    scenario = build(api, track, last, f"own-{track}")
    run_views(api, scenario, track)


@pytest.mark.parametrize("track", TRACKS)
def test_parties_off_the_case_team_get_not_found_until_they_supply(api: Api, track: str) -> None:
    """Off the team: 404 like an unknown case and audited; after supplying, only own values."""
    rng = random.Random(f"off-{track}")
    bsn = valid_bsn(rng)
    values = Sentinels(rng, bsn)
    scenario = Scenario("", bsn)
    for party in TEAMS[track]:
        scenario.case_id = submit(
            api, scenario, party, bsn, {n: values.value(party, n) for n in suppliable(party)}
        )
    assert api.track(scenario.case_id, track).status_code == 200
    unknown = api.view("mulder", f"case-{uuid.uuid4().hex}")
    assert unknown.status_code == 404
    outsiders = [p for p in PARTIES if p not in TEAMS[track]]
    refused = []
    for party, purpose in itertools.product(outsiders, PURPOSES):
        response = api.view(USERS[party], scenario.case_id, purpose)
        assert response.status_code == 404, response.get_data(as_text=True)
        assert response.mimetype == "application/problem+json"
        same = {k: v for k, v in response.json.items() if k not in ("instance", "request_id")}
        assert same == {
            k: v for k, v in unknown.json.items() if k not in ("instance", "request_id")
        }
        text = response.get_data(as_text=True)
        leaked = [
            v for _, _, v in scenario.supplied if not isinstance(v, bool) and appears(v, text)
        ]
        assert not leaked, leaked
        refused.append((party, purpose, response.headers["X-Request-ID"]))
    by_request = {r.entry.request_id: r.entry for r in api.audit_records()}
    for party, purpose, request_id in refused:
        entry = by_request[request_id]
        assert (entry.event, entry.outcome, entry.party, entry.purpose) == (
            "case.view",
            "not_found",
            party,
            purpose,
        )
        assert entry.case_id == scenario.case_id and not entry.fields_disclosed
        assert (entry.detail["reason"], entry.detail["track"]) == ("not_on_case_team", track)
    newcomer = outsiders[0]
    submit(api, scenario, newcomer, bsn, {"phone": values.value(newcomer, "phone")})
    check_own_data_view(api.view(USERS[newcomer], scenario.case_id), scenario, newcomer)


def test_incident_count_is_shown_as_its_band(api: Api) -> None:
    """In lokaal_preventief the coordinator and youth care see only the band of the count."""
    rng = random.Random("band")
    expected = {0: "0", 1: "1-2", 2: "1-2", 3: "3-5", 5: "3-5", 6: "6+", 100_000: "6+"}
    for count, label in expected.items():
        case_id = submit(api, None, "politie", valid_bsn(rng), {"incident_count": count})
        assert api.track(case_id, "lokaal_preventief").status_code == 200
        for party in ("gemeente", "jeugdhulp"):
            assert matrix(party, "uitvoering", "lokaal_preventief")["incident_count"] == (
                "generalise"
            )
            view = api.view(USERS[party], case_id, "uitvoering")
            assert view.json["fields"]["incident_count"] == label
            assert view.json["effects"]["incident_count"] == "generalise"
