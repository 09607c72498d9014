"""`broker convenant …`: check, test, explain, matrix and diff — thin wrappers over policies."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import click

import policies
from policies.report import coverage_csv, coverage_table, diff
from policies.suite import load_suite, run_suite

__all__ = ["convenant", "default_convenant_path"]

_REPO_ROOT = Path(__file__).resolve().parents[2]


def default_convenant_path() -> Path:
    """$BROKER_CONVENANT, else ./convenant.yaml, else the convenant shipped with the broker."""
    configured = os.environ.get("BROKER_CONVENANT")
    if configured:
        return Path(configured)
    here = Path("convenant.yaml")
    return here if here.is_file() else _REPO_ROOT / "convenant.yaml"


def default_suite_path() -> Path:
    """The suite that checks the default convenant against the partners' matrix."""
    return _REPO_ROOT / "tests" / "convenant" / "default.suite.yaml"


def _load(path: Path | None) -> policies.Convenant:
    try:
        return policies.load(path or default_convenant_path())
    except policies.ConvenantError as exc:
        _report(exc)
        raise SystemExit(1) from None


def _report(exc: policies.ConvenantError) -> None:
    click.echo(f"{exc.description}:", err=True)
    for problem in exc.problems:
        click.echo(f"  - {problem}", err=True)


@click.group()
def convenant() -> None:
    """Check, test and read the privacy convenant."""


@convenant.command()
@click.argument("path", required=False, type=click.Path(path_type=Path))
def check(path: Path | None) -> None:
    """Check a convenant; exit 1 listing every problem when it is broken."""
    c = _load(path)
    click.echo(f"ok: {c.meta.title}, version {c.version}, effective {c.meta.effective_date}")
    click.echo(f"hash: {c.hash}")
    click.echo(
        f"{len(c.parties)} parties, {len(c.purposes)} purposes, {len(c.tracks)} tracks, "
        f"{len(c.fields)} fields, {len(c.rules)} rules"
    )


@convenant.command("test")
@click.argument("path", required=False, type=click.Path(path_type=Path))
@click.argument("suite", required=False, type=click.Path(path_type=Path))
def test_command(path: Path | None, suite: Path | None) -> None:
    """Run a YAML test suite against a convenant; exit 1 on any failure."""
    try:
        parsed = load_suite(suite or default_suite_path())
    except policies.SuiteError as exc:
        _report(exc)
        raise SystemExit(1) from None
    c = _load(path or parsed.convenant_path)
    result = run_suite(c, parsed)
    for failure in result.failures:
        click.echo(f"FAIL {failure}")
    verdict = "passed" if result.passed else "FAILED"
    click.echo(
        f"{result.suite}: {result.tests} tests, {result.requests} requests, "
        f"{result.checks} checks, {len(result.failures)} failures — {verdict}"
    )
    if not result.passed:
        raise SystemExit(1)


@convenant.command()
@click.option("--party", required=True)
@click.option("--role", required=True)
@click.option("--purpose", required=True)
@click.option("--track", required=True)
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@click.option("--convenant", "path", type=click.Path(path_type=Path))
def explain(
    party: str, role: str, purpose: str, track: str, as_json: bool, path: Path | None
) -> None:
    """Every field with its effect, rule, legal basis and explanation for one request."""
    c = _load(path)
    result = policies.explain(c, party, role, purpose, track)
    if as_json:
        click.echo(json.dumps(result, ensure_ascii=False, indent=2))
        return
    click.echo(f"{party}/{role} · doel {purpose} · traject {track} · convenant {c.version}")
    if not result["allowed"]:
        click.echo(f"GEWEIGERD ({result['denial']}): {result['denial_reason']}")
    if result["own_data"]:
        click.echo(
            f"Eigen gegevens ({result['own_data']['rule']}): {result['own_data']['explanation']}"
        )
    width = max(len(f["field"]) for f in result["fields"])
    for f in result["fields"]:
        basis = f["legal_basis"] or ""
        if f["special_basis"]:
            basis += f"; {f['special_basis']}"
        click.echo(f"{f['field']:<{width}}  {f['effect']:<12} {f['rule']:<18} {basis}")
        click.echo(f"{'':<{width}}  {f['explanation']}")


@convenant.command()
@click.option("--csv", "as_csv", is_flag=True, help="One CSV row per cell.")
@click.argument("path", required=False, type=click.Path(path_type=Path))
def matrix(as_csv: bool, path: Path | None) -> None:
    """The coverage matrix: which rule decides every cell, or that default deny does."""
    c = _load(path)
    sys.stdout.write(coverage_csv(c) if as_csv else coverage_table(c))


@convenant.command("diff")
@click.argument("old", type=click.Path(path_type=Path))
@click.argument("new", type=click.Path(path_type=Path))
def diff_command(old: Path, new: Path) -> None:
    """Which fields become visible, hidden or differently transformed from OLD to NEW."""
    a, b = _load(old), _load(new)
    changes = diff(a, b)
    click.echo(f"{a.version} ({a.hash}) → {b.version} ({b.hash}): {len(changes)} change(s)")
    for ch in changes:
        click.echo(
            f"{ch.kind:<11} {ch.track}/{ch.purpose} {ch.party}/{ch.role} {ch.field}: "
            f"{ch.old} ({ch.old_rule}) → {ch.new} ({ch.new_rule})"
        )
