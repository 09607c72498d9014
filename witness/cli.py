"""`broker witness …`: init, trust, serve, show and verify — thin over the witness's modules.

None of them builds the broker's app or touches its database: a partner runs them on its own
machine with nothing of the broker but its published key and address.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Any

import click

from audit.tlog import KeyFormatError

from .check import CheckReport, check_log
from .keys import KEY_FILE_MODE
from .server import serve as serve_forever
from .service import create_app
from .state import StateDir, WitnessStateError

__all__ = ["witness_group"]


def _state_option(function: Any) -> Any:
    return click.option(
        "--state",
        "state_dir",
        required=True,
        type=click.Path(file_okay=False, path_type=Path),
        help="The witness's state directory.",
    )(function)


def _fail(error: WitnessStateError) -> click.ClickException:
    return click.ClickException(error.description)


@click.group("witness")
def witness_group() -> None:
    """Run a witness of the broker's audit log (c2sp.org/tlog-witness), or check the log."""


@witness_group.command("init")
@_state_option
@click.option("--name", required=True, help="The witness's name, e.g. witness.partner.example/1.")
def init_command(state_dir: Path, name: str) -> None:
    """Make the witness's key and state in DIR; print its verifier key on the last line."""
    try:
        store, signer = StateDir.create(state_dir, name)
    except WitnessStateError as error:
        raise _fail(error) from None
    except KeyFormatError as error:
        raise click.BadParameter(error.description, param_hint="--name") from None
    click.echo(f"witness {name} made in {store.path}")
    click.echo(f"its key: {store.key_file} (mode {KEY_FILE_MODE:04o}; keep it secret)")
    click.echo("its verifier key, for the broker's operator (broker audit witnesses add):")
    click.echo(signer.verifier.vkey)


@witness_group.command("trust")
@_state_option
@click.option("--vkey", required=True, help="The log's verifier key (broker audit vkey).")
def trust_command(state_dir: Path, vkey: str) -> None:
    """Trust a log: its origin is the key's name; a second key of the same log is added."""
    try:
        log, added = StateDir(state_dir).trust(vkey)
    except WitnessStateError as error:
        raise _fail(error) from None
    except KeyFormatError as error:
        raise click.BadParameter(error.description, param_hint="--vkey") from None
    what = "now trusts" if added else "already trusted"
    click.echo(f"{what} log {log.origin} with key {vkey.strip()} ({len(log.keys)} of its keys)")


@witness_group.command("serve")
@_state_option
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=7380, show_default=True, type=click.IntRange(1, 65535))
@click.option("--workers", default=2, show_default=True, type=click.IntRange(1, 64))
@click.option("--threads", default=4, show_default=True, type=click.IntRange(1, 256))
def serve_command(state_dir: Path, host: str, port: int, workers: int, threads: int) -> None:
    """Serve POST /add-checkpoint with gunicorn until stopped."""
    try:
        state_dir = state_dir.resolve()
        name = create_app(state_dir).extensions["witness"].signer.name
    except WitnessStateError as error:
        raise _fail(error) from None
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    click.echo(f"witness {name}: POST http://{host}:{port}/add-checkpoint", err=True)
    serve_forever(lambda: create_app(state_dir), host, port, workers, threads)


@witness_group.command("show")
@_state_option
def show_command(state_dir: Path) -> None:
    """Print the witness's verifier key and, per trusted log, the latest tree it cosigned."""
    try:
        state = StateDir(state_dir).read()
    except WitnessStateError as error:
        raise _fail(error) from None
    click.echo(f"witness {state.name}")
    for origin in sorted(state.logs):
        log = state.logs[origin]
        latest = "never cosigned" if log.latest is None else f"cosigned size {log.latest.size}"
        click.echo(f"log {origin}: {latest}; keys: {', '.join(log.keys)}")
    click.echo(state.vkey)


@witness_group.command("verify")
@_state_option
@click.option("--url", required=True, help="The broker's address, e.g. https://broker.example.")
@click.option("--token", envvar="WITNESS_TOKEN", help="A bearer token for the broker's API.")
@click.option("--timeout", default=10.0, show_default=True, type=click.FloatRange(0.1, 600))
def verify_command(state_dir: Path, url: str, token: str | None, timeout: float) -> None:
    """Check that the broker's log only grew since this witness last cosigned (exit 0), or say
    where and why not (exit 1)."""
    try:
        report = check_log(StateDir(state_dir), url, token=token, timeout=timeout)
    except Exception as error:  # the last guard: a verifier answers, it never crashes
        reason = f"the check stopped on an unexpected error ({type(error).__name__}: {error})"
        report = CheckReport(False, (), f"FAILED: {reason}")
    for line in report.lines:
        click.echo(line)
    click.echo(report.verdict)
    sys.exit(0 if report.only_grew else 1)
