"""Decide what a requester may see of a case, and apply that decision to the case's values."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .compiler import denial_for, denied_decision
from .convenant import Convenant
from .decision import CaseView, Decision, Involvement, Withheld
from .model import View
from .restriction import OBJECTION_OWN_DATA, Restriction, restrict
from .transforms import TransformError

__all__ = ["apply", "decide", "explain"]

_UNTRANSFORMABLE = (
    "De waarde kon niet worden bewerkt zoals het convenant vraagt; daarom achtergehouden."
)


def decide(c: Convenant, party: str, role: str, purpose: str, track: str) -> Decision:
    """The decision for this request: a precomputed lookup; anything unnamed is denied."""
    decision = c.decisions.get((party, role, purpose, track))
    if decision is not None:
        return decision
    code = denial_for(c, party, role, purpose, track) or "unknown_party"
    return denied_decision(c, party, role, purpose, track, code)


def apply(
    decision: Decision,
    record: Mapping[str, Any],
    sources: Mapping[str, str] | None = None,
    pseudonym_key: bytes | None = None,
) -> CaseView:
    """Apply a decision to a case's values; `sources` names the party that supplied each value.

    Only fields the decision discloses leave, transformed as it says, plus the values the
    requesting party supplied itself (own data). Every field the decision withholds is listed
    in `withheld`, whether or not the case holds a value for it, so the list reveals nothing.
    """
    values: dict[str, Any] = {}
    disclosed: dict[str, str] = {}
    failed: list[Withheld] = []
    for name, transform, fd in decision.plan:
        value = record.get(name)
        if value is None:
            continue
        if transform is not None:
            try:
                value = transform(value, pseudonym_key)
            except TransformError:
                failed.append(Withheld(name, _UNTRANSFORMABLE, fd.rule_id, fd.legal_basis))
                continue
        values[name] = value
        disclosed[name] = fd.effect.value
    withheld = decision.withheld
    own: tuple[str, ...] = ()
    if sources and decision.liftable:
        party = decision.party
        own = tuple(
            name
            for name in decision.liftable
            if sources.get(name) == party and record.get(name) is not None
        )
        if own:
            for name in own:
                values[name] = record[name]
                disclosed[name] = "show"
            lifted = set(own)
            withheld = tuple(w for w in withheld if w.field not in lifted)
            failed = [w for w in failed if w.field not in lifted]
    if failed:
        withheld = withheld + tuple(failed)
    involvement = None
    if decision.view is View.DAT:
        categories_of = decision.categories_of
        categories = {
            categories_of[name]
            for name, value in record.items()
            if value is not None and name in categories_of
        }
        suppliers = set(sources.values()) if sources else set()
        involvement = Involvement(tuple(sorted(categories)), tuple(sorted(suppliers)))
    return CaseView(values, disclosed, withheld, own, involvement)


def explain(
    c: Convenant,
    party: str,
    role: str,
    purpose: str,
    track: str,
    restriction: Restriction | None = None,
) -> dict[str, Any]:
    """Every field with its effect, rule, legal basis and explanation, for this request; with a
    young person's `restriction`, the fields withheld because of an objection say so."""
    d = decide(c, party, role, purpose, track)
    restricted = restriction is not None and not restriction.is_empty
    if restriction is not None:
        d = restrict(d, restriction)
    own = d.own_data_rule
    own_text = own.explanation if own else ""
    if own and restricted:
        own_text = f"{own_text} {OBJECTION_OWN_DATA}"
    return {
        "convenant": {"id": c.meta.id, "version": c.version, "hash": c.hash},
        "request": {"party": party, "role": role, "purpose": purpose, "track": track},
        "allowed": d.is_allowed,
        "denial": d.denial,
        "denial_reason": d.denial_reason,
        "view": d.view.value if d.view else None,
        "purpose_legal_basis": c.purposes[purpose].legal_basis if purpose in c.purposes else None,
        "own_data": (
            {"rule": own.id, "legal_basis": own.legal_basis, "explanation": own_text}
            if own
            else None
        ),
        "fields": [fd.as_dict() for fd in d.fields.values()],
    }
