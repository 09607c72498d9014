"""Helpers for the broker's API tests: a case on a track, the state a refused request must
leave as it was, and the refusal check (also used by the error-class tests)."""

from __future__ import annotations

import dataclasses
from typing import Any

from sqlalchemy import select
from werkzeug.test import TestResponse

from broker.core.runtime import runtime
from broker.storage.models import (
    Case,
    FieldValue,
    MatchKey,
    Notification,
    PlanVersion,
    Signal,
    TrackChange,
    YoungPerson,
)
from tests.broker.conftest import Api

# The tables a request about a case may write: a refused one leaves every row as it was.
WATCHED = (
    YoungPerson,
    Case,
    TrackChange,
    Notification,
    PlanVersion,
    MatchKey,
    Signal,
    FieldValue,
)


def rows(api: Api) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of the watched tables, column by column, in id order."""
    out: dict[str, list[tuple[Any, ...]]] = {}
    with api.app.app_context():
        session = runtime().sessions()
        try:
            for model in WATCHED:
                columns = list(model.__table__.columns)
                out[model.__tablename__] = [
                    tuple(row)
                    for row in session.execute(
                        select(*columns).order_by(*model.__table__.primary_key.columns)
                    )
                ]
        finally:
            session.close()
    return out


@dataclasses.dataclass(frozen=True)
class Before:
    """The watched tables and the audit log's length before a refused request."""

    tables: dict[str, list[tuple[Any, ...]]]
    audit_records: int


def before(api: Api, *usernames: str) -> Before:
    """Issue the tokens first (that is audited too), then take the state."""
    for username in usernames:
        api.token(username)
    return Before(rows(api), len(api.audit_records()))


def refused(
    api: Api,
    was: Before,
    response: TestResponse,
    status: int,
    code: str,
    *,
    event: str,
    outcome: str,
) -> dict[str, Any]:
    """A problem+json refusal that changed nothing and left exactly one audit record."""
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/problem+json"
    body: dict[str, Any] = response.json
    assert body["code"] == code and body["status"] == status and body["detail"]
    assert rows(api) == was.tables
    records = api.audit_records()
    assert len(records) == was.audit_records + 1
    entry = records[-1].entry
    assert (entry.event, entry.outcome) == (event, outcome)
    return body


def open_case(
    api: Api,
    bsn: str,
    fields: dict[str, Any] | None = None,
    track: str | None = None,
    director: str | None = None,
) -> str:
    """A case opened by a police signal, moved to `track` (with `director`) when given."""
    response = api.signal("jansen", {"bsn": bsn}, fields or {"surname": "Hoekstra"})
    assert response.status_code == 201, response.json
    case_id = str(response.json["case_id"])
    if track is not None:
        moved = api.track(case_id, track, director=director)
        assert moved.status_code == 200, moved.json
    return case_id


def get(api: Api, username: str, path: str, **params: Any) -> TestResponse:
    """GET an /api/v1 path as the account."""
    return api.client.get(f"/api/v1{path}", query_string=params, headers=api.headers(username))


def post(api: Api, username: str, path: str, body: Any, **params: Any) -> TestResponse:
    """POST JSON to an /api/v1 path as the account."""
    return api.client.post(
        f"/api/v1{path}", json=body, query_string=params, headers=api.headers(username)
    )


def put(api: Api, username: str, path: str, body: Any, **params: Any) -> TestResponse:
    """PUT JSON to an /api/v1 path as the account."""
    return api.client.put(
        f"/api/v1{path}", json=body, query_string=params, headers=api.headers(username)
    )
