/* Quick start in C: one wrapped call with a nested LM span, a signal and an identify, written
 * to the file:// sink; examples/trace_view.py shows that file. Build (after `cargo build --release`):
 *   cc -std=c99 -Wall -Iinclude examples/c/quickstart.c -Ltarget/release -lraindrop_dspy \
 *      -Wl,-rpath,$PWD/target/release -o target/quickstart && target/quickstart
 */
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

int main(int argc, char **argv) {
    const char *path = argc > 1 ? argv[1] : "target/quickstart-events.jsonl";
    /* An http:// URL instead of a path sends there (the archive tests use a loopback sink). */
    const int http = strncmp(path, "http://", 7) == 0;
    char config[1024];
    if (http) {
        snprintf(config, sizeof config,
                 "{\"endpoint\": \"%s\", \"api_key\": \"rk_quickstart\", \"user_id\": \"user-123\", "
                 "\"convo_id\": \"convo-456\"}", path);
    } else {
        remove(path);
        snprintf(config, sizeof config,
                 "{\"endpoint\": \"file://%s\", \"user_id\": \"user-123\", \"convo_id\": \"convo-456\"}", path);
    }

    rd_error err;
    rd_client client;
    if (check(rd_new(STR(config), NULL, &client, &err), &err, "rd_new")) return 1;
    printf("raindrop-dspy %s\n", rd_version());

    /* One wrapped module call, with the LM call inside it as a child span. */
    rd_call call, lm;
    char event_id[RD_EVENT_ID_BUF_LEN];
    if (check(rd_wrap_begin(client, (rd_call){0}, STR("qa.ChainOfThought"), STR("What is the capital of France?"),
                            NULL, &call, event_id, sizeof event_id, &err), &err, "rd_wrap_begin")) return 1;
    if (check(rd_span_begin(client, call, RD_SPAN_LM, STR("openai/gpt-4o-mini"),
                            STR("[{\"role\": \"user\", \"content\": \"What is the capital of France?\"}]"), &lm, &err),
              &err, "rd_span_begin")) return 1;

    rd_call_result lm_result;
    memset(&lm_result, 0, sizeof lm_result);
    lm_result.output = "Paris";
    lm_result.output_len = 5;
    lm_result.model = "openai/gpt-4o-mini";
    lm_result.model_len = strlen(lm_result.model);
    lm_result.prompt_tokens = 12;
    lm_result.completion_tokens = 3;
    lm_result.finish_reason = "stop";
    lm_result.finish_reason_len = 4;
    if (check(rd_span_end(client, lm, &lm_result, &err), &err, "rd_span_end")) return 1;

    /* Tokens, model and finish reason left unknown: they roll up from the LM span. */
    rd_call_result result;
    memset(&result, 0, sizeof result);
    result.output = "Paris";
    result.output_len = 5;
    result.prompt_tokens = RD_TOKENS_UNKNOWN;
    result.completion_tokens = RD_TOKENS_UNKNOWN;
    if (check(rd_wrap_end(client, call, &result, &err), &err, "rd_wrap_end")) return 1;
    printf("event id: %s\n", event_id);

    rd_signal signal;
    memset(&signal, 0, sizeof signal);
    signal.event_id = event_id;
    signal.event_id_len = strlen(event_id);
    signal.name = "thumbs_up";
    signal.name_len = strlen(signal.name);
    signal.signal_type = "feedback";
    signal.signal_type_len = strlen(signal.signal_type);
    signal.comment = "Great answer";
    signal.comment_len = strlen(signal.comment);
    signal.sentiment = "POSITIVE";
    signal.sentiment_len = strlen(signal.sentiment);
    if (check(rd_track_signal(client, &signal, &err), &err, "rd_track_signal")) return 1;
    if (check(rd_identify(client, STR("user-123"), STR("{\"name\": \"Alice\", \"plan\": \"pro\"}"), &err), &err,
              "rd_identify")) return 1;

    /* Bad input gets a code and a message naming the argument; the client keeps working. */
    rd_result bad = rd_identify(client, STR("user-123"), STR("{not json"), &err);
    printf("bad traits -> %d: %s\n", (int)bad, err.message);

    if (check(rd_flush(client, 5000, &err), &err, "rd_flush")) return 1;
    rd_stats stats;
    if (check(rd_get_stats(client, &stats, &err), &err, "rd_get_stats")) return 1;
    printf("queued %llu, delivered %llu, requests %llu\n", (unsigned long long)stats.queued,
           (unsigned long long)stats.delivered, (unsigned long long)stats.requests);
    if (check(rd_shutdown(client, RD_TIMEOUT_DEFAULT, NULL, &err), &err, "rd_shutdown")) return 1;
    if (rd_shutdown(client, 0, NULL, &err) != RD_ERR_INVALID_HANDLE) {
        fprintf(stderr, "a second shutdown should report an invalid handle\n");
        return 1;
    }

    if (http) return stats.delivered >= 4 ? 0 : 1;

    /* What was sent is in the file, one request per line; examples/trace_view.py draws it
     * (`make demo-c` runs it next): the call, its trace tree, the routes, the signal and identify. */
    FILE *file = fopen(path, "r");
    if (!file) { perror(path); return 1; }
    int lines = 0, c;
    while ((c = fgetc(file)) != EOF) lines += c == '\n';
    fclose(file);
    printf("%d requests written to %s\n  show them: python3 examples/trace_view.py %s  (--raw: the JSON)\n",
           lines, path, path);
    return (lines >= 3 && stats.delivered >= 4) ? 0 : 1;
}
