"""gunicorn as a library: the witness's production server (threaded workers keep connections
alive, as tlog-witness asks a witness to support).

Each worker builds its own app from the state directory; the state's lock holds across them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

from gunicorn.app.base import BaseApplication

__all__ = ["LIMIT_REQUEST_LINE", "serve"]

LIMIT_REQUEST_LINE: Final = 8190  # gunicorn's maximum; the one path is /add-checkpoint


class _Server(BaseApplication):  # type: ignore[misc]
    def __init__(self, factory: Callable[[], Any], options: dict[str, Any]) -> None:
        self.factory = factory
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)
        if "control_socket_disable" in self.cfg.settings:  # gunicorn ≥ 27: one shared path
            self.cfg.set("control_socket_disable", True)  # per user, which two servers clash on

    def load(self) -> Any:
        return self.factory()


def serve(
    factory: Callable[[], Any], host: str, port: int, workers: int = 2, threads: int = 4
) -> None:
    """Run gunicorn on host:port until it is stopped; each worker builds its app by `factory`."""
    _Server(
        factory,
        {
            "bind": f"{host}:{port}",
            "workers": workers,
            "threads": threads,
            "worker_class": "gthread",
            "keepalive": 5,
            "accesslog": None,
            "errorlog": "-",
            "loglevel": "info",
            "timeout": 30,
            "graceful_timeout": 10,
            "limit_request_line": LIMIT_REQUEST_LINE,
        },
    ).run()
