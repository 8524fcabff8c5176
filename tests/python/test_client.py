"""orion.Client, Graph, Plan against a real daemon: views, lifetimes, errors, fork."""
import errno
import gc
import os

import numpy as np
import pytest

import orion


def small_graph():
    g = orion.Graph("small")
    g.add_tensor(1, dtype="float32", shape=(2, 3, 4), kind="input", name="x")
    g.add_tensor(2, dtype="int16", shape=(8, 8), name="h")
    g.add_tensor(3, 100, kind="output")
    g.add_tensor(4, dtype="uint8", shape=(16,), kind="persistent")
    g.add_op("A", [1, 4], [2])
    g.add_op("B", [2], [3])
    return g


def test_stats_has_the_json_keys(client):
    st = client.stats()
    assert set(st) == {"arena_bytes", "used_bytes", "free_bytes", "largest_free_bytes",
                       "fragmentation", "clients", "graphs", "buffers", "allocations"}
    assert st["arena_bytes"] == 64 << 20 == client.arena_bytes
    assert st["clients"] == 1 and st["graphs"] == 0


def test_graph_bytes_from_dtype_and_shape_and_accessors():
    g = small_graph()
    assert g.tensor_ids() == [1, 2, 3, 4]
    assert g.tensor_shape(1) == (2, 3, 4) and g.tensor_dtype(1) == "float32"
    assert g.tensor_bytes(1) == 96 and g.tensor_bytes(2) == 128
    assert g.tensor_name(1) == "x" and g.tensor_name(3) is None
    assert g.tensor_shape(3) is None and g.tensor_dtype(3) is None
    with pytest.raises(ValueError, match="is not float32"):
        g.add_tensor(9, 10, dtype="float32", shape=(3,))
    with pytest.raises(ValueError, match="give bytes"):
        g.add_tensor(9, dtype="float32")
    g.add_tensor(9, dtype=np.float64, shape=[2])
    assert g.tensor_dtype(9) == "float64" and g.tensor_bytes(9) == 16


def test_register_gives_views_with_dtype_shape_at_the_arena(client):
    with client.register(small_graph()) as p:
        assert p.peak_bytes >= p.lower_bound_bytes > 0
        assert p.policy == "portfolio"
        x = p.tensor(1)
        assert x.dtype == np.float32 and x.shape == (2, 3, 4) and x.flags.writeable
        h = p.tensor(2)
        assert h.dtype == np.int16 and h.shape == (8, 8)
        out = p.tensor(3)
        assert out.dtype == np.uint8 and out.shape == (100,)
        # No copy: the array's data is the arena's bytes at the tensor's offset.
        for tid, a in ((1, x), (2, h), (3, out)):
            assert a.ctypes.data == client.arena_base + p.offset(tid)
        x[...] = np.arange(24, dtype=np.float32).reshape(2, 3, 4)
        assert p.tensor(1)[1, 2, 3] == 23.0
        with pytest.raises(orion.Error) as e:
            p.tensor(77)
        assert e.value.errno == errno.ENOENT
    assert client.stats()["graphs"] == 1  # x, h, out still view it: deferred
    del x, h, out, a
    gc.collect()
    assert p._views == 0 and p._freed
    assert client.stats()["graphs"] == 0


def test_explicit_policy(client):
    p = client.register(small_graph(), policy="greedy-size")
    assert p.policy == "greedy-size"
    p.release()


def test_view_outliving_release_is_deferred_and_never_dangles(client, daemon):
    p = client.register(small_graph())
    x = p.tensor(1)
    x[...] = 7.0
    p.release()
    assert p.released
    # Released from Python: no new views, no accessors.
    with pytest.raises(orion.Error) as e:
        p.tensor(1)
    assert e.value.errno == errno.EBADF
    # But the daemon keeps the registration while the view lives: its bytes are ours.
    assert client.stats()["graphs"] == 1
    assert float(x.sum()) == 7.0 * 24
    x[0, 0, 0] = 1.0
    p.release()  # a second release does nothing
    del x
    gc.collect()
    assert client.stats()["graphs"] == 0
    assert client.stats()["used_bytes"] == 0


def test_view_derived_arrays_keep_the_plan(client):
    p = client.register(small_graph())
    y = p.tensor(2)[2:4, ::2]  # a slice of a view: its base chain holds the plan
    p.release()
    gc.collect()
    assert client.stats()["graphs"] == 1
    y[...] = 3
    del y
    gc.collect()
    assert client.stats()["graphs"] == 0


def test_close_with_live_views_keeps_the_connection_until_they_go(daemon):
    c = orion.Client(daemon.socket)
    p = c.register(small_graph())
    x = p.tensor(1)
    b = c.buffer_create("held", 4096)
    c.close()
    assert c.closed
    with pytest.raises(orion.Error) as e:
        c.stats()
    assert e.value.errno == errno.EBADF
    with orion.Client(daemon.socket) as other:
        st = other.stats()
        assert st["clients"] == 2 and st["graphs"] == 1 and st["buffers"] == 0
        x[...] = 1.0  # still mapped
        del x
        gc.collect()
        st = other.stats()
        assert st["clients"] == 1 and st["graphs"] == 0
    del p, b


def test_dlpack_is_zero_copy(client):
    with client.register(small_graph()) as p:
        x = p.tensor(1)
        d = np.from_dlpack(x)
        assert d.ctypes.data == x.ctypes.data == client.arena_base + p.offset(1)
        x[0, 0, 0] = 5.0
        assert d[0, 0, 0] == 5.0  # numpy 1.24 imports DLPack arrays read-only
        assert hasattr(x, "__dlpack__")


def test_invalid_graph_is_an_orion_error_naming_op_and_tensor(client):
    g = orion.Graph("bad")
    g.add_tensor(1, 16)
    g.add_tensor(2, 16, kind="output")
    g.add_op("READER", [1], [2])  # 1 is read before anything wrote it
    with pytest.raises(orion.Error) as e:
        client.register(g)
    assert e.value.errno == errno.EINVAL
    assert isinstance(e.value, OSError)
    assert "READER" in e.value.strerror and "1" in e.value.strerror


def test_buffer_errors(client):
    with pytest.raises(orion.Error) as e:
        client.buffer_open("missing")
    assert e.value.errno == errno.ENOENT and "missing" in e.value.strerror
    with pytest.raises(orion.Error) as e:
        client.buffer_wait("missing", timeout_ms=20)
    assert e.value.errno == errno.ETIMEDOUT
    b = client.buffer_create("dup", 64)
    with pytest.raises(orion.Error) as e:
        client.buffer_create("dup", 64)
    assert e.value.errno == errno.EEXIST
    b.release()
    with pytest.raises(orion.Error) as e:
        client.buffer_create("huge", 1 << 40)
    assert e.value.errno == errno.ENOSPC


def test_connect_failure_is_an_orion_error(tmp_path):
    with pytest.raises(orion.Error) as e:
        orion.Client(str(tmp_path / "nobody.sock"))
    assert e.value.errno in (errno.ENOENT, errno.ECONNREFUSED)


def test_forked_child_gets_echild(client):
    p = client.register(small_graph())
    b = client.buffer_create("fork", 64)
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        codes = []
        for call in (client.stats, lambda: client.register(small_graph()),
                     lambda: client.buffer_open("fork"), lambda: p.tensor(1),
                     lambda: b.array()):
            try:
                call()
                codes.append(0)
            except orion.Error as e:
                codes.append(e.errno)
            except BaseException:
                codes.append(-1)
        os.write(w, bytes(codes))
        os._exit(0)
    os.close(w)
    got = os.read(r, 64)
    os.close(r)
    _, status = os.waitpid(pid, 0)
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0
    assert list(got) == [errno.ECHILD] * 5
    # The parent's connection is untouched.
    assert client.stats()["graphs"] == 1
    p.release()
    b.release()
