package raindrop

// The C baseline of the Go benchmarks (bench_test.go): the same rd_* calls a
// wrapped call makes, in a C loop, so that the benchmark shows what the Go
// layer adds. _test.go files cannot use cgo, hence this file.

/*
#include <string.h>
#include "raindrop_dspy.h"

#ifdef _WIN32
#include <windows.h>
// Windows has no CLOCK_THREAD_CPUTIME_ID: kernel + user time, in 100 ns units.
static long long rd_go_thread_cpu_ns(void) {
	FILETIME created, exited, kernel, user;
	if (!GetThreadTimes(GetCurrentThread(), &created, &exited, &kernel, &user)) return 0;
	unsigned long long k = ((unsigned long long)kernel.dwHighDateTime << 32) | kernel.dwLowDateTime;
	unsigned long long u = ((unsigned long long)user.dwHighDateTime << 32) | user.dwLowDateTime;
	return (long long)((k + u) * 100);
}
#else
#include <time.h>
static long long rd_go_thread_cpu_ns(void) {
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}
#endif

// One top-level call (begin + end with the given input and output), and with
// nested != 0 a nested call and an LM span inside it, n times.
static int rd_go_c_baseline(rd_client c, int n, int nested, const char *in, size_t in_len,
                            const char *out, size_t out_len) {
	for (int i = 0; i < n; i++) {
		rd_call none, top, mid, lm;
		rd_error e;
		char id[RD_EVENT_ID_BUF_LEN];
		rd_call_result r;
		memset(&none, 0, sizeof none);
		if (rd_wrap_begin(c, none, "bench", 5, in, in_len, NULL, &top, id, sizeof id, &e)) return 1;
		if (nested) {
			if (rd_wrap_begin(c, top, "inner", 5, in, in_len, NULL, &mid, NULL, 0, &e)) return 2;
			if (rd_span_begin(c, mid, RD_SPAN_LM, "lm", 2, in, in_len, &lm, &e)) return 3;
			memset(&r, 0, sizeof r);
			r.output = out; r.output_len = out_len;
			r.model = "bench-lm"; r.model_len = 8;
			r.prompt_tokens = 10; r.completion_tokens = 5;
			r.finish_reason = "stop"; r.finish_reason_len = 4;
			if (rd_span_end(c, lm, &r, &e)) return 4;
			memset(&r, 0, sizeof r);
			r.output = out; r.output_len = out_len;
			r.prompt_tokens = RD_TOKENS_UNKNOWN; r.completion_tokens = RD_TOKENS_UNKNOWN;
			if (rd_wrap_end(c, mid, &r, &e)) return 5;
		}
		memset(&r, 0, sizeof r);
		r.output = out; r.output_len = out_len;
		r.prompt_tokens = RD_TOKENS_UNKNOWN; r.completion_tokens = RD_TOKENS_UNKNOWN;
		if (rd_wrap_end(c, top, &r, &e)) return 6;
	}
	return 0;
}
*/
import "C"

import "runtime"

// threadCPUNanos is the CPU time of the calling OS thread: what a call costs
// its caller, without the sender thread or other processes on the machine.
func threadCPUNanos() int64 { return int64(C.rd_go_thread_cpu_ns()) }

// cBaseline runs n calls of the C baseline with the given (already encoded)
// input and output; it returns the failing step, 0 on success.
func cBaseline(c *Client, n int, nested bool, input, output string) int {
	ip, il := strArg(input)
	op, ol := strArg(output)
	nest := C.int(0)
	if nested {
		nest = 1
	}
	rc := C.rd_go_c_baseline(c.h, C.int(n), nest, ip, il, op, ol)
	runtime.KeepAlive(c)
	runtime.KeepAlive(input)
	runtime.KeepAlive(output)
	return int(rc)
}
