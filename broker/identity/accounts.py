"""Persons and OAuth clients: created, changed and listed by operators (session passed in).

Usernames and client ids share one namespace: a client-credentials token names its client in
`sub` (RFC 9068 §2.2), so no person may carry a client's id, nor a client a person's name.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from urllib.parse import urlsplit

from authlib.common.security import is_secure_transport
from sqlalchemy import select
from sqlalchemy.orm import Session

import policies
from broker.storage.models import OAuthClient, Person, utcnow

from .actors import OPERATOR_CLIENT, SYSTEM_ROLE
from .passwords import MIN_PASSWORD_LENGTH, hash_password, hash_secret, new_secret
from .totp import new_secret as new_totp_secret

__all__ = [
    "GRANT_TYPES",
    "MAX_PASSWORD_LENGTH",
    "SECOND_FACTOR_ROLES",
    "AccountError",
    "add_client",
    "add_person",
    "check_password",
    "enroll_totp",
    "find_client",
    "find_person",
    "list_clients",
    "list_persons",
    "needs_second_factor",
    "rotate_client_secret",
    "set_client_disabled",
    "set_password",
    "set_person_disabled",
]

NAME = re.compile(r"^[a-z][a-z0-9._-]{1,63}$")
RESERVED = frozenset({OPERATOR_CLIENT, "broker-demo", SYSTEM_ROLE})
GRANT_TYPES = ("client_credentials", "authorization_code")
MAX_PASSWORD_LENGTH = 1024
# Roles that see the audit log or steer cases: their browser login needs a second factor
# (NEN 7513 asks two-factor access to the logs).
SECOND_FACTOR_ROLES = frozenset({"coordinator", "privacy_officer"})


class AccountError(Exception):
    """A refused change to a person or client: a stable `code` and a human `description`."""

    def __init__(self, code: str, description: str) -> None:
        super().__init__(description)
        self.code = code
        self.description = description


def _check_name(kind: str, value: str) -> None:
    if not NAME.match(value):
        raise AccountError(
            "invalid_name",
            f"a {kind} is 2-64 characters: a lower-case letter, then lower-case letters, "
            "digits, '.', '_' or '-'",
        )
    if value in RESERVED:
        raise AccountError("reserved_name", f"{value!r} is reserved")


def _check_free(session: Session, value: str) -> None:
    if find_person(session, value) is not None:
        raise AccountError("name_taken", f"there is already a person {value!r}")
    if find_client(session, value) is not None:
        raise AccountError("name_taken", f"there is already a client {value!r}")


def _check_party(c: policies.Convenant, party: str) -> None:
    if party not in c.parties:
        raise AccountError(
            "unknown_party", f"{party!r} is not a party of the convenant ({', '.join(c.parties)})"
        )


def check_password(password: str) -> None:
    """AccountError when `password` is too short or too long."""
    if not MIN_PASSWORD_LENGTH <= len(password) <= MAX_PASSWORD_LENGTH:
        raise AccountError(
            "weak_password",
            f"a password has {MIN_PASSWORD_LENGTH} to {MAX_PASSWORD_LENGTH} characters",
        )


def find_person(session: Session, username: str) -> Person | None:
    """The person with this username, if any."""
    return session.scalar(select(Person).where(Person.username == username))


def find_client(session: Session, client_id: str) -> OAuthClient | None:
    """The client with this id, if any."""
    return session.scalar(select(OAuthClient).where(OAuthClient.client_id == client_id))


def _person(session: Session, username: str) -> Person:
    person = find_person(session, username)
    if person is None:
        raise AccountError("unknown_person", f"there is no person {username!r}")
    return person


def _client(session: Session, client_id: str) -> OAuthClient:
    client = find_client(session, client_id)
    if client is None:
        raise AccountError("unknown_client", f"there is no client {client_id!r}")
    return client


def add_person(
    session: Session,
    c: policies.Convenant,
    *,
    username: str,
    name: str,
    party: str,
    roles: Sequence[str],
    password: str | None = None,
) -> Person:
    """A new person of `party` with `roles` (each a role of the convenant at that party)."""
    _check_name("username", username)
    _check_party(c, party)
    if not name.strip() or len(name) > 200 or not name.isprintable():
        raise AccountError("invalid_name", "the name is 1-200 printable characters")
    if not roles:
        raise AccountError("unknown_role", "a person has at least one role")
    for role in roles:
        if role not in c.roles or party not in c.roles[role].parties:
            at = [r for r, spec in c.roles.items() if party in spec.parties]
            raise AccountError(
                "unknown_role", f"{role!r} is not a role at {party} ({', '.join(at)})"
            )
    if password is not None:
        check_password(password)
    _check_free(session, username)
    person = Person(
        username=username,
        name=name.strip(),
        party=party,
        roles=list(dict.fromkeys(roles)),
        password_hash=hash_password(password) if password is not None else None,
    )
    session.add(person)
    session.flush()
    return person


def set_password(session: Session, username: str, password: str) -> Person:
    """Give the person a new password."""
    check_password(password)
    person = _person(session, username)
    person.password_hash = hash_password(password)
    return person


def set_person_disabled(session: Session, username: str, disabled: bool) -> Person:
    """Disable (or enable again) a person; a disabled person's tokens stop working at once.

    Disabling records when (`disabled_at`, kept when enabled again): the tokens issued before
    it stay refused, so enabling the person does not revive them.
    """
    person = _person(session, username)
    person.disabled = disabled
    if disabled:
        person.disabled_at = utcnow()
    return person


def enroll_totp(session: Session, username: str, *, replace: bool = False) -> tuple[Person, str]:
    """Give the person a new TOTP secret (returned once) and forget the last used step.

    An enrolled person is refused unless `replace`: a new secret locks out the old app.
    """
    person = _person(session, username)
    if person.totp_secret is not None and not replace:
        raise AccountError(
            "already_enrolled", f"{username!r} already has a second factor (use --replace)"
        )
    secret = new_totp_secret()
    person.totp_secret = secret
    person.totp_last_step = None
    return person, secret


def needs_second_factor(person: Person) -> bool:
    """Whether the person's browser login asks a TOTP code: their role requires one, or they
    enrolled anyway."""
    return person.totp_secret is not None or not SECOND_FACTOR_ROLES.isdisjoint(person.roles)


def list_persons(session: Session) -> list[Person]:
    """Every person, by party and username."""
    return list(session.scalars(select(Person).order_by(Person.party, Person.username)))


def _check_redirect_uri(uri: str) -> None:
    parts = urlsplit(uri)
    if (
        len(uri) > 500
        or not parts.netloc
        or parts.fragment
        or parts.scheme not in ("https", "http")
        or not is_secure_transport(uri)
    ):
        raise AccountError(
            "invalid_redirect_uri",
            "a redirect URI is an absolute https URL without a fragment "
            "(http only for a loopback address)",
        )


def add_client(
    session: Session,
    c: policies.Convenant,
    *,
    client_id: str,
    name: str,
    party: str,
    grant_types: Sequence[str] = ("client_credentials",),
    redirect_uris: Sequence[str] = (),
    scopes: Sequence[str] = (),
    public: bool = False,
) -> tuple[OAuthClient, str | None]:
    """A new client of `party` and its secret (None for a public client: PKCE only).

    The secret is returned once and stored only as a hash.
    """
    _check_name("client id", client_id)
    _check_party(c, party)
    if not name.strip() or len(name) > 200 or not name.isprintable():
        raise AccountError("invalid_name", "the name is 1-200 printable characters")
    grants = list(dict.fromkeys(grant_types))
    if not grants or any(g not in GRANT_TYPES for g in grants):
        raise AccountError("invalid_grant_type", f"grant types are {', '.join(GRANT_TYPES)}")
    if public and "client_credentials" in grants:
        raise AccountError(
            "invalid_grant_type", "client credentials need a confidential client (a secret)"
        )
    uris = list(dict.fromkeys(redirect_uris))
    if "authorization_code" in grants and not uris:
        raise AccountError("invalid_redirect_uri", "authorization code needs a redirect URI")
    if uris and "authorization_code" not in grants:
        raise AccountError("invalid_redirect_uri", "redirect URIs are only for authorization code")
    for uri in uris:
        _check_redirect_uri(uri)
    for scope in scopes:
        if not re.fullmatch(r"[a-z][a-z0-9:._-]{0,63}", scope):
            raise AccountError("invalid_scope", f"{scope!r} is not a valid scope name")
    _check_free(session, client_id)
    secret = None if public else new_secret()
    client = OAuthClient(
        client_id=client_id,
        secret_hash=hash_secret(secret) if secret is not None else None,
        name=name.strip(),
        party=party,
        grant_types=grants,
        redirect_uris=uris,
        scopes=list(dict.fromkeys(scopes)),
        secret_changed_at=utcnow() if secret is not None else None,
    )
    session.add(client)
    session.flush()
    return client, secret


def rotate_client_secret(session: Session, client_id: str) -> tuple[OAuthClient, str]:
    """A new secret for a confidential client; the old one stops working at once (tokens
    already issued with it run out within 15 minutes)."""
    client = _client(session, client_id)
    if client.secret_hash is None:
        raise AccountError("public_client", f"{client_id!r} is a public client without a secret")
    secret = new_secret()
    client.secret_hash = hash_secret(secret)
    client.secret_changed_at = utcnow()
    return client, secret


def set_client_disabled(session: Session, client_id: str, disabled: bool) -> OAuthClient:
    """Disable (or enable again) a client; its tokens stop working at once.

    Disabling records when (`disabled_at`, kept when enabled again): the tokens issued before
    it, the client's own and its persons', stay refused when the client is enabled again.
    """
    client = _client(session, client_id)
    client.disabled = disabled
    if disabled:
        client.disabled_at = utcnow()
    return client


def list_clients(session: Session) -> list[OAuthClient]:
    """Every client, by party and id."""
    return list(
        session.scalars(select(OAuthClient).order_by(OAuthClient.party, OAuthClient.client_id))
    )
