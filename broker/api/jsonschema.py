"""Cerberus schemas as JSON Schema (draft 2020-12, as OpenAPI 3.1 takes it): the small generator
behind the OpenAPI document.

Why a generator of our own and not apispec, spectree or flask-openapi3: the broker's requests
are checked by Cerberus schemas, and the signal's schema is built at runtime from the convenant
in force. apispec documents marshmallow schemas, spectree and flask-openapi3 pydantic models:
each would have us keep a second copy of every schema in another library (or move all
validation onto it), and none follows a schema derived from a YAML convenant at runtime. Cerberus'
rules map onto JSON Schema keyword by keyword, so ~150 lines describe every body from the very
schema that checks it.

Rules and what they become: type (integer never a boolean: `strict_integer`), nullable, required
(responses: every member unless `required: False`), empty, min/max, minlength/maxlength, allowed,
regex (matched in full: ^…$), check_with (the named check's JSON Schema from
`broker.core.validation.JSON_SCHEMA_OF_CHECKS`), schema (members of a dict, items of a list),
valuesrules, anyof/oneof, default, meta (description and x- extensions), and the broker's
`value_of` (a member typed by the field another member names: one branch per field).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from broker.core.validation import JSON_SCHEMA_OF_CHECKS

__all__ = ["object_schema", "rules_schema"]

_TYPES = {
    "string": "string",
    "integer": "integer",
    "boolean": "boolean",
    "dict": "object",
    "list": "array",
    "number": "number",
    "float": "number",
}
_IGNORED = {"coerce", "required", "meta", "value_of", "allow_unknown", "purge_unknown"}


def object_schema(
    members: Mapping[str, Mapping[str, Any]], *, response: bool = False, allow_unknown: bool = False
) -> dict[str, Any]:
    """A Cerberus mapping schema (member: rules) as a JSON Schema object."""
    out: dict[str, Any] = {
        "type": "object",
        "properties": {
            name: rules_schema(rules, response=response) for name, rules in members.items()
        },
    }
    required = [
        name
        for name, rules in members.items()
        if rules.get("required", response) and not rules.get("readonly")
    ]
    if required:
        out["required"] = required
    if not allow_unknown:
        out["additionalProperties"] = False
    typed = [(name, rules["value_of"]) for name, rules in members.items() if "value_of" in rules]
    for name, spec in typed:
        branches = [
            {
                "properties": {
                    spec["member"]: {"const": field},
                    name: rules_schema(rules, response=response),
                }
            }
            for field, rules in spec["rules"].items()
        ]
        out.setdefault("allOf", []).append({"anyOf": branches})
    return out


def rules_schema(rules: Mapping[str, Any], *, response: bool = False) -> dict[str, Any]:
    """The JSON Schema of one member's Cerberus rules."""
    out: dict[str, Any] = {}
    patterns: list[str] = []
    kind = rules.get("type")
    kinds = [kind] if isinstance(kind, str) else list(kind or [])
    types = [_TYPES[k] for k in kinds]
    for rule, value in rules.items():
        if rule in _IGNORED or rule in ("type", "nullable", "empty"):
            continue
        if rule == "min":
            out["minimum"] = value
        elif rule == "max":
            out["maximum"] = value
        elif rule in ("minlength", "maxlength"):
            key = ("minItems", "maxItems") if "array" in types else ("minLength", "maxLength")
            out[key[rule == "maxlength"]] = value
        elif rule == "allowed":
            if "array" in types:
                out.setdefault("items", {})["enum"] = list(value)
            else:
                out["enum"] = list(value)
        elif rule == "regex":
            patterns.append(f"^(?:{value})$")
        elif rule == "check_with":
            for name in [value] if isinstance(value, str) else value:
                check = dict(JSON_SCHEMA_OF_CHECKS[name])
                if "pattern" in check:
                    patterns.append(check.pop("pattern"))
                out.update(check)
        elif rule == "schema":
            if "array" in types:
                out["items"] = {**out.get("items", {}), **rules_schema(value, response=response)}
            else:
                unknown = bool(rules.get("allow_unknown"))
                members = object_schema(value, response=response, allow_unknown=unknown)
                del members["type"]  # the rules' own type (perhaps nullable) stands
                out.update(members)
        elif rule == "valuesrules":
            out["additionalProperties"] = rules_schema(value, response=response)
        elif rule in ("anyof", "oneof"):
            out["anyOf" if rule == "anyof" else "oneOf"] = [
                rules_schema({"type": kind, **branch} if kind else branch, response=response)
                for branch in value
            ]
        elif rule == "default":
            out["default"] = value
        else:
            raise ValueError(f"no JSON Schema for the Cerberus rule {rule!r}")
    if len(patterns) == 1:
        out["pattern"] = patterns[0]
    elif patterns:
        out["allOf"] = [*out.get("allOf", []), *({"pattern": p} for p in patterns)]
    if rules.get("empty") is False:
        key = "minItems" if "array" in types else "minLength"
        out[key] = max(out.get(key, 0), 1)
    elif types in (["string"], ["array"]) and not _takes_empty(out, patterns):
        # Cerberus lets an empty string or list through whatever else its rules say
        empty = {"maxLength": 0} if types == ["string"] else {"maxItems": 0}
        out = {"anyOf": [{"type": types[0], **empty}, {"type": types[0], **out}]}
        types = []
    if rules.get("nullable") and types:
        types = [*types, "null"]
        if "enum" in out:
            out["enum"] = [*out["enum"], None]
    if types:
        out = {"type": types[0] if len(types) == 1 else types, **out}
    meta = rules.get("meta") or {}
    for key, value in meta.items():
        if key in ("description", "format") or key.startswith("x-"):
            out[key] = value
    return out


def _takes_empty(out: Mapping[str, Any], patterns: list[str]) -> bool:
    """Whether the JSON Schema `out` (with `patterns`) already accepts an empty string/list."""
    if out.get("minLength", 0) > 0 or out.get("minItems", 0) > 0:
        return False
    if "enum" in out and "" not in out["enum"]:
        return False
    return all(re.search(p, "") is not None for p in patterns)
