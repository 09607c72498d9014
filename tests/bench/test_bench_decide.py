"""The decide bench: the engine, pycasbin and Cedar agree on views; no timing is asserted."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.needs import module

_NEEDS = "the decide bench needs the bench extra: pip install -e '.[bench]'"
module("casbin", _NEEDS)
module("cedarpy", _NEEDS)

import policies  # noqa: E402
from bench import decide  # noqa: E402


@pytest.fixture(scope="module")
def setup() -> Iterator[decide.Setup]:
    """The bench's convenants, case and baselines, built once for this module."""
    yield decide.build()


def test_quick_run_finds_the_views_agree(capsys: pytest.CaptureFixture[str]) -> None:
    """A quick run checks the views before timing, and only then prints figures."""
    assert decide.main(["--quick"]) == 0, capsys.readouterr().err
    out = capsys.readouterr().out
    assert "views agree" in out
    assert "targets (from the issue)" in out


def test_engine_and_baselines_give_the_same_views(setup: decide.Setup) -> None:
    """pycasbin, Cedar and the 10x convenant give each checked requester the engine's view."""
    assert decide.agreement_problems(setup) == []


def test_checked_requesters_meet_every_effect(setup: decide.Setup) -> None:
    """The agreement check is not vacuous: its requesters meet show, mask, generalise, withhold."""
    effects = decide.effects_covered(setup.c, decide.CHECKED)
    assert {
        "show",
        "mask(3)",
        "generalise(geboortejaar)",
        "generalise(incidentband)",
        "withhold",
    } <= set(effects)


def test_the_timed_case_has_35_fields_with_values(setup: decide.Setup) -> None:
    """The timed case has 35 fields, each with a value, and the requester gets some of them."""
    assert len(setup.c.fields) == 35
    assert all(value is not None for value in setup.record.values())
    view = setup.casbin.view(decide.requester_id(decide.REQUESTER), setup.record)
    assert view.fields and view.withheld


def test_a_baseline_that_leaks_a_field_is_caught(setup: decide.Setup) -> None:
    """A baseline that discloses a field the engine withholds is reported by field name."""
    record = setup.record

    def ours(key: tuple[str, str, str, str]) -> decide.Outcome:
        """The engine's view."""
        return decide.outcome_of(policies.apply(policies.decide(setup.c, *key), record))

    def leaky(key: tuple[str, str, str, str]) -> decide.Outcome:
        """The engine's view plus one field it withholds."""
        view = ours(key)
        return view._replace(fields={**view.fields, "care_details": record["care_details"]})

    problems = decide.check_agreement(ours, {"leaky": leaky}, [decide.REQUESTER])
    assert len(problems) == 1
    assert "care_details" in problems[0]
    assert record["care_details"] not in problems[0]


def test_the_10x_convenant_has_ten_times_the_parties_and_rules(setup: decide.Setup) -> None:
    """The scaled convenant clones every party and rule ten times."""
    assert len(setup.big.parties) == 10 * len(setup.c.parties)
    assert len(setup.big.rules) == 10 * len(setup.c.rules)
