"""Read YAML safely while remembering where every node stood, so problems can name lines."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import yaml

from .errors import Problem

__all__ = ["Path", "SourceMap", "format_path", "read_yaml"]

Path = tuple[str | int, ...]


def format_path(path: Path) -> str:
    """Render ('rules', 3, 'targets', 1) as 'rules[3].targets[1]'."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out or "(document)"


class SourceMap:
    """Line numbers (1-based) of the nodes of a YAML document, by path."""

    def __init__(self, lines: dict[Path, int]) -> None:
        self._lines = lines

    def line(self, path: Path) -> int | None:
        """The line of the nearest node at or above `path`."""
        for cut in range(len(path), -1, -1):
            line = self._lines.get(path[:cut])
            if line is not None:
                return line
        return None

    def problem(self, path: Path, message: str) -> Problem:
        """A Problem located at `path`."""
        return Problem(format_path(path), message, self.line(path))


def _walk(node: yaml.Node, path: Path) -> Iterator[tuple[Path, yaml.Node]]:
    yield path, node
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            if isinstance(key, yaml.ScalarNode):
                yield from _walk(value, (*path, key.value))
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            yield from _walk(item, (*path, index))


def _duplicate_keys(node: yaml.Node, path: Path) -> Iterator[Problem]:
    for sub_path, sub in _walk(node, path):
        if not isinstance(sub, yaml.MappingNode):
            continue
        seen: set[str] = set()
        for key, _ in sub.value:
            if isinstance(key, yaml.ScalarNode):
                if key.value in seen:
                    yield Problem(
                        format_path((*sub_path, key.value)),
                        f"key {key.value!r} appears more than once",
                        key.start_mark.line + 1,
                    )
                seen.add(key.value)


def read_yaml(text: str) -> tuple[Any, SourceMap, list[Problem]]:
    """Parse with the safe loader; return the data, its source map and syntax problems."""
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        reason = getattr(exc, "problem", None) or str(exc)
        return None, SourceMap({}), [Problem("(document)", f"not valid YAML: {reason}", line)]
    if node is None:
        return None, SourceMap({}), [Problem("(document)", "the document is empty")]
    lines = {path: sub.start_mark.line + 1 for path, sub in _walk(node, ())}
    problems = list(_duplicate_keys(node, ()))
    data = yaml.safe_load(text)
    return data, SourceMap(lines), problems
