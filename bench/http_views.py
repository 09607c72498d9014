"""Bench: case views over HTTP under gunicorn, beside a minimal Flask baseline on the same stack.

Run with `python bench/http_views.py` (add `--quick` for a smoke run; `--profile N` profiles N
views in this process instead, without HTTP). Both apps serve the same
SQLite file (WAL, synchronous=FULL) from gunicorn on 127.0.0.1 with the same workers and
threads; concurrent keep-alive clients load them in alternating rounds. The broker's answers
must carry the case, and it must leave exactly one audit record per successful view.
"""

from __future__ import annotations

import argparse
import cProfile
import datetime as dt
import importlib.metadata
import io
import itertools
import os
import platform
import pstats
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, suppress
from dataclasses import dataclass, field, replace
from http.client import HTTPConnection, HTTPException
from pathlib import Path
from typing import Any, NamedTuple

from sqlalchemy import Engine, func, select

if __package__ in (None, ""):  # run as a script: make `broker`, `policies` and `bench` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import policies
from audit import AuditHeadRow, AuditRecordRow
from bench import baseline_app
from bench.baseline_app import count_views, create_schema
from broker import create_app
from broker.cli.demo import DEMO_ACCOUNTS, load_demo
from broker.cli.service import init_database, issue_token
from broker.identity.subjects import is_valid_bsn
from broker.storage.db import make_engine
from broker.storage.models import Case

__all__ = [
    "FULL",
    "QUICK",
    "VIEW_RECORD",
    "Plan",
    "Report",
    "Request",
    "RoundResult",
    "Sample",
    "Server",
    "group_is_gone",
    "main",
    "measure",
    "plan_from",
    "prepare",
    "profile",
    "run_load",
]

ROOT = Path(__file__).resolve().parents[1]
PURPOSE = "casusoverleg"
HOST = "127.0.0.1"
TARGET_RATIO = 0.60
TOKEN_TTL = 900  # seconds: the longest a token may live (MAX_TTL); a run takes less
REQUEST_TIMEOUT = 30.0  # seconds per request before the client gives up on it
READY_TIMEOUT = 60.0  # seconds for gunicorn to answer /readyz
STOP_TIMEOUT = 10.0  # seconds for gunicorn to stop after SIGINT before SIGKILL
BROKER_APP = "broker:create_app()"
BASELINE_APP = "bench.baseline_app:create_app()"
VIEW_RECORD = ("case.view", "success")  # (event, outcome) of a successful view's audit record


@dataclass(frozen=True, slots=True)
class Plan:
    """How much load, from how many clients, on how big a server."""

    requests: int  # per round and target
    rounds: int  # per target, alternating
    warmup: int  # untimed requests per target before the first round
    clients: int  # concurrent client threads, one keep-alive connection each
    workers: int  # gunicorn worker processes
    threads: int  # gunicorn threads per worker
    extra_cases: int  # cases added through the API beside the five demo cases
    round_deadline: float  # seconds; a round that takes longer stops pulling requests
    quick: bool = False
    profile: int = 0  # when > 0: profile this many views in-process instead of the HTTP run


FULL = Plan(
    requests=1000,
    rounds=3,
    warmup=150,
    clients=8,
    workers=2,
    threads=4,
    extra_cases=40,
    round_deadline=300.0,
)
QUICK = Plan(
    requests=100,
    rounds=3,
    warmup=30,
    clients=8,
    workers=2,
    threads=4,
    extra_cases=0,
    round_deadline=60.0,
    quick=True,
)


@dataclass(frozen=True, slots=True)
class Request:
    """One request the clients may send, and the bytes its 200 answer must contain."""

    path: str
    headers: dict[str, str]
    expect: bytes


@dataclass
class Sample:
    """What one load run saw: latencies of the 200s, every status, bodies that lacked `expect`."""

    latencies_ns: list[int] = field(default_factory=list)
    statuses: Counter[int] = field(default_factory=Counter)
    bad_bodies: int = 0
    elapsed_s: float = 0.0
    stopped_early: bool = False
    server_cpu_s: float | None = None  # CPU time the server's processes used meanwhile

    @property
    def ok(self) -> int:
        """Answers with status 200 and the expected content."""
        return self.statuses[200] - self.bad_bodies

    @property
    def sent(self) -> int:
        """Requests sent (a connection failure counts as status 0)."""
        return sum(self.statuses.values())

    @property
    def is_clean(self) -> bool:
        """Every request was answered 200 with the expected content, none left unsent."""
        return self.ok == self.sent and not self.stopped_early

    def throughput(self) -> float:
        """Good answers per second of wall time."""
        return self.ok / self.elapsed_s if self.elapsed_s > 0 else 0.0

    def cpu_ms_per_answer(self) -> float | None:
        """Server CPU time (user + system, all its processes) per good answer, in ms."""
        if self.server_cpu_s is None or not self.ok:
            return None
        return self.server_cpu_s * 1000 / self.ok

    def percentile_ms(self, q: float) -> float:
        """The q-th quantile (nearest rank) of the 200s' latencies in ms."""
        if not self.latencies_ns:
            return float("nan")
        ordered = sorted(self.latencies_ns)
        return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))] / 1e6


def run_load(
    port: int, requests: Sequence[Request], count: int, clients: int, deadline_s: float
) -> Sample:
    """Send `count` requests (cycling through `requests`) from `clients` threads; time each.

    Every thread holds one keep-alive connection, opened before the clock starts; a failed
    connection is reopened and its request counted as status 0. Threads stop pulling requests
    after `deadline_s`, so a run ends by itself.
    """
    sample = Sample()
    counter = itertools.count()
    merge = threading.Lock()
    start = threading.Barrier(clients + 1)
    stop_at = [float("inf")]

    def client() -> None:
        """Pull request numbers until `count` are taken or the deadline passes."""
        connection = HTTPConnection(HOST, port, timeout=REQUEST_TIMEOUT)
        latencies: list[int] = []
        statuses: Counter[int] = Counter()
        bad = 0
        stopped = False
        clock = time.perf_counter_ns
        with suppress(OSError):  # opened here so the clock does not time it; else on first use
            connection.connect()
        start.wait()
        try:
            while True:
                number = next(counter)
                if number >= count:
                    break
                if time.perf_counter() > stop_at[0]:
                    stopped = True
                    break
                request = requests[number % len(requests)]
                began = clock()
                try:
                    connection.request("GET", request.path, headers=request.headers)
                    response = connection.getresponse()
                    body = response.read()
                    status = response.status
                except (OSError, HTTPException):
                    connection.close()
                    connection = HTTPConnection(HOST, port, timeout=REQUEST_TIMEOUT)
                    statuses[0] += 1
                    continue
                took = clock() - began
                statuses[status] += 1
                if status == 200:
                    if request.expect in body:
                        latencies.append(took)
                    else:
                        bad += 1
        finally:
            connection.close()
            with merge:
                sample.latencies_ns.extend(latencies)
                sample.statuses.update(statuses)
                sample.bad_bodies += bad
                sample.stopped_early |= stopped

    threads = [threading.Thread(target=client, daemon=True) for _ in range(clients)]
    for thread in threads:
        thread.start()
    start.wait()
    began = time.perf_counter()
    stop_at[0] = began + deadline_s
    for thread in threads:
        thread.join()
    sample.elapsed_s = time.perf_counter() - began
    return sample


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((HOST, 0))
        port: int = probe.getsockname()[1]
        return port


class Member(NamedTuple):
    """A process of a process group, as /proc shows it."""

    pid: int
    state: str  # R, S, D, … ; Z for a zombie (ended, not yet reaped)
    cpu_ticks: int  # user + system


def group_members(group: int) -> list[Member] | None:
    """The processes in a process group, zombies included (None without /proc)."""
    proc = Path("/proc")
    if not (proc / "self" / "stat").exists():
        return None
    members = []
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:  # the process ended meanwhile
            continue
        # After the command name in parentheses: state ppid pgrp ... utime (12th) stime (13th).
        fields = stat[stat.rindex(")") + 2 :].split()
        if int(fields[2]) == group:
            members.append(Member(int(entry.name), fields[0], int(fields[11]) + int(fields[12])))
    return members


def group_cpu_seconds(group: int) -> float | None:
    """User + system CPU seconds of the processes in a process group, from /proc."""
    members = group_members(group)
    if members is None:
        return None
    return sum(m.cpu_ticks for m in members) / os.sysconf("SC_CLK_TCK")


def group_is_gone(group: int) -> bool:
    """Whether no process of the group runs any more (zombies left for init to reap count)."""
    members = group_members(group)
    if members is not None:
        return all(m.state == "Z" for m in members)
    try:
        os.killpg(group, 0)
    except ProcessLookupError:
        return True
    return False


class Server:
    """One gunicorn serving `app` on a free port of 127.0.0.1, in its own process group."""

    def __init__(self, name: str, app: str, plan: Plan, env: dict[str, str], log: Path) -> None:
        """Remember how to start it; `start` does."""
        self.name, self.app, self.plan, self.env, self.log = name, app, plan, env, log
        self.port = 0
        self.process: subprocess.Popen[bytes] | None = None

    def launch(self) -> None:
        """Start gunicorn, its output going to the log file; `wait_ready` waits for it."""
        self.port = free_port()
        command = [
            sys.executable,
            "-m",
            "gunicorn",
            "--bind",
            f"{HOST}:{self.port}",
            "--workers",
            str(self.plan.workers),
            "--threads",
            str(self.plan.threads),
            "--worker-class",
            "gthread",
            "--timeout",
            "60",
            "--graceful-timeout",
            "3",
            "--no-control-socket",
            self.app,
        ]
        with self.log.open("wb") as log:
            self.process = subprocess.Popen(
                command,
                cwd=ROOT,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def wait_ready(self) -> None:
        """Return once /readyz answers 200; RuntimeError (with the log's tail) if it does not."""
        deadline = time.monotonic() + READY_TIMEOUT
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"{self.name}: gunicorn exited with {self.process.returncode}"
                    f"\n{self.log_tail()}"
                )
            if self._ready_status() == 200:
                return
            time.sleep(0.1)
        raise RuntimeError(
            f"{self.name}: /readyz did not answer 200 within {READY_TIMEOUT:.0f} s"
            f"\n{self.log_tail()}"
        )

    def _ready_status(self) -> int:
        """The status /readyz answers now; 0 when the connection fails."""
        connection = HTTPConnection(HOST, self.port, timeout=2)
        try:
            connection.request("GET", "/readyz")
            response = connection.getresponse()
            response.read()
            return response.status
        except (OSError, HTTPException):
            return 0
        finally:
            connection.close()

    def stop(self) -> None:
        """SIGINT (gunicorn's quick shutdown) to the process group; SIGKILL to what is left.

        Returns once no process of the group runs, or after at most 2 × STOP_TIMEOUT.
        """
        process = self.process
        if process is None:
            return
        group = process.pid  # start_new_session: the arbiter leads its own group
        with suppress(ProcessLookupError):
            if process.poll() is None:
                os.killpg(group, signal.SIGINT)
                with suppress(subprocess.TimeoutExpired):
                    process.wait(STOP_TIMEOUT)
            os.killpg(group, signal.SIGKILL)  # workers that outlived the arbiter, if any
        with suppress(subprocess.TimeoutExpired):
            process.wait(STOP_TIMEOUT)
        deadline = time.monotonic() + STOP_TIMEOUT
        while not group_is_gone(group) and time.monotonic() < deadline:
            time.sleep(0.05)

    def cpu_seconds(self) -> float | None:
        """User + system CPU time of every process in the server's group (None without /proc)."""
        if self.process is None:
            return None
        return group_cpu_seconds(self.process.pid)

    def log_tail(self, lines: int = 20) -> str:
        """The last lines of the server's output, for error messages."""
        try:
            text = self.log.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])


# ── the data ────────────────────────────────────────────────────────────────────────────────


def valid_bsns(start: int) -> Iterator[str]:
    """Nine-digit numbers from `start` up that pass the eleven-check."""
    for number in itertools.count(start):
        candidate = f"{number:09d}"
        if is_valid_bsn(candidate):
            yield candidate


def add_cases(app: Any, tokens: dict[str, str], count: int) -> None:
    """Open `count` PGA cases through the API: police, school and housing signal, then triage."""
    client = app.test_client()
    born = dt.date(dt.date.today().year - 16, 5, 17).isoformat()

    def post(username: str, path: str, body: dict[str, Any]) -> Any:
        response = client.post(
            path, json=body, headers={"Authorization": f"Bearer {tokens[username]}"}
        )
        if response.status_code not in (200, 201):
            raise RuntimeError(
                f"set-up: POST {path} as {username} answered "
                f"{response.status_code}: {response.get_data(as_text=True)}"
            )
        return response.get_json()

    for index, bsn in zip(range(count), valid_bsns(300_000_000), strict=False):
        subject = {"bsn": bsn}
        case_id = post(
            "jansen",
            "/api/v1/signals",
            {
                "subject": subject,
                "fields": {
                    "bsn": bsn,
                    "surname": f"Bench{index}",
                    "given_names": "Alex",
                    "birth_date": born,
                    "street": "Egelantierstraat",
                    "house_number": str(index + 1),
                    "postcode": "8924 CK",
                    "city": "Leeuwarden",
                    "wijk": "Heechterp-Schieringen",
                    "incident_count": index % 9,
                    "suspect": True,
                    "incidents_summary": "Vernieling en overlast in het winkelcentrum",
                },
                "summary": "Herhaalde incidenten in de wijk.",
            },
        )["case_id"]
        post(
            "bakker",
            "/api/v1/signals",
            {
                "subject": subject,
                "fields": {
                    "school_name": "Piter Jelles Montessori",
                    "attendance_problem": True,
                    "dropout_risk": index % 2 == 0,
                },
            },
        )
        post(
            "smit",
            "/api/v1/signals",
            {
                "subject": subject,
                "fields": {"nuisance_reports": index % 6, "eviction_risk": False},
            },
        )
        post(
            "mulder",
            f"/api/v1/cases/{case_id}/track?purpose=triage",
            {
                "track": "pga",
                "reason": "Besproken in het MultiTeam",
                "case_director": "jansen",
            },
        )


@dataclass(frozen=True)
class Data:
    """The bench's database and who views what."""

    url: str
    instance: Path
    cases: int
    requests: list[Request]  # one per (requester, case) with a case-team view for PURPOSE


def prepare(workdir: Path, extra_cases: int) -> Data:
    """A fresh instance folder and database: demo data, extra cases, tokens, the view list."""
    instance = workdir / "instance"
    url = f"sqlite:///{workdir / 'broker.db'}"
    app = create_app({"INSTANCE_PATH": str(instance), "DATABASE_URL": url, "LOG_LEVEL": "WARNING"})
    rt = app.extensions["broker"]
    try:
        with app.app_context():
            init_database()
            load_demo()
            tokens = {username: issue_token(username, TOKEN_TTL) for username, *_ in DEMO_ACCOUNTS}
        # Outside the app context: each API request gets its own, so its session closes.
        add_cases(app, tokens, extra_cases)
        create_schema(rt.engine)
        with rt.sessions() as session:
            cases = session.execute(select(Case.id, Case.track).order_by(Case.id)).all()
    finally:
        rt.engine.dispose()
    c = rt.convenant
    allowed = c.purposes[PURPOSE].roles
    requests = [
        Request(
            f"/api/v1/cases/{case_id}?purpose={PURPOSE}",
            {"Authorization": f"Bearer {tokens[username]}"},
            f'"case_id":"{case_id}"'.encode(),
        )
        for case_id, track in cases
        for username, party, role, _name in DEMO_ACCOUNTS
        if role in allowed and policies.decide(c, party, role, PURPOSE, track).denial is None
    ]
    if not requests:
        raise RuntimeError("set-up: no requester has a case-team view of any case")
    return Data(url, instance, len(cases), requests)


def audit_seq(engine: Engine) -> int:
    """The seq of the audit log's head."""
    with engine.execution_options(sqlite_begin="DEFERRED").connect() as connection:
        return connection.scalar(select(AuditHeadRow.seq).where(AuditHeadRow.id == 1)) or 0


def audit_written(engine: Engine, after_seq: int) -> Counter[tuple[str, str]]:
    """How many audit records after `after_seq` there are per (event, outcome)."""
    table = AuditRecordRow.__table__.c
    with engine.execution_options(sqlite_begin="DEFERRED").connect() as connection:
        rows = connection.execute(
            select(table.event, table.outcome, func.count())
            .where(table.seq > after_seq)
            .group_by(table.event, table.outcome)
        )
        return Counter({(event, outcome): count for event, outcome, count in rows})


def durability(engine: Engine) -> str:
    """The journal mode and synchronous level of the engine's connections, as text."""
    levels = {0: "OFF", 1: "NORMAL", 2: "FULL", 3: "EXTRA"}
    with engine.execution_options(sqlite_begin="DEFERRED").connect() as connection:
        mode = connection.exec_driver_sql("PRAGMA journal_mode").scalar()
        level = int(connection.exec_driver_sql("PRAGMA synchronous").scalar() or 0)
    return f"journal_mode={str(mode).upper()}, synchronous={levels.get(level, str(level))}"


# ── the run ─────────────────────────────────────────────────────────────────────────────────


@dataclass(frozen=True)
class RoundResult:
    """One round of one target."""

    number: int
    target: str
    sample: Sample


@dataclass
class Report:
    """Everything a run measured and checked."""

    plan: Plan
    rounds: list[RoundResult] = field(default_factory=list)
    warmups: dict[str, Sample] = field(default_factory=dict)
    ceiling: Sample | None = None
    audit: Counter[tuple[str, str]] = field(default_factory=Counter)  # (event, outcome) -> n
    baseline_rows: int = 0
    ports: dict[str, int] = field(default_factory=dict)

    def samples(self, target: str) -> list[Sample]:
        """The timed rounds of a target, in order."""
        return [r.sample for r in self.rounds if r.target == target]

    def median_round(self, target: str) -> Sample:
        """The round with the median throughput (the lower middle one for an even count)."""
        ordered = sorted(self.samples(target), key=Sample.throughput)
        return ordered[(len(ordered) - 1) // 2]

    def ok(self, target: str) -> int:
        """Good answers of a target, warm-up included."""
        return self.warmups[target].ok + sum(s.ok for s in self.samples(target))

    def ratio(self) -> float:
        """The broker's throughput as a fraction of the baseline's (median rounds)."""
        base = self.median_round("baseline").throughput()
        return self.median_round("broker").throughput() / base if base else 0.0

    def failed_loads(self) -> list[str]:
        """Each warm-up or round in which a request was not answered 200 with the case."""
        out = []
        for name, sample in [
            *(("warm-up " + k, v) for k, v in self.warmups.items()),
            *((f"round {r.number} {r.target}", r.sample) for r in self.rounds),
        ]:
            if not sample.is_clean:
                out.append(
                    f"{name}: {sample.ok} of {sample.sent} good answers, statuses "
                    f"{dict(sample.statuses)}, {sample.bad_bodies} without the case"
                    f"{', stopped at the deadline' if sample.stopped_early else ''}"
                )
        return out

    @property
    def audit_total(self) -> int:
        """Audit records the broker wrote during the run, less its bulk-view alarms (each
        demo account opens more young people an hour than BULK_VIEW_LIMIT: that is right)."""
        return sum(n for (event, _), n in self.audit.items() if event != "alarm.bulk_views")

    @property
    def audit_views(self) -> int:
        """Of those, the records of successful case views."""
        return self.audit[VIEW_RECORD]

    def audit_matches(self) -> bool:
        """Exactly one audit record per successful view, and no other record but alarms."""
        return self.audit_total == self.audit_views == self.ok("broker")

    def problems(self) -> list[str]:
        """Why the run's figures cannot be trusted: failed requests or missing audit records."""
        out = self.failed_loads()
        if not self.audit_matches():
            others = {
                f"{e}/{o}": n for (e, o), n in sorted(self.audit.items()) if (e, o) != VIEW_RECORD
            }
            out.append(
                f"the broker wrote {self.audit_total} audit records ({self.audit_views} "
                f"successful case views) for {self.ok('broker')} successful views"
                + (f"; other records: {others}" if others else "")
            )
        if self.baseline_rows != self.ok("baseline"):
            out.append(
                f"the baseline inserted {self.baseline_rows} rows for {self.ok('baseline')} answers"
            )
        return out


def measure(plan: Plan, log: Callable[[str], None] = print) -> Report:
    """Set up, start both servers, warm up, run alternating rounds, check the audit log."""
    report = Report(plan)
    with tempfile.TemporaryDirectory(prefix="bench-http-") as tmp, ExitStack() as stack:
        workdir = Path(tmp)
        data = prepare(workdir, plan.extra_cases)
        env = {
            **os.environ,
            "BROKER_INSTANCE_PATH": str(data.instance),
            "BROKER_DATABASE_URL": data.url,
            # 8 accounts send thousands of views a minute here; the per-person limit (its
            # count query still runs on every view) must not turn them into 429s.
            "BROKER_VIEW_RATE_LIMIT": "1000000",
            "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
        }
        engine = make_engine(data.url)
        stack.callback(engine.dispose)
        servers = {
            name: Server(name, app, plan, env, workdir / f"{name}.log")
            for name, app in (("broker", BROKER_APP), ("baseline", BASELINE_APP))
        }
        for server in servers.values():  # both start at once; each is stopped whatever happens
            stack.callback(server.stop)
            server.launch()
        for server in servers.values():
            server.wait_ready()
        report.ports = {name: server.port for name, server in servers.items()}
        _header(plan, data, durability(engine), log)
        rows_before = count_views(engine)
        seq_before = audit_seq(engine)
        for name, server in servers.items():
            warm = run_load(
                server.port, data.requests, plan.warmup, plan.clients, plan.round_deadline
            )
            report.warmups[name] = warm
            if not warm.is_clean:
                raise RuntimeError(
                    f"warm-up of the {name} failed: statuses "
                    f"{dict(warm.statuses)}, {warm.bad_bodies} without the case"
                    f"\n{server.log_tail()}"
                )
        log(
            f"  {'round':<6} {'target':<9} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} "
            f"{'cpu ms':>8} {'200s':>6} {'other':>6}"
        )
        for number in range(1, plan.rounds + 1):
            order = ("broker", "baseline") if number % 2 else ("baseline", "broker")
            for name in order:
                cpu_before = servers[name].cpu_seconds()
                sample = run_load(
                    servers[name].port,
                    data.requests,
                    plan.requests,
                    plan.clients,
                    plan.round_deadline,
                )
                cpu_after = servers[name].cpu_seconds()
                if cpu_before is not None and cpu_after is not None:
                    sample.server_cpu_s = cpu_after - cpu_before
                report.rounds.append(RoundResult(number, name, sample))
                log(f"  {number:<6} {name:<9} {_row(sample)}")
        report.audit = audit_written(engine, seq_before)
        report.baseline_rows = count_views(engine) - rows_before
        healthz = [Request("/healthz", {}, b'"ok"')]
        report.ceiling = run_load(
            servers["baseline"].port, healthz, plan.requests, plan.clients, plan.round_deadline
        )
    _summary(report, log)
    return report


def profile(plan: Plan, log: Callable[[str], None] = print) -> None:
    """Time `plan.profile` views of each app through its test client, then cProfile the broker's.

    Serial and in-process: no HTTP, no gunicorn, no contention. The broker logs at WARNING here
    (its per-request log line is not profiled); everything else is the request path as served.
    """
    count = plan.profile
    with tempfile.TemporaryDirectory(prefix="bench-http-") as tmp:
        data = prepare(Path(tmp), plan.extra_cases)
        broker = create_app(
            {
                "INSTANCE_PATH": str(data.instance),
                "DATABASE_URL": data.url,
                "LOG_LEVEL": "WARNING",
                "VIEW_RATE_LIMIT": 1_000_000,  # as in the HTTP run: serial views are not abuse
            }
        )
        baseline = baseline_app.create_app({"DATABASE_URL": data.url})
        engines = [broker.extensions["broker"].engine, baseline.extensions["bench_baseline"]]
        try:
            clients = {"broker": broker.test_client(), "baseline": baseline.test_client()}

            def views(name: str, n: int) -> None:
                """`n` views through the named app's test client, each checked."""
                client = clients[name]
                for number in range(n):
                    request = data.requests[number % len(data.requests)]
                    response = client.get(request.path, headers=request.headers)
                    if response.status_code != 200 or request.expect not in response.data:
                        raise RuntimeError(f"{name} answered {response.status_code} in profiling")

            log(f"{count} views per app in this process, serial, through the test client")
            for name in clients:
                views(name, min(count, 100))
                wall, cpu = time.perf_counter(), time.process_time()
                views(name, count)
                wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
                log(
                    f"  {name:<9} {wall * 1000 / count:6.2f} ms wall, {cpu * 1000 / count:6.2f} ms "
                    "CPU per view"
                )
            profiler = cProfile.Profile()
            profiler.enable()
            views("broker", count)
            profiler.disable()
        finally:
            for engine in engines:
                engine.dispose()
    for order, lines in (("cumulative", 90), ("tottime", 40)):
        stream = io.StringIO()
        pstats.Stats(profiler, stream=stream).sort_stats(order).print_stats(lines)
        log(stream.getvalue())
    if os.environ.get("BENCH_CALLEES"):
        stream = io.StringIO()
        stats = pstats.Stats(profiler, stream=stream).sort_stats("cumulative")
        stats.print_callees(os.environ["BENCH_CALLEES"])
        log(stream.getvalue())


def _row(sample: Sample) -> str:
    cpu = sample.cpu_ms_per_answer()
    return (
        f"{sample.throughput():>8.1f} {sample.percentile_ms(0.50):>8.2f} "
        f"{sample.percentile_ms(0.99):>8.2f} {'-' if cpu is None else f'{cpu:.2f}':>8} "
        f"{sample.ok:>6} {sample.sent - sample.ok:>6}"
    )


def _header(plan: Plan, data: Data, durable: str, log: Callable[[str], None]) -> None:
    log(
        f"GET /api/v1/cases/{{id}}?purpose={PURPOSE} under gunicorn, beside a minimal Flask "
        f"baseline{'  [--quick: few requests, rough figures]' if plan.quick else ''}"
    )
    log(
        f"  Python {platform.python_version()}, Flask {_version('flask')}, SQLAlchemy "
        f"{_version('sqlalchemy')}, gunicorn {_version('gunicorn')}, SQLite "
        f"{sqlite3.sqlite_version} ({durable}); {os.cpu_count()} CPUs"
    )
    log(
        f"  gunicorn {plan.workers} workers x {plan.threads} threads (gthread) on {HOST}; "
        f"{plan.clients} client threads in this process, one http.client keep-alive "
        "connection each"
    )
    log(
        f"  {data.cases} cases, {len(data.requests)} (requester, case) pairs with a case-team "
        f"view, cycled; per target {plan.warmup} warm-up requests, then {plan.rounds} rounds "
        f"x {plan.requests}, alternating"
    )
    log("")


def _summary(report: Report, log: Callable[[str], None]) -> None:
    broker, baseline = report.median_round("broker"), report.median_round("baseline")
    ratio = report.ratio()
    log("")
    log(f"  median round (by req/s)  {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'cpu ms':>8}")
    log(f"  {'broker':<24} {_row(broker)[:35]}")
    log(f"  {'baseline':<24} {_row(baseline)[:35]}")
    log(f"  broker / baseline throughput: {ratio:.2f}")
    broker_cpu, baseline_cpu = broker.cpu_ms_per_answer(), baseline.cpu_ms_per_answer()
    if broker_cpu and baseline_cpu:
        log(
            f"  server CPU per answer (cpu ms: all gunicorn processes, user + system): "
            f"the broker uses {broker_cpu / baseline_cpu:.1f}x the baseline's"
        )
    if report.ceiling is not None:
        log(
            "  load generator ceiling (/healthz on the baseline, no database): "
            f"{report.ceiling.throughput():.0f} req/s"
        )
    views = report.ok("broker")
    log("")
    log(
        f"  audit: {report.audit_total} records written during the run, "
        f"{report.audit_views} successful case views; {views} successful views answered: "
        f"{'equal' if report.audit_matches() else 'NOT EQUAL'}"
    )
    log(f"  baseline: {report.baseline_rows} rows inserted for {report.ok('baseline')} answers")
    log(f"  all responses 200 with the case: {'NO' if report.failed_loads() else 'yes'}")
    for problem in report.problems():
        log(f"  PROBLEM: {problem}")
    log("")
    log("  targets (from the issue)")
    met = ratio >= TARGET_RATIO
    log(
        f"  {'broker >= 60 % of the baseline throughput':<44} {ratio * 100:>8.0f} %   "
        f"{'met' if met else 'NOT MET'}"
    )


def _version(distribution: str) -> str:
    """The installed version of a distribution, or '?'."""
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return "?"


def plan_from(argv: Sequence[str] | None = None) -> Plan:
    """The plan the command line asks for: FULL or QUICK, with any count overridden."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--quick", action="store_true", help="few requests: a smoke run whose figures are rough"
    )
    for name, help_text in (
        ("requests", "requests per round and target"),
        ("rounds", "rounds per target"),
        ("warmup", "warm-up requests per target"),
        ("clients", "concurrent client threads"),
        ("workers", "gunicorn workers"),
        ("threads", "gunicorn threads per worker"),
        ("extra-cases", "cases to add beside the demo cases"),
        ("profile", "profile N views in this process (test client, no HTTP) instead"),
    ):
        parser.add_argument(f"--{name}", type=int, help=help_text)
    args = parser.parse_args(argv)
    plan = QUICK if args.quick else FULL
    overrides = {
        key: value for key, value in vars(args).items() if key != "quick" and value is not None
    }
    for key, value in overrides.items():
        least = 0 if key in ("warmup", "extra_cases") else 1
        if value < least:
            parser.error(f"--{key.replace('_', '-')} must be at least {least}")
    return replace(plan, **overrides)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the bench and print the figures; 1 when a request failed or an audit is missing."""
    plan = plan_from(argv)
    try:
        if plan.profile:
            profile(plan)
            return 0
        report = measure(plan)
    except RuntimeError as exc:
        print(f"ABORTED: {exc}", file=sys.stderr)
        return 1
    return 1 if report.problems() else 0


if __name__ == "__main__":
    sys.exit(main())
