"""Who acts: the Actor behind a valid access token, as the database knows it now (a person of a
party through a client, or a partner system), and the token validators that resolve it, for the
broker's own tokens and an external issuer's.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from authlib.oauth2.rfc6750 import BearerTokenValidator
from authlib.oauth2.rfc6750.errors import InvalidTokenError
from sqlalchemy import String, bindparam, select
from sqlalchemy.orm import Session

from broker.storage.models import OAuthClient, Person

from .external import ExternalIssuer, ExternalTokenClaims, ExternalTokenValidator, peek_issuer
from .tokens import AccessTokenClaims, AccessTokenValidator, TokenService

__all__ = [
    "OPERATOR_CLIENT",
    "SYSTEM_ROLE",
    "Actor",
    "BrokerTokenValidator",
    "ExternalPersonValidator",
    "IssuerRouter",
    "resolve_actor",
    "resolve_external_actor",
]


_SHORT_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$")  # an id fit for the audit log
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


def _no_access(reason: str) -> InvalidTokenError:
    return InvalidTokenError(description=reason, realm="multiteam-broker")


def _issued_before(claims: dict[str, Any], moment: dt.datetime | None) -> bool:
    """Whether the token was issued before `moment` (when its person or client was last
    disabled). `iat` counts whole seconds, so a token of the very second of the disable is
    taken to be from before it (fail closed: a token asked for a second later works)."""
    if moment is None:
        return False
    iat = claims.get("iat")
    if isinstance(iat, bool) or not isinstance(iat, (int, float)) or not math.isfinite(iat):
        return True  # the validators require a numeric iat; without one, refuse
    return iat < math.floor(moment.timestamp()) + 1


def resolve_actor(session: Session, claims: dict[str, Any]) -> Actor:
    """The actor behind valid claims, as the database knows it now (roles and party too).

    A token whose `sub` is its `client_id` is a client-credentials token: its client must
    exist, be enabled and still hold that grant. Any other token is a person's: the person
    must exist and be enabled, and so must its client (unless an operator issued it).
    The token must be issued (`iat`) after its client and person were last disabled: enabling
    them again does not revive the tokens they had.
    InvalidTokenError otherwise; this runs on every request, so disabling ends access at once.
    """
    subject, client_id, jti = claims["sub"], claims["client_id"], str(claims["jti"])
    if not isinstance(client_id, str):
        raise _no_access("the token has no valid client_id")
    if subject == client_id:
        client = session.scalar(select(OAuthClient).where(OAuthClient.client_id == client_id))
        if client is None or client.disabled or "client_credentials" not in client.grant_types:
            raise _no_access("the client of this token has no access (unknown or disabled)")
        if _issued_before(claims, client.disabled_at):
            raise _no_access(_BEFORE_DISABLE.format("client"))
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
    # A person's token, on every request: person and client in one prebuilt Core query
    row = (
        session.connection()
        .execute(_PERSON_AND_CLIENT, {"username": subject, "client_id": client_id})
        .one_or_none()
    )
    operator = client_id == OPERATOR_CLIENT
    client_ok = operator or (
        row.client_disabled is False if row is not None else _client_enabled(session, client_id)
    )
    if not client_ok:
        raise _no_access("the client of this token has no access (unknown or disabled)")
    if row is None or row.disabled:
        raise _no_access("the person of this token has no access (unknown or disabled)")
    if not operator and _issued_before(claims, row.client_disabled_at):
        raise _no_access(_BEFORE_DISABLE.format("client"))
    if _issued_before(claims, row.disabled_at):
        raise _no_access(_BEFORE_DISABLE.format("person"))
    return Actor(
        person_id=row.id,
        username=row.username,
        name=row.name,
        party=row.party,
        roles=tuple(row.roles),
        client_id=client_id,
        token_id=jti,
    )


_BEFORE_DISABLE = "the token was issued before its {} was last disabled (iat)"


# The person of a token, whether its client is disabled (NULL: no such client), and when the
# person and the client were last disabled
_PERSON_AND_CLIENT = (
    select(
        Person.id,
        Person.username,
        Person.name,
        Person.party,
        Person.roles,
        Person.disabled,
        Person.disabled_at,
        OAuthClient.disabled.label("client_disabled"),
        OAuthClient.disabled_at.label("client_disabled_at"),
    )
    .select_from(Person)
    .outerjoin(OAuthClient, OAuthClient.client_id == bindparam("client_id", type_=String()))
    .where(Person.username == bindparam("username"))
)


def _client_enabled(session: Session, client_id: str) -> bool:
    """Whether an enabled client with this id exists (to name the right refusal)."""
    found = session.scalar(select(OAuthClient.disabled).where(OAuthClient.client_id == client_id))
    return found is False


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


def resolve_external_actor(
    session: Session, issuer: ExternalIssuer, claims: dict[str, Any], token_id: str
) -> Actor:
    """The person behind an external issuer's valid claims, as the broker knows it now.

    The mapped username must be a known, enabled person of the broker whose party is the
    token's mapped party; the roles are those the token and the person both hold. The broker
    stays the authority on who is active: this runs on every request, so disabling a person
    ends access at once, whatever the issuer says, and a token issued before the person was
    last disabled stays refused when the person is enabled again.
    """
    mapping = issuer.claims
    username, party = mapping.username_of(claims), mapping.party_of(claims)
    if username is None or party is None:
        raise _no_access("the token does not name a person and a party")
    person = session.execute(_EXTERNAL_PERSON, {"username": username}).one_or_none()
    if person is None or person.disabled or person.party != party:
        raise _no_access(
            "the person of this token has no access (unknown, disabled or other party)"
        )
    if _issued_before(claims, person.disabled_at):
        raise _no_access(_BEFORE_DISABLE.format("person"))
    granted = set(mapping.roles_of(claims))
    client = claims.get("client_id") or claims.get("azp")
    return Actor(
        person_id=person.id,
        username=person.username,
        name=person.name,
        party=person.party,
        roles=tuple(r for r in person.roles if r in granted),
        client_id=f"external:{client}" if _is_short_name(client) else "external",
        token_id=token_id,
    )


_EXTERNAL_PERSON = select(
    Person.id,
    Person.username,
    Person.name,
    Person.party,
    Person.roles,
    Person.disabled,
    Person.disabled_at,
).where(Person.username == bindparam("username"))


def _is_short_name(value: Any) -> bool:
    return isinstance(value, str) and _SHORT_NAME.match(value) is not None


class ExternalPersonValidator(ExternalTokenValidator):
    """An external issuer's strict validator, plus: the token stands for a person of the broker."""

    def __init__(self, issuer: ExternalIssuer, session: Callable[[], Session]):
        super().__init__(issuer)
        self._session = session

    def validate_token(
        self, token: ExternalTokenClaims, scopes: Any, request: Any, **kwargs: Any
    ) -> None:
        super().validate_token(token, scopes, request, **kwargs)
        jti = token.get("jti")
        token_id = jti if isinstance(jti, str) and _is_short_name(jti) else "external"
        token.actor = resolve_external_actor(self._session(), self.external, token, token_id)


class IssuerRouter(BearerTokenValidator):  # type: ignore[misc]
    """Sends each bearer token to the validator of the issuer it names (`iss`, read unverified
    only to choose): the external issuer's, else the broker's own, which verifies everything."""

    def __init__(self, own: BrokerTokenValidator, external: ExternalPersonValidator | None):
        super().__init__(realm="multiteam-broker")
        self.own, self.external = own, external

    def authenticate_token(self, token_string: str) -> AccessTokenClaims | ExternalTokenClaims:
        external = self.external
        if external is not None and peek_issuer(token_string) == external.external.issuer:
            return external.authenticate_token(token_string)
        return self.own.authenticate_token(token_string)

    def validate_token(self, token: Any, scopes: Any, request: Any, **kwargs: Any) -> None:
        if isinstance(token, ExternalTokenClaims):
            assert self.external is not None
            self.external.validate_token(token, scopes, request, **kwargs)
        else:
            self.own.validate_token(token, scopes, request, **kwargs)
