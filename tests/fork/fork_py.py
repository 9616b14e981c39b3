"""Fork safety from Python (issue 13 #1): fork repeatedly while 4 threads make wrapped DSPy calls
and flush. Every child must finish within its timeout: in the child the binding recreates its
client, a wrapped call works, and the parent's client is harmless.

    python fork_py.py FORKS SINK_DIR      exits 0 when no child hung or failed
"""

import logging
import os
import signal
import sys
import threading
import time

import dspy
from dspy.utils import DummyLM

from raindrop_dspy import RaindropDSPy

logging.getLogger("raindrop_dspy").setLevel(logging.ERROR)  # flush timeouts under load are expected

THREADS = 4
CHILD_TIMEOUT_S = 10.0


def main() -> int:
    forks = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    sink_dir = sys.argv[2] if len(sys.argv) > 2 else "/tmp"
    dspy.configure(lm=DummyLM({"": {"answer": "x"}}))
    rd = RaindropDSPy(api_key="k", endpoint=f"file://{sink_dir}/py-parent.jsonl", tracing_enabled=True)
    wrapped = rd.wrap(dspy.Predict("question -> answer"))
    stop = threading.Event()

    def caller(n: int) -> None:
        while not stop.is_set():
            wrapped(question=f"thread {n}")
            if n % 2 == 0:
                rd.flush(50)

    threads = [threading.Thread(target=caller, args=(n,), daemon=True) for n in range(THREADS)]
    for t in threads:
        t.start()
    time.sleep(0.2)

    hung = failed = 0
    slowest = 0.0
    started = time.monotonic()
    for i in range(forks):
        forked_at = time.monotonic()
        pid = os.fork()
        if pid == 0:
            signal.alarm(int(CHILD_TIMEOUT_S) + 5)  # a backstop should the parent be gone
            code = 1
            try:
                code = 0 if wrapped(question=f"child {i}").answer == "x" else 2
                rd.flush(5000)
            finally:
                os._exit(code)
        status = None
        while time.monotonic() - forked_at < CHILD_TIMEOUT_S:
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                break
            status = None
            time.sleep(0.001)
        if status is None:
            hung += 1
            print(f"child {i} hung (pid {pid}): killed", file=sys.stderr)
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
        elif os.waitstatus_to_exitcode(status) != 0:
            failed += 1
            print(f"child {i} failed: {os.waitstatus_to_exitcode(status)}", file=sys.stderr)
        slowest = max(slowest, time.monotonic() - forked_at)
    stop.set()
    for t in threads:
        t.join()
    rd.shutdown()
    print(
        f"fork_py: {forks} forks with {THREADS} threads calling: {hung} hung, {failed} failed; "
        f"{(time.monotonic() - started) * 1000:.0f} ms in all, slowest child {slowest * 1000:.0f} ms"
    )
    return 1 if hung or failed else 0


if __name__ == "__main__":
    sys.exit(main())
