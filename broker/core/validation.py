"""Signal validation: Cerberus schemas derived from the convenant's field definitions.

Error messages name the field and the rule that failed — never the value that was sent.
"""

from __future__ import annotations

import datetime as dt
import re
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from cerberus import Validator
from cerberus.errors import BasicErrorHandler

import policies
from broker.identity.subjects import FALLBACK_IDENTITY, is_valid_bsn, normalise_postcode, parse_date
from policies import FieldType

from .problems import Problem

__all__ = [
    "CLEAN_TEXT",
    "JSON_SCHEMA_OF_CHECKS",
    "NOT_BLANK",
    "SignalValidator",
    "ValidSignal",
    "is_clean_text",
]

MAX_STRING = 200
MAX_TEXT = 4000
MAX_INTEGER = 100_000
MIN_AGE, MAX_AGE = 8, 27


# The checks of text, dates, BSNs and postcodes as regular expressions: the validators below
# match them in full (Python's `re.fullmatch`), and the OpenAPI document gives the same strings
# as JSON Schema `pattern`s (ECMA-262, anchored with ^…$). Only ASCII escapes and classes, so
# both dialects read them alike.
CLEAN_TEXT = r"[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f]*"  # no control character but tab, CR, LF
# What Python's str.strip() removes (str.isspace): a text is blank when it holds nothing else.
WHITE_SPACE = r"\t\n\x0b\x0c\r\x1c-\x20\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
NOT_BLANK = f"[^{WHITE_SPACE}]"  # found anywhere in the text (re.search)
ISO_DATE = r"[0-9]{4}-[0-9]{2}-[0-9]{2}"
BSN_DIGITS = r"[0-9]{9}"
POSTCODE = r"[1-9][0-9]{3} ?[A-Za-z]{2}"

# What each named check (Cerberus `check_with`) means in JSON Schema, for the OpenAPI document.
# "bsn" is a format of the broker's own: nine digits that pass the eleven-check.
JSON_SCHEMA_OF_CHECKS: Mapping[str, Mapping[str, Any]] = {
    "clean_text": {"pattern": f"^{CLEAN_TEXT}$"},
    "not_blank": {"pattern": NOT_BLANK},
    "date": {"pattern": f"^{ISO_DATE}$", "format": "date"},
    "bsn": {"pattern": f"^{BSN_DIGITS}$", "format": "bsn"},
    "postcode": {"pattern": f"^{POSTCODE}$"},
    "strict_integer": {},  # JSON Schema's integer is never a boolean
}


class _ValueFreeErrors(BasicErrorHandler):  # type: ignore[misc]
    """Cerberus' messages, minus the ones that repeat the offending value."""

    messages: ClassVar[dict[int, str]] = {
        **BasicErrorHandler.messages,
        0x41: "has the wrong format",
        0x44: "is not one of the allowed values",
        0x46: "is not one of the allowed values",
        0x45: "holds values that are not allowed",
        0x47: "holds values that are not allowed",
    }


class _Validator(Validator):  # type: ignore[misc]
    """Cerberus with the broker's checks for BSN, postcode, dates and strict integers; `regex`
    matches the whole value (as JSON Schema's ^…$ does: no trailing newline slips through);
    `value_of` checks a member by the rules of the field another member names."""

    def _validate_regex(self, pattern: str, field: str, value: Any) -> None:
        """{'type': 'string'}"""
        if isinstance(value, str) and re.fullmatch(pattern, value) is None:
            self._error(field, "has the wrong format")

    def _validate_value_of(self, spec: Mapping[str, Any], field: str, value: Any) -> None:
        """{'type': 'dict'}"""
        name = self.document.get(spec["member"]) if isinstance(self.document, dict) else None
        rules = spec["rules"].get(name) if isinstance(name, str) else None
        if rules is None:
            return  # the member naming the field reports what is wrong with it
        child = type(self)({field: rules}, error_handler=_ValueFreeErrors)
        if not child.validate({field: value}):
            for message in child.errors.get(field, []):
                self._error(field, str(message))

    def _check_with_bsn(self, field: str, value: Any) -> None:
        if not is_valid_bsn(value):
            self._error(field, "is not a valid BSN (nine digits passing the eleven-check)")

    def _check_with_postcode(self, field: str, value: Any) -> None:
        if not isinstance(value, str) or re.fullmatch(POSTCODE, value) is None:
            self._error(field, "is not a Dutch postcode like '8924 AB'")

    def _check_with_date(self, field: str, value: Any) -> None:
        if not isinstance(value, str) or not re.fullmatch(ISO_DATE, value) or not parse_date(value):
            self._error(field, "is not a date in the form YYYY-MM-DD")

    def _check_with_clean_text(self, field: str, value: Any) -> None:
        if isinstance(value, str) and not _is_clean(value):
            self._error(field, "holds control characters or invalid Unicode")

    def _check_with_not_blank(self, field: str, value: Any) -> None:
        if isinstance(value, str) and re.search(NOT_BLANK, value) is None:
            self._error(field, "must not be blank")

    def _check_with_strict_integer(self, field: str, value: Any) -> None:
        if isinstance(value, bool):
            self._error(field, "must be of integer type")

    def _normalize_coerce_whole_number(self, value: Any) -> Any:
        """12.0 as 12: JSON (and the document's JSON Schema `integer`) does not tell them apart;
        anything else as it came (and refused when it is not an integer)."""
        if isinstance(value, float) and value.is_integer():
            return int(value)
        return value

    def _normalize_coerce_postcode(self, value: Any) -> Any:
        """'8924ab' as '8924 AB'; anything that is not a postcode as it came (and refused)."""
        if isinstance(value, str) and re.fullmatch(POSTCODE, value):
            return normalise_postcode(value) or value
        return value


def _is_clean(text: str) -> bool:
    """No NUL or other control characters (but tab and newline), no lone surrogates."""
    if re.fullmatch(CLEAN_TEXT, text) is None:
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def is_clean_text(text: str) -> bool:
    """Whether `text` is clean: the check `clean_text` of the schemas."""
    return _is_clean(text)


def _rules_for(field: policies.Field) -> dict[str, Any]:
    kind = field.type
    rules: dict[str, Any]
    if kind is FieldType.STRING:
        rules = {
            "type": "string",
            "empty": False,
            "maxlength": MAX_STRING,
            "check_with": "clean_text",
        }
    elif kind is FieldType.TEXT:
        rules = {
            "type": "string",
            "empty": False,
            "maxlength": MAX_TEXT,
            "check_with": "clean_text",
        }
    elif kind is FieldType.INTEGER:
        rules = {
            "type": "integer",
            "min": 0,
            "max": MAX_INTEGER,
            "coerce": "whole_number",
            "check_with": "strict_integer",
        }
    elif kind is FieldType.BOOLEAN:
        rules = {"type": "boolean"}
    elif kind is FieldType.DATE:
        rules = {"type": "string", "empty": False, "check_with": "date"}
    elif kind is FieldType.BSN:
        rules = {"type": "string", "empty": False, "check_with": "bsn"}
    else:
        rules = {"type": "string", "empty": False, "coerce": "postcode", "check_with": "postcode"}
    rules.update(field.constraints)
    description = field.description
    if field.name == "birth_date":
        description += f" (the young person is {MIN_AGE} to {MAX_AGE} years old today)"
    rules["meta"] = {"description": description}
    return rules


@dataclass(frozen=True)
class ValidSignal:
    """A validated signal: who it is about, the fields supplied, the summary.

    `subject_fields` are the identifying values of `subject` (the BSN, or the fallback
    identity); they are stored only where the case holds no value for them yet.
    """

    bsn: str | None
    identity: dict[str, str] | None
    fields: dict[str, Any]
    subject_fields: dict[str, Any]
    summary: str | None


class SignalValidator:
    """Validates signal bodies for one convenant with Cerberus schemas derived from its field
    definitions; the same schemas describe the bodies in the OpenAPI document."""

    def __init__(self, convenant: policies.Convenant, today: Any = dt.date.today) -> None:
        self.convenant = convenant
        self.today = today
        self._local = threading.local()
        self.field_rules: dict[str, dict[str, Any]] = {
            name: _rules_for(f) for name, f in convenant.fields.items()
        }
        for name, f in convenant.fields.items():
            self.field_rules[name]["meta"]["x-suppliers"] = sorted(f.suppliers)
        identity = {
            n: self.field_rules[n] for n in ("bsn", *FALLBACK_IDENTITY) if n in self.field_rules
        }
        self._by_bsn = {
            "bsn": {**identity["bsn"], "required": True},
            **{n: identity[n] for n in FALLBACK_IDENTITY if n in identity},
        }
        self._by_identity = {n: {**identity[n], "required": True} for n in FALLBACK_IDENTITY}
        self.subject_rules: dict[str, Any] = {
            "type": "dict",
            "required": True,
            "anyof": [{"schema": self._by_bsn}, {"schema": self._by_identity}],
            "meta": {
                "description": "The young person: a bsn, or surname, given_names, birth_date, "
                "postcode and house_number (a bsn given, the other members are only checked)."
            },
        }
        self._party_schemas = {party: self._signal_schema(party) for party in convenant.parties}
        # The signal as any party may send it: each field says who may supply it (x-suppliers).
        self.signal_schema = self._signal_schema(None)

    def _signal_schema(self, party: str | None) -> dict[str, Any]:
        fields = {
            name: rules
            for name, rules in self.field_rules.items()
            if party is None or party in self.convenant.fields[name].suppliers
        }
        return {
            "subject": self.subject_rules,
            "fields": {
                "type": "dict",
                "schema": fields,
                "meta": {
                    "description": "Field name: value; only fields your party may supply "
                    "(x-suppliers). A value of an identifying field equals the one in subject. "
                    "A signal holds at least one field or a summary."
                },
            },
            "summary": {
                "type": "string",
                "nullable": True,
                "maxlength": MAX_TEXT,
                "check_with": "clean_text",
            },
        }

    def _validator(self, key: str, schema: Mapping[str, Any]) -> _Validator:
        cache: dict[str, _Validator] = self._local.__dict__.setdefault("validators", {})
        if key not in cache:
            cache[key] = _Validator(dict(schema), error_handler=_ValueFreeErrors)
        return cache[key]

    def validate(self, party: str, body: Any) -> ValidSignal:
        """The validated signal, or a 422 Problem listing every problem by field."""
        if not isinstance(body, dict):
            raise Problem(422, "invalid_signal", "The signal must be a JSON object.")
        errors: list[dict[str, str]] = []
        fields = body.get("fields")
        if isinstance(fields, dict):
            errors += self._supply_errors(party, fields)
            suppliable = self.convenant.suppliable_fields(party)
            body = {**body, "fields": {k: v for k, v in fields.items() if k in suppliable}}
        checked = self._check(f"signal:{party}", self._party_schemas.get(party, {}), body, errors)
        subject = checked.get("subject") or {}
        bsn = subject.get("bsn")
        identity = None if bsn else {n: subject[n] for n in FALLBACK_IDENTITY if n in subject}
        checked_fields: dict[str, Any] = checked.get("fields") or {}
        summary = checked.get("summary")
        subject_fields = {}
        for name, value in ({"bsn": bsn} if bsn else identity or {}).items():
            if name in checked_fields and checked_fields[name] != value:
                errors.append(
                    {"field": f"fields.{name}", "problem": f"differs from subject.{name}"}
                )
            elif name in self.convenant.fields and party in self.convenant.fields[name].suppliers:
                subject_fields[name] = value
        self._check_age(checked_fields.get("birth_date", subject_fields.get("birth_date")), errors)
        if errors:
            raise Problem(
                422,
                "invalid_signal",
                f"The signal has {len(errors)} problem(s); nothing was stored.",
                errors=errors,
                audit={"problems": len(errors)},
            )
        if not checked_fields and not summary:
            raise Problem(
                422,
                "invalid_signal",
                "The signal holds no fields and no summary.",
                errors=[{"field": "fields", "problem": "empty"}],
            )
        return ValidSignal(bsn, identity or None, checked_fields, subject_fields, summary)

    def validate_subject(self, subject: Any) -> tuple[str | None, dict[str, str] | None]:
        """A young person named as in a signal's `subject` (a BSN, or the five identity
        fields): (bsn, identity), or a 422 Problem naming what is wrong."""
        errors: list[dict[str, str]] = []
        checked = self._check(
            "subject", {"subject": self.subject_rules}, {"subject": subject}, errors
        )
        if errors:
            raise Problem(
                422,
                "invalid_subject",
                "The young person is not named correctly; nothing was changed.",
                errors=errors,
            )
        found = checked["subject"]
        if found.get("bsn"):
            return found["bsn"], None
        return None, {n: found[n] for n in FALLBACK_IDENTITY}

    def validate_value(self, name: str, value: Any) -> Any:
        """One value of field `name`, checked (and normalised) as in a signal, for any supplier
        (a correction); a 422 Problem naming the field and the rule, never the value."""
        errors: list[dict[str, str]] = []
        schema = self.field_rules.get(name)
        if schema is None:
            errors.append(
                {"field": "field", "problem": "unknown field: the convenant does not name it"}
            )
            checked: dict[str, Any] = {}
        elif value is None:
            errors.append({"field": "value", "problem": "required"})
            checked = {}
        else:
            found: list[dict[str, str]] = []
            checked = self._check(f"field:{name}", {name: schema}, {name: value}, found)
            if name == "birth_date" and not found:
                self._check_age(checked.get(name), found)
            errors += [{**e, "field": "value." + e["field"].removeprefix("fields.")} for e in found]
        if errors:
            raise Problem(
                422,
                "invalid_value",
                "The value is not valid for this field; nothing was changed.",
                errors=errors,
            )
        return checked[name]

    def _supply_errors(self, party: str, fields: Mapping[str, Any]) -> list[dict[str, str]]:
        out = []
        for name in fields:
            spec = self.convenant.fields.get(name) if isinstance(name, str) else None
            if spec is None:
                out.append(
                    {
                        "field": f"fields.{name}",
                        "problem": "unknown field: the convenant does not name it",
                    }
                )
            elif party not in spec.suppliers:
                out.append(
                    {
                        "field": f"fields.{name}",
                        "problem": f"your party ({party}) may not supply this field; category "
                        f"{spec.category} may be supplied by "
                        f"{', '.join(sorted(spec.suppliers))}",
                    }
                )
        return out

    def _check(
        self,
        key: str,
        schema: Mapping[str, Any],
        document: dict[str, Any],
        errors: list[dict[str, str]],
    ) -> dict[str, Any]:
        """`document` checked and normalised against `schema`; its problems added to `errors`
        by field path (a subject's by the form it takes: with a bsn, or the identity fields)."""
        validator = self._validator(key, schema)
        if validator.validate(document):
            checked = dict(validator.document)
            subject = checked.get("subject")
            if isinstance(subject, dict):  # Cerberus normalises nothing inside anyof: do it here
                form = self._by_bsn if "bsn" in subject else self._by_identity
                branch = self._validator(f"subject:{'bsn' in subject}", form)
                branch.validate(subject)
                checked["subject"] = dict(branch.document)
            return checked
        found = dict(validator.errors)
        subject = document.get("subject")
        if "subject" in found and isinstance(subject, dict):
            del found["subject"]
            form = self._by_bsn if "bsn" in subject else self._by_identity
            branch = self._validator(f"subject:{'bsn' in subject}", form)
            branch.validate(subject)
            errors += _flatten(branch.errors, "subject")
        errors += _flatten(found, "")
        return {}

    def _check_age(self, birth_date: Any, errors: list[dict[str, str]]) -> None:
        born = parse_date(birth_date) if birth_date is not None else None
        if born is None:
            return
        today = self.today()
        age = today.year - born.year - ((today.month, today.day) < (born.month, born.day))
        if born > today:
            errors.append({"field": "fields.birth_date", "problem": "lies in the future"})
        elif not MIN_AGE <= age <= MAX_AGE:
            errors.append(
                {
                    "field": "fields.birth_date",
                    "problem": "the young person is outside the MultiTeam's target "
                    f"group ({MIN_AGE}–{MAX_AGE} years)",
                }
            )


def _flatten(tree: Mapping[Any, Any], prefix: str) -> list[dict[str, str]]:
    """Cerberus' nested errors as [{field: "fields.postcode", problem: ...}], in name order."""
    out: list[dict[str, str]] = []
    for key, messages in sorted(tree.items(), key=lambda item: str(item[0])):
        name = f"{prefix}.{key}" if prefix else str(key)
        for message in messages:
            if isinstance(message, Mapping):
                out += _flatten(message, name)
            else:
                out.append({"field": name, "problem": str(message)})
    return out
