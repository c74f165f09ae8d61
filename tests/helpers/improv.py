"""Shared by the Improv tests (tests/improv): the device (tests/improv/improv_device.py on a
pseudo-terminal) and the real Improv client (improv-wifi-serial-sdk under Node,
tools/improv/client.mjs)."""

import json
import os
import select
import subprocess
import termios
import time

from helpers.micropython import ROOT, SCENARIOS
from helpers.portal import build_page, end_process, free_port

DEVICE = ROOT / "tests" / "improv" / "improv_device.py"
SDK = ROOT / "build" / "improv" / "node_modules" / "improv-wifi-serial-sdk" / "dist" / "serial.js"
CLIENT = ROOT / "tools" / "improv" / "client.mjs"
REGISTER = ROOT / "tools" / "improv" / "register.mjs"


class SerialDevice:
    """MicroPython running improv_device.py with a pseudo-terminal as its console; `master` is
    the other end (what a USB serial adapter would be), `get()` reads its portal."""

    def __init__(self, micropython, scenario="first-boot"):
        import http.client

        self._http = http.client
        build_page()
        self.port = free_port()
        self.state = micropython.tmp_path / ("device-%d" % self.port)
        self.state.mkdir(parents=True, exist_ok=True)
        self.master, slave = os.openpty()
        self.log = open(self.state / "device.log", "w+")
        self.proc = micropython.popen(
            DEVICE,
            args=(SCENARIOS / (scenario + ".json"), self.state, self.port),
            stdin=slave,
            stdout=slave,
            stderr=self.log,
        )
        os.close(slave)
        # Ready once the portal answers: the loop runs, and the Improv reader (started before
        # the portal's task) is reading.
        deadline = time.monotonic() + 30
        while True:
            if self.proc.poll() is not None or time.monotonic() > deadline:
                out = self.output()
                self.stop()
                raise AssertionError("device did not start:\n%s" % out)
            try:
                self.status()
                break
            except OSError:
                time.sleep(0.1)
        if "improv: answering" not in self.output():
            out = self.output()
            self.stop()
            raise AssertionError("the device does not answer Improv:\n%s" % out)
        # What the console showed at boot: the setup key line (printed at every boot), read
        # here so that the tests see only what answers what they send.
        self.boot = self.read(0.3)
        assert b"wifimgr: setup key " in self.boot, self.boot

    def output(self):
        self.log.flush()
        self.log.seek(0)
        return self.log.read()

    def status(self):
        conn = self._http.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            conn.request("GET", "/api/status")
            return json.loads(conn.getresponse().read())
        finally:
            conn.close()

    def wait_status(self, predicate, timeout=20):
        deadline = time.monotonic() + timeout
        while True:
            st = self.status()
            if predicate(st):
                return st
            assert time.monotonic() < deadline, "status never matched: %r" % st
            time.sleep(0.1)

    def write(self, data):
        os.write(self.master, data)

    def read(self, seconds):
        """Everything the device writes to its console within `seconds`."""
        out = b""
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            if select.select([self.master], [], [], left)[0]:
                try:
                    out += os.read(self.master, 4096)
                except OSError:  # the device closed the terminal
                    break
        return out

    def terminal(self):
        return termios.tcgetattr(self.master)

    def stop(self):
        end_process(self.proc)
        os.close(self.master)
        self.log.close()


class Client:
    """The SDK's ImprovSerial on the device's serial line, one command at a time."""

    def __init__(self, device):
        self.proc = subprocess.Popen(
            ["node", "--import", str(REGISTER), str(CLIENT), str(SDK), str(device.master)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            pass_fds=(device.master,),
            text=True,
        )

    def __call__(self, op, **args):
        self.proc.stdin.write(json.dumps({"op": op, **args}) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        assert line, "the Improv client exited (%s)" % self.proc.poll()
        return json.loads(line)

    def close(self):
        if self.proc.poll() is None:
            self.proc.stdin.write('{"op": "exit"}\n')
            self.proc.stdin.close()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc.stdout.close()
