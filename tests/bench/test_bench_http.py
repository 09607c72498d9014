"""The HTTP bench: a tiny quick run answers and audits every view; no timing is asserted.

The run starts two gunicorn servers, so it takes seconds rather than milliseconds; the request
counts are kept tiny to stay well under 20 s in all.
"""

from __future__ import annotations

import socket
from collections import Counter
from collections.abc import Iterator

import pytest

from bench import http_views

TINY = ["--quick", "--requests", "30", "--rounds", "2", "--warmup", "10", "--clients", "4"]


def _refuses(port: int) -> bool:
    """Whether nothing accepts connections on 127.0.0.1:port."""
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    except OSError:
        return True
    return False


@pytest.fixture(scope="module")
def run() -> Iterator[tuple[http_views.Report, str]]:
    """One tiny quick run, shared by the tests of this module: its report and its output."""
    lines: list[str] = []
    report = http_views.measure(http_views.plan_from(TINY), log=lines.append)
    yield report, "\n".join(lines)


@pytest.fixture
def report(run: tuple[http_views.Report, str]) -> http_views.Report:
    """The tiny run's report."""
    return run[0]


def test_every_request_is_answered_200_with_the_case(report: http_views.Report) -> None:
    """Both targets answer every warm-up and round request 200, the broker with the case."""
    assert report.failed_loads() == []
    for result in report.rounds:
        assert result.sample.statuses == Counter({200: 30})
        assert len(result.sample.latencies_ns) == 30
    assert [r.target for r in report.rounds] == ["broker", "baseline", "baseline", "broker"]


def test_the_broker_audits_each_successful_view_once(report: http_views.Report) -> None:
    """Audit records written during the run equal the successful views (warm-up included)."""
    assert report.ok("broker") == 10 + 2 * 30
    assert report.audit_total == report.audit_views == report.ok("broker")
    assert report.baseline_rows == report.ok("baseline")
    assert report.problems() == []


def test_both_servers_are_stopped_after_the_run(report: http_views.Report) -> None:
    """Nothing listens on the ports the run used once it has returned."""
    assert set(report.ports) == {"broker", "baseline"}
    assert all(_refuses(port) for port in report.ports.values())


def test_the_output_gives_figures_and_the_verdict(run: tuple[http_views.Report, str]) -> None:
    """The run prints both targets' median rounds, the audit check and met / NOT MET."""
    _, text = run
    assert "median round" in text and "broker / baseline throughput" in text
    assert "successful views answered: equal" in text
    assert "all responses 200 with the case: yes" in text
    assert "broker >= 60 % of the baseline throughput" in text
    assert text.rstrip().endswith(("met", "NOT MET"))


def test_a_missing_audit_record_is_reported() -> None:
    """An audit count short of the successful views, or an extra record, is named."""
    sample = http_views.Sample(latencies_ns=[1_000_000] * 3, statuses=Counter({200: 3}))
    report = http_views.Report(
        http_views.QUICK,
        rounds=[
            http_views.RoundResult(1, "broker", sample),
            http_views.RoundResult(1, "baseline", sample),
        ],
        warmups={"broker": http_views.Sample(), "baseline": http_views.Sample()},
        audit=Counter({http_views.VIEW_RECORD: 2}),
        baseline_rows=3,
    )
    assert report.problems() == [
        "the broker wrote 2 audit records (2 successful case views) for 3 successful views"
    ]
    report.audit = Counter({http_views.VIEW_RECORD: 3, ("case.view", "denied"): 1})
    assert report.problems() == [
        "the broker wrote 4 audit records (3 successful case views) for 3 successful views; "
        "other records: {'case.view/denied': 1}"
    ]


def test_a_failed_request_is_reported() -> None:
    """A 503 or a body without the case makes the run's loads unclean."""
    sample = http_views.Sample(statuses=Counter({200: 2, 503: 1}), bad_bodies=1)
    assert sample.ok == 1 and not sample.is_clean


def test_servers_stop_when_the_run_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    """An error after both servers started still stops them, workers included."""
    started: list[http_views.Server] = []

    class Recording(http_views.Server):
        def launch(self) -> None:
            started.append(self)
            super().launch()

    def broken(*args: object, **kwargs: object) -> http_views.Sample:
        raise RuntimeError("load generator failed")

    monkeypatch.setattr(http_views, "Server", Recording)
    monkeypatch.setattr(http_views, "run_load", broken)
    with pytest.raises(RuntimeError, match="load generator failed"):
        http_views.measure(http_views.plan_from([*TINY, "--workers", "1"]), log=lambda line: None)
    assert [s.name for s in started] == ["broker", "baseline"]
    for server in started:
        assert server.process is not None and server.process.returncode is not None
        assert http_views.group_is_gone(server.process.pid)
        assert _refuses(server.port)
