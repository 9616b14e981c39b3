"""A small threaded HTTP server on 127.0.0.1 that records every request.

The native core talks real HTTP to it (no mocks of the network layer). Each
request is stored per route (the path below the base URL, e.g.
``events/track``) with its headers and parsed JSON body. A status code can be
scripted per route to exercise the client's error handling.
"""

from __future__ import annotations

import gzip
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Dict, List


class Captured:
    def __init__(self, route: str, headers: Dict[str, str], raw: bytes) -> None:
        self.route = route
        self.headers = headers
        self.raw = raw
        try:
            self.body: Any = json.loads(raw.decode("utf-8")) if raw else None
        except Exception:
            self.body = None

    def __repr__(self) -> str:
        return f"Captured({self.route!r}, {self.body!r})"


class CaptureServer:
    BASE = "/v1/"

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._cond = threading.Condition(self._lock)
        self.requests: List[Captured] = []
        self.status: Dict[str, int] = {}
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:  # silence
                pass

            def do_POST(self) -> None:  # noqa: N802
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                if self.headers.get("Content-Encoding") == "gzip":
                    raw = gzip.decompress(raw)
                path = self.path.split("?", 1)[0]
                route = path[len(CaptureServer.BASE):] if path.startswith(CaptureServer.BASE) else path.lstrip("/")
                cap = Captured(route, {k.lower(): v for k, v in self.headers.items()}, raw)
                with server._cond:
                    server.requests.append(cap)
                    code = server.status.get(route, 200)
                    server._cond.notify_all()
                body = b"{}"
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}{self.BASE}"
        self._thread = threading.Thread(target=self.httpd.serve_forever, name="capture-server", daemon=True)
        self._thread.start()

    # -- queries ---------------------------------------------------------------
    def clear(self) -> None:
        with self._lock:
            self.requests.clear()
            self.status.clear()

    def route(self, route: str) -> List[Captured]:
        with self._lock:
            return [r for r in self.requests if r.route == route]

    def items(self, route: str) -> List[Any]:
        """Every array item posted to ``route`` (bodies are JSON arrays), in order."""
        out: List[Any] = []
        for r in self.route(route):
            if isinstance(r.body, list):
                out.extend(r.body)
            elif r.body is not None:
                out.append(r.body)
        return out

    def wait_for(self, route: str, count: int, timeout: float = 10.0) -> List[Any]:
        deadline = time.monotonic() + timeout
        while True:
            items = self.items(route)
            if len(items) >= count or time.monotonic() >= deadline:
                return items
            with self._cond:
                self._cond.wait(0.05)

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


if __name__ == "__main__":  # manual use: python capture_server.py
    s = CaptureServer()
    print(s.url, flush=True)
    try:
        while True:
            time.sleep(1)
    except KeyboardInterrupt:
        s.close()
