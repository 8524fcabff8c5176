/* orion-producer - publish a named buffer through orionrtd, with no copy.
 *
 *   orion-producer [--socket PATH] [--timeout-ms N] NAME BYTES
 *
 * Creates buffer NAME of BYTES bytes (suffixes K, M, G: powers of 1024),
 * writes a pattern that orion-consumer can check (xorshift64 seeded from the
 * name), seals it, waits until a consumer has opened and released it, and
 * prints `checksum=<FNV-1a 64 of the bytes>` as its last line. Exits 1 if no
 * consumer comes within the timeout (default 30 s; -1 waits for ever).
 *
 * Build against an installed library with
 *   cc orion-producer.c $(pkg-config --cflags --libs liborion-client)
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <orion/orion.h>

/* The pattern: a xorshift64 stream whose seed is the FNV-1a hash of the
 * buffer's name, so producer and consumer agree without talking. */
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

/* Byte i of the pattern is byte (i % 8) of the (i / 8)-th xorshift output,
 * least significant first. */
static void fill_pattern(unsigned char *p, uint64_t n, const char *name)
{
    uint64_t s = fnv1a64(name, strlen(name), FNV_OFFSET) | 1; /* never 0 */
    for (uint64_t i = 0; i < n; i += 8) {
        uint64_t v = xorshift64(&s);
        for (uint64_t k = 0; k < 8 && i + k < n; k++)
            p[i + k] = (unsigned char)(v >> (8 * k));
    }
}

static int parse_bytes(const char *s, uint64_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno != 0 || end == s || s[0] == '-')
        return -1;
    unsigned shift = 0;
    switch (*end) {
    case 'K': case 'k': shift = 10; end++; break;
    case 'M': case 'm': shift = 20; end++; break;
    case 'G': case 'g': shift = 30; end++; break;
    default: break;
    }
    if (*end != '\0' || v == 0 || v > (UINT64_MAX >> shift))
        return -1;
    *out = (uint64_t)v << shift;
    return 0;
}

static int usage(void)
{
    fprintf(stderr, "usage: orion-producer [--socket PATH] [--timeout-ms N] NAME BYTES\n");
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
    if (argc - i != 2)
        return usage();
    const char *name = argv[i];
    uint64_t bytes;
    if (parse_bytes(argv[i + 1], &bytes) < 0) {
        fprintf(stderr, "orion-producer: BYTES must be a positive size, not '%s'\n", argv[i + 1]);
        return 2;
    }

    /* 1. Connect: the library maps the daemon's arena into this process. */
    char err[256];
    orion_client *c;
    int rc = orion_client_connect(socket_path, &c, err, sizeof(err));
    if (rc < 0) {
        fprintf(stderr, "orion-producer: %s\n", err);
        return 1;
    }

    /* 2. Create the buffer and write straight into the shared arena. The
     * daemon may round the size up: fill all of it, so that both sides
     * checksum the same bytes. */
    orion_buffer *b;
    rc = orion_buffer_create(c, name, bytes, &b);
    if (rc < 0) {
        fprintf(stderr, "orion-producer: create %s: %s\n", name, orion_client_error(c));
        goto err_close;
    }
    unsigned char *p = orion_buffer_ptr(b);
    uint64_t n = orion_buffer_size(b);
    fill_pattern(p, n, name);
    uint64_t sum = fnv1a64(p, n, FNV_OFFSET);

    /* 3. Seal: from now on consumers may read it (orion_buffer_wait returns). */
    rc = orion_buffer_seal(b);
    if (rc < 0) {
        fprintf(stderr, "orion-producer: seal %s: %s\n", name, orion_client_error(c));
        goto err_release;
    }

    /* 4. Keep the buffer alive until a consumer has opened and released it. */
    rc = orion_buffer_wait_unused(b, timeout_ms);
    if (rc == -ETIMEDOUT) {
        fprintf(stderr, "orion-producer: no consumer opened and released %s within %" PRId64
                " ms\n", name, timeout_ms);
        goto err_release;
    }
    if (rc < 0) {
        fprintf(stderr, "orion-producer: waiting for a consumer of %s: %s\n", name,
                orion_client_error(c));
        goto err_release;
    }

    /* 5. Done: give the bytes back to the arena. */
    rc = orion_buffer_release(b);
    if (rc < 0) {
        fprintf(stderr, "orion-producer: release %s: %s\n", name, orion_client_error(c));
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
