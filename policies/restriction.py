"""Objections of one young person (AVG art. 21): a restriction layered over the convenant.

A restriction can only withhold, never widen: it turns fields that a decision would disclose to a
receiving party into withheld fields, with the objection as their reason. The values a party
supplied itself stay visible to that party (the own-data rule): an objection limits sharing with
others, not what a party already holds.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass
from types import MappingProxyType

from .convenant import Convenant
from .decision import Decision, FieldDecision, Withheld
from .model import Effect

__all__ = [
    "NO_RESTRICTION",
    "OBJECTION_LEGAL_BASIS",
    "OBJECTION_OWN_DATA",
    "OBJECTION_RULE",
    "OBJECTION_TEXT",
    "Objection",
    "Restriction",
    "objection",
    "restrict",
]

OBJECTION_RULE = "bezwaar"
OBJECTION_LEGAL_BASIS = "AVG art. 21 (bezwaar van de betrokkene)"
OBJECTION_TEXT = (
    "De jongere (of de wettelijk vertegenwoordiger) heeft bezwaar gemaakt tegen het delen van "
    "dit gegeven met uw partij; het bezwaar gaat voor wat het convenant zou delen."
)
OBJECTION_OWN_DATA = (
    "Een bezwaar verbergt niet de gegevens die uw partij zelf heeft aangeleverd: die blijft u zien."
)


@dataclass(frozen=True, slots=True)
class Objection:
    """One objection: the fields it withholds and the receiving parties (empty: every party)."""

    fields: frozenset[str]
    parties: frozenset[str] = frozenset()

    def applies_to(self, party: str) -> bool:
        """Whether the objection withholds from `party`."""
        return not self.parties or party in self.parties


@dataclass(frozen=True, slots=True)
class Restriction:
    """Every objection in force for one young person."""

    objections: tuple[Objection, ...] = ()

    @property
    def is_empty(self) -> bool:
        """Whether nothing is restricted."""
        return not any(o.fields for o in self.objections)

    def withheld_from(self, party: str) -> frozenset[str]:
        """The fields the objections withhold from `party`."""
        out: set[str] = set()
        for o in self.objections:
            if o.applies_to(party):
                out |= o.fields
        return frozenset(out)


NO_RESTRICTION = Restriction()


def objection(c: Convenant, targets: Iterable[str], parties: Iterable[str] = ()) -> Objection:
    """An objection on categories and/or fields of the convenant; names it does not know (any
    more) restrict nothing."""
    fields: set[str] = set()
    for target in targets:
        if target in c.categories:
            fields.update(c.categories[target].fields)
        elif target in c.fields:
            fields.add(target)
    return Objection(frozenset(fields), frozenset(p for p in parties if p in c.parties))


def restrict(decision: Decision, restriction: Restriction) -> Decision:
    """The decision with the restriction laid over it.

    Fields the decision discloses and an objection withholds from its party become withheld,
    with rule `bezwaar` and AVG art. 21; their values stay liftable by the own-data rule. Fields
    the convenant already withholds keep the convenant's reason (an objection there changes
    nothing, so it is not shown). In a DAT view, restricted fields no longer count towards the
    categories that hold data. Without any restricted field for the party, the decision itself.
    """
    if restriction.is_empty:
        return decision
    restricted = restriction.withheld_from(decision.party) & decision.fields.keys()
    if not restricted:
        return decision
    hit = {name for name in restricted if decision.fields[name].is_disclosed}
    categories_of = MappingProxyType(
        {k: v for k, v in decision.categories_of.items() if k not in restricted}
    )
    if not hit:
        return dataclasses.replace(decision, categories_of=categories_of)
    fields: dict[str, FieldDecision] = {}
    for name, fd in decision.fields.items():
        fields[name] = (
            FieldDecision(
                name, Effect.WITHHOLD, OBJECTION_RULE, OBJECTION_LEGAL_BASIS, OBJECTION_TEXT
            )
            if name in hit
            else fd
        )
    liftable = decision.liftable
    if decision.own_data_rule is not None:
        lift = set(liftable) | hit
        liftable = tuple(name for name in fields if name in lift)
    return dataclasses.replace(
        decision,
        fields=MappingProxyType(fields),
        plan=tuple(step for step in decision.plan if step[0] not in hit),
        withheld=tuple(
            Withheld(fd.field, fd.explanation, fd.rule_id, fd.legal_basis)
            for fd in fields.values()
            if not fd.is_disclosed
        ),
        liftable=liftable,
        categories_of=categories_of,
    )
