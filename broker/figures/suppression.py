"""Small-cell suppression: no published count is under the threshold, and no combination of
published figures lets a reader work out a withheld one.

A `Table` is a set of cells (non-negative counts) and the `Relation`s a reader knows hold
between them:

- `SUM`: the total is the sum of its parts (young people per wijk add up to all young people;
  the cases started in each month add up to those started in the range);
- `COVER`: every unit of the total is counted in at least one part and every part counts only
  units of the total, so each part ≤ total ≤ the sum of the parts (young people per track, when
  one young person may pass through several tracks; a range and the months within it).

`suppress` withholds every cell under the threshold (primary suppression: `SMALL`, shown as
"<5", a reader knows it is 0–4), then withholds further cells (secondary suppression:
`PROTECTIVE`, shown as "x", a reader knows it is 5 or more) until every withheld cell has an
*alternative*: a second table that agrees with every published value, every marker and every
relation, and in which that cell has another value. A cell with an alternative cannot be
worked out from the published figures. Each alternative is checked before it counts, so the
guarantee never rests on the search being clever, only on it finding one; where it finds none,
more is withheld. Finally every protective cell that turns out not to be needed is published
again, largest first.

Pure: no Flask, no SQLAlchemy, no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

__all__ = [
    "PROTECTIVE_MARK",
    "CellId",
    "Relation",
    "RelationKind",
    "Status",
    "Suppression",
    "SuppressionError",
    "Table",
    "TableError",
    "small_mark",
    "suppress",
]


CellId = tuple[str, ...]
PROTECTIVE_MARK = "x"
DEFAULT_THRESHOLD = 5
# How far the search for an alternative goes before it gives up (and more is withheld).
MAX_STEPS = 24
MAX_NODES = 3000


class TableError(ValueError):
    """A table that is not what it says: unknown cells, negative counts, a relation that fails."""

    code = "invalid_table"


class SuppressionError(RuntimeError):
    """No set of withheld cells protects a small cell (never expected; refuse to publish)."""

    code = "suppression_failed"


class RelationKind(StrEnum):
    """How a total relates to its parts."""

    SUM = "sum"
    COVER = "cover"


class Status(StrEnum):
    """What becomes of a cell."""

    PUBLISHED = "published"
    SMALL = "small"  # under the threshold
    PROTECTIVE = "protective"  # at or over the threshold, withheld to protect a small cell


def small_mark(threshold: int = DEFAULT_THRESHOLD) -> str:
    """The marker shown for a count under the threshold ("<5")."""
    return f"<{threshold}"


@dataclass(frozen=True, slots=True)
class Relation:
    """A relation between a total and its parts that a reader of the figures knows."""

    kind: RelationKind
    total: CellId
    parts: tuple[CellId, ...]

    @property
    def cells(self) -> tuple[CellId, ...]:
        """The total and its parts."""
        return (self.total, *self.parts)

    def holds(self, value: Mapping[CellId, int]) -> bool:
        """Whether the relation holds for these values."""
        total = value[self.total]
        parts = [value[p] for p in self.parts]
        if self.kind is RelationKind.SUM:
            return total == sum(parts)
        return max(parts) <= total <= sum(parts)


@dataclass(frozen=True)
class Table:
    """Cells with their counts, and the relations between them (checked to hold)."""

    values: Mapping[CellId, int]
    relations: tuple[Relation, ...] = ()

    def __post_init__(self) -> None:
        for cell, count in self.values.items():
            if not isinstance(count, int) or isinstance(count, bool) or count < 0:
                raise TableError(f"cell {cell!r}: a count is a non-negative whole number")
        for relation in self.relations:
            if not relation.parts:
                raise TableError(f"relation of {relation.total!r} has no parts")
            cells = relation.cells
            if len(set(cells)) != len(cells):
                raise TableError(f"relation of {relation.total!r} names a cell twice")
            unknown = [c for c in cells if c not in self.values]
            if unknown:
                raise TableError(f"relation of {relation.total!r} names unknown cells {unknown}")
            if not relation.holds(self.values):
                raise TableError(f"relation {relation.kind} of {relation.total!r} does not hold")


@dataclass(frozen=True)
class Suppression:
    """A table with the status of every cell, and for every withheld cell the alternative
    that shows it cannot be worked out (the cells that differ, with their other values)."""

    table: Table
    threshold: int
    status: Mapping[CellId, Status]
    alternatives: Mapping[CellId, Mapping[CellId, int]] = field(default_factory=dict)

    def shown(self, cell: CellId) -> int | str:
        """The cell as published: its count, "<5" or "x"."""
        status = self.status[cell]
        if status is Status.PUBLISHED:
            return self.table.values[cell]
        return small_mark(self.threshold) if status is Status.SMALL else PROTECTIVE_MARK

    def withheld(self) -> list[CellId]:
        """The withheld cells, in table order."""
        return [c for c in self.table.values if self.status[c] is not Status.PUBLISHED]


def suppress(table: Table, threshold: int = DEFAULT_THRESHOLD) -> Suppression:
    """Withhold every cell under `threshold`, and as many more as it takes so that no withheld
    cell can be worked out from the published ones and the table's relations."""
    if threshold < 1:
        raise ValueError("the threshold is at least 1")
    status = {
        cell: Status.SMALL if count < threshold else Status.PUBLISHED
        for cell, count in table.values.items()
    }
    search = _Search(table, threshold, status)
    alternatives: dict[CellId, dict[CellId, int]] = {}
    added: list[CellId] = []
    queue = [c for c in table.values if status[c] is Status.SMALL]
    while queue:
        cell = queue.pop(0)
        while cell not in alternatives:
            found = search.alternative(cell)
            if found is not None:
                alternatives[cell] = found
                break
            extra = search.cheapest(cell)
            if not extra:
                nearest = search.nearest_published(cell)
                if nearest is None:
                    raise SuppressionError(f"no way found to protect cell {cell!r}")
                extra = [nearest]
            for other in extra:
                status[other] = Status.PROTECTIVE
                added.append(other)
                queue.append(other)
    _publish_unneeded(search, status, alternatives, added)
    result = Suppression(table, threshold, dict(status), alternatives)
    _verify(result)
    return result


def _publish_unneeded(
    search: _Search,
    status: dict[CellId, Status],
    alternatives: dict[CellId, dict[CellId, int]],
    added: list[CellId],
) -> None:
    """Publish again each protective cell without which every withheld cell still has an
    alternative (largest first: small cells are the cheaper ones to withhold)."""
    values = search.table.values
    for cell in sorted(set(added), key=lambda c: (-values[c], added.index(c))):
        status[cell] = Status.PUBLISHED
        kept = alternatives.pop(cell)
        redo = [c for c, alt in alternatives.items() if cell in alt]
        previous = {c: alternatives[c] for c in redo}
        ok = True
        for other in redo:
            found = search.alternative(other)
            if found is None:
                ok = False
                break
            alternatives[other] = found
        if not ok:
            status[cell] = Status.PROTECTIVE
            alternatives[cell] = kept
            alternatives.update(previous)


def _verify(result: Suppression) -> None:
    """Check the promises once more, independently of how they were reached."""
    table, threshold = result.table, result.threshold
    for cell, count in table.values.items():
        status = result.status[cell]
        if (count < threshold) != (status is Status.SMALL):
            raise SuppressionError(f"cell {cell!r} has the wrong status")
    for cell in result.withheld():
        alternative = result.alternatives.get(cell)
        if alternative is None or alternative.get(cell, table.values[cell]) == table.values[cell]:
            raise SuppressionError(f"cell {cell!r} has no alternative")
        other = {**table.values, **alternative}
        for changed, count in alternative.items():
            if not _fits(result.status[changed], count, table.values[changed], threshold):
                raise SuppressionError(f"the alternative of {cell!r} contradicts {changed!r}")
        if not all(r.holds(other) for r in table.relations):
            raise SuppressionError(f"the alternative of {cell!r} breaks a relation")


def _fits(status: Status, count: int, true_count: int, threshold: int) -> bool:
    """Whether a reader who sees the cell's published form could believe `count`."""
    if status is Status.PUBLISHED:
        return count == true_count
    if status is Status.SMALL:
        return 0 <= count < threshold
    return count >= threshold


class _Search:
    """Looks for alternatives: moves the cell one step and repairs each relation this breaks by
    moving another cell of it one step, depth first, never moving a cell back.

    `alternative` moves withheld cells only. `cheapest` may also move published cells, at the
    cost of their counts (they would have to be withheld), and keeps the cheapest way found.
    """

    def __init__(self, table: Table, threshold: int, status: dict[CellId, Status]):
        self.table = table
        self.threshold = threshold
        self.status = status
        self.relations_of: dict[CellId, list[int]] = {c: [] for c in table.values}
        for index, relation in enumerate(table.relations):
            for cell in relation.cells:
                self.relations_of[cell].append(index)
        self._order = {cell: i for i, cell in enumerate(table.values)}
        self._totals = {r.total for r in table.relations}
        self._costly = False
        self._nodes = 0
        self._seen: set[frozenset[tuple[CellId, int]]] = set()
        self._best: dict[CellId, int] | None = None
        self._best_cost = 0

    def alternative(self, cell: CellId) -> dict[CellId, int] | None:
        """Other values for some withheld cells, `cell` among them, that a reader cannot tell
        from the true ones; None when none was found."""
        found = self._search(cell, costly=False)
        if found is None:
            return None
        values = self.table.values
        return {c: values[c] + d for c, d in found.items()}

    def cheapest(self, cell: CellId) -> list[CellId]:
        """The published cells whose withholding gives `cell` an alternative, the smallest total
        found; empty when none was found."""
        found = self._search(cell, costly=True)
        if found is None:
            return []
        return [c for c in found if self.status[c] is Status.PUBLISHED]

    def nearest_published(self, start: CellId) -> CellId | None:
        """The smallest published cell among those fewest relations away from `start`."""
        values = self.table.values
        seen = {start}
        frontier = [start]
        while frontier:
            ring: list[CellId] = []
            for cell in frontier:
                for index in self.relations_of[cell]:
                    ring.extend(c for c in self.table.relations[index].cells if c not in seen)
            ring = list(dict.fromkeys(ring))
            seen.update(ring)
            published = [c for c in ring if self.status[c] is Status.PUBLISHED]
            if published:
                return min(published, key=lambda c: (values[c], self._order[c]))
            frontier = ring
        return None

    def _search(self, cell: CellId, costly: bool) -> dict[CellId, int] | None:
        self._costly = costly
        self._best, self._best_cost = None, -1
        for step in (1, -1):
            if self._can_be(cell, self.table.values[cell] + step):
                self._nodes = 0
                self._seen = set()
                self._repair({cell: step}, 0, 0)
                if self._best_cost == 0:
                    break
        return self._best

    def _can_be(self, cell: CellId, count: int) -> bool:
        status = self.status[cell]
        if status is Status.PUBLISHED:
            # only in a costly search: the cell would be withheld as protective
            return self._costly and count >= self.threshold
        return _fits(status, count, self.table.values[cell], self.threshold)

    def _repair(self, delta: dict[CellId, int], steps: int, cost: int) -> None:
        self._nodes += 1
        key = frozenset(delta.items())
        if self._nodes > MAX_NODES or key in self._seen:
            return
        if self._best is not None and cost >= self._best_cost:
            return
        self._seen.add(key)
        broken = self._broken(delta)
        if not broken:
            self._best, self._best_cost = delta, cost
            return
        if steps >= MAX_STEPS:
            return
        # the broken relation with the fewest ways to repair it first; none: a dead end
        moves = min((self._moves(r, delta) for r in broken), key=len)
        values = self.table.values
        for cell, step in moves:
            moved = delta.get(cell, 0)
            extra = values[cell] if self.status[cell] is Status.PUBLISHED and not moved else 0
            self._repair({**delta, cell: moved + step}, steps + 1, cost + extra)
            if self._best_cost == 0:
                return

    def _broken(self, delta: Mapping[CellId, int]) -> list[Relation]:
        """The relations the moved cells break."""
        indexes = sorted({i for cell in delta for i in self.relations_of[cell]})
        values = self.table.values
        out = []
        for index in indexes:
            relation = self.table.relations[index]
            moved = {c: values[c] + delta.get(c, 0) for c in relation.cells}
            if not relation.holds(moved):
                out.append(relation)
        return out

    def _moves(self, relation: Relation, delta: Mapping[CellId, int]) -> list[tuple[CellId, int]]:
        """The repairs of a broken relation that are allowed: no cell moves back, and every
        cell stays within what a reader knows of it."""
        values = self.table.values
        return [
            (cell, step)
            for cell, step in self._repairs(relation, delta)
            if delta.get(cell, 0) * step >= 0
            and self._can_be(cell, values[cell] + delta.get(cell, 0) + step)
        ]

    def _repairs(self, relation: Relation, delta: Mapping[CellId, int]) -> list[tuple[CellId, int]]:
        """The one-step moves that bring a broken relation closer to holding, cheapest and
        easiest first."""
        values = self.table.values

        def now(cell: CellId) -> int:
            return values[cell] + delta.get(cell, 0)

        total, parts = relation.total, relation.parts
        options: list[tuple[CellId, int]]
        if relation.kind is RelationKind.SUM:
            sign = 1 if now(total) > sum(now(p) for p in parts) else -1
            options = [(total, -sign), *((p, sign) for p in parts)]
        else:
            over = [p for p in parts if now(p) > now(total)]
            if over:
                options = [(total, 1), *((p, -1) for p in over)]
            else:
                options = [(total, -1), *((p, 1) for p in parts)]

        def ease(option: tuple[CellId, int]) -> tuple[int, int, int, int, int, int]:
            cell, _ = option
            published = self.status[cell] is Status.PUBLISHED and cell not in delta
            return (
                values[cell] if published else 0,
                1 if published and cell in self._totals else 0,  # rather keep totals
                0 if cell in delta else 1,  # already moving: no new relations to repair
                len(self.relations_of[cell]),
                0 if self.status[cell] is Status.PROTECTIVE else 1,
                self._order[cell],
            )

        return sorted(options, key=ease)
