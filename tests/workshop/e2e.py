"""Drives and checks the Workshop end-to-end test (run-e2e.sh starts the real Workshop first).

    python3 e2e.py WORKSHOP_BASE_URL PYTHON C_PROGRAM

Starts two loopback servers: the "cloud" sink, which records every request, and a recorder in
front of the Workshop, which records every mirrored request (to check the headers: the Workshop
does not keep them) and forwards it unchanged. Runs the DSPy program (with PYTHON) and the C
program, each with the cloud endpoint on the sink and the mirror on the recorder; then checks:
  * with redact_pii (the Python program), the email address in a question reached neither;
  * the mirror got exactly the cloud's requests (same routes, same bytes), never Authorization,
    always the project header;
  * the Workshop lists one run per wrapped call (GET /api/runs), each (GET /api/runs/detail/<id>)
    with its span tree (one root, every parent known), LM tokens, user and convo, and for the
    failing calls an ERROR span carrying the error text.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Dict, List, Optional, Tuple

HERE = __file__.rsplit("/", 1)[0]


class Recorder:
    """A loopback HTTP server that records (path, headers, body); forwards to `upstream` if set."""

    def __init__(self, upstream: Optional[str] = None) -> None:
        self.requests: List[Tuple[str, Dict[str, str], bytes]] = []
        self.lock = threading.Lock()
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def setup(self) -> None:
                super().setup()
                self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

            def log_message(self, *args: object) -> None:
                pass

            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with recorder.lock:
                    recorder.requests.append((self.path, {k.lower(): v for k, v in self.headers.items()}, body))
                status, answer = 200, b'{"ok":true}'
                if upstream:
                    forward = urllib.request.Request(upstream.rstrip("/") + self.path, data=body, method="POST",
                                                     headers={"Content-Type": "application/json"})
                    try:
                        with urllib.request.urlopen(forward, timeout=10) as response:
                            status, answer = response.status, response.read()
                    except urllib.error.HTTPError as error:
                        status, answer = error.code, error.read()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1/"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


def get(url: str):
    with urllib.request.urlopen(url, timeout=10) as response:
        return json.load(response)


def run(command: List[str]) -> Dict[str, str]:
    """Runs one program; returns its calls (name -> event id)."""
    done = subprocess.run(command, capture_output=True, text=True, timeout=300)
    if done.returncode != 0:
        raise SystemExit(f"{command[-3]} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    return dict(line.split() for line in done.stdout.splitlines() if line.strip())


def main() -> int:
    workshop, python, c_program = sys.argv[1], sys.argv[2], sys.argv[3]
    # Warm the Workshop's ingest paths up: the programs give their mirror 2 s at shutdown, and a
    # cold first request on a loaded machine should not eat into that.
    for route, body in (("traces", b'{"resourceSpans":[]}'), ("events/track", b"[]"), ("signals/track", b"[]"),
                        ("users/identify", b"[]")):
        warm = urllib.request.Request(workshop + route, data=body, method="POST",
                                      headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(warm, timeout=30) as response:
            response.read()
    cloud, mirror = Recorder(), Recorder(upstream=workshop.rstrip("/").removesuffix("/v1"))
    calls = run([python, f"{HERE}/dspy_program.py", cloud.url, mirror.url])
    calls.update(run([c_program, cloud.url, mirror.url]))
    print(f"calls: {calls}")
    failures: List[str] = []

    def expect(ok: bool, message: str) -> None:
        if not ok:
            failures.append(message)

    # 1. the mirror got the cloud's bytes, without the key
    routes_and_bodies = lambda r: sorted((path, body) for path, _, body in r.requests)  # noqa: E731
    cloud_routes = {path for path, _, _ in cloud.requests}
    expect(cloud_routes >= {"/v1/events/track", "/v1/traces"}, f"the cloud sink got only {sorted(cloud_routes)}")
    expect(routes_and_bodies(mirror) == routes_and_bodies(cloud),
           f"mirror and cloud differ: {len(mirror.requests)} vs {len(cloud.requests)} requests, routes "
           f"{sorted(p for p, _, _ in mirror.requests)} vs {sorted(p for p, _, _ in cloud.requests)}")
    for path, headers, _ in mirror.requests:
        expect("authorization" not in headers, f"Authorization reached the Workshop on {path}")
        expect(headers.get("x-raindrop-project-id") == "e2e-proj", f"no project header on {path}")
    for path, headers, _ in cloud.requests:
        expect(headers.get("authorization", "").startswith("Bearer rk_e2e_"), f"no key to the cloud on {path}")

    # redact_pii (the Python program): the address never left the process, its placeholder did
    everything = b"".join(body for _, _, body in cloud.requests + mirror.requests)
    expect(b"jane.doe@example.com" not in everything, "an email address left the process")
    expect(b"<REDACTED_EMAIL>" in everything, "no <REDACTED_EMAIL> placeholder was sent")

    # 2. what the Workshop stored
    api = workshop.rstrip("/").removesuffix("/v1")
    runs = get(f"{api}/api/runs")
    by_event: Dict[str, List[dict]] = {}
    for r in runs:
        by_event.setdefault(r.get("event_id") or "", []).append(r)
    expect(len(runs) == len(calls), f"{len(runs)} runs for {len(calls)} wrapped calls: {runs}")
    for name, event_id in calls.items():
        found = by_event.get(event_id, [])
        if len(found) != 1:
            failures.append(f"{name}: {len(found)} runs with event id {event_id}")
            continue
        run_ = found[0]
        who = "py" if name.startswith("py_") else "c"
        expect(run_.get("user_id") == f"{who}-user", f"{name}: user {run_.get('user_id')!r}")
        expect(run_.get("convo_id") == f"{who}-convo", f"{name}: convo {run_.get('convo_id')!r}")
        detail = get(f"{api}/api/runs/detail/{run_['id']}")
        spans = detail["spans"]
        ids = {s["id"] for s in spans}
        roots = [s for s in spans if not s.get("parent_span_id")]
        expect(len(roots) == 1, f"{name}: {len(roots)} root spans")
        expect(all(s["parent_span_id"] in ids for s in spans if s.get("parent_span_id")),
               f"{name}: a span's parent is missing")
        kinds = [s.get("span_type") for s in spans]
        if name != "py_failed" and name != "c_failed":
            expect(any((s.get("input_tokens") or 0) > 0 and (s.get("output_tokens") or 0) > 0 for s in spans),
                   f"{name}: no span with tokens: {[(s['name'], s.get('input_tokens')) for s in spans]}")
        if name in ("py_react", "c_ok"):
            expect(len(spans) >= 3, f"{name}: only {len(spans)} spans ({kinds})")
            tool = "multiply" if name == "py_react" else "calculator"
            expect(any(s["name"] == tool for s in spans), f"{name}: no {tool} tool span: {[s['name'] for s in spans]}")
        if name.endswith("_failed"):
            text = "please fail" if name == "py_failed" else "division by zero"
            errors = [s for s in spans if s.get("status") == "ERROR"]
            expect(bool(errors), f"{name}: no ERROR span")
            expect(any(text in (s.get("attributes") or "") for s in errors), f"{name}: error text {text!r} missing")
        if name == "py_cot":
            stored = json.dumps(spans)
            expect("<REDACTED_EMAIL>" in stored and "jane.doe@example.com" not in stored,
                   f"{name}: the Workshop does not show the redacted prompt")
        print(f"{name}: run {run_['id'][:12]}…, {len(spans)} spans {sorted(set(map(str, kinds)))}, "
              f"user {run_.get('user_id')}, convo {run_.get('convo_id')}")

    for failure in failures:
        print("FAIL:", failure)
    print(f"workshop e2e: {len(calls)} calls, {len(cloud.requests)} requests mirrored byte for byte, "
          f"{len(failures)} failures")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
