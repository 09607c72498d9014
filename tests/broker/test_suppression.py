"""Small-cell suppression: nothing under 5 is published, no withheld cell can be worked out from
what is published (checked by an independent exhaustive search), and no more is withheld than
needed."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from broker.figures.counting import count, table_of
from broker.figures.suppression import (
    PROTECTIVE_MARK,
    CellId,
    Relation,
    RelationKind,
    Status,
    Suppression,
    Table,
    TableError,
    suppress,
)
from tests.strategies import STATS_TRACKS, stats_populations, suppression_grids

THRESHOLD = 5
NOW = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)
SUM, COVER = RelationKind.SUM, RelationKind.COVER

Bounds = dict[CellId, tuple[int, int]]


# ── an independent check: what can a reader work out? ───────────────────────────────────────
#
# The reader knows every published count, that a "<5" is 0–4 and an "x" is 5 or more, and every
# relation of the table. For a withheld cell we look for *any* table with non-negative whole
# counts that agrees with all of that and gives the cell another value, by exhaustive search:
# bounds propagation over the relations, then splitting a domain in two, until every cell has
# one value. An "x" is searched up to a generous cap; a table found below the cap exists, so the
# check never passes wrongly.


def _reader_bounds(result: Suppression) -> Bounds:
    values = result.table.values
    cap = sum(values.values()) + 2 * THRESHOLD
    bounds: Bounds = {}
    for cell, status in result.status.items():
        if status is Status.PUBLISHED:
            bounds[cell] = (values[cell], values[cell])
        elif status is Status.SMALL:
            bounds[cell] = (0, THRESHOLD - 1)
        else:
            bounds[cell] = (THRESHOLD, cap)
    return bounds


def _narrow(bounds: Bounds, relations: tuple[Relation, ...]) -> bool:
    """Tighten the bounds until nothing changes; False when some cell has no value left."""
    changed = True
    while changed:
        changed = False
        for r in relations:
            t_lo, t_hi = bounds[r.total]
            lows = [bounds[p][0] for p in r.parts]
            highs = [bounds[p][1] for p in r.parts]
            if r.kind is SUM:
                new_t = (max(t_lo, sum(lows)), min(t_hi, sum(highs)))
            else:
                new_t = (max(t_lo, max(lows)), min(t_hi, sum(highs)))
            if new_t != (t_lo, t_hi):
                bounds[r.total], changed = new_t, True
            t_lo, t_hi = bounds[r.total]
            for i, p in enumerate(r.parts):
                lo, hi = bounds[p]
                # the others hold at most the rest of their highs, at least their lows
                new_lo = max(lo, t_lo - (sum(highs) - highs[i]))
                new_hi = min(hi, t_hi - (sum(lows) - lows[i]) if r.kind is SUM else t_hi)
                if (new_lo, new_hi) != (lo, hi):
                    bounds[p], changed = (new_lo, new_hi), True
            if any(lo > hi for lo, hi in bounds.values()):
                return False
    return True


class _OutOfSteps(Exception):
    pass


def _feasible(
    bounds: Bounds, relations: tuple[Relation, ...], near: Mapping[CellId, int], steps: list[int]
) -> bool:
    """Whether some table within the bounds satisfies every relation (exhaustive; each domain
    is split at the true count first, so a table close to the true one is found early)."""
    steps[0] -= 1
    if steps[0] < 0:
        raise _OutOfSteps
    bounds = dict(bounds)
    if not _narrow(bounds, relations):
        return False
    open_cells = [c for c, (lo, hi) in bounds.items() if lo < hi]
    if not open_cells:
        values = {c: lo for c, (lo, _) in bounds.items()}
        return all(r.holds(values) for r in relations)
    cell = min(open_cells, key=lambda c: bounds[c][1] - bounds[c][0])
    lo, hi = bounds[cell]
    at = min(max(near[cell], lo), hi)
    parts = [(at, at), (lo, at - 1), (at + 1, hi)]
    return any(
        _feasible({**bounds, cell: part}, relations, near, steps)
        for part in parts
        if part[0] <= part[1]
    )


def _component(result: Suppression, cell: CellId) -> set[CellId]:
    """The withheld cells tied to `cell` through relations by other withheld cells; the rest
    keep their true counts (those satisfy their own relations, whatever happens here)."""
    withheld = set(result.withheld())
    seen, todo = {cell}, [cell]
    while todo:
        current = todo.pop()
        for r in result.table.relations:
            if current in r.cells:
                for other in r.cells:
                    if other in withheld and other not in seen:
                        seen.add(other)
                        todo.append(other)
    return seen


def _can_be_worked_out(result: Suppression, cell: CellId) -> bool:
    """Whether the reader can tell the withheld cell's value (no other value is possible)."""
    values = result.table.values
    true = values[cell]
    bounds = _reader_bounds(result)
    component = _component(result, cell)
    bounds = {c: b if c in component else (values[c], values[c]) for c, b in bounds.items()}
    relations = tuple(r for r in result.table.relations if component & set(r.cells))
    lo, hi = bounds[cell]
    sides = [(lo, true - 1), (true + 1, hi)]
    sides = [side for side in sides if side[0] <= side[1]]
    budget = 200
    while sides:
        for side in list(sides):
            try:
                if _feasible({**bounds, cell: side}, relations, values, [budget]):
                    return False
                sides.remove(side)
            except _OutOfSteps:
                pass
        budget *= 4
    return True


def _derivable(result: Suppression) -> list[CellId]:
    return [c for c in result.withheld() if _can_be_worked_out(result, c)]


def _check_statuses(result: Suppression) -> None:
    for cell, value in result.table.values.items():
        status = result.status[cell]
        assert (status is Status.SMALL) == (value < THRESHOLD), cell
        if status is Status.PUBLISHED:
            assert result.shown(cell) == value >= THRESHOLD
        elif status is Status.SMALL:
            assert result.shown(cell) == "<5"
        else:
            assert result.shown(cell) == PROTECTIVE_MARK and value >= THRESHOLD


def _table(values: Mapping[str, int], *relations: tuple[RelationKind, str, str]) -> Table:
    return Table(
        {(k,): v for k, v in values.items()},
        tuple(Relation(kind, (t,), tuple((p,) for p in parts)) for kind, t, parts in relations),
    )


# ── the checker itself ──────────────────────────────────────────────────────────────────────


def test_the_checker_finds_a_cell_left_alone_in_its_row() -> None:
    """The independent check is not blind: a lone "<5" beside a published total is found."""
    table = _table({"t": 20, "a": 3, "b": 8, "c": 9}, (SUM, "t", ("a", "b", "c")))
    naive = Suppression(
        table,
        THRESHOLD,
        {("t",): Status.PUBLISHED, ("a",): Status.SMALL} | {(k,): Status.PUBLISHED for k in "bc"},
    )
    assert _derivable(naive) == [("a",)]


def test_the_checker_finds_zeros_pinned_by_their_total() -> None:
    """Two "<5" cells that must both be 0 (their row's published cells already make the total)
    are found, though neither is alone in its row."""
    table = _table({"t": 13, "a": 0, "b": 0, "c": 13}, (SUM, "t", ("a", "b", "c")))
    naive = Suppression(
        table,
        THRESHOLD,
        {("t",): Status.PUBLISHED, ("a",): Status.SMALL, ("b",): Status.SMALL}
        | {("c",): Status.PUBLISHED},
    )
    assert _derivable(naive) == [("a",), ("b",)]


def test_the_checker_finds_a_cell_pinned_by_a_cover() -> None:
    """A "<5" track that must hold the young people no published track holds is found: with
    19 young people and 15 in the published tracks, the fourth track has 4."""
    table = _table(
        {"total": 19, "signaal": 5, "lokaal": 5, "pga": 5, "zvh": 4},
        (COVER, "total", ("signaal", "lokaal", "pga", "zvh")),
    )
    status = {(k,): Status.PUBLISHED for k in ("total", "signaal", "lokaal", "pga")}
    naive = Suppression(table, THRESHOLD, {**status, ("zvh",): Status.SMALL})
    assert _derivable(naive) == [("zvh",)]


# ── the promises ────────────────────────────────────────────────────────────────────────────


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(suppression_grids())
def test_no_withheld_cell_of_a_cross_table_can_be_worked_out(table: Table) -> None:
    """For random cross tables, no published cell is under 5 and no withheld cell can be worked
    out from the published totals and cells."""
    result = suppress(table, THRESHOLD)
    _check_statuses(result)
    assert _derivable(result) == []


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(stats_populations())
def test_no_withheld_monitoring_figure_can_be_worked_out(population: tuple) -> None:
    """For random populations, the monitoring figures' relations hold, no published figure is
    under 5 and no withheld one can be worked out from the others (wijken against the total,
    tracks against the total, months against the range)."""
    request, cases = population
    table = table_of(count(cases, request.periods(), STATS_TRACKS, NOW))  # checks the relations
    result = suppress(table, THRESHOLD)
    _check_statuses(result)
    assert _derivable(result) == []


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(suppression_grids())
def test_every_protective_cell_is_needed(table: Table) -> None:
    """Publishing any single protective ("x") cell would let a reader work out a withheld one."""
    result = suppress(table, THRESHOLD)
    for cell in result.withheld():
        if result.status[cell] is Status.PROTECTIVE:
            fewer = Suppression(
                table, THRESHOLD, {**result.status, cell: Status.PUBLISHED}, result.alternatives
            )
            assert _derivable(fewer), cell


@settings(max_examples=60, deadline=None)
@given(suppression_grids(), suppression_grids(st.integers(min_value=5, max_value=40), name="h"))
def test_cells_without_small_cells_around_them_are_published(small: Table, big: Table) -> None:
    """A table (or an unrelated part of one) without counts under 5 is published in full."""
    both = Table({**small.values, **big.values}, small.relations + big.relations)
    result = suppress(both, THRESHOLD)
    assert all(result.status[c] is Status.PUBLISHED for c in big.values)
    alone = suppress(big, THRESHOLD)
    assert alone.withheld() == []


def test_one_small_cell_in_a_row_withholds_the_smallest_other() -> None:
    """In a row 20 = 3 + 8 + 9, the 3 and the 8 are withheld; the 9 and the total stay."""
    table = _table({"t": 20, "a": 3, "b": 8, "c": 9}, (SUM, "t", ("a", "b", "c")))
    result = suppress(table, THRESHOLD)
    assert [result.shown((k,)) for k in ("t", "a", "b", "c")] == [20, "<5", "x", 9]


def test_zeros_next_to_published_cells_get_a_partner() -> None:
    """Two zeros beside 13 = 13: one more cell is withheld, else both zeros follow."""
    table = _table({"t": 13, "a": 0, "b": 0, "c": 13}, (SUM, "t", ("a", "b", "c")))
    result = suppress(table, THRESHOLD)
    assert len(result.withheld()) == 3
    assert _derivable(result) == []


def test_a_cross_table_withholds_a_rectangle() -> None:
    """One small cell in a 3×3 table with totals costs three more cells, all in the body, and
    every total stays published."""
    grid = [[10, 2, 12], [9, 11, 15], [20, 8, 7]]
    values: dict[str, int] = {}
    relations: list[tuple[RelationKind, str, tuple[str, ...]]] = []
    for r, row in enumerate(grid):
        for c, v in enumerate(row):
            values[f"{r}{c}"] = v
        values[f"{r}T"] = sum(row)
        relations.append((SUM, f"{r}T", tuple(f"{r}{c}" for c in range(3))))
    for c in range(3):
        values[f"T{c}"] = sum(row[c] for row in grid)
        relations.append((SUM, f"T{c}", tuple(f"{r}{c}" for r in range(3))))
    values["TT"] = sum(map(sum, grid))
    relations.append((SUM, "TT", ("0T", "1T", "2T")))
    result = suppress(_table(values, *relations), THRESHOLD)
    withheld = {c[0] for c in result.withheld()}
    assert len(withheld) == 4 and "01" in withheld
    assert not any("T" in c for c in withheld)
    rows, cols = {c[0] for c in withheld}, {c[1] for c in withheld}
    assert len(rows) == 2 and len(cols) == 2  # a rectangle
    assert _derivable(result) == []


def test_a_track_pinned_by_the_cover_is_protected() -> None:
    """19 young people, three tracks of 5 and one of 4: the 4 cannot be worked out as
    "the rest" once suppression is done."""
    table = _table(
        {"total": 19, "signaal": 5, "lokaal": 5, "pga": 5, "zvh": 4},
        (COVER, "total", ("signaal", "lokaal", "pga", "zvh")),
    )
    result = suppress(table, THRESHOLD)
    assert result.shown(("zvh",)) == "<5"
    assert len(result.withheld()) == 2
    assert _derivable(result) == []


@pytest.mark.parametrize(
    ("values", "relation"),
    [
        ({"t": 10, "a": 4, "b": 5}, (SUM, "t", ("a", "b"))),
        ({"t": 10, "a": 11, "b": 5}, (COVER, "t", ("a", "b"))),
        ({"t": 30, "a": 11, "b": 5}, (COVER, "t", ("a", "b"))),
        ({"t": 5, "a": -1, "b": 6}, (SUM, "t", ("a", "b"))),
    ],
)
def test_a_table_whose_relations_do_not_hold_is_refused(
    values: dict[str, int], relation: tuple[RelationKind, str, tuple[str, ...]]
) -> None:
    """A table with a negative count or a relation that does not hold is refused."""
    with pytest.raises(TableError):
        _table(values, relation)
