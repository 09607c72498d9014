"""The broker's runtime: convenant, database, keys, tokens and audit store, bound to the app."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from flask import Flask, current_app, g, request
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

import policies
from broker.identity.keys import KeyRing, audit_signing_key, instance_secret
from broker.identity.log_key import LogKey
from broker.identity.tokens import CLOCK_SKEW, MAX_TTL, TokenService
from broker.storage.audit_store import CheckpointingAuditStore
from broker.storage.db import make_engine, reading_first, session_factory

from .validation import SignalValidator

__all__ = ["CLOCK_SKEW", "Runtime", "db_session", "runtime", "transaction"]


@dataclass
class Runtime:
    """What every request needs, built once per app in `create_app`."""

    convenant: policies.Convenant
    engine: Engine
    sessions: sessionmaker[Session]
    audit: CheckpointingAuditStore
    keyring: KeyRing
    token_settings: TokenService  # issuer, audience, ttl, clock; keys come from `keyring`
    subject_secret: bytes
    pseudonym_key: bytes
    instance: Path
    validator: SignalValidator
    checkpoint_key: Ed25519PrivateKey
    log_key: LogKey  # the C2SP checkpoints' note key, named the log's origin

    @classmethod
    def from_app(cls, app: Flask) -> Runtime:
        """Build from the app's configuration; keys come from config or the instance folder."""
        instance = Path(app.instance_path)
        instance.mkdir(parents=True, exist_ok=True)
        config = app.config
        convenant = _load_convenant(str(config["CONVENANT"]))
        engine = make_engine(config["DATABASE_URL"])
        subject = config.get("SUBJECT_KEY")
        pseudonym = config.get("PSEUDONYM_KEY")
        ttl = int(config["TOKEN_TTL"])
        if not 60 <= ttl <= MAX_TTL:
            raise ValueError(
                f"TOKEN_TTL must be 60 to {MAX_TTL} seconds (RFC 9068 tokens here "
                "live at most 15 minutes)"
            )
        keyring = KeyRing(instance, keep_for=MAX_TTL + CLOCK_SKEW)
        sessions = session_factory(engine)
        checkpoint_key = audit_signing_key(instance)
        log_key = LogKey(instance, str(config["LOG_ORIGIN"]))
        log_key.ensure()
        return cls(
            convenant=convenant,
            engine=engine,
            sessions=sessions,
            audit=CheckpointingAuditStore(
                sessions,
                checkpoint_key,
                int(config["CHECKPOINT_EVERY"]),
                log_signer=log_key.signer,
            ),
            keyring=keyring,
            token_settings=TokenService(
                key=keyring.keys().current,
                issuer=config["ISSUER"],
                audience=config["AUDIENCE"],
                ttl=ttl,
            ),
            subject_secret=bytes.fromhex(subject)
            if subject
            else instance_secret(instance, "subject-key"),
            pseudonym_key=bytes.fromhex(pseudonym)
            if pseudonym
            else instance_secret(instance, "pseudonym-key"),
            instance=instance,
            validator=SignalValidator(convenant),
            checkpoint_key=checkpoint_key,
            log_key=log_key,
        )

    @property
    def tokens(self) -> TokenService:
        """The token service with the keys in force now (a rotation shows up without restart)."""
        keys = self.keyring.keys()
        service = self.token_settings
        if service.key is not keys.current or service.retired is not keys.retired:
            service = dataclasses.replace(service, key=keys.current, retired=keys.retired)
            self.token_settings = service
        return service


def _load_convenant(path: str) -> policies.Convenant:
    """Load (and compile) the convenant; an unchanged file is compiled once per process."""
    stat = Path(path).stat()
    return _compiled(str(Path(path).resolve()), stat.st_mtime_ns, stat.st_size)


@lru_cache(maxsize=8)
def _compiled(path: str, _mtime_ns: int, _size: int) -> policies.Convenant:
    return policies.load(path)


def runtime() -> Runtime:
    """The runtime of the current app."""
    rt: Runtime = current_app.extensions["broker"]
    return rt


def db_session() -> Session:
    """The request's session, opened on first use and closed at teardown."""
    if "db_session" not in g:
        rt = runtime()
        # A GET only reads, then appends its audit record: on SQLite it takes the write
        # lock for the append alone (see broker.db.reading_first)
        g.db_session = (
            reading_first(rt.sessions, rt.engine)
            if request.method in ("GET", "HEAD")
            else rt.sessions()
        )
    session: Session = g.db_session
    return session


@contextmanager
def read_session() -> Iterator[Session]:
    """A session for long reads (verification, exports): on SQLite a deferred transaction,
    so it takes no write lock and writers go on; always rolled back."""
    engine = runtime().engine.execution_options(sqlite_begin="DEFERRED")
    session = Session(bind=engine, expire_on_commit=False)
    try:
        yield session
    finally:
        session.rollback()
        session.close()


@contextmanager
def transaction() -> Iterator[Session]:
    """A session outside a request (CLI), committed on success and rolled back on error."""
    session = runtime().sessions()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def init_app(app: Flask) -> None:
    """Bind the runtime to the app and close the request's session at teardown."""
    app.extensions["broker"] = Runtime.from_app(app)

    @app.teardown_appcontext
    def _close(_exc: BaseException | None) -> None:
        session = g.pop("db_session", None)
        if session is not None:
            session.close()
