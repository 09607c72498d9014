"""The signal form: the fields a party may supply, read from the posted form into the body the
API takes, and the validator's problems put back beside the fields they name.

The validator (broker.validation) checks everything; the form only turns text inputs into the
types of the convenant (a number, ja/nee, a date) and leaves what it cannot turn for the
validator to refuse, by field.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import policies
from broker.identity.subjects import FALLBACK_IDENTITY
from policies import FieldType

from .i18n import field_problem, gettext

__all__ = ["FormField", "SignalForm", "iso_date"]

MAX_INPUT = 5000  # characters kept of one posted value (the validator allows at most 4000)
_INTEGER = re.compile(r"^-?[0-9]{1,9}$")
_DUTCH_DATE = re.compile(r"^([0-9]{1,2})-([0-9]{1,2})-([0-9]{4})$")
_KINDS = {
    FieldType.STRING: "text",
    FieldType.TEXT: "textarea",
    FieldType.INTEGER: "integer",
    FieldType.BOOLEAN: "boolean",
    FieldType.DATE: "date",
    FieldType.BSN: "bsn",
    FieldType.POSTCODE: "postcode",
}


@dataclass
class FormField:
    """One input: its form name, the validator's name for it, label, kind and what was typed."""

    name: str
    key: str
    label: str
    kind: str
    value: str = ""
    errors: list[str] = field(default_factory=list)

    @property
    def error_id(self) -> str:
        """The id of the element holding this input's problems (aria-describedby)."""
        return f"{self.name}-fout"


def iso_date(text: str) -> str:
    """dd-mm-jjjj (typed by hand) as jjjj-mm-dd; anything else as it is."""
    match = _DUTCH_DATE.match(text)
    if match:
        day, month, year = match.groups()
        return f"{year}-{int(month):02d}-{int(day):02d}"
    return text


def _typed(kind: str, text: str) -> Any:
    """The value of a filled-in input in the convenant's type, or the text when it is not."""
    if kind == "integer" and _INTEGER.match(text):
        return int(text)
    if kind == "boolean":
        return {"ja": True, "nee": False}.get(text, text)
    if kind == "date":
        return iso_date(text)
    return text


class SignalForm:
    """The signal form for one party: the subject (a BSN, or the five identifying attributes),
    the fields the party may supply by category, and a summary."""

    def __init__(self, c: policies.Convenant, party: str) -> None:
        self.party = party
        self.subject_mode = "bsn"
        fields = c.fields
        self.bsn = FormField(
            "subject_bsn", "subject.bsn", fields["bsn"].description or "BSN", "bsn"
        )
        self.identity = [
            FormField(
                f"subject_{name}",
                f"subject.{name}",
                fields[name].description or name,
                _KINDS[fields[name].type],
            )
            for name in FALLBACK_IDENTITY
        ]
        suppliable = set(c.suppliable_fields(party)) - {"bsn"}
        self.groups: list[tuple[policies.Category, list[FormField]]] = []
        for category in c.categories.values():
            inputs = [
                FormField(
                    f"f_{name}",
                    f"fields.{name}",
                    fields[name].description or name,
                    _KINDS[fields[name].type],
                )
                for name in category.fields
                if name in suppliable
            ]
            if inputs:
                self.groups.append((category, inputs))
        self.summary = FormField("summary", "summary", "Toelichting", "textarea")
        self.general_errors: list[str] = []

    def inputs(self) -> list[FormField]:
        """Every input of the form, in order."""
        out = [self.bsn, *self.identity]
        for _, inputs in self.groups:
            out.extend(inputs)
        out.append(self.summary)
        return out

    def read(self, form: Mapping[str, str]) -> None:
        """Take the posted values (as typed; too long a value is cut, the validator refuses
        it anyway)."""
        self.subject_mode = "identity" if form.get("subject_mode") == "identity" else "bsn"
        for item in self.inputs():
            raw = form.get(item.name, "")
            item.value = raw[:MAX_INPUT] if isinstance(raw, str) else ""

    def body(self) -> dict[str, Any]:
        """The signal as the API takes it; empty inputs are left out."""
        if self.subject_mode == "bsn":
            subject: dict[str, Any] = {"bsn": self.bsn.value.strip().replace(" ", "")}
        else:
            subject = {
                item.key.split(".", 1)[1]: _typed(item.kind, item.value.strip())
                for item in self.identity
            }
        values: dict[str, Any] = {}
        for _, inputs in self.groups:
            for item in inputs:
                text = item.value.strip() if item.kind != "textarea" else item.value
                if text.strip():
                    values[item.key.split(".", 1)[1]] = _typed(item.kind, text.strip())
        body: dict[str, Any] = {"subject": subject, "fields": values}
        if self.summary.value.strip():
            body["summary"] = self.summary.value.strip()
        return body

    def add_errors(self, errors: list[dict[str, str]]) -> None:
        """Put each of the validator's problems beside the input it names."""
        by_key = {item.key: item for item in self.inputs()}
        for error in errors:
            key, problem = str(error.get("field", "")), str(error.get("problem", ""))
            message = field_problem(problem)
            if key == "subject":
                target = self.bsn if self.subject_mode == "bsn" else None
                if target is None:
                    missing = [i for i in self.identity if not i.value.strip()] or self.identity
                    for item in missing:
                        item.errors.append(gettext("is verplicht"))
                    continue
                target.errors.append(message)
            elif key in by_key:
                by_key[key].errors.append(message)
            else:
                self.general_errors.append(message)

    def error_summary(self) -> list[tuple[str, str, str]]:
        """(input name, label, problem) of every problem, in the form's order."""
        return [(item.name, item.label, e) for item in self.inputs() for e in item.errors]

    @property
    def has_errors(self) -> bool:
        """Whether any problem is shown."""
        return bool(self.general_errors) or any(item.errors for item in self.inputs())
