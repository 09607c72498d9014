"""Load a convenant: safe YAML, structure checked with Cerberus, then meaning checked."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterable, Mapping
from pathlib import Path as FsPath
from types import MappingProxyType
from typing import Any

from cerberus import Validator

from .compiler import compile_decisions, denied_parts
from .convenant import Convenant
from .errors import ConvenantError, Problem
from .model import (
    Category,
    Effect,
    Field,
    FieldType,
    Generaliser,
    Meta,
    OwnDataRule,
    Party,
    Purpose,
    Retention,
    Role,
    Rule,
    Special,
    Track,
    View,
)
from .schema import CONVENANT_SCHEMA
from .yamlsource import Path, SourceMap, read_yaml

__all__ = ["canonical_hash", "cerberus_problems", "load", "loads"]

_HASH_DOMAIN = b"multiteam-convenant/v1\x00"

# Which field types each generaliser kind and each effect can take.
_GENERALISER_TYPES = {
    "year": {FieldType.DATE},
    "bands": {FieldType.INTEGER},
    "wijk": {FieldType.STRING, FieldType.TEXT, FieldType.POSTCODE},
}
_MASKABLE = {FieldType.STRING, FieldType.TEXT, FieldType.BSN, FieldType.POSTCODE}


def load(path: str | FsPath) -> Convenant:
    """Load and compile the convenant at `path`; raise ConvenantError listing every problem."""
    source = str(path)
    try:
        text = FsPath(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConvenantError([Problem("(file)", f"cannot read: {exc}")], source) from None
    return loads(text, source)


def loads(text: str, source: str = "<string>") -> Convenant:
    """Load and compile a convenant from YAML text."""
    data, smap, problems = read_yaml(text)
    if data is not None and not isinstance(data, dict):
        problems.append(Problem("(document)", "the document must be a mapping"))
        data = None
    if data is None:
        raise ConvenantError(problems, source)
    validator = Validator(CONVENANT_SCHEMA)
    if not validator.validate(data):
        problems.extend(cerberus_problems(validator.errors, smap))
        raise ConvenantError(problems, source)
    checker = _Checker(data, smap)
    convenant = checker.build()
    problems.extend(checker.problems)
    if problems:
        raise ConvenantError(sorted(problems, key=_problem_order), source)
    return convenant


def _problem_order(problem: Problem) -> tuple[int, str]:
    return (problem.line or 0, problem.path)


def cerberus_problems(errors: Mapping[Any, Any], smap: SourceMap, base: Path = ()) -> list[Problem]:
    """Flatten Cerberus' nested error tree into located problems."""
    out: list[Problem] = []
    for key, messages in errors.items():
        path = (*base, key)
        for message in messages:
            if isinstance(message, dict):
                out.extend(cerberus_problems(message, smap, path))
            else:
                out.append(smap.problem(path, str(message)))
    return out


def canonical_hash(document: Mapping[str, Any]) -> str:
    """SHA-256 over a canonical JSON form of the document (comments and layout do not count)."""
    canonical = json.dumps(
        document, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=_json_default
    )
    return "sha256:" + hashlib.sha256(_HASH_DOMAIN + canonical.encode("utf-8")).hexdigest()


def _json_default(value: object) -> str:
    if isinstance(value, dt.date):
        return value.isoformat()
    raise TypeError(f"not canonical: {type(value).__name__}")


class _Checker:
    """Builds the model from a structurally valid document and collects meaning problems."""

    def __init__(self, data: dict[str, Any], smap: SourceMap) -> None:
        self.data = data
        self.smap = smap
        self.problems: list[Problem] = []

    def fail(self, path: Path, message: str) -> None:
        self.problems.append(self.smap.problem(path, message))

    def known(
        self, names: Iterable[str], universe: Mapping[str, object], kind: str, path: Path
    ) -> frozenset[str]:
        """The names, reporting each one that `universe` does not hold."""
        good = set()
        for index, name in enumerate(names):
            if name in universe:
                good.add(name)
            else:
                self.fail((*path, index), f"unknown {kind} {name!r}")
        return frozenset(good)

    def all_or(
        self, value: str | list[str], universe: Mapping[str, object], kind: str, path: Path
    ) -> frozenset[str]:
        if value == "all":
            return frozenset(universe)
        return self.known(value, universe, kind, path)

    def build(self) -> Convenant:
        d = self.data
        meta_doc = d["convenant"]
        meta = Meta(
            meta_doc["id"], meta_doc["title"], meta_doc["version"], meta_doc["effective_date"]
        )
        parties = {
            k: Party(k, v["name"], v["regime"], v["legal_basis"]) for k, v in d["parties"].items()
        }
        roles = {
            k: Role(
                k,
                v["description"],
                self.all_or(v["parties"], parties, "party", ("roles", k, "parties")),
            )
            for k, v in d["roles"].items()
        }
        purposes = {
            k: Purpose(
                k,
                v["description"],
                v["legal_basis"],
                self.known(v["roles"], roles, "role", ("purposes", k, "roles")),
                View(v["view"]),
            )
            for k, v in d["purposes"].items()
        }
        tracks = {
            k: Track(
                k,
                v["description"],
                self.known(v["case_team"], parties, "party", ("tracks", k, "case_team")),
            )
            for k, v in d["tracks"].items()
        }
        initial = [k for k, v in d["tracks"].items() if v.get("initial")]
        if len(initial) != 1:
            self.fail(
                ("tracks",),
                "exactly one track must be marked `initial: true` "
                f"(where new cases start); found {len(initial)}",
            )
        generalisers = self.generalisers(d.get("generalisers") or {})
        categories, fields = self.categories(d["categories"], parties)
        own = d.get("own_data")
        own_data = OwnDataRule(own["id"], own["legal_basis"], own["explanation"]) if own else None
        ret = d["retention"]
        retention = Retention(
            ret["untriaged_signal"]["months"],
            ret["closed_case"]["years"],
            ret["age_limit"]["years"],
            ret["audit_record"]["years"],
        )
        rules = self.rules(
            d["rules"], parties, roles, purposes, tracks, categories, fields, generalisers
        )
        if own_data and any(r.id == own_data.id for r in rules):
            self.fail(("own_data", "id"), f"rule id {own_data.id!r} is also used by a rule")
        convenant = Convenant(
            meta=meta,
            hash=canonical_hash(d),
            parties=MappingProxyType(parties),
            roles=MappingProxyType(roles),
            purposes=MappingProxyType(purposes),
            tracks=MappingProxyType(tracks),
            initial_track=initial[0] if len(initial) == 1 else "",
            generalisers=MappingProxyType(generalisers),
            categories=MappingProxyType(categories),
            fields=MappingProxyType(fields),
            own_data=own_data,
            retention=retention,
            rules=tuple(rules),
            document=MappingProxyType(d),
        )
        if self.problems:
            return convenant
        decisions, compile_problems = compile_decisions(convenant)
        for path, message in compile_problems:
            self.fail(path, message)
        object.__setattr__(convenant, "decisions", MappingProxyType(decisions))
        object.__setattr__(convenant, "denied", MappingProxyType(denied_parts(convenant)))
        return convenant

    def generalisers(self, doc: Mapping[str, Any]) -> dict[str, Generaliser]:
        out = {}
        for name, g in doc.items():
            path: Path = ("generalisers", name)
            params: dict[str, Any] = {}
            if g["kind"] == "bands":
                params["bands"] = self.bands(g.get("bands"), (*path, "bands"))
            elif g.get("bands") is not None:
                self.fail((*path, "bands"), "only a generaliser of kind 'bands' has bands")
            if g["kind"] == "wijk":
                if "keep" not in g:
                    self.fail(path, "a generaliser of kind 'wijk' names the field to `keep`")
                params["keep"] = g.get("keep", "")
            elif "keep" in g:
                self.fail((*path, "keep"), "only a generaliser of kind 'wijk' has `keep`")
            out[name] = Generaliser(name, g["kind"], g["explanation"], MappingProxyType(params))
        return out

    def bands(
        self, doc: list[dict[str, Any]] | None, path: Path
    ) -> tuple[tuple[int | None, str], ...]:
        if not doc:
            self.fail(path, "a generaliser of kind 'bands' needs at least one band")
            return ()
        out: list[tuple[int | None, str]] = []
        previous: int | None = None
        for index, band in enumerate(doc):
            upper = band.get("max")
            last = index == len(doc) - 1
            if upper is None and not last:
                self.fail((*path, index), "only the last band may be open-ended (no max)")
            if upper is not None and previous is not None and upper <= previous:
                self.fail((*path, index, "max"), "band limits must increase")
            if upper is None and last:
                pass
            elif last:
                self.fail(
                    (*path, index),
                    "the last band must be open-ended (no max), so every value falls in a band",
                )
            previous = upper if upper is not None else previous
            out.append((upper, band["label"]))
        return tuple(out)

    def categories(
        self, doc: Mapping[str, Any], parties: Mapping[str, Party]
    ) -> tuple[dict[str, Category], dict[str, Field]]:
        categories: dict[str, Category] = {}
        fields: dict[str, Field] = {}
        for cname, c in doc.items():
            path: Path = ("categories", cname)
            suppliers = self.all_or(c["suppliers"], parties, "party", (*path, "suppliers"))
            special = Special(c["special"]) if c.get("special") else None
            for fname, f in c["fields"].items():
                if fname in fields:
                    self.fail(
                        (*path, "fields", fname),
                        f"field {fname!r} is already in category {fields[fname].category!r}",
                    )
                    continue
                if fname in doc:
                    self.fail(
                        (*path, "fields", fname),
                        f"field {fname!r} has the name of a category; names must differ",
                    )
                constraints = {k: f[k] for k in ("allowed", "min", "max", "maxlength") if k in f}
                fields[fname] = Field(
                    fname,
                    cname,
                    FieldType(f["type"]),
                    special,
                    suppliers,
                    f.get("description", ""),
                    MappingProxyType(constraints),
                )
            categories[cname] = Category(
                cname, c["description"], special, suppliers, tuple(c["fields"])
            )
        return categories, fields

    def rules(
        self,
        doc: list[dict[str, Any]],
        parties: Mapping[str, Party],
        roles: Mapping[str, Role],
        purposes: Mapping[str, Purpose],
        tracks: Mapping[str, Track],
        categories: Mapping[str, Category],
        fields: Mapping[str, Field],
        generalisers: Mapping[str, Generaliser],
    ) -> list[Rule]:
        out: list[Rule] = []
        seen: dict[str, int] = {}
        targets_universe = {**categories, **fields}
        for index, r in enumerate(doc):
            path: Path = ("rules", index)
            if r["id"] in seen:
                self.fail(
                    (*path, "id"), f"rule id {r['id']!r} is already used by rules[{seen[r['id']]}]"
                )
            seen.setdefault(r["id"], index)
            effect = Effect(r["effect"])
            rule = Rule(
                id=r["id"],
                index=index,
                tracks=self.known(r["tracks"], tracks, "track", (*path, "tracks")),
                parties=self.known(r["parties"], parties, "party", (*path, "parties")),
                roles=self.known(r["roles"], roles, "role", (*path, "roles")),
                purposes=self.known(r["purposes"], purposes, "purpose", (*path, "purposes")),
                effect=effect,
                targets=tuple(t for t in r["targets"] if t in targets_universe),
                legal_basis=r["legal_basis"],
                explanation=r["explanation"],
                special_basis=MappingProxyType(dict(r.get("special_basis") or {})),
                generaliser=r.get("generaliser"),
                keep_last=r.get("keep_last"),
            )
            self.known(r["targets"], targets_universe, "category or field", (*path, "targets"))
            self.check_effect(rule, path, fields, categories, generalisers)
            self.check_special(rule, path, fields, categories)
            out.append(rule)
        return out

    def check_effect(
        self,
        rule: Rule,
        path: Path,
        fields: Mapping[str, Field],
        categories: Mapping[str, Category],
        generalisers: Mapping[str, Generaliser],
    ) -> None:
        targets = _expand(rule.targets, fields, categories)
        if rule.effect is Effect.GENERALISE:
            if rule.generaliser is None:
                self.fail(path, "effect 'generalise' needs a `generaliser`")
            elif rule.generaliser not in generalisers:
                self.fail((*path, "generaliser"), f"unknown generaliser {rule.generaliser!r}")
            else:
                g = generalisers[rule.generaliser]
                for name in targets:
                    if fields[name].type not in _GENERALISER_TYPES[g.kind] and not (
                        g.kind == "wijk" and name == g.params.get("keep")
                    ):
                        self.fail(
                            (*path, "targets"),
                            f"generaliser {g.name!r} ({g.kind}) cannot "
                            f"generalise field {name!r} of type {fields[name].type}",
                        )
                if g.kind == "wijk" and g.params.get("keep") not in fields:
                    self.fail(
                        ("generalisers", g.name, "keep"), f"unknown field {g.params.get('keep')!r}"
                    )
        elif rule.generaliser is not None:
            self.fail((*path, "generaliser"), "only effect 'generalise' takes a generaliser")
        if rule.effect is Effect.MASK:
            if rule.keep_last is None:
                self.fail(
                    path, "effect 'mask' needs `keep_last` (how many characters stay readable)"
                )
            for name in targets:
                if fields[name].type not in _MASKABLE:
                    self.fail(
                        (*path, "targets"),
                        f"field {name!r} of type {fields[name].type} cannot be masked",
                    )
        elif rule.keep_last is not None:
            self.fail((*path, "keep_last"), "only effect 'mask' takes keep_last")

    def check_special(
        self,
        rule: Rule,
        path: Path,
        fields: Mapping[str, Field],
        categories: Mapping[str, Category],
    ) -> None:
        if rule.effect is Effect.WITHHOLD:
            if rule.special_basis:
                self.fail((*path, "special_basis"), "a withholding rule needs no special basis")
            return
        needed: dict[Special, list[str]] = {}
        for name in _expand(rule.targets, fields, categories):
            special = fields[name].special
            if special is not None:
                needed.setdefault(special, []).append(name)
        for special, names in needed.items():
            if special.value not in rule.special_basis:
                kind = (
                    "health data (AVG art. 9)"
                    if special is Special.ART9
                    else "criminal data (AVG art. 10)"
                )
                self.fail(
                    path,
                    f"discloses {kind} ({', '.join(names)}) without a legal basis "
                    f"for it: add special_basis.{special.value}",
                )
        for article in rule.special_basis:
            if Special(article) not in needed:
                self.fail(
                    (*path, "special_basis", article),
                    f"the rule discloses no {article} field; this basis applies to nothing",
                )


def _expand(
    targets: Iterable[str], fields: Mapping[str, Field], categories: Mapping[str, Category]
) -> list[str]:
    out: list[str] = []
    for target in targets:
        if target in categories:
            out.extend(categories[target].fields)
        elif target in fields:
            out.append(target)
    return out
