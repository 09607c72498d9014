"""The API as a client meets it: schemathesis drives the live app (WSGI) through the app's own
OpenAPI document with every check — no 5xx, answers that match their schemas and status codes,
valid requests accepted, invalid ones refused, 405 with Allow, auth not ignored — as a case
worker, the coordinator and the privacy officer, on SQLite and PostgreSQL. The example budget is
bounded and the generation derandomized (a fixed seed), so a run is repeatable.

What JSON Schema cannot say, the document says in words, and the hooks below keep the generated
valid requests inside it: a party supplies only its own fields (each field's x-suppliers), an
identifying value in `fields` equals the one in `subject`, a birth date makes the young person 8
to 27 years old, a signal holds a field or a summary, the figures run from the first day of a
month to the last day of a month, a young person is named by a bsn or all five identity fields.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from flask import Flask
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from schemathesis.core.parameters import ParameterLocation

from broker.cli.demo import DEMO_ACCOUNTS, load_demo
from broker.cli.service import issue_token

# The three kinds of caller, each with a demo account.
CALLERS = ("jansen", "mulder", "dekker")
PARTIES = {username: party for username, party, _, _ in DEMO_ACCOUNTS}
IDENTITY = ("surname", "given_names", "birth_date", "postcode", "house_number")
# Authlib's endpoints are tested in test_oauth; the document describes them as they answer.
NOT_DRIVEN = "^/(oauth|\\.well-known)/"


def _with_check_digit(first_eight: str) -> str | None:
    """The nine-digit BSN starting with `first_eight`, when one passes the eleven-check."""
    total = sum(w * int(d) for w, d in zip(range(9, 1, -1), first_eight, strict=True))
    last = total % 11
    return first_eight + str(last) if last < 10 and first_eight != "00000000" else None


BSNS = (
    st.text("0123456789", min_size=8, max_size=8)
    .map(_with_check_digit)
    .filter(lambda bsn: bsn is not None)
)
schemathesis.openapi.format("bsn", BSNS)


def _born(years: int) -> str:
    today = dt.date.today()
    return today.replace(year=today.year - years, day=1).isoformat()


def _is_positive(case: schemathesis.Case) -> bool:
    return case.meta is not None and case.meta.generation.mode.is_positive


def _signal(body: dict[str, Any], party: str, suppliers: dict[str, list[str]]) -> None:
    """A signal with the caller's own fields, identifying values as in the subject, a birth
    date in the target group, and a field or a summary."""
    fields = body.get("fields")
    if isinstance(fields, dict):
        for name in list(fields):
            if party not in suppliers.get(name, ()):
                del fields[name]
        subject = body.get("subject")
        for name in ("bsn", *IDENTITY):
            if isinstance(subject, dict) and name in fields and name in subject:
                fields[name] = subject[name]
        if "birth_date" in fields and not (isinstance(subject, dict) and "birth_date" in subject):
            fields["birth_date"] = _born(17)
        if isinstance(fields.get("bsn"), str) and not _is_valid_bsn(fields["bsn"]):
            fields["bsn"] = VALID_BSN
    if not fields and not body.get("summary"):
        body["summary"] = "Signaal"


def _period(query: dict[str, Any]) -> None:
    """From the first day of the month of `from` to the last day of the month of `to`, at
    most 60 months, years 1900 to 2999."""
    try:
        first = dt.date.fromisoformat(query["from"])
        last = dt.date.fromisoformat(query["to"])
    except (KeyError, TypeError, ValueError):
        return
    first = first.replace(year=min(max(first.year, 1900), 2990), day=1)
    months = ((last.year - first.year) * 12 + last.month - first.month) % 60
    year, month = first.year + (first.month - 1 + months) // 12, (first.month - 1 + months) % 12
    end = dt.date(year, month + 1, 1) + dt.timedelta(days=31)
    query["from"] = first.isoformat()
    query["to"] = (end.replace(day=1) - dt.timedelta(days=1)).isoformat()


@pytest.fixture(params=CALLERS)
def caller(request: pytest.FixtureRequest) -> str:
    """The demo account the requests come from."""
    return str(request.param)


@pytest.fixture
def api_schema(app: Flask, caller: str) -> Iterator[Any]:
    """The app with its demo data, its document loaded by schemathesis, and the hooks that
    keep valid requests inside what the document says in words; real case ids now and then."""
    with app.app_context():
        load_demo()
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    with app.test_client() as client:
        listed = client.get(
            "/api/v1/cases",
            query_string={"purpose": "casusoverleg", "per_page": "100"},
            headers={"Authorization": f"Bearer {_token(app, 'mulder')}"},
        ).json
    cases = [item["case_id"] for item in listed["items"]]

    @schema.hook
    def flatmap_case(context: Any, case: schemathesis.Case) -> Any:
        if not _is_positive(case) or "case_id" not in (case.path_parameters or {}):
            return st.just(case)

        def on(case_id: str | None) -> schemathesis.Case:
            if case_id is not None:
                case.path_parameters = {**case.path_parameters, "case_id": case_id}
            return case

        return st.sampled_from([None, *cases]).map(on)

    yield schema.exclude(path_regex=NOT_DRIVEN)


def _token(app: Flask, username: str) -> str:
    with app.app_context():
        return issue_token(username)


TOKENS: dict[str, str] = {}


# A bounded budget and a fixed seed: the same requests on every run.
BUDGET = settings(
    max_examples=8,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
)


VALID_BSN = "999990019"


def _subject(subject: Any) -> None:
    """A named young person as the document says in words: a BSN that passes the
    eleven-check, a birth date in the target group."""
    if isinstance(subject, dict):
        if isinstance(subject.get("bsn"), str) and not _is_valid_bsn(subject["bsn"]):
            subject["bsn"] = VALID_BSN
        if "birth_date" in subject:
            subject["birth_date"] = _born(17)


def _is_valid_bsn(text: str) -> bool:
    return len(text) == 9 and text.isascii() and _with_check_digit(text[:8]) == text


def _fit(case: schemathesis.Case, party: str, suppliers: dict[str, list[str]]) -> None:
    """Keep a valid case inside what the document says in words (see the module doc)."""
    body = case.body if isinstance(case.body, dict) else None
    query = case.query if isinstance(case.query, dict) else {}
    if isinstance(query.get("bsn"), str) and not _is_valid_bsn(query["bsn"]):
        query["bsn"] = VALID_BSN
    if body is not None:
        _subject(body.get("subject"))
    if case.path == "/api/v1/signals" and body is not None:
        _signal(body, party, suppliers)
    elif case.path == "/api/v1/stats":
        _period(query)
    elif case.path == "/api/v1/subjects/objections" and case.method.upper() == "GET":
        if "bsn" not in query and not all(n in query for n in IDENTITY):
            for name in IDENTITY:
                query.pop(name, None)
            query["bsn"] = VALID_BSN
        elif "birth_date" in query:
            query["birth_date"] = _born(17)
    elif case.path == "/api/v1/subjects/corrections" and body is not None:
        if body.get("field") == "birth_date":
            body["value"] = _born(17)
    elif case.path.endswith("/plan") and body is not None:
        for agreement in body.get("agreements") or []:
            if isinstance(agreement, dict):
                agreement["party"] = "gemeente"  # on the case team of every track
        body["review_date"] = (dt.date.today() + dt.timedelta(days=30)).isoformat()
    elif case.path.endswith("/track") and body is not None:
        body.pop("case_director", None)
    elif case.path.endswith("/case-director") and body is not None:
        body["case_director"] = "mulder"  # of the municipality: on every case team


def _call(case: schemathesis.Case, caller: str, suppliers: dict[str, list[str]]) -> None:
    """Send the case as the caller (but for cases about a missing or bad Authorization
    header) and run every check on the answer."""
    if _is_positive(case):
        _fit(case, PARTIES[caller], suppliers)
    headers = {}
    if case.meta is None or not case.meta.is_negative_at(ParameterLocation.HEADER):
        headers = {"Authorization": f"Bearer {TOKENS[caller]}"}
    case.call_and_validate(headers=headers)


def test_the_api_keeps_its_document(
    app: Flask, api_schema: Any, caller: str, subtests: pytest.Subtests
) -> None:
    """Every generated request, valid and invalid, answers as the document says: 0 failures
    of any check (no 5xx, schema-conformant answers, valid accepted, invalid refused).

    Each operation's tests (examples, coverage and fuzzing phases) are built as schemathesis'
    pytest plugin builds them (`get_all_tests`); its lazy fixture loader itself does not run on
    pytest 9.2 (it sets the node's `_nodeid`), so the operations run here as subtests."""
    from schemathesis.pytest.lazy import get_all_tests

    TOKENS[caller] = _token(app, caller)
    document = app.test_client().get("/api/v1/openapi.json").json
    signal = document["paths"]["/api/v1/signals"]["post"]["requestBody"]["content"]
    members = signal["application/json"]["schema"]["properties"]["fields"]["properties"]
    suppliers = {name: rules["x-suppliers"] for name, rules in members.items()}
    operations = 0
    for result in get_all_tests(
        schema=api_schema, test_func=_call, settings=BUDGET, given_kwargs={}
    ):
        operation, test = result.ok()
        operations += 1
        with subtests.test(operation.label):
            test(caller=caller, suppliers=suppliers)
    assert operations >= 25
