"""Where a wrapped ``dspy.Predict`` call's overhead goes, piece by piece, inside real calls.

Each piece of the binding's hot path (and each foreign call) is timed with
``perf_counter_ns`` around it while wrapped Predict calls run (DummyLM); the medians per call
are printed, together with the same pieces timed alone in a hot loop (warm caches). The
timers add ~0.1 µs each; the native rows are the ctypes conversion plus the core's work on
the calling thread.

    python bench/profile_call.py --endpoint http://127.0.0.1:PORT/v1/ [--tracing off]
"""

from __future__ import annotations

import argparse
import logging
import os
import statistics
import time
import warnings


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--endpoint", required=True)
    ap.add_argument("--tracing", choices=("on", "off"), default="on")
    ap.add_argument("--calls", type=int, default=3000)
    args = ap.parse_args()
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    import dspy
    from dspy.utils import DummyLM

    from raindrop_dspy import RaindropDSPy, _trace, wrapper

    warnings.simplefilter("ignore")
    logging.getLogger("dspy").setLevel(logging.ERROR)
    dspy.configure(lm=DummyLM({"": {"answer": "x"}}))
    rd = RaindropDSPy(api_key="rk_bench", endpoint=args.endpoint, user_id="bench-user",
                      tracing_enabled=args.tracing == "on")
    clock = time.perf_counter_ns
    samples: dict = {}

    def timed(name, fn):
        lst = samples.setdefault(name, [])

        def run(*a, **k):
            t = clock()
            r = fn(*a, **k)
            lst.append(clock() - t)
            return r

        return run

    lib = rd._native.lib
    for n in ("hot_wrap_begin_packed", "hot_wrap_end_packed", "hot_span_record_packed", "hot_lm_span_record"):
        if getattr(lib, n, None) is not None:
            setattr(lib, n, timed(f"native {n[4:]} (ctypes + core)", getattr(lib, n)))
    # The helpers below only run off the fast paths (a one-string input, a one-field Prediction,
    # plain role/content messages, a usual history entry): a Predict call usually shows none.
    rd._begin = timed("begin: whole (incl. native)", rd._begin)
    wrapper.CallFrame.end = timed("end: whole (incl. native)", wrapper.CallFrame.end)
    _trace.record_lm = timed("LM call: whole (incl. native)", _trace.record_lm)
    _trace.messages_json = timed("  LM: messages -> JSON", _trace.messages_json)
    _trace.lm_entry = timed("  LM: usage/model/finish from entry", _trace.lm_entry)
    _trace.pack_record = timed("  LM: rd_span_record_args fill", _trace.pack_record)
    wrapper.input_text = timed("  begin: input text", wrapper.input_text)
    wrapper.output_text = timed("  end: output text", wrapper.output_text)
    wrapped = rd.wrap(dspy.Predict("question -> answer"))
    for _ in range(300):
        wrapped(question="What is the capital of France?")
    for v in samples.values():
        v.clear()
    for _ in range(args.calls):
        wrapped(question="What is the capital of France?")
    print(f"tracing {args.tracing}: median per wrapped Predict call, inside real calls (perf_counter_ns)")
    for name, v in samples.items():
        if v:
            print(f"  {name:40s} {statistics.median(v) / 1000:6.2f} µs  ({len(v) / args.calls:.0f} per call)")
    rd.shutdown(2000)


if __name__ == "__main__":
    main()
