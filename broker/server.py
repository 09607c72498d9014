"""gunicorn as a library: the broker's production server."""

from __future__ import annotations

from typing import Any

from gunicorn.app.base import BaseApplication

from .app import create_app

__all__ = ["LIMIT_REQUEST_LINE", "serve"]

# The longest request line (method, path and query, version) gunicorn reads: its maximum. A
# longer one is refused with gunicorn's own 414 page; behind nginx, large_client_header_buffers
# is set below this (docs/operator.md), so the proxy refuses first.
LIMIT_REQUEST_LINE = 8190


class _Server(BaseApplication):  # type: ignore[misc]
    def __init__(self, options: dict[str, Any]) -> None:
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self) -> Any:
        return create_app()


def serve(host: str, port: int, workers: int = 2, threads: int = 4) -> None:
    """Run gunicorn with each worker building its own app (no shared connections)."""
    _Server(
        {
            "bind": f"{host}:{port}",
            "workers": workers,
            "threads": threads,
            "accesslog": None,
            "errorlog": "-",
            "timeout": 60,
            "graceful_timeout": 10,
            "limit_request_line": LIMIT_REQUEST_LINE,
        }
    ).run()
