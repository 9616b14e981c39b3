/* Exit paths (issue 13 #6): queue events, then leave the process without rd_shutdown, by
 * returning from main, exit() or quick_exit(). The core drains every live client at exit within
 * its shutdown deadline (atexit / at_quick_exit), so every queued event must land in the sink.
 *
 *   exit_c return|exit|quick_exit SINK_FILE [EVENTS]
 */
#define _DEFAULT_SOURCE
#define _ISOC11_SOURCE
#include "raindrop_dspy.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef RD_VERSION_MAJOR
#define NEW(json, out, err) rd_new((json), strlen(json), NULL, (out), (err))
#else
#define NEW(json, out, err) rd_new((json), strlen(json), (out), (err))
#endif

int main(int argc, char **argv) {
    if (argc < 3) { fprintf(stderr, "usage: exit_c return|exit|quick_exit SINK_FILE [EVENTS]\n"); return 2; }
    const char *mode = argv[1];
    int events = argc > 3 ? atoi(argv[3]) : 5000;
    char config[1024];
    snprintf(config, sizeof config, "{\"endpoint\": \"file://%s\", \"api_key\": \"k\"}", argv[2]);
    rd_client client;
    rd_error err;
    if (NEW(config, &client, &err) != RD_OK) { fprintf(stderr, "rd_new: %s\n", err.message); return 1; }
    for (int i = 0; i < events; i++) {
        rd_event event;
        memset(&event, 0, sizeof event);
        event.user_id = "u";
        event.user_id_len = 1;
        event.input = "queued before exit";
        event.input_len = strlen(event.input);
        if (rd_track_ai(client, &event, NULL, 0, &err) != RD_OK) { fprintf(stderr, "track: %s\n", err.message); return 1; }
    }
    if (strcmp(mode, "exit") == 0) exit(0);
    if (strcmp(mode, "quick_exit") == 0) quick_exit(0);
    return 0; /* "return" */
}
