"""The tests' loopback Raindrop API: the repository's one test sink program
(``examples/sink.rs``, built as ``target/release/examples/sink``; see tests/README.md).

The native core talks real HTTP to it (no mocks of the network layer). The sink appends every
request to a dump file (one JSON line: method, path, route, headers, body); this class reads it.
Replies are scripted through the sink's control endpoint (``script``, ``release``).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import time
import urllib.request
from typing import Any, Dict, List, Optional

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
PROGRAM = os.environ.get("RD_SINK") or os.path.join(ROOT, "target", "release", "examples", "sink")


class Captured:
    def __init__(self, line: Dict[str, Any]) -> None:
        self.route: str = line["route"]
        self.path: str = line["path"]
        self.headers: Dict[str, str] = line["headers"]
        self.raw: bytes = line["body"].encode("utf-8")
        try:
            self.body: Any = json.loads(line["body"]) if line["body"] else None
        except ValueError:
            self.body = None

    def __repr__(self) -> str:
        return f"Captured({self.route!r}, {self.body!r})"


class Sink:
    def __init__(self) -> None:
        if not os.access(PROGRAM, os.X_OK):
            raise RuntimeError(f"{PROGRAM} is missing: cargo build --release --example sink (make sink)")
        self._dir = tempfile.mkdtemp(prefix="rd-sink-")
        self._dump = os.path.join(self._dir, "requests.jsonl")
        port_file = os.path.join(self._dir, "port")
        # --exit-on-eof: the sink ends with this process, however it ends.
        self._proc = subprocess.Popen([PROGRAM, "--port-file", port_file, "--dump", self._dump, "--exit-on-eof"],
                                      stdin=subprocess.PIPE, stdout=subprocess.DEVNULL)
        deadline = time.monotonic() + 30
        while not os.path.exists(port_file):
            if self._proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the sink did not start (exit code {self._proc.poll()})")
            time.sleep(0.01)
        with open(port_file) as f:
            self.port = int(f.read())
        self.url = f"http://127.0.0.1:{self.port}/v1/"
        self._final: Optional[List[Captured]] = None

    # -- control ----------------------------------------------------------------
    def _control(self, what: str, body: Any = None) -> None:
        data = json.dumps(body or {}).encode()
        req = urllib.request.Request(f"http://127.0.0.1:{self.port}/_sink/{what}", data=data, method="POST")
        with urllib.request.urlopen(req, timeout=10) as r:
            assert r.status == 200, r.read()

    def script(self, route: str = "*", replies: Optional[List[dict]] = None, fallback: Optional[dict] = None) -> None:
        """Queue ``replies`` on ``route`` ("*": any route), or set its ``fallback`` reply."""
        body: Dict[str, Any] = {"route": route}
        if replies is not None:
            body["replies"] = replies
        if fallback is not None:
            body["fallback"] = fallback
        self._control("script", body)

    def release(self) -> None:
        """Fallbacks back to 200; hanging requests answered."""
        self._control("release")

    def clear(self) -> None:
        """Forget scripts and recorded requests."""
        self._control("reset")

    # -- queries ------------------------------------------------------------------
    @property
    def requests(self) -> List[Captured]:
        if self._final is not None:
            return list(self._final)
        with open(self._dump, encoding="utf-8") as f:
            text = f.read()
        # Only whole lines: the sink may be writing the next one.
        return [Captured(json.loads(line)) for line in text.split("\n")[:-1]]

    def route(self, route: str) -> List[Captured]:
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
            time.sleep(0.01)

    def close(self) -> None:
        """Stops the sink; what it received stays readable."""
        if self._final is None:
            final = self.requests
            self._proc.stdin.close()
            self._proc.wait(timeout=30)
            shutil.rmtree(self._dir, ignore_errors=True)
            self._final = final

    def __enter__(self) -> "Sink":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
