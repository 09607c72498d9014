"""Convenant test suites in YAML: expected effects per field for (party, role, purpose, track)."""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path as FsPath
from typing import Any

from cerberus import Validator

from .convenant import Convenant
from .engine import decide
from .errors import Problem, SuiteError
from .loader import cerberus_problems
from .schema import SUITE_SCHEMA
from .yamlsource import read_yaml

__all__ = ["Failure", "Suite", "SuiteResult", "load_suite", "loads_suite", "run_suite"]


@dataclass(frozen=True, slots=True)
class Suite:
    """A parsed test suite and the convenant path it names (relative to the suite)."""

    name: str
    convenant_path: FsPath | None
    tests: tuple[Mapping[str, Any], ...]


@dataclass(frozen=True, slots=True)
class Failure:
    """One expectation that the convenant does not meet."""

    test: str
    request: tuple[str, str, str, str]
    field: str | None
    expected: str
    actual: str

    def __str__(self) -> str:
        party, role, purpose, track = self.request
        where = f"party={party} role={role} purpose={purpose} track={track}"
        subject = f"field {self.field}" if self.field else "access"
        return f"{self.test} [{where}]: {subject}: expected {self.expected}, got {self.actual}"


@dataclass(frozen=True, slots=True)
class SuiteResult:
    """What running a suite found."""

    suite: str
    tests: int
    requests: int
    checks: int
    failures: tuple[Failure, ...]

    @property
    def passed(self) -> bool:
        """Whether every check held."""
        return not self.failures


def load_suite(path: str | FsPath) -> Suite:
    """Read and validate a suite file."""
    try:
        text = FsPath(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise SuiteError([Problem("(file)", f"cannot read: {exc}")], str(path)) from None
    return loads_suite(text, str(path), FsPath(path).parent)


def loads_suite(text: str, source: str = "<string>", base: FsPath | None = None) -> Suite:
    """Parse and validate a suite from YAML text."""
    data, smap, problems = read_yaml(text)
    if data is not None and not isinstance(data, dict):
        problems.append(Problem("(document)", "the suite must be a mapping"))
    elif data is not None:
        validator = Validator(SUITE_SCHEMA)
        if not validator.validate(data):
            problems.extend(cerberus_problems(validator.errors, smap))
        tests = data.get("tests")
        for index, test in enumerate(tests if isinstance(tests, list) else []):
            if isinstance(test, dict) and not test.keys() & {"denied", "expect", "otherwise"}:
                problems.append(
                    smap.problem(("tests", index), "a test needs `expect`, `otherwise` or `denied`")
                )
    if problems or data is None:
        raise SuiteError(problems, source)
    relative = data.get("convenant")
    convenant_path = (base or FsPath(".")) / relative if relative else None
    return Suite(data["name"], convenant_path, tuple(data["tests"]))


def _expected_effects(
    c: Convenant, test: Mapping[str, Any], name: str
) -> tuple[dict[str, str], list[Failure]]:
    """Field → expected effect; field-level entries beat category-level ones."""
    expected: dict[str, str] = {}
    problems: list[Failure] = []
    expect = test.get("expect") or {}
    for key, effect in expect.items():
        if key in c.categories:
            for field in c.categories[key].fields:
                expected.setdefault(field, effect)
        elif key not in c.fields:
            problems.append(
                Failure(
                    name,
                    ("", "", "", ""),
                    key,
                    "a field or category",
                    "a name the convenant does not know",
                )
            )
    for key, effect in expect.items():
        if key in c.fields:
            expected[key] = effect
    otherwise = test.get("otherwise")
    if otherwise:
        for field in c.fields:
            expected.setdefault(field, otherwise)
    return expected, problems


def run_suite(c: Convenant, suite: Suite) -> SuiteResult:
    """Run every test of the suite against the convenant."""
    failures: list[Failure] = []
    requests = checks = 0
    for test in suite.tests:
        name = test["name"]
        req = test["request"]
        expected, problems = _expected_effects(c, test, name)
        failures.extend(problems)
        for party, role, purpose, track in itertools.product(
            req["parties"], req["roles"], req["purposes"], req["tracks"]
        ):
            requests += 1
            key = (str(party), str(role), str(purpose), str(track))
            decision = decide(c, *key)
            denied = test.get("denied")
            checks += 1
            if denied is not None:
                if decision.denial != denied:
                    failures.append(
                        Failure(
                            name,
                            key,
                            None,
                            f"denied ({denied})",
                            f"denied ({decision.denial})" if decision.denial else "allowed",
                        )
                    )
                continue
            if decision.denial is not None:
                failures.append(Failure(name, key, None, "allowed", f"denied ({decision.denial})"))
                continue
            for field, effect in expected.items():
                checks += 1
                actual = decision.fields[field].effect.value
                if actual != effect:
                    failures.append(
                        Failure(
                            name,
                            key,
                            field,
                            effect,
                            f"{actual} (rule {decision.fields[field].rule_id})",
                        )
                    )
    return SuiteResult(suite.name, len(suite.tests), requests, checks, tuple(failures))
