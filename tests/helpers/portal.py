"""Shared code of the portal tests: the page build, a simulated device serving the portal on
loopback (the real Manager on the simulated radio, run by MicroPython), and raw HTTP."""

import contextlib
import http.client
import importlib.util
import json
import re
import socket
import subprocess
import threading
import time
import urllib.parse
from pathlib import Path

from helpers.micropython import ROOT, SCENARIOS

PORTAL = ROOT / "frozen" / "wifimgr" / "portal"
PAGE_SOURCE = PORTAL / "www" / "index.html"
DEVICE = Path(__file__).with_name("portal_device.py")


def mkpage():
    """tools/portal/mkpage.py as a module (it is a build tool, not a package)."""
    spec = importlib.util.spec_from_file_location("mkpage", ROOT / "tools/portal/mkpage.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def build_page():
    """Makes frozen/wifimgr/portal/_page.py as `make` does; returns the gzipped size."""
    return mkpage().build()


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def end_process(proc):
    """Ends a device process: SIGTERM, and SIGKILL if it is still there after 3 s."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=3)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


class Device:
    """MicroPython running tests/helpers/portal_device.py (or `script`, taking the same
    arguments): the portal on 127.0.0.1:port."""

    def __init__(self, micropython, scenario="first-boot", state=None, script=DEVICE):
        build_page()
        self.port = free_port()
        self.url = "http://127.0.0.1:%d/" % self.port
        self.state = state or micropython.tmp_path / ("device-%d" % self.port)
        self.state.mkdir(parents=True, exist_ok=True)
        scenario = (
            scenario if str(scenario).endswith(".json") else SCENARIOS / (scenario + ".json")
        )
        self.log = open(self.state / "device.log", "w+")
        self.proc = micropython.popen(
            script,
            args=(scenario, self.state, self.port),
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        self._token = self._cookie = None
        deadline = time.monotonic() + 20
        while True:
            if self.proc.poll() is not None:
                raise AssertionError(
                    "device exited %d:\n%s" % (self.proc.returncode, self.output())
                )
            try:
                if self.get("/api/status")[0] == 200:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise AssertionError("portal did not answer in 20 s:\n%s" % self.output())
            time.sleep(0.1)

    def setup_key(self):
        """The setup key the device printed on its console at boot."""
        return setup_key_of(self.output())

    def output(self):
        self.log.flush()
        self.log.seek(0)
        return self.log.read()

    def stop(self):
        end_process(self.proc)
        self.log.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()

    # --- HTTP ------------------------------------------------------------------------------

    def request(self, method, path, body=None, headers=None, timeout=10, session=True):
        """(status, headers dict with lower-case names, body bytes) over one connection; with
        the session cookie once token() made one (unless `session` is False)."""
        h = dict(headers or {})
        if session and self._cookie and "Cookie" not in h:
            h["Cookie"] = self._cookie
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            conn.request(method, path, body=body, headers=h)
            resp = conn.getresponse()
            return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
        finally:
            conn.close()

    def get(self, path, headers=None):
        return self.request("GET", path, headers=headers)

    def json(self, path):
        status, _, body = self.get(path)
        assert status == 200, (path, status, body)
        return json.loads(body)

    def client(self):
        """Another client of this portal: its own session."""
        return _Client(self.port)

    def token(self):
        """The token of this client's session, made on first use (its cookie is kept)."""
        if self._token is None:
            status, headers, body = self.get("/api/session")
            assert status == 200, (status, body)
            self._cookie = headers["set-cookie"].split(";")[0]
            self._token = json.loads(body)["token"]
        return self._token

    def unlock(self, key):
        """Unlocks this client's session with the setup key; (status, doc)."""
        return self.post("/api/unlock", {"key": key})

    def post(self, path, fields=None, *, body=None, ctype=None, token=True, headers=None):
        """POSTs `fields` form-encoded (every byte percent-encoded), or `body` as given, in
        this client's session (`token`: with its X-Token)."""
        h = dict(headers or {})
        if token:
            h["X-Token"] = self.token()
        if body is None:
            body = urllib.parse.urlencode(fields or {}, quote_via=urllib.parse.quote, safe="")
            ctype = ctype or "application/x-www-form-urlencoded"
        if ctype:
            h["Content-Type"] = ctype
        status, _, data = self.request("POST", path, body=body, headers=h)
        return status, json.loads(data) if data else None

    def wait_status(self, predicate, timeout=20):
        deadline = time.monotonic() + timeout
        while True:
            st = self.json("/api/status")
            if predicate(st):
                return st
            if time.monotonic() > deadline:
                raise AssertionError("status never matched: %s" % st)
            time.sleep(0.1)


def setup_key_of(console):
    """The setup key in a device's console output (the line it prints at every boot)."""
    found = re.findall(r"wifimgr: setup key ([0-9a-z-]+)", console)
    assert found, "no setup key on the console:\n" + console
    return found[-1]


@contextlib.contextmanager
def slow_clients(port, count, every_s):
    """`count` connections to the portal that send a request line, then dribble one more byte of
    head each `every_s` seconds (slowloris) until the block ends; then they close."""
    stop = threading.Event()
    socks = []
    for _ in range(count):
        s = socket.create_connection(("127.0.0.1", port), timeout=10)
        s.sendall(b"GET / HTTP/1.1\r\n")
        socks.append(s)

    def dribble():
        while not stop.is_set():
            for s in socks:
                try:
                    s.sendall(b"X")
                except OSError:
                    pass  # the portal cut it off
            time.sleep(every_s)

    thread = threading.Thread(target=dribble, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()
        for s in socks:
            s.close()


@contextlib.contextmanager
def slow_bodies(port, count, every_s, headers="", length=2000):
    """`count` connections that each send a whole `POST /api/connect` head announcing a
    `length`-byte body (with `headers`, e.g. a session's cookie and token), then one byte of
    body each `every_s` seconds until the block ends. A connection the portal cuts off is
    opened again at once: a persistent attacker. Yields a dict with the count of reopens."""
    head = (
        "POST /api/connect HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nContent-Length: %d\r\n"
        "Content-Type: application/x-www-form-urlencoded\r\n%s\r\n" % (port, length, headers)
    ).encode()
    stop = threading.Event()
    stats = {"reopened": 0}

    def opened():
        s = socket.create_connection(("127.0.0.1", port), timeout=2)
        s.sendall(head)
        return s

    socks = [opened() for _ in range(count)]

    def dribble():
        while not stop.is_set():
            for i, s in enumerate(socks):
                try:
                    s.sendall(b"s")
                except OSError:
                    s.close()
                    try:
                        socks[i] = opened()
                        stats["reopened"] += 1
                    except OSError:
                        pass
            stop.wait(every_s)

    thread = threading.Thread(target=dribble, daemon=True)
    thread.start()
    try:
        yield stats
    finally:
        stop.set()
        thread.join()
        for s in socks:
            s.close()


def raw(port, data, timeout=5, shut=False):
    """Sends `data` on a fresh connection and returns all the server sent until it closed."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(data)
        if shut:
            s.shutdown(socket.SHUT_WR)
        out = b""
        while True:
            try:
                chunk = s.recv(4096)
            except TimeoutError:
                break
            if not chunk:
                break
            out += chunk
        return out


class Sim:
    """`make sim` (tools/sim/launch.py) on free ports with a scenario, until stop()."""

    def __init__(self, scenario, state):
        import os
        import signal
        import sys

        from helpers.micropython import MICROPYTHON

        build_page()
        self._signal = signal
        self.port = free_port()
        self.url = "http://127.0.0.1:%d/" % self.port
        env = {
            **os.environ,
            "WIFIMGR_MICROPYTHON": MICROPYTHON,
            "WIFIMGR_HTTP_PORT": str(self.port),
            "WIFIMGR_DNS_PORT": str(free_port()),
        }
        if not str(scenario).endswith(".json"):
            scenario = SCENARIOS / (scenario + ".json")
        self.state = Path(state)
        self.proc = subprocess.Popen(
            [sys.executable, str(ROOT / "tools/sim/launch.py"), "--scenario"]
            + [str(scenario), "--state", str(state)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.lines = []
        for line in self.proc.stdout:
            self.lines.append(line)
            if "simulator ready" in line:
                break
        else:
            raise AssertionError("make sim did not start:\n" + "".join(self.lines))
        # the rest of its console, read as it comes (a full pipe would stop the device)
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        self.api = _Client(self.port)

    def _read(self):
        for line in self.proc.stdout:
            self.lines.append(line)

    def console(self):
        """Everything the simulator and the device printed so far."""
        return "".join(self.lines)

    def setup_key(self):
        return setup_key_of("".join(self.lines))

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(self._signal.SIGINT)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._reader.join(timeout=5)
        self.proc.stdout.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


class _Client(Device):
    """The HTTP helpers of Device for a portal started by someone else."""

    def __init__(self, port):  # not Device.__init__, which would start a device
        self.port = port
        self.url = "http://127.0.0.1:%d/" % port
        self._token = self._cookie = None
