"""Loopback HTTP sink for the archive tests: records every POST as one JSON line.

    python3 sink.py PORT_FILE LOG_FILE

Listens on 127.0.0.1 (an ephemeral port, written to PORT_FILE once listening) and appends
{"route": ..., "body": ...} per request to LOG_FILE, answering 200 with "{}". Programs under
wine and qemu reach it like native ones. Runs until killed.
"""

import json
import os
import socket
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

LOCK = threading.Lock()

class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def setup(self):
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, *args):
        pass

    def do_POST(self):  # noqa: N802
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        try:
            body = json.loads(raw)
        except ValueError:
            body = raw.decode("utf-8", "replace")
        route = self.path.split("?", 1)[0].rstrip("/").rsplit("/v1/", 1)[-1].lstrip("/")
        with LOCK, open(sys.argv[2], "a", encoding="utf-8") as log:
            log.write(json.dumps({"route": route, "body": body}) + "\n")
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")

server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
with open(sys.argv[1] + ".tmp", "w") as f:
    f.write(str(server.server_address[1]))

os.replace(sys.argv[1] + ".tmp", sys.argv[1])
server.serve_forever()
