/* orion-consumer - read a buffer that orion-producer published, in place.
 *
 *   orion-consumer [--socket PATH] [--timeout-ms N] NAME
 *
 * Waits until buffer NAME exists and is sealed (default 30 s; -1 waits for
 * ever), checks the producer's pattern where it lies in the shared arena (no
 * copy), releases it, and prints `checksum=<FNV-1a 64 of the bytes>` as its
 * last line: the same line orion-producer prints. Exits 1 on a mismatch,
 * naming the first bad byte.
 *
 * Build against an installed library with
 *   cc orion-consumer.c $(pkg-config --cflags --libs liborion-client)
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <orion/orion.h>

/* The same pattern as orion-producer.c: xorshift64 seeded from FNV-1a(name). */
static uint64_t fnv1a64(const void *data, size_t n, uint64_t h)
{
    const unsigned char *p = data;
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= 0x100000001b3ull;
    }
    return h;
}
#define FNV_OFFSET 0xcbf29ce484222325ull

static uint64_t xorshift64(uint64_t *s)
{
    uint64_t x = *s;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return *s = x;
}

/* The index of the first byte that differs from the pattern, or n. */
static uint64_t check_pattern(const unsigned char *p, uint64_t n, const char *name,
                              unsigned char *expected)
{
    uint64_t s = fnv1a64(name, strlen(name), FNV_OFFSET) | 1;
    for (uint64_t i = 0; i < n; i += 8) {
        uint64_t v = xorshift64(&s);
        for (uint64_t k = 0; k < 8 && i + k < n; k++) {
            unsigned char want = (unsigned char)(v >> (8 * k));
            if (p[i + k] != want) {
                *expected = want;
                return i + k;
            }
        }
    }
    return n;
}

static int usage(void)
{
    fprintf(stderr, "usage: orion-consumer [--socket PATH] [--timeout-ms N] NAME\n");
    return 2;
}

int main(int argc, char **argv)
{
    const char *socket_path = NULL; /* NULL: orion_default_socket_path() */
    int64_t timeout_ms = 30000;
    int i = 1;
    for (; i < argc && strncmp(argv[i], "--", 2) == 0; i++) {
        if (strcmp(argv[i], "--socket") == 0 && i + 1 < argc) {
            socket_path = argv[++i];
        } else if (strcmp(argv[i], "--timeout-ms") == 0 && i + 1 < argc) {
            char *end;
            timeout_ms = strtoll(argv[++i], &end, 10);
            if (*end != '\0' || end == argv[i])
                return usage();
        } else {
            return usage();
        }
    }
    if (argc - i != 1)
        return usage();
    const char *name = argv[i];

    char err[256];
    orion_client *c;
    int rc = orion_client_connect(socket_path, &c, err, sizeof(err));
    if (rc < 0) {
        fprintf(stderr, "orion-consumer: %s\n", err);
        return 1;
    }

    /* Wait for the producer's seal; this also takes a hold on the buffer, so
     * its bytes stay put until we release it. */
    orion_buffer *b;
    rc = orion_buffer_wait(c, name, timeout_ms, &b);
    if (rc == -ETIMEDOUT) {
        fprintf(stderr, "orion-consumer: %s was not sealed within %" PRId64 " ms\n", name,
                timeout_ms);
        goto err_close;
    }
    if (rc < 0) {
        fprintf(stderr, "orion-consumer: wait for %s: %s\n", name, orion_client_error(c));
        goto err_close;
    }

    /* Read in place: the pointer is into the arena the producer wrote. */
    const unsigned char *p = orion_buffer_ptr(b);
    uint64_t n = orion_buffer_size(b);
    unsigned char want = 0;
    uint64_t bad = check_pattern(p, n, name, &want);
    if (bad < n) {
        fprintf(stderr, "orion-consumer: %s: byte %" PRIu64 " of %" PRIu64
                " is 0x%02x, expected 0x%02x\n", name, bad, n, p[bad], want);
        goto err_release;
    }
    uint64_t sum = fnv1a64(p, n, FNV_OFFSET);

    /* Release: the producer's orion_buffer_wait_unused() returns now. */
    rc = orion_buffer_release(b);
    if (rc < 0) {
        fprintf(stderr, "orion-consumer: release %s: %s\n", name, orion_client_error(c));
        goto err_close;
    }
    orion_client_close(c);
    printf("checksum=%016" PRIx64 "\n", sum);
    return 0;

err_release:
    orion_buffer_release(b);
err_close:
    orion_client_close(c);
    return 1;
}
