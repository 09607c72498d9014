"""The dashboard's charts as server-side inline SVG (the CSP allows no inline style or script):
bars per row or in groups of columns, a withheld figure drawn as its marker alone and never as a
bar, the scale taken from published figures only.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from .i18n import language

__all__ = ["SERIES", "Cell", "Chart", "Label", "Mark", "column_chart", "figure", "row_chart"]

SERIES = ("young_people", "started", "ended")  # the chart over time, in this order
CHAR_WIDTH = 7.0  # about the width of a character of the charts' 12px text
LABEL_CHARS = 40  # a longer name is shortened in a chart (its table has it in full)
ROW_HEIGHT, ROW_BAR, ROW_LENGTH, ROW_MARGIN = 30, 18, 420, 10
COLUMN_WIDTH, COLUMN_GAP, GROUP_GAP, PLOT_HEIGHT = 24, 4, 20, 180
TOP_ROOM, BOTTOM_ROOM, SIDE = 24, 30, 10


@dataclass(frozen=True)
class Mark:
    """What a chart draws for one figure: a bar and its value, or — withheld — its marker
    alone. `bar` is (x, y, width, height), None for a withheld figure."""

    key: str
    series: str
    text: str
    x: float
    y: float
    bar: tuple[float, float, float, float] | None = None


@dataclass(frozen=True)
class Label:
    """A name on a chart's axis (shortened when long: its table has it in full)."""

    text: str
    x: float
    y: float


@dataclass(frozen=True)
class Chart:
    """An SVG bar chart: its size, title and description, the axis line, names and marks."""

    id: str
    kind: Literal["rows", "columns"]
    title: str
    description: str
    width: float
    height: float
    axis: tuple[float, float, float, float]
    labels: list[Label]
    marks: list[Mark]

    @property
    def bars(self) -> list[Mark]:
        """The marks that have a bar (the published figures)."""
        return [m for m in self.marks if m.bar is not None]


def _shortened(text: str) -> str:
    return text if len(text) <= LABEL_CHARS else text[: LABEL_CHARS - 1].rstrip() + "…"


def _scale(cells: Sequence[Cell], length: float) -> float:
    """Units per count: the largest published figure fills `length` (withheld ones count for
    nothing here)."""
    top = max((c.shown for c in cells if not c.is_withheld), default=0)
    return length / top if isinstance(top, int | float) and top > 0 else 0.0


def row_chart(chart_id: str, title: str, description: str, cells: Sequence[Cell]) -> Chart:
    """Horizontal bars, one row per cell, the names on the left."""
    names = [_shortened(c.label) for c in cells]
    left = min(max((len(n) for n in names), default=0) * CHAR_WIDTH + 16, 320)
    scale = _scale(cells, ROW_LENGTH)
    labels, marks = [], []
    for i, (cell, name) in enumerate(zip(cells, names, strict=True)):
        middle = ROW_MARGIN + i * ROW_HEIGHT + ROW_HEIGHT / 2
        labels.append(Label(name, left - 8, middle + 4))
        if cell.is_withheld:
            marks.append(Mark(cell.key, "young_people", str(cell.shown), left + 6, middle + 4))
            continue
        length = round(float(cell.shown) * scale, 1)
        bar = (left, middle - ROW_BAR / 2, length, ROW_BAR)
        text = figure(cell.shown)
        marks.append(Mark(cell.key, "young_people", text, left + length + 6, middle + 4, bar))
    height = 2 * ROW_MARGIN + len(cells) * ROW_HEIGHT
    return Chart(
        chart_id,
        "rows",
        title,
        description,
        width=round(left + ROW_LENGTH + 70),
        height=height,
        axis=(left, ROW_MARGIN / 2, left, height - ROW_MARGIN / 2),
        labels=labels,
        marks=marks,
    )


def column_chart(
    chart_id: str,
    title: str,
    description: str,
    groups: Sequence[tuple[str, str, Mapping[str, Cell]]],
    series: Sequence[str] = SERIES,
) -> Chart:
    """Vertical bars grouped per period (key, name, cells per series), the periods along the
    bottom in order."""
    bars_width = len(series) * COLUMN_WIDTH + (len(series) - 1) * COLUMN_GAP
    longest = max((len(name) for _, name, _ in groups), default=0)
    group = max(bars_width, longest * CHAR_WIDTH) + GROUP_GAP
    scale = _scale([cells[s] for _, _, cells in groups for s in series], PLOT_HEIGHT)
    base = TOP_ROOM + PLOT_HEIGHT
    labels, marks = [], []
    for g, (key, name, cells) in enumerate(groups):
        centre = SIDE + g * group + group / 2
        start = centre - bars_width / 2
        labels.append(Label(name, centre, base + 18))
        for s, which in enumerate(series):
            cell = cells[which]
            x = start + s * (COLUMN_WIDTH + COLUMN_GAP)
            middle = x + COLUMN_WIDTH / 2
            if cell.is_withheld:
                marks.append(Mark(key, which, str(cell.shown), middle, base - 6))
                continue
            height = round(float(cell.shown) * scale, 1)
            bar = (x, base - height, COLUMN_WIDTH, height)
            marks.append(Mark(key, which, figure(cell.shown), middle, base - height - 5, bar))
    width = round(2 * SIDE + len(groups) * group)
    return Chart(
        chart_id,
        "columns",
        title,
        description,
        width=width,
        height=base + BOTTOM_ROOM,
        axis=(SIDE, base, width - SIDE, base),
        labels=labels,
        marks=marks,
    )


def figure(value: Any) -> str:
    """A published figure as the page's language writes it (1.234 and 2,5 in Dutch); a marker
    ("<5", "x") as it is."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return str(value)
    text = f"{value:,}" if isinstance(value, int) else f"{value:,.1f}"
    return text.translate(str.maketrans(",.", ".,")) if language() == "nl" else text


@dataclass(frozen=True)
class Cell:
    """One published figure: what it counts (`key`), its name, and its value as published —
    a count, or the marker of a withheld count."""

    key: str
    label: str
    shown: int | float | str

    @property
    def is_withheld(self) -> bool:
        """Whether the figure is withheld (shown as its marker)."""
        return isinstance(self.shown, str)
