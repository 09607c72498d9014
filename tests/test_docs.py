"""The docs tell the truth about the broker they describe.

- Every `broker …` command in the `sh` and `crontab` blocks of README.md and docs/*.md parses
  against the real `broker` command line (command path, options, arguments; nothing runs), and
  so do the arguments `python3 run.py start` passes on to `broker serve`.
- Every `curl` in them reaches a route of the app with its method, and names only query
  parameters the OpenAPI document gives that operation.
- The convenant author's tools are run as documented (they need no database).
- Every setting the code reads is in the operator's table, and every variable there is read.
- The lock (constraints.txt) pins every distribution the project installs, at the version
  installed.
- The README's five minutes with curl run for real, through bash, against `broker serve` on a
  free port: after `broker demo` on SQLite (what `python3 run.py start` does), and after the
  operator guide's PostgreSQL quick start on a fresh PostgreSQL schema. On that broker the page
  login works (the issuer follows the port), and the request-line limits of the proxy guide hold.
"""

from __future__ import annotations

import contextlib
import http.client
import importlib
import json
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, distribution, entry_points
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urljoin, urlsplit

import click
import pytest
from click.testing import CliRunner
from flask import Flask
from flask.cli import ScriptInfo
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from werkzeug.exceptions import MethodNotAllowed, NotFound

from tests.needs import unavailable

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
BIN = Path(sys.executable).parent
SHELL_LANGUAGES = {"sh", "crontab"}
PASSWORD = "Paard-Batterij-Nietje-42"


# ── reading the docs ────────────────────────────────────────────────────────────────────────


@dataclass(frozen=True)
class Block:
    """A fenced code block: its file, line, language, the heading above it and its text."""

    path: Path
    line: int
    language: str
    heading: str
    text: str

    @property
    def where(self) -> str:
        return f"{self.path.relative_to(ROOT)}:{self.line}"


def blocks(path: Path) -> list[Block]:
    """The fenced code blocks of a Markdown file."""
    found: list[Block] = []
    heading, language, start, lines = "", None, 0, []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if language is None:
            if line.startswith("```"):
                language, start, lines = line[3:].strip(), number, []
            elif line.startswith("#"):
                heading = line.lstrip("#").strip()
        elif line.startswith("```"):
            found.append(Block(path, start, language, heading, "\n".join(lines) + "\n"))
            language = None
        else:
            lines.append(line)
    assert language is None, f"{path}: a code block is not closed"
    return found


def shell_blocks() -> list[Block]:
    return [b for path in DOCS for b in blocks(path) if b.language in SHELL_LANGUAGES]


def section_blocks(path: Path, heading: str) -> list[Block]:
    """The sh blocks under one heading of a file."""
    found = [b for b in blocks(path) if b.heading == heading and b.language == "sh"]
    assert found, f"{path.name}: no sh block under {heading!r}"
    return found


def strip_comments(text: str) -> str:
    """Shell text without its comments (a # that starts a word outside quotes, to the end of
    the line); quotes and backslashes as the shell reads them."""
    out: list[str] = []
    quote: str | None = None
    i = 0
    while i < len(text):
        c = text[i]
        if quote is not None:
            if c == "\\" and quote == '"' and i + 1 < len(text):
                out.append(text[i : i + 2])
                i += 2
                continue
            if c == quote:
                quote = None
        elif c == "\\" and i + 1 < len(text):
            out.append(text[i : i + 2])
            i += 2
            continue
        elif c in "'\"":
            quote = c
        elif c == "#" and (i == 0 or text[i - 1] in " \t\n"):
            end = text.find("\n", i)
            i = len(text) if end < 0 else end
            continue
        out.append(c)
        i += 1
    return "".join(out)


_PUNCTUATION = set("();<>|&\n")


def simple_commands(text: str) -> list[list[str]]:
    """The simple commands of a shell text, as word lists (words as the shell would quote them;
    `$VAR` left as written)."""
    lexer = shlex.shlex(
        strip_comments(text).replace("\\\n", " "), posix=True, punctuation_chars="();<>|&\n"
    )
    lexer.whitespace = " \t\r"
    lexer.whitespace_split = True
    lexer.commenters = ""
    commands: list[list[str]] = [[]]
    for token in lexer:
        if set(token) <= _PUNCTUATION:
            if token[0] in "<>" and commands[-1] and commands[-1][-1].isdigit():
                commands[-1].pop()  # 2>&1: the descriptor, not an argument
            commands.append([])
        else:
            commands[-1].append(token)
    return [c for c in commands if c]


def invocations(program: str) -> list[tuple[str, list[str]]]:
    """Every invocation of `program` (by name or path) in the docs' shell blocks: where, args.
    The program is the command word: the first word after any NAME=value assignments."""
    found = []
    for block in shell_blocks():
        for words in simple_commands(block.text):
            i = 0
            while i < len(words) and re.match(r"^[A-Za-z_][A-Za-z0-9_]*=", words[i]):
                i += 1
            if i < len(words) and (words[i] == program or words[i].endswith(f"/{program}")):
                found.append((block.where, words[i + 1 :]))
    return found


# ── the broker's command line, resolved without running ────────────────────────────────────


def broker_group() -> click.Group:
    """The group behind the `broker` console script, wherever it lives."""
    (script,) = [e for e in entry_points(group="console_scripts") if e.name == "broker"]
    module = importlib.import_module(script.module)
    groups = [v for v in vars(module).values() if isinstance(v, click.Group)]
    (group,) = [g for g in groups if g.name == "broker"]
    return group


@pytest.fixture(scope="module")
def cli_info(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ScriptInfo]:
    """One ScriptInfo, so the app behind the service commands is built once."""
    instance = tmp_path_factory.mktemp("cli-instance")
    saved = {k: os.environ.get(k) for k in ("BROKER_INSTANCE_PATH", "BROKER_DATABASE_URL")}
    os.environ["BROKER_INSTANCE_PATH"] = str(instance)
    os.environ["BROKER_DATABASE_URL"] = f"sqlite:///{instance / 'broker.db'}"
    group = broker_group()
    info = ScriptInfo(create_app=getattr(group, "create_app", None), set_debug_flag=False)
    try:
        yield info
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def resolve(info: ScriptInfo, args: list[str]) -> str:
    """Parse `broker ARGS` as click would, without invoking anything; the command path.

    Raises click's error for an unknown command or option, a missing or extra argument, or a
    value of the wrong type. A file argument that does not exist here is fine: the docs name
    files of the reader's machine.
    """
    command: click.Command = broker_group()
    # contexts are closed when done: resolving a service command loads the app and pushes its
    # app context onto the context (click's resources), which must not outlive the check
    with contextlib.ExitStack() as opened:
        ctx = opened.enter_context(
            command.make_context("broker", [], obj=info, resilient_parsing=True)
        )
        rest = [a for a in args if a != "--help"]
        path = ["broker"]
        while isinstance(command, click.Group):
            if not rest:
                assert "--help" in args, f"`{' '.join(path)}` needs a command"
                return " ".join(path)
            word = rest[0]
            name, sub, rest = command.resolve_command(ctx, rest)
            if sub is None or name is None:  # a resilient context does not fail by itself
                raise click.UsageError(f"no command {word!r} in `{' '.join(path)}`")
            command, path = sub, [*path, name]
            if isinstance(command, click.Group):
                ctx = opened.enter_context(
                    command.make_context(name, [], parent=ctx, resilient_parsing=True)
                )
        try:
            opened.enter_context(command.make_context(path[-1], list(rest), parent=ctx))
        except click.BadParameter as exc:
            if not isinstance(exc.param and exc.param.type, click.Path | click.File):
                raise
    return " ".join(path)


def test_every_broker_command_in_the_docs_parses(cli_info: ScriptInfo) -> None:
    """A renamed command, option or argument fails here, naming the file and line."""
    found = invocations("broker")
    assert len(found) > 40, "the docs' broker commands were not found"
    resolved = set()
    for where, args in found:
        try:
            resolved.add(resolve(cli_info, args))
        except (click.ClickException, click.exceptions.Exit, AssertionError) as exc:
            message = exc.format_message() if isinstance(exc, click.ClickException) else exc
            pytest.fail(f"{where}: broker {' '.join(args)}: {message}")
    # the guides show the operator's whole command line
    for command in ("broker init", "broker demo", "broker serve", "broker token", "broker purge"):
        assert command in resolved
    for group in ("users", "clients", "keys", "audit", "convenant", "stats"):
        assert any(r.startswith(f"broker {group} ") or r == f"broker {group}" for r in resolved)


def test_run_py_start_passes_serve_arguments_that_parse(cli_info: ScriptInfo) -> None:
    """`python3 run.py start ARGS` runs `broker serve ARGS`: the documented ARGS parse."""
    starts = [(w, a[2:]) for w, a in invocations("python3") if a[:2] == ["run.py", "start"]]
    assert any(args for _, args in starts), "no `run.py start` with arguments in the docs"
    for where, args in starts:
        assert resolve(cli_info, ["serve", *args]) == "broker serve", where


def test_the_resolver_refuses_what_the_cli_refuses(cli_info: ScriptInfo) -> None:
    """The check above can fail: a wrong command, option or missing value is caught."""
    for args in (
        ["tokens", "jansen"],
        ["token", "jansen", "--lifetime", "60"],
        ["users", "add", "x", "--party", "school", "--role", "case_worker"],
        ["serve", "--port", "eighty"],
        ["audit", "verify", "extra"],
    ):
        with pytest.raises(click.UsageError):
            resolve(cli_info, args)


def test_the_convenant_tools_run_as_documented(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every documented `broker convenant …` whose files exist runs and exits 0."""
    monkeypatch.chdir(ROOT)
    ran = 0
    for where, args in invocations("broker"):
        if args[:1] != ["convenant"]:
            continue
        files = [a for a in args if a.endswith(".yaml")]
        if not all((ROOT / f).is_file() for f in files):
            continue  # a draft of the reader's (concept.yaml): parsed above, not run
        result = CliRunner().invoke(broker_group(), args)
        assert result.exit_code == 0, f"{where}: broker {' '.join(args)}\n{result.output}"
        ran += 1
    assert ran >= 6


# ── curl against the routes and the OpenAPI document ───────────────────────────────────────

_CURL_VALUE_OPTIONS = {"-H", "-d", "-X", "-u", "-o", "-w", "-A", "-e", "-F", "--resolve"}


@dataclass(frozen=True)
class Curl:
    where: str
    method: str
    path: str
    query: dict[str, list[str]]


def method_and_url(args: list[str]) -> tuple[str, str | None]:
    """A curl's method (-X, else POST with a body, else GET) and URL, from its arguments."""
    method, url, data = None, None, False
    words = iter(args)
    for word in words:
        if word in ("-X", "--request"):
            method = next(words)
        elif word.startswith("-d") or word.startswith("--data"):
            data = True
            if word in ("-d", "--data", "--data-raw", "--data-binary", "--data-urlencode"):
                next(words)
        elif word in _CURL_VALUE_OPTIONS:
            next(words)
        elif not word.startswith("-") and url is None:
            url = word
    return method or ("POST" if data else "GET"), url


def curls() -> list[Curl]:
    """Every curl of the docs: its method, path and query."""
    found = []
    for where, args in invocations("curl"):
        method, url = method_and_url(args)
        assert url is not None, f"{where}: curl without a URL"
        base = re.match(r"^(\$URL|http://127\.0\.0\.1:8000)(/.*)$", url)
        assert base, f"{where}: {url} is not under $URL (or http://127.0.0.1:8000)"
        parts = urlsplit(base.group(2))
        found.append(Curl(where, method, parts.path, parse_qs(parts.query)))
    return found


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Flask:
    from broker import create_app

    instance = tmp_path_factory.mktemp("docs-app")
    return create_app(
        {
            "INSTANCE_PATH": str(instance),
            "DATABASE_URL": f"sqlite:///{instance / 'broker.db'}",
            "LOG_LEVEL": "WARNING",
            "TESTING": True,
        }
    )


def _query_parameters(
    document: dict[str, Any], path: str, method: str
) -> dict[str, dict[str, Any]] | None:
    """The query parameters the OpenAPI document gives an operation, with their schemas (None:
    not described)."""
    operations = document["paths"].get(path)
    if operations is None or method.lower() not in operations:
        return None

    def resolved(item: dict[str, Any]) -> dict[str, Any]:
        while "$ref" in item:
            node: Any = document
            for part in item["$ref"].removeprefix("#/").split("/"):
                node = node[part]
            item = node
        return item

    items = [*operations.get("parameters", []), *operations[method.lower()].get("parameters", [])]
    return {
        p["name"]: resolved(p.get("schema", {}))
        for p in map(resolved, items)
        if p.get("in") == "query"
    }


def _value_problem(value: str, schema: dict[str, Any]) -> str | None:
    """Why a literal query value does not fit its parameter's schema (None: it fits)."""
    kinds = schema.get("type", "string")
    kinds = kinds if isinstance(kinds, list) else [kinds]
    if "enum" in schema and value not in schema["enum"]:
        return f"not one of {schema['enum']}"
    if "boolean" in kinds and value not in ("true", "false"):
        return "not true or false"
    if "integer" in kinds and not re.fullmatch(r"[0-9]+", value):
        return "not a whole number"
    if "pattern" in schema and re.search(schema["pattern"], value) is None:
        return f"does not match {schema['pattern']}"
    return None


def test_every_curl_reaches_a_route_with_known_parameters(app: Flask) -> None:
    """A moved or renamed endpoint, a wrong method, an unknown parameter or a literal value the
    document refuses (deep=1 where it says true or false) fails here."""
    found = curls()
    assert len(found) > 40, "the docs' curl commands were not found"
    adapter = app.url_map.bind("127.0.0.1:8000")
    document = app.test_client().get("/api/v1/openapi.json").get_json()
    for call in found:
        path = re.sub(r"\$\{?[A-Z_]+\}?", "x", call.path)
        try:
            rule, _ = adapter.match(path, method=call.method, return_rule=True)
        except (NotFound, MethodNotAllowed) as exc:
            pytest.fail(f"{call.where}: {call.method} {call.path}: {type(exc).__name__}")
        template = re.sub(r"<(?:[^:>]+:)?([^>]+)>", r"{\1}", rule.rule)
        known = _query_parameters(document, template, call.method)
        if known is not None:
            unknown = set(call.query) - set(known)
            assert not unknown, f"{call.where}: {call.method} {template}: unknown {unknown}"
            for name, values in call.query.items():
                for value in values:
                    problem = None if "$" in value else _value_problem(value, known[name])
                    assert problem is None, f"{call.where}: {name}={value!r}: {problem}"


# ── settings and the lock ───────────────────────────────────────────────────────────────────


def _documented_settings() -> set[str]:
    text = (ROOT / "docs" / "operator.md").read_text(encoding="utf-8")
    table = text.split("## Every setting", 1)[1].split("Variables of the tools", 1)[0]
    return set(re.findall(r"^\| `BROKER_([A-Z0-9_]+)` \|", table, re.MULTILINE))


def _settings_read() -> set[str]:
    """Every configuration key the broker reads: its defaults, and each config or BROKER_*
    environment read in its source."""
    from broker.app import DEFAULTS

    names = set(DEFAULTS)
    for source in (ROOT / "broker").rglob("*.py"):
        text = source.read_text(encoding="utf-8")
        names |= set(re.findall(r"config(?:\.get\(|\[)\s*\"([A-Z][A-Z0-9_]+)\"", text))
        names |= set(re.findall(r"environ(?:\.get\(|\[)\s*\"BROKER_([A-Z0-9_]+)\"", text))
    return names


def test_every_setting_is_in_the_operators_table() -> None:
    """The operator's table lists every BROKER_* setting the code reads, and no other."""
    documented, read = _documented_settings(), _settings_read()
    assert "DATABASE_URL" in read and "INSTANCE_PATH" in read
    assert read - documented == set(), "settings read but not in docs/operator.md"
    assert documented - read == set(), "settings in docs/operator.md that nothing reads"


def _pins() -> dict[str, str]:
    pins = {}
    for line in (ROOT / "constraints.txt").read_text(encoding="utf-8").splitlines():
        if not line or line.startswith("#"):
            continue
        match = re.fullmatch(r"([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;]+)", line)
        assert match, f"constraints.txt: not a pin: {line!r}"
        pins[canonicalize_name(match.group(1))] = match.group(2)
    return pins


def _needed(name: str, extras: frozenset[str], seen: dict[str, set[str]]) -> None:
    """Walk the installed requirements of `name` with `extras` into `seen`."""
    key = canonicalize_name(name)
    if key in seen and extras <= seen[key]:
        return
    seen.setdefault(key, set()).update(extras)
    try:
        requires = distribution(name).requires or []
    except PackageNotFoundError:
        return  # a requirement whose marker held but that pip did not install: checked below
    for text in requires:
        requirement = Requirement(text)
        environments = [{"extra": e} for e in extras] or [{"extra": ""}]
        if requirement.marker is None or any(requirement.marker.evaluate(e) for e in environments):
            _needed(requirement.name, frozenset(requirement.extras), seen)


def test_the_lock_pins_every_installed_distribution() -> None:
    """constraints.txt pins each distribution the project and its dev and bench extras need,
    at the version installed here (run.py installs with it)."""
    pins = _pins()
    seen: dict[str, set[str]] = {}
    _needed("multiteam-broker", frozenset({"dev", "bench"}), seen)
    needed = set(seen) - {canonicalize_name("multiteam-broker")}
    assert len(needed) > 30
    missing = sorted(needed - set(pins))
    assert not missing, f"not in constraints.txt (refresh it: docs/operator.md): {missing}"
    stale = {
        name: (pins[name], distribution(name).version)
        for name in needed
        if distribution(name).version != pins[name]
    }
    assert not stale, f"installed versions differ from the lock: {stale}"


# ── the quick starts, for real ──────────────────────────────────────────────────────────────


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        unavailable(f"{name} is not installed (the README's walk-through uses it)")
    return path


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


CURL_SHIM = """#!/bin/bash
# curl, recording each call: its arguments, status, headers and body (in $CURL_LOG)
n=$(ls "$CURL_LOG" | grep -c '\\.args$')
n=$((n + 1))
"$REAL_CURL" "$@" -o "$CURL_LOG/$n.body" -D "$CURL_LOG/$n.headers" -w '%{http_code}' \\
  > "$CURL_LOG/$n.status"
rc=$?
cat "$CURL_LOG/$n.body"
printf '%s\\n' "$@" > "$CURL_LOG/$n.args"
exit $rc
"""


@dataclass
class Call:
    """One curl of a run: method, path, query, the token variable, status, headers, body."""

    method: str
    path: str
    query: dict[str, list[str]]
    bearer: str | None
    status: int
    content_type: str
    body: Any


class Shell:
    """Runs doc blocks through bash in a folder whose `.venv` is this environment, with the
    venv's bin and a recording curl first on PATH."""

    def __init__(self, tmp: Path, env: dict[str, str]) -> None:
        self.home = tmp / "checkout"
        self.home.mkdir()
        (self.home / ".venv").symlink_to(BIN.parent)
        shims = tmp / "shims"
        shims.mkdir()
        (shims / "curl").write_text(CURL_SHIM)
        (shims / "curl").chmod(0o755)
        self.log = tmp / "curl-log"
        self.log.mkdir()
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("BROKER_")},
            **env,
            "PATH": os.pathsep.join([str(shims), str(BIN), os.environ.get("PATH", "")]),
            "CURL_LOG": str(self.log),
            "REAL_CURL": _tool("curl"),
            "BROKER_LOG_LEVEL": "WARNING",
        }

    def run(self, script: str, timeout: float = 120) -> str:
        result = subprocess.run(
            ["bash", "-c", "set -euo pipefail\n" + script],
            cwd=self.home,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        assert result.returncode == 0, f"{script}\n---\n{result.stdout}\n{result.stderr}"
        return result.stdout

    def serve(self, script: str, log: Path) -> subprocess.Popen[bytes]:
        with log.open("wb") as out:
            return subprocess.Popen(
                ["bash", "-c", script],
                cwd=self.home,
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def calls(self) -> list[Call]:
        """The recorded curls, in order."""
        recorded = []
        for n in range(1, len(list(self.log.glob("*.args"))) + 1):
            args = (self.log / f"{n}.args").read_text().splitlines()
            method, url = method_and_url(args)
            assert url is not None
            parts = urlsplit(url)
            headers = (self.log / f"{n}.headers").read_text(errors="replace").lower()
            kind = re.search(r"^content-type:\s*([^;\r\n]+)", headers, re.MULTILINE)
            text = (self.log / f"{n}.body").read_text()
            bearer = next((a.split()[-1] for a in args if a.startswith("Authorization:")), None)
            recorded.append(
                Call(
                    method,
                    parts.path,
                    parse_qs(parts.query),
                    bearer,
                    int((self.log / f"{n}.status").read_text()),
                    kind.group(1) if kind else "",
                    json.loads(text) if text.strip().startswith(("{", "[")) else text,
                )
            )
        return recorded


def wait_ready(port: int, process: subprocess.Popen[bytes], log: Path) -> None:
    """Until /readyz answers 200 (at most 60 s)."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError("the broker exited:\n" + log.read_text(errors="replace"))
        try:
            if _get(port, "/readyz")[0] == 200:
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise AssertionError("the broker did not get ready:\n" + log.read_text(errors="replace"))


def _get(
    port: int, path: str, cookies: dict[str, str] | None = None
) -> tuple[int, dict[str, str], str]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        headers = {"Cookie": "; ".join(f"{k}={v}" for k, v in (cookies or {}).items())}
        connection.request("GET", path, headers=headers)
        response = connection.getresponse()
        return _answer(response, cookies)
    finally:
        connection.close()


def _post(
    port: int, path: str, form: dict[str, str], cookies: dict[str, str]
) -> tuple[int, dict[str, str], str]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request(
            "POST",
            path,
            body=urlencode(form),
            headers={
                "Content-Type": "application/x-www-form-urlencoded",
                "Cookie": "; ".join(f"{k}={v}" for k, v in cookies.items()),
            },
        )
        return _answer(connection.getresponse(), cookies)
    finally:
        connection.close()


def _answer(
    response: http.client.HTTPResponse, cookies: dict[str, str] | None
) -> tuple[int, dict[str, str], str]:
    if cookies is not None:
        for value in response.headers.get_all("Set-Cookie") or []:
            name, _, rest = value.partition("=")
            cookies[name.strip()] = rest.split(";", 1)[0]
    return response.status, dict(response.headers), response.read().decode(errors="replace")


def request_line(port: int, length: int) -> int:
    """The status of a GET /healthz whose request line is `length` bytes long."""
    base = "GET /healthz?x= HTTP/1.1"
    line = "GET /healthz?x=" + "a" * (length - len(base)) + " HTTP/1.1"
    assert len(line) == length
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(f"{line}\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".encode())
        answer = b""
        while chunk := s.recv(65536):
            answer += chunk
    return int(answer.split(b" ", 2)[1])


def walk_through(shell: Shell, port: int) -> None:
    """The README's five minutes with curl, as written, against the broker on `port`; then
    what each answer must say."""
    script = "\n".join(b.text for b in section_blocks(ROOT / "README.md", "Five minutes with curl"))
    assert script.count("URL=http://127.0.0.1:8000\n") == 1
    script = script.replace("URL=http://127.0.0.1:8000\n", f"URL=http://127.0.0.1:{port}\n")
    # on another port than 8000, the token commands get the broker's address (README)
    shell.env["BROKER_ISSUER"] = f"http://127.0.0.1:{port}"
    try:
        out = shell.run(script)
    finally:
        shell.env.pop("BROKER_ISSUER")
    calls = shell.calls()
    assert [(c.method, re.sub(r"case-[0-9a-f]{32}", "{id}", c.path)) for c in calls] == [
        ("POST", "/api/v1/signals"),
        ("POST", "/api/v1/signals"),
        ("POST", "/api/v1/cases/{id}/track"),
        ("GET", "/api/v1/cases/{id}"),
        ("GET", "/api/v1/cases/{id}"),
        ("GET", "/api/v1/cases/{id}/explain"),
        ("GET", "/api/v1/convenant/explain"),
        ("GET", "/api/v1/cases/{id}"),
        ("GET", "/api/v1/audit"),
        ("GET", "/api/v1/audit"),
    ]
    police_signal, school_signal, track, police, school, explain, rules, refused = calls[:8]
    by_bsn, by_person = calls[8:]
    assert police_signal.status == 201 and police_signal.body["new_case"] is True
    assert set(police_signal.body) == {"case_id", "new_case", "signal_id"}
    case = police_signal.body["case_id"]
    assert case in out.split()  # echo "$CASE"
    assert school_signal.status == 201
    assert (school_signal.body["case_id"], school_signal.body["new_case"]) == (case, False)
    assert track.status == 200 and track.body["track"] == "lokaal_preventief"
    assert police.status == 200 and police.body["fields"]["incident_count"] == 2
    assert police.body["fields"]["bsn"] == "321146487"
    assert school.status == 200 and school.body["fields"]["birth_date"] == "2011"
    assert school.body["fields"]["wijk"] == "Heechterp-Schieringen"
    withheld = {w["field"]: w["rule"] for w in school.body["withheld"]}
    assert withheld["incident_count"] == withheld["incidents_summary"] == "default-deny"
    assert withheld["bsn"] == "SCH-GEEN-BSN"
    assert not {"incident_count", "incidents_summary", "street", "bsn"} & set(school.body["fields"])
    assert school.body["sources"]["attendance_problem"]["party"] == "school"
    assert explain.status == 200 and explain.body["case_id"] == case
    assert rules.status == 200 and rules.body["allowed"] is True
    assert (refused.status, refused.content_type) == (403, "application/problem+json")
    assert refused.body["code"] == "purpose_missing"
    assert by_bsn.status == 200
    assert [(i["event"], i["person_id"]) for i in by_bsn.body["items"]] == [
        ("signal.create", "jansen"),
        ("signal.create", "bakker"),
        ("track.change", "mulder"),
        ("case.view", "jansen"),
        ("case.view", "bakker"),
        ("case.explain", "bakker"),
    ]
    seen_by_school = by_bsn.body["items"][4]
    assert "incident_count" in seen_by_school["fields_withheld"]
    assert seen_by_school["fields_disclosed"]["birth_date"] == "generalise"
    text = json.dumps(by_bsn.body, ensure_ascii=False)
    for value in ("321146487", "Kramer", "Aldlânsdyk", "winkeldiefstallen", "8924 AA"):
        assert value not in text  # names fields, never a value
    assert by_person.status == 200
    assert [i["detail"].get("code") for i in by_person.body["items"]] == ["purpose_missing"]


def page_login(shell: Shell, port: int) -> None:
    """On a broker served on `port` without BROKER_ISSUER, a demo person logs in on the pages:
    the issuer and the login's callback follow the port."""
    shell.run(f"printf '%s\\n' '{PASSWORD}' | broker users set-password jansen --password-stdin")
    status, _, text = _get(port, "/.well-known/oauth-authorization-server")
    assert status == 200 and json.loads(text)["issuer"] == f"http://127.0.0.1:{port}"
    cookies: dict[str, str] = {}
    status, headers, _ = _get(port, "/login", cookies)
    assert status == 303
    authorize = headers["Location"]
    callback = parse_qs(urlsplit(authorize).query)["redirect_uri"]
    assert callback == [f"http://127.0.0.1:{port}/callback"]
    status, _, page = _get(port, authorize, cookies)
    assert status == 200
    action = re.search(r'<form method="post" action="([^"]+)"', page)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert action and token
    status, headers, _ = _post(
        port,
        urljoin(authorize, action.group(1).replace("&amp;", "&")),
        {"csrf_token": token.group(1), "username": "jansen", "password": PASSWORD},
        cookies,
    )
    assert status == 302 and headers["Location"].startswith(f"http://127.0.0.1:{port}/callback?")
    back = urlsplit(headers["Location"])
    status, headers, _ = _get(port, f"{back.path}?{back.query}", cookies)
    assert status == 303
    for _ in range(3):  # the start page may send on (to the choice of purpose)
        status, headers, home = _get(port, headers["Location"], cookies)
        if status != 303:
            break
    assert status == 200 and "Wijkagent Pieter Jansen" in home


def request_limits(port: int) -> None:
    """What the proxy guide says: nginx refuses lines over its buffer (4k), so every line it
    passes is under gunicorn's limit, which `broker serve` sets to 8190 bytes."""
    operator = (ROOT / "docs" / "operator.md").read_text(encoding="utf-8")
    buffers = re.search(r"large_client_header_buffers\s+\d+\s+(\d+)k;", operator)
    assert buffers, "the nginx example sets no large_client_header_buffers"
    proxy_limit = int(buffers.group(1)) * 1024
    assert request_line(port, proxy_limit) == 200
    assert request_line(port, 8190) == 200
    assert request_line(port, 8191) == 414


@pytest.fixture
def stop() -> Iterator[list[subprocess.Popen[bytes]]]:
    """Processes to kill (their whole session) and reap after the test."""
    started: list[subprocess.Popen[bytes]] = []
    yield started
    for process in started:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=15)


def test_quick_start_then_five_minutes_with_curl(
    db_url: str, tmp_path: Path, stop: list[subprocess.Popen[bytes]]
) -> None:
    """SQLite: `broker demo` then `broker serve` (what `python3 run.py start --port P` runs).
    PostgreSQL: the operator guide's quick start as written, on an empty schema. Then the
    README's walk-through, the page login and the request limits against that broker."""
    port = _free_port()
    shell = Shell(tmp_path, {"BROKER_INSTANCE_PATH": str(tmp_path / "instance")})
    if db_url.startswith("sqlite"):
        shell.run("broker demo > /dev/null")
        serve = f"exec broker serve --port {port}"
    else:
        (quick,) = [
            b
            for b in section_blocks(ROOT / "docs" / "operator.md", "PostgreSQL")
            if "export BROKER_DATABASE_URL=" in b.text
        ]
        lines = [line for line in quick.text.splitlines() if line.strip()]
        assert lines[0].startswith("export BROKER_DATABASE_URL=postgresql+psycopg://")
        assert re.match(r"^\.venv/bin/broker serve\b", lines[-1])
        export = f"export BROKER_DATABASE_URL={shlex.quote(db_url)}"
        shell.run("\n".join([export, *lines[1:-1]]) + " > /dev/null")
        shell.env["BROKER_DATABASE_URL"] = db_url  # the walk-through's terminal, too
        serve = f"{export}\nexec {strip_comments(lines[-1]).strip()} --port {port}"
    log = tmp_path / "serve.log"
    stop.append(shell.serve(serve, log))
    wait_ready(port, stop[0], log)
    walk_through(shell, port)
    page_login(shell, port)
    request_limits(port)
