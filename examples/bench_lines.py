#!/usr/bin/env python3
"""Distinct cache lines and pages one hot-path call touches, from a valgrind memory trace.

bench_hot_path reads two marker statics just before and just after each timed call; with
BENCH_MARKS=1 it prints their addresses. This script reads a lackey trace on stdin and counts,
per call between the markers, the distinct 64-byte lines and 4 KiB pages of instructions and of
data (the markers' own loads excluded). Everything the calling thread runs inside the call is
counted: the library, the allocator, libc (memcpy, clock_gettime), and the caller's own texts
that the call copies.

    W="wrap_begin+wrap_end, 1 thread(s), sink hanging"
    B=target/release/examples/bench_hot_path
    M=$(BENCH_MARKS=1 BENCH_NOPACE=1 BENCH_ONLY="$W" valgrind --tool=none $B 1 2>&1 >/dev/null | grep -m1 ^marks)
    BENCH_NOPACE=1 BENCH_ONLY="$W" valgrind --tool=lackey --trace-mem=yes --log-fd=9 $B 300 9>&1 >/dev/null 2>/dev/null \\
        | python3 examples/bench_lines.py $M

(The markers' addresses differ natively and under valgrind: take them under valgrind, as above.
The trace is piped, never written: it is ~1 GB for 300 calls.)
"""

import sys


def main() -> None:
    args = [a for a in sys.argv[1:] if a != "marks"]
    if len(args) != 2:
        sys.exit("usage: bench_lines.py [marks] BEGIN_ADDRESS END_ADDRESS  (a lackey trace on stdin)")
    begin, end = (int(a, 16) for a in args)
    inside = False
    calls = 0
    totals = [0, 0, 0, 0]  # data lines, code lines, data pages, code pages
    data_lines: set[int] = set()
    code_lines: set[int] = set()
    for line in sys.stdin:
        # Lackey: "I  addr,size" for an instruction, " L addr,size" / " S ..." / " M ..." for data.
        if len(line) < 4 or line[0] == "=":
            continue
        comma = line.find(",")
        if comma < 0:
            continue
        address = int(line[3:comma], 16)
        if line[0] == "I":
            if inside:
                code_lines.add(address >> 6)
            continue
        if address == begin:
            inside = True
            data_lines.clear()
            code_lines.clear()
        elif address == end and inside:
            inside = False
            calls += 1
            for i, n in enumerate(
                (
                    len(data_lines),
                    len(code_lines),
                    len({l >> 6 for l in data_lines}),
                    len({l >> 6 for l in code_lines}),
                )
            ):
                totals[i] += n
        elif inside:
            data_lines.add(address >> 6)
    if calls == 0:
        sys.exit("no call between the markers: wrong addresses?")
    data, code, data_pages, code_pages = (t / calls for t in totals)
    print(
        f"{calls} calls; per call: {data:.1f} data lines, {code:.1f} code lines, "
        f"{data_pages:.1f} data pages, {code_pages:.1f} code pages (4 KiB)"
    )


if __name__ == "__main__":
    main()
