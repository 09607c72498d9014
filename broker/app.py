"""The front door: `create_app` reads the configuration (defaults, then BROKER_* environment
variables, then the mapping given), binds the runtime, authentication, problem handling and
the request log, and registers the API, the authorization server, the pages and the commands."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from broker import web
from broker.api.cases import api
from broker.api.casework import casework
from broker.api.health import health
from broker.api.privacy import privacy
from broker.api.proofs import proofs
from broker.api.rights import rights
from broker.api.stats import stats
from broker.cli import service as commands
from broker.cli.convenant import default_convenant_path
from broker.identity.keys import instance_secret
from broker.identity.log_key import log_origin

from .core import auth, observability, problems, runtime
from .oauth import server as oauth

__all__ = ["DEFAULTS", "DEFAULT_ISSUER", "create_app"]

DEFAULT_ISSUER = "http://127.0.0.1:8000"

DEFAULTS: dict[str, Any] = {
    "DATABASE_URL": None,  # default: SQLite in the instance folder
    "CONVENANT": None,  # default: $BROKER_CONVENANT, ./convenant.yaml or the shipped one
    "ISSUER": None,  # unset: the address `broker serve` serves on, else DEFAULT_ISSUER
    "AUDIENCE": "multiteam-broker",
    "TOKEN_TTL": 900,
    "MAX_CONTENT_LENGTH": 1024 * 1024,
    "PROXY_HOPS": 0,  # reverse proxies in front whose X-Forwarded-For/-Proto are believed
    "LOG_LEVEL": "INFO",
    "SUBJECT_KEY": None,  # hex; default: generated once in the instance folder
    "PSEUDONYM_KEY": None,  # hex; default: generated once in the instance folder
    "CHECKPOINT_EVERY": 1000,  # sign a checkpoint each time the chain grows this much
    "LOG_ORIGIN": None,  # the log's name in its checkpoints; default: issuer host + "/audit"
    "OFFICE_HOURS": "07:00-19:00",  # Europe/Amsterdam, weekdays; views outside are anomalies
    "BULK_VIEW_LIMIT": 10,  # distinct young people per person per hour; more raises an alarm
    "VIEW_RATE_LIMIT": 120,  # case views per person per minute; more are refused (429)
    "TOTP_CLOCK": None,  # seconds since the epoch for the second factor; default: time.time
    "SECRET_KEY": None,  # signs the login form's session cookie; default: instance folder
    "SESSION_COOKIE_NAME": "broker_login",
    "SESSION_COOKIE_SAMESITE": "Lax",
    "SESSION_COOKIE_SECURE": None,  # default: when ISSUER is https
    # An external OpenID Connect provider whose access tokens are accepted too (see README)
    "EXTERNAL_ISSUER": None,  # its issuer URL (the tokens' iss); None: only the broker's own
    "EXTERNAL_AUDIENCE": None,  # the aud its tokens carry for the broker
    "EXTERNAL_JWKS_URL": None,  # its JWKS, fetched (with a timeout) and cached …
    "EXTERNAL_JWKS": None,  # … or given: inline JSON or a file path (air-gapped set-ups)
    "EXTERNAL_JWKS_TTL": 300,  # seconds a fetched JWKS is cached
    "EXTERNAL_JWKS_TIMEOUT": 5,  # seconds a JWKS fetch may take
    "EXTERNAL_CLAIMS": None,  # JSON: {"username": …, "party": …, "roles": …} claim names
    "EXTERNAL_ALGORITHMS": None,  # default RS256 and ES256 (nothing else is allowed)
    "EXTERNAL_TOKEN_TYPES": None,  # e.g. ["at+jwt"]; default: typ is not checked
    "EXTERNAL_MAX_TOKEN_LIFETIME": 3600,  # seconds (60-86400) its tokens may live: exp - iat
}


def _proxy_hops(value: Any) -> int:
    """PROXY_HOPS as a number of proxies, 0 to 5; anything else stops the start, named."""
    text = str(value).strip()
    if not re.fullmatch(r"[0-5]", text):
        raise ValueError(f"BROKER_PROXY_HOPS must be a whole number from 0 to 5, not {text!r}")
    return int(text)


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Build the broker: defaults, then BROKER_* environment variables, then `config`."""
    instance_path = (config or {}).get("INSTANCE_PATH") or os.environ.get("BROKER_INSTANCE_PATH")
    app = Flask(
        "broker",
        instance_relative_config=True,
        instance_path=str(Path(instance_path).resolve()) if instance_path else None,
    )
    app.config.from_mapping(DEFAULTS)
    app.config.from_prefixed_env("BROKER")
    if config:
        app.config.from_mapping(config)
    instance = Path(app.instance_path)
    instance.mkdir(parents=True, exist_ok=True)
    if not app.config["DATABASE_URL"]:
        app.config["DATABASE_URL"] = f"sqlite:///{instance / 'broker.db'}"
    if not app.config["CONVENANT"]:
        app.config["CONVENANT"] = str(default_convenant_path())
    app.extensions["broker.issuer_configured"] = bool(app.config["ISSUER"])
    # the origin before the issuer defaults: `broker serve` passes it on to its workers
    app.config["LOG_ORIGIN"] = log_origin(
        app.config["LOG_ORIGIN"], app.config["ISSUER"] or DEFAULT_ISSUER
    )
    if not app.config["ISSUER"]:
        app.config["ISSUER"] = DEFAULT_ISSUER
    if not app.config["SECRET_KEY"]:
        app.config["SECRET_KEY"] = instance_secret(instance, "session-key").hex()
    if app.config["SESSION_COOKIE_SECURE"] is None:
        app.config["SESSION_COOKIE_SECURE"] = str(app.config["ISSUER"]).startswith("https://")
    hops = _proxy_hops(app.config["PROXY_HOPS"])
    if hops:  # the client's address as the nearest `hops` proxies saw it, for the audit log
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops)
    observability.configure_logging(app.config["LOG_LEVEL"])
    runtime.init_app(app)
    auth.init_app(app)
    problems.init_app(app)
    observability.init_app(app)
    app.register_blueprint(api)
    app.register_blueprint(health)
    app.register_blueprint(privacy)
    app.register_blueprint(proofs)
    app.register_blueprint(rights)
    app.register_blueprint(casework)
    app.register_blueprint(stats)
    oauth.init_app(app)
    web.init_app(app)
    commands.init_app(app)
    # how `broker serve` builds each worker's own app (no shared connections), with settings
    # of its own on top (the issuer where it serves, when none is configured)
    app.extensions["broker.factory"] = lambda **more: create_app({**(config or {}), **more})
    return app
