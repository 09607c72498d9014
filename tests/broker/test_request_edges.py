"""The edges schemathesis found, kept fixed: integer parameters in Unicode digits, JSON nested
hundreds deep, bodies that are not application/json, a 405 without Allow, empty date-times —
each a 4xx problem+json naming what is wrong, with nothing stored."""

from __future__ import annotations

from typing import Any

import pytest

from tests.broker.casework_support import get, open_case, rows
from tests.broker.conftest import Api

BSN = "123456782"
# "²" and "٣" are digits to str.isdigit(); int("²") fails, int("٣") is 3: neither is accepted.
UNICODE_DIGITS = ("²", "٣", "1²", "１")


def _problem(response: Any, status: int, name: str | None = None) -> dict[str, Any]:
    """A problem+json answer with `status`, naming `name` when given."""
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/problem+json"
    body: dict[str, Any] = response.json
    assert body["status"] == status and body["detail"]
    if name is not None:
        assert name in body["detail"]
        assert [e["field"] for e in body["errors"]] == [name]
    return body


@pytest.mark.parametrize(
    ("username", "path", "name", "params"),
    [
        ("mulder", "/cases", "page", {"purpose": "casusoverleg"}),
        ("mulder", "/cases", "per_page", {"purpose": "casusoverleg"}),
        ("mulder", "/triage", "page", {}),
        ("jansen", "/notifications", "per_page", {}),
        ("dekker", "/audit", "limit", {}),
        ("dekker", "/audit", "after_seq", {}),
        ("mulder", "/cases/{case}/plan", "version", {"purpose": "casusoverleg"}),
    ],
)
def test_unicode_digits_are_refused_naming_the_parameter(
    api: Api, username: str, path: str, name: str, params: dict[str, str]
) -> None:
    """An integer parameter in other than ASCII digits is 400 problem+json naming it."""
    case_id = open_case(api, BSN, track="lokaal_preventief")
    for digits in UNICODE_DIGITS:
        response = get(api, username, path.format(case=case_id), **params, **{name: digits})
        _problem(response, 400, name)


def test_base_version_in_unicode_digits_is_refused_and_nothing_is_saved(api: Api) -> None:
    """PUT plan?base_version=² is 400 naming base_version; no plan version is stored."""
    case_id = open_case(api, BSN, track="lokaal_preventief")
    plan = {
        "concerns": "Verzuim",
        "goals": ["Naar school"],
        "agreements": [],
        "review_date": "2999-01-01",
    }
    was = rows(api)
    response = api.client.put(
        f"/api/v1/cases/{case_id}/plan",
        json=plan,
        query_string={"base_version": "²"},
        headers=api.headers("mulder"),
    )
    _problem(response, 400, "base_version")
    assert rows(api) == was


def _nested(depth: int) -> str:
    """A JSON value nested `depth` lists deep (as text: the encoder itself stops at ~1000)."""
    return "[" * depth + '"Sentinel"' + "]" * depth


@pytest.mark.parametrize("depth", [40, 500, 980])
def test_json_nested_deep_in_any_field_is_400_and_nothing_is_stored(api: Api, depth: int) -> None:
    """Nesting hundreds deep (a RecursionError once) in a signal, a plan or an objection is
    400 body_too_deep, and every table stays as it was."""
    case_id = open_case(api, BSN, track="lokaal_preventief")
    deep = _nested(depth)
    attempts = [
        ("jansen", "post", "/api/v1/signals", f'{{"subject": {{"bsn": "{BSN}"}}, '),
        ("mulder", "put", f"/api/v1/cases/{case_id}/plan", '{"goals": ["x"], '),
        ("dekker", "post", "/api/v1/subjects/objections", f'{{"subject": {{"bsn": "{BSN}"}}, '),
    ]
    for username, method, url, start in attempts:
        for member in ('"fields": {"surname": %s}}', '"concerns": %s}', '"reason": %s}'):
            was = rows(api)
            response = getattr(api.client, method)(
                url,
                data=start + member % deep,
                content_type="application/json",
                headers=api.headers(username),
            )
            body_out = _problem(response, 400)
            assert body_out["code"] == "body_too_deep", (url, member)
            assert "Sentinel" not in response.get_data(as_text=True)
            assert rows(api) == was


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded"])
def test_a_body_that_is_not_json_is_415(api: Api, content_type: str) -> None:
    """POST and PUT bodies sent as anything but application/json are 415 problem+json."""
    case_id = open_case(api, BSN, track="lokaal_preventief")
    signal = '{"subject": {"bsn": "123456782"}, "fields": {"surname": "Visser"}}'
    was = rows(api)
    for method, url, username in (
        ("post", "/api/v1/signals", "jansen"),
        ("put", f"/api/v1/cases/{case_id}/plan", "mulder"),
        ("post", f"/api/v1/cases/{case_id}/close", "mulder"),
    ):
        response = getattr(api.client, method)(
            url, data=signal, content_type=content_type, headers=api.headers(username)
        )
        assert _problem(response, 415)["code"] == "unsupported_media_type"
    assert rows(api) == was


def test_every_405_names_the_allowed_methods(api: Api) -> None:
    """A method a route does not take is 405 problem+json with an Allow header."""
    for method, url, allowed in (
        ("delete", "/api/v1/cases", {"GET", "HEAD", "OPTIONS"}),
        ("put", "/api/v1/signals", {"POST", "OPTIONS"}),
        ("patch", "/api/v1/audit/checkpoints", {"GET", "HEAD", "POST", "OPTIONS"}),
    ):
        response = getattr(api.client, method)(url, headers=api.headers("mulder"))
        _problem(response, 405)
        assert set(response.headers["Allow"].replace(" ", "").split(",")) == allowed, url


@pytest.mark.parametrize(("path", "name"), [("/audit", "since"), ("/audit/anomalies", "until")])
def test_an_empty_date_time_is_refused_naming_it(api: Api, path: str, name: str) -> None:
    """?since= or ?until= empty is 422 naming the parameter (it was taken as absent)."""
    _problem(get(api, "dekker", path, **{name: ""}), 422, name)
    _problem(get(api, "dekker", path, **{name: "2026-13-01"}), 422, name)
    assert get(api, "dekker", path, **{name: "2026-11-23T08:00:00+01:00"}).status_code == 200
