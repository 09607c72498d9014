"""Behind reverse proxies (BROKER_PROXY_HOPS): the audit records name the client's address
the nearest trusted proxy saw, and without that setting a forwarded address is never believed."""

from __future__ import annotations

from pathlib import Path

import pytest
from flask import Flask

from broker import create_app
from broker.cli.demo import ensure_accounts
from broker.cli.service import init_database, issue_token
from broker.core.runtime import runtime

CLIENT, SPOOFED, PROXY = "203.0.113.7", "198.51.100.66", "10.0.0.5"


def _app(tmp_path: Path, hops: object) -> Flask:
    app = create_app(
        {
            "DATABASE_URL": f"sqlite:///{tmp_path / 'broker.db'}",
            "INSTANCE_PATH": str(tmp_path / "instance"),
            "LOG_LEVEL": "WARNING",
            "TESTING": True,
            "PROXY_HOPS": hops,
        }
    )
    with app.app_context():
        init_database()
        ensure_accounts()
    return app


def _source_of_a_view(app: Flask, forwarded_for: str) -> str | None:
    """The source address the audit record of a refused read names (no purpose given)."""
    with app.app_context():
        token = issue_token("jansen")
    response = app.test_client().get(
        "/api/v1/cases",
        headers={"Authorization": f"Bearer {token}", "X-Forwarded-For": forwarded_for},
        environ_base={"REMOTE_ADDR": PROXY},
    )
    assert response.status_code == 403
    with app.app_context():
        session = runtime().sessions()
        try:
            records = list(runtime().audit.records(session))
        finally:
            session.close()
    return records[-1].entry.source_address


def test_one_trusted_proxy_gives_the_clients_address(tmp_path: Path) -> None:
    """With one proxy trusted, the address the proxy appended is the client's; whatever the
    client itself put in front of it is not believed."""
    app = _app(tmp_path, 1)
    assert _source_of_a_view(app, f"{SPOOFED}, {CLIENT}") == CLIENT


def test_without_a_trusted_proxy_a_forwarded_address_is_ignored(tmp_path: Path) -> None:
    """By default the connection's own address is recorded, never X-Forwarded-For."""
    app = _app(tmp_path, "0")
    assert _source_of_a_view(app, CLIENT) == PROXY


@pytest.mark.parametrize("hops", ["-1", "6", "one", "1.5"])
def test_a_wrong_number_of_hops_stops_the_start_naming_it(tmp_path: Path, hops: str) -> None:
    """A PROXY_HOPS that is not 0 to 5 stops create_app with a message naming the setting."""
    with pytest.raises(ValueError, match="BROKER_PROXY_HOPS"):
        _app(tmp_path, hops)
