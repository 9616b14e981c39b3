"""Per-call overhead of a wrapped ``dspy.Predict`` over an unwrapped one.

Run it with the Python of the venv whose ``raindrop_dspy`` you want to measure
(this package, or the official ``raindrop-dspy`` in a separate venv): both
expose ``raindrop_dspy.RaindropDSPy``. Both predictors use
``DummyLM({"": {"answer": "x"}})``; plain and wrapped calls are timed in
alternating blocks in the same process, and the overhead is the difference of
the medians of the per-call block means.

    python bench_overhead.py --label native --endpoint http://127.0.0.1:PORT/v1/
    python bench_overhead.py --import-time
    python bench_overhead.py --tracing-compare --module cot --endpoint ...   # this package only

``--tracing-compare`` times, in alternating blocks of one process, a plain
module, the same module wrapped by a client with ``tracing_enabled=False`` and
wrapped by one with tracing on (the default): the added cost of the spans
(sub-modules, LM calls) per wrapped call is the median of (on - off).

Prints one JSON object on stdout.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import statistics
import subprocess
import sys
import time
import warnings


def bench_calls(args: argparse.Namespace) -> dict:
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    import dspy
    from dspy.utils import DummyLM

    warnings.simplefilter("ignore")
    logging.getLogger("dspy").setLevel(logging.ERROR)
    import raindrop_dspy
    from raindrop_dspy import RaindropDSPy

    key = None if args.no_key else "rk_bench"
    rd = RaindropDSPy(api_key=key, endpoint=args.endpoint, user_id="bench-user",
                      tracing_enabled=args.tracing == "on")
    dspy.configure(lm=DummyLM({"": {"answer": "x"}}))
    if args.trivial:
        # No LM at all: isolates the wrapper's own cost with hot caches.
        fixed = dspy.Prediction(answer="x")

        class Trivial(dspy.Module):
            def forward(self, question):
                return fixed

        plain, wrapped = Trivial(), rd.wrap(Trivial())
    else:
        plain = dspy.Predict("question -> answer")
        wrapped = rd.wrap(dspy.Predict("question -> answer"))

    clock = time.thread_time if args.clock == "thread" else time.perf_counter

    def block(fn, n):
        t0 = clock()
        for _ in range(n):
            fn(question="What is the capital of France?")
        return (clock() - t0) / n * 1e6

    for _ in range(args.warmup):
        plain(question="warm")
        wrapped(question="warm")
    p_blocks, w_blocks, diffs = [], [], []
    for i in range(args.blocks):
        # alternate the order so drift and cache effects hit both sides alike
        if i % 2:
            w = block(wrapped, args.block_size)
            p = block(plain, args.block_size)
        else:
            p = block(plain, args.block_size)
            w = block(wrapped, args.block_size)
        p_blocks.append(p)
        w_blocks.append(w)
        diffs.append(w - p)
    t0 = time.perf_counter()
    rd.flush()
    flush_s = time.perf_counter() - t0
    stats = rd.stats() if hasattr(rd, "stats") else {}
    rd.shutdown()
    p_med, w_med = statistics.median(p_blocks), statistics.median(w_blocks)
    return {
        "label": args.label,
        "workload": ("trivial module" if args.trivial else "dspy.Predict + DummyLM") + f", tracing {args.tracing}",
        "package": getattr(raindrop_dspy, "__file__", "?"),
        "package_version": getattr(raindrop_dspy, "__version__", "?"),
        "dspy": dspy.__version__,
        "python": sys.version.split()[0],
        "calls_each": args.blocks * args.block_size,
        "plain_us": round(p_med, 2),
        "wrapped_us": round(w_med, 2),
        "clock": args.clock,
        "overhead_us": round(statistics.median(diffs), 2),
        "overhead_diff_of_medians_us": round(w_med - p_med, 2),
        "overhead_iqr_us": [round(q, 2) for q in statistics.quantiles(diffs, n=4)[::2]],
        "final_flush_s": round(flush_s, 3),
        "delivered": stats.get("delivered"),
    }


def _make_module(dspy, kind: str):
    if kind == "cot":
        return dspy.ChainOfThought("question -> answer")
    return dspy.Predict("question -> answer")


def bench_tracing(args: argparse.Namespace) -> dict:
    """Plain vs wrapped with tracing off vs wrapped with tracing on, same process."""
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    import dspy
    from dspy.utils import DummyLM

    warnings.simplefilter("ignore")
    logging.getLogger("dspy").setLevel(logging.ERROR)
    import raindrop_dspy
    from raindrop_dspy import RaindropDSPy

    key = None if args.no_key else "rk_bench"
    rd_on = RaindropDSPy(api_key=key, endpoint=args.endpoint, user_id="bench-user")
    rd_off = RaindropDSPy(api_key=key, endpoint=args.endpoint, user_id="bench-user", tracing_enabled=False)
    dspy.configure(lm=DummyLM({"": {"reasoning": "r", "answer": "x"}}))
    plain = _make_module(dspy, args.module)
    off = rd_off.wrap(_make_module(dspy, args.module))
    on = rd_on.wrap(_make_module(dspy, args.module))
    clock = time.thread_time if args.clock == "thread" else time.perf_counter

    def block(fn, n):
        t0 = clock()
        for _ in range(n):
            fn(question="What is the capital of France?")
        return (clock() - t0) / n * 1e6

    for _ in range(args.warmup):
        plain(question="warm")
        off(question="warm")
        on(question="warm")
    rows = {"plain": [], "off": [], "on": []}
    orders = (("plain", "off", "on"), ("on", "off", "plain"), ("off", "on", "plain"))
    fns = {"plain": plain, "off": off, "on": on}
    for i in range(args.blocks):
        for name in orders[i % 3]:
            rows[name].append(block(fns[name], args.block_size))
    t0 = time.perf_counter()
    rd_on.flush()
    rd_off.flush()
    flush_s = time.perf_counter() - t0
    stats_on = rd_on.stats()
    rd_on.shutdown()
    rd_off.shutdown()
    med = {k: statistics.median(v) for k, v in rows.items()}
    tracing = [a - b for a, b in zip(rows["on"], rows["off"])]
    return {
        "label": args.label,
        "workload": ("dspy.ChainOfThought" if args.module == "cot" else "dspy.Predict")
        + " + DummyLM, tracing on vs off",
        "package_version": getattr(raindrop_dspy, "__version__", "?"),
        "dspy": dspy.__version__,
        "python": sys.version.split()[0],
        "calls_each": args.blocks * args.block_size,
        "clock": args.clock,
        "plain_us": round(med["plain"], 2),
        "wrapped_tracing_off_us": round(med["off"], 2),
        "wrapped_tracing_on_us": round(med["on"], 2),
        "overhead_tracing_off_us": round(statistics.median([a - b for a, b in zip(rows["off"], rows["plain"])]), 2),
        "overhead_tracing_on_us": round(statistics.median([a - b for a, b in zip(rows["on"], rows["plain"])]), 2),
        "tracing_cost_us": round(statistics.median(tracing), 2),
        "tracing_cost_iqr_us": [round(q, 2) for q in statistics.quantiles(tracing, n=4)[::2]],
        "final_flush_s": round(flush_s, 3),
        "delivered_tracing_on": stats_on.get("delivered"),
    }


def bench_import(args: argparse.Namespace) -> dict:
    """In fresh interpreters: `import dspy`, then time `import raindrop_dspy` on top of it,
    and the constructor (the native binding loads its shared library there)."""
    env = dict(os.environ, LITELLM_LOCAL_MODEL_COST_MAP="True")
    code = (
        "import time, warnings; warnings.simplefilter('ignore'); import dspy; t=time.perf_counter(); "
        "import raindrop_dspy; t1=time.perf_counter(); "
        "rd = raindrop_dspy.RaindropDSPy(api_key='rk', endpoint=%r); t2=time.perf_counter(); "
        "print(t1-t, t2-t1); rd.shutdown()" % (args.endpoint or "http://127.0.0.1:9/v1/",)
    )
    imp, ctor = [], []
    for _ in range(args.import_reps):
        out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
        a, b = out.stdout.strip().splitlines()[-1].split()
        imp.append(float(a))
        ctor.append(float(b))
    return {
        "label": args.label,
        "reps": args.import_reps,
        "import_after_dspy_ms": round(statistics.median(imp) * 1e3, 1),
        "constructor_ms": round(statistics.median(ctor) * 1e3, 1),
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--label", default="raindrop_dspy")
    ap.add_argument("--endpoint", default=None, help="loopback sink base URL")
    ap.add_argument("--no-key", action="store_true", help="construct without an api key")
    ap.add_argument("--warmup", type=int, default=300)
    ap.add_argument("--blocks", type=int, default=60)
    ap.add_argument("--block-size", type=int, default=50)
    ap.add_argument("--clock", choices=("thread", "wall"), default="thread",
                    help="thread: CPU time of the calling thread (robust on a shared machine); wall: perf_counter")
    ap.add_argument("--trivial", action="store_true", help="wrap a module that makes no LM call")
    ap.add_argument("--tracing", choices=("on", "off"), default="on", help="tracing_enabled (default on)")
    ap.add_argument("--import-time", action="store_true")
    ap.add_argument("--tracing-compare", action="store_true",
                    help="this package only: plain vs wrapped with tracing off vs on")
    ap.add_argument("--module", choices=("predict", "cot"), default="predict",
                    help="--tracing-compare workload: dspy.Predict or dspy.ChainOfThought")
    ap.add_argument("--import-reps", type=int, default=7)
    args = ap.parse_args()
    if args.import_time:
        res = bench_import(args)
    elif args.tracing_compare:
        res = bench_tracing(args)
    else:
        res = bench_calls(args)
    print(json.dumps(res))


if __name__ == "__main__":
    main()
