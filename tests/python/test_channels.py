"""Channels from Python (issue 7's C API): skipped while liborion-client has none.

The extension module compiles its channel classes when <orion/channel.h>
exists (orion.HAVE_CHANNELS); these tests then run.
"""
import errno
import gc
import os
import subprocess
import sys

import numpy as np
import pytest

import orion
from conftest import BUILD

pytestmark = pytest.mark.skipif(not orion.HAVE_CHANNELS,
                                reason="liborion-client built without channels "
                                       "(no include/orion/channel.h)")


@pytest.fixture
def pair(daemon):
    with orion.Client(daemon.socket) as prod, orion.Client(daemon.socket) as cons:
        yield prod, cons


def test_python_to_python_in_order_same_bytes(pair):
    prod, cons = pair
    tx = prod.channel_create("py/ch", 4096, depth=4)
    rx = cons.channel_open("py/ch", timeout_ms=5000)
    assert tx.slot_bytes >= 4096
    for i in range(200):
        s = tx.acquire(timeout_ms=5000)
        a = s.array("uint32", (1024,))
        a[:] = np.arange(1024, dtype=np.uint32) + i
        del a
        tx.publish(s)
        m = rx.receive(timeout_ms=5000)
        assert m.seq == i and m.nbytes == 4096
        v = m.array("uint32", (1024,))
        assert not v.flags.writeable
        assert np.array_equal(v, np.arange(1024, dtype=np.uint32) + i)
        del v
        m.done()
    rx.close()
    tx.close()


def test_message_view_outliving_done_holds_the_slot(pair):
    prod, cons = pair
    tx = prod.channel_create("py/hold", 64, depth=1)
    rx = cons.channel_open("py/hold", timeout_ms=5000)
    tx.publish(tx.acquire(), nbytes=8)
    m = rx.receive(timeout_ms=5000)
    v = m.array("uint8", (8,))
    m.done()  # deferred: v still views the slot
    with pytest.raises(orion.Error) as e:
        tx.acquire(timeout_ms=50)
    assert e.value.errno == errno.ETIMEDOUT
    with pytest.raises(orion.Error):
        m.array()
    del v
    gc.collect()
    s = tx.acquire(timeout_ms=5000)  # the slot came back
    tx.publish(s)
    rx.close()
    tx.close()


def test_receive_times_out_as_orion_error(pair):
    prod, cons = pair
    tx = prod.channel_create("py/to", 64)
    rx = cons.channel_open("py/to", timeout_ms=5000)
    with pytest.raises(orion.Error) as e:
        rx.receive(timeout_ms=20)
    assert e.value.errno == errno.ETIMEDOUT
    with pytest.raises(orion.Error) as e:
        cons.channel_open("py/none", timeout_ms=0)
    assert e.value.errno in (errno.ENOENT, errno.ETIMEDOUT)
    rx.close()
    tx.close()


def test_forked_child_gets_echild_on_a_channel(pair):
    prod, cons = pair
    tx = prod.channel_create("py/fork", 64)
    pid = os.fork()
    if pid == 0:
        try:
            tx.acquire(timeout_ms=0)
            os._exit(1)
        except orion.Error as e:
            os._exit(0 if e.errno == errno.ECHILD else 2)
        except BaseException:
            os._exit(3)
    _, status = os.waitpid(pid, 0)
    assert os.WEXITSTATUS(status) == 0
    tx.close()


def test_c_stage_to_python_stage(daemon):
    stage1 = os.path.join(BUILD, "python", "orion-py-pipeline-stage1")
    if not os.path.exists(stage1):
        pytest.skip("examples/python/stage1.c not built")
    here = os.path.dirname(os.path.abspath(__file__))
    stage2 = os.path.join(here, "..", "..", "examples", "python", "stage2.py")
    c = subprocess.Popen([stage1, "--socket", daemon.socket, "--iterations", "500"],
                         stdout=subprocess.PIPE, text=True)
    r = subprocess.run([sys.executable, stage2, "--socket", daemon.socket, "--iterations",
                        "500"], capture_output=True, text=True, timeout=120)
    out1 = c.communicate(timeout=60)[0]
    assert c.returncode == 0 and r.returncode == 0, r.stderr
    sum1 = [l for l in out1.splitlines() if l.startswith("checksum=")]
    sum2 = [l for l in r.stdout.splitlines() if l.startswith("checksum=")]
    assert sum1 and sum1 == sum2
