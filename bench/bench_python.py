#!/usr/bin/python3
"""bench_python - the Python binding's overhead against C, same run, same connection.

    PYTHONPATH=build/python /usr/bin/python3 bench/bench_python.py [--n N]

Starts its own orionrtd (build/daemon/orionrtd, or $ORIONRTD) on a private
socket. Per call, median of 5 runs of N calls:
  stats                  c.stats() against orion_client_stats() in a C loop
  buffer open+release    c.buffer_open(n).release() against the same in C
  receive+done           (channels) ch.receive()+m.done() against C, the
                         producer a child process publishing as fast as it can
The C loops run inside the extension module (_orion's _bench helpers), so
both sides share the process, the connection and the daemon.
Proof of no copy: every view's data address is the arena's base + offset.
Last line: key=value pairs.
"""
import argparse
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

import orion

HERE = os.path.dirname(os.path.abspath(__file__))
ORIONRTD = os.environ.get("ORIONRTD", os.path.join(HERE, "..", "build", "daemon", "orionrtd"))


def start_daemon(tmp):
    sock = os.path.join(tmp, "orionrtd.sock")
    p = subprocess.Popen([ORIONRTD, "--socket", sock, "--arena-size", "64M"],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(1000):
        s = socket.socket(socket.AF_UNIX)
        try:
            s.connect(sock)
            return p, sock
        except OSError:
            time.sleep(0.01)
        finally:
            s.close()
    p.kill()
    sys.exit("bench_python: orionrtd did not start")


def interleaved(c_fn, py_fn, n, runs=7):
    """Median seconds per call of C and of Python, runs alternating so that
    the noise of a shared machine falls on both alike."""
    cs, ps = [], []
    for _ in range(runs):
        cs.append(c_fn(n) / n)
        t0 = time.perf_counter()
        py_fn(n)
        ps.append((time.perf_counter() - t0) / n)
    return statistics.median(cs), statistics.median(ps)


def py_stats(c):
    def run(n):
        for _ in range(n):
            c.stats()
    return run


def py_open_release(c, name):
    def run(n):
        for _ in range(n):
            c.buffer_open(name).release()
    return run


PRODUCER = """
import sys, orion
c = orion.Client(sys.argv[1])
tx = c.channel_create("bench/ch", 64, depth=64)
while tx.consumers < 1:
    pass
n = int(sys.argv[2])
for i in range(n):
    tx.publish(tx.acquire(), nbytes=8)
tx.close(); c.close()
"""


def channel_bench(sock, n):
    out = {}
    for side in ("c", "py"):
        prod = subprocess.Popen([sys.executable, "-c", PRODUCER, sock, str(n)])
        with orion.Client(sock) as c:
            ch = c.channel_open("bench/ch", timeout_ms=10000)
            if side == "c":
                dt = ch._bench_receive_done(n)
            else:
                t0 = time.perf_counter()
                for _ in range(n):
                    ch.receive().done()
                dt = time.perf_counter() - t0
            ch.close()
        prod.wait()
        out[side] = dt / n
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=20000)
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        d, sock = start_daemon(tmp)
        try:
            with orion.Client(sock) as c:
                rows = []
                rows.append(("stats",) + interleaved(lambda n: c._bench("stats", n),
                                                     py_stats(c), a.n))
                b = c.buffer_create("bench/b", 4096)
                b.seal()
                rows.append(("buffer open+release",) + interleaved(
                    lambda n: c._bench("buffer_open_release", n, "bench/b"),
                    py_open_release(c, "bench/b"), a.n // 2))

                # No copy: views are the arena's bytes.
                g = orion.Graph("bench")
                g.add_tensor(1, dtype="float32", shape=(1, 224, 224, 3), kind="input")
                g.add_tensor(2, dtype="float32", shape=(1, 1000), kind="output")
                g.add_op("NET", [1], [2])
                p = c.register(g)
                x = p.tensor(1)
                v = b.array()
                nocopy = (x.ctypes.data == c.arena_base + p.offset(1) and
                          v.ctypes.data == c.arena_base + b.offset and
                          np.from_dlpack(x).ctypes.data == x.ctypes.data)
                t0 = time.perf_counter()
                for _ in range(10000):
                    p.tensor(1)
                view_us = (time.perf_counter() - t0) / 10000 * 1e6
                del x, v
                p.release()
                b.release()
                if orion.HAVE_CHANNELS:
                    r = channel_bench(sock, a.n)
                    rows.append(("receive+done", r["c"], r["py"]))
        finally:
            d.send_signal(signal.SIGTERM)
            d.wait()
    print("%-22s %10s %10s %10s" % ("operation", "C us", "Python us", "extra us"))
    for name, cs, ps in rows:
        print("%-22s %10.2f %10.2f %10.2f" % (name, cs * 1e6, ps * 1e6, (ps - cs) * 1e6))
    print("view p.tensor(id): %.2f us per call; zero-copy (address == arena base + offset,"
          " also through DLPack): %s" % (view_us, "yes" if nocopy else "NO"))
    if not orion.HAVE_CHANNELS:
        print("receive+done: skipped (liborion-client built without channels)")
    kv = ["stats_extra_us=%.2f" % ((rows[0][2] - rows[0][1]) * 1e6),
          "buffer_extra_us=%.2f" % ((rows[1][2] - rows[1][1]) * 1e6)]
    if orion.HAVE_CHANNELS:
        kv.append("receive_done_extra_us=%.2f" % ((rows[2][2] - rows[2][1]) * 1e6))
    kv += ["view_us=%.2f" % view_us, "zero_copy=%d" % nocopy]
    print(" ".join(kv))
    return 0 if nocopy else 1


if __name__ == "__main__":
    sys.exit(main())
