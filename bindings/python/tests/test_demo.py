"""The README's demo runs offline and writes the expected requests."""

from __future__ import annotations

import json
import os
import subprocess
import sys

DEMO = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "examples", "python", "demo.py")


def test_demo_runs_offline(tmp_path):
    sink = tmp_path / "requests.jsonl"
    env = dict(os.environ, RAINDROP_ENDPOINT="http://127.0.0.1:9/v1/")  # must not be used
    proc = subprocess.run([sys.executable, DEMO, "--keep", str(sink)], capture_output=True, text=True,
                          timeout=300, env=env)
    assert proc.returncode == 0, proc.stderr
    lines = [json.loads(line) for line in sink.read_text().splitlines() if line.strip()]
    by_route = {}
    for req in lines:
        body = req["body"]
        by_route.setdefault(req["route"], []).extend(body if isinstance(body, list) else [body])
    events = by_route["events/track"]
    assert len(events) == 4  # 2 sync calls, 1 async call, 1 error
    assert sum(1 for e in events if e["properties"].get("error.type") == "TypeError") == 1
    assert any(e["properties"].get("dspy.finish_reason") == "length" for e in events)
    assert all(e["properties"].get("ai.usage.prompt_tokens", 0) > 0 for e in events
               if "error.type" not in e["properties"])
    assert len(by_route["signals/track"]) == 2
    assert by_route["users/identify"][0]["traits"] == {"name": "Alice", "plan": "pro"}
    assert "event_id=" in proc.stdout
