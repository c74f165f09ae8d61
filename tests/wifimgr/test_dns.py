"""wifimgr/dns.py (and _wifimgr.DNSServer on the native tier) on MicroPython."""

import json
import select
import signal
import socket
import subprocess

import pytest
from helpers import dnsclient, dnsvec
from helpers.micropython import ROOT


def free_udp_port():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_python_twin_passes_every_vector(micropython):
    """Every conformance vector through wifimgr.dns.answer on MicroPython, byte for byte."""
    code = """
import json, sys
from wifimgr import dns
data = json.load(open(sys.argv[1]))
c = data["config"]
cfg = dns.Answers(c["ip"], c["ttl"], c["overrides"], c["nxdomain"], c["refused"])
out = []
for v in data["vectors"]:
    r = dns.answer(cfg, bytes.fromhex(v["query"]))
    out.append("drop" if r is None else r.hex())
print(json.dumps(out))
"""
    data = dnsvec.load()
    got = json.loads(micropython.run(code, args=[dnsvec.VECTORS]).strip().splitlines()[-1])
    failures = [
        (v["name"], want, g)
        for v, g in zip(data["vectors"], got, strict=True)
        if g != (want := v["response"])
    ]
    assert not failures


@pytest.mark.parametrize(
    "args,message",
    [
        ("'192.168.4'", "ip: not an IPv4 address"),
        ("'192.168.4.256'", "ip: not an IPv4 address"),
        ("1234", "ip: not an IPv4 address"),
        ("'10.0.0.1', ttl=-1", "ttl: must be"),
        ("'10.0.0.1', ttl=2**31", "ttl: must be"),
        ("'10.0.0.1', port=70000", "port: must be"),
        ("'10.0.0.1', bind='localhost'", "bind: not an IPv4 address"),
        ("'10.0.0.1', nxdomain=['a..b']", "bad label"),
        ("'10.0.0.1', refused=['x' * 64 + '.com']", "bad label"),
        ("'10.0.0.1', overrides={'a.b': '1.2.3'}", "override for a.b"),
        ("'10.0.0.1', nxdomain=['n%d.x' % i for i in range(9)]", "at most 8"),
    ],
)
def test_bad_arguments_raise_value_error_naming_them(micropython, args, message):
    """Both DNSServer classes reject bad arguments with a ValueError naming the argument."""
    code = (
        """
from wifimgr import dns
classes = [dns.DNSServer]
try:
    import _wifimgr
    classes.append(_wifimgr.DNSServer)
except ImportError:
    pass
for cls in classes:
    try:
        cls(%s)
    except ValueError as e:
        print(cls.__module__ if hasattr(cls, "__module__") else "c", "ValueError:", e)
    else:
        print("no error")
"""
        % args
    )
    out = micropython.run(code).strip().splitlines()
    assert out and all("ValueError:" in line and message in line for line in out), out


SERVE = """
import asyncio, socket, sys, wifimgr
from wifimgr import dns

PORT = int(sys.argv[1])
IMPL = sys.argv[2]

async def ask(sock, q):
    sock.sendto(q, socket.getaddrinfo("127.0.0.1", PORT)[0][-1])
    for _ in range(200):
        try:
            return sock.recv(600)
        except OSError:
            await asyncio.sleep_ms(5)
    return None

async def main():
    cls = wifimgr.dns_class() if IMPL == "select" else dns.DNSServer
    c = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    c.setblocking(False)
    with cls("192.168.4.1", port=PORT, ttl=30, bind="127.0.0.1", nxdomain=["no.test"]) as srv:
        srv.start()  # a second start() is a no-op
        a = await ask(c, bytes.fromhex(sys.argv[3]))
        bad = await ask(c, b"\\x00\\x01")  # dropped
        b = await ask(c, bytes.fromhex(sys.argv[4]))
        s = srv.stats()
    print(a.hex() if a else None)
    print(bad)
    print(b.hex() if b else None)
    print(s["queries"], s["answers"], s["drops"], s["running"], srv.stats()["running"])

asyncio.run(main())
"""


@pytest.mark.parametrize("impl", ["python", "select"])
def test_server_answers_over_udp_and_counts(micropython, impl):
    """A DNSServer started inside asyncio answers on loopback, drops garbage, keeps going."""
    q1 = dnsvec.query("Captive.Test", qid=0x0102)
    q2 = dnsvec.query("no.test", qid=0x0304, extra=dnsvec.opt(), ar=1)
    out = micropython.run(
        SERVE, args=[free_udp_port(), impl, q1.hex(), q2.hex()], timeout=30
    ).splitlines()
    r1 = dnsvec.response(q1, answer_ip="192.168.4.1")
    r1 = r1[:-10] + b"\x00\x00\x00\x1e" + r1[-6:]  # ttl=30
    assert out[0] == r1.hex()
    assert out[1] == "None"
    assert out[2] == dnsvec.response(q2, rcode=dnsvec.NXDOMAIN, edns=False).hex()
    assert out[3] == "3 2 1 True False"


def test_dns_class_prefers_the_native_class(micropython):
    """wifimgr.dns_class() is _wifimgr.DNSServer when the firmware has it, and then the twin
    is never imported; else the Python twin."""
    code = """
import sys, wifimgr
cls = wifimgr.dns_class()
c = wifimgr.native("DNSServer")
twin = "wifimgr.dns" in sys.modules
print(cls is (c or sys.modules["wifimgr.dns"].DNSServer), twin != bool(c))
"""
    assert micropython.run(code).split() == ["True", "True"]


def test_bind_conflict_raises_oserror(micropython):
    code = """
import asyncio, socket, sys, wifimgr
from wifimgr import dns
async def main():
    a = wifimgr.dns_class()("10.0.0.1", port=int(sys.argv[1]), bind="127.0.0.1")
    a.start()
    try:
        dns.DNSServer("10.0.0.1", port=int(sys.argv[1]), bind="127.0.0.1").start()
    except OSError as e:
        print("OSError", e.errno)
    a.stop()
    # The port is free again right after stop().
    b = dns.DNSServer("10.0.0.1", port=int(sys.argv[1]), bind="127.0.0.1")
    b.start()
    b.stop()
    print("rebound")
asyncio.run(main())
"""
    out = micropython.run(code, args=[free_udp_port()]).split()
    assert out == ["OSError", "98", "rebound"]


@pytest.mark.parametrize("impl", ["python", "native"])
def test_dnspython_parses_every_answer_over_loopback(micropython, tmp_path, impl):
    """dnspython as the client of a DNSServer on MicroPython (the twin, or _wifimgr's on the
    native tier): A with 0x20 case, NODATA, ANY, EDNS0, allow-list, override, CHAOS, a runt and
    FORMERR, then a good query; the server's stats agree with what was sent."""
    if impl == "native" and not micropython.native:
        pytest.skip("no _wifimgr in %s: the native tier needs make unix" % micropython.executable)
    script = tmp_path / "serve.py"
    script.write_text(dnsclient.SERVE_UNTIL_STOPPED)
    stop = tmp_path / "stop"
    port = free_udp_port()
    proc = micropython.popen(
        script,
        args=[port, impl, stop, json.dumps(dnsclient.SERVER)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout.readline().strip() == "ready", proc.stderr.read()
        sent, answered = dnsclient.check_responder(port)
        stop.touch()
        out, err = proc.communicate(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, err
    stats = json.loads(out.strip().splitlines()[-1])
    del stats["stop_ms"]
    assert stats == {
        "queries": sent,
        "answers": answered,
        "drops": sent - answered,
        "running": False,
    }


NATIVE_IDLE = """
import os, sys, time, _wifimgr

srv = _wifimgr.DNSServer("192.168.4.1", int(sys.argv[1]), bind="127.0.0.1")
srv.start()
print("ready")
for _ in range(1500):  # 30 s at most
    try:
        os.stat(sys.argv[2])
        break
    except OSError:
        time.sleep_ms(20)
srv.stop()
print(srv.stats()["answers"])
"""


def test_native_server_allocates_nothing_per_query(micropython, tmp_path):
    """_wifimgr.DNSServer in a MicroPython process under tools/dns/malloc_count.so: the libc
    allocation count is the same before and after dns_load's queries (the VM only sleeps)."""
    if not micropython.native:
        pytest.skip("no _wifimgr in %s: the native tier needs make unix" % micropython.executable)
    subprocess.run(["make", "-s", "dns-tools"], cwd=ROOT, check=True, capture_output=True)
    tools = ROOT / "build" / "host" / "dns"
    script = tmp_path / "idle.py"
    script.write_text(NATIVE_IDLE)
    stop = tmp_path / "stop"
    port = free_udp_port()
    env = {**micropython.env(), "LD_PRELOAD": str(tools / "malloc_count.so")}
    proc = subprocess.Popen(
        micropython.command(script, [port, stop]),
        env=env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )

    def count():
        proc.send_signal(signal.SIGUSR1)
        ready, _, _ = select.select([proc.stderr], [], [], 5)
        assert ready, "no count from malloc_count.so"
        return proc.stderr.readline().strip()

    try:
        assert proc.stdout.readline().strip() == "ready"
        assert dnsclient.ask(port, "warm.up").answer
        before = count()
        load = subprocess.run(
            [str(tools / "dns_load"), str(port), "0.5", "16"],
            capture_output=True,
            text=True,
            check=True,
        )
        after = count()
        stop.touch()
        out, _ = proc.communicate(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    received = json.loads(load.stdout)["received"]
    assert before.startswith("mallocs ") and int(before.split()[1]) > 0, "counter not live"
    assert received >= 1000 and int(out.split()[-1]) >= received
    assert after == before, "%d queries allocated: %s -> %s" % (received, before, after)


RESTART = """
import asyncio, socket, sys
from wifimgr import dns

PORT = int(sys.argv[1])
Q = bytes.fromhex(sys.argv[3])

async def main():
    if sys.argv[2] == "native":
        import _wifimgr
        srv = _wifimgr.DNSServer("10.0.0.1", PORT, bind="127.0.0.1")
    else:
        srv = dns.DNSServer("10.0.0.1", PORT, bind="127.0.0.1")
    c = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    c.setblocking(False)
    for run in range(2):
        srv.start()
        c.sendto(Q, socket.getaddrinfo("127.0.0.1", PORT)[0][-1])
        for _ in range(200):
            try:
                c.recv(600)
                break
            except OSError:
                await asyncio.sleep_ms(5)
        srv.stop()
        s = srv.stats()
        print(s["queries"], s["answers"], s["drops"], s["running"])

asyncio.run(main())
"""


@pytest.mark.parametrize("impl", ["python", "native"])
def test_stats_add_up_over_a_stop_and_a_restart(micropython, impl):
    """start, one query, stop, start again, one query, stop: both classes count 1 then 2."""
    if impl == "native" and not micropython.native:
        pytest.skip("no _wifimgr in %s: the native tier needs make unix" % micropython.executable)
    q = dnsvec.query("restart.test")
    out = micropython.run(RESTART, args=[free_udp_port(), impl, q.hex()], timeout=30)
    assert out.split("\n")[:2] == ["1 1 0 False", "2 2 0 False"]


DROPPED = """
import gc, socket, sys, time
import _wifimgr

PORT = int(sys.argv[1])
def start(s):
    # A collected server's finaliser does not wait for its thread, which frees the port as it
    # ends (at once on Linux, where shutdown() wakes its recvfrom()).
    for _ in range(1000):
        try:
            return s.start()
        except OSError:
            time.sleep_ms(1)
    s.start()
for _ in range(200):
    try:  # refused half-way through its arguments, after its config was allocated
        _wifimgr.DNSServer("10.0.0.1", nxdomain=["ok.test", "bad..label"])
    except ValueError:
        pass
    _wifimgr.DNSServer("10.0.0.1", PORT, bind="127.0.0.1").start()  # dropped while running
    gc.collect()  # its finaliser stops it
    s = _wifimgr.DNSServer("10.0.0.1", PORT, bind="127.0.0.1")
    start(s)
    s.stop()  # dropped after a stop
gc.collect()
srv = _wifimgr.DNSServer("10.0.0.2", PORT, bind="127.0.0.1")
start(srv)
c = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
c.settimeout(2)
c.sendto(bytes.fromhex(sys.argv[2]), socket.getaddrinfo("127.0.0.1", PORT)[0][-1])
print(c.recv(600).hex())
srv.stop()
"""


def test_native_servers_dropped_in_every_state_are_collected(micropython):
    """_wifimgr.DNSServer keeps its config and its thread's state outside the VM heap: 200 each
    of servers refused half-made, dropped while running (collected, its thread frees the port
    and its state) and dropped after a stop are finalised, none twice, and a new server
    answers."""
    if not micropython.native:
        pytest.skip("no _wifimgr in %s: the native tier needs make unix" % micropython.executable)
    q = dnsvec.query("after.test")
    out = micropython.run(DROPPED, args=[free_udp_port(), q.hex()], timeout=60)
    assert out.strip() == dnsvec.response(q, answer_ip="10.0.0.2").hex()
