#!/usr/bin/python3
"""buffers - a Python producer and consumer of one named buffer (runs today).

    PYTHONPATH=build/python /usr/bin/python3 examples/python/buffers.py [--socket PATH]

The producer creates "py/frame", writes a float32 image through a numpy view
of the arena, seals it; a forked consumer (its own connection) waits for it
and reads the same bytes with no copy; the producer waits until it is done.
It interoperates with the C examples: examples/orion-consumer reads a buffer
made by Python, orion-producer's buffers are read here with buffer_wait.
"""
import argparse
import os

import numpy as np

import orion

ap = argparse.ArgumentParser()
ap.add_argument("--socket", default=None)
a = ap.parse_args()

shape = (224, 224, 3)
with orion.Client(a.socket) as c:
    b = c.buffer_create("py/frame", 4 * 224 * 224 * 3)
    img = b.array("float32", shape)
    img[...] = np.linspace(0, 1, img.size, dtype=np.float32).reshape(shape)
    want = float(img.sum(dtype=np.float64))
    del img
    b.seal()
    pid = os.fork()
    if pid == 0:
        # A child connects again: the parent's connection is the parent's (ECHILD).
        with orion.Client(a.socket) as cc, cc.buffer_wait("py/frame", timeout_ms=10000) as rb:
            v = rb.array("float32", shape)
            print("consumer: sum %.3f, read-only %s" % (v.sum(dtype=np.float64),
                                                       not v.flags.writeable))
            del v
        os._exit(0)
    b.wait_unused(timeout_ms=10000)
    os.waitpid(pid, 0)
    print("producer: sum %.3f" % want)
    b.release()
