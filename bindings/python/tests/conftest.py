from __future__ import annotations

import os
import sys
import tempfile

# Offline everywhere: LiteLLM must not fetch its price map, DSPy's disk cache
# goes to a private folder.
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
os.environ.setdefault("DSPY_CACHEDIR", tempfile.mkdtemp(prefix="rd-dspy-cache-"))
os.environ.pop("RAINDROP_WRITE_KEY", None)
os.environ.pop("RAINDROP_ENDPOINT", None)
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from typing import Any, Callable, Iterator, List  # noqa: E402

import dspy  # noqa: E402
import pytest  # noqa: E402
from engines import script_lm  # noqa: E402
from sink import Sink  # noqa: E402

from raindrop_dspy import RaindropDSPy  # noqa: E402


@pytest.fixture(scope="session")
def server() -> Iterator[Sink]:
    s = Sink()
    yield s
    s.close()


@pytest.fixture
def sink(server: Sink) -> Sink:
    server.clear()
    return server


@pytest.fixture
def make_rd(sink: Sink, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., RaindropDSPy]]:
    monkeypatch.delenv("RAINDROP_WRITE_KEY", raising=False)
    monkeypatch.delenv("RAINDROP_ENDPOINT", raising=False)
    created: List[RaindropDSPy] = []

    def make(**kw: Any) -> RaindropDSPy:
        kw.setdefault("api_key", "rk_test")
        kw.setdefault("endpoint", sink.url)
        rd = RaindropDSPy(**kw)
        created.append(rd)
        return rd

    yield make
    for rd in created:
        rd.shutdown()


@pytest.fixture
def rd(make_rd: Callable[..., RaindropDSPy]) -> RaindropDSPy:
    return make_rd(user_id="user-123", convo_id="convo-456")


@pytest.fixture(autouse=True)
def lm() -> Iterator[dspy.LM]:
    """Every test runs with an offline LM reporting usage 11/7 and finish 'stop'."""
    lm = script_lm()
    dspy.configure(lm=lm, adapter=None, track_usage=False)
    yield lm
    dspy.configure(lm=None, track_usage=False)


def events(rd: RaindropDSPy, sink: Sink) -> List[dict]:
    rd.flush()
    return sink.items("events/track")


@pytest.fixture
def get_events(sink: Sink) -> Callable[[RaindropDSPy], List[dict]]:
    return lambda rd: events(rd, sink)
