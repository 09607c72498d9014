"""For the privacy officer: the coverage matrix of a convenant, and the diff of two versions."""

from __future__ import annotations

import csv
import io
import itertools
from collections.abc import Iterator
from dataclasses import dataclass

from .convenant import Convenant
from .decision import DEFAULT_DENY, Decision, FieldDecision
from .engine import decide
from .model import Effect

__all__ = ["Change", "CoverageRow", "coverage", "coverage_csv", "coverage_table", "diff"]

_LETTER = {
    Effect.SHOW: "F",
    Effect.GENERALISE: "G",
    Effect.MASK: "M",
    Effect.PSEUDONYMISE: "P",
    Effect.WITHHOLD: "—",
}


@dataclass(frozen=True, slots=True)
class CoverageRow:
    """Which rule decides one cell (or that default deny does, or why the request is denied)."""

    track: str
    party: str
    role: str
    purpose: str
    field: str
    effect: str
    rule: str
    legal_basis: str
    denial: str


def coverage(c: Convenant) -> Iterator[CoverageRow]:
    """Every track × party × role × purpose × field with the rule that decides it."""
    for track, party, role, purpose in itertools.product(c.tracks, c.parties, c.roles, c.purposes):
        d = decide(c, party, role, purpose, track)
        for fd in d.fields.values():
            yield CoverageRow(
                track,
                party,
                role,
                purpose,
                fd.field,
                fd.describe(),
                fd.rule_id,
                fd.legal_basis or "",
                d.denial or "",
            )


def coverage_csv(c: Convenant) -> str:
    """The coverage matrix as CSV, one row per cell."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(
        ["track", "party", "role", "purpose", "field", "effect", "rule", "legal_basis", "denial"]
    )
    for row in coverage(c):
        writer.writerow(
            [
                row.track,
                row.party,
                row.role,
                row.purpose,
                row.field,
                row.effect,
                row.rule,
                row.legal_basis,
                row.denial,
            ]
        )
    return out.getvalue()


def _cell(fd: FieldDecision) -> str:
    if fd.is_default_deny:
        return "—"
    return f"{_LETTER[fd.effect]} {fd.rule_id}"


def coverage_table(c: Convenant) -> str:
    """The coverage matrix as readable text: per track and purpose, fields × party/role."""
    lines: list[str] = [
        f"Convenant {c.meta.title}, versie {c.version} ({c.hash})",
        "F volledig · G gegeneraliseerd · M gemaskeerd · P gepseudonimiseerd · — achtergehouden "
        f"({DEFAULT_DENY} tenzij een regel genoemd is)",
    ]
    for track, purpose in itertools.product(c.tracks, c.purposes):
        columns: list[Decision] = [
            decide(c, party, role, purpose, track)
            for party, role in itertools.product(c.parties, c.roles)
        ]
        columns = [d for d in columns if d.is_allowed]
        if not columns:
            continue
        headers = ["field"] + [f"{d.party}/{d.role}" for d in columns]
        rows = [[name] + [_cell(d.fields[name]) for d in columns] for name in c.fields]
        widths = [max(len(r[i]) for r in [headers, *rows]) for i in range(len(headers))]
        lines += ["", f"## traject {track} · doel {purpose}"]
        for r in [headers, ["-" * w for w in widths], *rows]:
            lines.append("  ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=True)))
    return "\n".join(lines) + "\n"


@dataclass(frozen=True, slots=True)
class Change:
    """One cell that a new convenant version decides differently."""

    track: str
    party: str
    role: str
    purpose: str
    field: str
    kind: str  # "visible", "hidden" or "transformed"
    old: str
    new: str
    old_rule: str
    new_rule: str


def _describe(d: Decision, field: str) -> tuple[str, str, bool]:
    fd = d.fields.get(field)
    if fd is None or not d.is_allowed:
        return "withhold", fd.rule_id if fd else DEFAULT_DENY, False
    return fd.describe(), fd.rule_id, fd.is_disclosed


def diff(old: Convenant, new: Convenant) -> list[Change]:
    """Every cell over both versions' names that becomes visible, hidden or differently shown."""
    changes: list[Change] = []
    tracks = list(dict.fromkeys([*old.tracks, *new.tracks]))
    parties = list(dict.fromkeys([*old.parties, *new.parties]))
    roles = list(dict.fromkeys([*old.roles, *new.roles]))
    purposes = list(dict.fromkeys([*old.purposes, *new.purposes]))
    fields = list(dict.fromkeys([*old.fields, *new.fields]))
    for track, party, role, purpose in itertools.product(tracks, parties, roles, purposes):
        a = decide(old, party, role, purpose, track)
        b = decide(new, party, role, purpose, track)
        for field in fields:
            old_text, old_rule, was = _describe(a, field)
            new_text, new_rule, now = _describe(b, field)
            if was and not now:
                kind = "hidden"
            elif now and not was:
                kind = "visible"
            elif (
                was
                and now
                and (old_text != new_text or _params(old, a, field) != _params(new, b, field))
            ):
                kind = "transformed"
            else:
                continue
            changes.append(
                Change(
                    track, party, role, purpose, field, kind, old_text, new_text, old_rule, new_rule
                )
            )
    return changes


def _params(c: Convenant, d: Decision, field: str) -> object:
    """The parameters behind a transformation, so a changed band or mask length shows up."""
    fd = d.fields[field]
    if fd.effect is Effect.GENERALISE and fd.generaliser is not None:
        g = c.generalisers[fd.generaliser]
        return (g.kind, tuple(sorted((k, repr(v)) for k, v in g.params.items())))
    return fd.keep_last
