"""The OpenAPI document matches the app's routes, and every non-public route needs a token."""

from __future__ import annotations

import re
from typing import Any

import pytest
import schemathesis
from flask import Flask

import policies
from broker.core.runtime import runtime
from tests.broker.conftest import Api

PUBLIC_PATHS = {
    "/healthz",
    "/readyz",
    "/api/v1/openapi.json",
    "/.well-known/jwks.json",
    "/.well-known/oauth-authorization-server",
    "/oauth/token",
    "/oauth/authorize",
}
# The public routes a plain GET without parameters answers with 200.
PUBLIC_DOCUMENTS = {
    "/healthz",
    "/readyz",
    "/api/v1/openapi.json",
    "/.well-known/jwks.json",
    "/.well-known/oauth-authorization-server",
}
HTTP_METHODS = {"get", "put", "post", "delete", "patch", "head", "options", "trace"}
PROBLEM_REF = "#/components/responses/Problem"
_VARIABLE = re.compile(r"<(?:[^<>:]+:)?([^<>]+)>")


def _is_api(endpoint: str) -> bool:
    """Whether a route is part of the API: not a static file, not a web page (broker.web:
    HTML for browsers, behind a session login; tests/web checks that each needs one)."""
    return endpoint != "static" and not endpoint.startswith("web.")


def _routes(app: Flask) -> set[tuple[str, str]]:
    """(OpenAPI path, method) of every API route; Flask's <x> written as {x}."""
    return {
        (_VARIABLE.sub(r"{\1}", rule.rule), method.lower())
        for rule in app.url_map.iter_rules()
        if _is_api(rule.endpoint)
        for method in (rule.methods or set()) - {"HEAD", "OPTIONS"}
    }


def _operations(document: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {
        (path, method): operation
        for path, item in document["paths"].items()
        for method, operation in item.items()
        if method in HTTP_METHODS
    }


def _resolve(document: dict[str, Any], ref: str) -> Any:
    node: Any = document
    for part in ref.removeprefix("#/").split("/"):
        node = node[part]
    return node


def test_document_is_public_openapi_3_1(api: Api) -> None:
    """/api/v1/openapi.json answers without a token with an OpenAPI 3.1 document."""
    response = api.client.get("/api/v1/openapi.json")
    assert response.status_code == 200 and response.mimetype == "application/json"
    assert response.json["openapi"].startswith("3.1.")
    assert response.json["info"]["title"]


def test_paths_and_methods_are_exactly_the_apps_routes(api: Api) -> None:
    """Every route is documented with its methods, and nothing else is."""
    documented = set(_operations(api.client.get("/api/v1/openapi.json").json))
    assert documented == _routes(api.app)


def test_every_reference_resolves(api: Api) -> None:
    """Every $ref in the document points at something inside it."""
    document = api.client.get("/api/v1/openapi.json").json
    refs: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            refs.extend(v for k, v in node.items() if k == "$ref")
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(document)
    assert refs
    for ref in refs:
        assert ref.startswith("#/") and _resolve(document, ref) is not None, ref


def test_every_operation_documents_its_problem_responses(api: Api) -> None:
    """Secured operations document 401 and 503; every error response is problem+json."""
    document = api.client.get("/api/v1/openapi.json").json
    problem = _resolve(document, PROBLEM_REF)
    assert set(problem["content"]) == {"application/problem+json"}
    for (path, method), operation in _operations(document).items():
        public = operation.get("security") == []
        assert public == (path in PUBLIC_PATHS), (path, method)
        errors = {code: r for code, r in operation["responses"].items() if code[0] in "45"}
        if path.startswith("/api/"):
            for code, response in errors.items():
                assert response == {"$ref": PROBLEM_REF}, (path, method, code)
        if not public:
            # Any refusal here is audited, and when that fails the answer is 503.
            assert {"401", "503"} <= set(errors), (path, method, sorted(errors))


def test_documented_purposes_are_those_giving_case_content(api: Api) -> None:
    """The purpose of a read of case content lists exactly the convenant's purposes with a case
    view; an endpoint for one purpose (triage, the figures) lists that one only."""
    document = api.client.get("/api/v1/openapi.json").json
    with api.app.app_context():
        convenant = runtime().convenant
    readable = {name for name, p in convenant.purposes.items() if p.view is not policies.View.NONE}
    checked = 0
    for (path, method), operation in _operations(document).items():
        for parameter in operation.get("parameters", []):
            explain = path == "/api/v1/convenant/explain"
            if parameter["name"] != "purpose" or explain or "enum" not in parameter["schema"]:
                continue  # the audit log's filter and explain's request name any purpose
            enum = set(parameter["schema"]["enum"])
            if path.startswith("/api/v1/cases"):
                assert enum == readable, (path, method)
                checked += 1
            else:
                assert len(enum) == 1 and enum <= readable, (path, method)
    assert checked >= 8


def test_document_is_valid_openapi_3_1(api: Api) -> None:
    """The document validates against the OpenAPI 3.1 schema (schemathesis' own copy of it)."""
    document = api.client.get("/api/v1/openapi.json").json
    schemathesis.openapi.from_dict(document).validate()
    broken = {**document, "paths": {"/x": {"get": {"responses": {"200": {}}}}}}
    with pytest.raises(Exception, match="description"):
        schemathesis.openapi.from_dict(broken).validate()


def test_signal_body_follows_the_convenant_in_force(api: Api) -> None:
    """The signal's fields are the convenant's, each with the parties that may supply it, its
    limits and its pattern, generated from the validator's schemas."""
    document = api.client.get("/api/v1/openapi.json").json
    body = document["paths"]["/api/v1/signals"]["post"]["requestBody"]
    schema = body["content"]["application/json"]["schema"]
    fields = schema["properties"]["fields"]["properties"]
    with api.app.app_context():
        convenant = runtime().convenant
    assert set(fields) == set(convenant.fields)
    for name, field in convenant.fields.items():
        assert set(fields[name]["x-suppliers"]) == set(field.suppliers), name
    assert fields["incident_count"] == {
        "type": "integer",
        "minimum": 0,
        "maximum": 100_000,
        "description": "Aantal incidenten",
        "x-suppliers": ["politie"],
    }
    assert fields["postcode"]["pattern"] == "^[1-9][0-9]{3} ?[A-Za-z]{2}$"
    assert fields["bsn"]["format"] == "bsn"
    assert schema["additionalProperties"] is False and schema["required"] == ["subject"]


def test_every_limit_the_server_enforces_is_documented(api: Api) -> None:
    """Pages, lengths, patterns, enums and dates: each parameter says its limits."""
    document = api.client.get("/api/v1/openapi.json").json
    for (path, method), operation in _operations(document).items():
        for parameter in operation.get("parameters", []):
            schema = parameter["schema"]
            where = (path, method, parameter["name"])
            if schema.get("type") == "integer":
                assert "minimum" in schema and "maximum" in schema, where
            elif schema.get("type") == "string":
                limits = {"enum", "pattern", "maxLength", "format", "anyOf", "allOf"}
                assert limits & set(schema), where
    cases = _operations(document)[("/api/v1/cases", "get")]
    page = {p["name"]: p["schema"] for p in cases["parameters"]}
    assert page["per_page"] == {"type": "integer", "minimum": 1, "maximum": 100, "default": 20}
    plan = _operations(document)[("/api/v1/cases/{case_id}/plan", "put")]["requestBody"]
    goals = plan["content"]["application/json"]["schema"]["properties"]["goals"]
    assert goals["minItems"] == 1 and goals["maxItems"] == 20
    assert goals["items"]["maxLength"] == 1000 and goals["items"]["minLength"] == 1


def test_every_route_but_the_public_ones_needs_a_token(api: Api) -> None:
    """Each method of each non-public route answers 401 problem+json without a token."""
    case_path = "case-" + "0" * 32
    checked = 0
    for rule in api.app.url_map.iter_rules():
        if not _is_api(rule.endpoint) or rule.rule in PUBLIC_PATHS:
            continue
        url = _VARIABLE.sub(case_path, rule.rule)
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            response = api.client.open(
                url, method=method, json={}, query_string={"purpose": "casusoverleg"}
            )
            assert response.status_code == 401, (method, url, response.status_code)
            assert response.mimetype == "application/problem+json"
            assert response.json["code"] == "missing_token"
            checked += 1
    assert checked >= 6


def test_public_routes_answer_without_a_token(api: Api) -> None:
    """The public documents answer 200 without a token, and no public route answers 401
    missing_token (so the exemption list is not too wide, nor too narrow)."""
    for path in sorted(PUBLIC_DOCUMENTS):
        assert api.client.get(path).status_code == 200, path
    for rule in api.app.url_map.iter_rules():
        if rule.rule in PUBLIC_PATHS:
            for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
                response = api.client.open(rule.rule, method=method)
                assert response.status_code != 401, (method, rule.rule)
                assert response.status_code < 500, (method, rule.rule)


def test_the_answers_of_a_whole_scenario_match_the_document(api: Api) -> None:
    """Every endpoint answered for real — signal, track, director, plan, views, notifications,
    figures, the audit log, rights — validates against its documented response schema (the
    schemathesis test rarely reaches a real case with a valid write)."""
    schema = schemathesis.openapi.from_dict(api.client.get("/api/v1/openapi.json").json)
    seen: set[tuple[str, str]] = set()

    def call(username: str | None, method: str, template: str, status: int, **kw: Any) -> Any:
        path = template.format(**names)
        headers = api.headers(username) if username else {}
        response = api.client.open(path, method=method, headers=headers, **kw)
        assert response.status_code == status, (method, path, response.get_data(as_text=True))
        schema[template.split("?")[0] if "{" not in template else template][
            method
        ].validate_response(response)
        seen.add((template, method))
        return response.json if response.is_json else None

    names: dict[str, Any] = {}
    bsn, read = "123456782", {"purpose": "casusoverleg"}
    body = {"subject": {"bsn": bsn}, "fields": {"surname": "Visser", "incident_count": 2}}
    receipt = call("jansen", "POST", "/api/v1/signals", 201, json=body)
    names.update(case_id=receipt["case_id"], signal_id=receipt["signal_id"])
    other = {"subject": {"bsn": "999990019"}, "fields": {"school_name": "Piter Jelles"}}
    call("bakker", "POST", "/api/v1/signals", 201, json=other)
    call("mulder", "GET", "/api/v1/triage", 200)
    track = {"track": "lokaal_preventief", "reason": "Besproken"}
    call("mulder", "POST", "/api/v1/cases/{case_id}/track", 200, json=track)
    director = {"case_director": "jansen", "reason": "Wijkagent kent het gezin"}
    call("mulder", "POST", "/api/v1/cases/{case_id}/case-director", 200, json=director)
    plan = {
        "concerns": "Verzuim",
        "goals": ["Naar school"],
        "agreements": [{"party": "politie", "agreement": "Huisbezoek"}],
        "review_date": "2999-01-01",
    }
    call("mulder", "PUT", "/api/v1/cases/{case_id}/plan", 201, json=plan)
    for username in ("mulder", "jansen"):
        for template in ("", "/plan", "/plan/versions", "/history", "/explain"):
            call(username, "GET", "/api/v1/cases/{case_id}" + template, 200, query_string=read)
    call("jansen", "GET", "/api/v1/cases", 200, query_string=read)
    notes = call("jansen", "GET", "/api/v1/notifications", 200)
    names["notification_id"] = notes["items"][0]["id"]
    call("jansen", "POST", "/api/v1/notifications/{notification_id}/read", 200)
    call("jansen", "GET", "/api/v1/convenant", 200)
    asked = {"party": "politie", "role": "case_worker", "purpose": "uitvoering", "track": "pga"}
    call("jansen", "GET", "/api/v1/convenant/explain", 200, query_string=asked)
    call(
        "mulder",
        "GET",
        "/api/v1/stats",
        200,
        query_string={"from": "2026-01-01", "to": "2026-12-31"},
    )
    objection = {"subject": {"bsn": bsn}, "targets": ["police"], "reason": "Bezwaar"}
    made = call("dekker", "POST", "/api/v1/subjects/objections", 201, json=objection)
    names["objection_id"] = made["objection_id"]
    call("dekker", "GET", "/api/v1/subjects/objections", 200, query_string={"bsn": bsn})
    call("dekker", "POST", "/api/v1/subjects/objections/{objection_id}/lift", 200)
    fix = {"subject": {"bsn": bsn}, "field": "surname", "value": "Vries", "reason": "Typfout"}
    call("dekker", "POST", "/api/v1/subjects/corrections", 201, json=fix)
    for template, query in (
        ("/api/v1/audit", {"limit": "5"}),
        ("/api/v1/audit/verify", {"deep": "true"}),
        ("/api/v1/audit/checkpoints", {}),
        ("/api/v1/audit/anomalies", {}),
        ("/api/v1/subjects/access-report", {"bsn": bsn}),
        ("/api/v1/subjects/access-report", {"bsn": bsn, "format": "html"}),
    ):
        call("dekker", "GET", template, 200, query_string=query)
    call("dekker", "POST", "/api/v1/audit/checkpoints", 201)
    call("jansen", "GET", "/api/v1/audit/checkpoint", 200)
    note = api.client.get("/api/v1/audit/checkpoint", headers=api.headers("dekker"))
    size = note.get_data(as_text=True).split("\n")[1]
    inclusion = {"seq": "1", "size": size}
    call("dekker", "GET", "/api/v1/audit/proofs/inclusion", 200, query_string=inclusion)
    consistency = {"old": "1", "new": size}
    call("jansen", "GET", "/api/v1/audit/proofs/consistency", 200, query_string=consistency)
    call("mulder", "POST", "/api/v1/cases/{case_id}/close", 200, json={"reason_code": "verhuisd"})
    call("dekker", "DELETE", "/api/v1/signals/{signal_id}", 200, query_string={"reason": "Fout"})
    for template in ("/healthz", "/readyz", "/api/v1/openapi.json"):
        call(None, "GET", template, 200)
    documented = {
        (path, method.upper())
        for path, method in _operations(api.client.get("/api/v1/openapi.json").json)
    }
    untried = {(p, m) for p, m in documented if not p.startswith(("/oauth", "/.well-known"))} - seen
    assert not untried, sorted(untried)
