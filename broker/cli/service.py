"""Service commands on `app.cli`: init, demo, token and serve, and the groups of `accounts`,
`audit` and `stats` — thin wrappers over functions."""

from __future__ import annotations

import functools

import click
from flask import Flask, current_app
from flask.cli import with_appcontext
from sqlalchemy import select

from broker.core.context import Context
from broker.core.runtime import runtime, transaction
from broker.identity.actors import OPERATOR_CLIENT
from broker.identity.tokens import MAX_TTL
from broker.storage.migrate import upgrade
from broker.storage.models import Person

from .accounts import clients_group, keys_group, users_group
from .audit import purge_command
from .demo import DEMO_ACCOUNTS, ensure_clients, load_demo
from .stats import stats_command

__all__ = ["init_app", "init_database", "issue_token", "served_issuer"]


def init_database() -> None:
    """Create or upgrade the database schema to the newest migration."""
    upgrade(runtime().engine)


def issue_token(username: str, ttl: int | None = None) -> str:
    """A bearer token for an active person; the issue is audited."""
    rt = runtime()
    with transaction() as session:
        person = session.scalar(select(Person).where(Person.username == username))
        if person is None or person.disabled:
            raise click.ClickException(f"no active person {username!r}")
        try:
            token, claims = rt.tokens.issue(
                subject=person.username,
                party=person.party,
                roles=list(person.roles),
                name=person.name,
                ttl=ttl,
            )
        except ValueError as exc:  # a ttl over the configured TOKEN_TTL
            raise click.ClickException(f"--ttl: {exc} (TOKEN_TTL)") from None
        ctx = Context(None, None, None)
        entry = ctx.entry(
            "token.issue",
            "execute",
            "success",
            person_id=person.username,
            person_name=person.name,
            party=person.party,
            client_id=OPERATOR_CLIENT,
            convenant_hash=rt.convenant.hash,
            detail={"jti": claims["jti"], "expires": claims["exp"], "issued_by": "operator"},
        )
        rt.audit.append(session, [entry])
    return token


@click.command("init")
@with_appcontext
def init_command() -> None:
    """Create or upgrade the database."""
    init_database()
    click.echo(f"database ready: {current_app.config['DATABASE_URL']}")


@click.command("demo")
@click.option("--force", is_flag=True, help="Add the demo cases even when cases exist.")
@with_appcontext
def demo_command(force: bool) -> None:
    """Initialise the database with the demo accounts and demo cases."""
    init_database()
    report = load_demo(force=force)
    click.echo(report)
    click.echo("demo accounts: " + ", ".join(f"{u} ({p}, {r})" for u, p, r, _ in DEMO_ACCOUNTS))
    click.echo("set a login password with: broker users set-password USERNAME")
    for client_id, party, secret in ensure_clients():
        click.echo(f"demo client {client_id} ({party}) added")
        if secret is not None:
            click.echo(f"  client secret of {client_id} (shown once; only its hash is kept):")
            click.echo(f"  {secret}")


@click.command("token")
@click.argument("username")
@click.option(
    "--ttl",
    type=click.IntRange(60, MAX_TTL),
    help="Lifetime in seconds (at most TOKEN_TTL; default TOKEN_TTL).",
)
@with_appcontext
def token_command(username: str, ttl: int | None) -> None:
    """Print a bearer token for USERNAME (on the last line)."""
    click.echo(issue_token(username, ttl))


def served_issuer(host: str, port: int) -> str:
    """The issuer of a broker served on host:port (a wildcard address: the loopback one)."""
    host = {"": "127.0.0.1", "0.0.0.0": "127.0.0.1", "::": "::1"}.get(host, host)
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--workers", default=2, show_default=True, type=int)
@click.option("--dev", is_flag=True, help="Flask's development server instead of gunicorn.")
@with_appcontext
def serve_command(host: str, port: int, workers: int, dev: bool) -> None:
    """Serve the broker (gunicorn; --dev for the Flask development server)."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    # the workers keep the parent's log origin (it names the log, whatever port it serves on)
    build = functools.partial(app.extensions["broker.factory"], LOG_ORIGIN=app.config["LOG_ORIGIN"])
    if not app.extensions["broker.issuer_configured"]:  # the issuer is where it is served
        build = functools.partial(build, ISSUER=served_issuer(host, port))
    click.echo(f"MultiTeam broker on http://{host}:{port} — database {app.config['DATABASE_URL']}")
    if dev:  # app.run() refuses to run inside the flask CLI: Werkzeug's server itself
        from werkzeug.serving import run_simple

        run_simple(host, port, build(), threaded=True)
        return
    from .server import serve

    serve(build, host=host, port=port, workers=workers)


def init_app(app: Flask) -> None:
    """Register the service commands."""
    for command in (
        init_command,
        demo_command,
        token_command,
        serve_command,
        purge_command,
        users_group,
        clients_group,
        keys_group,
        stats_command,
    ):
        app.cli.add_command(command)
