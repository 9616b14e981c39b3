"""Instructions per wrapped call on the calling thread, counted by callgrind (exact, unlike
timings on a loaded machine), and where they go by library.

    python bench/callgrind_call.py [--workload predict|trivial] [--tracing on|off] [--calls 200]

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


def totals_by_object(path: str) -> "collections.Counter[str]":
    """Self cost (Ir) per object file in one callgrind dump (name compression resolved)."""
    names: dict = {}
    out: "collections.Counter[str]" = collections.Counter()
    ob = "?"
    in_call = False
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            if line.startswith(("ob=", "cob=")):
                key, _, value = line.strip().partition("=")
                m = re.match(r"\((\d+)\)(?: (.*))?", value)
                if m:
                    if m.group(2):
                        names[m.group(1)] = m.group(2)
                    value = names.get(m.group(1), "?")
                if key == "ob":
                    ob = value
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
                    out[os.path.basename(ob)] += int(parts[1])
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
               "--separate-threads=yes", f"--callgrind-out-file={d}/cg.out", sys.executable, __file__,
               "--child", "--helper", helper, "--dir", d, "--workload", args.workload,
               "--tracing", args.tracing, "--calls", str(args.calls)]
        # A fixed string hash seed: dict and set layouts, and so the counts, repeat run to run
        # (with random seeds they vary by ~2-3%).
        env = dict(os.environ, PYTHONHASHSEED=os.environ.get("PYTHONHASHSEED", "0"))
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
        dumps = {}
        for path in glob.glob(f"{d}/cg.out.*-01"):
            with open(path, encoding="utf-8", errors="replace") as f:
                head = f.read(4096)
            m = re.search(r"^desc: Trigger: Client Request: (\w+)", head, re.M)
            if m and m.group(1) in ("plain", "wrapped"):
                dumps[m.group(1)] = totals_by_object(path)
        plain, wrapped = dumps["plain"], dumps["wrapped"]
        n = args.calls
        diff = {k: round((wrapped[k] - plain[k]) / n) for k in set(plain) | set(wrapped)}
        diff = {k: v for k, v in sorted(diff.items(), key=lambda kv: -abs(kv[1])) if abs(v) >= 50}
        print(json.dumps({
            "workload": args.workload, "tracing": args.tracing, "calls": n,
            "plain_instructions_per_call": round(sum(plain.values()) / n),
            "wrapped_instructions_per_call": round(sum(wrapped.values()) / n),
            "overhead_instructions_per_call": round((sum(wrapped.values()) - sum(plain.values())) / n),
            "overhead_by_object": diff,
        }))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--workload", choices=("predict", "trivial"), default="predict")
    ap.add_argument("--tracing", choices=("on", "off"), default="on")
    ap.add_argument("--calls", type=int, default=200)
    ap.add_argument("--keep", help="a directory for the callgrind dumps (callgrind_annotate them)")
    ap.add_argument("--child", action="store_true")
    ap.add_argument("--helper")
    ap.add_argument("--dir")
    args = ap.parse_args()
    (child if args.child else parent)(args)


if __name__ == "__main__":
    main()
