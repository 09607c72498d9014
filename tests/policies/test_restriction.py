"""restrict: a young person's objections laid over a decision — withhold only, own data kept."""

from __future__ import annotations

from functools import cache

import pytest
from hypothesis import given
from hypothesis import strategies as st

import policies
from policies import Effect
from tests.policies.helpers import DEFAULT_PATH
from tests.policies.test_engine import RECORD
from tests.strategies import objections


@cache
def default() -> policies.Convenant:
    """The default convenant, loaded once."""
    return policies.load(DEFAULT_PATH)


@pytest.fixture
def c() -> policies.Convenant:
    """The default convenant."""
    return default()


def test_an_objection_withholds_what_the_convenant_would_show(c: policies.Convenant) -> None:
    """The police in PGA lose the school category under an objection, with rule bezwaar."""
    decision = policies.decide(c, "politie", "case_worker", "casusoverleg", "pga")
    restriction = policies.Restriction((policies.objection(c, ["school"], ["politie"]),))
    view = policies.apply(policies.restrict(decision, restriction), RECORD)
    assert "school_name" not in view.fields and "attendance_problem" not in view.fields
    assert view.fields["surname"] == "de Boer"
    withheld = {w.field: w for w in view.withheld}
    assert withheld["school_name"].rule_id == policies.OBJECTION_RULE
    assert withheld["school_name"].legal_basis == policies.OBJECTION_LEGAL_BASIS
    assert policies.decide(c, "politie", "case_worker", "casusoverleg", "pga").plan == (
        decision.plan
    )  # the compiled decision is not changed


def test_other_parties_and_already_withheld_fields_are_untouched(c: policies.Convenant) -> None:
    """An objection for the police changes nothing for the school; where the convenant already
    withholds, its own reason stays (the objection is not revealed there)."""
    restriction = policies.Restriction((policies.objection(c, ["police", "surname"], ["politie"]),))
    school = policies.decide(c, "school", "case_worker", "casusoverleg", "pga")
    assert policies.restrict(school, restriction) is school
    gemeente_only = policies.Restriction((policies.objection(c, ["justice"], ["school"]),))
    restricted = policies.restrict(school, gemeente_only)
    rules = {fd.field: fd.rule_id for fd in restricted.fields.values()}
    assert rules["pending_case"] == policies.DEFAULT_DENY


def test_a_party_keeps_seeing_what_it_supplied(c: policies.Convenant) -> None:
    """Own data is lifted over an objection: the police see the incidents they supplied."""
    decision = policies.decide(c, "politie", "case_worker", "casusoverleg", "pga")
    restricted = policies.restrict(
        decision, policies.Restriction((policies.objection(c, ["police"]),))
    )
    sources = {name: "jeugdhulp" for name in RECORD} | {"incidents_summary": "politie"}
    view = policies.apply(restricted, RECORD, sources)
    assert view.fields["incidents_summary"] == "Twee winkeldiefstallen"
    assert "incident_count" not in view.fields and view.own_data == ("incidents_summary",)


def test_in_a_dat_view_restricted_fields_do_not_count_as_held(c: policies.Convenant) -> None:
    """Triage: a category under objection is not listed among the categories that hold data."""
    decision = policies.decide(c, "gemeente", "coordinator", "triage", "signaal")
    restricted = policies.restrict(
        decision, policies.Restriction((policies.objection(c, ["care"]),))
    )
    view = policies.apply(restricted, RECORD)
    assert view.involvement is not None and "care" not in view.involvement.categories
    assert "police" in view.involvement.categories


def test_explain_names_the_objection_and_the_own_data_rule(c: policies.Convenant) -> None:
    """explain with a restriction shows rule bezwaar and says own data stays visible."""
    restriction = policies.Restriction((policies.objection(c, ["care_involved"]),))
    result = policies.explain(c, "politie", "case_worker", "casusoverleg", "pga", restriction)
    rules = {f["field"]: (f["effect"], f["rule"]) for f in result["fields"]}
    assert rules["care_involved"] == ("withhold", policies.OBJECTION_RULE)
    assert "zelf" in result["own_data"]["explanation"]
    plain = policies.explain(c, "politie", "case_worker", "casusoverleg", "pga")
    assert "zelf" in plain["own_data"]["explanation"] and "bezwaar" not in str(plain)


TARGETS = ("identification", "contact", "school", "police", "care", "surname", "bsn", "debts")
PARTIES = ("gemeente", "politie", "om", "jeugdhulp", "zvh", "school", "woningcorporatie")


@given(
    objection=objections(TARGETS, PARTIES),
    party=st.sampled_from(PARTIES),
    track=st.sampled_from(("lokaal_preventief", "pga", "zvh")),
)
def test_a_restriction_never_widens(
    objection: tuple[list[str], list[str]], party: str, track: str
) -> None:
    """Whatever the objection, every field is disclosed at most as the convenant discloses it."""
    c = default()
    role = "coordinator" if party == "gemeente" else "case_worker"
    decision = policies.decide(c, party, role, "casusoverleg", track)
    restriction = policies.Restriction((policies.objection(c, *objection),))
    restricted = policies.restrict(decision, restriction)
    for name, fd in restricted.fields.items():
        before = decision.fields[name]
        assert fd == before or (fd.effect is Effect.WITHHOLD and before.is_disclosed)
    assert set(restricted.disclosed_fields) <= set(decision.disclosed_fields)
    assert set(restricted.liftable) >= set(decision.liftable)
