/* Fork safety (issue 13 #1): fork repeatedly while 4 threads call into the library. Every child
 * must finish: the parent's client is unusable there but harmless (RD_ERR_INVALID_HANDLE), and
 * rd_new works. Each child is bounded by a timeout; a child still running by then counts as hung.
 *
 *   fork_c FORKS SINK_DIR   exits 0 when no child hung or failed
 */
#define _DEFAULT_SOURCE
#include "raindrop_dspy.h"

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define THREADS 4
#define CHILD_TIMEOUT_MS 10000

/* The ABI gained option structs and a stats out-parameter with the version macros. */
#ifdef RD_VERSION_MAJOR
#define NEW(json, out, err) rd_new((json), strlen(json), NULL, (out), (err))
#define SHUTDOWN(client, ms, err) rd_shutdown((client), (ms), NULL, (err))
#else
#define NEW(json, out, err) rd_new((json), strlen(json), (out), (err))
#define SHUTDOWN(client, ms, err) rd_shutdown((client), (ms), (err))
#endif

static rd_client parent_client;
static atomic_int stop;

static rd_result track(rd_client client, const char *input) {
    rd_event event;
    memset(&event, 0, sizeof event);
    event.user_id = "u";
    event.user_id_len = 1;
    event.input = input;
    event.input_len = strlen(input);
    event.output = "out";
    event.output_len = 3;
    rd_error err;
    return rd_track_ai(client, &event, NULL, 0, &err);
}

static void *caller(void *arg) {
    long n = (long)arg;
    while (!atomic_load(&stop)) {
        track(parent_client, "from a thread of the parent");
        rd_error err;
        if (n == 0) rd_flush(parent_client, 50, &err);
        if (n == 1) { /* new clients come and go, so the registry's write lock is taken too */
            rd_client other;
            if (NEW("{\"endpoint\": \"file:///dev/null\"}", &other, &err) == RD_OK) SHUTDOWN(other, 100, &err);
        }
    }
    return NULL;
}

static int child(const char *sink_dir, int index) {
    alarm(CHILD_TIMEOUT_MS / 1000 + 5); /* a backstop in case the parent is gone */
    rd_error err;
    /* The parent's client: unusable but harmless. */
    rd_result code = track(parent_client, "from the child");
    if (code != RD_ERR_INVALID_HANDLE) { fprintf(stderr, "child %d: parent's handle gave %d\n", index, code); return 2; }
    char config[512];
    snprintf(config, sizeof config, "{\"endpoint\": \"file://%s/child-%d.jsonl\"}", sink_dir, index);
    rd_client client;
    if (NEW(config, &client, &err) != RD_OK) { fprintf(stderr, "child %d: rd_new: %s\n", index, err.message); return 3; }
    if (track(client, "child event") != RD_OK) return 4;
    if (SHUTDOWN(client, 5000, &err) != RD_OK) { fprintf(stderr, "child %d: shutdown: %s\n", index, err.message); return 5; }
    return 0;
}

static long now_ms(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1000L + t.tv_nsec / 1000000L;
}

int main(int argc, char **argv) {
    int forks = argc > 1 ? atoi(argv[1]) : 200;
    const char *sink_dir = argc > 2 ? argv[2] : "/tmp";
    rd_error err;
    char config[512];
    snprintf(config, sizeof config, "{\"endpoint\": \"file://%s/parent.jsonl\", \"max_queue_items\": 1000}", sink_dir);
    if (NEW(config, &parent_client, &err) != RD_OK) { fprintf(stderr, "rd_new: %s\n", err.message); return 1; }
    pthread_t threads[THREADS];
    for (long i = 0; i < THREADS; i++) pthread_create(&threads[i], NULL, caller, (void *)i);

    int hung = 0, failed = 0;
    long slowest = 0, started = now_ms();
    for (int i = 0; i < forks; i++) {
        long forked_at = now_ms();
        pid_t pid = fork();
        if (pid < 0) { perror("fork"); return 1; }
        if (pid == 0) _exit(child(sink_dir, i));
        int status = 0;
        pid_t done = 0;
        while ((done = waitpid(pid, &status, WNOHANG)) == 0 && now_ms() - forked_at < CHILD_TIMEOUT_MS) usleep(1000);
        if (done == 0) {
            hung++;
            fprintf(stderr, "child %d hung (pid %d): killed\n", i, (int)pid);
            kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
        } else if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
            failed++;
            fprintf(stderr, "child %d failed: status %d\n", i, status);
        }
        long took = now_ms() - forked_at;
        if (took > slowest) slowest = took;
    }
    atomic_store(&stop, 1);
    for (int i = 0; i < THREADS; i++) pthread_join(threads[i], NULL);
    SHUTDOWN(parent_client, 5000, &err);
    printf("fork_c: %d forks with %d threads calling: %d hung, %d failed; %ld ms in all, slowest child %ld ms\n",
           forks, THREADS, hung, failed, now_ms() - started, slowest);
    return hung || failed ? 1 : 0;
}
