"""What Authlib asks of the broker: clients and authorization codes as snapshots of their rows, the
authorization code grant (PKCE with S256 required) and the client credentials grant, and the
token generator that issues the broker's RFC 9068 access tokens and audits every issue.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from dataclasses import dataclass
from typing import Any, ClassVar

from authlib.oauth2.rfc6749 import ClientMixin, grants
from authlib.oauth2.rfc6749.errors import InvalidRequestError
from authlib.oauth2.rfc6749.models import AuthorizationCodeMixin
from authlib.oauth2.rfc6750 import BearerTokenGenerator
from authlib.oauth2.rfc7636 import CodeChallenge
from flask import (
    g,
)
from sqlalchemy import delete, select, update

from audit import AuditEntry
from broker.core.auth import request_id, source_address
from broker.core.context import Context, audit_and_commit
from broker.core.runtime import Runtime, db_session, runtime
from broker.identity.actors import SYSTEM_ROLE
from broker.identity.passwords import verify_secret
from broker.storage.models import AuthorizationCode, OAuthClient, Person, utcnow

__all__ = [
    "AUTHORIZATION_CODE_TTL",
    "GRANTS",
    "AuthorizationCodeGrant",
    "BrokerTokenGenerator",
    "Client",
    "ClientCredentialsGrant",
    "Code",
    "RequiredS256",
    "query_client",
    "save_token",
]


AUTHORIZATION_CODE_TTL = 120  # seconds


CLIENT_ID = re.compile(r"^[a-z][a-z0-9._-]{1,63}$")


GRANTS = ("authorization_code", "client_credentials")


@dataclass(frozen=True)
class Client(ClientMixin):  # type: ignore[misc]
    """A registered client as Authlib sees it (a snapshot of its row)."""

    client_id: str
    name: str
    party: str
    secret_hash: str | None
    grant_types: tuple[str, ...]
    redirect_uris: tuple[str, ...]
    scopes: tuple[str, ...]

    @classmethod
    def from_row(cls, row: OAuthClient) -> Client:
        return cls(
            row.client_id,
            row.name,
            row.party,
            row.secret_hash,
            tuple(row.grant_types),
            tuple(row.redirect_uris),
            tuple(row.scopes),
        )

    @property
    def is_public(self) -> bool:
        """Whether the client has no secret (it proves itself with PKCE alone)."""
        return self.secret_hash is None

    def get_client_id(self) -> str:
        return self.client_id

    def get_default_redirect_uri(self) -> str | None:
        return self.redirect_uris[0] if len(self.redirect_uris) == 1 else None

    def get_allowed_scope(self, scope: str | None) -> str:
        if not scope:
            return ""
        return " ".join(s for s in dict.fromkeys(scope.split()) if s in self.scopes)

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        return redirect_uri in self.redirect_uris

    def check_client_secret(self, client_secret: str) -> bool:
        return verify_secret(client_secret, self.secret_hash)

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        if endpoint != "token":
            return True
        if self.is_public:
            return method == "none"
        return method in ("client_secret_basic", "client_secret_post")

    def check_response_type(self, response_type: str) -> bool:
        return response_type == "code" and "authorization_code" in self.grant_types

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type in self.grant_types


@dataclass(frozen=True)
class Code(AuthorizationCodeMixin):  # type: ignore[misc]
    """An authorization code claimed for one exchange."""

    client_id: str
    person_id: int
    redirect_uri: str
    scope: str
    code_challenge: str
    code_challenge_method: str

    def get_redirect_uri(self) -> str:
        return self.redirect_uri

    def get_scope(self) -> str:
        return self.scope


def _code_hash(code: str) -> str:
    return hashlib.sha256(code.encode()).hexdigest()


def query_client(client_id: Any) -> Client | None:
    """The enabled client with this id (None for unknown, disabled or malformed ids)."""
    if not isinstance(client_id, str) or not CLIENT_ID.match(client_id):
        return None
    row = db_session().scalar(select(OAuthClient).where(OAuthClient.client_id == client_id))
    if row is None or row.disabled:
        return None
    g.oauth_client = row.client_id  # for the audit record of a refused request
    return Client.from_row(row)


class AuthorizationCodeGrant(grants.AuthorizationCodeGrant):  # type: ignore[misc]
    """Authorization code for persons; the code is stored hashed and used at most once."""

    TOKEN_ENDPOINT_AUTH_METHODS: ClassVar[list[str]] = [
        "client_secret_basic",
        "client_secret_post",
        "none",
    ]

    def save_authorization_code(self, code: str, request: Any) -> None:
        person: Person = request.user
        now = utcnow()
        data = request.payload.data
        s = db_session()
        s.execute(
            delete(AuthorizationCode).where(
                AuthorizationCode.expires_at < now - dt.timedelta(days=1)
            )
        )
        s.add(
            AuthorizationCode(
                code_hash=_code_hash(code),
                client_id=request.client.client_id,
                person_id=person.id,
                redirect_uri=request.payload.redirect_uri or "",
                scope=request.scope or "",
                code_challenge=data["code_challenge"],
                code_challenge_method=data["code_challenge_method"],
                created_at=now,
                expires_at=now + dt.timedelta(seconds=AUTHORIZATION_CODE_TTL),
            )
        )

    def query_authorization_code(self, code: str, client: Client) -> Code | None:
        """Claim the code for this exchange: unused, unexpired and the client's own.

        The claim commits with the token's audit record; a refused exchange rolls it back.
        Of two exchanges of one code at the same time, only one can claim it.
        """
        s = db_session()
        row = s.scalar(
            select(AuthorizationCode).where(AuthorizationCode.code_hash == _code_hash(code))
        )
        if row is None or row.client_id != client.client_id:
            return None
        g.oauth_person = row.person_id
        now = utcnow()
        if row.used_at is not None:
            g.oauth_refusal = "code_reused"
            return None
        if row.expires_at <= now:
            g.oauth_refusal = "code_expired"
            return None
        claimed = s.execute(
            update(AuthorizationCode)
            .where(AuthorizationCode.id == row.id, AuthorizationCode.used_at.is_(None))
            .values(used_at=now)
        )
        if claimed.rowcount != 1:  # type: ignore[attr-defined]
            g.oauth_refusal = "code_reused"
            return None
        return Code(
            row.client_id,
            row.person_id,
            row.redirect_uri,
            row.scope,
            row.code_challenge,
            row.code_challenge_method,
        )

    def delete_authorization_code(self, authorization_code: Code) -> None:
        """Nothing to do: the code was marked used when it was claimed."""

    def authenticate_user(self, authorization_code: Code) -> Person | None:
        person = db_session().get(Person, authorization_code.person_id)
        return person if person is not None and not person.disabled else None


class ClientCredentialsGrant(grants.ClientCredentialsGrant):  # type: ignore[misc]
    """Client credentials for partner systems (confidential clients only)."""

    TOKEN_ENDPOINT_AUTH_METHODS: ClassVar[list[str]] = ["client_secret_basic", "client_secret_post"]


class RequiredS256(CodeChallenge):  # type: ignore[misc]
    """PKCE is required for every authorization request, and only with S256."""

    SUPPORTED_CODE_CHALLENGE_METHOD: ClassVar[list[str]] = ["S256"]

    def validate_code_challenge(self, grant: Any, redirect_uri: Any) -> None:
        data = grant.request.payload.data
        if not data.get("code_challenge"):
            raise InvalidRequestError("PKCE is required: send code_challenge (S256).")
        if data.get("code_challenge_method") != "S256":
            raise InvalidRequestError("code_challenge_method must be S256.")
        super().validate_code_challenge(grant, redirect_uri)


class BrokerTokenGenerator(BearerTokenGenerator):  # type: ignore[misc]
    """Issues the broker's own RFC 9068 tokens (`TokenService`) for Authlib's grants."""

    def __init__(self, rt: Runtime) -> None:
        super().__init__(self._access_token, None, self._expires_in)
        self._rt = rt

    def _expires_in(self, client: Client, grant_type: str) -> int:
        return self._rt.tokens.ttl

    def _access_token(
        self, client: Client, grant_type: str, user: Person | None, scope: str | None
    ) -> str:
        tokens = self._rt.tokens
        if user is None:
            token, claims = tokens.issue(
                subject=client.client_id,
                party=client.party,
                roles=[SYSTEM_ROLE],
                name=client.name,
                client_id=client.client_id,
                scope=scope,
            )
        else:
            token, claims = tokens.issue(
                subject=user.username,
                party=user.party,
                roles=list(user.roles),
                name=user.name,
                client_id=client.client_id,
                scope=scope,
            )
        g.oauth_issued = claims
        return token


def audit_entry(event: str, outcome: str, **fields: Any) -> AuditEntry:
    rt = runtime()
    ctx = Context(None, request_id(), source_address())
    return ctx.entry(event, "execute", outcome, convenant_hash=rt.convenant.hash, **fields)


def save_token(token: dict[str, Any], oauth_request: Any) -> None:
    """Audit the issue in the request's transaction and commit it (with the code's claim);
    503 and no token when the audit record cannot be written."""
    claims = g.pop("oauth_issued")
    client: Client = oauth_request.client
    user: Person | None = oauth_request.user
    grant_type = oauth_request.payload.grant_type
    entry = audit_entry(
        "token.issue",
        "success",
        person_id=user.username if user else None,
        person_name=user.name if user else None,
        party=user.party if user else client.party,
        client_id=client.client_id,
        detail={
            "jti": claims["jti"],
            "expires": claims["exp"],
            "grant_type": grant_type,
            "issued_by": "oauth",
        },
    )
    audit_and_commit(db_session(), runtime(), [entry])
