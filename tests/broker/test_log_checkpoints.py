"""The audit log's C2SP side: the log key and origin (BROKER_LOG_ORIGIN), `broker audit vkey`,
`broker keys rotate-log`, and the C2SP checkpoints (c2sp.org/tlog-checkpoint, signed notes)
made on demand, every interval while records are added, and with every export — checked with
`audit.tlog` against the tree recomputed from the stored bodies."""

from __future__ import annotations

import base64
import json
import random
import stat
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import select

from audit import AuditRecordRow, StoredLogCheckpoint, log_checkpoints
from audit.tlog import (
    InvalidSignatureError,
    Signer,
    UnverifiedNoteError,
    leaf_hash,
    merkle_tree_hash,
    open_log_checkpoint,
    parse_signer_key,
    parse_verifier_key,
)
from broker import create_app
from broker.cli.accounts import keys_group
from broker.cli.audit import audit_group
from broker.cli.service import init_database
from broker.core.runtime import runtime
from broker.identity.log_key import LOG_KEY, LOG_KEYS_RETIRED, LogKeyError, log_origin
from tests.broker.conftest import Api
from tests.broker.test_privacy_api import scenario_one


def _app(tmp_path: Path, **config: object) -> Flask:
    return create_app(
        {
            "DATABASE_URL": f"sqlite:///{tmp_path / 'broker.db'}",
            "INSTANCE_PATH": str(tmp_path / "instance"),
            "LOG_LEVEL": "WARNING",
            "TESTING": True,
            **config,
        }
    )


@pytest.mark.parametrize(
    ("configured", "issuer", "origin"),
    [
        (None, "https://broker.example", "broker.example/audit"),
        (None, "https://Broker.Example:8443/x", "broker.example:8443/audit"),
        (None, "http://[::1]:8000", "[::1]:8000/audit"),
        ("log.multiteam.example/audit", "https://broker.example", "log.multiteam.example/audit"),
    ],
)
def test_the_origin_is_configured_or_the_issuers_host(
    configured: str | None, issuer: str, origin: str
) -> None:
    assert log_origin(configured, issuer) == origin


@pytest.mark.parametrize("bad", ["https://broker.example/audit", "a b", "a+b", "x\ty"])
def test_an_origin_with_a_schema_space_or_plus_stops_the_start(bad: str, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="BROKER_LOG_ORIGIN"):
        _app(tmp_path, LOG_ORIGIN=bad)


def test_without_an_issuer_the_origin_comes_from_the_default_issuer(tmp_path: Path) -> None:
    app = _app(tmp_path)
    assert app.config["LOG_ORIGIN"] == "127.0.0.1:8000/audit"
    # a worker of `broker serve` gets its own issuer but the parent's origin
    worker = app.extensions["broker.factory"](
        ISSUER="http://127.0.0.1:9999", LOG_ORIGIN=app.config["LOG_ORIGIN"]
    )
    assert worker.config["LOG_ORIGIN"] == "127.0.0.1:8000/audit"


def test_the_log_key_is_named_the_origin_kept_private_and_printed_by_vkey(tmp_path: Path) -> None:
    app = _app(tmp_path, ISSUER="https://broker.example")
    path = tmp_path / "instance" / LOG_KEY
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    signer = parse_signer_key(path.read_text().strip())
    assert signer.name == "broker.example/audit"
    result = app.test_cli_runner().invoke(audit_group, ["vkey"])
    assert result.exit_code == 0, result.output
    vkey = result.stdout.strip().splitlines()[-1]
    assert vkey == signer.verifier.vkey
    assert parse_verifier_key(vkey).name == "broker.example/audit"
    # created once: a second app on the same folder reads the same key
    again = _app(tmp_path, ISSUER="https://broker.example")
    assert again.test_cli_runner().invoke(audit_group, ["vkey"]).stdout.strip() == vkey


def test_rotate_log_makes_a_new_key_and_keeps_the_old_vkey(tmp_path: Path) -> None:
    app = _app(tmp_path, ISSUER="https://broker.example")
    with app.app_context():
        init_database()
        before = runtime().log_key.signer().verifier.vkey
    result = app.test_cli_runner().invoke(keys_group, ["rotate-log"])
    assert result.exit_code == 0, result.output
    new = result.stdout.strip().splitlines()[-1]
    assert new != before
    assert parse_verifier_key(new).name == "broker.example/audit"
    retired = (tmp_path / "instance" / LOG_KEYS_RETIRED).read_text().split()
    assert retired == [before]
    with app.app_context():
        assert runtime().log_key.signer().verifier.vkey == new
        assert [v.vkey for v in runtime().log_key.verifiers()] == [new, before]
        records = runtime().audit.records(runtime().sessions())
        assert any(r.entry.event == "keys.rotate_log" for r in records)


def test_a_changed_origin_is_named_until_the_key_is_rotated(tmp_path: Path) -> None:
    _app(tmp_path, ISSUER="https://broker.example")
    app = _app(tmp_path, LOG_ORIGIN="other.example/audit")
    result = app.test_cli_runner().invoke(audit_group, ["vkey"])
    assert result.exit_code != 0
    assert "rotate-log" in result.output and "broker.example/audit" in result.output
    with app.app_context():
        init_database()
    assert app.test_cli_runner().invoke(keys_group, ["rotate-log"]).exit_code == 0
    vkey = app.test_cli_runner().invoke(audit_group, ["vkey"]).stdout.strip()
    assert parse_verifier_key(vkey).name == "other.example/audit"


# ── C2SP checkpoints ────────────────────────────────────────────────────────────────────────


def bodies(app: Flask) -> list[bytes]:
    """Every record's stored canonical bytes, by seq (the tree's leaves, in order)."""
    with app.app_context():
        session = runtime().sessions()
        try:
            rows = session.execute(select(AuditRecordRow.seq, AuditRecordRow.body).order_by("seq"))
            found = [(int(seq), bytes(body)) for seq, body in rows]
        finally:
            session.close()
    assert [seq for seq, _ in found] == list(range(1, len(found) + 1))
    return [body for _, body in found]


def kept(app: Flask) -> list[StoredLogCheckpoint]:
    with app.app_context():
        session = runtime().sessions()
        try:
            return log_checkpoints(session)
        finally:
            session.close()


def vkey_of(app: Flask) -> str:
    result = app.test_cli_runner().invoke(audit_group, ["vkey"])
    assert result.exit_code == 0, result.output
    return str(result.stdout.strip().splitlines()[-1])


def test_broker_audit_checkpoint_signs_the_tree_of_the_records_bodies(api: Api) -> None:
    """The note opens with the vkey `broker audit vkey` prints; its size is the head, its root
    the RFC 9162 tree of the stored bodies, recomputed here from nothing but the bodies."""
    scenario_one(api, random.Random(5))
    made = api.app.test_cli_runner().invoke(audit_group, ["checkpoint", "--c2sp"])
    assert made.exit_code == 0, made.output
    verifier = parse_verifier_key(vkey_of(api.app))
    checkpoint, note = open_log_checkpoint(made.stdout.encode(), [verifier])
    leaves = bodies(api.app)
    assert checkpoint.origin == api.app.config["LOG_ORIGIN"] == verifier.name
    # the checkpoint's own audit record comes after it: the tree it signs is one shorter
    assert checkpoint.size == len(leaves) - 1
    assert checkpoint.root_hash == merkle_tree_hash([leaf_hash(b) for b in leaves[:-1]])
    assert [s.key_id for s in note.signatures] == [verifier.key_id]
    assert kept(api.app)[-1].note == made.stdout
    last = api.audit_records()[-1].entry
    assert last.event == "audit.checkpoint" and last.detail["log_size"] == checkpoint.size
    # a changed root does not verify
    forged = made.stdout.replace(
        base64.b64encode(checkpoint.root_hash).decode(), base64.b64encode(bytes(32)).decode()
    )
    with pytest.raises(InvalidSignatureError):
        open_log_checkpoint(forged.encode(), [verifier])


def test_a_checkpoint_is_signed_when_the_first_records_are_added_and_then_every_interval(
    api: Api,
) -> None:
    """The first commit that appends signs one; within the interval no other is made; once
    it has passed, the next commit that appends signs the grown tree."""
    scenario_one(api, random.Random(6))
    first = kept(api.app)
    assert len(first) == 1  # made at the first append, none since (60 s have not passed)
    with api.app.app_context():
        store = runtime().audit
        store.log_interval = 0.0
        store._log_due = 0.0
    api.tokens.clear()
    api.token("jansen")  # an issued token is audited
    later = kept(api.app)
    assert len(later) == 2 and later[1].size > later[0].size
    verifier = parse_verifier_key(vkey_of(api.app))
    for stored in later:
        checkpoint, _ = open_log_checkpoint(stored.note.encode(), [verifier])
        leaves = [leaf_hash(b) for b in bodies(api.app)[: checkpoint.size]]
        assert checkpoint.root_hash == merkle_tree_hash(leaves) == stored.root_hash


def test_a_failing_log_key_never_fails_an_append(api: Api) -> None:
    def broken() -> Signer:
        raise LogKeyError("the key is gone")

    with api.app.app_context():
        store = runtime().audit
        store.log_signer = broken
        store.log_interval = 0.0
        store._log_due = 0.0
    before = len(api.audit_records())
    scenario_one(api, random.Random(7))
    assert len(api.audit_records()) > before
    assert kept(api.app) == []


def test_every_export_ends_with_a_checkpoint_that_covers_it(api: Api, tmp_path: Path) -> None:
    scenario_one(api, random.Random(8))
    exported = api.app.test_cli_runner().invoke(audit_group, ["export"])
    assert exported.exit_code == 0, exported.output
    lines = [json.loads(line) for line in exported.stdout.splitlines()]
    notes = [line for line in lines if line["type"] == "log_checkpoint"]
    assert len(notes) == 1
    checkpoint, _ = open_log_checkpoint(
        notes[0]["note"].encode(), [parse_verifier_key(vkey_of(api.app))]
    )
    last = max(line["seq"] for line in lines if line["type"] == "record")
    assert checkpoint.size == last == notes[0]["size"]
    assert api.audit_records()[last - 1].entry.event == "audit.export"
    leaves = [leaf_hash(line["body"].encode()) for line in lines if line["type"] == "record"]
    assert checkpoint.root_hash == merkle_tree_hash(leaves)
    path = tmp_path / "export.jsonl"
    path.write_text(exported.stdout)
    key = tmp_path / "key.pem"
    key.write_text(api.app.test_cli_runner().invoke(audit_group, ["public-key"]).stdout)
    checked = api.app.test_cli_runner().invoke(
        audit_group, ["verify-export", str(path), "--public-key", str(key)]
    )
    assert checked.exit_code == 0, checked.output


def test_checkpoints_signed_before_a_rotation_keep_verifying(api: Api) -> None:
    scenario_one(api, random.Random(9))
    runner = api.app.test_cli_runner()
    old = runner.invoke(audit_group, ["checkpoint", "--c2sp"]).stdout
    assert runner.invoke(keys_group, ["rotate-log"]).exit_code == 0
    new = runner.invoke(audit_group, ["checkpoint", "--c2sp"]).stdout
    with api.app.app_context():
        verifiers = runtime().log_key.verifiers()
    current = parse_verifier_key(vkey_of(api.app))
    assert open_log_checkpoint(new.encode(), [current])[0].size > 0
    with pytest.raises(UnverifiedNoteError):
        open_log_checkpoint(old.encode(), [current])
    for message in (old, new):
        open_log_checkpoint(message.encode(), verifiers)
