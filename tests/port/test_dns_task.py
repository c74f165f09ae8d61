"""port/dns_task.c (with core/dns.c) as a real UDP server: tools/dns/server.c, the host build.

dnspython asks it every kind of question over loopback; LD_PRELOAD counts its heap allocations
while it serves; SIGTERM stops it under load and the port is free again.
"""

import json
import os
import select
import signal
import socket
import subprocess
import time

import pytest
from helpers import dnsclient
from helpers.micropython import ROOT

TOOLS = ROOT / "build" / "host" / "dns"


@pytest.fixture(scope="module")
def tools():
    subprocess.run(["make", "-s", "dns-tools"], cwd=ROOT, check=True, capture_output=True)
    return TOOLS


class Server:
    """tools/dns/server.c on 127.0.0.1 and a free port, configured as dnsclient.SERVER."""

    def __init__(self, tools, env=None):
        self.proc = subprocess.Popen(
            [str(tools / "wm_dns_server"), *dnsclient.SERVER_ARGS, "--port", "0"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        line = self.proc.stdout.readline().split()
        assert line[:1] == ["ready"], "server did not start: %r %s" % (line, self.stderr_now())
        self.port = int(line[1])

    def stderr_now(self):
        if self.proc.poll() is None:
            return ""
        return self.proc.stderr.read()

    def stderr_line(self, timeout=5):
        ready, _, _ = select.select([self.proc.stderr], [], [], timeout)
        assert ready, "no line on stderr within %s s" % timeout
        return self.proc.stderr.readline().strip()

    def stop(self):
        """SIGTERM; the JSON line it prints on the way out (counters and stop_ms)."""
        self.proc.send_signal(signal.SIGTERM)
        out, _ = self.proc.communicate(timeout=10)
        assert self.proc.returncode == 0
        return json.loads(out.strip().splitlines()[-1])

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


@pytest.fixture
def server(tools):
    s = Server(tools)
    yield s
    s.kill()


def test_dnspython_parses_every_answer_of_the_c_server(server):
    """A (0x20 case kept), AAAA/TXT/MX/HTTPS NODATA, ANY, EDNS0 (DO, cookie, version 1),
    NXDOMAIN/REFUSED allow-list, override, CHAOS, a runt and FORMERR, then a good query again;
    the server's counters agree with what was sent."""
    sent, answered = dnsclient.check_responder(server.port)
    stats = server.stop()
    assert (stats["queries"], stats["answers"], stats["drops"]) == (
        sent,
        answered,
        sent - answered,
    )


def test_no_heap_allocation_per_query(tools):
    """malloc_count.so (LD_PRELOAD) counts malloc/calloc/realloc/posix_memalign in the server:
    the count after tens of thousands of queries is the count before them."""
    env = {**os.environ, "LD_PRELOAD": str(tools / "malloc_count.so")}
    server = Server(tools, env=env)
    try:
        # One query first, so anything lazily set up on the first datagram is counted before.
        assert dnsclient.ask(server.port, "warm.up").answer
        server.proc.send_signal(signal.SIGUSR1)
        before = server.stderr_line()
        load = subprocess.run(
            [str(tools / "dns_load"), str(server.port), "0.5", "16"],
            capture_output=True,
            text=True,
            check=True,
        )
        received = json.loads(load.stdout)["received"]
        server.proc.send_signal(signal.SIGUSR1)
        after = server.stderr_line()
        stats = server.stop()
    finally:
        server.kill()
    assert before.startswith("mallocs ") and int(before.split()[1]) > 0, "counter not live"
    assert received >= 1000 and stats["answers"] >= received
    assert after == before, "%s queries allocated: %s -> %s" % (stats["queries"], before, after)


def can_bind(port):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def test_stop_under_load_returns_and_frees_the_port(server, tools):
    """SIGTERM while dns_load keeps 32 queries in flight: wm_dns_task_stop returns, the server
    exits with its counters and the port can be bound at once. (The time stop takes is a bench
    number, `dns_stop_ms`.)"""
    assert not can_bind(server.port)
    load = subprocess.Popen(
        [str(tools / "dns_load"), str(server.port), "1.5", "32"], stdout=subprocess.PIPE
    )
    try:
        time.sleep(0.3)
        stats = server.stop()
    finally:
        load.wait(timeout=10)
    assert stats["queries"] > 0 and "stop_ms" in stats
    assert can_bind(server.port)


def test_stop_when_idle_returns_and_frees_the_port(server):
    stats = server.stop()
    assert stats["queries"] == 0 and "stop_ms" in stats
    assert can_bind(server.port)
