"""Errors of the audit log: values that know their code, description and HTTP shape."""

from __future__ import annotations

__all__ = ["AuditEntryError", "AuditError", "AuditWriteError", "CheckpointError"]


class AuditError(Exception):
    """Base of every audit error; carries a stable `code` and a human `description`."""

    code = "audit_error"
    status_code = 500

    def __init__(self, description: str) -> None:
        self.description = description
        super().__init__(description)


class AuditEntryError(AuditError, ValueError):
    """An audit entry that may not be written: malformed, or it looks like it carries a value."""

    code = "audit_entry_invalid"
    status_code = 500


class AuditWriteError(AuditError):
    """The audit record could not be written; nothing may leave the broker (fail closed)."""

    code = "audit_unavailable"
    status_code = 503


class CheckpointError(AuditError, ValueError):
    """A checkpoint document or key that cannot be read."""

    code = "checkpoint_invalid"
    status_code = 422
