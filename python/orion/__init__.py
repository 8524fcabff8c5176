"""orion: Python for orionrtd, on liborion-client.

    import orion
    with orion.Client() as c:
        g = orion.Graph("g")
        g.add_tensor(1, dtype="float32", shape=(1, 224, 224, 3), kind="input")
        ...
        with c.register(g) as p:
            x = p.tensor(1)          # a numpy array over the arena: no copy

Views (numpy arrays from Plan.tensor, Buffer.array, Slot.array, Message.array)
never dangle. Each keeps its handle alive (the array's base), and releasing
a handle while views of it exist is DEFERRED: release() (done(), close())
returns at once and the handle can no longer be used, but the daemon gets
the registration (buffer, message) back only when the last view is garbage
collected. Client.close() does the same for all its handles, and closes the
connection once none is left. Views of sealed buffers, of buffers opened or
waited for, and of received messages are read-only.

Writable views also support __dlpack__ (numpy.from_dlpack takes them with no
copy); numpy 1.24 refuses to export read-only arrays by DLPack.

Errors are orion.Error, an OSError: .errno (errno.ENOENT, ...) and .strerror,
the library's message. In a forked child every call on a client made by the
parent raises orion.Error with errno ECHILD: connect again in the child.
"""
import errno as _errno
import math as _math

import numpy as _np

from . import _orion
from ._orion import Error
from .graph import Graph, DTYPES

__all__ = ["Client", "Graph", "Plan", "Buffer", "Channel", "Slot", "Message", "Error",
           "HAVE_CHANNELS", "plan_offline", "policies", "models"]

HAVE_CHANNELS = bool(_orion.HAVE_CHANNELS)
policies = _orion.policies


def _array(view, dtype, shape):
    """A numpy array over view (a _View) with no copy."""
    dt = _np.dtype(dtype)
    n = len(view)
    if shape is None:
        shape = (n // dt.itemsize,)
    elif isinstance(shape, int):
        shape = (shape,)
    shape = tuple(int(d) for d in shape)
    count = _math.prod(shape)
    if count * dt.itemsize > n:
        raise ValueError("%s x %s is %d bytes, more than the %d there are"
                         % (dt.name, list(shape), count * dt.itemsize, n))
    return _np.frombuffer(view, dtype=dt, count=count).reshape(shape)


class Plan(_orion.Plan):
    """A registered graph: c.register(g). Context manager (releases)."""

    def tensor(self, id):
        """A numpy view of tensor id: the graph's dtype and shape, else uint8."""
        view = self._region(id)
        dtype, shape = self._info.get(id, (None, None)) if self._info else (None, None)
        if dtype is None:
            return _array(view, "uint8", None)
        return _array(view, dtype, shape)


class Buffer(_orion.Buffer):
    """A named buffer. Context manager (releases)."""

    def array(self, dtype="uint8", shape=None):
        """A numpy view of the buffer (read-only once sealed, or when opened)."""
        return _array(self._region(), dtype, shape)


class Channel(_orion.Channel):
    """A channel endpoint (producer: acquire/publish; consumer: receive)."""

    def __exit__(self, *exc):
        self.close()


class Slot(_orion.Slot):
    """An acquired slot; write it through array(), then ch.publish(slot)."""

    def array(self, dtype="uint8", shape=None):
        return _array(self._region(), dtype, shape)


class Message(_orion.Message):
    """A received message: read-only array(), .seq, .nbytes; done() when finished."""

    def array(self, dtype="uint8", shape=None):
        return _array(self._region(), dtype, shape)

    def __exit__(self, *exc):
        self.done()


_orion._set_types(Plan, Buffer, Channel, Slot, Message)


class Client(_orion.Client):
    """A connection to orionrtd: Client(socket=None). Context manager (closes)."""

    def register(self, g, policy=None):
        """Register g (an orion.Graph): the daemon validates, plans, allocates."""
        p = self._register(g.name, g._tensor_tuples(), g._op_tuples(), policy)
        p._info = {i: (g.tensor_dtype(i), g.tensor_shape(i)) for i in g.tensor_ids()}
        return p

    if not HAVE_CHANNELS:
        def channel_create(self, name, slot_bytes, depth=4, max_consumers=8):
            raise Error(_errno.ENOSYS, "this build of liborion-client has no channels")

        def channel_open(self, name, timeout_ms=-1):
            raise Error(_errno.ENOSYS, "this build of liborion-client has no channels")


def plan_offline(g, policy=None, time_limit=0.0):
    """Plan g with the core's planner, as `orionctl plan` does (no daemon).
    Returns a dict: peak, lower_bound, policy, ms, offsets {id: workspace offset}."""
    peak, lb, pol, ms, offs = _orion.plan_offline(g._tensor_tuples(), g._op_tuples(), policy,
                                                  float(time_limit))
    return {"peak": peak, "lower_bound": lb, "policy": pol, "ms": ms,
            "offsets": dict(zip(g.tensor_ids(), offs))}


def summary_line(peak, lower_bound, policy, ms):
    """orionctl plan's summary line."""
    if lower_bound == 0:
        ratio = "1.0000" if peak == 0 else "inf"
    else:
        ratio = "%.4f" % (peak / lower_bound)
    return "peak=%d lower_bound=%d ratio=%s policy=%s ms=%.3f" % (peak, lower_bound, ratio,
                                                                  policy, ms)


from . import models  # noqa: E402  (needs Graph)
