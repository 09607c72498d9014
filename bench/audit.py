"""Bench: the audit log's appends, its verification beside sha256sum, and the query by BSN.

Run with `python bench/audit.py` (about 8 minutes, most of it building the chain; `--quick` for
a smoke run, `--records N` for another chain length). One chain of realistic case-view records
is sealed once in Python and bulk-loaded into SQLite (a file in a temp dir; WAL,
synchronous=FULL, BEGIN IMMEDIATE, as `broker.storage.db.make_engine` sets it up) and PostgreSQL (a
fresh schema, dropped at the end); the records' bodies go to a file for `sha256sum`. Every
figure comes with a check: verification must say intact, every query must return exactly its
subject's records, appends must chain on. `verify_store` reads the chain as the broker does:
by default in stretches side by side, one worker process per CPU (`--workers N` to choose, 1
for one pass); its one-pass figure is shown beside it.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import hashlib
import importlib.metadata
import os
import platform
import queue
import random
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, NamedTuple

from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from sqlalchemy import (
    JSON,
    Column,
    Engine,
    MetaData,
    Table,
    create_engine,
    event,
    insert,
    text,
    update,
)
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session
from sqlalchemy.pool import NullPool

if __package__ in (None, ""):
    # Run as a script, bench/ is sys.path[0] and this file would shadow the `audit` package.
    sys.path[0] = str(Path(__file__).resolve().parents[1])

import policies
from audit import (
    GENESIS_HASH,
    PARALLEL_FROM,
    AuditEntry,
    AuditHeadRow,
    AuditQuery,
    AuditRecord,
    AuditRecordRow,
    AuditTreeHashRow,
    CanonicalJSON,
    Checkpoint,
    Frontier,
    Head,
    Link,
    SqlAuditStore,
    Verification,
    create_schema,
    generate_signing_key,
    leaf_hash,
    seal,
    sign_checkpoint,
    verify,
    verify_store,
)
from audit.columns import canonical_json
from audit.tlog.merkle import stored_hash_count
from broker.identity.subjects import is_valid_bsn, subject_key
from broker.storage.db import make_engine, session_factory

__all__ = [
    "FULL",
    "QUICK",
    "Backend",
    "Chain",
    "Plan",
    "Subject",
    "Workload",
    "build_chain",
    "case_view",
    "main",
    "make_workload",
    "plan_from",
    "postgres_loader",
    "query_by_bsn",
    "query_problems",
    "record_row",
    "sqlite_loader",
]

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_CONVENANT = ROOT / "convenant.yaml"
DEFAULT_POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
POSTGRES_URL_ENV = "BROKER_TEST_POSTGRES_URL"

# Targets from the issues.
TARGET_VERIFY_RATE = 300_000  # records/s
TARGET_VERIFY_SHA256SUM = 2.0  # verification at least this many times sha256sum's records/s
TARGET_QUERY_MEDIAN_MS = 20.0
TARGET_WRITERS_RATE = 5_000  # records/s, PostgreSQL, 8 writers
TARGET_WRITERS_PLAIN = 0.5  # of a plain insert of the same rows

RECORDS_PER_SUBJECT = 20  # the default number of subjects is records / this
QUERY_LIMIT = 100  # the privacy officer's page size
QUERY_WARMUP = 10  # untimed queries (on other subjects) before the timed ones
TRACKS = ("lokaal_preventief", "pga", "zvh")  # the tracks that have cases with case views
CASE_VIEW_PURPOSES = ("casusoverleg", "uitvoering")
PERSONS_PER_ROLE = 12  # professionals per party and role
CLIENT_ID = "broker-web"
FIRST_TIME = datetime(2026, 1, 5, 7, 30, tzinfo=UTC)
SPACING = timedelta(seconds=15)  # between two records of the bulk-built chain
SURNAMES = (
    "de Vries",
    "Jansen",
    "Bakker",
    "Visser",
    "Smit",
    "Meijer",
    "de Boer",
    "Mulder",
    "de Groot",
    "Bos",
    "Hoekstra",
    "Dijkstra",
    "van der Meer",
    "Postma",
    "Wijnstra",
)
INITIALS = "ABCDEFGHIJKLMNPRSTW"


@dataclass(frozen=True, slots=True)
class Plan:
    """How long a chain, how many subjects, queries and appends, and how often to repeat."""

    records: int
    subjects: int
    queries: int
    appends: int  # transactions of one record each
    batches: int  # transactions of `batch_size` records each
    batch_size: int
    repeats: int  # timed runs of each verification and of sha256sum
    chunk: int = 10_000  # records sealed and loaded per step of the build
    quick: bool = False
    workers: int | None = None  # processes of verify_store (None: its default)
    writers: int = 8  # threads appending at once
    writer_transactions: int = 100  # transactions per writer thread, per records/tx


FULL = Plan(
    records=1_000_000,
    subjects=50_000,
    queries=200,
    appends=1_000,
    batches=20,
    batch_size=100,
    repeats=3,
)
QUICK = Plan(
    records=20_000,
    subjects=1_000,
    queries=50,
    appends=100,
    batches=5,
    batch_size=100,
    repeats=1,
    chunk=5_000,
    quick=True,
    writer_transactions=10,
)


@dataclass(frozen=True, slots=True)
class Subject:
    """A young person with a case: BSN, its keyed pseudonym, the case and its track."""

    bsn: str
    key: str
    case_id: str
    track: str


@dataclass(frozen=True, slots=True)
class Requester:
    """Who views cases of a track for a purpose, and what the convenant lets them see."""

    party: str
    role: str
    purpose: str
    legal_basis: str
    disclosed: Mapping[str, str]
    withheld: tuple[str, ...]
    persons: tuple[tuple[str, str], ...]  # (person id, name)


@dataclass(frozen=True)
class Workload:
    """The subjects, the requesters per track, and the secret that pseudonymises BSNs."""

    secret: bytes
    convenant_hash: str
    subjects: tuple[Subject, ...]
    requesters: Mapping[str, tuple[Requester, ...]]


def _bsn(rng: random.Random) -> str:
    """A random nine-digit number that passes the eleven-check."""
    while True:
        digits = [rng.randrange(1, 10)] + [rng.randrange(10) for _ in range(7)]
        check = sum(w * d for w, d in zip(range(9, 1, -1), digits, strict=True)) % 11
        if check < 10:
            value = "".join(map(str, digits)) + str(check)
            if is_valid_bsn(value):
                return value


def _requesters(c: policies.Convenant, rng: random.Random) -> dict[str, tuple[Requester, ...]]:
    """Per track, every case-team (party, role, purpose) that sees at least one field."""
    persons: dict[tuple[str, str], tuple[tuple[str, str], ...]] = {}
    out: dict[str, tuple[Requester, ...]] = {}
    for track in TRACKS:
        found: list[Requester] = []
        for party in sorted(c.tracks[track].case_team):
            for purpose in CASE_VIEW_PURPOSES:
                for role in sorted(c.purposes[purpose].roles):
                    decision = policies.decide(c, party, role, purpose, track)
                    disclosed = {
                        fd.field: fd.effect.value
                        for fd in decision.fields.values()
                        if fd.is_disclosed
                    }
                    if decision.denial is not None or not disclosed:
                        continue
                    if (party, role) not in persons:
                        persons[party, role] = tuple(
                            (
                                f"{party}.{role}.{n:02d}",
                                f"{rng.choice(INITIALS)}. {rng.choice(SURNAMES)}",
                            )
                            for n in range(1, PERSONS_PER_ROLE + 1)
                        )
                    found.append(
                        Requester(
                            party=party,
                            role=role,
                            purpose=purpose,
                            legal_basis=c.purposes[purpose].legal_basis,
                            disclosed=disclosed,
                            withheld=tuple(
                                fd.field for fd in decision.fields.values() if not fd.is_disclosed
                            ),
                            persons=persons[party, role],
                        )
                    )
        out[track] = tuple(found)
    return out


def make_workload(subjects: int, seed: int = 2026, convenant: Path = DEFAULT_CONVENANT) -> Workload:
    """`subjects` young people with distinct BSNs and cases, and the convenant's requesters."""
    rng = random.Random(seed)
    c = policies.load(convenant)
    secret = rng.randbytes(32)
    bsns: set[str] = set()
    people: list[Subject] = []
    while len(people) < subjects:
        bsn = _bsn(rng)
        if bsn in bsns:
            continue
        bsns.add(bsn)
        people.append(
            Subject(
                bsn=bsn,
                key=subject_key(secret, bsn=bsn),
                case_id=f"case-{rng.getrandbits(128):032x}",
                track=rng.choice(TRACKS),
            )
        )
    return Workload(secret, c.hash, tuple(people), _requesters(c, rng))


def case_view(w: Workload, rng: random.Random, subject: Subject | None = None) -> AuditEntry:
    """The entry the broker writes for one successful case view of a random (or given) subject."""
    if subject is None:
        subject = w.subjects[rng.randrange(len(w.subjects))]
    who = rng.choice(w.requesters[subject.track])
    person_id, person_name = rng.choice(who.persons)
    return AuditEntry(
        event="case.view",
        action="read",
        outcome="success",
        person_id=person_id,
        person_name=person_name,
        role=who.role,
        party=who.party,
        client_id=CLIENT_ID,
        purpose=who.purpose,
        legal_basis=who.legal_basis,
        subject=subject.key,
        case_id=subject.case_id,
        fields_disclosed=who.disclosed,
        fields_withheld=who.withheld,
        convenant_hash=w.convenant_hash,
        request_id=f"{rng.getrandbits(128):032x}",
        source_address=f"10.{rng.randrange(16, 32)}.{rng.randrange(256)}.{rng.randrange(1, 255)}",
        detail={"track": subject.track, "own_data_only": False},
    )


# ── bulk loading ────────────────────────────────────────────────────────────────────────────

_TABLE = AuditRecordRow.__table__
COLUMNS = tuple(column.key for column in _TABLE.c)
_JSON_COLUMNS = frozenset(
    column.key for column in _TABLE.c if isinstance(column.type, JSON | CanonicalJSON)
)
_RECORD_COLUMNS = frozenset({"seq", "event_id", "time", "prev_hash", "hash", "body"})
_ENTRY_COLUMNS = tuple(name for name in COLUMNS if name not in _RECORD_COLUMNS)

# Loads one chunk: the `audit_record` rows and the `audit_tree_hash` rows (position, hash).
Load = Callable[[Sequence[Mapping[str, Any]], Sequence[tuple[int, bytes]]], None]


def record_row(record: AuditRecord, body: bytes) -> dict[str, Any]:
    """The `audit_record` row of a sealed record: chain columns, entry columns and its body."""
    entry = record.entry
    row: dict[str, Any] = {}
    for name in _ENTRY_COLUMNS:
        value = getattr(entry, name)
        if name in _JSON_COLUMNS:
            value = list(value) if isinstance(value, tuple) else dict(value)
        row[name] = value
    row.update(
        seq=record.seq,
        event_id=record.event_id,
        time=record.time,
        prev_hash=record.prev_hash,
        hash=record.hash,
        body=body,
    )
    return row


@contextlib.contextmanager
def sqlite_loader(url: str) -> Iterator[Load]:
    """Insert rows with SQLAlchemy Core's executemany, one transaction per chunk."""
    engine = make_engine(url)

    @event.listens_for(engine, "connect")
    def _bulk_cache(dbapi_connection: Any, connection_record: Any) -> None:
        # A 512 MiB page cache for the load only; the timed engines keep the default.
        dbapi_connection.execute("PRAGMA cache_size=-524288")

    def load(rows: Sequence[Mapping[str, Any]], tree: Sequence[tuple[int, bytes]]) -> None:
        with engine.begin() as connection:
            connection.execute(insert(AuditRecordRow), list(rows))
            connection.execute(insert(AuditTreeHashRow), [{"idx": i, "hash": h} for i, h in tree])

    try:
        yield load
    finally:
        engine.dispose()


@contextlib.contextmanager
def postgres_loader(engine: Engine) -> Iterator[Load]:
    """Stream rows into one `COPY audit_record FROM STDIN` and the tree hashes into one
    `COPY audit_tree_hash FROM STDIN` (on a second connection), committed when the block
    ends; the JSON columns as the canonical text the store writes."""
    statement = f"COPY audit_record ({', '.join(COLUMNS)}) FROM STDIN"
    with (
        engine.connect() as connection,
        connection.begin(),
        engine.connect() as tree_connection,
        tree_connection.begin(),
    ):
        driver = connection.connection.driver_connection
        tree_driver = tree_connection.connection.driver_connection
        assert driver is not None and tree_driver is not None
        with (
            driver.cursor() as cursor,
            cursor.copy(statement) as copy,
            tree_driver.cursor() as tree_cursor,
            tree_cursor.copy("COPY audit_tree_hash (idx, hash) FROM STDIN") as tree_copy,
        ):

            def load(rows: Sequence[Mapping[str, Any]], tree: Sequence[tuple[int, bytes]]) -> None:
                for row in rows:
                    copy.write_row(
                        [
                            canonical_json(row[name]) if name in _JSON_COLUMNS else row[name]
                            for name in COLUMNS
                        ]
                    )
                for position, digest in tree:
                    tree_copy.write_row((position, digest))

            yield load


Chunk = tuple[list[dict[str, Any]], list[tuple[int, bytes]]]


class _Feeder(threading.Thread):
    """A loader in its own thread, so that a database's work overlaps the sealing."""

    def __init__(self, name: str, opener: Callable[[], contextlib.AbstractContextManager[Load]]):
        super().__init__(name=f"load-{name}", daemon=True)
        self.opener = opener
        self.chunks: queue.Queue[Chunk | None] = queue.Queue(maxsize=4)
        self.busy = 0.0
        self.error: BaseException | None = None

    def run(self) -> None:
        ended = False
        try:
            with self.opener() as load:
                while (chunk := self.chunks.get()) is not None:
                    start = time.perf_counter()
                    load(*chunk)
                    self.busy += time.perf_counter() - start
                ended = True
        except BaseException as exc:  # handed to the main thread by `close`
            self.error = exc
            while not ended and self.chunks.get() is not None:
                pass  # take what the main thread still sends, up to the end

    def close(self) -> None:
        """Signal the end of the chain, wait for the load to commit, re-raise its error."""
        self.chunks.put(None)
        self.join()
        if self.error is not None:
            raise self.error


@dataclass
class Chain:
    """The built chain: its links in memory, head, checkpoint, and where each subject is."""

    links: list[Link]
    head: Head
    checkpoint: Checkpoint
    public_key: Ed25519PublicKey
    seqs_by_subject: dict[str, list[int]]
    export: Path
    export_sha256: str
    export_bytes: int
    seal_seconds: float = 0.0
    load_seconds: dict[str, float] = field(default_factory=dict)
    build_seconds: float = 0.0
    tree_root: str = ""  # of the tree of all the records, from their bodies


def build_chain(
    w: Workload,
    records: int,
    loaders: Mapping[str, Callable[[], contextlib.AbstractContextManager[Load]]],
    export: Path,
    signing_key: Ed25519PrivateKey,
    *,
    seed: int = 2026,
    chunk: int = 10_000,
    progress: Callable[[int, float], None] | None = None,
) -> Chain:
    """Seal `records` case views in Python, feed every loader each chunk, export the bodies.

    Each loader (opened in its own thread) gets the same rows; a loader's error is raised here
    after the others have finished.
    """
    rng = random.Random(seed + 1)
    clock = time.perf_counter
    started = clock()
    links: list[Link] = []
    frontier = Frontier()
    seqs_by_subject: dict[str, list[int]] = {}
    digest = hashlib.sha256()
    size = 0
    seal_seconds = 0.0
    prev_hash = GENESIS_HASH
    when = FIRST_TIME
    feeders = [_Feeder(name, opener) for name, opener in loaders.items()]
    for feeder in feeders:
        feeder.start()
    try:
        with export.open("wb") as out:
            for start in range(0, records, chunk):
                t0 = clock()
                rows: list[dict[str, Any]] = []
                leaves: list[bytes] = []
                for seq in range(start + 1, min(start + chunk, records) + 1):
                    entry = case_view(w, rng)
                    when = FIRST_TIME + seq * SPACING
                    event_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
                    record = seal(entry, seq=seq, prev_hash=prev_hash, time=when, event_id=event_id)
                    body = record.body
                    prev_hash = record.hash
                    links.append(Link(seq, record.prev_hash, record.hash, body))
                    seqs_by_subject.setdefault(entry.subject or "", []).append(seq)
                    rows.append(record_row(record, body))
                    leaves.append(leaf_hash(body))
                    out.write(body)
                    digest.update(body)
                    size += len(body)
                first_position = stored_hash_count(frontier.size)
                tree = list(enumerate(frontier.extend(leaves), start=first_position))
                seal_seconds += clock() - t0
                if any(feeder.error is not None for feeder in feeders):
                    break  # `close` below raises the loader's error
                for feeder in feeders:
                    feeder.chunks.put((rows, tree))
                if progress is not None:
                    progress(min(start + chunk, records), clock() - started)
    finally:
        errors = []
        for feeder in feeders:
            try:
                feeder.close()
            except BaseException as exc:
                errors.append(exc)
        if errors:
            raise errors[0]
    head = Head(records, prev_hash, when if records else None)
    checkpoint = sign_checkpoint(signing_key, head.seq, head.hash)
    return Chain(
        links,
        head,
        checkpoint,
        signing_key.public_key(),
        seqs_by_subject,
        export,
        digest.hexdigest(),
        size,
        seal_seconds,
        {feeder.name.removeprefix("load-"): feeder.busy for feeder in feeders},
        clock() - started,
        frontier.root().hex(),
    )


def finish_load(engine: Engine, chain: Chain) -> None:
    """Point the head row at the chain's end and keep the checkpoint there."""
    with Session(engine) as session:
        session.execute(
            update(AuditHeadRow)
            .where(AuditHeadRow.id == 1)
            .values(seq=chain.head.seq, hash=chain.head.hash, time=chain.head.time)
        )
        SqlAuditStore().add_checkpoint(session, chain.checkpoint)
        session.commit()
    if engine.dialect.name == "postgresql":
        # What autovacuum does soon after a large load; the query plans then use statistics.
        with engine.connect() as connection:
            connection.execute(text("ANALYZE audit_record"))
            connection.execute(text("ANALYZE audit_tree_hash"))
            connection.commit()
    else:
        # Fold the load's WAL into the database file, so that its size is the log's size.
        with engine.execution_options(sqlite_begin="DEFERRED").connect() as connection:
            connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")


# ── the backends ────────────────────────────────────────────────────────────────────────────


@dataclass
class Backend:
    """One database under test: its name, engine (from `make_engine`) and a size probe."""

    name: str
    engine: Engine
    where: str

    def reader(self) -> Engine:
        """The engine for a long read: a deferred BEGIN on SQLite (no write lock held)."""
        if self.engine.dialect.name == "sqlite":
            return self.engine.execution_options(sqlite_begin="DEFERRED")
        return self.engine

    def size(self) -> int:
        """Bytes the audit records take on disk (SQLite: the file and its WAL)."""
        if self.engine.dialect.name == "sqlite":
            path = Path(self.engine.url.database or "")
            wal = path.with_name(path.name + "-wal")
            return path.stat().st_size + (wal.stat().st_size if wal.exists() else 0)
        with self.engine.connect() as connection:
            return int(
                connection.execute(
                    text(
                        "SELECT pg_total_relation_size('audit_record') "
                        "+ pg_total_relation_size('audit_tree_hash')"
                    )
                ).scalar()
                or 0
            )

    def settings(self) -> str:
        """The durability settings as the database reports them."""
        with self.reader().connect() as connection:
            if self.engine.dialect.name == "sqlite":
                mode = connection.exec_driver_sql("PRAGMA journal_mode").scalar()
                sync = connection.exec_driver_sql("PRAGMA synchronous").scalar()
                names = {0: "OFF", 1: "NORMAL", 2: "FULL", 3: "EXTRA"}
                return f"journal_mode={mode}, synchronous={names.get(int(sync or 0), sync)}"
            shown = [
                f"{name}={connection.exec_driver_sql(f'SHOW {name}').scalar()}"
                for name in ("fsync", "synchronous_commit", "wal_sync_method")
            ]
            storage = connection.exec_driver_sql(
                "SELECT reloptions FROM pg_class WHERE oid = 'audit_record'::regclass"
            ).scalar()
            shown.append(f"audit_record storage: {', '.join(storage or ['default'])}")
            return ", ".join(shown)


@contextlib.contextmanager
def postgres_schema(url: str) -> Iterator[tuple[str | None, str, str]]:
    """A URL on a fresh `bench_<hex>` schema (dropped afterwards), the schema and the server;
    or None, "" and why PostgreSQL cannot be used."""
    admin = create_engine(url, poolclass=NullPool, connect_args={"connect_timeout": 3})
    schema = f"bench_{uuid.uuid4().hex[:12]}"
    try:
        with admin.begin() as connection:
            version = connection.execute(text("SHOW server_version")).scalar()
            connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    except SQLAlchemyError as exc:
        admin.dispose()
        where = make_url(url).render_as_string(hide_password=True)
        cause = getattr(exc, "orig", None) or exc
        yield None, "", f"PostgreSQL not reachable at {where} ({type(cause).__name__})"
        return
    scoped = admin.url.update_query_dict({"options": f"-csearch_path={schema}"})
    try:
        yield scoped.render_as_string(hide_password=False), schema, f"PostgreSQL {version}"
    finally:
        with admin.begin() as connection:
            connection.execute(text("SET LOCAL lock_timeout = '30s'"))
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


# ── what is timed ───────────────────────────────────────────────────────────────────────────


class Run(NamedTuple):
    """Wall-clock seconds of one timed run and what it found."""

    seconds: float
    verification: Verification | None


def verify_links(chain: Chain, repeats: int) -> list[Run]:
    """`audit.verify` over the links in memory, against the checkpoint and the head."""
    runs = []
    for _ in range(repeats):
        start = time.perf_counter()
        result = verify(chain.links, [chain.checkpoint], chain.public_key, head=chain.head)
        runs.append(Run(time.perf_counter() - start, result))
    return runs


def verify_stored(
    backend: Backend, chain: Chain, repeats: int, workers: int | None = None
) -> list[Run]:
    """`verify_store` as the broker runs it: checkpoints and head from the database, the
    records in stretches read side by side by `workers` processes (default: one per CPU from
    PARALLEL_FROM records on), or in one pass through `links()` (workers=1)."""
    store = SqlAuditStore()
    runs = []
    for _ in range(repeats):
        start = time.perf_counter()
        with Session(backend.reader()) as session:
            result = verify_store(store, session, public_key=chain.public_key, workers=workers)
        runs.append(Run(time.perf_counter() - start, result))
    return runs


def _default_workers(records: int) -> int:
    """How many processes `verify_store` uses by default for `records` records."""
    if records < PARALLEL_FROM:
        return 1
    affinity = getattr(os, "sched_getaffinity", None)
    return max(1, min(len(affinity(0)) if affinity else (os.cpu_count() or 1), 8))


def hash_bodies(chain: Chain) -> list[Run]:
    """The hashing alone: one hashlib SHA-256 per record body, from memory (one run)."""
    sha256 = hashlib.sha256
    start = time.perf_counter()
    for link in chain.links:
        sha256(link.body).digest()
    return [Run(time.perf_counter() - start, None)]


def read_links(backend: Backend) -> list[Run]:
    """The reading alone: stream every link through the store's `links()` (one run)."""
    start = time.perf_counter()
    with Session(backend.reader()) as session:
        for _ in SqlAuditStore().links(session):
            pass
    return [Run(time.perf_counter() - start, None)]


def sha256sum_runs(chain: Chain, repeats: int) -> tuple[list[Run], str]:
    """Time the coreutils `sha256sum` over the exported bodies; return its digest too."""
    runs = []
    digest = ""
    for _ in range(repeats):
        start = time.perf_counter()
        done = subprocess.run(
            ["sha256sum", str(chain.export)], check=True, capture_output=True, text=True
        )
        runs.append(Run(time.perf_counter() - start, None))
        digest = done.stdout.split()[0]
    return runs, digest


def query_by_bsn(
    sessions: Callable[[], Session], secret: bytes, bsn: str, limit: int = QUERY_LIMIT
) -> list[AuditRecord]:
    """What the API does for `GET /privacy/audit?bsn=…`: check, pseudonymise, query (in a
    session of the request's kind: on SQLite it opens with BEGIN IMMEDIATE)."""
    if not is_valid_bsn(bsn):
        raise ValueError("not a valid BSN")
    query = AuditQuery(subject=subject_key(secret, bsn=bsn), limit=limit)
    with sessions() as session:
        return SqlAuditStore().query(session, query)


def query_problems(
    subject: Subject, found: Sequence[AuditRecord], expected_seqs: Sequence[int], limit: int
) -> list[str]:
    """How a query's answer differs from the subject's first `limit` records, in seq order."""
    problems = []
    others = sum(1 for r in found if r.entry.subject != subject.key)
    if others:
        problems.append(f"{others} record(s) of another subject")
    got = [r.seq for r in found]
    want = list(expected_seqs[:limit])
    if got != want:
        problems.append(
            f"seqs {got[:5]}… ({len(got)}) instead of {want[:5]}… ({len(want)})"
            if len(got) > 5 or len(want) > 5
            else f"seqs {got} instead of {want}"
        )
    return [f"subject {subject.key[:12]}…: {p}" for p in problems]


def time_queries(
    backend: Backend,
    w: Workload,
    chain: Chain,
    picked: Sequence[Subject],
    warmup: Sequence[Subject],
) -> tuple[list[int], list[str], int]:
    """Per-query ns for `picked` (after untimed `warmup` queries), problems, records returned."""
    sessions = session_factory(backend.engine)
    for subject in warmup:
        query_by_bsn(sessions, w.secret, subject.bsn)
    clock = time.perf_counter_ns
    durations: list[int] = []
    problems: list[str] = []
    returned = 0
    for subject in picked:
        start = clock()
        found = query_by_bsn(sessions, w.secret, subject.bsn)
        durations.append(clock() - start)
        returned += len(found)
        problems += query_problems(
            subject, found, chain.seqs_by_subject.get(subject.key, []), QUERY_LIMIT
        )
    return durations, problems, returned


def time_appends(engine: Engine, entries: Sequence[AuditEntry], per_transaction: int) -> list[int]:
    """Per-transaction ns of append + commit, each in its own session as a request has."""
    store = SqlAuditStore()
    sessions = session_factory(engine)
    clock = time.perf_counter_ns
    durations: list[int] = []
    for start in range(0, len(entries), per_transaction):
        batch = entries[start : start + per_transaction]
        began = clock()
        with sessions() as session:
            store.append(session, batch)
            session.commit()
        durations.append(clock() - began)
    return durations


_PLAIN = Table(
    "bench_plain_record",
    MetaData(),
    *(
        Column(c.name, c.type, primary_key=c.primary_key, autoincrement=False)
        for c in AuditRecordRow.__table__.columns
    ),
)


def _in_threads(writers: int, work: Callable[[int], None]) -> float:
    """Run work(0..writers-1) in as many threads, started together; the wall seconds."""
    start = threading.Barrier(writers + 1)
    errors: list[BaseException] = []

    def run(index: int) -> None:
        start.wait()
        try:
            work(index)
        except BaseException as exc:  # handed to the caller below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(writers)]
    for thread in threads:
        thread.start()
    start.wait()
    began = time.perf_counter()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]
    return time.perf_counter() - began


def time_concurrent_appends(
    engine: Engine, entries: Sequence[AuditEntry], writers: int, per_transaction: int
) -> float:
    """Records/s of `writers` threads each appending its share of `entries`, `per_transaction`
    to a transaction, each transaction in a session of its own (the head row serialises)."""
    store = SqlAuditStore()
    sessions = session_factory(engine)

    def work(index: int) -> None:
        mine = entries[index::writers]
        for first in range(0, len(mine), per_transaction):
            with sessions() as session:
                store.append(session, mine[first : first + per_transaction])
                session.commit()

    return len(entries) / _in_threads(writers, work)


def time_plain_inserts(
    engine: Engine, rows: Sequence[Mapping[str, Any]], writers: int, per_transaction: int
) -> float:
    """Records/s of the same rows inserted as plainly as can be: into a table of the same
    columns with only its primary key (no chain, no tree, no head row, no other index)."""
    _PLAIN.drop(engine, checkfirst=True)
    _PLAIN.create(engine)
    statement = insert(_PLAIN)

    def work(index: int) -> None:
        mine = rows[index::writers]
        for first in range(0, len(mine), per_transaction):
            with engine.begin() as connection:
                connection.execute(statement, list(mine[first : first + per_transaction]))

    try:
        return len(rows) / _in_threads(writers, work)
    finally:
        _PLAIN.drop(engine)


def verify_tail(backend: Backend, chain: Chain) -> Verification:
    """Verify what was appended after the bulk-built chain, anchored at its checkpoint."""
    with Session(backend.reader()) as session:
        return verify_store(
            SqlAuditStore(),
            session,
            public_key=chain.public_key,
            since_seq=chain.head.seq + 1,
        )


# ── the report ──────────────────────────────────────────────────────────────────────────────


def percentile(values: Sequence[float], fraction: float) -> float:
    """The value at `fraction` (nearest rank) of the sorted values."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def verdict_line(target: str, measured: str, met: bool) -> str:
    """One line of the targets table."""
    return f"  {target:<52} {measured:>16}   {'met' if met else 'NOT MET'}"


def _version(distribution: str) -> str:
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return "?"


def _sha256sum_version() -> str:
    try:
        done = subprocess.run(["sha256sum", "--version"], capture_output=True, text=True)
    except OSError:
        return "sha256sum ?"
    return done.stdout.splitlines()[0] if done.stdout else "sha256sum ?"


def _gb(size: int) -> str:
    return f"{size / 1e9:.2f} GB" if size >= 1e8 else f"{size / 1e6:.1f} MB"


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="a smoke run: rough figures")
    parser.add_argument("--records", type=int, help="records in the chain (default 1,000,000)")
    parser.add_argument(
        "--subjects", type=int, help=f"subjects (default: records / {RECORDS_PER_SUBJECT})"
    )
    parser.add_argument("--queries", type=int, help="timed queries by BSN (default 200)")
    parser.add_argument("--appends", type=int, help="one-record transactions (default 1,000)")
    parser.add_argument("--batches", type=int, help="100-record transactions (default 20)")
    parser.add_argument("--repeats", type=int, help="timed runs of each verification (default 3)")
    parser.add_argument(
        "--writer-transactions",
        type=int,
        help="transactions per writer thread of the 8-writer appends (default 100)",
    )
    parser.add_argument("--seed", type=int, default=2026, help="seed of the workload")
    parser.add_argument(
        "--workers",
        type=int,
        help="processes verify_store reads the chain with (default: one per CPU from "
        f"{PARALLEL_FROM:,} records; 1: one pass)",
    )
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get(POSTGRES_URL_ENV, DEFAULT_POSTGRES_URL),
        help=f"PostgreSQL to use (default: ${POSTGRES_URL_ENV} or {DEFAULT_POSTGRES_URL})",
    )
    parser.add_argument("--no-postgres", action="store_true", help="SQLite only")
    return parser.parse_args(argv)


def plan_from(args: argparse.Namespace) -> Plan:
    """The plan for these arguments: FULL or QUICK with the given overrides."""
    base = QUICK if args.quick else FULL
    records = args.records if args.records is not None else base.records
    subjects = args.subjects or max(1, records // RECORDS_PER_SUBJECT)
    if records < 1 or subjects < 1:
        raise SystemExit("--records and --subjects must be at least 1")
    return Plan(
        records=records,
        subjects=subjects,
        queries=min(args.queries or base.queries, subjects),
        appends=args.appends if args.appends is not None else base.appends,
        batches=args.batches if args.batches is not None else base.batches,
        batch_size=base.batch_size,
        repeats=max(1, args.repeats or base.repeats),
        chunk=min(base.chunk, records),
        quick=base.quick,
        workers=None if args.workers is None else max(1, args.workers),
        writer_transactions=(
            args.writer_transactions
            if args.writer_transactions is not None
            else base.writer_transactions
        ),
    )


def _progress(total: int) -> Callable[[int, float], None]:
    """Print to stderr each time another tenth of the chain is built."""
    step = max(total // 10, 1)
    shown = [0]

    def report(done: int, seconds: float) -> None:
        if done - shown[0] >= step or done == total:
            shown[0] = done
            sys.stdout.flush()
            print(f"  … built {done:,} / {total:,} records ({seconds:.0f} s)", file=sys.stderr)

    return report


def _verification_row(label: str, runs: Sequence[Run], records: int, size: int) -> str:
    seconds = statistics.median(r.seconds for r in runs)
    return (
        f"  {label:<50} {seconds:>8.2f} {records / seconds:>11,.0f} {size / seconds / 1e6:>7,.0f}"
        f"   {', '.join(f'{r.seconds:.2f}' for r in runs)}"
    )


def report_build(plan: Plan, w: Workload, chain: Chain, backends: Sequence[Backend]) -> None:
    """Print what was built, how long the sealing and the loads took, and the size on disk."""
    n = plan.records
    fields = max(len(r.disclosed) + len(r.withheld) for rs in w.requesters.values() for r in rs)
    print(
        f"  chain: {n:,} case.view records over {plan.subjects:,} subjects (BSN -> "
        f"HMAC-SHA256 subject key), {fields} field names each; body "
        f"{chain.export_bytes / n:,.0f} B on average; built in {chain.build_seconds:.0f} s"
    )
    loads = ", ".join(f"{name} {seconds:.0f} s" for name, seconds in chain.load_seconds.items())
    print(
        f"    entries + seal + rows in Python {chain.seal_seconds:.0f} s "
        f"({n / chain.seal_seconds:,.0f} records/s); loading, in a thread each: {loads} "
        f"(SQLite: executemany, a transaction per {plan.chunk:,}; PostgreSQL: one COPY)"
    )
    sizes = [(b.name, b.size()) for b in backends]
    print(
        "    on disk: "
        + ", ".join(f"{name} {_gb(size)} ({size / n:,.0f} B/record)" for name, size in sizes)
    )


def section_verify(
    plan: Plan, chain: Chain, backends: Sequence[Backend], failures: list[str]
) -> tuple[dict[str, float], float]:
    """Time sha256sum and every verification; return the verifications' records/s by name,
    and sha256sum's."""
    n = plan.records
    print(
        f"  verification of {n:,} records (median of {plan.repeats} run(s); the references "
        "marked * once; warm OS page cache)"
    )
    print(f"  {'what':<50} {'seconds':>8} {'records/s':>11} {'MB/s':>7}   runs")
    sums, digest = sha256sum_runs(chain, plan.repeats)
    if digest != chain.export_sha256:
        failures.append("sha256sum's digest differs from the digest of the sealed bodies")
    rows: list[tuple[str, str | None, list[Run]]] = [
        (f"sha256sum over the {_gb(chain.export_bytes)} of bodies", None, sums),
        ("* hashlib.sha256 once per body, in memory", None, hash_bodies(chain)),
        (
            "audit.verify, links in memory (chain only)",
            "links in memory",
            verify_links(chain, plan.repeats),
        ),
    ]
    side_by_side = (
        f"{plan.workers} processes"
        if plan.workers is not None
        else f"default: {_default_workers(n)} process(es)"
    )
    for b in backends:
        rows.append((f"* {b.name}: links() read alone, no hashing", None, read_links(b)))
        rows.append(
            (
                f"* verify_store, {b.name}, one pass (workers=1)",
                f"{b.name}, one pass",
                verify_stored(b, chain, 1, workers=1),
            )
        )
        rows.append(
            (
                f"verify_store, {b.name} ({side_by_side})",
                b.name,
                verify_stored(b, chain, plan.repeats, workers=plan.workers),
            )
        )
    rates: dict[str, float] = {}
    broken = False
    for label, key, runs in rows:
        print(_verification_row(label, runs, n, chain.export_bytes))
        if key is None:
            continue
        if not label.startswith("*"):
            rates[key] = n / statistics.median(r.seconds for r in runs)
        for run in runs:
            result = run.verification
            if result is None or not result.is_intact or result.records_checked != n:
                failures.append(f"verification ({key}) did not find {n:,} intact records")
                broken = True
            elif result.checkpoints_matched != 1 or result.head_hash != chain.head.hash:
                failures.append(f"verification ({key}) did not reach the checkpoint and head")
                broken = True
            elif key != "links in memory" and (
                not result.columns_checked
                or result.tree_hashes_checked != stored_hash_count(n)
                or result.tree_root != chain.tree_root
            ):
                failures.append(f"verification ({key}) did not check every column and the tree")
                broken = True
    sum_rate = n / statistics.median(r.seconds for r in sums)
    print(
        f"  sha256sum equals {sum_rate:,.0f} records/s; audit.verify in memory runs at "
        f"{rates['links in memory'] / sum_rate:.0%} of that"
    )
    print(
        f"  every verification: {'NOT INTACT' if broken else 'intact'}, {n:,} records, "
        f"the signed checkpoint at seq {n:,} and the head ({chain.head.hash[:16]}…) matched;"
    )
    print(
        f"  verify_store also compared every stored column of every record with its body and "
        f"all {stored_hash_count(n):,} stored tree hashes; root {chain.tree_root[:16]}… matched"
    )
    print(
        f"  sha256sum's digest {'equals' if digest == chain.export_sha256 else 'DIFFERS FROM'}"
        " the digest of the bodies as sealed"
    )
    return rates, sum_rate


def section_queries(
    plan: Plan,
    w: Workload,
    chain: Chain,
    backends: Sequence[Backend],
    rng: random.Random,
    failures: list[str],
) -> dict[str, float]:
    """Time the query by BSN for random subjects; return the median ms by backend."""
    chosen = rng.sample(w.subjects, min(plan.subjects, plan.queries + QUERY_WARMUP))
    warmup, picked = chosen[: len(chosen) - plan.queries], chosen[-plan.queries :]
    print(
        f"  the privacy officer's query by BSN: eleven-check + HMAC + store.query(subject, "
        f"limit {QUERY_LIMIT}), a session per query; {len(picked)} random subjects"
    )
    print(f"  {'backend':<12} {'median ms':>10} {'p99 ms':>8} {'max ms':>8} {'records/query':>14}")
    medians: dict[str, float] = {}
    wrong = False
    for backend in backends:
        durations, problems, returned = time_queries(backend, w, chain, picked, warmup)
        ms = [d / 1e6 for d in durations]
        medians[backend.name] = statistics.median(ms)
        print(
            f"  {backend.name:<12} {medians[backend.name]:>10.2f} {percentile(ms, 0.99):>8.2f}"
            f" {max(ms):>8.2f} {returned / len(picked):>14.1f}"
        )
        failures += [f"query on {backend.name}: {p}" for p in problems]
        wrong = wrong or bool(problems)
    if not wrong:
        print("  every query returned exactly its subject's records, in seq order")
    return medians


def section_appends(
    plan: Plan,
    w: Workload,
    chain: Chain,
    backends: Sequence[Backend],
    rng: random.Random,
    failures: list[str],
) -> dict[str, tuple[float, float]]:
    """Time appends (with the tree) of one record and of a batch per transaction, then with
    `plan.writers` threads beside plain inserts of the same rows, then verify what was added;
    return the 8-writer figures (appends/s, plain inserts/s) by backend."""
    print(
        "  append with fail-closed durability: store.append (records, tree hashes, head) + "
        "commit, a session per transaction, onto the end of the chain"
    )
    print(
        f"  {'backend':<12} {'writers':>7} {'records/tx':>10} {'transactions':>13} "
        f"{'records/s':>10} {'median ms/tx':>13} {'p99 ms/tx':>10}"
    )
    broken = False
    writers: dict[str, tuple[float, float]] = {}
    for backend in backends:
        appended = plan.appends + plan.batches * plan.batch_size
        for size, count in ((1, plan.appends), (plan.batch_size, plan.batches)):
            if count == 0:
                continue
            # Fresh entries each time: none has its canonical JSON cached yet.
            entries = [case_view(w, rng) for _ in range(size * count)]
            durations = time_appends(backend.engine, entries, size)
            ms = [d / 1e6 for d in durations]
            rate = size * count / (sum(durations) / 1e9)
            print(
                f"  {backend.name:<12} {1:>7} {size:>10} {count:>13,} {rate:>10,.0f} "
                f"{statistics.median(ms):>13.2f} {percentile(ms, 0.99):>10.2f}"
            )
        for size in (1, 10):
            count = plan.writers * plan.writer_transactions
            if not count:
                continue
            entries = [case_view(w, rng) for _ in range(size * count)]
            rate = time_concurrent_appends(backend.engine, entries, plan.writers, size)
            appended += len(entries)
            plain = time_plain_inserts(backend.engine, _plain_rows(entries), plan.writers, size)
            writers[f"{backend.name}, {size}/tx"] = (rate, plain)
            print(
                f"  {backend.name:<12} {plan.writers:>7} {size:>10} {count:>13,} {rate:>10,.0f}"
                f"   plain insert of the same rows: {plain:,.0f}/s ({rate / plain:.2f}x)"
            )
        tail = verify_tail(backend, chain)
        if not tail.is_intact or tail.records_checked != appended:
            failures.append(f"appends on {backend.name} do not verify: {tail.description}")
            broken = True
    if not broken:
        print(
            f"  the appended records verify intact on every backend, chained on from the "
            f"checkpoint at seq {plan.records:,}, their columns and tree hashes too"
        )
    return writers


def _plain_rows(entries: Sequence[AuditEntry]) -> list[dict[str, Any]]:
    """The rows `append` would write for `entries`, sealed apart (seqs far from the chain's)."""
    rows = []
    for seq, entry in enumerate(entries, start=1):
        record = seal(entry, seq=seq, prev_hash=GENESIS_HASH, time=FIRST_TIME)
        rows.append(record_row(record, record.body))
    return rows


def section_targets(
    rates: Mapping[str, float],
    sum_rate: float,
    medians: Mapping[str, float],
    writers: Mapping[str, tuple[float, float]],
) -> None:
    """Mark each target of the issues met or not met."""
    print("  targets (from the issues)")
    for key, rate in rates.items():
        print(
            verdict_line(
                f"verify >= {TARGET_VERIFY_RATE:,} records/s ({key})",
                f"{rate:,.0f}/s",
                rate >= TARGET_VERIFY_RATE,
            )
        )
        print(
            verdict_line(
                f"verify >= {TARGET_VERIFY_SHA256SUM:.0f}x sha256sum ({key})",
                f"{rate / sum_rate:.2f}x",
                rate >= TARGET_VERIFY_SHA256SUM * sum_rate,
            )
        )
    for name, median in medians.items():
        print(
            verdict_line(
                f"query by BSN median <= {TARGET_QUERY_MEDIAN_MS:.0f} ms ({name})",
                f"{median:.2f} ms",
                median <= TARGET_QUERY_MEDIAN_MS,
            )
        )
    for name, (rate, plain) in writers.items():
        if not name.startswith("PostgreSQL"):
            continue
        print(
            verdict_line(
                f"8 writers >= {TARGET_WRITERS_RATE:,}/s and {TARGET_WRITERS_PLAIN}x plain"
                f" ({name})",
                f"{rate:,.0f}/s, {rate / plain:.2f}x",
                rate >= TARGET_WRITERS_RATE and rate >= TARGET_WRITERS_PLAIN * plain,
            )
        )


def main(argv: Sequence[str] | None = None) -> int:
    """Build the chain, load it into both databases, time verify, query and append, report."""
    args = parse_args(argv)
    plan = plan_from(args)
    failures: list[str] = []
    with contextlib.ExitStack() as stack:
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="audit-bench-")))
        sqlite_url = f"sqlite:///{workdir / 'audit.db'}"
        sqlite_engine = make_engine(sqlite_url)
        stack.callback(sqlite_engine.dispose)
        backends = [Backend("SQLite", sqlite_engine, f"file in {workdir}")]
        loaders: dict[str, Callable[[], contextlib.AbstractContextManager[Load]]] = {
            "SQLite": functools.partial(sqlite_loader, sqlite_url)
        }
        postgres_note = "PostgreSQL skipped (--no-postgres)"
        if not args.no_postgres:
            pg_url, schema, postgres_note = stack.enter_context(postgres_schema(args.postgres_url))
            if pg_url is not None:
                pg_engine = make_engine(pg_url)
                stack.callback(pg_engine.dispose)
                backends.append(Backend("PostgreSQL", pg_engine, f"schema {schema}"))
                loaders["PostgreSQL"] = functools.partial(postgres_loader, pg_engine)
        for backend in backends:
            create_schema(backend.engine)

        print(
            "audit log: append, verify and query by BSN on SQLite and PostgreSQL"
            f"{'  [--quick: small chain, rough figures]' if plan.quick else ''}"
        )
        print(
            f"  Python {platform.python_version()}, SQLAlchemy {_version('SQLAlchemy')}, "
            f"psycopg {_version('psycopg')}, SQLite {sqlite3.sqlite_version}, "
            f"{postgres_note}; {_sha256sum_version()}"
        )
        print(
            f"  {os.cpu_count()} CPUs; load average {os.getloadavg()[0]:.1f} at start "
            "(other processes on the host skew every figure)"
        )
        for backend in backends:
            print(f"  {backend.name}: {backend.where}; {backend.settings()}")
        if len(backends) == 1:
            print(f"  NOTE: {postgres_note}: PostgreSQL figures are missing from this run")

        w = make_workload(plan.subjects, args.seed)
        chain = build_chain(
            w,
            plan.records,
            loaders,
            workdir / "bodies.bin",
            generate_signing_key(),
            seed=args.seed,
            chunk=plan.chunk,
            progress=_progress(plan.records),
        )
        for backend in backends:
            finish_load(backend.engine, chain)
        report_build(plan, w, chain, backends)
        print()
        rates, sum_rate = section_verify(plan, chain, backends, failures)
        chain.links.clear()  # free the memory before the queries
        print()
        rng = random.Random(args.seed + 2)
        medians = section_queries(plan, w, chain, backends, rng, failures)
        print()
        writers = section_appends(plan, w, chain, backends, rng, failures)
        print()
        section_targets(rates, sum_rate, medians, writers)
        print(f"  load average {os.getloadavg()[0]:.1f} at the end")
    if failures:
        print("FAILED checks (the figures above do not count):", file=sys.stderr)
        for failure in failures:
            print(f"  - {failure}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
