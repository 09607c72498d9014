"""Small helpers for convenant tests: the default document, edited and re-serialised."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml

import policies

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_PATH = ROOT / "convenant.yaml"


def default_document() -> dict[str, Any]:
    """A fresh, editable copy of the default convenant as a dict."""
    return copy.deepcopy(_DEFAULT)


def dump(document: dict[str, Any]) -> str:
    """Serialise a convenant document to YAML text."""
    return yaml.safe_dump(document, allow_unicode=True, sort_keys=False)


def load_document(document: dict[str, Any]) -> policies.Convenant:
    """Load a convenant from a document dict."""
    return policies.loads(dump(document))


def problems_of(text: str) -> list[policies.Problem]:
    """The problems a broken convenant is refused with (fails if it loads)."""
    try:
        policies.loads(text)
    except policies.ConvenantError as exc:
        return list(exc.problems)
    raise AssertionError("the convenant loaded, but it should have been refused")


def rule_index(document: dict[str, Any], rule_id: str) -> int:
    """The index of a rule in the document's rule list."""
    return next(i for i, r in enumerate(document["rules"]) if r["id"] == rule_id)


_DEFAULT = yaml.safe_load(DEFAULT_PATH.read_text(encoding="utf-8"))
