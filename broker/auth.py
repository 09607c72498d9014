"""Who is asking: bearer-token authentication, and the role a request acts in."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass

from flask import g, request
from sqlalchemy import select
from sqlalchemy.orm import Session

import policies

from .models import Person
from .problems import Problem
from .runtime import Runtime
from .tokens import TokenError

__all__ = ["Actor", "authenticate", "choose_role", "request_id", "source_address"]

_REQUEST_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$")


@dataclass(frozen=True, slots=True)
class Actor:
    """An authenticated person acting for a party, from a client."""

    person_id: int
    username: str
    name: str
    party: str
    roles: tuple[str, ...]
    client_id: str
    token_id: str


def request_id() -> str:
    """The request's id: the caller's X-Request-ID when well-formed, else a new one."""
    if "request_id" not in g:
        given = request.headers.get("X-Request-ID", "")
        g.request_id = given if _REQUEST_ID.match(given) else uuid.uuid4().hex
    rid: str = g.request_id
    return rid


def source_address() -> str | None:
    """The client's address as the server saw it."""
    return request.remote_addr


def authenticate(session: Session, rt: Runtime) -> Actor:
    """The actor behind the request's bearer token; 401 Problem when there is none or it fails."""
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Problem(
            401, "missing_token", "This resource needs a bearer token (Authorization: Bearer …)."
        )
    try:
        claims = rt.tokens.verify(token.strip())
    except TokenError as exc:
        raise Problem(401, "invalid_token", exc.reason) from None
    person = session.scalar(select(Person).where(Person.username == claims["sub"]))
    if person is None or person.disabled:
        raise Problem(
            401, "invalid_token", "The person of this token has no access (unknown or disabled)."
        )
    actor = Actor(
        person_id=person.id,
        username=person.username,
        name=person.name,
        party=person.party,
        roles=tuple(person.roles),
        client_id=str(claims.get("client_id") or "unknown"),
        token_id=str(claims.get("jti")),
    )
    g.actor = actor
    return actor


def choose_role(c: policies.Convenant, actor: Actor, purpose: str, asked: str | None = None) -> str:
    """The role the request acts in: the one asked for, or the actor's role for the purpose.

    403 naming the purpose when the purpose is unknown or none of the actor's roles may use it.
    """
    if purpose not in c.purposes:
        raise Problem(
            403,
            "purpose_unknown",
            f"The purpose {purpose!r} is not a purpose of the convenant.",
            purposes=sorted(c.purposes),
        )
    allowed = c.purposes[purpose].roles
    if asked is not None:
        if asked not in actor.roles:
            raise Problem(403, "role_not_held", f"You do not hold the role {asked!r}.")
        if asked not in allowed:
            raise Problem(
                403,
                "purpose_not_for_role",
                f"The role {asked!r} may not use the purpose {purpose!r} (doelbinding).",
            )
        return asked
    for role in actor.roles:
        if role in allowed and actor.party in c.roles[role].parties:
            return role
    raise Problem(
        403,
        "purpose_not_for_role",
        f"None of your roles ({', '.join(actor.roles)}) may use the purpose "
        f"{purpose!r} (doelbinding).",
        allowed_roles=sorted(allowed),
    )
