"""What every JSON endpoint shares: the caller authenticated by bearer token (a partner system only
where partner systems may go), the body read as JSON (application/json only, nested at most
MAX_DEPTH deep), the purpose (doelbinding) and role the request acts in, and the parameters
every endpoint declares the same way (`broker.api.declare.Param`) — each refusal a problem+json
that names the parameter.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from flask import g, request

import policies
from broker.core.auth import authenticate, choose_role, request_id, source_address
from broker.core.context import Context
from broker.core.problems import Problem
from broker.core.runtime import Runtime, runtime
from broker.identity.actors import Actor

from .declare import Param

__all__ = [
    "CASE_ID",
    "CLIENT_ENDPOINTS",
    "MAX_DEPTH",
    "PAGE",
    "PER_PAGE",
    "PUBLIC_ENDPOINTS",
    "ROLE",
    "PurposeParam",
    "authenticate_request",
    "current_actor",
    "json_body",
]


NAME = re.compile(r"^[a-z][a-z0-9_]{0,63}$")


PUBLIC_ENDPOINTS = {"api.openapi"}


# What a partner system (client credentials) may do: submit signals. Never read.
CLIENT_ENDPOINTS = {"api.signals_create"}


# How deep a JSON body may nest: deeper than any body the API takes (a signal is three deep),
# and far from where copying or checking it would run out of stack.
MAX_DEPTH = 32


def _readable(rt: Runtime) -> list[str]:
    """The purposes that show case content (the reads name one of them)."""
    return [n for n, p in rt.convenant.purposes.items() if p.view is not policies.View.NONE]


@dataclass(frozen=True)
class PurposeParam(Param):
    """The purpose (doelbinding): ?purpose= or the X-Purpose header; 403 when it is missing
    (and required), not a name, or — for an endpoint that serves `only` the purposes of
    `enum` — another purpose; the role's check says which purposes the caller may use."""

    only: bool = False

    def read(self) -> Any:
        purpose = request.args.get("purpose") or request.headers.get("X-Purpose")
        rt = runtime()
        if not purpose:
            if self.required:
                raise Problem(
                    403,
                    "purpose_missing",
                    "Every read names its purpose: add ?purpose= (or the X-Purpose header).",
                    purposes=sorted(rt.convenant.purposes),
                )
            return self.default
        if not NAME.match(purpose):
            raise Problem(403, "purpose_unknown", "The purpose is not a purpose of the convenant.")
        names = self.names(rt) or []
        if self.only and purpose in rt.convenant.purposes and purpose not in names:
            raise Problem(
                403,
                "purpose_not_for_endpoint",
                f"This endpoint serves the purposes {', '.join(names)} only.",
            )
        return purpose


PURPOSE = PurposeParam(
    "purpose",
    required=True,
    enum=_readable,
    description="The purpose of the read (doelbinding); also accepted as X-Purpose.",
)


def write_purpose(default: str) -> PurposeParam:
    """The purpose a change serves, `default` when none is named."""
    return PurposeParam(
        "purpose",
        default=default,
        enum=_readable,
        description=f"The purpose the change serves (doelbinding); also X-Purpose. "
        f"Default: {default}.",
    )


ROLE = Param(
    "role",
    enum=lambda rt: list(rt.convenant.roles),
    description="The role to act in, when the person holds several.",
)
PAGE = Param("page", "integer", default=1, minimum=1, maximum=100_000)
PER_PAGE = Param("per_page", "integer", default=20, minimum=1, maximum=100)
CASE_ID = Param(
    "case_id",
    where="path",
    pattern="case-[0-9a-f]{32}",
    status=404,
    code="case_not_found",
    description="The case's id",
)


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


def json_body(required: bool = True) -> Any:
    """The body as JSON: 415 unless it is application/json, 400 when it is not JSON or nests
    deeper than MAX_DEPTH (None: no body, where none is required)."""
    raw = request.get_data(cache=True)
    if not raw and not required:
        return None
    if request.mimetype != "application/json":
        raise Problem(
            415,
            "unsupported_media_type",
            "Send the body as application/json.",
            errors=[{"field": "Content-Type", "problem": "must be application/json"}],
        )
    if _nesting(raw) > MAX_DEPTH:  # counted before parsing: the parser recurses too
        raise Problem(
            400,
            "body_too_deep",
            f"The body nests deeper than {MAX_DEPTH} levels; nothing was stored.",
        )
    body = request.get_json(silent=True)
    if body is None:
        raise Problem(400, "malformed_json", "The body is not valid JSON (send application/json).")
    return body


_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"')
_BRACKET = re.compile(rb"[\[\]{}]")


def _nesting(raw: bytes) -> int:
    """How deep arrays and objects nest in the JSON text `raw` (strings skipped; stops
    counting past MAX_DEPTH)."""
    depth = deepest = 0
    for found in _BRACKET.finditer(_STRING.sub(b"", raw)):
        depth += 1 if found.group() in (b"[", b"{") else -1
        deepest = max(deepest, depth)
        if deepest > MAX_DEPTH:
            break
    return deepest


def request_context(purpose: str | None) -> Context:
    """The acting context: the caller, in the role asked (?role=) or its role for `purpose`."""
    actor = current_actor()
    role = None
    g.purpose = purpose
    if purpose is not None:
        role = choose_role(runtime().convenant, actor, purpose, ROLE.read())
    g.role = role
    return Context(actor, request_id(), source_address(), role=role, purpose=purpose)
