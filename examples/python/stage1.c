/* stage1 - the C stage of a two-stage pipeline whose second stage is Python
 * (stage2.py), over an orionrtd channel: every iteration it acquires a slot,
 * writes a 64x64x3 float32 frame into it (no copy: the slot is in the
 * arena) and publishes it.
 *
 *   stage1 [--socket PATH] [--iterations N]
 *
 * Waits (up to 30 s) for a consumer to attach, publishes N frames (default
 * 10000), prints `checksum=<sum of every value of every frame>`; stage2.py
 * prints the same sum computed on its numpy views.
 *
 * Build: cc stage1.c $(pkg-config --cflags --libs liborion-client)
 * (needs liborion-client with channels, <orion/channel.h>).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <orion/orion.h>
#include <orion/channel.h>

#define CHANNEL "pipeline/frames"
#define H 64
#define W 64
#define C 3

int main(int argc, char **argv)
{
    const char *socket_path = NULL;
    long iterations = 10000;
    char err[256];
    orion_client *c;
    orion_channel *ch;
    unsigned long long sum = 0;
    int rc;

    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--socket") == 0 && i + 1 < argc) {
            socket_path = argv[++i];
        } else if (strcmp(argv[i], "--iterations") == 0 && i + 1 < argc) {
            iterations = strtol(argv[++i], NULL, 10);
        } else {
            fprintf(stderr, "usage: stage1 [--socket PATH] [--iterations N]\n");
            return 2;
        }
    }
    if (orion_client_connect(socket_path, &c, err, sizeof(err)) < 0) {
        fprintf(stderr, "stage1: %s\n", err);
        return 1;
    }
    struct orion_channel_config cfg = {.slot_bytes = H * W * C * sizeof(float), .depth = 4};
    rc = orion_channel_create(c, CHANNEL, &cfg, &ch);
    if (rc < 0) {
        fprintf(stderr, "stage1: create %s: %s\n", CHANNEL, orion_client_error(c));
        goto err_close;
    }
    /* A message published while no consumer is attached is dropped: wait for one. */
    for (int t = 0; orion_channel_consumers(ch) < 1; t++) {
        if (t == 3000) {
            fprintf(stderr, "stage1: no consumer within 30 s\n");
            goto err_channel;
        }
        nanosleep(&(struct timespec){.tv_nsec = 10 * 1000 * 1000}, NULL);
    }
    for (long it = 0; it < iterations; it++) {
        void *slot;
        rc = orion_channel_acquire(ch, 30000, &slot);
        if (rc < 0) {
            fprintf(stderr, "stage1: acquire: %s\n", orion_client_error(c));
            goto err_channel;
        }
        float *frame = slot;
        for (long k = 0; k < H * W * C; k++) {
            unsigned v = (unsigned)((it + k) % 251);
            frame[k] = (float)v;
            sum += v;
        }
        rc = orion_channel_publish(ch, slot, cfg.slot_bytes);
        if (rc < 0) {
            fprintf(stderr, "stage1: publish: %s\n", orion_client_error(c));
            goto err_channel;
        }
    }
    printf("checksum=%llu\n", sum);
    orion_channel_close(ch);
    orion_client_close(c);
    return 0;

err_channel:
    orion_channel_close(ch);
err_close:
    orion_client_close(c);
    return 1;
}
