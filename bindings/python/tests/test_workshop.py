"""local_workshop_url and redact_pii from Python: the core mirrors every request to a local
Workshop (here a second loopback sink) and redacts texts on its sender thread."""

from __future__ import annotations

from typing import Iterator

import dspy
import pytest
from sink import Sink

from raindrop_dspy import RaindropDSPy


@pytest.fixture
def workshop() -> Iterator[Sink]:
    s = Sink()
    yield s
    s.close()


@pytest.fixture(autouse=True)
def no_workshop_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("RAINDROP_WRITE_KEY", "RAINDROP_ENDPOINT", "RAINDROP_LOCAL_DEBUGGER", "RAINDROP_WORKSHOP"):
        monkeypatch.delenv(name, raising=False)


def run_once(rd: RaindropDSPy, question: str = "What is 2+2?") -> None:
    rd.wrap(dspy.Predict("question -> answer"))(question=question)
    rd.shutdown()


def requests(server: Sink) -> list:
    return sorted((r.route, r.raw) for r in server.requests)


def test_mirror_gets_the_same_bytes_without_authorization(sink, workshop):
    rd = RaindropDSPy(api_key="rk_test", endpoint=sink.url, project_id="my-proj", local_workshop_url=workshop.url)
    run_once(rd)
    assert {r.route for r in sink.requests} >= {"events/track", "traces"}
    assert requests(workshop) == requests(sink)
    for r in workshop.requests:
        assert "authorization" not in r.headers
        assert r.headers["x-raindrop-project-id"] == "my-proj"
    assert all(r.headers["authorization"] == "Bearer rk_test" for r in sink.requests)


def test_false_turns_the_mirror_off_even_with_the_environment(sink, workshop, monkeypatch):
    monkeypatch.setenv("RAINDROP_LOCAL_DEBUGGER", workshop.url)
    run_once(RaindropDSPy(api_key="rk_test", endpoint=sink.url, local_workshop_url=False))
    run_once(RaindropDSPy(api_key="rk_test", endpoint=sink.url, local_workshop_url=""))
    assert workshop.requests == []
    # None (the default) lets the environment decide.
    run_once(RaindropDSPy(api_key="rk_test", endpoint=sink.url))
    assert workshop.items("events/track")


def test_without_a_key_only_the_workshop_gets_the_events(sink, workshop):
    with pytest.warns(UserWarning):
        rd = RaindropDSPy(api_key="", endpoint=sink.url, local_workshop_url=workshop.url)
    run_once(rd)
    assert sink.requests == []
    (ev,) = workshop.items("events/track")
    assert ev["ai_data"]["input"] == "What is 2+2?"


def test_true_is_not_a_url():
    with pytest.raises(TypeError):
        RaindropDSPy(api_key="rk_test", local_workshop_url=True)


def test_redact_pii_redacts_event_and_span_texts(sink):
    rd = RaindropDSPy(api_key="rk_test", endpoint=sink.url, redact_pii=True, local_workshop_url=False)
    run_once(rd, "mail jane.doe@example.com or call 555-123-4567")
    (ev,) = sink.items("events/track")
    assert ev["ai_data"]["input"] == "mail <REDACTED_EMAIL> or call <REDACTED_PHONE>"
    assert "<REDACTED_EMAIL>" in ev["ai_data"]["output"]  # the offline LM echoes the question
    raw = b"".join(r.raw for r in sink.requests)
    assert b"jane.doe@example.com" not in raw and b"555-123-4567" not in raw
    assert b"<REDACTED_EMAIL>" in b"".join(r.raw for r in sink.route("traces"))


def test_redact_pii_is_off_by_default(sink):
    run_once(RaindropDSPy(api_key="rk_test", endpoint=sink.url, local_workshop_url=False), "mail a@b.io")
    (ev,) = sink.items("events/track")
    assert ev["ai_data"]["input"] == "mail a@b.io"
