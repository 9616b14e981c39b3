//go:build ignore

// (The line above keeps this C file out of the Go collector module that shares the folder.)
/* Drives raindrop-dspy for the OpenTelemetry Collector end-to-end test (run-e2e.sh).
 *
 *   send_traces TRACES_URL EVENTS_ENDPOINT RESULT_JSON [API_KEY]
 *
 * Makes one client whose spans go to TRACES_URL (config `traces_endpoint`, standard OTLP/JSON)
 * and whose events go to EVENTS_ENDPOINT (normally a file:// path; with API_KEY, an HTTP sink, and
 * the client also gets project_id "e2e-project": neither may reach the collector), then:
 *   call 1 (ok):     qa.Pipeline -> qa.Retrieve (module span) -> search_docs (tool span)
 *                                -> qa.ChainOfThought (nested wrapped call) -> LM span
 *   call 2 (failed): qa.Pipeline -> qa.Summarize (module span), the call ends with an error
 * then flushes, reads the statistics and shuts down. Writes what the checker needs (event ids,
 * result codes, statistics) to RESULT_JSON. Exits non-zero when an rd_* call fails.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "raindrop_dspy.h"

#define STR(s) (s), strlen(s)
#define LM_MODEL "openai/gpt-4o-mini"

static int check(rd_result code, const rd_error *err, const char *what) {
    if (code != RD_OK) {
        fprintf(stderr, "send_traces: %s failed (%d): %s\n", what, (int)code, err->message);
        return 1;
    }
    return 0;
}

static rd_call_result empty_result(void) {
    rd_call_result r;
    memset(&r, 0, sizeof r);
    r.prompt_tokens = RD_TOKENS_UNKNOWN;
    r.completion_tokens = RD_TOKENS_UNKNOWN;
    return r;
}

int main(int argc, char **argv) {
    if (argc < 4) {
        fprintf(stderr, "usage: %s TRACES_URL EVENTS_ENDPOINT RESULT_JSON [API_KEY]\n", argv[0]);
        return 2;
    }
    const char *traces_url = argv[1], *events_endpoint = argv[2], *result_path = argv[3];
    const char *api_key = argc > 4 ? argv[4] : NULL;

    char config[2048];
    snprintf(config, sizeof config,
             "{\"endpoint\": \"%s\", \"traces_endpoint\": \"%s\", %s%s%s%s"
             "\"user_id\": \"e2e-user\", \"convo_id\": \"e2e-convo\", \"tracing_enabled\": true, "
             "\"request_timeout_ms\": 5000, \"connect_timeout_ms\": 2000, \"retry_budget_ms\": 5000}",
             events_endpoint, traces_url, api_key ? "\"api_key\": \"" : "", api_key ? api_key : "",
             api_key ? "\", " : "", api_key ? "\"project_id\": \"e2e-project\", " : "");

    rd_error err;
    rd_client client;
    if (check(rd_new(STR(config), NULL, &client, &err), &err, "rd_new")) return 1;

    char ok_event_id[RD_EVENT_ID_BUF_LEN], err_event_id[RD_EVENT_ID_BUF_LEN], nested_event_id[RD_EVENT_ID_BUF_LEN];
    char wanted_ok[64], wanted_err[64];
    snprintf(wanted_ok, sizeof wanted_ok, "e2e-ok-%ld", (long)getpid());
    snprintf(wanted_err, sizeof wanted_err, "e2e-err-%ld", (long)getpid());

    /* ---- call 1: succeeds, with a module span holding a tool span, and a nested wrapped call
     *      holding an LM span. */
    rd_call call, retrieve, tool, cot, lm;
    rd_call_options ok_options = {0};
    ok_options.event_id = wanted_ok;
    ok_options.event_id_len = strlen(wanted_ok);
    if (check(rd_wrap_begin(client, (rd_call){0}, STR("qa.Pipeline"), STR("{\"question\": \"What is the capital of France?\"}"),
                            &ok_options, &call, ok_event_id, sizeof ok_event_id, &err), &err, "rd_wrap_begin(ok)"))
        return 1;

    if (check(rd_span_begin(client, call, RD_SPAN_MODULE, STR("qa.Retrieve"), STR("capital of France"), &retrieve, &err),
              &err, "rd_span_begin(module)"))
        return 1;
    if (check(rd_span_begin(client, retrieve, RD_SPAN_TOOL, STR("search_docs"), STR("{\"query\": \"capital of France\"}"),
                            &tool, &err), &err, "rd_span_begin(tool)"))
        return 1;
    rd_call_result tool_result = empty_result();
    tool_result.output = "{\"docs\": [\"Paris is the capital of France.\"]}";
    tool_result.output_len = strlen(tool_result.output);
    if (check(rd_span_end(client, tool, &tool_result, &err), &err, "rd_span_end(tool)")) return 1;
    rd_call_result retrieve_result = empty_result();
    retrieve_result.output = "Paris is the capital of France.";
    retrieve_result.output_len = strlen(retrieve_result.output);
    if (check(rd_span_end(client, retrieve, &retrieve_result, &err), &err, "rd_span_end(module)")) return 1;

    if (check(rd_wrap_begin(client, call, STR("qa.ChainOfThought"), STR("{\"question\": \"What is the capital of France?\"}"),
                            NULL, &cot, nested_event_id, sizeof nested_event_id, &err), &err, "rd_wrap_begin(nested)"))
        return 1;
    if (check(rd_span_begin(client, cot, RD_SPAN_LM, STR(LM_MODEL),
                            STR("[{\"role\": \"user\", \"content\": \"What is the capital of France?\"}]"), &lm, &err),
              &err, "rd_span_begin(lm)"))
        return 1;
    rd_call_result lm_result = empty_result();
    lm_result.output = "Paris";
    lm_result.output_len = 5;
    lm_result.model = LM_MODEL;
    lm_result.model_len = strlen(LM_MODEL);
    lm_result.prompt_tokens = 12;
    lm_result.completion_tokens = 3;
    lm_result.finish_reason = "stop";
    lm_result.finish_reason_len = 4;
    if (check(rd_span_end(client, lm, &lm_result, &err), &err, "rd_span_end(lm)")) return 1;
    rd_call_result cot_result = empty_result();
    cot_result.output = "{\"answer\": \"Paris\"}";
    cot_result.output_len = strlen(cot_result.output);
    if (check(rd_wrap_end(client, cot, &cot_result, &err), &err, "rd_wrap_end(nested)")) return 1;

    rd_call_result call_result = empty_result(); /* model / tokens roll up from the LM span */
    call_result.output = "{\"answer\": \"Paris\"}";
    call_result.output_len = strlen(call_result.output);
    if (check(rd_wrap_end(client, call, &call_result, &err), &err, "rd_wrap_end(ok)")) return 1;

    /* ---- call 2: fails. */
    rd_call failing, summarize;
    rd_call_options err_options = {0};
    err_options.event_id = wanted_err;
    err_options.event_id_len = strlen(wanted_err);
    if (check(rd_wrap_begin(client, (rd_call){0}, STR("qa.Pipeline"), STR("{\"question\": \"Divide by zero?\"}"), &err_options,
                            &failing, err_event_id, sizeof err_event_id, &err), &err, "rd_wrap_begin(err)"))
        return 1;
    if (check(rd_span_begin(client, failing, RD_SPAN_MODULE, STR("qa.Summarize"), STR("Divide by zero?"), &summarize, &err),
              &err, "rd_span_begin(module 2)"))
        return 1;
    rd_call_result summarize_result = empty_result();
    summarize_result.error_type = "ZeroDivisionError";
    summarize_result.error_type_len = strlen(summarize_result.error_type);
    summarize_result.error_message = "division by zero";
    summarize_result.error_message_len = strlen(summarize_result.error_message);
    if (check(rd_span_end(client, summarize, &summarize_result, &err), &err, "rd_span_end(module 2)")) return 1;
    rd_call_result failed_result = empty_result();
    failed_result.error_type = "ZeroDivisionError";
    failed_result.error_type_len = strlen(failed_result.error_type);
    failed_result.error_message = "division by zero";
    failed_result.error_message_len = strlen(failed_result.error_message);
    if (check(rd_wrap_end(client, failing, &failed_result, &err), &err, "rd_wrap_end(err)")) return 1;

    /* ---- deliver, then report. rd_flush's own code must be RD_OK; drops show in the stats. */
    rd_result flush_code = rd_flush(client, 15000, &err);
    if (flush_code != RD_OK) fprintf(stderr, "send_traces: rd_flush returned %d: %s\n", (int)flush_code, err.message);
    rd_stats stats;
    memset(&stats, 0, sizeof stats);
    if (check(rd_get_stats(client, &stats, &err), &err, "rd_get_stats")) return 1;
    rd_result shutdown_code = rd_shutdown(client, 15000, NULL, &err);
    if (shutdown_code != RD_OK) fprintf(stderr, "send_traces: rd_shutdown returned %d: %s\n", (int)shutdown_code, err.message);

    FILE *out = fopen(result_path, "w");
    if (!out) {
        perror(result_path);
        return 1;
    }
    fprintf(out,
            "{\"version\": \"%s\", \"ok_event_id\": \"%s\", \"err_event_id\": \"%s\", \"nested_event_id\": \"%s\", "
            "\"flush\": %d, \"shutdown\": %d, \"stats\": {\"queued\": %llu, \"delivered\": %llu, "
            "\"dropped_queue_full\": %llu, \"dropped_rejected\": %llu, \"dropped_retry_budget\": %llu, "
            "\"dropped_shutdown\": %llu, \"dropped_invalid\": %llu, \"calls_expired\": %llu, \"retries\": %llu, "
            "\"requests\": %llu, \"bytes_sent\": %llu, \"queue_depth\": %llu, \"last_http_status\": %d}}\n",
            rd_version(), ok_event_id, err_event_id, nested_event_id, (int)flush_code, (int)shutdown_code,
            (unsigned long long)stats.queued, (unsigned long long)stats.delivered,
            (unsigned long long)stats.dropped_queue_full, (unsigned long long)stats.dropped_rejected,
            (unsigned long long)stats.dropped_retry_budget, (unsigned long long)stats.dropped_shutdown,
            (unsigned long long)stats.dropped_invalid, (unsigned long long)stats.calls_expired,
            (unsigned long long)stats.retries, (unsigned long long)stats.requests,
            (unsigned long long)stats.bytes_sent, (unsigned long long)stats.queue_depth, (int)stats.last_http_status);
    fclose(out);
    return 0;
}
