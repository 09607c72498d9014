"""Decisions as values: per field an effect, the rule that decided it and its legal basis."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .model import Effect, OwnDataRule, View
from .transforms import Transform

__all__ = [
    "DEFAULT_DENY",
    "DENIAL_CODES",
    "CaseView",
    "Decision",
    "FieldDecision",
    "Involvement",
    "Withheld",
]

DEFAULT_DENY = "default-deny"

# Why a whole request gets no case content, in the order they are checked.
DENIAL_CODES: Mapping[str, str] = {
    "unknown_party": "De partij is niet bekend in het convenant.",
    "unknown_role": "De rol is niet bekend in het convenant.",
    "unknown_purpose": "Het doel is niet bekend in het convenant.",
    "unknown_track": "Het traject is niet bekend in het convenant.",
    "role_not_for_party": "Deze rol bestaat niet bij deze partij.",
    "purpose_not_for_role": "Deze rol mag dit doel niet gebruiken (doelbinding).",
    "not_on_case_team": "De partij zit niet in het casusteam van dit traject.",
}


@dataclass(frozen=True, slots=True)
class FieldDecision:
    """What happens to one field for one requester, and why."""

    field: str
    effect: Effect
    rule_id: str
    legal_basis: str | None
    explanation: str
    special_basis: str | None = None
    generaliser: str | None = None
    keep_last: int | None = None

    @property
    def is_disclosed(self) -> bool:
        """Whether any form of the value leaves the broker."""
        return self.effect is not Effect.WITHHOLD

    @property
    def is_default_deny(self) -> bool:
        """Whether no rule named this cell."""
        return self.rule_id == DEFAULT_DENY

    def describe(self) -> str:
        """A short, comparable description: 'show', 'mask(3)', 'generalise(geboortejaar)'."""
        if self.effect is Effect.MASK:
            return f"mask({self.keep_last})"
        if self.effect is Effect.GENERALISE:
            return f"generalise({self.generaliser})"
        return self.effect.value

    def as_dict(self) -> dict[str, Any]:
        """A JSON-friendly form, for explain and the API."""
        return {
            "field": self.field,
            "effect": self.effect.value,
            "rule": self.rule_id,
            "legal_basis": self.legal_basis,
            "special_basis": self.special_basis,
            "explanation": self.explanation,
            "generaliser": self.generaliser,
            "keep_last": self.keep_last,
        }


@dataclass(frozen=True, slots=True)
class Withheld:
    """A field a requester does not get, with the reason (never the value)."""

    field: str
    reason: str
    rule_id: str
    legal_basis: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """A JSON-friendly form."""
        return {
            "field": self.field,
            "reason": self.reason,
            "rule": self.rule_id,
            "legal_basis": self.legal_basis,
        }


@dataclass(frozen=True, slots=True)
class Involvement:
    """DAT-information: that there is data, in which categories and from whom — not what."""

    categories: tuple[str, ...]
    suppliers: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class CaseView:
    """The result of applying a decision to a case's values."""

    fields: dict[str, Any]
    disclosed: dict[str, str]
    withheld: tuple[Withheld, ...]
    own_data: tuple[str, ...] = ()
    involvement: Involvement | None = None


@dataclass(frozen=True, slots=True, eq=False)
class Decision:
    """The decision for one (party, role, purpose, track): a value, never an exception."""

    party: str
    role: str
    purpose: str
    track: str
    convenant_hash: str
    denial: str | None
    view: View | None
    fields: Mapping[str, FieldDecision]
    own_data_rule: OwnDataRule | None
    # The compiled plan, so apply() costs O(fields) with no rule lookups.
    plan: tuple[tuple[str, Transform | None, FieldDecision], ...] = field(repr=False)
    withheld: tuple[Withheld, ...] = field(repr=False)
    liftable: tuple[str, ...] = field(repr=False)
    categories_of: Mapping[str, str] = field(repr=False)

    @property
    def is_allowed(self) -> bool:
        """Whether the request may see case content at all (it may still all be withheld)."""
        return self.denial is None

    @property
    def denial_reason(self) -> str | None:
        """The human reason for the denial, if any."""
        return DENIAL_CODES.get(self.denial) if self.denial else None

    @property
    def disclosed_fields(self) -> tuple[str, ...]:
        """The fields of which some form may be disclosed."""
        return tuple(name for name, fd in self.fields.items() if fd.is_disclosed)
