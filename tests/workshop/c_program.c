/* The C side of the Workshop end-to-end test (run-e2e.sh): two wrapped calls through the C ABI,
 * one with an LM span and a tool span, one that fails, with the Workshop mirror on.
 *   c_program CLOUD_BASE_URL WORKSHOP_BASE_URL   (prints "name event_id" per call) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "raindrop_dspy.h"

#define STR(s) (s), strlen(s)

static int check(rd_result code, const rd_error *err, const char *what) {
    if (code != RD_OK) {
        fprintf(stderr, "%s failed (%d): %s\n", what, (int)code, err->message);
        return 1;
    }
    return 0;
}

static rd_call_result result(const char *output) {
    rd_call_result r;
    memset(&r, 0, sizeof r);
    r.output = output;
    r.output_len = output ? strlen(output) : 0;
    r.prompt_tokens = RD_TOKENS_UNKNOWN;
    r.completion_tokens = RD_TOKENS_UNKNOWN;
    return r;
}

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: %s CLOUD_BASE_URL WORKSHOP_BASE_URL\n", argv[0]);
        return 2;
    }
    char config[2048];
    snprintf(config, sizeof config,
             "{\"api_key\": \"rk_e2e_c_program\", \"endpoint\": \"%s\", \"local_workshop_url\": \"%s\", "
             "\"project_id\": \"e2e-proj\", \"user_id\": \"c-user\", \"convo_id\": \"c-convo\", "
             "\"flush_interval_ms\": 100}",
             argv[1], argv[2]);
    rd_error err;
    rd_client client;
    if (check(rd_new(STR(config), NULL, &client, &err), &err, "rd_new")) return 1;
    rd_call top; /* no parent: all zero, whatever the handle type */
    memset(&top, 0, sizeof top);

    /* 1. a call with an LM span (tokens) and a tool span */
    rd_call call, lm, tool;
    char ok_id[RD_EVENT_ID_BUF_LEN];
    if (check(rd_wrap_begin(client, top, STR("c.Agent"), STR("What is 6 times 7?"), NULL, &call, ok_id,
                            sizeof ok_id, &err), &err, "rd_wrap_begin")) return 1;
    if (check(rd_span_begin(client, call, RD_SPAN_LM, STR("openai/gpt-4o-mini"),
                            STR("[{\"role\": \"user\", \"content\": \"What is 6 times 7?\"}]"), &lm, &err),
              &err, "rd_span_begin lm")) return 1;
    rd_call_result lm_result = result("Use the calculator.");
    lm_result.model = "openai/gpt-4o-mini";
    lm_result.model_len = strlen(lm_result.model);
    lm_result.prompt_tokens = 12;
    lm_result.completion_tokens = 5;
    lm_result.finish_reason = "stop";
    lm_result.finish_reason_len = 4;
    if (check(rd_span_end(client, lm, &lm_result, &err), &err, "rd_span_end lm")) return 1;
    if (check(rd_span_begin(client, call, RD_SPAN_TOOL, STR("calculator"), STR("{\"expression\": \"6*7\"}"),
                            &tool, &err), &err, "rd_span_begin tool")) return 1;
    rd_call_result tool_result = result("42");
    if (check(rd_span_end(client, tool, &tool_result, &err), &err, "rd_span_end tool")) return 1;
    rd_call_result ok = result("42");
    if (check(rd_wrap_end(client, call, &ok, &err), &err, "rd_wrap_end")) return 1;
    printf("c_ok %s\n", ok_id);

    /* 2. a call that fails */
    char failed_id[RD_EVENT_ID_BUF_LEN];
    if (check(rd_wrap_begin(client, top, STR("c.Agent"), STR("Divide by zero"), NULL, &call, failed_id,
                            sizeof failed_id, &err), &err, "rd_wrap_begin")) return 1;
    rd_call_result failed = result(NULL);
    failed.error_type = "ZeroDivisionError";
    failed.error_type_len = strlen(failed.error_type);
    failed.error_message = "c program: division by zero";
    failed.error_message_len = strlen(failed.error_message);
    if (check(rd_wrap_end(client, call, &failed, &err), &err, "rd_wrap_end failed")) return 1;
    printf("c_failed %s\n", failed_id);

    if (check(rd_shutdown(client, 10000, NULL, &err), &err, "rd_shutdown")) return 1;
    return 0;
}
