"""The acting Context (who asks, in which role, for which purpose) and the audited commit every use
case ends with: the audit records are appended in the transaction of the writes, or nothing is
stored and nothing leaves (503).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from audit import AuditEntry, AuditError
from broker.identity.actors import Actor
from broker.storage.db import begin_writing

from .problems import Problem
from .runtime import Runtime

__all__ = [
    "Context",
    "audit_and_commit",
]


@dataclass(frozen=True)
class Context:
    """Who asks, how, and for what: everything an audit record needs besides the event."""

    actor: Actor | None
    request_id: str | None
    source_address: str | None
    role: str | None = None
    purpose: str | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)

    def entry(self, event: str, action: str, outcome: str, **kw: Any) -> AuditEntry:
        """An audit entry for this context."""
        a = self.actor
        person = a if a is not None and not a.is_client else None
        fields: dict[str, Any] = {
            # a partner system is named by its client_id alone
            "person_id": person.username if person else None,
            "person_name": person.name if person else None,
            "role": self.role,
            "party": a.party if a else None,
            "client_id": a.client_id if a else None,
            "purpose": self.purpose,
            "request_id": self.request_id,
            "source_address": self.source_address,
        }
        fields.update(kw)
        return AuditEntry(event=event, action=action, outcome=outcome, **fields)


def audit_and_commit(session: Session, rt: Runtime, entries: Sequence[AuditEntry]) -> None:
    """Append the audit records and commit; 503 Problem (and nothing stored) when that fails."""
    try:
        begin_writing(session)
        rt.audit.append(session, entries)
        session.commit()
    except (AuditError, SQLAlchemyError, OSError):
        session.rollback()
        raise Problem(
            503,
            "audit_unavailable",
            "The audit log could not be written, so nothing was done and no data "
            "was sent. Try again later.",
            audit={"skip": True},
        ) from None
