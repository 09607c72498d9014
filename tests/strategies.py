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


# ---------------------------------------------------------------------------------------------
# broker: what triage matches on (postcode and house number, a parent's name)
# ---------------------------------------------------------------------------------------------

dutch_postcodes = st.builds(
    lambda digits, letters: digits + letters,
    st.integers(1000, 9999).map(str),
    st.text(alphabet=_LOWER.upper(), min_size=2, max_size=2),
)
house_numbers = st.builds(
    lambda number, addition: f"{number}{addition}",
    st.integers(1, 999),
    st.sampled_from(["", "a", "B", "-2", " bis", "A 3"]),
)
# Latin letters as in Dutch and Frisian names (ĳ, â, ú, ...); the dotless ı has no case pair
parent_names = st.text(
    alphabet=st.characters(
        min_codepoint=0x41, max_codepoint=0x24F, categories=("Lu", "Ll"), exclude_characters="ı"
    )
    | st.just(" "),
    min_size=1,
    max_size=30,
).filter(lambda s: s.strip() != "")


@st.composite
def respelled(draw: st.DrawFn, text: str, gaps: bool = True) -> str:
    """`text` as someone else might type it: another case per letter, other white space
    around it and between its parts (with `gaps=False`, parts may also run together)."""
    spaces = [" ", "  ", "\t"] if gaps else ["", " ", "  "]
    out = []
    for ch in text:
        if ch.isspace():
            out.append(draw(st.sampled_from(spaces)))
        else:
            out.append(ch.upper() if draw(st.booleans()) else ch.lower())
    pad = st.sampled_from(["", " ", "  "])
    return draw(pad) + "".join(out) + draw(pad)


# ---------------------------------------------------------------------------------------------
# broker: objections of a young person (targets: categories and fields; parties: receivers)
# ---------------------------------------------------------------------------------------------


@st.composite
def objections(
    draw: st.DrawFn, targets: tuple[str, ...], parties: tuple[str, ...]
) -> tuple[list[str], list[str]]:
    """An objection's targets (1–5 names of categories or fields) and receiving parties
    (none: every party)."""
    chosen = draw(st.lists(st.sampled_from(targets), min_size=1, max_size=5, unique=True))
    receivers = draw(st.lists(st.sampled_from(parties), max_size=4, unique=True))
    return chosen, receivers


# ---------------------------------------------------------------------------------------------
# broker: monitoring figures — tables for small-cell suppression, and case populations
# ---------------------------------------------------------------------------------------------

# counts around the threshold of 5, zeros included: where suppression has work to do
suppression_counts = st.integers(min_value=0, max_value=14)


@st.composite
def suppression_grids(
    draw: st.DrawFn, counts: st.SearchStrategy[int] = suppression_counts, name: str = "g"
) -> Any:
    """A cross table of 1–4 rows by 1–4 columns with row, column and grand totals (SUM
    relations): the classic shape in which one withheld cell needs three more."""
    from broker.figures.suppression import Relation, RelationKind, Table

    rows = draw(st.integers(min_value=1, max_value=4))
    cols = draw(st.integers(min_value=1, max_value=4))
    grid = [[draw(counts) for _ in range(cols)] for _ in range(rows)]
    values: dict[tuple[str, ...], int] = {}
    relations = []
    for r in range(rows):
        for c in range(cols):
            values[(name, f"r{r}", f"c{c}")] = grid[r][c]
    for r in range(rows):
        values[(name, f"r{r}", "total")] = sum(grid[r])
        parts = tuple((name, f"r{r}", f"c{c}") for c in range(cols))
        relations.append(Relation(RelationKind.SUM, (name, f"r{r}", "total"), parts))
    for c in range(cols):
        values[(name, "total", f"c{c}")] = sum(row[c] for row in grid)
        parts = tuple((name, f"r{r}", f"c{c}") for r in range(rows))
        relations.append(Relation(RelationKind.SUM, (name, "total", f"c{c}"), parts))
    values[(name, "total", "total")] = sum(map(sum, grid))
    grand = (name, "total", "total")
    relations.append(
        Relation(RelationKind.SUM, grand, tuple((name, f"r{r}", "total") for r in range(rows)))
    )
    relations.append(
        Relation(RelationKind.SUM, grand, tuple((name, "total", f"c{c}") for c in range(cols)))
    )
    return Table(values, tuple(relations))


STATS_TRACKS = ("signaal", "lokaal_preventief", "pga", "zvh")
STATS_WIJKEN = ("Bilgaard", "Vlietzone", "Oud Oost", None)


@st.composite
def stats_populations(draw: st.DrawFn, max_cases: int = 24) -> Any:
    """A request for January–March 2026 (by month or by quarter) and the histories of up to
    `max_cases` cases of fewer young people: opened before or in the range, through random
    tracks, some closed, some never triaged."""
    from broker.figures.counting import CaseHistory
    from broker.figures.periods import AMSTERDAM, StatsRequest

    by = draw(st.sampled_from(["month", "quarter"]))
    last_month = draw(st.integers(min_value=1, max_value=3))
    last = dt.date(2026, last_month + 1, 1) - timedelta(days=1)
    request = StatsRequest(dt.date(2026, 1, 1), last, by)
    origin = datetime(2026, 1, 1, tzinfo=AMSTERDAM)
    span_hours = (last - dt.date(2026, 1, 1)).days * 24 + 24
    hours = st.integers(min_value=-24 * 40, max_value=span_hours)
    count = draw(st.integers(min_value=0, max_value=max_cases))
    people = draw(st.integers(min_value=1, max_value=max(1, count)))
    cases = []
    for _ in range(count):
        opened = origin + timedelta(hours=draw(hours))
        at = opened
        stints = [(opened, "signaal")]
        triaged = None
        for _ in range(draw(st.integers(min_value=0, max_value=3))):
            at += timedelta(hours=draw(st.integers(min_value=0, max_value=24 * 40)))
            track = draw(st.sampled_from(STATS_TRACKS[1:]))
            if track != stints[-1][1]:
                stints.append((at, track))
                triaged = triaged or at
        ended = None
        if draw(st.booleans()):
            ended = at + timedelta(hours=draw(st.integers(min_value=1, max_value=24 * 60)))
        cases.append(
            CaseHistory(
                person=draw(st.integers(min_value=0, max_value=people - 1)),
                opened_at=opened,
                ended_at=ended,
                first_signal_at=opened,
                stints=tuple(stints),
                triaged_at=triaged,
                wijk=draw(st.sampled_from(STATS_WIJKEN)),
            )
        )
    return request, cases


# ---------------------------------------------------------------------------------------------
# web pages: values that must never show up in a page, and must be escaped where shown
# ---------------------------------------------------------------------------------------------

# Letters, digits and the characters HTML escapes; a fixed prefix keeps each one unique enough
# that finding it in a page can only mean it was rendered there (no digits-only runs: a page
# holds numbers of its own).
page_sentinels = st.builds(
    lambda middle: f"Zq{middle}Xw",
    st.text(alphabet=_LOWER + _LOWER.upper() + "<>&\"' ", min_size=6, max_size=24),
)
