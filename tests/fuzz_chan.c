/* fuzz_chan.c - libFuzzer target for reading a channel control block that a
 * hostile client has written (proto/chan_*.c): the input's bytes are laid over
 * a real channel's region (geometry from the first bytes, which the daemon
 * owns and the block cannot change), then the daemon's checked reader
 * (chan_inspect), detach, producer-gone and takeover, and a consumer's and a
 * producer's operations with no waiting, run over it. Every call must return
 * (no hang: every timeout is 0), stay inside the region (ASan), and answer
 * 0 or an error code. Built with clang -fsanitize=fuzzer. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chan.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 4)
        return 0;
    struct chan_geom g = {
        .slot_bytes = 64u << (data[0] % 4),
        .depth = 1u + data[1] % 8,
        .max_consumers = 1u + data[2] % 4,
    };
    uint64_t bytes;
    if (chan_layout_bytes(&g, &bytes) < 0)
        return 0;
    uint8_t *region = aligned_alloc(64, (bytes + 63) / 64 * 64);
    if (region == NULL)
        return 0;
    struct chan_ref ref;
    if (chan_init(&ref, region, bytes, &g) < 0) {
        free(region);
        return 0;
    }
    uint32_t idx = 0;
    uint64_t start = 0;
    int attached = chan_attach(&ref, &idx, &start) == 0;
    /* The hostile client's writes over the whole block and slots. */
    size_t n = size - 3 < bytes ? size - 3 : (size_t)bytes;
    memcpy(region, data + 3, n);

    struct chan_info info;
    (void)chan_inspect(&ref, &info);
    struct chan_consumer c;
    if (attached && chan_consumer_open(&c, region, bytes, &g, idx, start) == 0) {
        c.spin_ns = 0;
        for (int i = 0; i < 4; i++) {
            const void *slot;
            uint64_t b, seq;
            if (chan_receive(&c, 0, &slot, &b, &seq) != 0)
                break;
            (void)chan_done(&c, slot);
        }
        chan_consumer_close(&c);
    }
    struct chan_producer p;
    if (chan_producer_open(&p, region, bytes, &g) == 0) {
        p.spin_ns = 0;
        void *slot;
        if (chan_acquire(&p, 0, &slot) == 0)
            (void)chan_publish(&p, slot, data[0] % (g.slot_bytes + 1));
        chan_producer_close(&p);
    }
    if (attached)
        (void)chan_detach(&ref, idx);
    (void)chan_producer_gone(&ref);
    (void)chan_takeover(&ref, &g);
    (void)chan_inspect(&ref, &info);
    free(region);
    return 0;
}
