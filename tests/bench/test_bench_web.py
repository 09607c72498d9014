"""The web pages' bench: a quick run times every page and each one answers; no timing is
asserted."""

from __future__ import annotations

from bench import web_pages


def test_every_page_of_the_bench_answers() -> None:
    """Each page of the quick run answers 200 (the forms with problems 422), with times."""
    timings, records = web_pages.measure(rounds=2, warmup=0)
    assert len(timings) == 26
    assert {t.name: t.status for t in timings if t.status != 200} == {
        "signal with problems": 422,
        "track with problems": 422,
    }
    assert all(len(t.times) == 2 and t.worst >= t.median > 0 for t in timings)
    assert records > 0
