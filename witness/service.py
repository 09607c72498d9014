"""The witness's HTTP service: `POST /add-checkpoint` of c2sp.org/tlog-witness, and nothing else.

The submission prefix is the server's root. Bodies are bounded (`MAX_BODY_BYTES`, 413 above
it: 63 proof lines and a checkpoint with many signatures fit well below). Every answer is text:
the spec's status codes with a one-line reason, `text/x.tlog.size` for the 409 of a stale old
size, the cosignature lines for a 200. A state that cannot be read answers 500 and cosigns
nothing. One log line per answer (origin, status, code, sizes), through the standard `logging`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Final

from flask import Flask, Response, request
from werkzeug.exceptions import HTTPException

from audit.tlog import TEXT_CONTENT_TYPE

from .cosigning import Witness, posix_now
from .state import StateDir, WitnessStateError

__all__ = ["MAX_BODY_BYTES", "create_app"]

MAX_BODY_BYTES: Final = 64 * 1024
_log = logging.getLogger("witness")


def _text(status: int, description: str) -> Response:
    return Response(f"{description}\n", status=status, content_type=TEXT_CONTENT_TYPE)


def create_app(state_dir: Path | str, *, clock: Callable[[], int] = posix_now) -> Flask:
    """The witness over the state in `state_dir` (read now: a broken state stops the start)."""
    witness = Witness(StateDir(Path(state_dir)), clock)
    app = Flask("witness")
    app.config["MAX_CONTENT_LENGTH"] = MAX_BODY_BYTES
    app.extensions["witness"] = witness

    @app.post("/add-checkpoint")
    def add_checkpoint() -> Response:
        answer = witness.add_checkpoint(request.get_data(cache=False))
        checkpoint = answer.checkpoint
        _log.info(
            "add-checkpoint %s %s origin=%r size=%s latest=%s",
            answer.status,
            answer.code,
            answer.origin,
            None if checkpoint is None else checkpoint.size,
            answer.expected_size,
        )
        return Response(answer.body, status=answer.status, content_type=answer.content_type)

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException) -> Response:
        status = error.code or 500
        description = {
            404: "not found: a witness answers POST /add-checkpoint only",
            405: "method not allowed: add-checkpoint is a POST",
            413: f"the body is over {MAX_BODY_BYTES} bytes",
        }.get(status, error.description or error.name)
        return _text(status, description)

    @app.errorhandler(WitnessStateError)
    def state_error(error: WitnessStateError) -> Response:
        _log.error("witness state: %s", error.description)
        return _text(500, "the witness cannot read its state; nothing was cosigned")

    return app
