"""gunicorn as a library: the broker's production server."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from gunicorn.app.base import BaseApplication

__all__ = ["LIMIT_REQUEST_LINE", "serve"]

# The longest request line (method, path and query, version) gunicorn reads: its maximum. A
# longer one is refused with gunicorn's own 414 page; behind nginx, large_client_header_buffers
# is set below this (docs/operator.md), so the proxy refuses first.
LIMIT_REQUEST_LINE = 8190


class _Server(BaseApplication):  # type: ignore[misc]
    def __init__(self, factory: Callable[[], Any], options: dict[str, Any]) -> None:
        self.factory = factory
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)
        # gunicorn 25 and later open one control socket per user by default: two servers of
        # one user (several brokers, a broker and a witness) would clash on its path
        if "control_socket_disable" in self.cfg.settings:
            self.cfg.set("control_socket_disable", True)

    def load(self) -> Any:
        return self.factory()


def serve(
    factory: Callable[[], Any], host: str, port: int, workers: int = 2, threads: int = 4
) -> None:
    """Run gunicorn with each worker building its own app with `factory` (no shared
    connections)."""
    _Server(
        factory,
        {
            "bind": f"{host}:{port}",
            "workers": workers,
            "threads": threads,
            "accesslog": None,
            "errorlog": "-",
            "timeout": 60,
            "graceful_timeout": 10,
            "limit_request_line": LIMIT_REQUEST_LINE,
        },
    ).run()
