"""The privacy officer's API (scenario 6): the audit log by BSN and by filter, verification that
names a tampered seq, signed checkpoints, anomalies and the access report — never a value.

Every value sent is a unique sentinel (or a five-digit number, a date, a postcode, the BSN), so
"never a value" is checked by looking for each of them in the text the officer gets.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import random
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from flask import Flask
from sqlalchemy import text
from werkzeug.test import TestResponse

from audit import AuditRecord, checkpoint_from_json, load_public_key, verify_checkpoint
from broker import create_app
from broker.cli.demo import DEMO_ACCOUNTS, ensure_accounts
from broker.cli.service import init_database
from broker.core.runtime import runtime
from broker.identity.subjects import subject_key
from broker.privacy.audit_log import verify_log
from tests.broker.conftest import Api
from tests.broker.test_views_matrix import appears, valid_bsn

AMSTERDAM = ZoneInfo("Europe/Amsterdam")
NAMES = {username: name for username, _, _, name in DEMO_ACCOUNTS}
OFFICER = "dekker"
PRIVACY_ENDPOINTS = (
    ("GET", "/api/v1/audit"),
    ("GET", "/api/v1/audit/verify"),
    ("GET", "/api/v1/audit/checkpoints"),
    ("POST", "/api/v1/audit/checkpoints"),
    ("GET", "/api/v1/audit/anomalies"),
    ("GET", "/api/v1/subjects/access-report"),
)


# ── helpers shared with the other audit tests ──────────────────────────────────────────────


@pytest.fixture
def configured(db_url: str, tmp_path: Path) -> Iterator[Callable[..., Api]]:
    """Builds the broker with extra configuration (on `db_url`, demo accounts) and its Api."""
    apps: list[Flask] = []

    def build(**config: Any) -> Api:
        app = create_app(
            {
                "DATABASE_URL": db_url,
                "INSTANCE_PATH": str(tmp_path / "instance"),
                "LOG_LEVEL": "WARNING",
                "TESTING": True,
                **config,
            }
        )
        with app.app_context():
            init_database()
            ensure_accounts()
        apps.append(app)
        return Api(app, app.test_client(), {})

    yield build
    for app in apps:
        app.extensions["broker"].engine.dispose()


def officer(
    api: Api, path: str, method: str = "GET", username: str = OFFICER, **params: Any
) -> TestResponse:
    """Call a privacy endpoint (as the privacy officer unless told)."""
    return api.client.open(path, method=method, query_string=params, headers=api.headers(username))


def sentinel(party: str, name: str) -> str:
    """A unique string value that names where it came from."""
    return f"S-{party}-{name}-{uuid.uuid4().hex[:12]}"


@dataclass
class Young:
    """A young person's case, and every findable value sent about them."""

    bsn: str
    case_id: str = ""
    values: list[Any] = field(default_factory=list)
    held: set[tuple[str, str]] = field(default_factory=set)  # (field, party)


PARTY_OF = {username: party for username, party, _, _ in DEMO_ACCOUNTS}


def young_person(
    api: Api,
    bsn: str,
    track: str,
    signals: list[tuple[str, dict[str, Any]]],
    director: str | None = None,
) -> Young:
    """Send the signals (each with a sentinel summary) and assign the track."""
    young = Young(bsn, values=[bsn])
    for username, fields in signals:
        summary = sentinel(PARTY_OF[username], "summary")
        response = api.signal(username, {"bsn": bsn}, fields, summary=summary)
        assert response.status_code == 201, response.get_data(as_text=True)
        young.case_id = response.json["case_id"]
        young.values += [v for v in fields.values() if not isinstance(v, bool)] + [summary]
        if not young.held:
            young.held.add(("bsn", PARTY_OF[username]))  # from the subject, by the first
        young.held |= {(name, PARTY_OF[username]) for name in fields}
    if track != "signaal":
        response = api.track(young.case_id, track, director=director)
        assert response.status_code == 200, response.get_data(as_text=True)
    return young


def identity(party: str, rng: random.Random) -> dict[str, Any]:
    """Identifying sentinels (a 16-year-old in Leeuwarden Oost)."""
    born = dt.date.today() - dt.timedelta(days=16 * 365 + rng.randrange(200))
    return {
        "surname": sentinel(party, "surname"),
        "given_names": sentinel(party, "given"),
        "birth_date": born.isoformat(),
        "street": sentinel(party, "street"),
        "house_number": sentinel(party, "house"),
        "postcode": f"{rng.randrange(1000, 10000)} QZ",
        "city": sentinel(party, "city"),
        "wijk": sentinel(party, "wijk"),
    }


def scenario_three(api: Api, rng: random.Random, bsn: str = "192285142") -> Young:
    """Bilgaard, girl of 16 (track zvh): youth care, the police and the ZVH signalled."""
    return young_person(
        api,
        bsn,
        "zvh",
        [
            (
                "devries",
                {
                    **identity("jeugdhulp", rng),
                    "care_involved": True,
                    "mental_health_care": True,
                    "care_details": sentinel("jeugdhulp", "care"),
                    "family_concerns": sentinel("jeugdhulp", "family"),
                },
            ),
            (
                "jansen",
                {
                    "incident_count": rng.randrange(10_000, 100_000),
                    "incidents_summary": sentinel("politie", "incidents"),
                    "suspect": False,
                },
            ),
            ("bos", {"custody": sentinel("zvh", "custody")}),
        ],
        director="bos",
    )


def scenario_one(api: Api, rng: random.Random, bsn: str = "725763863") -> Young:
    """Heechterp-Schieringen, boy of 15 (track lokaal_preventief): police and school."""
    return young_person(
        api,
        bsn,
        "lokaal_preventief",
        [
            (
                "jansen",
                {**identity("politie", rng), "incidents_summary": sentinel("politie", "incidents")},
            ),
            ("bakker", {"school_name": sentinel("school", "school"), "attendance_problem": True}),
        ],
        director="devries",
    )


def audit_text(api: Api) -> str:
    """Every audit record as text: the entries' repr and the stored bytes."""
    with api.app.app_context():
        rt = runtime()
        session = rt.sessions()
        try:
            records = list(rt.audit.records(session))
            stored = b"".join(link.body for link in rt.audit.links(session))
        finally:
            session.close()
    return repr([r.entry for r in records]) + stored.decode()


def execute(app: Flask, sql: str, **params: Any) -> None:
    """Run raw SQL against the broker's database (the tamperer's way in)."""
    with app.app_context(), runtime().engine.begin() as connection:
        connection.execute(text(sql), params)


def stored_body(app: Flask, seq: int) -> bytes:
    """The stored bytes of one audit record."""
    with app.app_context():
        rt = runtime()
        session = rt.sessions()
        try:
            return next(iter(rt.audit.links(session, since_seq=seq, until_seq=seq))).body
        finally:
            session.close()


def key_of(app: Flask, bsn: str) -> str:
    """The young person's subject key, as the broker computes it."""
    with app.app_context():
        return subject_key(runtime().subject_secret, bsn=bsn)


def leaked(values: list[Any], text_: str) -> list[Any]:
    """The values that occur in the text."""
    return [v for v in values if appears(v, text_)]


# ── the audit query ─────────────────────────────────────────────────────────────────────────


def test_audit_query_by_bsn_returns_exactly_that_young_persons_records(api: Api) -> None:
    """?bsn= gives every record of that young person and no other; the BSN is nowhere."""
    rng = random.Random(3)
    girl, boy = scenario_three(api, rng), scenario_one(api, rng)
    for username, case_id in (
        ("jansen", girl.case_id),
        ("bos", girl.case_id),
        ("smit", girl.case_id),
        ("bakker", boy.case_id),
    ):
        api.view(username, case_id)
    api.client.get(
        "/api/v1/cases", query_string={"purpose": "uitvoering"}, headers=api.headers("jansen")
    )
    key = key_of(api.app, girl.bsn)
    before = api.audit_records()
    expected = [r.seq for r in before if r.entry.subject == key]
    assert {r.entry.event for r in before if r.seq in expected} >= {
        "signal.create",
        "track.change",
        "case.view",
        "case.list",
    }
    response = officer(api, "/api/v1/audit", bsn=girl.bsn, limit="1000")
    assert response.status_code == 200, response.get_data(as_text=True)
    assert [item["seq"] for item in response.json["items"]] == expected
    assert {item["subject"] for item in response.json["items"]} == {key}
    assert response.json["next_after_seq"] is None
    body = response.get_data(as_text=True)
    assert girl.bsn not in body and boy.bsn not in body
    assert key_of(api.app, boy.bsn) not in body
    query = api.audit_records()[-1].entry
    assert (query.event, query.person_id, query.purpose, query.subject) == (
        "audit.query",
        OFFICER,
        "toezicht",
        key,
    )
    assert query.detail["by_bsn"] is True and query.detail["results"] == len(expected)
    assert not leaked(girl.values + boy.values, audit_text(api))


def _filters(records: list[AuditRecord]) -> list[tuple[dict[str, str], Callable[..., bool]]]:
    """Query parameters and, independently, what they select."""
    times = sorted({r.time for r in records})
    since, until = times[len(times) // 3], times[2 * len(times) // 3]
    return [
        ({"person": "jansen"}, lambda e, t: e.person_id == "jansen"),
        ({"party": "school"}, lambda e, t: e.party == "school"),
        ({"purpose": "uitvoering"}, lambda e, t: e.purpose == "uitvoering"),
        ({"action": "update"}, lambda e, t: e.action == "update"),
        ({"outcome": "not_found"}, lambda e, t: e.outcome == "not_found"),
        ({"event": "signal.create"}, lambda e, t: e.event == "signal.create"),
        (
            {"person": "jansen", "purpose": "casusoverleg"},
            lambda e, t: e.person_id == "jansen" and e.purpose == "casusoverleg",
        ),
        ({"since": since.isoformat(), "until": until.isoformat()}, lambda e, t: since <= t < until),
        (
            {"since": since.astimezone(AMSTERDAM).replace(tzinfo=None).isoformat()},
            lambda e, t: since <= t,
        ),
    ]


def test_audit_query_filters_and_pages(api: Api) -> None:
    """Each filter (and a combination) selects exactly its records; paging visits each once."""
    rng = random.Random(1)
    girl, boy = scenario_three(api, rng), scenario_one(api, rng)
    for username, case_id, purpose in (
        ("jansen", girl.case_id, "casusoverleg"),
        ("jansen", boy.case_id, "uitvoering"),
        ("bakker", boy.case_id, "uitvoering"),
        ("smit", boy.case_id, "casusoverleg"),
    ):
        api.view(username, case_id, purpose)
    for params, wanted in _filters(api.audit_records()):
        before = api.audit_records()
        expected = [r.seq for r in before if wanted(r.entry, r.time)]
        assert expected, f"{params} selects nothing: the test proves nothing"
        response = officer(api, "/api/v1/audit", limit="1000", **params)
        assert response.status_code == 200, (params, response.get_data(as_text=True))
        assert [item["seq"] for item in response.json["items"]] == expected, params
    expected = [r.seq for r in api.audit_records() if r.entry.party == "politie"]
    assert len(expected) >= 5
    for limit in (2, len(expected)):  # a last short page, and a last full one
        assert pages(api, {"party": "politie"}, limit) == expected


def pages(api: Api, params: dict[str, str], limit: int) -> list[int]:
    """Every seq the query finds, page by page through next_after_seq."""
    seen: list[int] = []
    after: int | None = 0
    for _ in range(1000):
        page = officer(api, "/api/v1/audit", limit=str(limit), after_seq=str(after), **params)
        assert page.status_code == 200, page.get_data(as_text=True)
        items = [item["seq"] for item in page.json["items"]]
        assert len(items) <= limit and all(seq > (after or 0) for seq in items)
        seen += items
        after = page.json["next_after_seq"]
        if after is None:
            assert len(items) < limit
            return seen
        assert after == items[-1]
    raise AssertionError("paging does not end")


def test_only_the_privacy_officer_may_use_the_audit_api(api: Api) -> None:
    """A case worker or the coordinator gets 403 on every privacy endpoint; none gets records."""
    scenario_one(api, random.Random(7))
    for username in ("jansen", "mulder", "bakker"):
        for method, path in PRIVACY_ENDPOINTS:
            response = officer(api, path, method, username=username, bsn="725763863")
            assert response.status_code == 403, (username, path, response.status_code)
            assert response.mimetype == "application/problem+json"
            assert "items" not in response.json and "disclosures" not in response.json
            assert response.json["code"] == "purpose_not_for_role"
    for method, path in PRIVACY_ENDPOINTS:
        assert api.client.open(path, method=method).status_code == 401
    wrong = api.client.get(
        "/api/v1/audit", headers={**api.headers(OFFICER), "X-Purpose": "inzageverzoek"}
    )
    assert wrong.status_code == 403 and wrong.json["code"] == "purpose_not_for_endpoint"
    refusals = [r.entry for r in api.audit_records() if r.entry.outcome == "denied"]
    assert len(refusals) == 3 * len(PRIVACY_ENDPOINTS) + 1


def test_an_invalid_bsn_is_refused(api: Api) -> None:
    """An invalid BSN is a 422 naming bsn on both endpoints, and is echoed nowhere."""
    for bsn in ("123456789", "12345678", "1234567890", "abcdefghi", ""):
        for path in ("/api/v1/audit", "/api/v1/subjects/access-report"):
            response = officer(api, path, bsn=bsn)
            assert response.status_code == 422, (bsn, path, response.get_data(as_text=True))
            assert "bsn" in {e["field"] for e in response.json["errors"]}
            assert not bsn or bsn not in response.get_data(as_text=True)
    text_ = audit_text(api)
    assert "123456789" not in text_ and "1234567890" not in text_ and "abcdefghi" not in text_
    assert [r.entry.outcome for r in api.audit_records()].count("invalid") == 10


def test_malformed_filters_are_refused(api: Api) -> None:
    """An unknown outcome or action or a bad time is a 422, a bad page a 400; nothing is
    listed."""
    for params, status in (
        ({"outcome": "maybe"}, 422),
        ({"action": "peek"}, 422),
        ({"party": "Politie!"}, 422),
        ({"since": "yesterday"}, 422),
        ({"after_seq": "-1"}, 400),
        ({"limit": "1001"}, 400),
    ):
        response = officer(api, "/api/v1/audit", **params)
        assert response.status_code == status, (params, response.get_data(as_text=True))
        assert "items" not in response.json


def test_a_filter_shaped_like_a_bsn_is_refused_not_a_crash(api: Api) -> None:
    """person=<nine digits> (a BSN typed into the wrong box) is a 422, and audited."""
    response = officer(api, "/api/v1/audit", person="192285142")
    assert response.status_code == 422, response.get_data(as_text=True)
    assert api.audit_records()[-1].entry.outcome == "invalid"


# ── verification and checkpoints ────────────────────────────────────────────────────────────


@pytest.mark.parametrize("where", ["body", "column"])
def test_verify_names_the_tampered_seq(api: Api, where: str) -> None:
    """Intact first; then a changed stored body or column is named by its seq (and the
    column), by the plain verification as by the deep one."""
    young = scenario_one(api, random.Random(5))
    api.view("jansen", young.case_id)
    api.view("bakker", young.case_id)
    intact = officer(api, "/api/v1/audit/verify", deep="true")
    assert intact.status_code == 200
    assert intact.json["is_intact"] is True and intact.json["first_bad_seq"] is None
    victim = next(
        r
        for r in api.audit_records()
        if r.entry.event == "case.view" and r.entry.person_id == "jansen"
    )
    if where == "body":
        body = stored_body(api.app, victim.seq)
        assert b'"party":"politie"' in body
        execute(
            api.app,
            "UPDATE audit_record SET body = :body WHERE seq = :seq",
            body=body.replace(b'"party":"politie"', b'"party":"om"'),
            seq=victim.seq,
        )
    else:
        execute(api.app, "UPDATE audit_record SET party = 'om' WHERE seq = :seq", seq=victim.seq)
    reason, column = ("hash_mismatch", None) if where == "body" else ("column_mismatch", "party")
    for deep in ("false", "true"):
        result = officer(api, "/api/v1/audit/verify", deep=deep)
        assert result.status_code == 200
        assert result.json["is_intact"] is False
        assert result.json["first_bad_seq"] == victim.seq
        assert (result.json["reason"], result.json["column"]) == (reason, column)
        assert result.json["records_checked"] == victim.seq - 1
        audited = api.audit_records()[-1].entry
        assert audited.event == "audit.verify"
        assert (audited.detail["intact"], audited.detail["first_bad_seq"]) == (False, victim.seq)


def test_verify_over_http_names_a_record_past_the_head(api: Api) -> None:
    """A record stored past the head: the log cannot be appended to, so the verification
    cannot be recorded: 503 problem, with what it found (the seq past the head)."""
    from tests.broker.test_audit_cli import forge_past_head

    scenario_one(api, random.Random(6))
    api.token(OFFICER)  # issued (and audited) while the log can still be appended to
    seq = forge_past_head(api.app)
    result = officer(api, "/api/v1/audit/verify")
    assert result.status_code == 503
    assert result.mimetype == "application/problem+json"
    found = result.json["verification"]
    assert (found["is_intact"], found["first_bad_seq"], found["reason"]) == (
        False,
        seq,
        "head_mismatch",
    )


def test_checkpoints_are_signed_and_published_with_the_key(api: Api) -> None:
    """POST signs the head; GET lists it with the public key that verifies its signature."""
    scenario_one(api, random.Random(9))
    api.token(OFFICER)  # its issue is audited too
    head = api.audit_records()[-1]
    made = officer(api, "/api/v1/audit/checkpoints", "POST")
    assert made.status_code == 201, made.get_data(as_text=True)
    assert (made.json["seq"], made.json["head_hash"]) == (head.seq, head.hash)
    listed = officer(api, "/api/v1/audit/checkpoints")
    assert listed.status_code == 200
    key = load_public_key(listed.json["public_key"].encode())
    checkpoints = [checkpoint_from_json(json.dumps(c)) for c in listed.json["checkpoints"]]
    assert [c.seq for c in checkpoints] == [head.seq]
    assert verify_checkpoint(checkpoints[0], [key])
    assert not verify_checkpoint(dataclasses.replace(checkpoints[0], head_hash="0" * 64), [key])
    events = [r.entry.event for r in api.audit_records()[-2:]]
    assert events == ["audit.checkpoint", "audit.checkpoints"]
    verified = officer(api, "/api/v1/audit/verify")
    assert verified.json["is_intact"] is True and verified.json["checkpoints_matched"] == 1


def test_periodic_checkpoints_are_signed_every_n_records(configured: Callable[..., Api]) -> None:
    """With CHECKPOINT_EVERY=5, each multiple of 5 a view reaches gets a checkpoint; all verify."""
    api = configured(CHECKPOINT_EVERY=5)
    young = scenario_one(api, random.Random(11))
    for username in ("jansen", "bakker", "devries"):
        api.token(username)
    start = api.audit_records()[-1].seq
    for i in range(12):
        response = api.view(("jansen", "bakker", "devries")[i % 3], young.case_id)
        assert response.status_code == 200
    end = api.audit_records()[-1].seq
    assert end == start + 12
    with api.app.app_context():
        rt = runtime()
        session = rt.sessions()
        try:
            kept = rt.audit.checkpoints(session)
            result = verify_log(session, rt)
        finally:
            session.close()
    hashes = {r.seq: r.hash for r in api.audit_records()}
    crossed = {m for m in range(start + 1, end + 1) if m % 5 == 0}
    assert len(crossed) >= 2
    assert crossed <= {c.seq for c in kept}
    assert all(c.head_hash == hashes[c.seq] for c in kept)
    assert result.is_intact and result.checkpoints_matched == len(kept)


def test_periodic_checkpoints_also_come_when_refusals_grow_the_chain(
    configured: Callable[..., Api],
) -> None:
    """With CHECKPOINT_EVERY=5, twelve refused views still leave a checkpoint behind them."""
    api = configured(CHECKPOINT_EVERY=5)
    api.token("smit")
    start = api.audit_records()[-1].seq
    for _ in range(12):
        assert api.view("smit", f"case-{uuid.uuid4().hex}").status_code == 404
    with api.app.app_context():
        rt = runtime()
        session = rt.sessions()
        try:
            kept = [c.seq for c in rt.audit.checkpoints(session)]
        finally:
            session.close()
    assert any(start < seq <= start + 12 for seq in kept)


# ── anomalies ───────────────────────────────────────────────────────────────────────────────


def hours_excluding(now: dt.datetime) -> str:
    """An office-hours window (Amsterdam) that lies two hours or more away from `now`."""
    local = now.astimezone(AMSTERDAM)
    start, end = local + dt.timedelta(hours=2), local + dt.timedelta(hours=3)
    if end.date() != local.date():
        start, end = local - dt.timedelta(hours=3), local - dt.timedelta(hours=2)
    return f"{start:%H:%M}-{end:%H:%M}"


def test_anomalies_show_refusals_bulk_views_and_views_after_hours(
    configured: Callable[..., Api],
) -> None:
    """Refused and off-team views, a person opening 3 young people (limit 2), views after hours."""
    api = configured(BULK_VIEW_LIMIT=2, OFFICE_HOURS=hours_excluding(dt.datetime.now(dt.UTC)))
    rng = random.Random(13)
    pupils = [
        young_person(
            api,
            valid_bsn(rng),
            "lokaal_preventief",
            [("bakker", {"school_name": sentinel("school", "school"), "dropout_risk": True})],
        )
        for _ in range(3)
    ]
    smit_own = api.signal("smit", {"bsn": pupils[2].bsn}, {"nuisance_reports": 3})
    assert smit_own.status_code == 201
    for pupil in pupils:
        assert api.view("bakker", pupil.case_id).status_code == 200
    for pupil in pupils[:2]:
        assert api.view("jansen", pupil.case_id).status_code == 200
    refused = api.view("smit", pupils[0].case_id)
    assert refused.status_code == 404
    own = api.view("smit", pupils[2].case_id)
    assert own.status_code == 200 and own.json["on_case_team"] is False
    records = api.audit_records()
    by_request = {r.entry.request_id: r for r in records}
    refused_seq = by_request[refused.headers["X-Request-ID"]].seq
    own_seq = by_request[own.headers["X-Request-ID"]].seq
    views = {r.seq for r in records if (r.entry.event, r.entry.outcome) == ("case.view", "success")}
    response = officer(api, "/api/v1/audit/anomalies")
    assert response.status_code == 200, response.get_data(as_text=True)
    found = response.json
    assert [r["seq"] for r in found["refused"]] == [refused_seq]
    assert found["refused"][0]["person_id"] == "smit"
    assert found["refused"][0]["case_id"] == pupils[0].case_id
    assert [r["seq"] for r in found["outside_case_team"]] == [refused_seq, own_seq]
    assert [(b["person_id"], b["young_people"]) for b in found["bulk_views"]] == [("bakker", 3)]
    assert {r["seq"] for r in found["outside_office_hours"]} == views
    assert found["settings"]["bulk_limit_per_hour"] == 2
    look = api.audit_records()[-1].entry
    assert (look.event, look.person_id, look.detail["bulk"]) == ("audit.anomalies", OFFICER, 1)
    api.app.config["OFFICE_HOURS"] = "00:00-23:59:59.999999"
    weekend = {
        r.seq for r in records if r.seq in views and r.time.astimezone(AMSTERDAM).weekday() >= 5
    }
    again = officer(api, "/api/v1/audit/anomalies")
    assert {r["seq"] for r in again.json["outside_office_hours"]} == weekend
    text_ = response.get_data(as_text=True) + again.get_data(as_text=True)
    assert not leaked([v for p in pupils for v in p.values], text_)


def test_a_case_worker_trying_the_audit_log_shows_as_refused(api: Api) -> None:
    """A case worker's refused attempt at the audit log or an access report is an anomaly."""
    assert (
        officer(
            api, "/api/v1/subjects/access-report", username="jansen", bsn="192285142"
        ).status_code
        == 403
    )
    assert officer(api, "/api/v1/audit", username="jansen").status_code == 403
    found = officer(api, "/api/v1/audit/anomalies").json
    assert {r["person_id"] for r in found["refused"]} == {"jansen"}
    assert len(found["refused"]) == 2


# ── the access report ───────────────────────────────────────────────────────────────────────


def test_access_report_lists_data_held_and_every_disclosure_never_a_value(api: Api) -> None:
    """For the mother's request: which data from whom, who saw what when and why; no values."""
    rng = random.Random(17)
    girl, boy = scenario_three(api, rng), scenario_one(api, rng)
    expected: list[tuple[Any, ...]] = []
    for username, purpose in (
        ("jansen", "casusoverleg"),
        ("bos", "uitvoering"),
        ("mulder", "triage"),
        ("devries", "uitvoering"),
    ):
        response = api.view(username, girl.case_id, purpose)
        assert response.status_code == 200, response.get_data(as_text=True)
        expected.append(
            (
                "case.view",
                NAMES[username],
                PARTY_OF[username],
                response.json["role"],
                purpose,
                response.json["effects"],
            )
        )
    assert api.view("smit", girl.case_id).status_code == 404  # refused: no disclosure
    assert api.view("bakker", boy.case_id).status_code == 200  # another young person
    listed = api.client.get(
        "/api/v1/cases", query_string={"purpose": "casusoverleg"}, headers=api.headers("visser")
    )
    item = next(i for i in listed.json["items"] if i["case_id"] == girl.case_id)
    response = officer(api, "/api/v1/subjects/access-report", bsn=girl.bsn)
    assert response.status_code == 200, response.get_data(as_text=True)
    report = response.json
    assert report["known"] is True and report["subject"] == key_of(api.app, girl.bsn)
    assert [c["case_id"] for c in report["cases"]] == [girl.case_id]
    assert [s["party"] for s in report["cases"][0]["signals"]] == ["jeugdhulp", "politie", "zvh"]
    assert {(h["field"], h["party"]) for h in report["data_held"]} == girl.held
    assert len(report["data_held"]) == len(girl.held)
    assert all(h["supplied_at"] and h["category"] for h in report["data_held"])
    got = [
        (d["event"], d["person"], d["party"], d["role"], d["purpose"], d["fields"])
        for d in report["disclosures"]
    ]
    views = [d for d in got if d[0] == "case.view"]
    assert sorted(map(repr, views)) == sorted(map(repr, expected))
    lists = [d for d in got if d[0] == "case.list"]
    assert [(d[1], d[2], set(d[5])) for d in lists] == [(NAMES["visser"], "om", set(item["name"]))]
    assert len(got) == len(expected) + 1
    assert {d["case_id"] for d in report["disclosures"]} == {girl.case_id}
    assert all(d["time"] and d["legal_basis"] for d in report["disclosures"])
    page = officer(api, "/api/v1/subjects/access-report", bsn=girl.bsn, format="html")
    assert page.status_code == 200 and page.mimetype == "text/html"
    html = page.get_data(as_text=True)
    assert NAMES["jansen"] in html and "Inhoud van de zorg" in html
    everything = girl.values + boy.values
    assert not leaked(everything, response.get_data(as_text=True)), "a value in the report"
    assert not leaked(everything, html), "a value in the printable report"
    assert not leaked(everything, audit_text(api)), "a value in the audit log"
    audited = [r.entry for r in api.audit_records()[-2:]]
    assert [(e.event, e.purpose, e.subject) for e in audited] == [
        ("subject.access_report", "inzageverzoek", report["subject"])
    ] * 2


def test_access_report_of_an_unknown_young_person_is_empty(api: Api) -> None:
    """A valid BSN the broker does not know: known is false, nothing held, nothing disclosed."""
    scenario_one(api, random.Random(19))
    response = officer(api, "/api/v1/subjects/access-report", bsn="192285142")
    assert response.status_code == 200
    assert response.json["known"] is False
    assert response.json["cases"] == response.json["data_held"] == []
    assert response.json["disclosures"] == []
