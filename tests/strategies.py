"""Hypothesis strategies shared by the test suites, grouped by package."""

from __future__ import annotations

import datetime as dt
import itertools
from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import strategies as st

from audit import ACTIONS, EFFECTS, GENESIS_HASH, OUTCOMES, AuditEntry, AuditRecord, seal
from audit.record import looks_like_bsn

# ---------------------------------------------------------------------------------------------
# audit: entries and sealed chains
# ---------------------------------------------------------------------------------------------

_LOWER = "abcdefghijklmnopqrstuvwxyz"
_DIGITS = "0123456789"


def _word(first: str, rest: str, max_size: int) -> st.SearchStrategy[str]:
    return st.builds(
        lambda a, b: a + b, st.sampled_from(first), st.text(alphabet=rest, max_size=max_size)
    )


audit_field_names = _word(_LOWER, _LOWER + _DIGITS + "_", 20)
audit_identifiers = _word(_LOWER, _LOWER + _DIGITS + "_", 20)
audit_tokens = _word(
    _LOWER + _LOWER.upper(), _LOWER + _LOWER.upper() + _DIGITS + "._:-", 30
).filter(lambda s: not looks_like_bsn(s))
audit_texts = st.text(
    alphabet=st.characters(codec="utf-8", categories=("L", "Nd", "Zs", "P")),
    min_size=1,
    max_size=40,
).filter(lambda s: s.isprintable() and not looks_like_bsn(s))
audit_detail_values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-10_000_000, max_value=10_000_000),
    audit_texts,
)


@st.composite
def audit_entries(draw: st.DrawFn) -> AuditEntry:
    """Any valid audit entry: names, ids and short metadata, never a value."""
    disclosed = draw(
        st.dictionaries(audit_field_names, st.sampled_from(sorted(EFFECTS)), max_size=6)
    )
    withheld = draw(st.lists(audit_field_names, max_size=6))
    withheld = [f for f in withheld if disclosed.get(f, "withhold") == "withhold"]
    optional_token = st.none() | audit_tokens
    optional_ident = st.none() | audit_identifiers
    return AuditEntry(
        event=draw(st.sampled_from(["case.view", "case.list", "signal.create", "audit.query"])),
        action=draw(st.sampled_from(sorted(ACTIONS))),
        outcome=draw(st.sampled_from(sorted(OUTCOMES))),
        person_id=draw(optional_token),
        person_name=draw(st.none() | audit_texts),
        on_behalf_of=draw(optional_token),
        role=draw(optional_ident),
        party=draw(optional_ident),
        client_id=draw(optional_token),
        purpose=draw(optional_ident),
        legal_basis=draw(st.none() | audit_texts),
        subject=draw(st.none() | audit_tokens.map(lambda s: "psn:" + s)),
        case_id=draw(optional_token),
        fields_disclosed=disclosed,
        fields_withheld=tuple(withheld),
        convenant_hash=draw(
            st.none() | st.binary(min_size=32, max_size=32).map(lambda b: "sha256:" + b.hex())
        ),
        request_id=draw(st.none() | st.uuids().map(str)),
        source_address=draw(st.none() | st.ip_addresses().map(str)),
        detail=draw(st.dictionaries(audit_field_names, audit_detail_values, max_size=4)),
    )


def audit_chain_of(entries: list[AuditEntry], start: datetime | None = None) -> list[AuditRecord]:
    """Seal `entries` into a chain from genesis, one second apart."""
    when = start or datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
    records: list[AuditRecord] = []
    prev_hash = GENESIS_HASH
    for seq, entry in enumerate(entries, start=1):
        record = seal(entry, seq=seq, prev_hash=prev_hash, time=when + timedelta(seconds=seq))
        records.append(record)
        prev_hash = record.hash
    return records


@st.composite
def audit_chains(draw: st.DrawFn, min_size: int = 1, max_size: int = 25) -> list[AuditRecord]:
    """A valid chain of sealed records from genesis, its entries drawn from a small pool."""
    pool = draw(st.lists(audit_entries(), min_size=1, max_size=3))
    picks = draw(st.lists(st.sampled_from(pool), min_size=min_size, max_size=max_size))
    return audit_chain_of(picks)


# ---------------------------------------------------------------------------------------------
# policies: generated convenants and sentinel records
# ---------------------------------------------------------------------------------------------

TYPES = ["string", "text", "integer", "boolean", "date", "bsn", "postcode"]
_MASKABLE = {"string", "text", "bsn", "postcode"}


def _effects_for(kind: str) -> list[dict[str, Any]]:
    effects: list[dict[str, Any]] = [
        {"effect": "show"},
        {"effect": "withhold"},
        {"effect": "pseudonymise"},
    ]
    if kind in _MASKABLE:
        effects.append({"effect": "mask", "keep_last": 2})
    if kind == "date":
        effects.append({"effect": "generalise", "generaliser": "jaar"})
    if kind == "integer":
        effects.append({"effect": "generalise", "generaliser": "band"})
    return effects


@st.composite
def convenant_documents(draw: st.DrawFn) -> dict[str, Any]:
    """A valid convenant document: random parties, tracks, fields and non-conflicting rules."""
    n_parties = draw(st.integers(2, 4))
    parties = [f"p{i}" for i in range(n_parties)]
    tracks = {"t0": {"description": "start", "initial": True, "case_team": ["p0"]}}
    for t in range(1, draw(st.integers(1, 3)) + 1):
        others = draw(st.lists(st.sampled_from(parties[1:]), unique=True))
        tracks[f"t{t}"] = {"description": f"traject {t}", "case_team": ["p0", *others]}
    categories: dict[str, Any] = {}
    field_types: dict[str, str] = {}
    for ci in range(draw(st.integers(1, 4))):
        fields = {}
        for fi in range(draw(st.integers(1, 4))):
            kind = draw(st.sampled_from(TYPES))
            name = f"c{ci}_f{fi}"
            fields[name] = {"type": kind}
            field_types[name] = kind
        categories[f"c{ci}"] = {
            "description": f"categorie {ci}",
            "special": draw(st.sampled_from([None, "art9", "art10"])),
            "suppliers": "all",
            "fields": fields,
        }
    document: dict[str, Any] = {
        "convenant": {
            "id": "gen",
            "title": "Gegenereerd",
            "version": "0.1",
            "effective_date": dt.date(2026, 1, 1),
        },
        "parties": {p: {"name": p, "regime": "AVG", "legal_basis": "AVG art. 6"} for p in parties},
        "roles": {
            "case_worker": {"description": "cw", "parties": "all"},
            "coordinator": {"description": "co", "parties": ["p0"]},
            "auditor": {"description": "fg", "parties": ["p0"]},
        },
        "purposes": {
            "werk": {
                "description": "w",
                "legal_basis": "b",
                "roles": ["case_worker", "coordinator"],
                "view": "case",
            },
            "triage": {
                "description": "t",
                "legal_basis": "b",
                "roles": ["coordinator"],
                "view": "dat",
            },
            "toezicht": {
                "description": "a",
                "legal_basis": "b",
                "roles": ["auditor"],
                "view": "none",
            },
        },
        "tracks": tracks,
        "generalisers": {
            "jaar": {"kind": "year", "explanation": "jaar"},
            "band": {
                "kind": "bands",
                "explanation": "band",
                "bands": [{"max": 0, "label": "0"}, {"max": 5, "label": "1-5"}, {"label": "6+"}],
            },
        },
        "categories": categories,
        "own_data": {"id": "EIGEN", "legal_basis": "b", "explanation": "eigen"},
        "retention": {
            "untriaged_signal": {"months": 6},
            "closed_case": {"years": 2},
            "age_limit": {"years": 23},
            "audit_record": {"years": 5},
        },
        "rules": [],
    }
    combos = [("t0", "p0", "coordinator", "triage")]
    for track, spec in tracks.items():
        combos += [(track, party, "case_worker", "werk") for party in spec["case_team"]]
        combos.append((track, "p0", "coordinator", "werk"))
    specials = {f: categories[c]["special"] for c in categories for f in categories[c]["fields"]}
    counter = itertools.count()
    for track, party, role, purpose in combos:
        if not draw(st.booleans()):
            continue
        scope = {"tracks": [track], "parties": [party], "roles": [role], "purposes": [purpose]}
        whole = draw(st.none() | st.sampled_from(sorted(categories)))
        if whole is not None:
            effect = draw(st.sampled_from(["show", "withhold", "pseudonymise"]))
            rule = {
                "id": f"R{next(counter)}",
                **scope,
                "effect": effect,
                "targets": [whole],
                "legal_basis": "b",
                "explanation": "categorie",
            }
            special = categories[whole]["special"]
            if special and effect != "withhold":
                rule["special_basis"] = {special: "AVG uitzondering"}
            document["rules"].append(rule)
        candidates = sorted(
            f for f in field_types if whole is None or f not in categories[whole]["fields"]
        )
        for name in draw(
            st.lists(st.sampled_from(candidates), unique=True, max_size=6)
            if candidates
            else st.just([])
        ):
            effect = draw(st.sampled_from(_effects_for(field_types[name])))
            rule = {
                "id": f"R{next(counter)}",
                **scope,
                **effect,
                "targets": [name],
                "legal_basis": "b",
                "explanation": "veld",
            }
            if specials[name] and effect["effect"] != "withhold":
                rule["special_basis"] = {specials[name]: "AVG uitzondering"}
            document["rules"].append(rule)
    return document


def sentinel(name: str, kind: str, index: int, salt: int) -> Any:
    """A value for the `index`th field that appears nowhere else (booleans excepted)."""
    number = 7_000_000 + salt * 100 + index
    if kind == "integer":
        return number
    if kind == "boolean":
        return salt % 2 == 0
    if kind == "date":
        return (dt.date(1990, 1, 1) + dt.timedelta(days=salt * 100 + index)).isoformat()
    if kind in ("bsn", "postcode", "string", "text"):
        return f"SENTINEL-{name}-{number}"
    raise AssertionError(kind)


def records_for(field_types: dict[str, str]) -> st.SearchStrategy[dict[str, Any]]:
    """A record holding a sentinel in a random subset of the fields."""
    order = {name: i for i, name in enumerate(sorted(field_types))}
    return st.builds(
        lambda present, salt: {f: sentinel(f, field_types[f], order[f], salt) for f in present},
        st.sets(st.sampled_from(sorted(field_types))) if field_types else st.just(set()),
        st.integers(0, 999),
    )
