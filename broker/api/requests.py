"""What every JSON endpoint shares: the caller authenticated by bearer token (a partner system only
where partner systems may go), the body read as JSON, the purpose (doelbinding) and role the
request acts in, and query parameters checked against their limits — each refusal a problem+json
that names the parameter.
"""

from __future__ import annotations

import re
from typing import Any

from flask import g, request

from broker.core.auth import authenticate, choose_role, request_id, source_address
from broker.core.context import Context
from broker.core.problems import Problem
from broker.core.runtime import runtime
from broker.identity.actors import Actor

__all__ = [
    "CLIENT_ENDPOINTS",
    "PUBLIC_ENDPOINTS",
    "authenticate_request",
    "current_actor",
    "int_arg",
]


NAME = re.compile(r"^[a-z][a-z0-9_]{0,63}$")


CASE_ID = re.compile(r"^case-[0-9a-f]{32}$")


PUBLIC_ENDPOINTS = {"api.openapi"}


# What a partner system (client credentials) may do: submit signals. Never read.
CLIENT_ENDPOINTS = {"api.signals_create"}


def authenticate_request() -> None:
    """Every /api/v1 request but the public ones carries a valid bearer token; a partner
    system's token only reaches the endpoints for partner systems (403 elsewhere)."""
    if request.endpoint in PUBLIC_ENDPOINTS:
        return
    actor = authenticate()
    if actor.is_client and request.endpoint not in CLIENT_ENDPOINTS:
        raise Problem(
            403,
            "client_not_allowed",
            "A partner system (client credentials) may only submit signals; reading case "
            "views and the audit log needs a person's token.",
        )


def current_actor() -> Actor:
    actor: Actor = g.actor
    return actor


def json_body() -> Any:
    try:
        body = request.get_json(force=True, silent=True)
    except RecursionError:  # nested deeper than the JSON parser goes
        body = None
    if body is None:
        raise Problem(400, "malformed_json", "The body is not valid JSON (send application/json).")
    return body


def purpose_arg() -> str:
    purpose = request.args.get("purpose") or request.headers.get("X-Purpose")
    if not purpose:
        raise Problem(
            403,
            "purpose_missing",
            "Every read names its purpose: add ?purpose= (or the X-Purpose header).",
            purposes=sorted(runtime().convenant.purposes),
        )
    if not NAME.match(purpose):
        raise Problem(403, "purpose_unknown", "The purpose is not a purpose of the convenant.")
    return purpose


def request_context(purpose: str | None) -> Context:
    actor = current_actor()
    role = None
    g.purpose = purpose
    if purpose is not None:
        asked = request.args.get("role")
        role = choose_role(runtime().convenant, actor, purpose, asked)
    g.role = role
    return Context(actor, request_id(), source_address(), role=role, purpose=purpose)


def int_arg(name: str, default: int, lo: int, hi: int) -> int:
    raw = request.args.get(name)
    if raw is None:
        return default
    if not raw.isdigit() or not lo <= int(raw) <= hi:
        raise Problem(400, "bad_parameter", f"{name} must be a whole number from {lo} to {hi}.")
    return int(raw)


def case_id_arg(case_id: str) -> str:
    if not CASE_ID.match(case_id):
        raise Problem(404, "case_not_found", "There is no case with this id.")
    return case_id
