"""Properties over generated convenants: no leak, determinism, default deny, pseudonyms."""

from __future__ import annotations

import itertools
import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import policies
from policies import Effect
from tests.policies.helpers import dump
from tests.strategies import convenant_documents, records_for

SETTINGS = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
KEY = b"k" * 32


def _field_types(c: policies.Convenant) -> dict[str, str]:
    return {name: f.type.value for name, f in c.fields.items()}


def _requests(c: policies.Convenant) -> list[tuple[str, str, str, str]]:
    names = [*c.parties, "onbekend"]
    return list(itertools.product(names, [*c.roles, "x"], [*c.purposes, "y"], [*c.tracks, "z"]))


@SETTINGS
@given(document=convenant_documents(), data=st.data())
def test_apply_never_emits_a_withheld_value(document: dict[str, Any], data: st.DataObject) -> None:
    """Whatever the convenant and record: a withheld field's value appears nowhere in the view."""
    c = policies.loads(dump(document))
    record = data.draw(records_for(_field_types(c)))
    supplier = data.draw(st.sampled_from(sorted(c.parties)))
    sources = dict.fromkeys(record, supplier)
    for request in _requests(c):
        decision = policies.decide(c, *request)
        for with_sources in (None, sources):
            view = policies.apply(decision, record, with_sources, KEY)
            body = json.dumps(
                {"fields": view.fields, "withheld": [w.as_dict() for w in view.withheld]},
                default=str,
            )
            own = set(view.own_data)
            for name, value in record.items():
                fd = decision.fields[name]
                if fd.effect is Effect.WITHHOLD and name not in own:
                    assert name not in view.fields
                    if not isinstance(value, bool):
                        assert str(value) not in body, (request, name)
                elif fd.effect is not Effect.SHOW and name not in own and name in view.fields:
                    assert view.fields[name] != value or fd.effect is Effect.MASK
            assert set(view.fields) <= set(decision.disclosed_fields) | own
            if own:
                assert with_sources is not None and decision.party == supplier


@SETTINGS
@given(document=convenant_documents())
def test_decisions_are_deterministic(document: dict[str, Any]) -> None:
    """Loading the same convenant twice gives the same decision for every request."""
    a, b = policies.loads(dump(document)), policies.loads(dump(document))
    assert a.hash == b.hash
    for request in _requests(a):
        da, db = policies.decide(a, *request), policies.decide(b, *request)
        assert dict(da.fields) == dict(db.fields)
        assert (da.denial, da.view) == (db.denial, db.view)


@SETTINGS
@given(document=convenant_documents())
def test_anything_unnamed_is_withheld(document: dict[str, Any]) -> None:
    """A cell no rule names is withheld by default deny; unknown names are denied outright."""
    c = policies.loads(dump(document))
    named: set[tuple[str, str, str, str, str]] = set()
    for rule in c.rules:
        for target in rule.targets:
            fields = c.categories[target].fields if target in c.categories else (target,)
            for t, p, r, u, f in itertools.product(
                rule.tracks, rule.parties, rule.roles, rule.purposes, fields
            ):
                named.add((p, r, u, t, f))
    for request in _requests(c):
        decision = policies.decide(c, *request)
        for name, fd in decision.fields.items():
            if (*request, name) not in named:
                assert fd.effect is Effect.WITHHOLD and fd.is_default_deny
        if any(part in ("onbekend", "x", "y", "z") for part in request):
            assert not decision.is_allowed and not decision.disclosed_fields


@SETTINGS
@given(value=st.text(min_size=8, max_size=40), key=st.binary(min_size=16, max_size=32))
def test_pseudonyms_are_stable_per_recipient_and_differ_across(value: str, key: bytes) -> None:
    """A pseudonym is the same for the same recipient and key, and differs between recipients."""
    document = {**_pseudonym_document()}
    c = policies.loads(dump(document))
    views = {
        party: policies.apply(
            policies.decide(c, party, "case_worker", "werk", "t0"), {"naam": value}, None, key
        ).fields["naam"]
        for party in ("a", "b")
    }
    again = policies.apply(
        policies.decide(c, "a", "case_worker", "werk", "t0"), {"naam": value}, None, key
    ).fields["naam"]
    assert views["a"] == again
    assert views["a"] != views["b"]
    assert value not in views["a"]
    other_key = policies.apply(
        policies.decide(c, "a", "case_worker", "werk", "t0"), {"naam": value}, None, key + b"x"
    ).fields["naam"]
    assert other_key != views["a"]


def _pseudonym_document() -> dict[str, Any]:
    import datetime as dt

    return {
        "convenant": {"id": "p", "title": "p", "version": "1", "effective_date": dt.date.today()},
        "parties": {p: {"name": p, "regime": "AVG", "legal_basis": "b"} for p in ("a", "b")},
        "roles": {"case_worker": {"description": "cw", "parties": "all"}},
        "purposes": {
            "werk": {
                "description": "w",
                "legal_basis": "b",
                "roles": ["case_worker"],
                "view": "case",
            }
        },
        "tracks": {"t0": {"description": "t", "initial": True, "case_team": ["a", "b"]}},
        "categories": {
            "c": {"description": "c", "suppliers": "all", "fields": {"naam": {"type": "string"}}}
        },
        "retention": {
            "untriaged_signal": {"months": 6},
            "closed_case": {"years": 2},
            "age_limit": {"years": 23},
            "audit_record": {"years": 5},
        },
        "rules": [
            {
                "id": "PS",
                "tracks": ["t0"],
                "parties": ["a", "b"],
                "roles": ["case_worker"],
                "purposes": ["werk"],
                "effect": "pseudonymise",
                "targets": ["naam"],
                "legal_basis": "b",
                "explanation": "e",
            }
        ],
    }
