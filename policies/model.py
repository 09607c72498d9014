"""The convenant as plain, immutable values: parties, roles, purposes, tracks, fields, rules."""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "Category",
    "Effect",
    "Field",
    "FieldType",
    "Generaliser",
    "OwnDataRule",
    "Party",
    "Purpose",
    "Retention",
    "Role",
    "Rule",
    "Special",
    "Track",
    "View",
]


class Effect(enum.StrEnum):
    """What happens to one field's value for one requester."""

    SHOW = "show"
    GENERALISE = "generalise"
    MASK = "mask"
    PSEUDONYMISE = "pseudonymise"
    WITHHOLD = "withhold"


class View(enum.StrEnum):
    """What kind of case content a purpose gives access to."""

    CASE = "case"  # field-by-field case view
    DAT = "dat"  # identification plus the fact of involvement (DAT-information)
    NONE = "none"  # never any case content (privacy officer)


class Special(enum.StrEnum):
    """Special categories of personal data."""

    ART9 = "art9"  # health data (AVG art. 9)
    ART10 = "art10"  # criminal data (AVG art. 10)


class FieldType(enum.StrEnum):
    """Declared value types of convenant fields."""

    STRING = "string"
    TEXT = "text"
    INTEGER = "integer"
    BOOLEAN = "boolean"
    DATE = "date"
    BSN = "bsn"
    POSTCODE = "postcode"


@dataclass(frozen=True, slots=True)
class Party:
    """A partner organisation and the regime of the data it supplies."""

    id: str
    name: str
    regime: str
    legal_basis: str


@dataclass(frozen=True, slots=True)
class Role:
    """A role a person can hold, and at which parties."""

    id: str
    description: str
    parties: frozenset[str]


@dataclass(frozen=True, slots=True)
class Purpose:
    """A purpose (doel) every read names; which roles may use it and what it shows."""

    id: str
    description: str
    legal_basis: str
    roles: frozenset[str]
    view: View


@dataclass(frozen=True, slots=True)
class Track:
    """A track (traject) and the parties on its case team."""

    id: str
    description: str
    case_team: frozenset[str]


@dataclass(frozen=True, slots=True)
class Field:
    """A field of case data: its type, category, special category and who may supply it."""

    name: str
    category: str
    type: FieldType
    special: Special | None
    suppliers: frozenset[str]
    description: str = ""
    # Extra value constraints from the convenant: allowed, min, max, maxlength.
    constraints: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Category:
    """A data category grouping fields."""

    id: str
    description: str
    special: Special | None
    suppliers: frozenset[str]
    fields: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Generaliser:
    """A named generaliser: a kind (year, bands, wijk) and its parameters."""

    name: str
    kind: str
    explanation: str
    params: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Rule:
    """A visibility rule: for a scope of tracks/parties/roles/purposes, one effect on targets."""

    id: str
    index: int
    tracks: frozenset[str]
    parties: frozenset[str]
    roles: frozenset[str]
    purposes: frozenset[str]
    effect: Effect
    targets: tuple[str, ...]
    legal_basis: str
    explanation: str
    special_basis: Mapping[str, str] = field(default_factory=dict)
    generaliser: str | None = None
    keep_last: int | None = None


@dataclass(frozen=True, slots=True)
class OwnDataRule:
    """The rule that a party always sees the values it supplied itself."""

    id: str
    legal_basis: str
    explanation: str


@dataclass(frozen=True, slots=True)
class Retention:
    """Retention periods of the convenant."""

    untriaged_signal_months: int
    closed_case_years: int
    age_limit_years: int
    audit_record_years: int


@dataclass(frozen=True, slots=True)
class Meta:
    """Identity of the convenant document."""

    id: str
    title: str
    version: str
    effective_date: dt.date
