"""The coordinator's triage queue: the open cases in the initial track with DAT-information only,
and the matches (Verwijsindex) found by keyed hashes, never by comparing or showing values.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, aliased

import policies
from broker.core.context import Context, audit_and_commit
from broker.core.problems import Problem
from broker.core.runtime import Runtime
from broker.storage.models import (
    Case,
    MatchKey,
    Signal,
    YoungPerson,
)
from policies import View

from .restrictions import restrictions_for
from .views import case_values

__all__ = [
    "triage_queue",
]


def triage_queue(
    session: Session, rt: Runtime, ctx: Context, page: int, per_page: int
) -> dict[str, Any]:
    """The open cases in the initial track (signaal) with DAT-information only: who signalled
    and when, which categories hold data, the identification the convenant shows for triage,
    and the matches (Verwijsindex): several parties, another case at the same address, another
    young person with the same parent — by keyed hashes, never by comparing or showing values.
    One audit record per listed case."""
    actor, role, purpose = ctx.actor, ctx.role, ctx.purpose
    assert actor is not None and role is not None and purpose is not None
    c = rt.convenant
    if c.purposes[purpose].view is not View.DAT:
        raise Problem(
            403, "purpose_not_for_triage", "The triage queue serves a triage purpose only."
        )
    track = c.initial_track
    decision = policies.decide(c, actor.party, role, purpose, track)
    if decision.denial is not None:
        raise Problem(403, decision.denial, decision.denial_reason or "Refused.")
    where = (Case.track == track, Case.closed_at.is_(None), Case.purged_at.is_(None))
    total = session.scalar(select(func.count()).select_from(Case).where(*where)) or 0
    rows = session.execute(
        select(
            Case.id, Case.opened_at, Case.updated_at, YoungPerson.subject_key, Case.young_person_id
        )
        .join(YoungPerson, YoungPerson.id == Case.young_person_id)
        .where(*where)
        .order_by(Case.opened_at, Case.id)
        .offset((page - 1) * per_page)
        .limit(per_page)
    ).all()
    ids = [row.id for row in rows]
    signals: dict[str, list[tuple[str, dt.datetime]]] = defaultdict(list)
    matches: dict[str, list[tuple[str, str, str]]] = defaultdict(list)
    if ids:
        for case_id, party, at in session.execute(
            select(Signal.case_id, Signal.party, Signal.received_at)
            .where(Signal.case_id.in_(ids))
            .order_by(Signal.received_at, Signal.id)
        ):
            signals[case_id].append((party, at))
        mine, theirs = aliased(MatchKey), aliased(MatchKey)
        for case_id, kind, other_id, other_track in session.execute(
            select(mine.case_id, mine.kind, theirs.case_id, Case.track)
            .join(
                theirs,
                (theirs.kind == mine.kind)
                & (theirs.key == mine.key)
                & (theirs.case_id != mine.case_id),
            )
            .join(Case, Case.id == theirs.case_id)
            .where(mine.case_id.in_(ids), Case.closed_at.is_(None), Case.purged_at.is_(None))
            .order_by(mine.kind, Case.opened_at, Case.id)
        ):
            matches[case_id].append((kind, other_id, other_track))
    visible: dict[str, bool] = {}

    def may_see(other_track: str) -> bool:
        if other_track not in visible:
            other = policies.decide(c, actor.party, role, purpose, other_track)
            visible[other_track] = other.denial is None
        return visible[other_track]

    # the young people's objections, laid over the convenant as in every other view
    restricted = restrictions_for(session, c, [row.young_person_id for row in rows])
    items, entries = [], []
    for row in rows:
        current = case_values(session, row.id)
        restriction = restricted.get(row.young_person_id, policies.NO_RESTRICTION)
        # without sources: the rules' triage view (no own data lifted into a DAT-only queue)
        view = policies.apply(
            policies.restrict(decision, restriction), current.values, None, rt.pseudonym_key
        )
        case_signals = signals[row.id]
        parties = sorted({party for party, _ in case_signals})
        found: list[dict[str, Any]] = []
        if len(parties) > 1:
            found.append({"kind": "second_party", "parties": parties})
        found += [
            {"kind": kind, "case_id": other_id if may_see(other_track) else None}
            for kind, other_id, other_track in matches[row.id]
        ]
        items.append(
            {
                "case_id": row.id,
                "opened_at": row.opened_at.isoformat(),
                "updated_at": row.updated_at.isoformat(),
                "identification": view.fields,
                "effects": view.disclosed,
                "involvement": {
                    "categories": list(view.involvement.categories) if view.involvement else [],
                    "parties": parties,
                    "signals": [
                        {"party": party, "received_at": at.isoformat()}
                        for party, at in case_signals
                    ],
                },
                "matches": found,
            }
        )
        entries.append(
            ctx.entry(
                "triage.list",
                "search",
                "success",
                subject=row.subject_key,
                case_id=row.id,
                convenant_hash=c.hash,
                legal_basis=c.purposes[purpose].legal_basis,
                fields_disclosed=view.disclosed,
                detail={
                    "track": track,
                    "page": page,
                    "signals": len(case_signals),
                    "match_kinds": ",".join(sorted({m["kind"] for m in found})) or None,
                    "matched_cases": sum(1 for m in found if m.get("case_id")),
                },
            )
        )
    if not entries:
        entries.append(
            ctx.entry(
                "triage.list",
                "search",
                "success",
                convenant_hash=c.hash,
                detail={"track": track, "page": page, "results": 0},
            )
        )
    audit_and_commit(session, rt, entries)
    return {
        "track": track,
        "items": items,
        "page": page,
        "per_page": per_page,
        "total": total,
        "purpose": purpose,
        "role": role,
    }
