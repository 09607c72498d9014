"""The audit log becomes a Merkle tree: `audit_tree_hash`, and the chain over leaf hashes.

Every record's canonical bytes become a leaf of an RFC 9162 tree whose complete subtree hashes
are stored in `audit_tree_hash` (tlog positions, `audit.tree`), and the chain links each record
through its leaf hash instead of its body (chain v2, `audit.chain`): each body is hashed once
when the log is verified.

Upgrading an existing log:

1. verify it as it is, with the v1 chain (SHA-256("multiteam.audit.chain.v1\\0" ‖ prev ‖ body)):
   every seq from 1 to the recorded head once and in order, each link and hash, every kept
   checkpoint's hash, nothing past the head, and every column against its body. A log that
   does not verify is not migrated: the upgrade stops naming the first bad seq (restore it from
   a backup, or find out what happened, first). A log whose first records were already purged
   cannot be given a tree (their bodies, hence their leaf hashes, are gone) and stops too;
2. re-seal it: each record's links under chain v2, its JSON columns rewritten as the canonical
   fragments its body holds (same values), the tree hashes stored, the head moved;
3. remove the kept checkpoints, which sign v1 hashes no longer in the log (checkpoints kept
   outside the broker vouch for the v1 chain: verify them against a backup from before);
4. append one record, `audit.reseal`, naming the old head (seq and v1 hash) and the last
   checkpoint removed, so that the new chain itself says what it replaced; the same goes to
   the migration's log. Sign a new checkpoint right after (`broker audit checkpoint`).

Downgrading verifies the v2 chain, re-seals every record under v1 (the `audit.reseal` record
stays, as a record), removes the checkpoints (they sign v2 hashes) and drops the tree.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-27 12:00:00.000000
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable, Iterator
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from audit import (
    ENCODING_PREFIX,
    GENESIS_HASH,
    AuditCheckpointRow,
    AuditEntry,
    AuditHeadRow,
    AuditRecordRow,
    AuditTreeHashRow,
    Frontier,
    SqlAuditStore,
    column_problem,
    leaf_hash,
    link_hash,
)
from audit.reader import _row_chunks
from audit.tlog.merkle import stored_hash_count

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

_LOG = logging.getLogger("alembic.runtime.migration")
_V1_DOMAIN = b"multiteam.audit.chain.v1\x00"
_BATCH = 2000

Link = Callable[[str, bytes], str]  # (prev_hash, body) -> hash


def _v1(prev_hash: str, body: bytes) -> str:
    return hashlib.sha256(_V1_DOMAIN + bytes.fromhex(prev_hash) + body).hexdigest()


def _v2(prev_hash: str, body: bytes) -> str:
    return link_hash(prev_hash, leaf_hash(body))


def upgrade() -> None:
    op.create_table(
        "audit_tree_hash",
        sa.Column(
            "idx",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=False,
            nullable=False,
        ),
        sa.Column("hash", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("idx", name=op.f("pk_audit_tree_hash")),
    )
    bind = op.get_bind()
    head = _head(bind)
    if head is None or head[0] == 0:
        return  # a log with no record yet: nothing to re-seal
    removed = _checkpoints(bind)
    _reseal(bind, head, old=_v1, new=_v2, checkpoints=removed, tree=True)
    last = removed[-1] if removed else None
    detail: dict[str, Any] = {
        "old_chain": "v1",
        "old_head_seq": head[0],
        "old_head_hash": head[1],
        "checkpoints_removed": len(removed),
        "last_checkpoint_seq": last[0] if last else None,
        "last_checkpoint_hash": last[1] if last else None,
    }
    session = Session(bind=bind)
    try:
        (record,) = SqlAuditStore().append(
            session,
            [AuditEntry(event="audit.reseal", action="update", outcome="success", detail=detail)],
        )
    finally:
        session.close()
    _LOG.info(
        "audit log re-sealed under chain v2 with its Merkle tree: old head seq %s hash %s "
        "(v1); %s checkpoint(s) removed; recorded as audit.reseal at seq %s. Sign a new "
        "checkpoint now (broker audit checkpoint).",
        head[0],
        head[1],
        len(removed),
        record.seq,
    )


def downgrade() -> None:
    bind = op.get_bind()
    head = _head(bind)
    if head is not None and head[0] > 0:
        _reseal(bind, head, old=_v2, new=_v1, checkpoints=_checkpoints(bind), tree=False)
        _LOG.info("audit log re-sealed under chain v1; the checkpoints were removed")
    op.drop_table("audit_tree_hash")


def _head(bind: Connection) -> tuple[int, str] | None:
    row = bind.execute(sa.select(AuditHeadRow.seq, AuditHeadRow.hash)).first()
    return None if row is None else (int(row[0]), str(row[1]))


def _checkpoints(bind: Connection) -> list[tuple[int, str]]:
    table = AuditCheckpointRow.__table__.c
    query = sa.select(table.seq, table.head_hash).order_by(table.seq, table.key_id)
    return [(int(seq), str(digest)) for seq, digest in bind.execute(query)]


def _refuse(problem: str) -> RuntimeError:
    return RuntimeError(
        f"the audit log cannot be migrated: {problem}. Nothing was changed; run "
        "`broker audit verify` on the old version, restore the log from a backup or find out "
        "what happened first."
    )


def _rows(bind: Connection, head_seq: int) -> Iterator[tuple[Any, ...]]:
    for chunk in _row_chunks(bind, 1, head_seq):
        yield from chunk


def _reseal(
    bind: Connection,
    head: tuple[int, str],
    *,
    old: Link,
    new: Link,
    checkpoints: list[tuple[int, str]],
    tree: bool,
) -> None:
    """Verify the chain under `old` (refuse when it does not verify), then rewrite every link
    under `new`, the JSON columns canonical, the tree hashes when `tree`, the head; remove the
    checkpoints."""
    records = AuditRecordRow.__table__.c
    first = bind.execute(sa.select(sa.func.min(records.seq))).scalar()
    if first is None or first != 1:
        raise _refuse(
            "its first records were purged before the tree existed, so their leaf hashes "
            "cannot be computed"
            if first is not None
            else f"the head names seq {head[0]} but no record is stored"
        )
    past = bind.execute(sa.select(sa.func.min(records.seq)).where(records.seq > head[0])).scalar()
    if past is not None:
        raise _refuse(f"record {past} is stored past the recorded head {head[0]}")
    vouched: dict[int, set[str]] = {}
    for seq, digest in checkpoints:
        vouched.setdefault(seq, set()).add(digest)
    update = (
        sa.update(AuditRecordRow.__table__)
        .where(records.seq == sa.bindparam("at"))
        .values(
            prev_hash=sa.bindparam("new_prev"),
            hash=sa.bindparam("new_hash"),
            fields_disclosed=sa.bindparam("new_disclosed", type_=records.fields_disclosed.type),
            fields_withheld=sa.bindparam("new_withheld", type_=records.fields_withheld.type),
            detail=sa.bindparam("new_detail", type_=records.detail.type),
        )
    )
    frontier = Frontier()
    expected, last_old, last_new = 1, GENESIS_HASH, GENESIS_HASH
    changes: list[dict[str, Any]] = []
    hashes: list[dict[str, Any]] = []
    for row in _rows(bind, head[0]):
        seq, prev_hash, digest, body = row[0], row[1], row[2], bytes(row[3])
        if seq != expected:
            raise _refuse(f"record {expected} is missing")
        if prev_hash != last_old or old(prev_hash, body) != digest:
            raise _refuse(f"record {seq} does not chain to the record before it or its hash")
        if seq in vouched and vouched[seq] != {digest}:
            raise _refuse(f"the checkpoint at seq {seq} does not match the chain")
        problem = column_problem(row)
        if problem is not None:
            raise _refuse(problem.description)
        entry = json.loads(body[len(ENCODING_PREFIX) :])["entry"]
        next_hash = new(last_new, body)
        changes.append(
            {
                "at": seq,
                "new_prev": last_new,
                "new_hash": next_hash,
                "new_disclosed": entry["fields_disclosed"],
                "new_withheld": entry["fields_withheld"],
                "new_detail": entry["detail"],
            }
        )
        if tree:
            start = stored_hash_count(frontier.size)
            stored = frontier.extend([leaf_hash(body)])
            hashes.extend({"idx": start + i, "hash": h} for i, h in enumerate(stored))
        last_old, last_new, expected = digest, next_hash, expected + 1
        if len(changes) >= _BATCH:
            _write(bind, update, changes, hashes)
    if expected != head[0] + 1 or last_old != head[1]:
        raise _refuse(f"the log ends at seq {expected - 1}, not at its head {head[0]}")
    missing = sorted(seq for seq in vouched if seq > head[0])
    if missing:
        raise _refuse(f"the checkpoint at seq {missing[0]} vouches for records not stored")
    _write(bind, update, changes, hashes)
    bind.execute(sa.update(AuditHeadRow).where(AuditHeadRow.id == 1).values(hash=last_new))
    bind.execute(sa.delete(AuditCheckpointRow))
    if not tree:
        return
    count = bind.execute(sa.select(sa.func.count()).select_from(AuditTreeHashRow)).scalar()
    if count != stored_hash_count(frontier.size):
        raise _refuse("the tree hashes could not all be written")


def _write(
    bind: Connection, update: Any, changes: list[dict[str, Any]], hashes: list[dict[str, Any]]
) -> None:
    if changes:
        bind.execute(update, changes)
        changes.clear()
    if hashes:
        bind.execute(sa.insert(AuditTreeHashRow), hashes)
        hashes.clear()
