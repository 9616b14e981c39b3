"""A loopback HTTP sink for Raindrop events, used by run-e2e.sh with RD_E2E_EVENTS=http.

    python3 events_sink.py PORT_FILE OUT_JSONL [LIFETIME_SECONDS]

Listens on 127.0.0.1 (a free port, written to PORT_FILE), answers every POST with 200 and
appends {"path", "authorization", "body"} as one JSON line to OUT_JSONL. Stops by itself after
LIFETIME_SECONDS (default 300) or on SIGTERM.
"""
import json
import os
import signal
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

port_file, out_path = sys.argv[1], sys.argv[2]
lifetime = float(sys.argv[3]) if len(sys.argv) > 3 else 300.0
lock = threading.Lock()


class Handler(BaseHTTPRequestHandler):
    def do_POST(self):  # noqa: N802 (http.server naming)
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        try:
            parsed = json.loads(body)
        except ValueError:
            parsed = body.decode("utf-8", "replace")
        line = {"path": self.path, "authorization": self.headers.get("Authorization"), "body": parsed}
        with lock, open(out_path, "a", encoding="utf-8") as out:
            out.write(json.dumps(line) + "\n")
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *args):
        pass


server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
with open(port_file + ".tmp", "w") as f:
    f.write(str(server.server_address[1]))
os.replace(port_file + ".tmp", port_file)
stop = threading.Event()
signal.signal(signal.SIGTERM, lambda *_: stop.set())
threading.Thread(target=server.serve_forever, daemon=True).start()
stop.wait(lifetime)
server.shutdown()
