"""The simulator over real HTTP on 127.0.0.1, for tests, demos and fault injection."""

from __future__ import annotations

import contextlib
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from .service import SimResponse, SimulatorService

LOOPBACK = "127.0.0.1"


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        response = self.server.service.handle(self.command, self.path, dict(self.headers), body)
        if response.drop:
            self.close_connection = True
            return
        if response.stream is not None:
            self._send_stream(response)
            return
        self.send_response(response.status)
        for name, value in response.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(response.body)))
        self.end_headers()
        self.wfile.write(response.body)

    def _send_stream(self, response: SimResponse) -> None:
        """Server-sent events: each chunk as it comes, then the connection closes (no
        length is known in advance)."""
        self.send_response(response.status)
        for name, value in response.headers.items():
            self.send_header(name, value)
        self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True
        assert response.stream is not None
        with contextlib.suppress(OSError):  # the client went away: the stream ends
            for chunk in response.stream:
                self.wfile.write(chunk)
                self.wfile.flush()

    do_GET = _answer
    do_POST = _answer
    do_PUT = _answer  # the queue protocol's cancel

    def log_message(self, format: str, *args: Any) -> None:  # keep test output quiet
        pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    # socketserver's listen backlog is 5: nine downloads and a few polls opening at once
    # overflowed it, and the kernel dropped the extra SYNs, which cost a 1 s retry
    request_queue_size = 128

    def __init__(self, port: int, service: SimulatorService) -> None:
        super().__init__((LOOPBACK, port), _Handler)
        self.service = service
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._connections_lock:
            self._connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._connections_lock:
            self._connections.discard(request)
        super().shutdown_request(request)

    def drop_connections(self) -> None:
        """Close kept-alive connections too: a stopped service answers nothing at all."""
        with self._connections_lock:
            connections = list(self._connections)
        for conn in connections:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)


class SimulatorServer:
    """A running loopback server; ``with SimulatorServer() as sim: sim.url``.

    ``options`` are ``SimulatorService``'s, ``dialect`` among them (``"generation"``,
    ``"queue"`` or ``"both"``, the default: which protocols it answers)."""

    def __init__(
        self, port: int = 0, *, service: SimulatorService | None = None, **options: Any
    ) -> None:
        self.service = service or SimulatorService(**options)
        self._server = _Server(port, self.service)
        self.port = int(self._server.server_address[1])
        self.url = f"http://{LOOPBACK}:{self.port}"
        self.service.base_url = self.url
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.05,), name="kirin-simulator",
            daemon=True,
        )

    def start(self) -> SimulatorServer:
        self._thread.start()
        return self

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._server.drop_connections()
        self._thread.join(timeout=5)

    def serve_forever(self) -> None:
        self._server.serve_forever()

    def __enter__(self) -> SimulatorServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()
