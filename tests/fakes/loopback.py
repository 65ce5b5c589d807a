"""The lifecycle every fake vendor server shares: a threaded HTTP server on 127.0.0.1."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Self


class LoopbackServer:
    """Start on a free loopback port in a daemon thread; stop cleanly; use as a context.

    Subclasses set ``handler_class`` (its requests see the fake as ``self.fake``) and ``name``.
    """

    handler_class: type[BaseHTTPRequestHandler]
    name = "fake-vendor"
    poll_interval = 0.02  # how long stop() may wait for the serving loop

    _server: ThreadingHTTPServer | None = None
    _thread: threading.Thread | None = None

    def start(self) -> Self:
        if self._server is not None:
            return self
        handler = type("_BoundHandler", (self.handler_class,), {"fake": self})
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._server.daemon_threads = True
        self.on_start()
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": self.poll_interval},
            name=self.name,
            daemon=True,
        )
        self._thread.start()
        return self

    def on_start(self) -> None:
        """Hook for subclasses that need the address before serving."""

    def stop(self) -> None:
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def origin(self) -> str:
        """``http://127.0.0.1:PORT``."""
        if self._server is None:
            raise RuntimeError(f"{type(self).__name__} is not started")
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"
