"""Instructions per wrapped call on the calling thread, counted by callgrind (exact, unlike
timings on a loaded machine), and where they go by library.

    python bench/callgrind_call.py [--workload predict|trivial|floor] [--tracing on|off] [--calls 200]

Re-runs itself under ``valgrind --tool=callgrind --instr-atstart=no --separate-threads=yes``:
imports and warm-up run uninstrumented; then N plain and N wrapped calls are counted on the
calling thread only (the core's sender thread is excluded), through a 4-line helper compiled
from ``valgrind/callgrind.h`` (needs valgrind and a C compiler). Prints one JSON object: the
instructions per plain call, per wrapped call, their difference, and the difference split by
object file (Python interpreter, ctypes + libffi, the native core, libc...). The sink is a
file:// endpoint under a temporary directory; PYTHONHASHSEED is 0 unless set.
"""

from __future__ import annotations

import argparse
import collections
import glob
import json
import os
import re
import subprocess
import sys
import tempfile
from typing import Dict, List, Tuple

HELPER_C = r"""
#include <valgrind/callgrind.h>
void cg_start(void) { CALLGRIND_START_INSTRUMENTATION; }
void cg_on(void) { CALLGRIND_ZERO_STATS; CALLGRIND_TOGGLE_COLLECT; }
void cg_off(const char *label) { CALLGRIND_TOGGLE_COLLECT; CALLGRIND_DUMP_STATS_AT(label); }
"""


def child(args: argparse.Namespace) -> None:
    import ctypes
    import gc
    import logging
    import warnings

    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    import dspy
    from dspy.utils import DummyLM

    from raindrop_dspy import RaindropDSPy

    warnings.simplefilter("ignore")
    logging.getLogger("dspy").setLevel(logging.ERROR)
    cg = ctypes.CDLL(args.helper)
    cg.cg_off.argtypes = [ctypes.c_char_p]
    rd = RaindropDSPy(api_key="rk_bench", endpoint="file://" + os.path.join(args.dir, "sink.jsonl"),
                      user_id="bench-user", tracing_enabled=args.tracing == "on")
    dspy.configure(lm=DummyLM({"": {"answer": "x"}}))
    if args.workload == "trivial":
        fixed = dspy.Prediction(answer="x")

        class Trivial(dspy.Module):
            def forward(self, question):
                return fixed

        plain, wrapped = Trivial(), rd.wrap(Trivial())
    elif args.workload == "floor":
        plain, wrapped = dspy.Predict("question -> answer"), floor_wrapper(dspy)
    else:
        plain = dspy.Predict("question -> answer")
        wrapped = rd.wrap(dspy.Predict("question -> answer"))
    q = "What is the capital of France?"
    for _ in range(30):
        plain(question=q)
        wrapped(question=q)
    cg.cg_start()
    for _ in range(10):
        plain(question=q)
        wrapped(question=q)
    # The heap left by the imports and the warm-up moves to the permanent generation, and each
    # measured loop starts from an empty young generation: otherwise a full collection of DSPy's
    # heap (~10-20k instructions per call of the loop it falls in) lands in one loop or the other
    # by chance, and the difference moves by that much from run to run.
    gc.collect()
    gc.freeze()
    for label, fn in (("plain", plain), ("wrapped", wrapped)):
        gc.collect()
        cg.cg_on()
        for _ in range(args.calls):
            fn(question=q)
        cg.cg_off(label.encode())
    rd.shutdown(5000)


def floor_wrapper(dspy):
    """The least a ctypes binding can do around a Predict: time it, read its input, output and
    its LM's last history entry (usage, model), pack them and make one foreign call (a no-op:
    libc's strnlen on the packed struct). No scope for nested calls, no per-LM-call capture, no
    threads, no span: what is left of a wrapped call's cost when everything it promises beyond
    one event is taken away."""
    import ctypes
    import struct
    import time

    libc = ctypes.PyDLL(None)
    call = libc.strnlen
    call.argtypes, call.restype = [ctypes.c_void_p, ctypes.c_size_t], ctypes.c_size_t
    record = struct.Struct("@PLPLqqll")
    off = sys.getsizeof(b"") - 1  # a bytes object's data, from its id
    now = time.time_ns
    inner = dspy.Predict("question -> answer")
    lm = dspy.settings.lm

    def wrapped(**kwargs):
        t0 = now()
        result = inner(**kwargs)
        (text,) = kwargs.values()
        ib = text.encode()
        (out,) = result._store.values()
        ob = out.encode()
        entry = lm.history[-1]
        usage = entry["usage"]
        entry["model"]
        packed = record.pack(id(ib) + off, len(ib), id(ob) + off, len(ob), t0, now(),
                             usage.get("prompt_tokens") or 0, usage.get("completion_tokens") or 0)
        call(id(packed) + off, 8)
        return result

    return wrapped


def totals(path: str) -> "Tuple[List[str], Dict[Tuple[str, str], List[int]]]":
    """Self cost per (object file, function) in one callgrind dump (name compression resolved),
    for every event of the dump (Ir, and with --cache-sim the misses): (event names, costs)."""
    names: Dict[str, Dict[str, str]] = {"ob": {}, "fn": {}}
    out: Dict[Tuple[str, str], List[int]] = {}
    events: List[str] = ["Ir"]
    cur = {"ob": "?", "fn": "?"}
    in_call = False
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            if line.startswith("events:"):
                events = line.split()[1:]
                continue
            if line.startswith(("ob=", "cob=", "fn=", "cfn=", "cfi=", "cfl=")):
                key, _, value = line.strip().partition("=")
                kind = key[-2:]
                if kind not in names:
                    continue
                m = re.match(r"\((\d+)\)(?: (.*))?", value)
                if m:
                    if m.group(2):
                        names[kind][m.group(1)] = m.group(2)
                    value = names[kind].get(m.group(1), "?")
                if key in ("ob", "fn"):
                    cur[key] = value
                continue
            if line.startswith("calls="):
                in_call = True  # the next cost line is the call's inclusive cost: skip it
                continue
            if line[:1].isdigit() or line[:1] in "+-*":
                if in_call:
                    in_call = False
                    continue
                parts = line.split()
                if len(parts) >= 2:
                    k = (os.path.basename(cur["ob"]), cur["fn"])
                    acc = out.get(k)
                    if acc is None:
                        acc = out[k] = [0] * len(events)
                    for i, v in enumerate(parts[1:1 + len(events)]):
                        acc[i] += int(v)
    return events, out


def by_object(costs: "Dict[Tuple[str, str], List[int]]", i: int) -> "collections.Counter[str]":
    out: "collections.Counter[str]" = collections.Counter()
    for (ob, _fn), acc in costs.items():
        out[ob] += acc[i]
    return out


def parent(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as d:
        if args.keep:
            d = args.keep
            os.makedirs(d, exist_ok=True)
        helper = os.path.join(d, "libcgctl.so")
        src = os.path.join(d, "cgctl.c")
        with open(src, "w") as f:
            f.write(HELPER_C)
        subprocess.run(["cc", "-O1", "-shared", "-fPIC", "-o", helper, src], check=True)
        cmd = ["valgrind", "--tool=callgrind", "--instr-atstart=no", "--collect-atstart=no",
               "--separate-threads=yes", f"--callgrind-out-file={d}/cg.out"]
        if args.cache_sim:
            # Last level = this CPU's per-core L2 (1 MiB, 8-way); L1i 32 KiB and L1d 48 KiB as here
            # (callgrind needs power-of-two set counts: L1d simulated as 32 KiB 8-way).
            cmd += ["--cache-sim=yes", "--LL=1048576,8,64"]
        cmd += [sys.executable, __file__,
                "--child", "--helper", helper, "--dir", d, "--workload", args.workload,
                "--tracing", args.tracing, "--calls", str(args.calls)]
        # A fixed string hash seed: dict and set layouts, and so the counts, repeat run to run
        # (with random seeds they vary by ~2-3%).
        env = dict(os.environ, PYTHONHASHSEED=os.environ.get("PYTHONHASHSEED", "0"))
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
        dumps = {}
        events: List[str] = []
        for path in glob.glob(f"{d}/cg.out.*-01"):
            with open(path, encoding="utf-8", errors="replace") as f:
                head = f.read(4096)
            m = re.search(r"^desc: Trigger: Client Request: (\w+)", head, re.M)
            if m and m.group(1) in ("plain", "wrapped"):
                events, dumps[m.group(1)] = totals(path)
        plain, wrapped = dumps["plain"], dumps["wrapped"]
        n = args.calls

        def per_call(i: int) -> Dict[str, object]:
            p, w = by_object(plain, i), by_object(wrapped, i)
            diff = {k: round((w[k] - p[k]) / n) for k in set(p) | set(w)}
            limit = 50 if i == 0 else 1
            diff = {k: v for k, v in sorted(diff.items(), key=lambda kv: -abs(kv[1])) if abs(v) >= limit}
            return {"plain": round(sum(p.values()) / n), "wrapped": round(sum(w.values()) / n),
                    "overhead": round((sum(w.values()) - sum(p.values())) / n), "by_object": diff}

        ir = per_call(0)
        report: Dict[str, object] = {
            "workload": args.workload, "tracing": args.tracing, "calls": n,
            "plain_instructions_per_call": ir["plain"],
            "wrapped_instructions_per_call": ir["wrapped"],
            "overhead_instructions_per_call": ir["overhead"],
            "overhead_by_object": ir["by_object"],
        }
        if args.cache_sim:
            report["misses_per_call"] = {ev: per_call(i) for i, ev in enumerate(events) if ev not in ("Ir", "Dr", "Dw")}
        if args.functions:
            fns: Dict[str, List[float]] = {}
            for k in set(plain) | set(wrapped):
                pc, wc = plain.get(k, [0] * len(events)), wrapped.get(k, [0] * len(events))
                fns[f"{k[0]}:{k[1]}"] = [round((x - y) / n, 1) for x, y in zip(wc, pc)]
            top = sorted(fns.items(), key=lambda kv: -abs(kv[1][0]))[:args.functions]
            report["events"] = events
            report["overhead_by_function"] = dict(top)
            if args.cache_sim:
                for ev in ("I1mr", "D1mr", "D1mw", "ILmr", "DLmr", "DLmw"):
                    if ev in events:
                        i = events.index(ev)
                        report[f"top_{ev}"] = {k: v[i] for k, v in
                                               sorted(fns.items(), key=lambda kv: -abs(kv[1][i]))[:args.functions]}
        print(json.dumps(report))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--workload", choices=("predict", "trivial", "floor"), default="predict")
    ap.add_argument("--tracing", choices=("on", "off"), default="on")
    ap.add_argument("--calls", type=int, default=200)
    ap.add_argument("--keep", help="a directory for the callgrind dumps (callgrind_annotate them)")
    ap.add_argument("--cache-sim", action="store_true",
                    help="simulate caches (I1/D1/LL misses per call; LL = the 1 MiB per-core L2)")
    ap.add_argument("--functions", type=int, default=0, help="also the top N functions by extra cost")
    ap.add_argument("--child", action="store_true")
    ap.add_argument("--helper")
    ap.add_argument("--dir")
    args = ap.parse_args()
    (child if args.child else parent)(args)


if __name__ == "__main__":
    main()
