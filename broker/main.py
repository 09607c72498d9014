"""The `broker` console script: a Flask command group over `create_app` with the convenant
tools, the audit log's offline commands and the partner's witness (which build no app), and
the service commands the app registers (`broker.cli.service`)."""

from __future__ import annotations

from flask import Flask
from flask.cli import FlaskGroup

from broker.app import create_app
from broker.cli.audit import audit_group
from broker.cli.convenant import convenant
from witness import witness_group

__all__ = ["cli", "main"]


def _create_app() -> Flask:
    return create_app()


cli = FlaskGroup(
    name="broker",
    help="The MultiTeam data-sharing broker.",
    create_app=_create_app,
    add_default_commands=False,
    add_version_option=False,
    load_dotenv=False,
    set_debug_flag=False,
)
cli.add_command(convenant)
cli.add_command(audit_group)
cli.add_command(witness_group)


def main() -> None:
    """Entry point of the `broker` console script."""
    cli.main(prog_name="broker")
