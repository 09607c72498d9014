"""A loaded, checked and compiled convenant."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from types import MappingProxyType

from .decision import Decision, FieldDecision, Withheld
from .model import (
    Category,
    Field,
    Generaliser,
    Meta,
    OwnDataRule,
    Party,
    Purpose,
    Retention,
    Role,
    Rule,
    Track,
)

__all__ = ["Convenant", "DecisionKey"]

DecisionKey = tuple[str, str, str, str]  # (party, role, purpose, track)


@dataclass(frozen=True, eq=False)
class Convenant:
    """The convenant, with every decision precomputed; build it with `policies.load`."""

    meta: Meta
    hash: str
    parties: Mapping[str, Party]
    roles: Mapping[str, Role]
    purposes: Mapping[str, Purpose]
    tracks: Mapping[str, Track]
    initial_track: str
    generalisers: Mapping[str, Generaliser]
    categories: Mapping[str, Category]
    fields: Mapping[str, Field]
    own_data: OwnDataRule | None
    retention: Retention
    rules: tuple[Rule, ...]
    document: Mapping[str, object] = field(repr=False)
    decisions: Mapping[DecisionKey, Decision] = field(repr=False, default_factory=dict)
    # Per denial code, the all-withheld field decisions and withheld list shared by every
    # request so denied, so junk requests cost no more than good ones.
    denied: Mapping[str, tuple[Mapping[str, FieldDecision], tuple[Withheld, ...]]] = field(
        repr=False, default_factory=dict
    )

    @cached_property
    def categories_of(self) -> Mapping[str, str]:
        """Field name → its category."""
        return MappingProxyType({name: f.category for name, f in self.fields.items()})

    @property
    def version(self) -> str:
        """The version the partners gave this convenant."""
        return self.meta.version

    def suppliable_fields(self, party: str) -> tuple[str, ...]:
        """The fields `party` may supply, in convenant order."""
        return tuple(name for name, f in self.fields.items() if party in f.suppliers)

    def rule(self, rule_id: str) -> Rule | None:
        """The rule with this id, if any."""
        return next((r for r in self.rules if r.id == rule_id), None)
