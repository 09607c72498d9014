"""The authorization server's blueprint and what its endpoints share: the Authlib server bound to
the app, and the answer when the audit log cannot be written (nothing is issued).
"""

from __future__ import annotations

import re

from authlib.integrations.flask_oauth2 import AuthorizationServer
from flask import (
    Blueprint,
    current_app,
)

from broker.core.problems import Problem

__all__ = [
    "oauth",
]


oauth = Blueprint("oauth", __name__)


def audit_unavailable() -> Problem:
    return Problem(
        503,
        "audit_unavailable",
        "The audit log could not be written; the request was refused.",
        audit={"skip": True},
    )


def authorization_server() -> AuthorizationServer:
    server: AuthorizationServer = current_app.extensions["broker.oauth"]
    return server


ERROR_CODE = re.compile(r"^[a-z_]{1,40}$")
