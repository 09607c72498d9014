"""Sentinels: a unique value in every field every party may supply, then every kind of view and
every privacy-officer look — and none of the values in an audit record, the CLI export or a
log line (nor in what the privacy officer or a refused caller gets to see).

Log lines are read with `capsys`: structlog prints JSON lines to stdout. `configure_logging`
is called again in the test's own phase at DEBUG, and the configuration restored afterwards.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from typing import Any

import pytest
import structlog

from broker.cli.audit import audit_group
from broker.cli.demo import DEMO_ACCOUNTS
from broker.core.observability import configure_logging
from tests.broker.conftest import Api
from tests.broker.test_privacy_api import audit_text, leaked, sentinel
from tests.broker.test_views_matrix import (
    BOOLEANS,
    PARTIES,
    USERS,
    Sentinels,
    suppliable,
    valid_bsn,
)

PURPOSES = ("triage", "casusoverleg", "uitvoering", "toezicht", "inzageverzoek")
TRACKS = ("signaal", "lokaal_preventief", "pga", "zvh")
ROLE = {username: role for username, _, role, _ in DEMO_ACCOUNTS}
PARTY = {username: party for username, party, _, _ in DEMO_ACCOUNTS}


@pytest.fixture
def logs(capsys: pytest.CaptureFixture[str]) -> Iterator[pytest.CaptureFixture[str]]:
    """capsys, with structlog's configuration restored after the test."""
    saved = structlog.get_config()
    yield capsys
    structlog.configure(**saved)


def signal_everything(
    api: Api, rng: random.Random, track: str, parties: tuple[str, ...] = PARTIES
) -> tuple[str, list[Any]]:
    """Each party signals a sentinel in every field it may supply (and in the summary); the
    coordinator assigns the track. The case id and every findable value sent."""
    bsn = valid_bsn(rng)
    values = Sentinels(rng, bsn)
    sent: list[Any] = [bsn]
    case_id = ""
    for party in parties:
        fields = {name: values.value(party, name) for name in suppliable(party)}
        summary = sentinel(party, "summary")
        response = api.signal(USERS[party], {"bsn": bsn}, fields, summary=summary)
        assert response.status_code == 201, response.get_data(as_text=True)
        case_id = response.json["case_id"]
        sent += [v for n, v in fields.items() if n not in BOOLEANS] + [summary]
    if track != "signaal":
        response = api.track(case_id, track, director="devries")
        assert response.status_code == 200, response.get_data(as_text=True)
    return case_id, sent


def test_no_sentinel_reaches_the_audit_log_the_export_or_the_logs(
    api: Api, logs: pytest.CaptureFixture[str]
) -> None:
    """No sentinel from any view, refusal or officer's look is in the audit log, export or logs."""
    configure_logging("DEBUG")
    logs.readouterr()
    rng = random.Random(20260105)
    cases: dict[str, str] = {}
    bsns: list[str] = []
    sent: list[Any] = []
    for track in TRACKS:
        cases[track], values = signal_everything(api, rng, track)
        bsns.append(values[0])
        sent += values
    cases["police_only"], values = signal_everything(api, rng, "pga", parties=("politie",))
    bsns.append(values[0])
    sent += values
    nameless = {
        "surname": sentinel("politie", "surname"),
        "given_names": sentinel("politie", "given"),
        "birth_date": "2010-04-21",
        "postcode": "8917 QX",
        "house_number": sentinel("politie", "house"),
    }
    response = api.signal("jansen", nameless, {"incidents_summary": sentinel("politie", "x")})
    assert response.status_code == 201, response.get_data(as_text=True)
    cases["nameless"] = response.json["case_id"]
    sent += [*nameless.values(), sentinel("politie", "x")]
    refused_values = [sentinel("school", "school_name"), sentinel("school", "care_details")]
    refused_signal = api.signal(
        "bakker",
        {"bsn": bsns[0]},
        {"school_name": refused_values[0], "care_details": refused_values[1]},
    )
    assert refused_signal.status_code == 422
    sent += refused_values

    seen: dict[str, list[Any]] = {"ok": [], "own_data": [], "refused": []}
    shown: list[str] = [refused_signal.get_data(as_text=True)]
    request_ids: list[str] = []
    answered: list[str] = []
    for username in ROLE:
        for purpose in PURPOSES:
            for case_id in cases.values():
                view = api.view(username, case_id, purpose)
                request_ids.append(view.headers["X-Request-ID"])
                if view.status_code != 200:
                    seen["refused"].append(view.status_code)
                    shown.append(view.get_data(as_text=True))
                else:
                    seen["own_data" if not view.json["on_case_team"] else "ok"].append(username)
                    answered.append(view.get_data(as_text=True))
            listed = api.client.get(
                "/api/v1/cases", query_string={"purpose": purpose}, headers=api.headers(username)
            )
            assert listed.status_code in (200, 403)
            for track in TRACKS:
                explained = api.client.get(
                    "/api/v1/convenant/explain",
                    query_string={
                        "party": PARTY[username],
                        "role": ROLE[username],
                        "purpose": purpose,
                        "track": track,
                    },
                    headers=api.headers(username),
                )
                assert explained.status_code == 200, explained.get_data(as_text=True)
    assert {"mulder", "jansen", "bos", "smit", "bakker"} <= set(seen["ok"])
    assert {"visser", "smit", "bos"} <= set(seen["own_data"])
    assert {403, 404} <= set(seen["refused"])

    def officer(path: str, **params: str) -> None:
        response = api.client.get(path, query_string=params, headers=api.headers("dekker"))
        assert response.status_code == 200, (path, response.get_data(as_text=True))
        shown.append(response.get_data(as_text=True))

    for bsn in bsns:
        officer("/api/v1/subjects/access-report", bsn=bsn)
        officer("/api/v1/subjects/access-report", bsn=bsn, format="html")
        officer("/api/v1/audit", bsn=bsn, limit="1000")
    officer("/api/v1/audit", limit="1000")
    officer("/api/v1/audit/anomalies")
    officer("/api/v1/audit/verify", deep="true")
    export = api.app.test_cli_runner().invoke(audit_group, ["export"])
    assert export.exit_code == 0, export.output
    assert export.stdout.count('"type": "record"') > 300

    assert leaked(sent, "\n".join(answered)), "the search finds no value even where shown"
    logged = logs.readouterr().out
    assert all(request_id in logged for request_id in request_ids), "the logs were not captured"
    audited = audit_text(api)
    assert all(request_id in audited for request_id in request_ids), "a view was not audited"
    assert not leaked(sent, audited), "a value is in the audit log"
    assert not leaked(sent, export.stdout), "a value is in the export"
    assert not leaked(sent, logged), "a value is in the logs"
    assert not leaked(sent, "\n".join(shown)), "a value reached the officer or a refused caller"
