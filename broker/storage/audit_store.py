"""Periodic signed checkpoints: whichever path appends audit records, once a commit carries
the chain across a multiple of CHECKPOINT_EVERY, the new head is signed; and after a commit
that appended, when the newest C2SP checkpoint (`audit.log_checkpoints`) is older than
`log_interval` seconds (60) and the tree grew, a new one is signed with the log key. Neither
signing can make an append fail: the records are committed first, a failure is logged."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

import structlog
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import event
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from audit import (
    AuditEntry,
    AuditError,
    AuditRecord,
    SqlAuditStore,
    latest_log_checkpoint,
    make_log_checkpoint,
    sign_checkpoint,
)
from audit.tlog import Signer

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
        *,
        log_signer: Callable[[], Signer] | None = None,
        log_interval: float = 60.0,
    ) -> None:
        super().__init__(clock)
        self._sessions = sessions
        self._key = key
        self._every = every
        self.log_signer = log_signer
        self.log_interval = log_interval
        self._log_due = 0.0  # time.monotonic() before which no C2SP checkpoint is looked at
        if every > 0 or log_signer is not None:
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
        if self._every > 0 and last // self._every > (first - 1) // self._every:
            self.sign_head()
        if self.log_signer is not None and time.monotonic() >= self._log_due:
            self.sign_log_checkpoint()

    def sign_log_checkpoint(self) -> None:
        """Sign a C2SP checkpoint of the tree in its own transaction when the newest is older
        than `log_interval` seconds and the tree grew since; never raises (a failure is
        logged: the next commit after the interval tries again)."""
        assert self.log_signer is not None
        self._log_due = time.monotonic() + self.log_interval
        session = self._sessions()
        try:
            now: datetime = self._clock()
            latest = latest_log_checkpoint(session)
            age = None if latest is None else (now - latest.time).total_seconds()
            if age is not None and age < self.log_interval:
                self._log_due = time.monotonic() + self.log_interval - age
            elif latest is None or self.head(session).seq > latest.size:
                make_log_checkpoint(session, self, self.log_signer(), now)
                session.commit()
        except Exception as exc:  # signing must never fail an append
            session.rollback()
            structlog.get_logger("broker").warning(
                "log_checkpoint_failed", error_type=type(exc).__name__
            )
        finally:
            session.close()

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
