"""Constructor, precedence, no-key mode, identify, signals, compatibility surface."""

from __future__ import annotations

import inspect
import logging
import os
import re
import subprocess
import sys
import textwrap
import warnings

import dspy
import pytest

import raindrop_dspy
from raindrop_dspy import RaindropDSPy, _ffi, create_raindrop_dspy

HERE = os.path.dirname(os.path.abspath(__file__))

SEED_PARAMS = [
    "api_key", "user_id", "convo_id", "project_id", "tracing_enabled", "bypass_otel_for_tools",
    "disable_auto_instrument", "event_name", "event_id", "endpoint", "tools", "app_git", "client", "debug",
]
# Beyond the seed, keyword-only and after every seed parameter (issue 12).
EXTRA_PARAMS = [
    "local_workshop_url", "redact_pii", "spool_dir", "spool_max_bytes",
    # every other key of the core's configuration (src/config.rs), issue 10
    "traces_endpoint", "service_name", "tls_roots", "ca_file", "max_queue_items", "max_queue_bytes",
    "max_batch_events", "max_batch_bytes", "flush_interval_ms", "request_timeout_ms", "connect_timeout_ms",
    "retry_initial_backoff_ms", "retry_max_backoff_ms", "retry_after_cap_ms", "retry_budget_ms",
    "shutdown_timeout_ms", "flush_timeout_ms", "max_text_field_chars", "open_call_ttl_ms", "max_open_calls",
    "max_open_call_bytes",
]
# Keys of the core's configuration the binding sets itself (who is calling).
BINDING_KEYS = {"library_name", "library_version", "language"}
CONFIG_RS = os.path.join(HERE, "..", "..", "..", "src", "config.rs")


def test_signature_matches_official():
    for fn in (RaindropDSPy.__init__, create_raindrop_dspy):
        params = inspect.signature(fn).parameters
        names = [n for n in params if n != "self"]
        assert names == SEED_PARAMS + EXTRA_PARAMS
        assert all(params[n].kind is inspect.Parameter.KEYWORD_ONLY for n in EXTRA_PARAMS)
        assert params["tools"].kind is inspect.Parameter.KEYWORD_ONLY
        assert params["event_name"].default == "ai_generation"
        assert params["tracing_enabled"].default is True
        assert params["disable_auto_instrument"].default is True
    sig = inspect.signature(RaindropDSPy.track_signal).parameters
    assert list(sig)[1:4] == ["event_id", "name", "signal_type"]
    assert sig["signal_type"].default == "default"
    for kw in ("timestamp", "properties", "attachment_id", "comment", "after", "sentiment"):
        assert sig[kw].kind is inspect.Parameter.KEYWORD_ONLY


def test_every_core_config_key_is_a_keyword_argument():
    """One source for the keys: the core's RawConfig (src/config.rs). A key the core gains
    fails here until the Python API takes it."""
    with open(CONFIG_RS, encoding="utf-8") as f:
        body = re.search(r"struct RawConfig \{(.*?)\n\}", f.read(), re.S).group(1)
    core_keys = set(re.findall(r"^\s*(\w+): Option<", body, re.M))
    assert len(core_keys) > 30
    params = set(inspect.signature(RaindropDSPy.__init__).parameters) - {"self"}
    assert core_keys - BINDING_KEYS <= params, sorted(core_keys - BINDING_KEYS - params)


@pytest.mark.parametrize("kw", [{"tls_roots": "bogus"}, {"ca_file": "/nonexistent/ca.pem"},
                                {"max_open_call_bytes": 0}, {"max_batch_events": 0}])
def test_core_config_keywords_reach_the_core(sink, kw, monkeypatch):
    """An invalid value is refused by the core itself: one warning, telemetry off, program unaffected."""
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)  # a bundle named there wins over tls_roots
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        rd = RaindropDSPy(api_key="rk_test", endpoint=sink.url, **kw)
    assert not rd.enabled
    msgs = [str(w.message) for w in caught]
    assert any("could not start the native client" in m and next(iter(kw)) in m for m in msgs), msgs
    assert rd.wrap(dspy.Predict("question -> answer"))(question="k").answer == "echo: k"


def test_max_open_calls_keyword_bounds_open_calls(make_rd, get_events):
    """max_open_calls=1: the nested wrapped call is refused by the core (and runs untraced)."""
    rd = make_rd(max_open_calls=1, tls_roots="platform", request_timeout_ms=5000)
    inner = rd.wrap(dspy.Predict("question -> answer"))

    class Outer(dspy.Module):
        def forward(self, question):
            return inner(question=question)

    assert rd.wrap(Outer())(question="q").answer == "echo: q"
    assert [e["ai_data"]["input"] for e in get_events(rd)] == ["q"]
    assert rd.stats()["calls_refused"] == 1


def test_package_is_typed():
    assert os.path.isfile(os.path.join(os.path.dirname(raindrop_dspy.__file__), "py.typed"))


GEN = os.path.join(HERE, "..", "tools", "gen_bindings.py")
HEADER = os.path.join(HERE, "..", "..", "..", "include", "raindrop_dspy.h")


def test_bindings_are_generated_from_the_header(tmp_path):
    """_bindings.py is what gen_bindings.py makes of the header (make check-header runs the
    same check), and a header change makes it stale."""
    assert subprocess.run([sys.executable, GEN, "--check"], capture_output=True).returncode == 0
    with open(HEADER, encoding="utf-8") as f:
        header = f.read()
    changed = tmp_path / "raindrop_dspy.h"
    changed.write_text(header.replace("#define RD_EVENT_ID_BUF_LEN 257", "#define RD_EVENT_ID_BUF_LEN 258"))
    proc = subprocess.run([sys.executable, GEN, "--check", "--header", str(changed)], capture_output=True, text=True)
    assert proc.returncode == 1 and "stale" in proc.stderr
    assert _ffi.RD_EVENT_ID_BUF_LEN == 257 and _ffi.RD_OK == 0


def test_generator_refuses_what_it_does_not_understand(tmp_path):
    with open(HEADER, encoding="utf-8") as f:
        header = f.read()
    odd = tmp_path / "raindrop_dspy.h"
    odd.write_text(header.replace("rd_result rd_flush(rd_client client,", "rd_result rd_flush(float client,"))
    proc = subprocess.run([sys.executable, GEN, "--header", str(odd), "--output", str(tmp_path / "out.py")],
                          capture_output=True, text=True)
    assert proc.returncode != 0 and "unknown type" in proc.stderr


def test_handles_are_distinct_types(rd):
    """rd_client and rd_call are distinct ctypes types, as in C: one passed for the other, or a
    plain int, is refused by ctypes before the core is called (issue 10)."""
    import ctypes

    lib = rd._native.lib
    client = rd._native._handle
    assert type(client) is _ffi.rd_client and client.id
    call = _ffi.rd_call(client.id)
    for fn in (lib.rd_flush, lib.rd_get_stats):
        with pytest.raises(ctypes.ArgumentError, match="rd_client"):
            fn(call, 0, None) if fn is lib.rd_flush else fn(call, None, None)
        with pytest.raises(ctypes.ArgumentError):
            fn(client.id, 0, None) if fn is lib.rd_flush else fn(client.id, None, None)
    for end in (lib.rd_wrap_end, lib.hot_wrap_end, lib.rd_span_end):
        with pytest.raises(ctypes.ArgumentError, match="rd_call"):
            end(client, client, None, None)
    with pytest.raises(ctypes.ArgumentError, match="rd_client"):
        lib.hot_span_record(call, call, 1, b"lm", 2, None, 0, 0, 0, None, None)
    # the right types reach the core: an unknown call is the core's answer
    assert lib.rd_wrap_end(client, _ffi.rd_call(12345), None, None) == _ffi.RD_ERR_INVALID_HANDLE


def test_ffi_prototypes_all_declared():
    lib = _ffi.load()
    for name, (restype, argtypes) in _ffi.FUNCTIONS.items():
        if name in lib.missing:
            continue
        fn = getattr(lib, name)
        assert fn.restype is restype
        assert fn.argtypes == argtypes
    assert raindrop_dspy.native_library_version()


def test_no_key_warns_once_and_program_unaffected(sink, monkeypatch):
    monkeypatch.delenv("RAINDROP_WRITE_KEY", raising=False)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        rd = RaindropDSPy(endpoint=sink.url)
        wrapped = rd.wrap(dspy.Predict("question -> answer"))
        for _ in range(3):
            assert wrapped(question="k").answer == "echo: k"
        rd.identify("u", {"x": 1})
        rd.track_signal("e", "thumbs_up")
        rd.flush()
        rd.shutdown()
    msgs = [str(w.message) for w in caught if "api_key" in str(w.message)]
    assert msgs == ["[raindrop-dspy] api_key not provided; telemetry shipping is disabled"]
    assert not rd.enabled
    assert sink.requests == []


def test_env_key_and_endpoint(sink, monkeypatch, get_events):
    monkeypatch.setenv("RAINDROP_WRITE_KEY", "rk_env")
    monkeypatch.setenv("RAINDROP_ENDPOINT", sink.url)
    rd = RaindropDSPy()
    try:
        rd.wrap(dspy.Predict("question -> answer"))(question="env")
        assert len(get_events(rd)) == 1
        req = sink.route("events/track")[0]
        assert req.headers["authorization"] == "Bearer rk_env"
    finally:
        rd.shutdown()


def test_explicit_arguments_win_over_env(sink, monkeypatch, get_events):
    monkeypatch.setenv("RAINDROP_WRITE_KEY", "rk_env")
    monkeypatch.setenv("RAINDROP_ENDPOINT", "http://127.0.0.1:9/v1/")  # nothing listens there
    rd = RaindropDSPy(api_key="rk_arg", endpoint=sink.url)
    try:
        rd.wrap(dspy.Predict("question -> answer"))(question="arg")
        assert len(get_events(rd)) == 1
        assert sink.route("events/track")[0].headers["authorization"] == "Bearer rk_arg"
    finally:
        rd.shutdown()


def test_explicit_empty_key_disables_even_with_env(sink, monkeypatch):
    monkeypatch.setenv("RAINDROP_WRITE_KEY", "rk_env")
    with pytest.warns(UserWarning, match="api_key not provided"):
        rd = RaindropDSPy(api_key="", endpoint=sink.url)
    assert not rd.enabled


def test_project_id_header(make_rd, sink, get_events):
    rd = make_rd(project_id="my-project")
    rd.wrap(dspy.Predict("question -> answer"))(question="p")
    get_events(rd)
    assert sink.route("events/track")[0].headers.get("x-raindrop-project-id") == "my-project"


def test_identify(rd, sink):
    rd.identify("user-123", traits={"name": "Alice", "plan": "pro", "seats": 3, "beta": True, "score": 0.5})
    rd.flush()
    (item,) = sink.items("users/identify")
    assert item["user_id"] == "user-123"
    assert item["traits"] == {"name": "Alice", "plan": "pro", "seats": 3, "beta": True, "score": 0.5}


def test_identify_without_traits(rd, sink):
    rd.identify("user-9")
    rd.flush()
    (item,) = sink.items("users/identify")
    assert item["traits"] == {}


def test_track_signal_all_kinds(rd, sink):
    rd.track_signal(event_id="evt-abc", name="thumbs_up")
    rd.track_signal(event_id="evt-abc", name="user_rating", signal_type="feedback",
                    sentiment="POSITIVE", comment="Great response!")
    rd.track_signal(event_id="evt-abc", name="user_edit", signal_type="edit",
                    after="The corrected response text")
    rd.track_signal("evt-abc", "rich", "default", timestamp="2026-03-02T08:20:00Z",
                    properties={"source": "ui", "n": 2}, attachment_id="att-1", sentiment="NEGATIVE")
    rd.flush()
    items = sink.items("signals/track")
    assert len(items) == 4
    basic, fb, edit, rich = items
    assert basic["event_id"] == "evt-abc" and basic["signal_name"] == "thumbs_up"
    assert basic.get("signal_type", "default") == "default"
    assert fb["signal_type"] == "feedback" and fb["sentiment"] == "POSITIVE"
    assert fb["properties"]["comment"] == "Great response!"
    assert edit["signal_type"] == "edit" and edit["properties"]["after"] == "The corrected response text"
    assert rich["timestamp"].startswith("2026-03-02T08:20:00")
    assert rich["properties"]["source"] == "ui" and rich["properties"]["n"] == 2
    assert rich["attachment_id"] == "att-1" and rich["sentiment"] == "NEGATIVE"


def test_signal_for_wrapped_event(rd, sink):
    rd.wrap(dspy.Predict("question -> answer"))(question="rate me")
    rd.track_signal(rd.last_event_id, "thumbs_down", "feedback", comment="wrong", sentiment="NEGATIVE")
    rd.flush()
    (sig,) = sink.items("signals/track")
    (ev,) = sink.items("events/track")
    assert sig["event_id"] == ev["event_id"]


def test_invalid_signal_logged_not_raised(rd, sink, caplog):
    caplog.set_level(logging.WARNING, logger="raindrop_dspy")
    rd.track_signal("evt", "x", signal_type="bogus")  # type: ignore[arg-type]
    rd.track_signal("evt", "x", sentiment="MEH")  # type: ignore[arg-type]
    rd.track_signal("evt", "x", signal_type="feedback")  # feedback needs a comment
    rd.track_signal("", "x")
    rd.flush()
    assert sink.items("signals/track") == []
    assert "track_signal" in caplog.text


def test_deprecated_item_access(rd):
    with pytest.warns(DeprecationWarning, match=r'raindrop\["wrap"\] is deprecated'):
        wrap = rd["wrap"]
    assert wrap == rd.wrap
    with pytest.warns(DeprecationWarning):
        assert rd["flush"] == rd.flush
    with pytest.warns(DeprecationWarning):
        assert rd["shutdown"] == rd.shutdown
    with pytest.raises(KeyError):
        rd["identify"]


def test_create_raindrop_dspy(sink, get_events):
    rd = create_raindrop_dspy(api_key="rk_f", user_id="user-123", tracing_enabled=True,
                              bypass_otel_for_tools=True, endpoint=sink.url)
    try:
        assert isinstance(rd, RaindropDSPy)
        rd.wrap(dspy.Predict("question -> answer"))(question="factory")
        (ev,) = get_events(rd)
        assert ev["user_id"] == "user-123"
    finally:
        rd.shutdown()


def test_ignored_compat_arguments(make_rd, get_events):
    rd = make_rd(disable_auto_instrument=False, app_git=False, client=object(), tools=[], debug=True)
    rd.wrap(dspy.Predict("question -> answer"))(question="compat")
    assert len(get_events(rd)) == 1
    assert logging.getLogger("raindrop_dspy").level == logging.DEBUG
    logging.getLogger("raindrop_dspy").setLevel(logging.NOTSET)


def test_context_manager(sink, get_events):
    with RaindropDSPy(api_key="rk", endpoint=sink.url) as rd:
        rd.wrap(dspy.Predict("question -> answer"))(question="with")
    assert not rd.enabled
    assert len(sink.items("events/track")) == 1


def test_stats(rd):
    rd.wrap(dspy.Predict("question -> answer"))(question="s")
    rd.flush()
    st = rd.stats()
    if st:
        assert st["delivered"] >= 1


def test_core_warnings_reach_the_logger_once(sink, caplog, capfd):
    """A full queue is warned about by the core, once, through the log callback: on the
    raindrop_dspy logger, not on stderr, and not a second time by the binding."""
    from raindrop_dspy._client import NativeClient

    caplog.set_level(logging.DEBUG, logger="raindrop_dspy")
    nc = NativeClient({"api_key": "rk_test", "endpoint": sink.url, "max_queue_items": 1})
    try:
        results = [nc.track({"event": "e", "input": "x"}) for _ in range(200)]
        assert None in results  # some were dropped: the queue holds one item
        warnings_ = [r for r in caplog.records if r.levelno >= logging.WARNING]
        assert len(warnings_) == 1, [r.getMessage() for r in warnings_]
        assert "queue full" in warnings_[0].getMessage()
        assert "[raindrop_dspy]" not in capfd.readouterr().err
    finally:
        nc.shutdown(2000)


def test_stats_readable_after_shutdown(rd):
    rd.wrap(dspy.Predict("question -> answer"))(question="count me")
    rd.shutdown()
    st = rd.stats()
    assert st["queued"] >= 1
    assert st["delivered"] + st["dropped_shutdown"] == st["queued"]


def test_result_names_come_from_the_core(rd, caplog):
    caplog.set_level(logging.WARNING, logger="raindrop_dspy")
    assert _ffi.result_name(rd._native.lib, _ffi.RD_ERR_QUEUE_FULL) == "RD_ERR_QUEUE_FULL"
    rd._native.report(_ffi.RD_ERR_INVALID_JSON, "rd_wrap_end")
    assert "RD_ERR_INVALID_JSON" in caplog.text


def _run(code: str, env_extra: dict) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    env.update(env_extra)
    env["PYTHONPATH"] = HERE + os.pathsep + env.get("PYTHONPATH", "")
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], env=env, capture_output=True,
                          text=True, timeout=240)


def test_atexit_drains(sink):
    proc = _run(
        f"""
        import dspy
        from engines import script_lm
        from raindrop_dspy import RaindropDSPy
        dspy.configure(lm=script_lm())
        rd = RaindropDSPy(api_key="rk", endpoint={sink.url!r})
        w = rd.wrap(dspy.Predict("question -> answer"))
        for i in range(5):
            w(question=f"exit {{i}}")
        # no flush, no shutdown: the atexit hook drains
        """,
        {},
    )
    assert proc.returncode == 0, proc.stderr
    assert sorted(e["ai_data"]["input"] for e in sink.items("events/track")) == [f"exit {i}" for i in range(5)]


def test_missing_library_is_a_warning(sink):
    proc = _run(
        f"""
        import warnings, dspy
        from engines import script_lm
        dspy.configure(lm=script_lm())
        with warnings.catch_warnings(record=True) as w:
            warnings.simplefilter("always")
            from raindrop_dspy import RaindropDSPy
            rd = RaindropDSPy(api_key="rk", endpoint={sink.url!r})
        print(rd.wrap(dspy.Predict("question -> answer"))(question="works").answer)
        print([str(x.message) for x in w])
        """,
        {"RAINDROP_DSPY_LIBRARY": "/nonexistent/libraindrop_dspy.so"},
    )
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout.splitlines()
    assert out[0] == "echo: works"
    assert "RAINDROP_DSPY_LIBRARY" in out[1] and "disabled" in out[1]


def test_missing_library_error_message(monkeypatch):
    monkeypatch.setenv(_ffi.ENV_LIBRARY, "/nonexistent/lib.so")
    monkeypatch.setattr(_ffi, "_LIB", None)
    with pytest.raises(_ffi.LibraryNotFoundError, match="does not name an existing file"):
        _ffi.load()
