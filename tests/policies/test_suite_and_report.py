"""The YAML test suites, the coverage matrix and the diff between versions."""

from __future__ import annotations

import csv
import io
import itertools

import pytest

import policies
from policies.report import coverage, coverage_csv, coverage_table, diff
from policies.suite import load_suite, loads_suite, run_suite
from tests.policies.helpers import DEFAULT_PATH, ROOT, default_document, load_document, rule_index

SUITE = ROOT / "tests" / "convenant" / "default.suite.yaml"


@pytest.fixture(scope="module")
def c() -> policies.Convenant:
    """The default convenant."""
    return policies.load(DEFAULT_PATH)


def test_default_suite_passes_and_covers_every_matrix_column(c: policies.Convenant) -> None:
    """The independent suite for the matrix passes, checking every field of every column."""
    suite = load_suite(SUITE)
    assert suite.convenant_path is not None and suite.convenant_path.resolve() == DEFAULT_PATH
    result = run_suite(c, suite)
    assert result.passed, "\n".join(map(str, result.failures))
    checked = {
        (party, role, purpose, track)
        for test in suite.tests
        if "denied" not in test
        for party, role, purpose, track in itertools.product(
            test["request"]["parties"],
            test["request"]["roles"],
            test["request"]["purposes"],
            test["request"]["tracks"],
        )
        if test.get("otherwise")
    }
    for track, party in (
        [("lokaal_preventief", p) for p in ("politie", "jeugdhulp", "school")]
        + [("pga", p) for p in ("politie", "om", "jeugdhulp", "school", "woningcorporatie")]
        + [("zvh", p) for p in ("politie", "om", "jeugdhulp", "zvh")]
    ):
        for purpose in ("casusoverleg", "uitvoering"):
            assert (party, "case_worker", purpose, track) in checked
    for track in ("lokaal_preventief", "pga", "zvh"):
        assert ("gemeente", "coordinator", "casusoverleg", track) in checked


@pytest.mark.parametrize(
    ("rule_id", "change"),
    [
        ("SCH-GEBOORTEJAAR", {"effect": "show", "generaliser": None}),
        ("POL-ZORG-DAT", {"targets": ["care"]}),
        ("WC-NAAM-ADRES", {"targets": ["surname", "given_names", "wijk"]}),
    ],
)
def test_the_suite_catches_a_changed_cell(rule_id: str, change: dict[str, object]) -> None:
    """Changing one rule of the default convenant makes the suite fail on that cell."""
    document = default_document()
    rule = document["rules"][rule_index(document, rule_id)]
    for key, value in change.items():
        if value is None:
            rule.pop(key, None)
        else:
            rule[key] = value
    result = run_suite(load_document(document), load_suite(SUITE))
    assert not result.passed
    assert any(f.field is not None for f in result.failures)


def test_suite_reports_denial_mismatches(c: policies.Convenant) -> None:
    """A test expecting a denial fails when the request is allowed, and vice versa."""
    suite = loads_suite("""
name: t
tests:
  - name: politie in pga is allowed, not denied
    request: {parties: [politie], roles: [case_worker], purposes: [casusoverleg], tracks: [pga]}
    denied: not_on_case_team
  - name: om in lokaal is denied
    request: {parties: [om], roles: [case_worker], purposes: [casusoverleg],
              tracks: [lokaal_preventief]}
    expect: {surname: show}
""")
    result = run_suite(c, suite)
    assert [f.expected for f in result.failures] == ["denied (not_on_case_team)", "allowed"]


def test_malformed_suite_is_refused_with_paths() -> None:
    """A suite with an unknown effect or a test without expectations is refused."""
    with pytest.raises(policies.SuiteError) as info:
        loads_suite(
            "name: t\ntests:\n  - name: a\n    request: {parties: [a], roles: [b], "
            "purposes: [c], tracks: [d]}\n    expect: {bsn: tonen}\n"
            "  - name: b\n    request: {parties: [a], roles: [b], purposes: [c], "
            "tracks: [d]}\n"
        )
    text = "\n".join(map(str, info.value.problems))
    assert "tests[0].expect.bsn" in text and "tests[1]" in text


def test_suite_names_unknown_fields(c: policies.Convenant) -> None:
    """An expectation about a field the convenant does not know is a failure, not ignored."""
    suite = loads_suite(
        "name: t\ntests:\n  - name: a\n    request: {parties: [politie], "
        "roles: [case_worker], purposes: [casusoverleg], tracks: [pga]}\n"
        "    expect: {schoenmaat: withhold}\n"
    )
    assert run_suite(c, suite).failures[0].field == "schoenmaat"


def test_coverage_has_every_cell_with_its_rule(c: policies.Convenant) -> None:
    """The matrix has one row per track × party × role × purpose × field, each with a rule."""
    rows = list(coverage(c))
    assert len(rows) == (
        len(c.tracks) * len(c.parties) * len(c.roles) * len(c.purposes) * len(c.fields)
    )
    rule_ids = {r.id for r in c.rules} | {policies.DEFAULT_DENY}
    assert {row.rule for row in rows} == rule_ids
    cell = next(
        r
        for r in rows
        if (r.track, r.party, r.role, r.purpose, r.field)
        == ("pga", "school", "case_worker", "uitvoering", "birth_date")
    )
    assert (cell.effect, cell.rule) == ("generalise(geboortejaar)", "SCH-GEBOORTEJAAR")
    parsed = list(csv.DictReader(io.StringIO(coverage_csv(c))))
    assert len(parsed) == len(rows) and parsed[0].keys() >= {"track", "rule", "legal_basis"}
    table = coverage_table(c)
    assert "## traject pga · doel uitvoering" in table and "G SCH-GEBOORTEJAAR" in table


def test_diff_names_visible_hidden_and_transformed(c: policies.Convenant) -> None:
    """Diff reports fields that become visible, hidden or differently transformed."""
    document = default_document()
    document["rules"][rule_index(document, "SCH-GEBOORTEJAAR")]["effect"] = "show"
    del document["rules"][rule_index(document, "SCH-GEBOORTEJAAR")]["generaliser"]
    document["rules"][rule_index(document, "WC-WONEN")]["targets"] = ["nuisance_reports"]
    document["generalisers"]["incidentband"]["bands"][1]["max"] = 3
    document["rules"][rule_index(document, "OM-VERZUIM-PGA")]["targets"] = [
        "attendance_problem",
        "dropout_risk",
    ]
    changes = diff(c, load_document(document))
    kinds = {(ch.party, ch.field, ch.track, ch.kind) for ch in changes}
    assert ("school", "birth_date", "pga", "transformed") in kinds
    assert ("woningcorporatie", "eviction_risk", "pga", "hidden") in kinds
    assert ("om", "dropout_risk", "pga", "visible") in kinds
    assert ("jeugdhulp", "incident_count", "lokaal_preventief", "transformed") in kinds
    assert not diff(c, c)
