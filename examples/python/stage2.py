#!/usr/bin/python3
"""stage2 - the Python stage of the pipeline stage1.c feeds over a channel.

    PYTHONPATH=build/python /usr/bin/python3 examples/python/stage2.py \
        [--socket PATH] [--iterations N]

Opens the channel "pipeline/frames", and for every frame computes on a
read-only numpy view of the slot in the arena (no copy): the per-channel mean
and the frame's sum, then marks the message done. Prints `checksum=<sum>`
(the same number stage1 prints) and the time per frame.
"""
import argparse
import time

import numpy as np

import orion

ap = argparse.ArgumentParser()
ap.add_argument("--socket", default=None)
ap.add_argument("--iterations", type=int, default=10000)
a = ap.parse_args()

total = 0
with orion.Client(a.socket) as c:
    with c.channel_open("pipeline/frames", timeout_ms=30000) as ch:
        t0 = time.perf_counter()
        for i in range(a.iterations):
            with ch.receive(timeout_ms=30000) as m:
                frame = m.array("float32", (64, 64, 3))    # a view, not a copy
                means = frame.mean(axis=(0, 1))            # "compute"
                total += int(frame.sum(dtype=np.float64))
                del frame
        dt = time.perf_counter() - t0
print("means of the last frame:", np.round(means, 2))
print("checksum=%d" % total)
print("per frame: %.1f us" % (dt / a.iterations * 1e6))
