"""`broker stats`: the monitoring figures as CSV, for the dashboard."""

from __future__ import annotations

import click
from flask.cli import with_appcontext

from broker.core.context import Context
from broker.core.problems import Problem
from broker.core.runtime import runtime, transaction
from broker.figures.periods import PURPOSE, StatsRequestError, parse_request
from broker.figures.stats import csv_text, stats_report
from broker.storage.models import utcnow

__all__ = ["stats_command"]


@click.command("stats")
@click.option("--from", "first", required=True, help="First day of a month (YYYY-MM-DD).")
@click.option("--to", "last", required=True, help="Last day of a month (YYYY-MM-DD).")
@click.option(
    "--by",
    type=click.Choice(["month", "quarter"]),
    default="month",
    show_default=True,
    help="The periods within the range.",
)
@with_appcontext
def stats_command(first: str, last: str, by: str) -> None:
    """Print the monitoring figures as CSV: per period young people per track and per wijk,
    cases started and ended, median days to triage; counts under 5 as "<5" (audited)."""
    try:
        asked = parse_request(first, last, by)
    except StatsRequestError as exc:
        problems = "; ".join(f"--{e['field']} {e['problem']}" for e in exc.errors)
        raise click.UsageError(problems) from None
    operator = Context(None, None, None, role=None, purpose=PURPOSE, extra={"cli": True})
    try:
        with transaction() as session:
            report = stats_report(session, runtime(), operator, asked, utcnow())
    except Problem as exc:
        raise click.ClickException(exc.detail) from None
    click.echo(csv_text(report), nl=False)
