"""The audit log's C2SP side: the log key and origin (BROKER_LOG_ORIGIN), `broker audit vkey`,
`broker keys rotate-log`."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from flask import Flask

from audit.tlog import parse_signer_key, parse_verifier_key
from broker import create_app
from broker.cli.accounts import keys_group
from broker.cli.audit import audit_group
from broker.cli.service import init_database
from broker.core.runtime import runtime
from broker.identity.log_key import LOG_KEY, LOG_KEYS_RETIRED, log_origin


def _app(tmp_path: Path, **config: object) -> Flask:
    return create_app(
        {
            "DATABASE_URL": f"sqlite:///{tmp_path / 'broker.db'}",
            "INSTANCE_PATH": str(tmp_path / "instance"),
            "LOG_LEVEL": "WARNING",
            "TESTING": True,
            **config,
        }
    )


@pytest.mark.parametrize(
    ("configured", "issuer", "origin"),
    [
        (None, "https://broker.example", "broker.example/audit"),
        (None, "https://Broker.Example:8443/x", "broker.example:8443/audit"),
        (None, "http://[::1]:8000", "[::1]:8000/audit"),
        ("log.multiteam.example/audit", "https://broker.example", "log.multiteam.example/audit"),
    ],
)
def test_the_origin_is_configured_or_the_issuers_host(
    configured: str | None, issuer: str, origin: str
) -> None:
    assert log_origin(configured, issuer) == origin


@pytest.mark.parametrize("bad", ["https://broker.example/audit", "a b", "a+b", "x\ty"])
def test_an_origin_with_a_schema_space_or_plus_stops_the_start(bad: str, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="BROKER_LOG_ORIGIN"):
        _app(tmp_path, LOG_ORIGIN=bad)


def test_without_an_issuer_the_origin_comes_from_the_default_issuer(tmp_path: Path) -> None:
    app = _app(tmp_path)
    assert app.config["LOG_ORIGIN"] == "127.0.0.1:8000/audit"
    # a worker of `broker serve` gets its own issuer but the parent's origin
    worker = app.extensions["broker.factory"](
        ISSUER="http://127.0.0.1:9999", LOG_ORIGIN=app.config["LOG_ORIGIN"]
    )
    assert worker.config["LOG_ORIGIN"] == "127.0.0.1:8000/audit"


def test_the_log_key_is_named_the_origin_kept_private_and_printed_by_vkey(tmp_path: Path) -> None:
    app = _app(tmp_path, ISSUER="https://broker.example")
    path = tmp_path / "instance" / LOG_KEY
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    signer = parse_signer_key(path.read_text().strip())
    assert signer.name == "broker.example/audit"
    result = app.test_cli_runner().invoke(audit_group, ["vkey"])
    assert result.exit_code == 0, result.output
    vkey = result.stdout.strip().splitlines()[-1]
    assert vkey == signer.verifier.vkey
    assert parse_verifier_key(vkey).name == "broker.example/audit"
    # created once: a second app on the same folder reads the same key
    again = _app(tmp_path, ISSUER="https://broker.example")
    assert again.test_cli_runner().invoke(audit_group, ["vkey"]).stdout.strip() == vkey


def test_rotate_log_makes_a_new_key_and_keeps_the_old_vkey(tmp_path: Path) -> None:
    app = _app(tmp_path, ISSUER="https://broker.example")
    with app.app_context():
        init_database()
        before = runtime().log_key.signer().verifier.vkey
    result = app.test_cli_runner().invoke(keys_group, ["rotate-log"])
    assert result.exit_code == 0, result.output
    new = result.stdout.strip().splitlines()[-1]
    assert new != before
    assert parse_verifier_key(new).name == "broker.example/audit"
    retired = (tmp_path / "instance" / LOG_KEYS_RETIRED).read_text().split()
    assert retired == [before]
    with app.app_context():
        assert runtime().log_key.signer().verifier.vkey == new
        assert [v.vkey for v in runtime().log_key.verifiers()] == [new, before]
        records = runtime().audit.records(runtime().sessions())
        assert any(r.entry.event == "keys.rotate_log" for r in records)


def test_a_changed_origin_is_named_until_the_key_is_rotated(tmp_path: Path) -> None:
    _app(tmp_path, ISSUER="https://broker.example")
    app = _app(tmp_path, LOG_ORIGIN="other.example/audit")
    result = app.test_cli_runner().invoke(audit_group, ["vkey"])
    assert result.exit_code != 0
    assert "rotate-log" in result.output and "broker.example/audit" in result.output
    with app.app_context():
        init_database()
    assert app.test_cli_runner().invoke(keys_group, ["rotate-log"]).exit_code == 0
    vkey = app.test_cli_runner().invoke(audit_group, ["vkey"]).stdout.strip()
    assert parse_verifier_key(vkey).name == "other.example/audit"
