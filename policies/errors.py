"""Errors of the convenant engine: values that know their code and description, no framework."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["ConvenantError", "Problem", "SuiteError"]


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with a convenant document, located by path (and line where known)."""

    path: str
    message: str
    line: int | None = None

    def __str__(self) -> str:
        where = f"{self.path} (line {self.line})" if self.line else self.path
        return f"{where}: {self.message}"


class ConvenantError(Exception):
    """A convenant (or a suite) that cannot be loaded; lists every problem found."""

    code = "convenant_invalid"
    status_code = 422

    def __init__(self, problems: list[Problem], source: str = "<string>") -> None:
        self.problems = tuple(problems)
        self.source = source
        self.description = f"{source}: {len(self.problems)} problem(s) in the convenant"
        super().__init__(self.description + "".join(f"\n  - {p}" for p in self.problems))


class SuiteError(ConvenantError):
    """A convenant test suite that is malformed."""

    code = "suite_invalid"

    def __init__(self, problems: list[Problem], source: str = "<string>") -> None:
        super().__init__(problems, source)
        self.description = f"{source}: {len(self.problems)} problem(s) in the test suite"
