"""spool_dir from Python: with the sink down, a wrapped call's event and spans wait in the spool
across a shutdown; the next client opening the directory sends them, once, with the same ids."""

from __future__ import annotations

import socket
import time

import dspy
import pytest

from raindrop_dspy import RaindropDSPy


@pytest.fixture(autouse=True)
def no_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("RAINDROP_WRITE_KEY", "RAINDROP_ENDPOINT", "RAINDROP_LOCAL_DEBUGGER", "RAINDROP_WORKSHOP"):
        monkeypatch.delenv(name, raising=False)


def dead_url() -> str:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return f"http://127.0.0.1:{port}/v1/"


def wait_for(pred, what: str) -> None:
    deadline = time.monotonic() + 30
    while not pred():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.01)


def test_spool_keeps_events_across_an_outage_and_replays_them_once(sink, tmp_path):
    spool = tmp_path / "spool"
    down = RaindropDSPy(api_key="rk_test", endpoint=dead_url(), spool_dir=spool, local_workshop_url=False)
    down.wrap(dspy.Predict("question -> answer"))(question="kept across the outage")
    down.flush(200)
    wait_for(lambda: down.stats().get("spooled", 0) >= 2, "the event and its span in the spool")
    assert down.stats()["delivered"] == 0
    down.shutdown(200)
    assert list(spool.glob("*.seg")), "the batches stay in the spool"

    up = RaindropDSPy(api_key="rk_test", endpoint=sink.url, spool_dir=str(spool), local_workshop_url=False)
    wait_for(lambda: sink.items("events/track"), "the replayed event")
    wait_for(lambda: up.stats().get("spool_pending", 1) == 0, "the spool to empty")
    assert up.stats()["replayed"] >= 2
    up.shutdown()
    (ev,) = sink.items("events/track")
    assert ev["ai_data"]["input"] == "kept across the outage"
    assert not list(spool.glob("*.seg"))


def test_spool_is_off_by_default(sink, tmp_path):
    rd = RaindropDSPy(api_key="rk_test", endpoint=sink.url, local_workshop_url=False)
    rd.wrap(dspy.Predict("question -> answer"))(question="q")
    rd.flush()
    assert rd.stats()["spooled"] == 0
    rd.shutdown()
