"""Typed SQLAlchemy 2 models: persons, OAuth clients and codes, young people, cases, signals and
their values, track history, match keys, notifications, plan versions, rights actions and
objections."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Date,
    DateTime,
    ForeignKey,
    Index,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

__all__ = [
    "AuthorizationCode",
    "Base",
    "Case",
    "FieldValue",
    "MatchKey",
    "Notification",
    "OAuthClient",
    "Objection",
    "Person",
    "PlanVersion",
    "RightsAction",
    "Signal",
    "TrackChange",
    "YoungPerson",
    "new_id",
    "utcnow",
]


def utcnow() -> dt.datetime:
    """The current time, timezone-aware UTC."""
    return dt.datetime.now(dt.UTC)


def new_id(prefix: str) -> str:
    """A random, unguessable identifier with a readable prefix."""
    return f"{prefix}-{uuid.uuid4().hex}"


class UTCDateTime(TypeDecorator[dt.datetime]):
    """A timestamp stored as UTC and always returned timezone-aware (also on SQLite)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are not stored")
        return value.astimezone(dt.UTC)

    def process_result_value(self, value: Any, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.UTC)
        return value.astimezone(dt.UTC)


JSONValue = JSON().with_variant(JSONB(), "postgresql")


class Base(DeclarativeBase):
    """The broker's tables (the audit log has its own metadata in `audit`)."""

    type_annotation_map: ClassVar[dict[Any, Any]] = {dt.datetime: UTCDateTime()}


class Person(Base):
    """A person who uses the broker: a professional of a party, with roles."""

    __tablename__ = "persons"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    party: Mapped[str] = mapped_column(String(64))
    roles: Mapped[list[str]] = mapped_column(JSONValue)
    disabled: Mapped[bool] = mapped_column(default=False)
    # when the person was last disabled (kept when enabled again): tokens issued before it
    # are refused, so enabling does not revive them
    disabled_at: Mapped[dt.datetime | None]
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    # scrypt hash (broker.passwords); None: the person cannot log in, only get operator tokens
    password_hash: Mapped[str | None] = mapped_column(String(200))
    # base32 TOTP secret (broker.totp); None: not enrolled. Never logged, audited or shown again.
    totp_secret: Mapped[str | None] = mapped_column(String(64))
    # the last time step whose code was accepted: a code is never accepted twice
    totp_last_step: Mapped[int | None] = mapped_column(BigInteger)


class OAuthClient(Base):
    """A system that asks the broker for tokens: a partner system (client credentials) or an
    application persons log in to (authorization code with PKCE). It belongs to a party."""

    __tablename__ = "oauth_clients"

    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[str] = mapped_column(String(64), unique=True)
    # SHA-256 of the secret (broker.passwords); None for a public client (PKCE only)
    secret_hash: Mapped[str | None] = mapped_column(String(200))
    name: Mapped[str] = mapped_column(String(200))
    party: Mapped[str] = mapped_column(String(64))
    grant_types: Mapped[list[str]] = mapped_column(JSONValue)
    redirect_uris: Mapped[list[str]] = mapped_column(JSONValue)
    scopes: Mapped[list[str]] = mapped_column(JSONValue)
    disabled: Mapped[bool] = mapped_column(default=False)
    # when the client was last disabled (kept when enabled again): tokens issued before it,
    # its own and its persons', are refused, so enabling does not revive them
    disabled_at: Mapped[dt.datetime | None]
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    secret_changed_at: Mapped[dt.datetime | None]


class AuthorizationCode(Base):
    """A one-time authorization code (stored as its SHA-256), bound to client, person,
    redirect URI and PKCE challenge; `used_at` is set when it is exchanged for a token."""

    __tablename__ = "oauth_authorization_codes"

    id: Mapped[int] = mapped_column(primary_key=True)
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    client_id: Mapped[str] = mapped_column(ForeignKey("oauth_clients.client_id"), index=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("persons.id"))
    redirect_uri: Mapped[str] = mapped_column(Text)
    scope: Mapped[str] = mapped_column(Text, default="")
    code_challenge: Mapped[str] = mapped_column(String(128))
    code_challenge_method: Mapped[str] = mapped_column(String(8))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[dt.datetime]
    used_at: Mapped[dt.datetime | None]


class YoungPerson(Base):
    """A young person, known only by a keyed pseudonym of the BSN (or of the fallback identity)."""

    __tablename__ = "young_people"

    id: Mapped[int] = mapped_column(primary_key=True)
    subject_key: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    cases: Mapped[list[Case]] = relationship(back_populates="young_person")


class Case(Base):
    """A case about one young person; at most one open case per young person."""

    __tablename__ = "cases"
    __table_args__ = (
        Index(
            "one_open_case_per_young_person",
            "young_person_id",
            unique=True,
            sqlite_where=text("closed_at IS NULL"),
            postgresql_where=text("closed_at IS NULL"),
        ),
        Index("cases_by_track", "track"),
    )

    id: Mapped[str] = mapped_column(String(48), primary_key=True, default=lambda: new_id("case"))
    young_person_id: Mapped[int] = mapped_column(ForeignKey("young_people.id"))
    track: Mapped[str] = mapped_column(String(64))
    case_director_id: Mapped[int | None] = mapped_column(ForeignKey("persons.id"))
    opened_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    closed_at: Mapped[dt.datetime | None]
    close_reason: Mapped[str | None] = mapped_column(String(200))
    closed_by_id: Mapped[int | None] = mapped_column(ForeignKey("persons.id"))
    # set when retention removed the case's identifying data; the row and its track history
    # stay (no values), so the monitoring figures of past periods do not change
    purged_at: Mapped[dt.datetime | None]
    # the wijk at the time of the purge, kept for the figures only (a coarse area, no address)
    wijk_at_purge: Mapped[str | None] = mapped_column(String(64))

    young_person: Mapped[YoungPerson] = relationship(back_populates="cases")
    case_director: Mapped[Person | None] = relationship(foreign_keys=[case_director_id])
    track_changes: Mapped[list[TrackChange]] = relationship(
        back_populates="case", order_by="TrackChange.id"
    )


class TrackChange(Base):
    """One step in a case's track history: who decided it, when and why."""

    __tablename__ = "track_changes"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id"), index=True)
    # "track" (a track assigned), "director" (only the case director changed), "close"
    kind: Mapped[str] = mapped_column(String(16), default="track", server_default="track")
    from_track: Mapped[str | None] = mapped_column(String(64))
    to_track: Mapped[str] = mapped_column(String(64))
    # the case director from this step on (None: unchanged or none)
    case_director_id: Mapped[int | None] = mapped_column(ForeignKey("persons.id"))
    reason: Mapped[str] = mapped_column(Text)
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("persons.id"))
    decided_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    case: Mapped[Case] = relationship(back_populates="track_changes")
    decided_by: Mapped[Person | None] = relationship(foreign_keys=[decided_by_id])


class Signal(Base):
    """A signal a party submitted about a young person."""

    __tablename__ = "signals"

    id: Mapped[str] = mapped_column(String(48), primary_key=True, default=lambda: new_id("sig"))
    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id"), index=True)
    party: Mapped[str] = mapped_column(String(64))
    person_id: Mapped[int | None] = mapped_column(ForeignKey("persons.id"))
    client_id: Mapped[str | None] = mapped_column(String(128))
    summary: Mapped[str | None] = mapped_column(Text)
    regime: Mapped[str] = mapped_column(String(16))
    received_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class FieldValue(Base):
    """One supplied value with its provenance: party, person, time and regime."""

    __tablename__ = "field_values"
    __table_args__ = (Index("field_values_by_case", "case_id", "field", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id"))
    signal_id: Mapped[str] = mapped_column(ForeignKey("signals.id"), index=True)
    field: Mapped[str] = mapped_column(String(64))
    value: Mapped[Any] = mapped_column(JSONValue)
    party: Mapped[str] = mapped_column(String(64))
    person_id: Mapped[int | None] = mapped_column(ForeignKey("persons.id"))
    regime: Mapped[str] = mapped_column(String(16))
    supplied_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    # set when the privacy officer corrected this value: it is no longer shown to anyone
    superseded_at: Mapped[dt.datetime | None]
    # the correction that entered this value (the privacy officer's, on the supplier's behalf)
    correction_id: Mapped[int | None] = mapped_column(ForeignKey("rights_actions.id"))


class MatchKey(Base):
    """A keyed hash (HMAC) of an address or a parent of a case's young person, so triage can
    flag matches between young people the way the Verwijsindex does, without comparing values."""

    __tablename__ = "match_keys"
    __table_args__ = (
        Index("match_keys_by_key", "kind", "key"),
        UniqueConstraint("case_id", "kind", "key", name="one_match_key_per_case"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # "address" or "parent"
    key: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class Notification(Base):
    """A message to one person about a case (never a field value), with its read state."""

    __tablename__ = "notifications"
    __table_args__ = (Index("notifications_by_person", "person_id", "read_at", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("persons.id"))
    case_id: Mapped[str | None] = mapped_column(ForeignKey("cases.id"))
    kind: Mapped[str] = mapped_column(String(32))
    message: Mapped[str] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    read_at: Mapped[dt.datetime | None]


class PlanVersion(Base):
    """One version of a case's plan of approach; a new version never changes an older one."""

    __tablename__ = "plan_versions"
    __table_args__ = (UniqueConstraint("case_id", "version", name="one_plan_version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id"), index=True)
    version: Mapped[int]
    concerns: Mapped[str] = mapped_column(Text)
    goals: Mapped[list[str]] = mapped_column(JSONValue)
    # [{"party": ..., "agreement": ...}]
    agreements: Mapped[list[dict[str, str]]] = mapped_column(JSONValue)
    review_date: Mapped[dt.date | None] = mapped_column(Date)
    author_id: Mapped[int] = mapped_column(ForeignKey("persons.id"))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class Objection(Base):
    """A young person's objection, recorded by the privacy officer: a restriction on sharing,
    for this young person only, layered over the convenant (withholds, never widens)."""

    __tablename__ = "objections"

    id: Mapped[int] = mapped_column(primary_key=True)
    young_person_id: Mapped[int] = mapped_column(ForeignKey("young_people.id"), index=True)
    # fields and/or categories of the convenant that are withheld
    targets: Mapped[list[str]] = mapped_column(JSONValue)
    # the receiving parties it applies to; empty: every party
    parties: Mapped[list[str]] = mapped_column(JSONValue)
    reason: Mapped[str] = mapped_column(Text)
    recorded_by_id: Mapped[int] = mapped_column(ForeignKey("persons.id"))
    recorded_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    lifted_at: Mapped[dt.datetime | None]
    lifted_by_id: Mapped[int | None] = mapped_column(ForeignKey("persons.id"))


class RightsAction(Base):
    """A correction or deletion the privacy officer made for a young person, with its reason
    (objections have their own table). Removed with the case's identifying data at retention."""

    __tablename__ = "rights_actions"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))  # "correction" or "deletion"
    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id"), index=True)
    field: Mapped[str | None] = mapped_column(String(64))  # the corrected field
    signal_id: Mapped[str | None] = mapped_column(String(48))  # the deleted signal (gone)
    reason: Mapped[str] = mapped_column(Text)
    recorded_by_id: Mapped[int] = mapped_column(ForeignKey("persons.id"))
    recorded_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
