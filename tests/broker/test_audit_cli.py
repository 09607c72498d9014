"""`broker audit verify/checkpoint/public-key/export/verify-export` and `broker purge`: exit
codes that name the bad seq, outside checkpoints, offline verification, audit retention."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from flask import Flask

import broker.main
from audit import (
    GENESIS_HASH,
    AuditEntry,
    chain_hash,
    checkpoint_from_json,
    decode,
    encode,
    generate_signing_key,
    load_public_key,
    public_key_to_pem,
    seal,
    sign_checkpoint,
    verify_checkpoint,
)
from broker.cli.audit import audit_group
from broker.core.context import Context
from broker.core.runtime import runtime
from broker.main import cli
from broker.privacy.audit_log import purge_audit, verify_log
from broker.privacy.export import export_lines, verify_export
from broker.storage.models import utcnow
from tests.audit.forgery import insert_record, rebuild_tree
from tests.broker.conftest import Api
from tests.broker.test_privacy_api import execute, scenario_one, scenario_three, stored_body

OPERATOR = Context(None, None, None, purpose="toezicht")


def audit(app: Flask, *args: str) -> Result:
    """`broker audit ARGS` through the app's CLI test runner."""
    return app.test_cli_runner().invoke(audit_group, list(args))


def report(result: Result) -> dict[str, Any]:
    """The JSON verification report a command printed on stdout."""
    document: dict[str, Any] = json.loads(result.stdout)
    return document


def populate(api: Api) -> None:
    """Two young people (the first time), views and a list: some ten to twenty records."""
    tracks = {
        r.entry.detail["to_track"]: r.entry.case_id
        for r in api.audit_records()
        if r.entry.event == "track.change"
    }
    if not tracks:
        rng = random.Random(23)
        tracks = {
            "zvh": scenario_three(api, rng).case_id,
            "lokaal_preventief": scenario_one(api, rng).case_id,
        }
    girl, boy = str(tracks["zvh"]), str(tracks["lokaal_preventief"])
    for username, case_id in (
        ("jansen", girl),
        ("bos", girl),
        ("bakker", boy),
        ("smit", boy),
        ("jansen", boy),
    ):
        api.view(username, case_id)
    api.client.get(
        "/api/v1/cases", query_string={"purpose": "casusoverleg"}, headers=api.headers("jansen")
    )


def views_by(api: Api, username: str) -> list[int]:
    """The seqs of the successful case views by `username`."""
    return [
        r.seq
        for r in api.audit_records()
        if r.entry.person_id == username
        and (r.entry.event, r.entry.outcome) == ("case.view", "success")
    ]


# ── verify ──────────────────────────────────────────────────────────────────────────────────


def test_verify_exits_0_when_intact_and_1_naming_the_tampered_seq(api: Api) -> None:
    """Intact: exit 0; a changed column or body: exit 1 naming its seq (and the column), with
    or without --deep."""
    populate(api)
    intact = audit(api.app, "verify")
    assert intact.exit_code == 0, intact.output
    assert report(intact)["is_intact"] is True
    assert report(intact)["columns_checked"] is True
    column, body = views_by(api, "jansen")[0], views_by(api, "bakker")[0]
    execute(api.app, "UPDATE audit_record SET outcome = 'denied' WHERE seq = :seq", seq=column)
    for flags in ((), ("--deep",)):
        found = audit(api.app, "verify", *flags)
        assert found.exit_code == 1, found.output
        assert (report(found)["first_bad_seq"], report(found)["column"]) == (column, "outcome")
        assert f"BROKEN at seq {column} (column outcome):" in found.stderr
    execute(api.app, "UPDATE audit_record SET outcome = 'success' WHERE seq = :seq", seq=column)
    execute(
        api.app,
        "UPDATE audit_record SET body = :body WHERE seq = :seq",
        seq=body,
        body=stored_body(api.app, body).replace(b'"person_id":"bakker"', b'"person_id":"visser"'),
    )
    broken = audit(api.app, "verify")
    assert broken.exit_code == 1
    assert (report(broken)["first_bad_seq"], report(broken)["reason"]) == (body, "hash_mismatch")
    assert f"BROKEN at seq {body}:" in broken.stderr
    runs = [r.entry for r in api.audit_records() if r.entry.event == "audit.verify"]
    assert [(e.detail["intact"], e.detail["first_bad_seq"], e.detail["cli"]) for e in runs] == [
        (True, None, True),
        (False, column, True),
        (False, column, True),
        (False, body, True),
    ]


def test_verify_names_the_first_bad_seq_of_both_kinds(api: Api) -> None:
    """A changed column at seq a and a changed body at a later seq b: a is named."""
    populate(api)
    column, body = views_by(api, "jansen")[0], views_by(api, "bakker")[0]
    assert column < body
    execute(api.app, "UPDATE audit_record SET outcome = 'denied' WHERE seq = :seq", seq=column)
    execute(
        api.app,
        "UPDATE audit_record SET body = :body WHERE seq = :seq",
        seq=body,
        body=stored_body(api.app, body).replace(b'"person_id":"bakker"', b'"person_id":"visser"'),
    )
    for flags in ((), ("--deep",)):
        found = audit(api.app, "verify", *flags)
        assert found.exit_code == 1
        assert report(found)["first_bad_seq"] == column


def forge_past_head(app: Flask) -> int:
    """A record chained after the head and stored, the head row untouched (as an intruder
    with write access to the database could); its seq."""
    with app.app_context():
        rt = runtime()
        session = rt.sessions()
        try:
            head = rt.audit.head(session)
            entry = AuditEntry(event="case.view", action="read", outcome="success")
            forged = seal(entry, seq=head.seq + 1, prev_hash=head.hash, time=utcnow())
            insert_record(session, forged)
            session.commit()
        finally:
            session.close()
    return forged.seq


def test_a_record_past_the_head_is_named_and_the_cli_does_not_crash(api: Api) -> None:
    """A forged record after the head: verify exits 1 naming its seq, says that it could not
    record itself (the log cannot be appended to), and raises nothing."""
    populate(api)
    seq = forge_past_head(api.app)
    for flags in ((), ("--deep",)):
        found = audit(api.app, "verify", *flags)
        assert found.exit_code == 1, found.output
        assert isinstance(found.exception, SystemExit)  # no traceback
        assert (report(found)["first_bad_seq"], report(found)["reason"]) == (seq, "head_mismatch")
        assert f"BROKEN at seq {seq}:" in found.stderr
        assert "could not be recorded" in found.stderr


def test_a_column_that_is_no_valid_member_is_named_by_verify_and_deep(api: Api) -> None:
    """action = 'frobnicate' in one row: exit 1 naming the seq and the column, with and
    without --deep (which used to raise AuditEntryError)."""
    populate(api)
    seq = views_by(api, "jansen")[0]
    execute(api.app, "UPDATE audit_record SET action = 'frobnicate' WHERE seq = :seq", seq=seq)
    for flags in ((), ("--deep",)):
        found = audit(api.app, "verify", *flags)
        assert found.exit_code == 1, found.output
        assert isinstance(found.exception, SystemExit)
        assert (report(found)["first_bad_seq"], report(found)["column"]) == (seq, "action")
        assert "not a valid action" in report(found)["description"]


def rewrite_chain(app: Flask, seq: int, **changes: Any) -> str:
    """Change record `seq` (body and columns), recompute every hash from there on and the head
    row: what someone with write access to the database can do. The new head hash."""
    with app.app_context():
        rt = runtime()
        session = rt.sessions()
        try:
            before = list(rt.audit.links(session, since_seq=seq - 1, until_seq=seq - 1))
            links = list(rt.audit.links(session, since_seq=seq))
        finally:
            session.close()
    prev = before[0].hash if before else GENESIS_HASH
    rows = []
    for link in links:
        record = decode(link)
        entry = dataclasses.replace(record.entry, **changes) if link.seq == seq else record.entry
        body = encode(link.seq, record.event_id, record.time, entry)
        digest = chain_hash(prev, body)
        rows.append({"seq": link.seq, "prev": prev, "hash": digest, "body": body})
        prev = digest
    for row in rows:
        execute(
            app,
            "UPDATE audit_record SET prev_hash = :prev, hash = :hash, body = :body "
            "WHERE seq = :seq",
            **row,
        )
    for column, value in changes.items():
        execute(
            app, f"UPDATE audit_record SET {column} = :value WHERE seq = :seq", value=value, seq=seq
        )
    execute(app, "UPDATE audit_head SET hash = :hash WHERE id = 1", hash=prev)
    with app.app_context(), runtime().engine.begin() as connection:
        rebuild_tree(connection)  # the tree hashes too: everything the database holds
    return prev


@pytest.mark.parametrize("forger", ["deletes", "re-signs"])
def test_an_outside_checkpoint_catches_a_wholly_recomputed_chain(
    api: Api, tmp_path: Path, forger: str
) -> None:
    """A wholly recomputed chain and checkpoint table: the checkpoint kept outside catches it."""
    populate(api)
    made = audit(api.app, "checkpoint")
    assert made.exit_code == 0, made.output
    outside = tmp_path / "checkpoint.json"
    outside.write_text(made.stdout)
    at = json.loads(made.stdout)["seq"]
    populate(api)
    victim = views_by(api, "jansen")[0]
    assert victim < at
    rewrite_chain(api.app, victim, party="om", person_id="visser")
    with api.app.app_context():
        rt = runtime()
        execute(api.app, "DELETE FROM audit_checkpoint")
        if forger == "re-signs":  # with the key from the instance folder
            head = {r.seq: r.hash for r in api.audit_records()}
            session = rt.sessions()
            try:
                rt.audit.add_checkpoint(session, sign_checkpoint(rt.checkpoint_key, at, head[at]))
                session.commit()
            finally:
                session.close()
    for flags in ((), ("--deep",)):
        fooled = audit(api.app, "verify", *flags)
        assert fooled.exit_code == 0, "the forgery is not complete: the test proves nothing"
    caught = audit(api.app, "verify", "--checkpoint", str(outside))
    assert caught.exit_code == 1, caught.output
    result = report(caught)
    assert result["is_intact"] is False
    assert f"BROKEN at seq {result['first_bad_seq']}:" in caught.stderr
    if forger == "deletes":
        assert result["reason"] == "checkpoint_mismatch"
        assert result["first_bad_seq"] <= victim
    else:
        assert (result["reason"], result["first_bad_seq"]) == ("checkpoint_conflict", at)


def test_verify_refuses_a_checkpoint_file_that_is_no_checkpoint(api: Api, tmp_path: Path) -> None:
    """--checkpoint with a file that is no checkpoint: an error message, and no verdict."""
    junk = tmp_path / "junk.json"
    junk.write_text('{"seq": "many"}')
    result = audit(api.app, "verify", "--checkpoint", str(junk))
    assert result.exit_code != 0
    assert "Error" in result.stderr and "is_intact" not in result.stdout


# ── export and offline verification ─────────────────────────────────────────────────────────


@pytest.fixture
def offline(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """Runs `broker verify-export` as on another machine: no app, no database, no convenant."""
    nowhere = tmp_path / "nowhere"

    def no_app(*_args: Any, **_kwargs: Any) -> Flask:
        raise AssertionError("verify-export must not build the app")

    monkeypatch.setattr(broker.main, "create_app", no_app)
    env = {
        "BROKER_DATABASE_URL": f"sqlite:///{nowhere / 'missing' / 'broker.db'}",
        "BROKER_INSTANCE_PATH": str(nowhere / "instance"),
        "BROKER_CONVENANT": str(nowhere / "convenant.yaml"),
    }

    def run(lines: list[str], key: str) -> Result:
        export, pem = tmp_path / "export.jsonl", tmp_path / "key.pem"
        export.write_text("\n".join(lines) + "\n", encoding="utf-8")
        pem.write_text(key)
        return CliRunner().invoke(
            cli, ["audit", "verify-export", str(export), "--public-key", str(pem)], env=env
        )

    yield run
    assert not nowhere.exists(), "verify-export touched the app's folders"


def exported(app: Flask, *args: str) -> tuple[list[str], str]:
    """`broker audit export ARGS` lines and the `broker audit public-key` PEM."""
    result = audit(app, "export", *args)
    assert result.exit_code == 0, result.output
    key = audit(app, "public-key")
    assert key.exit_code == 0
    with app.app_context():
        assert key.stdout == public_key_to_pem(runtime().checkpoint_key.public_key()).decode()
    return result.stdout.splitlines(), key.stdout


def record_lines(lines: list[str]) -> list[int]:
    """The indexes of the record lines."""
    return [i for i, line in enumerate(lines) if json.loads(line)["type"] == "record"]


def test_export_verifies_offline_and_names_a_changed_deleted_or_swapped_record(
    api: Api, offline: Any
) -> None:
    """The export verifies offline; a line changed, deleted or swapped exits 1 naming its seq."""
    populate(api)
    assert audit(api.app, "checkpoint").exit_code == 0
    populate(api)
    lines, key = exported(api.app)
    records = record_lines(lines)
    assert [json.loads(lines[i])["seq"] for i in records] == list(range(1, len(records) + 1))
    assert json.loads(lines[0])["type"] == "header"
    intact = offline(lines, key)
    assert intact.exit_code == 0, intact.output
    assert report(intact)["is_intact"] is True
    assert report(intact)["records_checked"] == len(records)
    assert report(intact)["checkpoints_matched"] == 1
    index = next(
        i
        for i in records[len(records) // 2 :]
        if '"outcome":"success"' in json.loads(lines[i])["body"]
    )
    item = json.loads(lines[index])
    seq = item["seq"]
    item["body"] = item["body"].replace('"outcome":"success"', '"outcome":"denied"')
    changed = [*lines[:index], json.dumps(item), *lines[index + 1 :]]
    deleted = [*lines[:index], *lines[index + 1 :]]
    swapped = [*lines[:index], lines[index + 1], lines[index], *lines[index + 2 :]]
    for name, mutated in (("changed", changed), ("deleted", deleted), ("swapped", swapped)):
        result = offline(mutated, key)
        assert result.exit_code == 1, (name, result.output)
        assert report(result)["first_bad_seq"] == seq, name
        assert f"BROKEN at seq {seq}:" in result.stderr, name
    stranger = public_key_to_pem(generate_signing_key().public_key()).decode()
    wrong_key = offline(lines, stranger)
    assert wrong_key.exit_code == 1
    assert report(wrong_key)["reason"] == "checkpoint_signature"


def test_export_of_a_period_starts_at_a_checkpoint_and_verifies_alone(
    api: Api, offline: Any
) -> None:
    """--since after a checkpoint: the export starts right after it and verifies offline."""
    populate(api)
    made = audit(api.app, "checkpoint")
    at = json.loads(made.stdout)["seq"]
    populate(api)
    later = [r for r in api.audit_records() if r.seq > at + 2]
    lines, key = exported(api.app, "--since", later[0].time.isoformat())
    header = json.loads(lines[0])
    seqs = [json.loads(lines[i])["seq"] for i in record_lines(lines)]
    assert header["from_seq"] == at + 1 == seqs[0]
    # the export is audited before it is written, so it ends with its own record
    assert seqs[-1] == header["until_seq"] == later[-1].seq + 1
    assert '"event":"audit.export"' in json.loads(lines[-1])["body"]
    result = offline(lines, key)
    assert result.exit_code == 0, result.output
    assert report(result)["anchor_seq"] == at


def test_verify_export_notices_records_cut_off_the_end(api: Api, offline: Any) -> None:
    """Deleting the last record line of an export is caught, naming its seq."""
    populate(api)
    assert audit(api.app, "checkpoint").exit_code == 0
    lines, key = exported(api.app)
    last = record_lines(lines)[-1]
    result = offline([*lines[:last], *lines[last + 1 :]], key)
    assert result.exit_code == 1, result.output
    assert report(result)["first_bad_seq"] == json.loads(lines[last])["seq"]


def test_export_of_a_period_without_records_holds_none(api: Api) -> None:
    """--since after the last record: a header and the checkpoints, no record lines."""
    populate(api)
    lines, _ = exported(api.app, "--since", "2099-01-01")
    assert record_lines(lines) == []


# ── retention ───────────────────────────────────────────────────────────────────────────────


def purge(app: Flask, now: dt.datetime, dry_run: bool) -> dict[str, Any]:
    """broker.privacy.audit_log.purge_audit at `now`, as the operator."""
    with app.app_context():
        rt = runtime()
        session = rt.sessions()
        try:
            return purge_audit(session, rt, OPERATOR, now, dry_run)
        finally:
            session.close()


def chain_state(app: Flask) -> tuple[list[int], list[int], Any, list[str]]:
    """Record seqs, checkpoint seqs, the verification, and the export verified offline."""
    with app.app_context():
        rt = runtime()
        session = rt.sessions()
        try:
            seqs = [r.seq for r in rt.audit.records(session)]
            kept = [c.seq for c in rt.audit.checkpoints(session)]
            result = verify_log(session, rt, deep=True)
            lines = list(export_lines(session, rt, None, None))
            offline = verify_export(iter(lines), rt.checkpoint_key.public_key())
        finally:
            session.close()
    assert offline.is_intact, offline.description
    return seqs, kept, result, lines


def test_purge_deletes_what_is_due_anchored_by_a_checkpoint_and_audited(api: Api) -> None:
    """Dry runs delete nothing; a purge deletes what is due, anchored, verifiable and audited."""
    populate(api)
    records = api.audit_records()
    head = records[-1].seq
    now = utcnow()
    assert purge(api.app, now, dry_run=False)["records"] == 0
    probe = now + dt.timedelta(days=6 * 365)
    everything = purge(api.app, probe, dry_run=True)
    assert (everything["records"], everything["through_seq"]) == (head, head)
    retention = probe - dt.datetime.fromisoformat(everything["cutoff"])
    assert 5 * 365 <= retention.days <= 5 * 366, "audit records are kept five years"
    assert chain_state(api.app)[:2] == (list(range(1, head + 1)), [])
    k = next(r.seq for r in records[len(records) // 2 :] if r.time < records[r.seq].time)
    middle = records[k - 1].time + (records[k].time - records[k - 1].time) / 2
    dry = purge(api.app, middle + retention, dry_run=True)
    assert (dry["records"], dry["through_seq"], dry["dry_run"]) == (k, k, True)
    assert chain_state(api.app)[:2] == (list(range(1, head + 1)), [])
    done = purge(api.app, middle + retention, dry_run=False)
    assert (done["records"], done["through_seq"], done["dry_run"]) == (k, k, False)
    seqs, kept, result, lines = chain_state(api.app)
    assert seqs == list(range(k + 1, head + 2))
    assert kept == [k]
    assert result.is_intact and result.anchor_seq == k, result.description
    assert (result.purged, result.purged_checked) == (k, True)  # their leaf hashes are kept
    assert json.loads(lines[0])["from_seq"] == k + 1
    entry = api.audit_records()[-1].entry
    assert (entry.event, entry.action, entry.purpose) == ("retention.purge", "delete", "toezicht")
    assert (entry.detail["audit_records"], entry.detail["through_seq"]) == (k, k)
    rest = purge(api.app, probe, dry_run=False)
    assert (rest["records"], rest["through_seq"]) == (head + 1 - k, head + 1)
    seqs, kept, result, _ = chain_state(api.app)
    assert seqs == [head + 2] and kept == [k, head + 1]
    assert result.is_intact and result.anchor_seq == head + 1
    assert (result.purged, result.records_checked) == (head + 1, 1)
    assert result.tree_size == head + 2 and result.tree_root is not None


def test_the_purge_command_reports_what_is_due(api: Api) -> None:
    """`broker purge --dry-run` and `broker purge` report nothing due on a young log."""
    populate(api)
    before = api.audit_records()
    for args in (["purge", "--dry-run"], ["purge"]):
        result = api.app.test_cli_runner().invoke(args=args)
        assert result.exit_code == 0, result.output
        assert json.loads(result.stdout)["audit"]["records"] == 0
    assert api.audit_records() == before


def test_public_key_prints_the_checkpoint_key(api: Api) -> None:
    """`broker audit public-key` prints the PEM that verifies the broker's checkpoints."""
    result = audit(api.app, "public-key")
    assert result.exit_code == 0
    key = load_public_key(result.stdout.encode())
    made = audit(api.app, "checkpoint")
    assert made.exit_code == 0
    assert verify_checkpoint(checkpoint_from_json(made.stdout), [key])
