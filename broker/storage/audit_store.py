"""Periodic signed checkpoints: whichever path appends audit records, once a commit carries
the chain across a multiple of CHECKPOINT_EVERY, the new head is signed."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import structlog
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import event
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from audit import AuditEntry, AuditError, AuditRecord, SqlAuditStore, sign_checkpoint

__all__ = ["CheckpointingAuditStore"]

_PENDING = "broker.audit_appended"


class CheckpointingAuditStore(SqlAuditStore):
    """The SQL audit store, noting on the session which seqs a transaction appended."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        key: Ed25519PrivateKey,
        every: int,
        clock: Callable[..., Any] | None = None,
    ) -> None:
        super().__init__(clock)
        self._sessions = sessions
        self._key = key
        self._every = every
        if every > 0:
            event.listen(sessions, "after_commit", self._after_commit)
            event.listen(sessions, "after_rollback", self._forget)

    def append(self, session: Session, entries: Sequence[AuditEntry]) -> list[AuditRecord]:
        records = super().append(session, entries)
        if records:
            first, _ = session.info.get(_PENDING, (records[0].seq, 0))
            session.info[_PENDING] = (first, records[-1].seq)
        return records

    @staticmethod
    def _forget(session: Session) -> None:
        session.info.pop(_PENDING, None)

    def _after_commit(self, session: Session) -> None:
        appended = session.info.pop(_PENDING, None)
        if appended is None:
            return
        first, last = appended
        if last // self._every > (first - 1) // self._every:
            self.sign_head()

    def sign_head(self) -> None:
        """Sign a checkpoint of the head in its own transaction; a failure is logged, not
        raised (the records are committed; the next crossing or `broker audit checkpoint`
        signs again)."""
        session = self._sessions()
        try:
            head = self.head(session)
            if head.seq and not any(c.seq == head.seq for c in self.checkpoints(session)[-1:]):
                self.add_checkpoint(session, sign_checkpoint(self._key, head.seq, head.hash))
            session.commit()
        except (AuditError, SQLAlchemyError, OSError) as exc:
            session.rollback()
            structlog.get_logger("broker").warning(
                "checkpoint_failed", error_type=type(exc).__name__
            )
        finally:
            session.close()
