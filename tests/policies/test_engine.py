"""decide and apply on the default convenant: effects, own data, DAT view, denials."""

from __future__ import annotations

import pytest

import policies
from policies import Effect
from tests.policies.helpers import DEFAULT_PATH, default_document, load_document, rule_index

RECORD = {
    "bsn": "123456782",
    "surname": "de Boer",
    "given_names": "Sem",
    "birth_date": "2010-05-17",
    "street": "Egelantierstraat",
    "house_number": "12a",
    "postcode": "8924 AB",
    "city": "Leeuwarden",
    "wijk": "Heechterp-Schieringen",
    "school_name": "Piter Jelles",
    "attendance_problem": True,
    "incident_count": 2,
    "incidents_summary": "Twee winkeldiefstallen",
    "care_involved": True,
    "care_details": "Ambulante gezinsbegeleiding",
    "debts": True,
    "debt_details": "Schuld bij zorgverzekeraar",
}


@pytest.fixture(scope="module")
def c() -> policies.Convenant:
    """The default convenant."""
    return policies.load(DEFAULT_PATH)


def test_school_sees_name_year_and_wijk_only(c: policies.Convenant) -> None:
    """School in PGA: name, birth year, wijk and school data; no BSN, address, police, care."""
    view = policies.apply(
        policies.decide(c, "school", "case_worker", "casusoverleg", "pga"), RECORD
    )
    assert view.fields == {
        "surname": "de Boer",
        "given_names": "Sem",
        "birth_date": "2010",
        "wijk": "Heechterp-Schieringen",
        "school_name": "Piter Jelles",
        "attendance_problem": True,
    }
    withheld = {w.field: w for w in view.withheld}
    assert withheld["bsn"].rule_id == "SCH-GEEN-BSN"
    assert withheld["street"].rule_id == "SCH-ADRES"
    assert withheld["incident_count"].rule_id == policies.DEFAULT_DENY


def test_coordinator_sees_masked_bsn_and_incident_band(c: policies.Convenant) -> None:
    """Gemeente in the local approach: BSN masked to its last three digits, incidents banded."""
    view = policies.apply(
        policies.decide(c, "gemeente", "coordinator", "uitvoering", "lokaal_preventief"), RECORD
    )
    assert view.fields["bsn"] == "******782"
    assert view.fields["incident_count"] == "1-2"
    assert view.disclosed["incident_count"] == "generalise"
    assert view.fields["care_involved"] is True
    assert "care_details" not in view.fields and "incidents_summary" not in view.fields


@pytest.mark.parametrize(
    ("count", "band"),
    [(0, "0"), (1, "1-2"), (2, "1-2"), (3, "3-5"), (5, "3-5"), (6, "6+"), (40, "6+")],
)
def test_incident_bands(c: policies.Convenant, count: int, band: str) -> None:
    """incident_count generalises to the bands of the matrix."""
    d = policies.decide(c, "jeugdhulp", "case_worker", "casusoverleg", "lokaal_preventief")
    assert policies.apply(d, {"incident_count": count}).fields["incident_count"] == band


def test_police_see_that_care_is_involved_not_what(c: policies.Convenant) -> None:
    """Scenario 3: in ZVH the police see care_involved, not the care details."""
    view = policies.apply(
        policies.decide(c, "politie", "case_worker", "casusoverleg", "zvh"), RECORD
    )
    assert view.fields["care_involved"] is True
    assert "care_details" not in view.fields
    zvh = policies.apply(policies.decide(c, "zvh", "case_worker", "casusoverleg", "zvh"), RECORD)
    assert zvh.fields["care_details"] == "Ambulante gezinsbegeleiding"
    fd = policies.decide(c, "zvh", "case_worker", "casusoverleg", "zvh").fields["care_details"]
    assert fd.special_basis is not None and "9 lid 2 sub g" in fd.special_basis


def test_withheld_lists_every_withheld_field_whether_or_not_there_is_a_value(
    c: policies.Convenant,
) -> None:
    """The withheld list is the same for an empty and a full case: it reveals no presence."""
    d = policies.decide(c, "school", "case_worker", "casusoverleg", "pga")
    assert policies.apply(d, {}).withheld == policies.apply(d, RECORD).withheld


def test_own_data_is_always_visible_to_its_supplier(c: policies.Convenant) -> None:
    """A party sees the values it supplied itself, whatever the table says."""
    d = policies.decide(c, "school", "case_worker", "casusoverleg", "pga")
    view = policies.apply(d, RECORD, {"bsn": "school", "street": "school", "debts": "gemeente"})
    assert view.fields["bsn"] == "123456782" and view.fields["street"] == "Egelantierstraat"
    assert set(view.own_data) == {"bsn", "street"}
    assert "debts" not in view.fields
    assert {"bsn", "street"}.isdisjoint(w.field for w in view.withheld)


def test_own_data_outside_the_case_team(c: policies.Convenant) -> None:
    """A supplier not on the case team is denied, but may still see its own values."""
    d = policies.decide(c, "woningcorporatie", "case_worker", "casusoverleg", "zvh")
    assert d.denial == "not_on_case_team"
    view = policies.apply(
        d,
        {**RECORD, "nuisance_reports": 4},
        {"nuisance_reports": "woningcorporatie", "surname": "politie"},
    )
    assert view.fields == {"nuisance_reports": 4}


def test_privacy_officer_never_sees_content_not_even_own_data(c: policies.Convenant) -> None:
    """The FG gets no case content, in any purpose or track."""
    for purpose in ("toezicht", "inzageverzoek"):
        for track in c.tracks:
            d = policies.decide(c, "gemeente", "privacy_officer", purpose, track)
            view = policies.apply(d, RECORD, dict.fromkeys(RECORD, "gemeente"))
            assert d.is_allowed and view.fields == {} and view.involvement is None


def test_triage_shows_identity_and_the_fact_of_involvement(c: policies.Convenant) -> None:
    """DAT-information: which categories hold data and who supplied it, not the content."""
    d = policies.decide(c, "gemeente", "coordinator", "triage", "signaal")
    view = policies.apply(d, RECORD, {"incident_count": "politie", "school_name": "school"})
    assert view.fields["bsn"] == "******782" and view.fields["surname"] == "de Boer"
    assert "incident_count" not in view.fields and "school_name" not in view.fields
    assert view.involvement == policies.Involvement(
        ("care", "finance", "identification", "police", "school"), ("politie", "school")
    )


@pytest.mark.parametrize(
    ("request_", "code"),
    [
        (("brandweer", "case_worker", "casusoverleg", "pga"), "unknown_party"),
        (("politie", "chef", "casusoverleg", "pga"), "unknown_role"),
        (("politie", "case_worker", "nieuwsgierigheid", "pga"), "unknown_purpose"),
        (("politie", "case_worker", "casusoverleg", "nazorg"), "unknown_track"),
        (("politie", "coordinator", "casusoverleg", "pga"), "role_not_for_party"),
        (("politie", "case_worker", "triage", "pga"), "purpose_not_for_role"),
        (("om", "case_worker", "casusoverleg", "lokaal_preventief"), "not_on_case_team"),
    ],
)
def test_denials_are_values_with_a_reason(
    c: policies.Convenant, request_: tuple[str, ...], code: str
) -> None:
    """A denial is a Decision with a code and a reason, and applying it shows nothing."""
    d = policies.decide(c, *request_)
    assert d.denial == code and not d.is_allowed
    assert d.denial_reason
    assert policies.apply(d, RECORD).fields == {}
    assert all(fd.effect is Effect.WITHHOLD for fd in d.fields.values())


def test_a_value_that_cannot_be_transformed_is_withheld_not_shown(c: policies.Convenant) -> None:
    """A malformed birth date for a generalising rule is withheld, never passed through."""
    d = policies.decide(c, "school", "case_worker", "casusoverleg", "pga")
    view = policies.apply(d, {"birth_date": "17 mei 2010"})
    assert "birth_date" not in view.fields
    assert any(w.field == "birth_date" for w in view.withheld)


def test_pseudonymise_without_a_key_withholds() -> None:
    """Without a pseudonymisation key a field to pseudonymise is withheld."""
    document = default_document()
    document["rules"][rule_index(document, "SCH-NAAM")]["effect"] = "pseudonymise"
    c = load_document(document)
    d = policies.decide(c, "school", "case_worker", "casusoverleg", "pga")
    assert "surname" not in policies.apply(d, RECORD).fields
    with_key = policies.apply(d, RECORD, pseudonym_key=b"s" * 32).fields["surname"]
    assert with_key.startswith("ps-") and "Boer" not in with_key


def test_explain_lists_every_field_with_rule_and_basis(c: policies.Convenant) -> None:
    """Explain gives each field its effect, rule, legal basis and explanation."""
    result = policies.explain(c, "politie", "case_worker", "uitvoering", "pga")
    assert result["allowed"] and result["convenant"]["hash"] == c.hash
    by_field = {f["field"]: f for f in result["fields"]}
    assert set(by_field) == set(c.fields)
    assert by_field["incidents_summary"]["rule"] == "POL-POLITIE"
    assert "Wpg" in by_field["incidents_summary"]["legal_basis"]
    assert by_field["care_details"]["effect"] == "withhold"
    assert all(f["explanation"] for f in result["fields"])
    denied = policies.explain(c, "school", "case_worker", "uitvoering", "zvh")
    assert denied["denial"] == "not_on_case_team" and denied["own_data"] is not None
