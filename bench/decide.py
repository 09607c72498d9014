"""Bench: decide + apply for one requester on a 35-field case, beside pycasbin and Cedar.

Run with `python bench/decide.py` (add `--quick` for a smoke run). All three implementations
get the same per-field rules — the baselines' policies are generated from the compiled
convenant — and must produce the same view before anything is timed.
"""

from __future__ import annotations

import argparse
import copy
import gc
import importlib.metadata
import platform
import statistics
import sys
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import cedarpy
import yaml
from casbin import Enforcer  # type: ignore[import-untyped]
from casbin.model import Model  # type: ignore[import-untyped]
from casbin.persist.adapters import StringAdapter  # type: ignore[import-untyped]

import policies
from policies import Convenant, Effect
from policies.transforms import Transform, TransformError, bands, mask, year

__all__ = [
    "CHECKED",
    "REQUESTER",
    "CasbinBaseline",
    "CedarBaseline",
    "Cell",
    "Outcome",
    "Setup",
    "agreement_problems",
    "build",
    "case_record",
    "cells_of",
    "check_agreement",
    "effects_covered",
    "extended_document",
    "main",
    "outcome_of",
    "scaled_document",
]

DEFAULT_CONVENANT = Path(__file__).resolve().parents[1] / "convenant.yaml"

# The requester whose case view is timed: a police case worker in a PGA case conference.
REQUESTER = ("politie", "case_worker", "casusoverleg", "pga")

# Requesters whose views must agree across the three implementations before timing; between
# them they cover show, mask, both generalisers, the wijk reduction, withhold, a DAT view, a
# purpose without case content and a party that is not on the case team.
CHECKED = (
    REQUESTER,
    ("gemeente", "coordinator", "uitvoering", "lokaal_preventief"),
    ("gemeente", "coordinator", "triage", "signaal"),
    ("school", "case_worker", "casusoverleg", "lokaal_preventief"),
    ("woningcorporatie", "case_worker", "uitvoering", "pga"),
    ("jeugdhulp", "case_worker", "uitvoering", "zvh"),
    ("gemeente", "privacy_officer", "toezicht", "pga"),
    ("school", "case_worker", "casusoverleg", "zvh"),
)

SCALE = 10
SCALED_GROUP = 5  # which clone group's copy of REQUESTER is timed in the scaled convenant

EXTRA_CATEGORY = "leisure"
# The five fields added to the default 30: type, description and the bench case's value.
EXTRA_FIELDS: Mapping[str, tuple[str, str, Any]] = {
    "sports_club": ("string", "Sportvereniging", "v.v. Leeuwarder Zwaluwen"),
    "youth_work_contact": ("boolean", "Contact met het jongerenwerk", True),
    "leisure_concerns": (
        "text",
        "Zorgen over de vrijetijdsbesteding",
        "Hangt 's avonds rond bij het winkelcentrum met oudere jongeren.",
    ),
    "weekly_sport_hours": ("integer", "Uren sport per week", 4),
    "mentor_name": ("string", "Naam van het maatje of de mentor", "J. Bakker"),
}

# A realistic value for every field of the default convenant.
CASE_VALUES: Mapping[str, Any] = {
    "bsn": "123456782",
    "surname": "de Vries",
    "given_names": "Sem Johannes",
    "birth_date": "2009-03-14",
    "street": "Valeriusstraat",
    "house_number": "12a",
    "postcode": "8923 CK",
    "city": "Leeuwarden",
    "wijk": "Camminghaburen",
    "guardian_name": "M. de Vries-Hoekstra",
    "phone": "06-12345678",
    "school_name": "Piter Jelles Montessori",
    "attendance_problem": True,
    "dropout_risk": False,
    "household": "Moeder, de jongere en twee jongere zussen.",
    "custody": "Moeder",
    "family_concerns": "Moeder is overbelast; vader is uit beeld.",
    "incident_count": 4,
    "incidents_summary": "Twee winkeldiefstallen en twee keer vernieling in de wijk.",
    "suspect": True,
    "pending_case": False,
    "halt_outcome": "Afgerond, positief",
    "youth_probation": False,
    "care_involved": True,
    "mental_health_care": False,
    "care_details": "Ambulante gezinsbegeleiding sinds september.",
    "debts": True,
    "debt_details": "Huurachterstand van drie maanden.",
    "nuisance_reports": 3,
    "eviction_risk": False,
}

CASBIN_MODEL = """
[request_definition]
r = sub, obj

[policy_definition]
p = sub, obj, how, arg

[policy_effect]
e = some(where (p.eft == allow))

[matchers]
m = r.sub == p.sub && r.obj == p.obj
"""

NO_ARG = "-"
CEDAR_READ = 'Action::"read"'


@dataclass(frozen=True, slots=True)
class Iterations:
    """How many timed calls (and untimed warm-up calls) each measurement makes."""

    ours: int
    casbin: int
    cedar: int
    warmup_ours: int
    warmup_baseline: int
    rounds: int


FULL = Iterations(
    ours=20_000, casbin=300, cedar=500, warmup_ours=2_000, warmup_baseline=20, rounds=10
)
QUICK = Iterations(ours=2_000, casbin=10, cedar=20, warmup_ours=200, warmup_baseline=2, rounds=4)


@dataclass(frozen=True, slots=True)
class Cell:
    """One disclosed (requester, field) cell of the compiled convenant, as the baselines get it."""

    requester: str
    field: str
    how: str  # show, mask or generalise
    arg: str  # keep_last for mask, the generaliser for generalise, NO_ARG for show


class Outcome(NamedTuple):
    """What a requester gets of the case, in a form all three implementations produce."""

    fields: dict[str, Any]
    disclosed: dict[str, str]
    withheld: tuple[str, ...]


# Per field: None when withheld, else the effect's name and the transform to apply (if any).
Verdict = tuple[str, Transform | None] | None


def requester_id(key: Sequence[str]) -> str:
    """The baselines' name for a requester: 'party/role/purpose/track'."""
    return "/".join(key)


def dump(document: Mapping[str, Any]) -> str:
    """A convenant document as YAML text for `policies.loads`."""
    return yaml.safe_dump(dict(document), sort_keys=False, allow_unicode=True)


def extended_document(path: Path) -> dict[str, Any]:
    """The convenant at `path` plus a five-field category and one rule that discloses it."""
    document: dict[str, Any] = yaml.safe_load(path.read_text(encoding="utf-8"))
    document["categories"][EXTRA_CATEGORY] = {
        "description": "Vrije tijd",
        "suppliers": ["gemeente", "jeugdhulp"],
        "fields": {
            name: {"type": kind, "description": description}
            for name, (kind, description, _value) in EXTRA_FIELDS.items()
        },
    }
    document["rules"].append(
        {
            "id": "VT-DEELNEMERS",
            "tracks": ["lokaal_preventief", "pga", "zvh"],
            "parties": ["politie", "jeugdhulp", "school"],
            "roles": ["case_worker"],
            "purposes": ["casusoverleg", "uitvoering"],
            "effect": "show",
            "targets": [EXTRA_CATEGORY],
            "legal_basis": "AVG art. 6 lid 1 sub e; convenant art. 6",
            "explanation": "Wie met de jongere werkt, ziet hoe de vrije tijd wordt besteed.",
        }
    )
    return document


def scaled_document(document: Mapping[str, Any], factor: int) -> dict[str, Any]:
    """`document` with each party cloned `factor` times (p0, p1, …), each rule once per clone."""

    def clone(group: int, party: str) -> str:
        """The id of `party`'s copy in clone group `group`."""
        return clone_of(document, group, party)

    def all_clones(parties: str | list[str]) -> str | list[str]:
        """Every copy of every party named ('all' stays 'all')."""
        if parties == "all":
            return "all"
        return [clone(group, party) for group in range(factor) for party in parties]

    def group_clones(group: int, parties: str | list[str]) -> str | list[str]:
        """The copies in one clone group of the parties named ('all' stays 'all')."""
        return "all" if parties == "all" else [clone(group, party) for party in parties]

    scaled = copy.deepcopy(dict(document))
    scaled["parties"] = {
        clone(group, party): {**spec, "name": f"{spec['name']} (kloon {group})"}
        for group in range(factor)
        for party, spec in document["parties"].items()
    }
    for role in scaled["roles"].values():
        role["parties"] = all_clones(role["parties"])
    for track in scaled["tracks"].values():
        track["case_team"] = all_clones(track["case_team"])
    for category in scaled["categories"].values():
        category["suppliers"] = all_clones(category["suppliers"])
    scaled["rules"] = [
        {
            **copy.deepcopy(rule),
            "id": f"{rule['id']}-{group}",
            "parties": group_clones(group, rule["parties"]),
        }
        for group in range(factor)
        for rule in document["rules"]
    ]
    return scaled


def clone_of(document: Mapping[str, Any], group: int, party: str) -> str:
    """The id that `scaled_document` gives `party`'s copy in clone group `group`."""
    originals = list(document["parties"])
    return f"p{group * len(originals) + originals.index(party)}"


def case_record(c: Convenant) -> dict[str, Any]:
    """A case with a realistic value in every field of `c`."""
    values = {**CASE_VALUES, **{name: spec[2] for name, spec in EXTRA_FIELDS.items()}}
    missing = [name for name in c.fields if name not in values]
    if missing:
        raise ValueError(f"the bench has no case value for field(s) {', '.join(missing)}")
    return {name: values[name] for name in c.fields}


def cells_of(c: Convenant) -> list[Cell]:
    """Every disclosed cell of every compiled decision: the same per-field rules, flattened."""
    cells: list[Cell] = []
    for key, decision in c.decisions.items():
        for fd in decision.fields.values():
            if fd.effect is Effect.WITHHOLD:
                continue
            if fd.effect is Effect.SHOW:
                arg = NO_ARG
            elif fd.effect is Effect.MASK:
                arg = str(fd.keep_last)
            elif fd.effect is Effect.GENERALISE and fd.generaliser:
                arg = fd.generaliser
            else:
                raise ValueError(f"the bench does not model {fd.describe()} ({fd.rule_id})")
            cells.append(Cell(requester_id(key), fd.field, fd.effect.value, arg))
    return cells


def transform_for(c: Convenant, how: str, arg: str) -> Transform | None:
    """The value transform a baseline applies for an effect and its argument."""
    if how == Effect.SHOW:
        return None
    if how == Effect.MASK:
        return mask(int(arg))
    generaliser = c.generalisers[arg]
    if generaliser.kind == "year":
        return year
    if generaliser.kind == "bands":
        return bands(generaliser.params["bands"])
    raise ValueError(f"the bench does not model generaliser {arg!r} ({generaliser.kind})")


def transform_record(
    names: Iterable[str], verdicts: Iterable[Verdict], record: Mapping[str, Any]
) -> Outcome:
    """Apply per-field verdicts to a case the way `policies.apply` does (without own data)."""
    values: dict[str, Any] = {}
    disclosed: dict[str, str] = {}
    withheld: list[str] = []
    for name, verdict in zip(names, verdicts, strict=True):
        if verdict is None:
            withheld.append(name)
            continue
        value = record.get(name)
        if value is None:
            continue
        how, transform = verdict
        if transform is not None:
            try:
                value = transform(value, None)
            except TransformError:
                withheld.append(name)
                continue
        values[name] = value
        disclosed[name] = how
    return Outcome(values, disclosed, tuple(withheld))


class CasbinBaseline:
    """pycasbin: one `enforce_ex` per field; the matched policy line names the transform."""

    def __init__(self, c: Convenant, cells: Sequence[Cell]) -> None:
        """Build an in-memory Enforcer whose policy has one line per disclosed cell."""
        model = Model()
        model.load_model_from_text(CASBIN_MODEL)
        lines = "\n".join(f"p, {x.requester}, {x.field}, {x.how}, {x.arg}" for x in cells)
        self.enforcer = Enforcer(model, StringAdapter(lines))
        self.fields = tuple(c.fields)
        self.transforms = {(x.how, x.arg): transform_for(c, x.how, x.arg) for x in cells}

    def verdicts(self, requester: str) -> list[Verdict]:
        """Per field of the case, what the enforcer allows this requester."""
        enforce = self.enforcer.enforce_ex
        out: list[Verdict] = []
        for name in self.fields:
            allowed, line = enforce(requester, name)
            out.append((line[2], self.transforms[line[2], line[3]]) if allowed else None)
        return out

    def view(self, requester: str, record: Mapping[str, Any]) -> Outcome:
        """Decide every field with casbin, then transform the case's values."""
        return transform_record(self.fields, self.verdicts(requester), record)


class CedarBaseline:
    """Cedar via cedarpy: a pre-parsed PolicySet and one batch of per-field requests."""

    def __init__(self, c: Convenant, cells: Sequence[Cell]) -> None:
        """Parse one `permit` per disclosed cell; Cedar names them policy0, policy1, … in order."""
        statements = [
            f"permit(principal == Requester::{_cedar_string(x.requester)}, "
            f"action == {CEDAR_READ}, resource == Field::{_cedar_string(x.field)});"
            for x in cells
        ]
        transforms = {(x.how, x.arg): transform_for(c, x.how, x.arg) for x in cells}
        self.verdict_of: dict[str, Verdict] = {
            f"policy{index}": (x.how, transforms[x.how, x.arg]) for index, x in enumerate(cells)
        }
        self.policy_set = cedarpy.PolicySet.from_str("\n".join(statements))
        self.entities = cedarpy.Entities.from_json_str("[]")
        self.fields = tuple(c.fields)
        self.resources = tuple(f"Field::{_cedar_string(name)}" for name in self.fields)

    def verdicts(self, requester: str) -> list[Verdict]:
        """Per field of the case, what Cedar allows this requester, in one batch call."""
        principal = f"Requester::{_cedar_string(requester)}"
        requests = [
            {"principal": principal, "action": CEDAR_READ, "resource": resource}
            for resource in self.resources
        ]
        results = cedarpy.is_authorized_batch(requests, self.policy_set, self.entities)
        return [
            self.verdict_of[result.diagnostics.reasons[0]] if result.allowed else None
            for result in results
        ]

    def view(self, requester: str, record: Mapping[str, Any]) -> Outcome:
        """Decide every field with Cedar, then transform the case's values."""
        return transform_record(self.fields, self.verdicts(requester), record)


def _cedar_string(text: str) -> str:
    """A Cedar string literal for a plain name (the bench's names need no escapes)."""
    if '"' in text or "\\" in text:
        raise ValueError(f"name {text!r} needs escaping in Cedar")
    return f'"{text}"'


def outcome_of(view: policies.CaseView) -> Outcome:
    """The comparable part of the engine's CaseView."""
    return Outcome(dict(view.fields), dict(view.disclosed), tuple(w.field for w in view.withheld))


def check_agreement(
    ours: Callable[[tuple[str, str, str, str]], Outcome],
    others: Mapping[str, Callable[[tuple[str, str, str, str]], Outcome]],
    requesters: Iterable[tuple[str, str, str, str]],
) -> list[str]:
    """Every difference between our view and each other implementation's, one line each."""
    problems: list[str] = []
    for key in requesters:
        expected = ours(key)
        for name, view in others.items():
            got = view(key)
            for part in Outcome._fields:
                mine, theirs = getattr(expected, part), getattr(got, part)
                if mine != theirs:
                    problems.append(
                        f"{name} differs from the convenant engine for "
                        f"{requester_id(key)} in `{part}`: {_difference(mine, theirs)}"
                    )
    return problems


def _difference(mine: Any, theirs: Any) -> str:
    """Which field names differ between two parts of an Outcome (never their values)."""
    if isinstance(mine, dict) and isinstance(theirs, dict):
        names = sorted(k for k in mine.keys() | theirs.keys() if mine.get(k) != theirs.get(k))
    else:
        names = sorted(set(mine) ^ set(theirs)) or ["(order)"]
    return ", ".join(names)


def effects_covered(c: Convenant, requesters: Iterable[tuple[str, str, str, str]]) -> list[str]:
    """The distinct effects (as 'mask(3)', 'generalise(…)', …) the checked requesters meet."""
    return sorted(
        {fd.describe() for key in requesters for fd in policies.decide(c, *key).fields.values()}
    )


def sample(call: Callable[[], object], iterations: int, warmup: int) -> list[int]:
    """Per-call durations in ns of `call`, after `warmup` untimed calls, with gc off."""
    for _ in range(warmup):
        call()
    clock = time.perf_counter_ns
    durations = [0] * iterations
    was_enabled = gc.isenabled()
    gc.collect()
    gc.disable()
    try:
        for index in range(iterations):
            start = clock()
            call()
            durations[index] = clock() - start
    finally:
        if was_enabled:
            gc.enable()
    return durations


def sample_alternating(
    calls: Sequence[Callable[[], object]], iterations: int, warmup: int, rounds: int
) -> list[list[int]]:
    """Per-call durations of each call, taken in alternating rounds so drift hits all alike."""
    out: list[list[int]] = [[] for _ in calls]
    per_round = max(iterations // rounds, 1)
    for _ in range(rounds):
        for durations, call in zip(out, calls, strict=True):
            durations.extend(sample(call, per_round, warmup))
    return out


class Figures(NamedTuple):
    """Median and 99th percentile of a sample, in µs."""

    median: float
    p99: float
    n: int


def figures(durations: Sequence[int]) -> Figures:
    """Median and p99 in µs of durations in ns."""
    ordered = sorted(durations)
    p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
    return Figures(statistics.median(ordered) / 1000, p99 / 1000, len(ordered))


def verdict_line(target: str, measured: str, met: bool) -> str:
    """One line of the targets table."""
    return f"  {target:<40} {measured:>14}   {'met' if met else 'NOT MET'}"


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """The command line: --quick and --convenant."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--quick", action="store_true", help="few iterations: a smoke run whose figures are rough"
    )
    parser.add_argument(
        "--convenant",
        type=Path,
        default=DEFAULT_CONVENANT,
        help="the convenant to extend to 35 fields (default: convenant.yaml)",
    )
    return parser.parse_args(argv)


@dataclass(frozen=True)
class Setup:
    """The 35-field and 10x convenants, the case, and the two baselines built from the former."""

    document: dict[str, Any]
    c: Convenant
    big: Convenant
    record: dict[str, Any]
    cells: list[Cell]
    casbin: CasbinBaseline
    cedar: CedarBaseline


def build(path: Path = DEFAULT_CONVENANT) -> Setup:
    """Extend the convenant at `path` to 35 fields, scale it 10x, and build both baselines."""
    document = extended_document(path)
    c = policies.loads(dump(document), "35-field convenant")
    big = policies.loads(dump(scaled_document(document, SCALE)), f"{SCALE}x convenant")
    cells = cells_of(c)
    return Setup(
        document, c, big, case_record(c), cells, CasbinBaseline(c, cells), CedarBaseline(c, cells)
    )


def scaled_key(setup: Setup, key: tuple[str, str, str, str]) -> tuple[str, str, str, str]:
    """The 10x convenant's copy of a requester of the 35-field one."""
    party, role, purpose, track = key
    return (clone_of(setup.document, SCALED_GROUP, party), role, purpose, track)


def agreement_problems(
    setup: Setup, requesters: Iterable[tuple[str, str, str, str]] = CHECKED
) -> list[str]:
    """Where pycasbin, Cedar or the 10x convenant give a view the engine does not."""
    record = setup.record

    def ours(key: tuple[str, str, str, str]) -> Outcome:
        """The engine's view for a requester of the 35-field convenant."""
        return outcome_of(policies.apply(policies.decide(setup.c, *key), record))

    def scaled(key: tuple[str, str, str, str]) -> Outcome:
        """The engine's view for the same requester's copy in the 10x convenant."""
        return outcome_of(
            policies.apply(policies.decide(setup.big, *scaled_key(setup, key)), record)
        )

    return check_agreement(
        ours,
        {
            "pycasbin": lambda key: setup.casbin.view(requester_id(key), record),
            "Cedar": lambda key: setup.cedar.view(requester_id(key), record),
            f"the {SCALE}x convenant": scaled,
        },
        requesters,
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Check the three implementations agree, then time them and print the figures."""
    args = parse_args(argv)
    plan = QUICK if args.quick else FULL
    setup = build(args.convenant)
    c, big, record = setup.c, setup.big, setup.record
    problems = agreement_problems(setup)
    if problems:
        print(
            "ABORTED: the implementations do not produce the same views, so timing them "
            "would compare different work:",
            file=sys.stderr,
        )
        for problem in problems:
            print(f"  - {problem}", file=sys.stderr)
        return 1

    party, role, purpose, track = REQUESTER
    big_party = scaled_key(setup, REQUESTER)[0]
    decision = policies.decide(c, *REQUESTER)
    timed = requester_id(REQUESTER)
    print(
        f"decide + apply for one requester on a {len(c.fields)}-field case"
        f"{'  [--quick: few iterations, rough figures]' if args.quick else ''}"
    )
    print(
        f"  Python {platform.python_version()}, pycasbin {_version('casbin')}, "
        f"cedarpy {_version('cedarpy')}; gc off while timing; one perf_counter_ns per call"
    )
    print(
        f"  requester {timed}: {len(decision.plan)} fields disclosed, "
        f"{len(decision.withheld)} withheld"
    )
    print(
        f"  views agree for {len(CHECKED)} requesters across the engine, pycasbin, Cedar and "
        f"the {SCALE}x convenant"
    )
    print(f"    (effects met: {', '.join(effects_covered(c, CHECKED))})")
    print(
        f"  baselines get the compiled per-field rules: {len(setup.cells)} casbin policy "
        f"lines, {len(setup.cells)} Cedar permits"
    )
    print()

    ours_figures = figures(
        sample(
            lambda: policies.apply(policies.decide(c, party, role, purpose, track), record),
            plan.ours,
            plan.warmup_ours,
        )
    )
    casbin_figures = figures(
        sample(lambda: setup.casbin.view(timed, record), plan.casbin, plan.warmup_baseline)
    )
    cedar_figures = figures(
        sample(lambda: setup.cedar.view(timed, record), plan.cedar, plan.warmup_baseline)
    )
    small, large = sample_alternating(
        [
            lambda: policies.apply(policies.decide(c, party, role, purpose, track), record),
            lambda: policies.apply(policies.decide(big, big_party, role, purpose, track), record),
        ],
        plan.ours,
        plan.warmup_ours // plan.rounds,
        plan.rounds,
    )
    small_figures, large_figures = figures(small), figures(large)

    rows = [
        ("convenant engine (policies.decide + apply)", ours_figures),
        (f"pycasbin Enforcer, {len(c.fields)} x enforce_ex", casbin_figures),
        (f"Cedar, pre-parsed PolicySet, 1 batch of {len(c.fields)}", cedar_figures),
    ]
    print(f"  {'implementation':<46} {'median µs':>10} {'p99 µs':>10} {'calls':>8}")
    for label, f in rows:
        print(f"  {label:<46} {f.median:>10.1f} {f.p99:>10.1f} {f.n:>8}")
    casbin_speedup = casbin_figures.median / ours_figures.median
    cedar_speedup = cedar_figures.median / ours_figures.median
    print(
        f"  speed-up of the engine (median): {casbin_speedup:,.0f}x over pycasbin, "
        f"{cedar_speedup:,.0f}x over Cedar"
    )
    print()

    ratio = large_figures.median / small_figures.median
    print(
        f"  {SCALE}x convenant: {len(big.parties)} parties, {len(big.rules)} rules, "
        f"{len(big.decisions)} decisions (vs {len(c.parties)}, {len(c.rules)}, "
        f"{len(c.decisions)}); same requester, alternating rounds"
    )
    print(
        f"    median {large_figures.median:.1f} µs (p99 {large_figures.p99:.1f}) vs "
        f"{small_figures.median:.1f} µs (p99 {small_figures.p99:.1f}): ratio {ratio:.2f}"
    )
    print()

    print("  targets (from the issue)")
    print(
        verdict_line(
            "median decide + apply <= 20 µs",
            f"{ours_figures.median:.1f} µs",
            ours_figures.median <= 20,
        )
    )
    print(
        verdict_line(
            ">= 100x faster than pycasbin", f"{casbin_speedup:,.0f}x", casbin_speedup >= 100
        )
    )
    print(verdict_line(">= 100x faster than Cedar", f"{cedar_speedup:,.0f}x", cedar_speedup >= 100))
    print(
        verdict_line(
            f"{SCALE}x convenant within 20 % per decision",
            f"ratio {ratio:.2f}",
            abs(ratio - 1) <= 0.20,
        )
    )
    return 0


def _version(distribution: str) -> str:
    """The installed version of a distribution, or '?'."""
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return "?"


if __name__ == "__main__":
    sys.exit(main())
