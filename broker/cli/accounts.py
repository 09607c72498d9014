"""`broker users`, `broker clients` and `broker keys`: thin wrappers over
`broker.identity.accounts` and the key ring, each change audited."""

from __future__ import annotations

import datetime as dt
import sys
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import click
from flask.cli import with_appcontext
from sqlalchemy.orm import Session

from audit import AuditEntry
from broker.core.context import Context
from broker.core.runtime import runtime, transaction
from broker.identity.accounts import (
    GRANT_TYPES,
    AccountError,
    add_client,
    add_person,
    check_password,
    enroll_totp,
    list_clients,
    list_persons,
    rotate_client_secret,
    set_client_disabled,
    set_password,
    set_person_disabled,
)
from broker.identity.log_key import LogKeyError
from broker.identity.totp import otpauth_uri
from broker.storage.models import OAuthClient, Person

T = TypeVar("T")

__all__ = ["clients_group", "create_client", "keys_group", "users_group"]


def _entry(event: str, action: str, **fields: Any) -> AuditEntry:
    """An audit entry for a change an operator made on the command line."""
    detail = {"by": "operator", **fields.pop("detail", {})}
    return Context(None, None, None).entry(
        event, action, "success", convenant_hash=runtime().convenant.hash, detail=detail, **fields
    )


def _audited(change: Callable[[Session], tuple[T, AuditEntry]]) -> T:
    """Make `change` and append its audit record in one transaction; a change the accounts
    refuse is a ClickException and leaves nothing behind."""
    rt = runtime()
    try:
        with transaction() as session:
            result, entry = change(session)
            rt.audit.append(session, [entry])
    except AccountError as exc:
        raise click.ClickException(exc.description) from None
    return result


def _person_entry(event: str, person: Person, **detail: Any) -> AuditEntry:
    return _entry(
        event,
        "update",
        person_id=person.username,
        person_name=person.name,
        party=person.party,
        detail=detail,
    )


def _client_entry(event: str, action: str, client: OAuthClient, **detail: Any) -> AuditEntry:
    return _entry(event, action, client_id=client.client_id, party=client.party, detail=detail)


def _password(from_stdin: bool) -> str:
    if from_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    try:
        check_password(password)
    except AccountError as exc:
        raise click.ClickException(exc.description) from None
    return password


# ── users ───────────────────────────────────────────────────────────────────────────────────


@click.group("users")
def users_group() -> None:
    """Persons who use the broker: add, list, disable, enable, set a password, enroll TOTP."""


@users_group.command("add")
@click.argument("username")
@click.option("--name", required=True, help="Full name, as it appears in the audit log.")
@click.option("--party", required=True, help="The party of the convenant the person works for.")
@click.option("--role", "roles", multiple=True, required=True, help="A role (repeatable).")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@click.option("--no-password", is_flag=True, help="No login; operator tokens only.")
@with_appcontext
def users_add(
    username: str,
    name: str,
    party: str,
    roles: tuple[str, ...],
    password_stdin: bool,
    no_password: bool,
) -> None:
    """Add a person who logs in with USERNAME."""
    password = None if no_password else _password(password_stdin)

    def change(session: Session) -> tuple[None, AuditEntry]:
        person = add_person(
            session,
            runtime().convenant,
            username=username,
            name=name,
            party=party,
            roles=roles,
            password=password,
        )
        entry = _entry(
            "person.create",
            "create",
            person_id=person.username,
            person_name=person.name,
            party=person.party,
            detail={"roles": ",".join(person.roles), "password": password is not None},
        )
        return None, entry

    _audited(change)
    click.echo(f"person {username} added ({party}: {', '.join(roles)})")


def _set_disabled(username: str, disabled: bool) -> None:
    def change(session: Session) -> tuple[None, AuditEntry]:
        person = set_person_disabled(session, username, disabled)
        return None, _person_entry("person.disable" if disabled else "person.enable", person)

    _audited(change)


@users_group.command("disable")
@click.argument("username")
@with_appcontext
def users_disable(username: str) -> None:
    """Disable USERNAME: no login, and tokens already issued stop working at once."""
    _set_disabled(username, True)
    click.echo(f"person {username} disabled; their tokens no longer work")


@users_group.command("enable")
@click.argument("username")
@with_appcontext
def users_enable(username: str) -> None:
    """Enable USERNAME again; tokens issued before the disable stay refused."""
    _set_disabled(username, False)
    click.echo(f"person {username} enabled; tokens issued before the disable stay refused")


@users_group.command("set-password")
@click.argument("username")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@with_appcontext
def users_set_password(username: str, password_stdin: bool) -> None:
    """Set the login password of USERNAME."""
    password = _password(password_stdin)
    _audited(
        lambda session: (
            None,
            _person_entry("person.password", set_password(session, username, password)),
        )
    )
    click.echo(f"password of {username} set")


@users_group.command("enroll-totp")
@click.argument("username")
@click.option("--replace", is_flag=True, help="Replace an existing second factor.")
@with_appcontext
def users_enroll_totp(username: str, replace: bool) -> None:
    """Give USERNAME a TOTP second factor; its secret is printed once, last."""

    def change(session: Session) -> tuple[str, AuditEntry]:
        person, secret = enroll_totp(session, username, replace=replace)
        return secret, _person_entry("person.totp_enroll", person, replaced=replace)

    secret = _audited(change)
    click.echo(f"second factor (TOTP) set for {username}; any earlier app no longer works")
    click.echo("add it to an authenticator app (shown once; not shown again):")
    click.echo(otpauth_uri(secret, username, "MultiTeam-broker"))
    click.echo(f"secret: {secret}")


@users_group.command("list")
@with_appcontext
def users_list() -> None:
    """Every person: username, party, roles, login, status and name."""
    with transaction() as session:
        persons = list_persons(session)
        rows = [
            (
                p.username,
                p.party,
                ",".join(p.roles),
                ("password" if p.password_hash else "-") + ("+totp" if p.totp_secret else ""),
                "disabled" if p.disabled else "active",
                p.name,
            )
            for p in persons
        ]
    _table(("USERNAME", "PARTY", "ROLES", "LOGIN", "STATUS", "NAME"), rows)


def _table(header: tuple[str, ...], rows: Sequence[tuple[str, ...]]) -> None:
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header) - 1)]
    for row in [header, *rows]:
        cells = [cell.ljust(w) for cell, w in zip(row, widths, strict=False)]
        click.echo("  ".join([*cells, row[-1]]).rstrip())


# ── clients ─────────────────────────────────────────────────────────────────────────────────


@click.group("clients")
def clients_group() -> None:
    """OAuth clients: partner systems and applications persons log in to."""


def _echo_secret(secret: str) -> None:
    click.echo("client secret (shown once; only its hash is kept):")
    click.echo(secret)


@clients_group.command("add")
@click.argument("client_id")
@click.option("--name", required=True, help="What the system is, as persons will see it.")
@click.option("--party", required=True, help="The party the client belongs to.")
@click.option(
    "--grant",
    "grants",
    multiple=True,
    type=click.Choice(GRANT_TYPES),
    default=("client_credentials",),
    show_default=True,
    help="A grant type the client may use (repeatable).",
)
@click.option("--redirect-uri", "redirect_uris", multiple=True, help="For authorization_code.")
@click.option("--scope", "scopes", multiple=True, help="A scope the client may ask for.")
@click.option("--public", is_flag=True, help="No secret: a public client (PKCE only).")
@with_appcontext
def clients_add(
    client_id: str,
    name: str,
    party: str,
    grants: tuple[str, ...],
    redirect_uris: tuple[str, ...],
    scopes: tuple[str, ...],
    public: bool,
) -> None:
    """Add a client CLIENT_ID; a confidential client's secret is printed once, last."""
    secret = create_client(client_id, name, party, grants, redirect_uris, scopes, public)
    click.echo(f"client {client_id} added ({party}: {', '.join(grants)})")
    if secret is not None:
        _echo_secret(secret)


def create_client(
    client_id: str,
    name: str,
    party: str,
    grants: tuple[str, ...],
    redirect_uris: tuple[str, ...],
    scopes: tuple[str, ...] = (),
    public: bool = False,
    by: str = "operator",
) -> str | None:
    """Create and audit a client; its secret (None for a public client)."""

    def change(session: Session) -> tuple[str | None, AuditEntry]:
        client, secret = add_client(
            session,
            runtime().convenant,
            client_id=client_id,
            name=name,
            party=party,
            grant_types=grants,
            redirect_uris=redirect_uris,
            scopes=scopes,
            public=public,
        )
        entry = _client_entry(
            "client.create",
            "create",
            client,
            by=by,
            public=public,
            grant_types=",".join(client.grant_types),
        )
        return secret, entry

    return _audited(change)


@clients_group.command("rotate-secret")
@click.argument("client_id")
@with_appcontext
def clients_rotate_secret(client_id: str) -> None:
    """Give CLIENT_ID a new secret (printed once, last); the old one stops working at once."""

    def change(session: Session) -> tuple[str, AuditEntry]:
        client, secret = rotate_client_secret(session, client_id)
        return secret, _client_entry("client.secret_rotate", "update", client)

    secret = _audited(change)
    click.echo(f"new secret for {client_id}; the old secret no longer works")
    _echo_secret(secret)


def _set_client_disabled(client_id: str, disabled: bool) -> None:
    def change(session: Session) -> tuple[None, AuditEntry]:
        client = set_client_disabled(session, client_id, disabled)
        return None, _client_entry(
            "client.disable" if disabled else "client.enable", "update", client
        )

    _audited(change)


@clients_group.command("disable")
@click.argument("client_id")
@with_appcontext
def clients_disable(client_id: str) -> None:
    """Disable CLIENT_ID: no new tokens, and tokens already issued stop working at once."""
    _set_client_disabled(client_id, True)
    click.echo(f"client {client_id} disabled; its tokens no longer work")


@clients_group.command("enable")
@click.argument("client_id")
@with_appcontext
def clients_enable(client_id: str) -> None:
    """Enable CLIENT_ID again; tokens issued before the disable stay refused."""
    _set_client_disabled(client_id, False)
    click.echo(f"client {client_id} enabled; tokens issued before the disable stay refused")


@clients_group.command("list")
@with_appcontext
def clients_list() -> None:
    """Every client: id, party, grant types, kind, status and name (never a secret)."""
    with transaction() as session:
        rows = [
            (
                c.client_id,
                c.party,
                ",".join(c.grant_types),
                "public" if c.secret_hash is None else "confidential",
                "disabled" if c.disabled else "active",
                c.name,
            )
            for c in list_clients(session)
        ]
    _table(("CLIENT_ID", "PARTY", "GRANTS", "KIND", "STATUS", "NAME"), rows)


# ── keys ────────────────────────────────────────────────────────────────────────────────────


@click.group("keys")
def keys_group() -> None:
    """The keys that sign and verify access tokens and the audit log's checkpoints."""


def _utc(seconds: float) -> str:
    return dt.datetime.fromtimestamp(seconds, dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


@keys_group.command("rotate")
@with_appcontext
def keys_rotate() -> None:
    """Sign new tokens with a new key; the old key verifies until its tokens have expired."""
    rt = runtime()
    new, old = rt.keyring.rotate()
    with transaction() as session:
        entry = _entry("keys.rotate", "execute", detail={"kid": new.kid, "retired_kid": old.kid})
        rt.audit.append(session, [entry])
    until = _utc(rt.keyring.clock() + rt.keyring.keep_for)
    click.echo(f"new signing key {new.kid}")
    click.echo(f"previous key {old.kid} verifies until {until}")


@keys_group.command("rotate-log")
@with_appcontext
def keys_rotate_log() -> None:
    """Sign the audit log's checkpoints with a new key (named the log's origin); the old key's
    verifier key is kept, so checkpoints it signed keep verifying. Prints the new vkey last."""
    rt = runtime()
    try:
        new, old = rt.log_key.rotate()
    except LogKeyError as exc:
        raise click.ClickException(str(exc)) from None
    with transaction() as session:
        entry = _entry("keys.rotate_log", "execute", detail={"vkey": new, "retired_vkey": old})
        rt.audit.append(session, [entry])
    if old is not None:
        click.echo(f"retired log key (still verifies old checkpoints): {old}")
    click.echo(new)


@keys_group.command("list")
@with_appcontext
def keys_list() -> None:
    """The signing key and the retired keys, with until when each verifies."""
    rt = runtime()
    keys = rt.keyring.keys()
    rows = [(str(keys.current.kid), "signing", "-")]
    live = {k.kid for k in keys.retired}
    for retired in sorted(rt.keyring.retired(), key=lambda r: -r.retired_at):
        until = retired.retired_at + rt.keyring.keep_for
        status = "verifying" if retired.key.kid in live else "expired"
        rows.append((str(retired.key.kid), status, _utc(until)))
    _table(("KID", "STATUS", "VERIFIES UNTIL"), rows)
