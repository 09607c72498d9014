"""Bench: how long each web page takes the broker on the demo data.

Run with `python bench/web_pages.py` (add `--quick` for a smoke run). The broker runs
in-process on a fresh SQLite file (WAL, synchronous=FULL) with the demo data; each page is
asked through Flask's test client by a person logged in through the pages' own OAuth flow, so
the time is the whole request as the server does it — session and token check, the service,
its audit record and commit, the template — without the network. The figures are per page:
median, 95th percentile and maximum, in milliseconds, after a warm-up. The budget is 200 ms per
page; the bench prints, it asserts no time (tests/bench/test_bench_web.py checks the pages
answer).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make `broker` and `tests` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from tests.web.conftest import Site
from tests.web.site import DEMO_BSN, build_site, csrf_of, log_in, text_of

__all__ = ["BUDGET_MS", "PageTiming", "main", "measure"]

BUDGET_MS = 200.0
UNTRIAGED_BSN = "691682483"  # scenario 4 of the demo: still in track signaal


@dataclass(frozen=True)
class PageTiming:
    """The times one page took, in milliseconds, and the status it answered with."""

    name: str
    status: int
    times: tuple[float, ...]

    @property
    def median(self) -> float:
        return statistics.median(self.times)

    @property
    def p95(self) -> float:
        ordered = sorted(self.times)
        return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]

    @property
    def worst(self) -> float:
        return max(self.times)


Request = Callable[[], TestResponse]


def _pages(clients: dict[str, FlaskClient], case_id: str, untriaged: str) -> dict[str, Request]:
    police, school, officer = clients["jansen"], clients["bakker"], clients["dekker"]
    coordinator = clients["mulder"]
    track_form = text_of(coordinator.get(f"/cases/{untriaged}/track?purpose=triage"))
    visitor = clients["visitor"]
    login_page = visitor.get("/login").headers["Location"]
    signal_form = text_of(police.get("/signals/new"))
    report_form = text_of(officer.get("/privacy/access-report"))
    diff_form = text_of(officer.get("/privacy/convenant/diff"))
    return {
        "login page": lambda: visitor.get(login_page),
        "choose purpose (/cases)": lambda: police.get("/cases"),
        "my cases (police)": lambda: police.get("/cases?purpose=casusoverleg"),
        "case view (police)": lambda: police.get(f"/cases/{case_id}?purpose=casusoverleg"),
        "case view (school)": lambda: school.get(f"/cases/{case_id}?purpose=uitvoering"),
        "signal form": lambda: police.get("/signals/new"),
        "signal with problems": lambda: police.post(
            "/signals/new",
            data={"csrf_token": csrf_of(signal_form), "subject_bsn": "1", "f_incident_count": "x"},
        ),
        "triage queue": lambda: coordinator.get("/triage"),
        "track form": lambda: coordinator.get(f"/cases/{untriaged}/track?purpose=triage"),
        "track with problems": lambda: coordinator.post(
            f"/cases/{untriaged}/track",
            data={"csrf_token": csrf_of(track_form), "purpose": "triage", "track": "pga"},
        ),
        "close form": lambda: coordinator.get(f"/cases/{untriaged}/close?purpose=triage"),
        "plan of approach (school)": lambda: school.get(
            f"/cases/{case_id}/plan?purpose=casusoverleg"
        ),
        "plan form (coordinator)": lambda: coordinator.get(
            f"/cases/{case_id}/plan/edit?purpose=casusoverleg"
        ),
        "case history": lambda: coordinator.get(f"/cases/{case_id}/history?purpose=casusoverleg"),
        "notifications (school)": lambda: school.get("/notifications"),
        "dashboard (12 months)": lambda: coordinator.get("/dashboard"),
        "dashboard (5 yrs, quarters)": lambda: coordinator.get(
            "/dashboard?from=2022-01&to=2026-12&by=quarter"
        ),
        "dashboard CSV": lambda: coordinator.get("/dashboard.csv"),
        "audit explorer": lambda: officer.get("/privacy/audit"),
        "audit explorer, one case": lambda: officer.get(f"/privacy/audit?case_id={case_id}"),
        "chain (fast)": lambda: officer.get("/privacy/chain"),
        "chain (deep)": lambda: officer.get("/privacy/chain?deep=1"),
        "anomalies (7 days)": lambda: officer.get("/privacy/anomalies"),
        "access report": lambda: officer.post(
            "/privacy/access-report", data={"csrf_token": csrf_of(report_form), "bsn": DEMO_BSN}
        ),
        "convenant matrix": lambda: officer.get("/privacy/convenant?track=pga"),
        "convenant diff": lambda: officer.post(
            "/privacy/convenant/diff",
            data={"csrf_token": csrf_of(diff_form), "old": "(in force)", "new": "(in force)"},
        ),
    }


def measure(rounds: int, warmup: int) -> tuple[list[PageTiming], int]:
    """Time every page `rounds` times after `warmup` unmeasured requests; the timings and
    the number of audit records the run left."""
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        app, secrets = build_site(
            f"sqlite:///{root / 'bench.db'}", root / "instance", "http://localhost"
        )
        app.config["VIEW_RATE_LIMIT"] = 100_000  # the bench opens one case many times
        try:
            clients = {"visitor": app.test_client()}
            for username in ("jansen", "bakker", "mulder", "dekker"):
                clients[username] = app.test_client()
                log_in(clients[username], username, secrets.get(username))
            case_id = Site(app, secrets).case_of(DEMO_BSN)
            untriaged = Site(app, secrets).case_of(UNTRIAGED_BSN)
            timings = []
            for name, request in _pages(clients, case_id, untriaged).items():
                status = 0
                for _ in range(warmup):
                    request()
                times = []
                for _ in range(rounds):
                    started = time.perf_counter()
                    response = request()
                    times.append((time.perf_counter() - started) * 1000)
                    status = response.status_code
                timings.append(PageTiming(name, status, tuple(times)))
            records = len(Site(app, secrets).entries())
        finally:
            app.extensions["broker"].engine.dispose()
    return timings, records


def main(argv: list[str] | None = None) -> int:
    """Print the figures; exit 1 when a page does not answer as it should."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a smoke run: few rounds")
    parser.add_argument("--rounds", type=int, default=None)
    args = parser.parse_args(argv)
    rounds = args.rounds or (3 if args.quick else 50)
    warmup = 1 if args.quick else 5
    timings, records = measure(rounds, warmup)
    print(f"web pages on the demo data, SQLite, in-process; {rounds} rounds per page (ms)")
    print(f"{'page':<28} {'status':>6} {'median':>8} {'p95':>8} {'max':>8}")
    bad = 0
    for t in timings:
        over = "  over budget" if t.p95 > BUDGET_MS else ""
        print(f"{t.name:<28} {t.status:>6} {t.median:>8.1f} {t.p95:>8.1f} {t.worst:>8.1f}{over}")
        bad += t.status not in (200, 422)
    print(f"budget {BUDGET_MS:.0f} ms per page; the run left {records} audit records")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
