"""`broker convenant …` as a user runs it: check, test, explain, matrix, diff."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from broker.main import cli
from tests.policies.helpers import DEFAULT_PATH, default_document, dump, rule_index


@pytest.fixture
def run():
    """Invoke the broker CLI and return the result."""
    runner = CliRunner()

    def invoke(*args: str):
        return runner.invoke(cli, list(args), catch_exceptions=False)

    return invoke


def test_check_default(run) -> None:
    """check prints the version and hash of a good convenant and exits 0."""
    result = run("convenant", "check", str(DEFAULT_PATH))
    assert result.exit_code == 0
    assert "version 1.0" in result.output and "sha256:" in result.output


def test_check_broken_exits_1_listing_problems(run, tmp_path: Path) -> None:
    """check exits 1 and lists each problem with its path and line."""
    document = default_document()
    document["rules"][0]["parties"].append("brandweer")
    del document["rules"][rule_index(document, "ZVH-ZORG")]["special_basis"]
    broken = tmp_path / "broken.yaml"
    broken.write_text(dump(document), encoding="utf-8")
    result = run("convenant", "check", str(broken))
    assert result.exit_code == 1
    assert "rules[0].parties[1] (line" in result.output
    assert "unknown party 'brandweer'" in result.output
    assert "special_basis.art9" in result.output


def test_test_command_runs_the_default_suite(run) -> None:
    """test with no arguments runs the matrix suite against the default convenant."""
    result = run("convenant", "test")
    assert result.exit_code == 0, result.output
    assert "0 failures — passed" in result.output


def test_test_command_fails_on_a_changed_cell(run, tmp_path: Path) -> None:
    """test exits 1 and names the cell when the convenant departs from the suite."""
    document = default_document()
    document["rules"][rule_index(document, "WC-WONEN")]["targets"] = ["nuisance_reports"]
    changed = tmp_path / "changed.yaml"
    changed.write_text(dump(document), encoding="utf-8")
    result = run("convenant", "test", str(changed))
    assert result.exit_code == 1
    assert "field eviction_risk: expected show, got withhold" in result.output


def test_explain_shows_rule_and_basis(run) -> None:
    """explain lists each field with effect, rule and legal basis."""
    result = run(
        "convenant",
        "explain",
        "--party",
        "woningcorporatie",
        "--role",
        "case_worker",
        "--purpose",
        "casusoverleg",
        "--track",
        "pga",
        "--convenant",
        str(DEFAULT_PATH),
    )
    assert result.exit_code == 0
    line = next(x for x in result.output.splitlines() if x.startswith("street"))
    assert "show" in line and "WC-NAAM-ADRES" in line
    denied = run(
        "convenant",
        "explain",
        "--party",
        "school",
        "--role",
        "case_worker",
        "--purpose",
        "casusoverleg",
        "--track",
        "zvh",
    )
    assert "GEWEIGERD (not_on_case_team)" in denied.output


def test_matrix_table_and_csv(run) -> None:
    """matrix prints the table; --csv prints one row per cell."""
    table = run("convenant", "matrix", str(DEFAULT_PATH))
    assert "## traject zvh · doel casusoverleg" in table.output
    rows = run("convenant", "matrix", "--csv", str(DEFAULT_PATH)).output.strip().splitlines()
    assert rows[0].startswith("track,party,role,purpose,field,effect,rule")
    assert len(rows) == 1 + 4 * 7 * 3 * 5 * 30


def test_diff_between_versions(run, tmp_path: Path) -> None:
    """diff names what becomes visible between two versions."""
    document = default_document()
    document["rules"][rule_index(document, "OM-VERZUIM-PGA")]["targets"] = ["school"]
    new = tmp_path / "new.yaml"
    new.write_text(dump(document), encoding="utf-8")
    result = run("convenant", "diff", str(DEFAULT_PATH), str(new))
    assert result.exit_code == 0
    assert "visible" in result.output and "om/case_worker dropout_risk" in result.output
