/* A C program built with `pkg-config --cflags --libs raindrop_dspy`, run by run-tests.sh. */
#include <raindrop_dspy.h>
#include <stdio.h>
#include <string.h>

int main(int argc, char **argv) {
    if (argc < 2) return 2;
    char config[1024];
    snprintf(config, sizeof config, "{\"api_key\":\"c-key\",\"endpoint\":\"file://%s\"}", argv[1]);
    rd_error err;
    rd_client client = {0};
    if (rd_new(config, strlen(config), NULL, &client, &err) != 0) {
        fprintf(stderr, "rd_new: %s\n", err.message);
        return 3;
    }
    const char *traits = "{\"lang\":\"c\"}";
    if (rd_identify(client, "c-user", 6, traits, strlen(traits), &err) != 0) {
        fprintf(stderr, "rd_identify: %s\n", err.message);
        return 4;
    }
    if (rd_shutdown(client, 5000, NULL, &err) != 0) {
        fprintf(stderr, "rd_shutdown: %s\n", err.message);
        return 5;
    }
    printf("consumer (pkg-config, C): ok, core %s\n", rd_version());
    return 0;
}
