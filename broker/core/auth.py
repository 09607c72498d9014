"""Who is asking: bearer tokens checked by Authlib's resource protector, and the role a
request acts in."""

from __future__ import annotations

import re
import uuid

from authlib.integrations.flask_oauth2 import ResourceProtector
from authlib.oauth2 import OAuth2Error
from authlib.oauth2.rfc6749.errors import MissingAuthorizationError, UnsupportedTokenTypeError
from authlib.oauth2.rfc6750.errors import InsufficientScopeError, InvalidTokenError
from flask import Flask, current_app, g, request

import policies
from broker.identity.actors import (
    Actor,
    BrokerTokenValidator,
    ExternalPersonValidator,
    IssuerRouter,
)
from broker.identity.external import ExternalIssuer

from .problems import Problem
from .runtime import Runtime, db_session

__all__ = [
    "authenticate",
    "choose_role",
    "init_app",
    "request_id",
    "source_address",
]

_REQUEST_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$")


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


def init_app(app: Flask) -> None:
    """Bind a resource protector to the app: the broker's own tokens, and those of the external
    issuer when EXTERNAL_ISSUER is configured."""
    rt: Runtime = app.extensions["broker"]
    own = BrokerTokenValidator(lambda: rt.tokens, db_session)
    issuer = ExternalIssuer.from_config(app.config, own_issuer=app.config.get("ISSUER"))
    external = ExternalPersonValidator(issuer, db_session) if issuer is not None else None
    protector = ResourceProtector()
    protector.register_token_validator(IssuerRouter(own, external))
    app.extensions["broker.protector"] = protector
    app.extensions["broker.external_issuer"] = issuer


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
