"""Fixtures: a real orionrtd on a private socket in a temp directory.

Run by CTest (python/CMakeLists.txt: python_tests) with PYTHONPATH pointing
at build/python and ORIONRTD, ORION_BUILD_DIR, ORION_BENCH_DATA set; by hand:
  PYTHONPATH=build/python ORIONRTD=build/daemon/orionrtd \
      /usr/bin/python3 -m pytest tests/python
"""
import os
import signal
import socket
import subprocess
import time

import pytest

import orion

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.environ.get("ORION_BUILD_DIR", os.path.join(ROOT, "build"))
ORIONRTD = os.environ.get("ORIONRTD", os.path.join(BUILD, "daemon", "orionrtd"))
BENCH_DATA = os.environ.get("ORION_BENCH_DATA", os.path.join(ROOT, "..", "shared", "bench"))
SLOWDOWN = int(os.environ.get("ORION_TEST_SLOWDOWN", "1") or 1)


class Daemon:
    def __init__(self, tmp, arena="64M", extra=()):
        self.dir = str(tmp)
        self.socket = os.path.join(self.dir, "orionrtd.sock")
        self.log_path = os.path.join(self.dir, "orionrtd.log")
        self._log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(
            [ORIONRTD, "--socket", self.socket, "--arena-size", arena, *extra],
            stdout=self._log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 10 * SLOWDOWN
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError("orionrtd exited %d: %s" % (self.proc.returncode, self.log()))
            try:
                s = socket.socket(socket.AF_UNIX)
                s.connect(self.socket)
                s.close()
                break
            except OSError:
                s.close()
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("orionrtd not ready: " + self.log())
            time.sleep(0.01)

    def log(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode(errors="replace")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10 * SLOWDOWN)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()
        return self.proc.returncode


@pytest.fixture
def daemon(tmp_path):
    d = Daemon(tmp_path)
    yield d
    rc = d.stop()
    assert rc == 0, "orionrtd exited %s: %s" % (rc, d.log())


@pytest.fixture
def client(daemon):
    with orion.Client(daemon.socket) as c:
        yield c


def example_bin(name):
    p = os.path.join(BUILD, "examples", name)
    if not os.path.exists(p):
        pytest.skip("%s not built" % p)
    return p


def models_dir():
    d = os.path.join(BENCH_DATA, "models")
    if not os.path.isdir(d):
        pytest.skip("no benchmark data at %s" % BENCH_DATA)
    return d
