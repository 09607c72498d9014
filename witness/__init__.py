"""The witness a partner runs: it cosigns the broker's checkpoints only as the log grows.

A program of its own beside the broker (c2sp.org/tlog-witness): it keeps, per trusted log, the
latest tree it cosigned, and answers `POST /add-checkpoint` with a `cosignature/v1` only for a
checkpoint signed by the log's key that is an append-only extension of that tree. It depends on
`audit.tlog`'s pure tree and note code, Flask (Werkzeug) and gunicorn for its small HTTP
service, click for its commands, and the standard library — never on `broker` (a contract in
pyproject.toml), so that whoever runs it needs nothing of the broker but its key and address.

- `keys`: the witness's cosigner key file;
- `state`: the state directory, its lock, and the compare-and-swap of the latest tree;
- `cosigning`: decide (pure, from `audit.tlog`) and commit an add-checkpoint request;
- `service`: the Flask app; `server`: gunicorn;
- `check`: a partner's own check that the broker's log only grew;
- `cli`: the `broker witness …` commands.

Who may import it: `broker.main` (to register the commands) and the tests; nothing in the
broker's rooms below it needs it.
"""

from __future__ import annotations

from .check import CheckReport, check_log
from .cli import witness_group
from .cosigning import Pending, Witness
from .service import MAX_BODY_BYTES, create_app
from .state import StateDir, TrustedLog, WitnessState, WitnessStateError

__all__ = [
    "MAX_BODY_BYTES",
    "CheckReport",
    "Pending",
    "StateDir",
    "TrustedLog",
    "Witness",
    "WitnessState",
    "WitnessStateError",
    "check_log",
    "create_app",
    "witness_group",
]
