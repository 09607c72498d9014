"""The convenant engine: load a privacy convenant, decide field by field, apply, explain.

Pure: no web framework, no database, no I/O but the loader.
"""

from .convenant import Convenant
from .decision import (
    DEFAULT_DENY,
    DENIAL_CODES,
    CaseView,
    Decision,
    FieldDecision,
    Involvement,
    Withheld,
)
from .engine import apply, decide, explain
from .errors import ConvenantError, Problem, SuiteError
from .loader import canonical_hash, load, loads
from .model import (
    Category,
    Effect,
    Field,
    FieldType,
    Party,
    Purpose,
    Role,
    Rule,
    Special,
    Track,
    View,
)
from .restriction import (
    NO_RESTRICTION,
    OBJECTION_LEGAL_BASIS,
    OBJECTION_RULE,
    Objection,
    Restriction,
    objection,
    restrict,
)

__all__ = [
    "DEFAULT_DENY",
    "DENIAL_CODES",
    "NO_RESTRICTION",
    "OBJECTION_LEGAL_BASIS",
    "OBJECTION_RULE",
    "CaseView",
    "Category",
    "Convenant",
    "ConvenantError",
    "Decision",
    "Effect",
    "Field",
    "FieldDecision",
    "FieldType",
    "Involvement",
    "Objection",
    "Party",
    "Problem",
    "Purpose",
    "Restriction",
    "Role",
    "Rule",
    "Special",
    "SuiteError",
    "Track",
    "View",
    "Withheld",
    "apply",
    "canonical_hash",
    "decide",
    "explain",
    "load",
    "loads",
    "objection",
    "restrict",
]
