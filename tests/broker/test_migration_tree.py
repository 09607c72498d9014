"""Migration 0010 on a log the previous code wrote (chain v1, JSON columns as SQLAlchemy's
default `json.dumps` wrote them, checkpoints over v1 hashes): it verifies the old log, re-seals
it under chain v2 with its Merkle tree, notes the old head in an `audit.reseal` record, and the
result verifies whole; a log that does not verify is refused and left as it was; downgrading
gives the v1 chain back."""

from __future__ import annotations

import hashlib
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from alembic import command
from sqlalchemy import JSON, Column, Engine, MetaData, Table, insert, inspect, select, text, update

from audit import (
    GENESIS_HASH,
    AuditCheckpointRow,
    AuditEntry,
    AuditHeadRow,
    AuditRecordRow,
    CanonicalJSON,
    SqlAuditStore,
    encode,
    generate_signing_key,
    leaf_hash,
    sign_checkpoint,
    verify_store,
)
from audit.tlog.merkle import merkle_tree_hash, stored_hash_count
from broker.storage.db import session_factory
from broker.storage.migrate import alembic_config, upgrade

T0 = datetime(2025, 6, 1, 8, 0, tzinfo=UTC)
V1 = b"multiteam.audit.chain.v1\x00"
# audit_record as the previous code declared it: plain JSON columns, written by json.dumps.
OLD_RECORD = Table(
    "audit_record",
    MetaData(),
    *(
        Column(c.name, JSON() if isinstance(c.type, CanonicalJSON) else c.type)
        for c in AuditRecordRow.__table__.columns
    ),
)


def v1_hash(prev_hash: str, body: bytes) -> str:
    """The v1 link: SHA-256 over the domain, the previous hash and the body."""
    return hashlib.sha256(V1 + bytes.fromhex(prev_hash) + body).hexdigest()


def entry(i: int) -> AuditEntry:
    return AuditEntry(
        event="case.view",
        action="read",
        outcome="success" if i % 4 else "denied",
        person_id=f"politie:agent-{i % 3}",
        person_name="Ünal de Vries",
        party="politie",
        role="case_worker",
        purpose="casusoverleg",
        subject=f"psn:s{i % 5}",
        case_id=f"case-{i % 2}",
        fields_disclosed={"surname": "show", "bsn": "mask"},
        fields_withheld=("care_details",),
        detail={"status": 200, "note": "vóór"},
    )


def write_v1_log(engine: Engine, count: int) -> list[dict[str, Any]]:
    """A log as the code before 0010 wrote it, with a signed checkpoint at seq 4."""
    rows: list[dict[str, Any]] = []
    prev_hash = GENESIS_HASH
    for seq in range(1, count + 1):
        e, when, event_id = entry(seq), T0 + timedelta(seconds=seq), str(uuid.uuid4())
        body = encode(seq, event_id, when, e)
        digest = v1_hash(prev_hash, body)
        row = {c.name: getattr(e, c.name) for c in OLD_RECORD.c if hasattr(e, c.name)}
        row.update(
            seq=seq,
            event_id=event_id,
            time=when,
            prev_hash=prev_hash,
            hash=digest,
            fields_disclosed=dict(e.fields_disclosed),
            fields_withheld=list(e.fields_withheld),
            detail=dict(e.detail),
            body=body,
        )
        rows.append(row)
        prev_hash = digest
    key = generate_signing_key()
    with engine.begin() as connection:
        connection.execute(insert(OLD_RECORD), rows)
        connection.execute(
            update(AuditHeadRow).values(seq=count, hash=prev_hash, time=rows[-1]["time"])
        )
        cp = sign_checkpoint(key, 4, rows[3]["hash"])
        connection.execute(
            insert(AuditCheckpointRow).values(
                seq=cp.seq,
                key_id=cp.key_id,
                head_hash=cp.head_hash,
                time=cp.time,
                signature=cp.signature,
            )
        )
    return rows


def version(engine: Engine) -> str:
    with engine.connect() as connection:
        return str(connection.execute(text("SELECT version_num FROM alembic_version")).scalar())


def test_an_existing_log_is_re_sealed_with_its_tree_and_verifies(db_engine: Engine) -> None:
    """Upgraded, the old log verifies whole under v2; its tree is the bodies' tree; the old
    head and checkpoint are named in the audit.reseal record that ends it."""
    upgrade(db_engine, "0008")
    rows = write_v1_log(db_engine, 11)
    with db_engine.connect() as connection:
        stored = connection.execute(text("SELECT CAST(detail AS TEXT) FROM audit_record")).scalar()
    assert stored == '{"note": "v\\u00f3\\u00f3r", "status": 200}'  # not canonical
    upgrade(db_engine, "0010")
    assert version(db_engine) == "0010"
    store = SqlAuditStore()
    with session_factory(db_engine)() as session:
        result = verify_store(store, session)
        links = list(store.links(session))
        reseal = list(store.records(session, since_seq=12))
        checkpoints = store.checkpoints(session)
    assert result.is_intact, result.description
    assert (result.records_checked, result.last_seq, result.columns_checked) == (12, 12, True)
    assert [link.body for link in links[:11]] == [row["body"] for row in rows]  # same records
    assert all(link.hash != row["hash"] for link, row in zip(links, rows, strict=False))
    assert result.tree_root == merkle_tree_hash([leaf_hash(link.body) for link in links]).hex()
    assert result.tree_hashes_checked == stored_hash_count(12)
    (record,) = reseal
    assert (record.entry.event, record.entry.action) == ("audit.reseal", "update")
    assert record.entry.detail["old_head_seq"] == 11
    assert record.entry.detail["old_head_hash"] == rows[-1]["hash"]
    assert record.entry.detail["last_checkpoint_seq"] == 4
    assert record.entry.detail["last_checkpoint_hash"] == rows[3]["hash"]
    assert checkpoints == []  # they signed v1 hashes


@pytest.mark.parametrize("tampering", ["column", "body", "past head", "purged"])
def test_a_log_that_does_not_verify_is_refused_and_left_as_it_was(
    db_engine: Engine, tampering: str
) -> None:
    """A changed column or body, a record past the head or a purged start: the upgrade stops
    naming what it found, and the database stays at 0008 with the log untouched."""
    upgrade(db_engine, "0008")
    rows = write_v1_log(db_engine, 8)
    with db_engine.begin() as connection:
        if tampering == "column":
            connection.execute(update(OLD_RECORD).where(OLD_RECORD.c.seq == 5).values(party="om"))
        elif tampering == "body":
            body = rows[4]["body"].replace(b'"party":"politie"', b'"party":"om"')
            connection.execute(update(OLD_RECORD).where(OLD_RECORD.c.seq == 5).values(body=body))
        elif tampering == "past head":
            connection.execute(update(AuditHeadRow).values(seq=7, hash=rows[6]["hash"]))
        else:
            connection.execute(OLD_RECORD.delete().where(OLD_RECORD.c.seq <= 4))
    with db_engine.connect() as connection:
        before = connection.execute(select(OLD_RECORD).order_by(OLD_RECORD.c.seq)).all()
    with pytest.raises(RuntimeError, match="cannot be migrated") as refused:
        upgrade(db_engine)
    named = {"column": "record 5", "body": "record 5", "past head": "record 8", "purged": "purged"}
    assert named[tampering] in str(refused.value)
    assert version(db_engine) == "0008"
    assert "audit_tree_hash" not in inspect(db_engine).get_table_names()
    with db_engine.connect() as connection:
        assert connection.execute(select(OLD_RECORD).order_by(OLD_RECORD.c.seq)).all() == before


def test_downgrading_gives_the_v1_chain_back(db_engine: Engine) -> None:
    """Down to 0008: every record chains under v1 again, the tree is gone; up again verifies."""
    upgrade(db_engine, "0008")
    write_v1_log(db_engine, 6)
    upgrade(db_engine)
    config = alembic_config()
    with db_engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "0008")
    assert "audit_tree_hash" not in inspect(db_engine).get_table_names()
    with db_engine.connect() as connection:
        links = connection.execute(
            select(
                OLD_RECORD.c.seq, OLD_RECORD.c.prev_hash, OLD_RECORD.c.hash, OLD_RECORD.c.body
            ).order_by(OLD_RECORD.c.seq)
        ).all()
        head = connection.execute(select(AuditHeadRow.seq, AuditHeadRow.hash)).one()
    prev_hash = GENESIS_HASH
    for seq, prev, digest, body in links:
        assert prev == prev_hash and digest == v1_hash(prev, body), seq
        prev_hash = digest
    assert head == (7, prev_hash)  # the audit.reseal record stays, as a record
    upgrade(db_engine)
    with session_factory(db_engine)() as session:
        again = verify_store(SqlAuditStore(), session)
    assert again.is_intact and again.records_checked == 8, again.description
