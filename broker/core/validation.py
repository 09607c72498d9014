"""Signal validation: Cerberus schemas derived from the convenant's field definitions.

Error messages name the field and the rule that failed — never the value that was sent.
"""

from __future__ import annotations

import datetime as dt
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

__all__ = ["SignalValidator", "ValidSignal"]

MAX_STRING = 200
MAX_TEXT = 4000
MAX_INTEGER = 100_000
MIN_AGE, MAX_AGE = 8, 27


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
    """Cerberus with the broker's checks for BSN, postcode, dates and strict integers."""

    def _check_with_bsn(self, field: str, value: Any) -> None:
        if not is_valid_bsn(value):
            self._error(field, "is not a valid BSN (nine digits passing the eleven-check)")

    def _check_with_postcode(self, field: str, value: Any) -> None:
        if normalise_postcode(value) is None:
            self._error(field, "is not a Dutch postcode like '8924 AB'")

    def _check_with_date(self, field: str, value: Any) -> None:
        if parse_date(value) is None:
            self._error(field, "is not a date in the form YYYY-MM-DD")

    def _check_with_clean_text(self, field: str, value: Any) -> None:
        if isinstance(value, str) and not _is_clean(value):
            self._error(field, "holds control characters or invalid Unicode")

    def _check_with_strict_integer(self, field: str, value: Any) -> None:
        if isinstance(value, bool):
            self._error(field, "must be of integer type")

    def _normalize_coerce_postcode(self, value: Any) -> Any:
        return normalise_postcode(value) or value


def _is_clean(text: str) -> bool:
    """No NUL or other control characters (but tab and newline), no lone surrogates."""
    if any(ch < " " and ch not in "\t\n\r" for ch in text):
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return "\x7f" not in text


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
        rules = {"type": "integer", "min": 0, "max": MAX_INTEGER, "check_with": "strict_integer"}
    elif kind is FieldType.BOOLEAN:
        rules = {"type": "boolean"}
    elif kind is FieldType.DATE:
        rules = {"type": "string", "check_with": "date"}
    elif kind is FieldType.BSN:
        rules = {"type": "string", "check_with": "bsn"}
    else:
        rules = {"type": "string", "coerce": "postcode", "check_with": "postcode"}
    rules.update(field.constraints)
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
    """Validates signal bodies for one convenant; one Cerberus validator per party and thread."""

    def __init__(self, convenant: policies.Convenant, today: Any = dt.date.today) -> None:
        self.convenant = convenant
        self.today = today
        self._local = threading.local()
        self._schemas = {
            party: {
                name: _rules_for(convenant.fields[name])
                for name in convenant.suppliable_fields(party)
            }
            for party in convenant.parties
        }
        self._identity_schema = {
            name: _rules_for(convenant.fields[name])
            for name in ("bsn", *FALLBACK_IDENTITY)
            if name in convenant.fields
        }
        self._field_schemas = {name: _rules_for(f) for name, f in convenant.fields.items()}

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
        unknown_top = sorted(set(body) - {"subject", "fields", "summary"})
        errors += [{"field": k, "problem": "unknown member"} for k in unknown_top]
        summary = body.get("summary")
        if summary is not None and (
            not isinstance(summary, str) or len(summary) > MAX_TEXT or not _is_clean(summary)
        ):
            errors.append(
                {
                    "field": "summary",
                    "problem": f"must be clean text of at most {MAX_TEXT} characters",
                }
            )
        fields = body.get("fields", {})
        if not isinstance(fields, dict):
            errors.append({"field": "fields", "problem": "must be an object of field: value"})
            fields = {}
        subject = body.get("subject")
        if not isinstance(subject, dict):
            errors.append(
                {
                    "field": "subject",
                    "problem": "must be an object with a bsn, or "
                    "surname, given_names, birth_date, postcode and house_number",
                }
            )
            subject = {}
        errors += self._supply_errors(party, fields)
        schema = self._schemas.get(party, {})
        checked_fields = self._check(
            party, schema, {k: v for k, v in fields.items() if k in schema}, "fields", errors
        )
        bsn, identity = self._subject(subject, errors)
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
        return ValidSignal(bsn, identity, checked_fields, subject_fields, summary)

    def validate_subject(self, subject: Any) -> tuple[str | None, dict[str, str] | None]:
        """A young person named as in a signal's `subject` (a BSN, or the five identity
        fields): (bsn, identity), or a 422 Problem naming what is wrong."""
        errors: list[dict[str, str]] = []
        if not isinstance(subject, dict):
            errors.append(
                {
                    "field": "subject",
                    "problem": f"must be an object with a bsn, or {', '.join(FALLBACK_IDENTITY)}",
                }
            )
            bsn, identity = None, None
        else:
            bsn, identity = self._subject(subject, errors)
        if errors or (bsn is None and identity is None):
            raise Problem(
                422,
                "invalid_subject",
                "The young person is not named correctly; nothing was changed.",
                errors=errors or [{"field": "subject", "problem": "is not valid"}],
            )
        return bsn, identity

    def validate_value(self, name: str, value: Any) -> Any:
        """One value of field `name`, checked (and normalised) as in a signal, for any supplier
        (a correction); a 422 Problem naming the field and the rule, never the value."""
        errors: list[dict[str, str]] = []
        schema = self._field_schemas.get(name)
        if schema is None:
            errors.append(
                {"field": "field", "problem": "unknown field: the convenant does not name it"}
            )
            checked: dict[str, Any] = {}
        elif value is None:
            errors.append({"field": "value", "problem": "required"})
            checked = {}
        else:
            checked = self._check(f"field:{name}", {name: schema}, {name: value}, "value", errors)
            if name == "birth_date":
                self._check_age(checked.get(name), errors)
        if errors:
            raise Problem(
                422,
                "invalid_value",
                "The value is not valid for this field; nothing was changed.",
                errors=[{**e, "field": e["field"].replace("fields.", "value.")} for e in errors],
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
        prefix: str,
        errors: list[dict[str, str]],
    ) -> dict[str, Any]:
        validator = self._validator(key, schema)
        if validator.validate(document):
            return dict(validator.document)
        for name, messages in sorted(validator.errors.items()):
            for message in messages:
                errors.append({"field": f"{prefix}.{name}", "problem": str(message)})
        return {}

    def _subject(
        self, subject: Mapping[str, Any], errors: list[dict[str, str]]
    ) -> tuple[str | None, dict[str, str] | None]:
        if "bsn" in subject:
            checked = self._check(
                "subject:bsn",
                {"bsn": self._identity_schema["bsn"]},
                {"bsn": subject["bsn"]},
                "subject",
                errors,
            )
            extra = sorted(set(subject) - {"bsn", *FALLBACK_IDENTITY})
            errors += [{"field": f"subject.{k}", "problem": "unknown member"} for k in extra]
            return checked.get("bsn"), None
        missing = [name for name in FALLBACK_IDENTITY if name not in subject]
        if missing:
            errors.append(
                {
                    "field": "subject",
                    "problem": "give a bsn, or all of "
                    f"{', '.join(FALLBACK_IDENTITY)} (missing: {', '.join(missing)})",
                }
            )
            return None, None
        extra = sorted(set(subject) - set(FALLBACK_IDENTITY))
        errors += [{"field": f"subject.{k}", "problem": "unknown member"} for k in extra]
        schema = {k: v for k, v in self._identity_schema.items() if k != "bsn"}
        checked = self._check(
            "subject:identity",
            schema,
            {k: subject[k] for k in FALLBACK_IDENTITY},
            "subject",
            errors,
        )
        return None, (checked or None)

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
