"""Loading: the default convenant, the version hash, and every class of broken convenant."""

from __future__ import annotations

import pytest
import yaml

import policies
from tests.policies.helpers import (
    DEFAULT_PATH,
    default_document,
    dump,
    load_document,
    problems_of,
    rule_index,
)


def _messages(problems: list[policies.Problem]) -> str:
    return "\n".join(str(p) for p in problems)


def test_default_convenant_loads() -> None:
    """The shipped convenant loads and has the matrix's parties, purposes and tracks."""
    c = policies.load(DEFAULT_PATH)
    assert set(c.parties) == {
        "gemeente",
        "politie",
        "om",
        "jeugdhulp",
        "zvh",
        "school",
        "woningcorporatie",
    }
    assert set(c.purposes) == {"triage", "casusoverleg", "uitvoering", "toezicht", "inzageverzoek"}
    assert set(c.tracks) == {"signaal", "lokaal_preventief", "pga", "zvh"}
    assert c.initial_track == "signaal"
    assert c.version == "1.0"
    assert len(c.fields) == 30


def test_hash_ignores_layout_but_not_content() -> None:
    """The version hash is over a canonical form: comments and key order do not change it."""
    c = policies.load(DEFAULT_PATH)
    document = default_document()
    reordered = dict(reversed(list(document.items())))
    assert load_document(reordered).hash == c.hash
    document["rules"][0]["explanation"] += " (gewijzigd)"
    assert load_document(document).hash != c.hash
    assert c.hash.startswith("sha256:") and len(c.hash) == len("sha256:") + 64


def test_every_decision_names_the_convenant_hash() -> None:
    """Each precomputed decision carries the hash of the convenant that made it."""
    c = policies.load(DEFAULT_PATH)
    assert {d.convenant_hash for d in c.decisions.values()} == {c.hash}


def test_invalid_yaml_names_the_line() -> None:
    """A syntax error is refused with the line where YAML stopped."""
    text = "convenant:\n  id: x\n  title: [unclosed\nparties: {}\n"
    (problem,) = problems_of(text)
    assert "not valid YAML" in problem.message
    assert problem.line is not None and problem.line >= 3


def test_unreadable_file_is_a_problem_not_a_crash(tmp_path) -> None:
    """A missing file is refused as a ConvenantError."""
    with pytest.raises(policies.ConvenantError) as info:
        policies.load(tmp_path / "missing.yaml")
    assert "cannot read" in str(info.value)


def test_structure_problems_name_path_and_line() -> None:
    """Cerberus finds a missing key, an unknown key and a bad value, each at its path."""
    document = default_document()
    del document["rules"][2]["legal_basis"]
    document["rules"][3]["effekt"] = "show"
    document["rules"][4]["effect"] = "publish"
    problems = problems_of(dump(document))
    text = _messages(problems)
    assert "rules[2].legal_basis" in text and "required field" in text
    assert "rules[3].effekt" in text and "unknown field" in text
    assert "rules[4].effect" in text and "unallowed value publish" in text
    assert all(p.line for p in problems if p.path.startswith("rules["))


@pytest.mark.parametrize(
    ("key", "bad", "kind"),
    [
        ("parties", "brandweer", "party"),
        ("roles", "wijkagent", "role"),
        ("purposes", "onderzoek", "purpose"),
        ("tracks", "nazorg", "track"),
        ("targets", "schoenmaat", "category or field"),
    ],
)
def test_unknown_reference_in_a_rule_names_its_path(key: str, bad: str, kind: str) -> None:
    """An unknown party, role, purpose, track or target in a rule is refused at its path."""
    document = default_document()
    index = rule_index(document, "POL-BASIS")
    document["rules"][index][key].append(bad)
    position = len(document["rules"][index][key]) - 1
    problems = problems_of(dump(document))
    match = [p for p in problems if p.path == f"rules[{index}].{key}[{position}]"]
    assert match, _messages(problems)
    assert f"unknown {kind} {bad!r}" in match[0].message
    assert match[0].line is not None


def test_unknown_references_outside_rules() -> None:
    """Case teams, purpose roles, role parties and suppliers are checked as well."""
    document = default_document()
    document["tracks"]["pga"]["case_team"].append("brandweer")
    document["purposes"]["triage"]["roles"].append("wijkagent")
    document["roles"]["coordinator"]["parties"].append("provincie")
    document["categories"]["police"]["suppliers"].append("kmar")
    text = _messages(problems_of(dump(document)))
    for expected in (
        "tracks.pga.case_team",
        "purposes.triage.roles",
        "roles.coordinator.parties",
        "categories.police.suppliers",
    ):
        assert expected in text
    for name in ("brandweer", "wijkagent", "provincie", "kmar"):
        assert repr(name) in text


@pytest.mark.parametrize(("rule_id", "article"), [("ZVH-ZORG", "art9"), ("POL-POLITIE", "art10")])
def test_special_category_without_legal_basis_is_refused(rule_id: str, article: str) -> None:
    """A rule that discloses art. 9 or art. 10 data without naming its basis is refused."""
    document = default_document()
    index = rule_index(document, rule_id)
    del document["rules"][index]["special_basis"]
    problems = problems_of(dump(document))
    (problem,) = [p for p in problems if p.path == f"rules[{index}]"]
    assert f"special_basis.{article}" in problem.message
    assert problem.line is not None


def test_special_basis_that_covers_nothing_is_refused() -> None:
    """A special basis on a rule that discloses no such field is a sign of a mistake."""
    document = default_document()
    index = rule_index(document, "POL-BASIS")
    document["rules"][index]["special_basis"] = {"art9": "AVG art. 9 lid 2 sub g"}
    problems = problems_of(dump(document))
    assert any(p.path == f"rules[{index}].special_basis.art9" for p in problems)


def test_conflicting_rules_are_refused_naming_both() -> None:
    """Two rules deciding the same cell at the same level refuse the file (no silent winner)."""
    document = default_document()
    clash = dict(document["rules"][rule_index(document, "SCH-ONDERWIJS")])
    clash.update(id="SCH-ONDERWIJS-2", effect="withhold", targets=["school"])
    document["rules"].append(clash)
    problems = problems_of(dump(document))
    index = len(document["rules"]) - 1
    (problem,) = [p for p in problems if p.path == f"rules[{index}]"]
    assert "SCH-ONDERWIJS-2" in problem.message and "SCH-ONDERWIJS" in problem.message
    assert "school_name" in problem.message and "track lokaal_preventief" in problem.message


def test_field_rule_overrides_category_rule() -> None:
    """A field-level rule beats a category-level rule for the same cell (not a conflict)."""
    c = policies.load(DEFAULT_PATH)
    d = policies.decide(c, "gemeente", "coordinator", "casusoverleg", "pga")
    assert d.fields["bsn"].effect is policies.Effect.MASK
    assert d.fields["bsn"].rule_id == "GEM-BSN"
    assert d.fields["surname"].rule_id == "GEM-BASIS"


def test_rule_that_can_never_apply_is_refused() -> None:
    """A rule for a party not on the case team of any of its tracks can never apply."""
    document = default_document()
    rule = dict(document["rules"][rule_index(document, "OM-BASIS")])
    rule.update(id="OM-LP", tracks=["lokaal_preventief"])
    document["rules"].append(rule)
    problems = problems_of(dump(document))
    index = len(document["rules"]) - 1
    (problem,) = [p for p in problems if p.path == f"rules[{index}]"]
    assert "can never apply" in problem.message
    assert "not on the case team" in problem.message


def test_rule_giving_the_privacy_officer_content_is_refused() -> None:
    """A rule for a purpose without case content (toezicht) can never apply."""
    document = default_document()
    document["rules"].append(
        {
            "id": "FG-INZAGE",
            "tracks": ["pga"],
            "parties": ["gemeente"],
            "roles": ["privacy_officer"],
            "purposes": ["toezicht"],
            "effect": "show",
            "targets": ["surname"],
            "legal_basis": "x",
            "explanation": "x",
        }
    )
    problems = problems_of(dump(document))
    assert any("never shows case content" in p.message for p in problems)


def test_rule_wholly_overridden_is_refused() -> None:
    """A category rule whose every field is decided by field rules can never apply."""
    document = default_document()
    document["rules"].append(
        {
            "id": "WC-CONTACT",
            "tracks": ["pga"],
            "parties": ["woningcorporatie"],
            "roles": ["case_worker"],
            "purposes": ["casusoverleg", "uitvoering"],
            "effect": "show",
            "targets": ["contact"],
            "legal_basis": "x",
            "explanation": "x",
        }
    )
    document["rules"].append(
        {
            "id": "WC-CONTACT-NIET",
            "tracks": ["pga"],
            "parties": ["woningcorporatie"],
            "roles": ["case_worker"],
            "purposes": ["casusoverleg", "uitvoering"],
            "effect": "withhold",
            "targets": ["guardian_name", "phone"],
            "legal_basis": "x",
            "explanation": "x",
        }
    )
    problems = problems_of(dump(document))
    assert any(
        "WC-CONTACT can never apply" in p.message and "WC-CONTACT-NIET" in p.message
        for p in problems
    ), _messages(problems)


def test_duplicate_rule_ids_and_keys_are_refused() -> None:
    """Rule ids are unique, and a YAML key may not appear twice in one mapping."""
    document = default_document()
    document["rules"][5]["id"] = document["rules"][4]["id"]
    problems = problems_of(dump(document))
    assert any(p.path == "rules[5].id" and "already used" in p.message for p in problems)
    text = DEFAULT_PATH.read_text(encoding="utf-8").replace(
        "  politie:\n    name:", "  politie:\n    regime: Wpg\n    name:", 1
    )
    problems = problems_of(text)
    assert any(
        p.path == "parties.politie.regime" and "more than once" in p.message for p in problems
    )


def test_effect_parameters_are_checked() -> None:
    """mask needs keep_last; generalise needs a known generaliser that fits the field type."""
    document = default_document()
    document["rules"][rule_index(document, "GEM-BSN")].pop("keep_last")
    document["rules"][rule_index(document, "SCH-GEBOORTEJAAR")]["generaliser"] = "incidentband"
    document["rules"][rule_index(document, "WC-GEBOORTEJAAR")]["generaliser"] = "leeftijd"
    text = _messages(problems_of(dump(document)))
    assert "effect 'mask' needs `keep_last`" in text
    assert "cannot generalise field 'birth_date' of type date" in text
    assert "unknown generaliser 'leeftijd'" in text


def test_bands_must_cover_every_value() -> None:
    """Band limits increase and the last band is open-ended."""
    document = default_document()
    document["generalisers"]["incidentband"]["bands"] = [
        {"max": 2, "label": "0-2"},
        {"max": 1, "label": "?"},
        {"max": 9, "label": "3-9"},
    ]
    text = _messages(problems_of(dump(document)))
    assert "generalisers.incidentband.bands[1].max" in text and "must increase" in text
    assert "open-ended" in text


def test_field_and_category_names_must_differ() -> None:
    """A target name must mean one thing: a field named like a category is refused."""
    document = default_document()
    document["categories"]["contact"]["fields"]["school"] = {"type": "string"}
    problems = problems_of(dump(document))
    assert any("has the name of a category" in p.message for p in problems)


def test_exactly_one_initial_track() -> None:
    """The convenant says in which track new cases start."""
    document = default_document()
    document["tracks"]["pga"]["initial"] = True
    problems = problems_of(dump(document))
    assert any(p.path == "tracks" and "initial" in p.message for p in problems)


def test_every_problem_is_listed_at_once() -> None:
    """A convenant with several problems lists all of them, not just the first."""
    document = default_document()
    document["rules"][0]["parties"].append("brandweer")
    del document["rules"][rule_index(document, "ZVH-ZORG")]["special_basis"]
    document["tracks"]["zvh"]["case_team"].append("provincie")
    assert len(problems_of(dump(document))) >= 3


def test_a_document_that_is_not_a_mapping_is_refused() -> None:
    """A list or a scalar is not a convenant."""
    assert "mapping" in problems_of(yaml.safe_dump(["a", "b"]))[0].message
    assert problems_of("")[0].message == "the document is empty"
