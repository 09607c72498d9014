"""The audit log's export (JSON lines, audited before a line is written) and its offline
verification, which needs no database: the chain recomputed from the exported bodies and checked
against the signed checkpoints in the export.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from audit import (
    AuditRecordRow,
    Checkpoint,
    Head,
    Link,
    Verification,
    checkpoint_from_json,
    log_checkpoints,
    verify,
)
from broker.core.runtime import Runtime
from broker.storage.models import utcnow

from .audit_log import checkpoint_dict, public_key_pem

__all__ = [
    "EXPORT_FORMAT",
    "export_lines",
    "verify_export",
]


EXPORT_FORMAT = "multiteam-audit-export/v1"


def export_lines(
    session: Session, rt: Runtime, since: dt.datetime | None, until: dt.datetime | None
) -> Iterator[str]:
    """JSON lines: a header, the kept checkpoints, then every record in the period (as stored).

    The range is widened back to the nearest checkpoint so the export verifies on its own.
    """
    checkpoints = rt.audit.checkpoints(session)
    first, last = _seq_bounds(session, since, until)
    header: dict[str, Any] = {
        "type": "header",
        "format": EXPORT_FORMAT,
        "from_seq": None,
        "until_seq": None,
        "until_hash": None,
        "exported_at": utcnow().isoformat(),
        "public_key": public_key_pem(rt),
    }
    if first is None or last is None or last < first:  # nothing in the period
        yield json.dumps(header)
        return
    anchors = [c for c in checkpoints if c.seq < first]
    start = anchors[-1].seq + 1 if anchors else 1
    last_link = next(iter(rt.audit.links(session, since_seq=last, until_seq=last)))
    header.update(from_seq=start, until_seq=last, until_hash=last_link.hash)
    yield json.dumps(header)
    for c in checkpoints:
        if c.seq <= last:
            yield json.dumps({"type": "checkpoint", "checkpoint": checkpoint_dict(c)})
    for log in log_checkpoints(session, up_to=last)[-1:]:  # the newest C2SP checkpoint
        yield json.dumps({"type": "log_checkpoint", "size": log.size, "note": log.note})
    for link in rt.audit.links(session, since_seq=start, until_seq=last):
        yield json.dumps(
            {
                "type": "record",
                "seq": link.seq,
                "prev_hash": link.prev_hash,
                "hash": link.hash,
                "body": link.body.decode("utf-8"),
            },
            ensure_ascii=False,
        )


def _seq_bounds(
    session: Session, since: dt.datetime | None, until: dt.datetime | None
) -> tuple[int | None, int | None]:
    """The first seq at or after `since` and the last before `until` (None when there is none)."""
    seq, time = AuditRecordRow.seq, AuditRecordRow.time
    first = session.scalar(select(func.min(seq)).where(*([time >= since] if since else [])))
    last = session.scalar(select(func.max(seq)).where(*([time < until] if until else [])))
    return first, last


def verify_export(lines: Iterator[str], public_key: Any) -> Verification:
    """Verify an export offline: its records against its checkpoints, the key, and the range
    its header promises (so records cut off the end are found too)."""
    checkpoints: list[Checkpoint] = []
    links: list[Link] = []
    header: dict[str, Any] | None = None
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        item = json.loads(line)
        kind = item.get("type")
        if kind == "header" and header is None and number == 1:
            if item.get("format") != EXPORT_FORMAT:
                raise ValueError(f"line 1: not a {EXPORT_FORMAT} export")
            header = item
        elif kind == "checkpoint":
            checkpoints.append(checkpoint_from_json(json.dumps(item["checkpoint"])))
        elif kind == "log_checkpoint":
            pass  # a C2SP checkpoint: not checked here (no log key is given to this check)
        elif kind == "record":
            body = item["body"].encode("utf-8")
            links.append(Link(item["seq"], item["prev_hash"], item["hash"], body))
        else:
            raise ValueError(f"line {number}: unexpected line type {kind!r}")
    if header is None:
        raise ValueError("line 1: the export has no header")
    until, until_hash = header.get("until_seq"), header.get("until_hash")
    if until is None:
        return verify(links, [], public_key)
    usable = [c for c in checkpoints if c.seq <= until]
    return verify(links, usable, public_key, head=Head(until, until_hash))
