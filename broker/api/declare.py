"""What each endpoint takes and gives, declared once: its query and path parameters (`Param`:
type, limits, pattern, enum, default) that the endpoint reads through — so a refusal names the
parameter — and the OpenAPI document describes; its request body as the Cerberus schema the use
case checks it with; its answers as Cerberus-style response schemas. `broker.api.openapi`
turns the declarations into the document; nothing here is written twice.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar
from zoneinfo import ZoneInfo

from flask import request

from broker.core.problems import Problem
from broker.core.runtime import Runtime, runtime

from .jsonschema import rules_schema

__all__ = [
    "AMSTERDAM",
    "Answer",
    "Operation",
    "Param",
    "RulesParam",
    "declare",
]

AMSTERDAM = ZoneInfo("Europe/Amsterdam")

Kind = Literal["string", "integer", "boolean", "date", "date-time"]
Names = Sequence[str] | Callable[[Runtime], Sequence[str]]
Schema = Mapping[str, Any] | Callable[[Runtime], Mapping[str, Any]]

_DIGITS = re.compile(r"[0-9]{1,19}")  # ASCII only: "²".isdigit() is true, int("²") is not
_DATE = r"(?:19|2[0-9])[0-9]{2}-[0-9]{2}-[0-9]{2}"  # the years 1900 to 2999
_DATE_TIME = re.compile(
    _DATE
    + r"(?:[Tt][0-9]{2}:[0-9]{2}(?::[0-9]{2}(?:\.[0-9]{1,9})?)?(?:[Zz]|[+-][0-9]{2}:[0-9]{2})?)?"
)
_BOOLEANS = {"true": True, "false": False}


@dataclass(frozen=True)
class Param:
    """A query or path parameter: what the endpoint accepts, read and checked here, and
    described from here in the OpenAPI document. A refusal is 400 (or `status`) problem+json
    with `code`, naming the parameter and its limits."""

    name: str
    kind: Kind = "string"
    where: Literal["query", "path"] = "query"
    required: bool = False
    default: Any = None
    minimum: int | None = None
    maximum: int | None = None
    pattern: str | None = None  # matched in full
    max_length: int | None = None
    enum: Names | None = None
    description: str = ""
    status: int = 400
    code: str = "bad_parameter"
    extra: Mapping[str, Any] = field(default_factory=dict)  # more JSON Schema (a format)

    def names(self, rt: Runtime) -> list[str] | None:
        """The values allowed, under the convenant in force (None: any)."""
        if self.enum is None:
            return None
        return list(self.enum(rt) if callable(self.enum) else self.enum)

    def read(self) -> Any:
        """The parameter of the current request, checked (the default when it is absent)."""
        if self.where == "path":
            raw = (request.view_args or {}).get(self.name)
        else:
            raw = request.args.get(self.name)
        return self.parse(raw, runtime())

    def refusal(self, what: str) -> Problem:
        """The problem naming this parameter."""
        return Problem(
            self.status,
            self.code,
            f"{self.name} {what}.",
            errors=[{"field": self.name, "problem": what}],
        )

    def parse(self, raw: str | None, rt: Runtime) -> Any:
        """`raw` as the value this parameter stands for, or the refusal naming it."""
        if raw is None:
            if self.required:
                raise self.refusal("is required")
            return self.default
        parse = getattr(self, f"_parse_{self.kind.replace('-', '_')}")
        value = parse(raw)
        names = self.names(rt)
        if names is not None and value not in names:
            raise self.refusal("must be one of " + ", ".join(names))
        return value

    def _parse_string(self, raw: str) -> str:
        if self.max_length is not None and len(raw) > self.max_length:
            raise self.refusal(f"must be at most {self.max_length} characters")
        if self.pattern is not None and re.fullmatch(self.pattern, raw) is None:
            raise self.refusal("has the wrong format")
        if self.enum is None and not raw:
            raise self.refusal("must not be empty")
        return raw

    def _parse_integer(self, raw: str) -> int:
        lo, hi = self.minimum, self.maximum
        if _DIGITS.fullmatch(raw) is None or not (lo or 0) <= int(raw) <= (hi or 2**63 - 1):
            limits = f"from {lo or 0}" + (f" to {hi}" if hi is not None else "")
            raise self.refusal(f"must be a whole number (ASCII digits) {limits}")
        return int(raw)

    def _parse_boolean(self, raw: str) -> bool:
        if raw not in _BOOLEANS:
            raise self.refusal("must be true or false")
        return _BOOLEANS[raw]

    def _parse_date(self, raw: str) -> dt.date:
        try:
            if re.fullmatch(_DATE, raw) is None:
                raise ValueError(raw)
            return dt.date.fromisoformat(raw)
        except ValueError:
            raise self.refusal("must be a date (YYYY-MM-DD)") from None

    def _parse_date_time(self, raw: str) -> dt.datetime:
        """An RFC 3339 date-time, or a date (midnight), or a local date and time: without an
        offset, Europe/Amsterdam."""
        try:
            if _DATE_TIME.fullmatch(raw) is None:
                raise ValueError(raw)
            value = dt.datetime.fromisoformat(raw.upper())
        except ValueError:
            raise self.refusal(
                "must be an RFC 3339 date-time or a date (e.g. 2026-11-23T08:00:00+01:00 or "
                "2026-11-23)"
            ) from None
        return (value if value.tzinfo else value.replace(tzinfo=AMSTERDAM)).astimezone(dt.UTC)

    def schema(self, rt: Runtime) -> dict[str, Any]:
        """The parameter's JSON Schema."""
        out: dict[str, Any]
        if self.kind == "integer":
            out = {"type": "integer", "minimum": self.minimum or 0}
            if self.maximum is not None:
                out["maximum"] = self.maximum
        elif self.kind == "boolean":
            out = {"type": "boolean"}
        elif self.kind == "date":
            out = {"type": "string", "format": "date", "pattern": f"^{_DATE}$"}  # years 1900–2999
        elif self.kind == "date-time":
            out = {
                "type": "string",
                "pattern": f"^{_DATE}",
                "anyOf": [{"format": "date-time"}, {"format": "date"}],
                "description": "An RFC 3339 date-time or a date; a date, or a date and time "
                "without an offset (2026-11-23T08:00), is Europe/Amsterdam time.",
            }
        else:
            out = {"type": "string"}
            if self.enum is None:
                out["minLength"] = 1
            if self.pattern is not None:
                out["pattern"] = f"^(?:{self.pattern})$"
            if self.max_length is not None:
                out["maxLength"] = self.max_length
        names = self.names(rt)
        if names is not None:
            out["enum"] = names
        if self.default is not None and not isinstance(self.default, dt.date):
            out["default"] = self.default
        return {**out, **self.extra}

    def document(self, rt: Runtime) -> dict[str, Any]:
        """The parameter object of the OpenAPI document."""
        out: dict[str, Any] = {
            "name": self.name,
            "in": self.where,
            "required": self.required or self.where == "path",
            "schema": self.schema(rt),
        }
        if self.description:
            out["description"] = self.description
        return out


@dataclass(frozen=True)
class RulesParam(Param):
    """A parameter the use case checks with Cerberus `rules` (of the convenant in force): read
    as it came, described from the same rules."""

    rules: Callable[[Runtime], Mapping[str, Any]] | None = None

    def parse(self, raw: str | None, rt: Runtime) -> Any:
        if raw is None and self.required:
            raise self.refusal("is required")
        return raw

    def schema(self, rt: Runtime) -> dict[str, Any]:
        assert self.rules is not None
        return {**rules_schema(self.rules(rt)), **self.extra}


@dataclass(frozen=True)
class Answer:
    """A successful answer: its status, what it is, and its body's Cerberus-style schema
    (every member required unless it says `required: False`); None: no JSON body."""

    status: int
    description: str
    schema: Schema | None = None
    media_type: str = "application/json"
    open: bool = False  # members beyond the schema's may come too


@dataclass(frozen=True)
class Operation:
    """An endpoint's declaration: summary, parameters, body schema, answers and the problems
    (RFC 9457) it may answer with."""

    summary: str
    answers: tuple[Answer, ...]
    description: str = ""
    params: tuple[Param, ...] = ()
    body: Schema | None = None
    body_required: bool = True
    problems: tuple[int, ...] = ()
    public: bool = False
    tags: tuple[str, ...] = ()


F = TypeVar("F", bound=Callable[..., Any])


def declare(operation: Operation) -> Callable[[F], F]:
    """Attach the declaration to the view function (the document reads it from there)."""

    def attach(view: F) -> F:
        view.operation = operation  # type: ignore[attr-defined]
        return view

    return attach
