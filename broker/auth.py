"""Who is asking: bearer tokens checked by Authlib's resource protector, and the role a
request acts in."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from authlib.integrations.flask_oauth2 import ResourceProtector
from authlib.oauth2 import OAuth2Error
from authlib.oauth2.rfc6749.errors import MissingAuthorizationError, UnsupportedTokenTypeError
from authlib.oauth2.rfc6750.errors import InsufficientScopeError, InvalidTokenError
from flask import Flask, current_app, g, request
from sqlalchemy import select
from sqlalchemy.orm import Session

import policies

from .models import OAuthClient, Person
from .problems import Problem
from .runtime import Runtime, db_session
from .tokens import AccessTokenClaims, AccessTokenValidator, TokenService

__all__ = [
    "OPERATOR_CLIENT",
    "SYSTEM_ROLE",
    "Actor",
    "BrokerTokenValidator",
    "authenticate",
    "choose_role",
    "init_app",
    "request_id",
    "source_address",
]

_REQUEST_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$")
OPERATOR_CLIENT = "broker-cli"  # the client_id of tokens from `broker token`
SYSTEM_ROLE = "system"  # the role of a partner system (client credentials)


@dataclass(frozen=True, slots=True)
class Actor:
    """Who acts: a person of a party, through a client (`kind` "person"), or a partner
    system acting for its own party (`kind` "client": `username` is then the client id and
    `person_id` is None)."""

    person_id: int | None
    username: str
    name: str
    party: str
    roles: tuple[str, ...]
    client_id: str
    token_id: str
    kind: Literal["person", "client"] = "person"

    @property
    def is_client(self) -> bool:
        """Whether a partner system (client credentials) acts, not a person."""
        return self.kind == "client"


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


def _no_access(reason: str) -> InvalidTokenError:
    return InvalidTokenError(description=reason, realm="multiteam-broker")


def resolve_actor(session: Session, claims: dict[str, Any]) -> Actor:
    """The actor behind valid claims, as the database knows it now (roles and party too).

    A token whose `sub` is its `client_id` is a client-credentials token: its client must
    exist, be enabled and still hold that grant. Any other token is a person's: the person
    must exist and be enabled, and so must its client (unless an operator issued it).
    InvalidTokenError otherwise; this runs on every request, so disabling ends access at once.
    """
    subject, client_id, jti = claims["sub"], claims["client_id"], str(claims["jti"])
    if not isinstance(client_id, str):
        raise _no_access("the token has no valid client_id")
    client = None
    if client_id != OPERATOR_CLIENT:
        client = session.scalar(select(OAuthClient).where(OAuthClient.client_id == client_id))
        if client is None or client.disabled:
            raise _no_access("the client of this token has no access (unknown or disabled)")
    if subject == client_id:
        if client is None or "client_credentials" not in client.grant_types:
            raise _no_access("the client of this token has no access (unknown or disabled)")
        return Actor(
            person_id=None,
            username=client.client_id,
            name=client.name,
            party=client.party,
            roles=(SYSTEM_ROLE,),
            client_id=client.client_id,
            token_id=jti,
            kind="client",
        )
    person = session.execute(
        select(
            Person.id, Person.username, Person.name, Person.party, Person.roles, Person.disabled
        ).where(Person.username == subject)
    ).one_or_none()  # columns, not an ORM object: this runs on every request
    if person is None or person.disabled:
        raise _no_access("the person of this token has no access (unknown or disabled)")
    return Actor(
        person_id=person.id,
        username=person.username,
        name=person.name,
        party=person.party,
        roles=tuple(person.roles),
        client_id=client_id,
        token_id=jti,
    )


class BrokerTokenValidator(AccessTokenValidator):
    """The strict RFC 9068 validator, plus: the token's person or client still has access."""

    def __init__(self, service: Callable[[], TokenService], session: Callable[[], Session]):
        super().__init__(service)
        self._session = session

    def validate_token(
        self, token: AccessTokenClaims, scopes: Any, request: Any, **kwargs: Any
    ) -> None:
        super().validate_token(token, scopes, request, **kwargs)
        token.actor = resolve_actor(self._session(), token)


def init_app(app: Flask) -> None:
    """Bind a resource protector with the broker's token validator to the app."""
    rt: Runtime = app.extensions["broker"]
    protector = ResourceProtector()
    protector.register_token_validator(BrokerTokenValidator(lambda: rt.tokens, db_session))
    app.extensions["broker.protector"] = protector


def authenticate() -> Actor:
    """The actor behind the request's bearer token; 401 Problem when there is none or it fails."""
    protector: ResourceProtector = current_app.extensions["broker.protector"]
    try:
        token = protector.acquire_token()
    except (MissingAuthorizationError, UnsupportedTokenTypeError):
        raise Problem(
            401, "missing_token", "This resource needs a bearer token (Authorization: Bearer …)."
        ) from None
    except InsufficientScopeError:
        raise Problem(
            403, "insufficient_scope", "The token does not carry the scope this resource needs."
        ) from None
    except InvalidTokenError as exc:
        raise Problem(401, "invalid_token", exc.description or "The token is not valid.") from None
    except OAuth2Error:
        raise Problem(401, "invalid_token", "The token is not valid.") from None
    actor: Actor = token.actor
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
