"""Named buffers: Python to Python and Python to C carry the same bytes; seal; views."""
import errno
import gc
import re
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import orion
from conftest import example_bin

FNV_OFFSET = 0xCBF29CE484222325
M64 = (1 << 64) - 1


def fnv1a64(data):
    h = FNV_OFFSET
    for b in bytes(data):
        h = ((h ^ b) * 0x100000001B3) & M64
    return h


def pattern(name, n):
    """examples/orion-producer.c's pattern: xorshift64 seeded by FNV-1a(name) | 1."""
    s = fnv1a64(name.encode()) | 1
    words = np.empty((n + 7) // 8, dtype="<u8")
    for i in range(len(words)):
        s ^= (s << 13) & M64
        s ^= s >> 7
        s ^= (s << 17) & M64
        words[i] = s
    return words.view(np.uint8)[:n]


def test_create_seal_open_views(client):
    b = client.buffer_create("t/a", 1000)
    assert b.nbytes >= 1000 and b.name == "t/a"
    a = b.array("float32", (250,))
    assert a.flags.writeable and a.ctypes.data == client.arena_base + b.offset
    a[:] = np.arange(250)
    b.seal()
    assert not b.array().flags.writeable
    with pytest.raises(ValueError):
        b.array()[0] = 1
    o = client.buffer_open("t/a")
    v = o.array("float32", (250,))
    assert not v.flags.writeable
    assert np.array_equal(v, np.arange(250, dtype=np.float32))
    assert v.ctypes.data == a.ctypes.data  # one mapping, the same bytes
    with pytest.raises(ValueError, match="more than"):
        o.array("float64", (b.nbytes,))
    o.release()
    b.release()


def test_buffer_view_outliving_release(client):
    b = client.buffer_create("t/v", 256)
    a = b.array()
    b.release()
    assert client.stats()["buffers"] == 1
    a[:] = 9
    del a
    gc.collect()
    assert client.stats()["buffers"] == 0


def test_python_to_python_across_processes(client, daemon):
    data = np.random.default_rng(1).integers(0, 255, 65536, dtype=np.uint8)
    b = client.buffer_create("py/py", data.nbytes)
    b.array()[:data.nbytes] = data
    b.seal()
    child = textwrap.dedent("""
        import sys, hashlib, orion
        with orion.Client(sys.argv[1]) as c:
            with c.buffer_wait("py/py", timeout_ms=10000) as b:
                a = b.array()
                print(hashlib.sha256(a[:65536].tobytes()).hexdigest(), a.flags.writeable)
                del a
    """)
    out = subprocess.run([sys.executable, "-c", child, daemon.socket], capture_output=True,
                         text=True, timeout=60, check=True).stdout.split()
    import hashlib
    assert out == [hashlib.sha256(data.tobytes()).hexdigest(), "False"]
    b.wait_unused(timeout_ms=5000)
    b.release()


def test_c_producer_to_python(client, daemon):
    prod = subprocess.Popen([example_bin("orion-producer"), "--socket", daemon.socket,
                             "c2py", "64K"], stdout=subprocess.PIPE, text=True)
    try:
        with client.buffer_wait("c2py", timeout_ms=10000) as b:
            a = b.array()
            assert not a.flags.writeable
            assert np.array_equal(a, pattern("c2py", b.nbytes))
            got = fnv1a64(a)
            del a
        out = prod.communicate(timeout=30)[0]
    finally:
        if prod.poll() is None:
            prod.kill()
            prod.wait()
    assert prod.returncode == 0
    assert re.search(r"checksum=([0-9a-f]{16})", out).group(1) == "%016x" % got


def test_python_producer_to_c_consumer(client, daemon):
    b = client.buffer_create("py2c", 65536)
    a = b.array()
    a[:] = pattern("py2c", b.nbytes)
    want = fnv1a64(a)
    del a
    b.seal()
    r = subprocess.run([example_bin("orion-consumer"), "--socket", daemon.socket,
                        "--timeout-ms", "10000", "py2c"], capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "checksum=%016x" % want
    b.wait_unused(timeout_ms=5000)  # the consumer opened and released it
    b.release()


def test_wait_unused_times_out_as_orion_error(client):
    b = client.buffer_create("t/wu", 64)
    b.seal()
    with pytest.raises(orion.Error) as e:
        b.wait_unused(timeout_ms=10)
    assert e.value.errno == errno.ETIMEDOUT
    b.release()
