"""`broker audit …` and `broker purge`: the audit log from the command line."""

from __future__ import annotations

import datetime as dt
import json
import sys
from pathlib import Path

import click
from flask.cli import with_appcontext
from sqlalchemy.exc import SQLAlchemyError

from audit import CheckpointError, checkpoint_from_json, checkpoint_to_json, load_public_key_file
from broker.core.context import Context, audit_and_commit
from broker.core.problems import Problem
from broker.core.runtime import read_session, runtime, transaction
from broker.identity.log_key import LogKeyError
from broker.privacy.audit_log import (
    make_checkpoint,
    make_log_checkpoint_now,
    public_key_pem,
    purge_audit,
    verification_entry,
)
from broker.privacy.audit_log import verify_log as verify_stored
from broker.privacy.export import export_lines, verify_export
from broker.privacy.retention import purge_cases

__all__ = ["audit_group", "purge_command"]

_OPERATOR = Context(None, None, None, role=None, purpose="toezicht")


def _report(result: object) -> None:
    click.echo(json.dumps(result, indent=2, ensure_ascii=False))


@click.group("audit")
def audit_group() -> None:
    """Verify, checkpoint and export the audit log."""


@audit_group.command("verify")
@click.option(
    "--checkpoint",
    "checkpoint_files",
    multiple=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="A checkpoint kept outside the broker (repeatable).",
)
@click.option("--deep", is_flag=True, help="Also decode and validate every record's body (slower).")
@with_appcontext
def verify_command(checkpoint_files: tuple[Path, ...], deep: bool) -> None:
    """Verify the log whole: every column of every record, the chain, the tree, purged records
    and what lies past the head; exit 1 naming the first bad seq."""
    rt = runtime()
    try:
        outside = [checkpoint_from_json(p.read_text()) for p in checkpoint_files]
    except CheckpointError as exc:
        raise click.ClickException(str(exc)) from None
    with read_session() as reader:
        result = verify_stored(reader, rt, deep=deep, outside=outside)
    _report(result.as_dict())
    is_recorded = True
    try:
        with transaction() as session:
            audit_and_commit(session, rt, [verification_entry(_OPERATOR, result, cli=True)])
    except Problem:
        is_recorded = False
    if not result.is_intact:
        where = f" (column {result.column})" if result.column else ""
        seq = result.first_bad_seq if result.first_bad_seq is not None else "-"
        click.echo(f"BROKEN at seq {seq}{where}: {result.description}", err=True)
    if not is_recorded:
        click.echo(
            "this verification could not be recorded: the audit log cannot be appended to",
            err=True,
        )
    if not result.is_intact or not is_recorded:
        sys.exit(1)


@audit_group.command("checkpoint")
@click.option(
    "--c2sp",
    "as_note",
    is_flag=True,
    help="Print the C2SP checkpoint (a signed note) instead of the older JSON checkpoint.",
)
@with_appcontext
def checkpoint_command(as_note: bool) -> None:
    """Sign a checkpoint of the current head, and a C2SP checkpoint of the tree with the log
    key, and print one (keep it outside the broker)."""
    rt = runtime()
    try:
        with transaction() as session:
            checkpoint = make_checkpoint(session, rt)
            log = make_log_checkpoint_now(session, rt)
            detail = {"seq": checkpoint.seq, "log_size": log.size, "cli": True}
            entry = _OPERATOR.entry("audit.checkpoint", "create", "success", detail=detail)
            audit_and_commit(session, rt, [entry])
    except LogKeyError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(log.note, nl=False) if as_note else click.echo(checkpoint_to_json(checkpoint))


@audit_group.command("public-key")
@with_appcontext
def public_key_command() -> None:
    """Print the public key that verifies the checkpoints (PEM)."""
    click.echo(public_key_pem(runtime()), nl=False)


@audit_group.command("vkey")
@with_appcontext
def vkey_command() -> None:
    """Print the log's verifier key (c2sp.org/signed-note vkey, named the origin) last."""
    rt = runtime()
    try:
        click.echo(rt.log_key.signer().verifier.vkey)
    except LogKeyError as exc:
        raise click.ClickException(str(exc)) from None


def _date(value: str | None) -> dt.datetime | None:
    if value is None:
        return None
    parsed = dt.datetime.fromisoformat(value)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


@audit_group.command("export")
@click.option("--since", help="ISO date or time (UTC unless given).")
@click.option("--until", help="ISO date or time, exclusive.")
@with_appcontext
def export_command(since: str | None, until: str | None) -> None:
    """Write the records of a period as JSON lines (with the checkpoints) to stdout."""
    rt = runtime()
    with transaction() as session:  # audited first: if that fails, nothing is exported
        entry = _OPERATOR.entry(
            "audit.export", "read", "success", detail={"since": since, "until": until}
        )
        audit_and_commit(session, rt, [entry])
    try:  # a C2SP checkpoint of the tree with the export's own record, exported with it
        with transaction() as session:
            make_log_checkpoint_now(session, rt)
    except (LogKeyError, SQLAlchemyError) as exc:
        raise click.ClickException(f"the export's checkpoint could not be made: {exc}") from None
    with read_session() as reader:
        for line in export_lines(reader, rt, _date(since), _date(until)):
            click.echo(line)


@audit_group.command("verify-export")
@click.argument("file", type=click.File("r", encoding="utf-8"))
@click.option(
    "--public-key",
    "public_key",
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="The checkpoint public key (PEM), from `broker audit public-key`.",
)
def verify_export_command(file: click.utils.LazyFile, public_key: Path) -> None:
    """Verify an export offline — no database needed; exit 1 naming the first bad seq."""
    try:
        result = verify_export(iter(file), load_public_key_file(public_key))
    except (ValueError, KeyError, CheckpointError) as exc:
        raise click.ClickException(f"not a valid export: {exc}") from None
    _report(result.as_dict())
    if not result.is_intact:
        click.echo(f"BROKEN at seq {result.first_bad_seq}: {result.description}", err=True)
        sys.exit(1)


@click.command("purge")
@click.option("--dry-run", is_flag=True, help="Only say what would be deleted; change nothing.")
@click.option(
    "--now",
    "now_text",
    metavar="ISO-TIME",
    help="Apply retention as at this time (tests, operations); default: the real time.",
)
@with_appcontext
def purge_command(dry_run: bool, now_text: str | None) -> None:
    """Delete what the convenant's retention says is due: untriaged signals, closed cases, the
    age limit (broker.privacy.retention), and audit records after 5 years."""
    rt = runtime()
    now = dt.datetime.now(dt.UTC)
    if now_text is not None:
        try:
            now = dt.datetime.fromisoformat(now_text)
        except ValueError:
            raise click.BadParameter("give an ISO 8601 time", param_hint="--now") from None
        now = now if now.tzinfo else now.replace(tzinfo=dt.UTC)
    clock = "system" if now_text is None else "given"
    with transaction() as session:
        cases = purge_cases(session, rt, _OPERATOR, now, dry_run, clock)
    with transaction() as session:
        result = purge_audit(session, rt, _OPERATOR, now, dry_run)
    _report({"cases": cases, "audit": result})
