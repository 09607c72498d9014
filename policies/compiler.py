"""Compile a checked convenant into precomputed decisions, finding conflicts and dead rules."""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from types import MappingProxyType

from . import transforms
from .convenant import Convenant, DecisionKey
from .decision import DEFAULT_DENY, DENIAL_CODES, Decision, FieldDecision, Withheld
from .model import Effect, Rule, View
from .transforms import Transform
from .yamlsource import Path

__all__ = ["compile_decisions", "denial_for", "denied_decision", "denied_parts"]

_DEFAULT_DENY_TEXT = (
    "Geen regel van het convenant deelt dit gegeven met deze partij en rol, voor dit doel, "
    "in dit traject (default deny)."
)
_DAT_TEXT = (
    "Voor triage wordt alleen gedeeld dát er gegevens zijn (DAT-informatie), niet de inhoud."
)
_NO_CONTENT_TEXT = "Dit doel geeft nooit toegang tot de inhoud van een casus."


def denial_for(c: Convenant, party: str, role: str, purpose: str, track: str) -> str | None:
    """The first denial code that applies to this request, or None."""
    if party not in c.parties:
        return "unknown_party"
    if role not in c.roles:
        return "unknown_role"
    if purpose not in c.purposes:
        return "unknown_purpose"
    if track not in c.tracks:
        return "unknown_track"
    if party not in c.roles[role].parties:
        return "role_not_for_party"
    if role not in c.purposes[purpose].roles:
        return "purpose_not_for_role"
    if party not in c.tracks[track].case_team:
        return "not_on_case_team"
    return None


def _default_fields(c: Convenant, text: str) -> dict[str, FieldDecision]:
    return {
        name: FieldDecision(name, Effect.WITHHOLD, DEFAULT_DENY, None, text) for name in c.fields
    }


def _withheld_of(fields: Mapping[str, FieldDecision]) -> tuple[Withheld, ...]:
    return tuple(
        Withheld(fd.field, fd.explanation, fd.rule_id, fd.legal_basis)
        for fd in fields.values()
        if not fd.is_disclosed
    )


def denied_decision(
    c: Convenant, party: str, role: str, purpose: str, track: str, code: str
) -> Decision:
    """A decision that gives nothing, for a request with unknown names."""
    fields, withheld = c.denied[code]
    return Decision(
        party,
        role,
        purpose,
        track,
        c.hash,
        code,
        None,
        fields,
        None,
        plan=(),
        withheld=withheld,
        liftable=(),
        categories_of=c.categories_of,
    )


def denied_parts(
    c: Convenant,
) -> dict[str, tuple[Mapping[str, FieldDecision], tuple[Withheld, ...]]]:
    """Per denial code, the shared all-withheld fields and withheld list."""
    out: dict[str, tuple[Mapping[str, FieldDecision], tuple[Withheld, ...]]] = {}
    for code, text in DENIAL_CODES.items():
        fields = MappingProxyType(_default_fields(c, text))
        out[code] = (fields, _withheld_of(fields))
    return out


class _Compiler:
    def __init__(self, c: Convenant) -> None:
        self.c = c
        self.problems: list[tuple[Path, str]] = []
        self.rule_fd: dict[tuple[str, str], FieldDecision] = {}

    def expand(self, target: str) -> tuple[int, tuple[str, ...]]:
        """(level, fields): level 0 for a category, 1 for a single field."""
        if target in self.c.categories:
            return 0, self.c.categories[target].fields
        return 1, (target,)

    def cells(self) -> dict[DecisionKey, dict[str, list[Rule | None]]]:
        c = self.c
        cells: dict[DecisionKey, dict[str, list[Rule | None]]] = {}
        conflicts: dict[tuple[int, int], list[tuple[DecisionKey, str]]] = {}
        for rule in c.rules:
            live = 0
            dead: dict[str, set[str]] = {}
            for track, party, role, purpose in itertools.product(
                sorted(rule.tracks),
                sorted(rule.parties),
                sorted(rule.roles),
                sorted(rule.purposes),
            ):
                code = denial_for(c, party, role, purpose, track)
                if code is None and c.purposes[purpose].view is View.NONE:
                    code = "no_case_content"
                if code is not None:
                    dead.setdefault(code, set()).add(_describe(code, party, role, purpose, track))
                    continue
                live += 1
                key = (party, role, purpose, track)
                row = cells.setdefault(key, {})
                for target in rule.targets:
                    level, names = self.expand(target)
                    for name in names:
                        slot = row.setdefault(name, [None, None])
                        other = slot[level]
                        if other is not None and other is not rule:
                            conflicts.setdefault((other.index, rule.index), []).append((key, name))
                        else:
                            slot[level] = rule
            if not live and rule.targets:
                examples = "; ".join(sorted(itertools.chain.from_iterable(dead.values()))[:3])
                self.problems.append(
                    (
                        (("rules", rule.index)),
                        f"rule {rule.id} can never apply: no combination of its "
                        f"tracks, parties, roles and purposes is possible "
                        f"({examples})",
                    )
                )
        for (first_index, second_index), where in conflicts.items():
            first, second = c.rules[first_index], c.rules[second_index]
            (party, role, purpose, track), name = where[0]
            self.problems.append(
                (
                    (("rules", second.index)),
                    f"rule {second.id} and rule {first.id} both decide {len(where)} "
                    f"cell(s) at the same level, e.g. field {name!r} for party "
                    f"{party}, role {role}, purpose {purpose}, track {track}; the "
                    f"convenant must decide each cell once",
                )
            )
        return cells

    def field_decision(self, rule: Rule, name: str) -> FieldDecision:
        key = (rule.id, name)
        cached = self.rule_fd.get(key)
        if cached is not None:
            return cached
        field = self.c.fields[name]
        special = rule.special_basis.get(field.special.value) if field.special else None
        effect = rule.effect
        explanation = rule.explanation
        if effect is Effect.GENERALISE and rule.generaliser is not None:
            g = self.c.generalisers[rule.generaliser]
            explanation = f"{rule.explanation} {g.explanation}"
            if g.kind == "wijk":
                effect = Effect.SHOW if name == g.params["keep"] else Effect.WITHHOLD
                if effect is Effect.WITHHOLD:
                    special = None
        fd = FieldDecision(
            name,
            effect,
            rule.id,
            rule.legal_basis,
            explanation,
            special,
            rule.generaliser if rule.effect is Effect.GENERALISE else None,
            rule.keep_last if effect is Effect.MASK else None,
        )
        self.rule_fd[key] = fd
        return fd

    def transform(self, party: str, fd: FieldDecision) -> Transform | None:
        if fd.effect is Effect.SHOW:
            return None
        if fd.effect is Effect.MASK:
            return transforms.mask(fd.keep_last or 0)
        if fd.effect is Effect.PSEUDONYMISE:
            return transforms.pseudonymise(party, fd.field)
        g = self.c.generalisers[fd.generaliser or ""]
        if g.kind == "year":
            return transforms.year
        return transforms.bands(g.params["bands"])

    def compile(self) -> dict[DecisionKey, Decision]:
        c = self.c
        cells = self.cells()
        winners: set[str] = set()
        overridden_by: dict[str, set[str]] = {}
        texts = {
            View.CASE: _default_fields(c, _DEFAULT_DENY_TEXT),
            View.DAT: _default_fields(c, _DAT_TEXT),
            View.NONE: _default_fields(c, _NO_CONTENT_TEXT),
        }
        denial_fields = {code: _default_fields(c, text) for code, text in DENIAL_CODES.items()}
        decisions: dict[DecisionKey, Decision] = {}
        for party, role, purpose, track in itertools.product(
            c.parties, c.roles, c.purposes, c.tracks
        ):
            key = (party, role, purpose, track)
            code = denial_for(c, party, role, purpose, track)
            view = c.purposes[purpose].view if code is None else None
            row = cells.get(key, {})
            fields: dict[str, FieldDecision] = {}
            for name in c.fields:
                slot = row.get(name)
                rule = (slot[1] or slot[0]) if slot else None
                if rule is None:
                    fields[name] = (denial_fields[code] if code else texts[view or View.NONE])[name]
                    continue
                winners.add(rule.id)
                if slot and slot[1] is not None and slot[0] is not None:
                    overridden_by.setdefault(slot[0].id, set()).add(slot[1].id)
                fields[name] = self.field_decision(rule, name)
            own_applies = (
                c.own_data is not None
                and code in (None, "not_on_case_team")
                and c.purposes[purpose].view is not View.NONE
                and party in c.roles[role].parties
                and role in c.purposes[purpose].roles
            )
            plan = tuple(
                (fd.field, self.transform(party, fd), fd)
                for fd in fields.values()
                if fd.is_disclosed
            )
            liftable = (
                tuple(fd.field for fd in fields.values() if fd.effect is not Effect.SHOW)
                if own_applies
                else ()
            )
            frozen = MappingProxyType(fields)
            decisions[key] = Decision(
                party,
                role,
                purpose,
                track,
                c.hash,
                code,
                view,
                frozen,
                c.own_data if own_applies else None,
                plan=plan,
                withheld=_withheld_of(frozen),
                liftable=liftable,
                categories_of=c.categories_of,
            )
        for rule in c.rules:
            if rule.id not in winners and rule.id in overridden_by:
                by = ", ".join(sorted(overridden_by[rule.id]))
                self.problems.append(
                    (
                        (("rules", rule.index)),
                        f"rule {rule.id} can never apply: every cell it names is "
                        f"decided by a more specific rule ({by})",
                    )
                )
        return decisions


def _describe(code: str, party: str, role: str, purpose: str, track: str) -> str:
    return {
        "role_not_for_party": f"role {role} is not held at party {party}",
        "purpose_not_for_role": f"role {role} may not use purpose {purpose}",
        "not_on_case_team": f"party {party} is not on the case team of track {track}",
        "no_case_content": f"purpose {purpose} never shows case content",
    }.get(code, code)


def compile_decisions(c: Convenant) -> tuple[dict[DecisionKey, Decision], list[tuple[Path, str]]]:
    """Every decision of the convenant, precomputed; and the problems found while compiling."""
    compiler = _Compiler(c)
    decisions = compiler.compile()
    return decisions, compiler.problems
