"""Short of memory, never silent (issue 14): the package as mip installs it (.mpy), with the
heap gone when the access point comes up. Whatever does not start is named in
status()["errors"] and on the log, status()["servers"] says it is missing, it is tried again
with backoff, and it runs once there is heap again; a server that could not start (here: its
port taken) runs once it can."""

import json
import shutil
import subprocess

import pytest
from helpers.micropython import FROZEN
from helpers.mip import Installed, build_tree, runtimes

HEAP = 256 * 1024  # test_the_page_streams_to_every_client_in_a_small_heap

# What was tried: the application holds all the heap but FREE KiB at the moment the access
# point comes up (the simulated interface's active(True), which the link calls:
# network_wlan_active in ports/esp32/network_wlan.c), so that the portal, loaded from .mpy
# then, and the captive DNS start short of memory; 20 s later (virtual) it lets go.
SCRIPT = r"""
import asyncio, gc, json, sys
import simradio as sim
clock = sim.VirtualClock()
sim.install(sim.Scenario({"access_points": []}, "low-heap"), clock)
import network
import wifimgr
ballast = [None] * 8192
ap = network.WLAN(network.AP_IF)
up = []
def active(on=None, _active=ap.active):
    if on and not up:
        up.append(clock.now_ms())
        gc.collect()
        i = 0
        for size in (1024, 256, 64, 16):  # the large pieces first, then what is left between
            try:
                while i < len(ballast):
                    ballast[i] = bytearray(size)
                    i += 1
            except MemoryError:
                pass
        n = 0
        for j in range(i):
            if n < FREE and len(ballast[j]) == 1024:
                ballast[j] = None
                n += 1
    return _active(on)
ap.active = active
m = wifimgr.start("wifimgr.json", http=("127.0.0.1", HTTP), dns=("127.0.0.1", DNS), serve="ap",
                  clock=clock)
async def until(ms):
    while not up or clock.now_ms() - up[0] < ms:
        await asyncio.sleep_ms(0)
async def main():
    await until(20000)
    for j in range(len(ballast)):
        ballast[j] = None
    gc.collect()
    s = m.status()
    short = {"servers": s["servers"], "errors": s["errors"]}
    served = None  # when the portal served again, in ms after the access point came up
    while clock.now_ms() - up[0] < 40000:
        if served is None and m.status()["servers"]["portal"] == "serving":
            served = clock.now_ms() - up[0]
        await asyncio.sleep_ms(0)
    s = m.status()
    print(json.dumps({"short": short, "served": served, "ap": s["ap_active"],
                      "servers": s["servers"], "errors": s["errors"]}))
asyncio.run(main())
"""


@pytest.fixture(scope="module")
def tree(tmp_path_factory):
    lib = tmp_path_factory.mktemp("fs") / "lib"
    build_tree(lib)
    (lib / "package.json").unlink()
    shutil.copyfile(FROZEN / "wifimgr" / "sim.py", lib / "simradio.py")
    # The host's flash stand-in, which a device does not need (esp32.Partition).
    shutil.copyfile(FROZEN / "wifimgr" / "partition.py", lib / "wifimgr" / "partition.py")
    return lib


def run(mp, heap, free_ports, free=1 << 20):
    http, dns = free_ports
    script = SCRIPT.replace("HTTP", str(http)).replace("DNS", str(dns))
    script = script.replace("FREE", str(free))
    (mp.tmp_path / "low_heap.py").write_text(script)
    for name in ("wifimgr.json", "wifimgr.store"):
        (mp.tmp_path / name).unlink(missing_ok=True)
    try:
        proc = subprocess.run(
            [mp.executable, "-X", "heapsize=%d" % heap, "low_heap.py"],
            env=mp.env(),
            cwd=mp.tmp_path,
            capture_output=True,
            text=True,
            timeout=60,
        )
    except subprocess.TimeoutExpired as e:  # stuck short of memory: what it said till then
        out = [
            (s or b"").decode() if isinstance(s, bytes) else s or "" for s in (e.stdout, e.stderr)
        ]
        proc = subprocess.CompletedProcess(e.cmd, None, *out)
    last = proc.stdout.strip().splitlines()[-1:] if proc.returncode == 0 else []
    return (json.loads(last[0]) if last else None), proc


@pytest.fixture
def free_ports():
    from helpers.portal import free_port

    return free_port(), free_port()


@pytest.mark.parametrize("executable", runtimes())
def test_a_heap_too_small_for_a_server_is_reported_retried_and_served_once_it_is_back(
    executable, tree, tmp_path, free_ports
):
    mp = Installed(executable, tmp_path, tree)
    every = {"portal": "serving", "dns": "serving"}
    full, proc = run(mp, HEAP, free_ports)
    assert full.pop("served") < 21000, full  # serving all along: at the first look
    assert full == {"short": {"servers": every, "errors": []}, "ap": True,
                    "servers": every, "errors": []}, proc.stderr  # fmt: skip
    names = {"portal": "portal on 127.0.0.1:%d" % free_ports[0],
             "dns": "DNS on 127.0.0.1:%d" % free_ports[1]}  # fmt: skip
    # KiB left: the portal, from .mpy, needs about 9. (With 3, the registry's MicroPython itself
    # crashed now and then: SIGSEGV in the runtime, not a Python exception.)
    for free in (4, 6):
        st, proc = run(mp, HEAP, free_ports, free)
        # The manager and its link ran on through it.
        assert st is not None, (free, proc.returncode, proc.stdout, proc.stderr[-1500:])
        short = st["short"]
        gone = sorted(n for n, v in short["servers"].items() if v != "serving")
        assert "portal" in gone and all(short["servers"][n] == "missing" for n in gone), st
        for name in gone:
            said = [e for e in short["errors"] if e.startswith(names[name])]
            assert len(said) == 1 and " did not start: MemoryError" in said[0], (free, st)
            # On the log as well, as far as it had heap to say so (a line it had none for is
            # lost): tried again 2, 4, 8 and 16 s after each failure.
            said = "ERROR:wifimgr:%s did not start" % names[name]
            retries = [int(line.split("(trying again in ")[1].split(" ms)")[0])
                       for line in proc.stderr.splitlines() if line.startswith(said)]  # fmt: skip
            assert set(retries) <= {2000, 4000, 8000, 16000}, (free, proc.stderr)
            assert retries == sorted(set(retries)), (free, proc.stderr)
            assert retries or free < 6, (free, proc.stderr)
        # Served again once the heap was back, at the next try (when the tries come: 2 s, then
        # 4 s apart, in test_a_server_that_could_not_start_runs_once_it_can).
        assert 20000 < st["served"] < 40000, (free, st)
        assert st["ap"] and st["servers"] == every, (free, st)
        # None of the servers' messages is left. (A turn of the link's task that ran short is
        # shown until the link next connects: status()["error"] in wifimgr.link.)
        assert not [e for e in st["errors"] if not e.startswith("link: MemoryError")], (free, st)


def test_a_server_that_could_not_start_runs_once_it_can(micropython, free_ports):
    from helpers.pkg import run_json

    http, dns = free_ports
    body = r"""
import socket
taken = socket.socket()
taken.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
taken.bind(socket.getaddrinfo("127.0.0.1", HTTP)[0][-1])
taken.listen(1)
radio()
t = clock.now_ms()
m = wifimgr.start("wifimgr.json", http=("127.0.0.1", HTTP), dns=("127.0.0.1", DNS),
                  serve="always", clock=clock)
seen = []
async def main():
    while clock.now_ms() - t < 12000:
        s = m.status()
        if not seen or seen[-1][1:] != [s["servers"]["portal"], len(s["errors"])]:
            seen.append([clock.now_ms() - t, s["servers"]["portal"], len(s["errors"])])
        if clock.now_ms() - t >= 3000 and taken is not None:
            globals()["taken"] = taken.close()
        await asyncio.sleep_ms(0)
asyncio.run(main())
out({"seen": seen, "servers": m.status()["servers"], "errors": m.status()["errors"]})
"""
    body = "import wifimgr\n" + body.replace("HTTP", str(http)).replace("DNS", str(dns))
    got = run_json(micropython, body)
    assert got["servers"] == {"portal": "serving", "dns": "serving"} and got["errors"] == []
    # Missing (port taken, one error) from the start; the port is free from 3 s on; the
    # retries come 2 s, then 4 s apart (the first scan holds the loop for 1.95 s at start).
    states = [s[1:] for s in got["seen"]]
    assert states == [["missing", 1], ["serving", 0]], got["seen"]
    assert 6000 <= got["seen"][1][0] < 8500, got["seen"]


class _Bounded(Installed):
    """The installed package under `-X heapsize=heap`."""

    def __init__(self, executable, tmp_path, lib, heap):
        super().__init__(executable, tmp_path, lib)
        self.heap = heap

    def command(self, script, args=()):
        cmd = super().command(script, args)
        return [cmd[0], "-X", "heapsize=%d" % self.heap, *cmd[1:]]


@pytest.mark.parametrize("executable", runtimes())
def test_the_page_streams_to_every_client_in_a_small_heap(executable, tree, tmp_path):
    # The page is never held whole: from page.gz in slices, and unzipped on the fly, in a 4 KiB
    # window, for a client without gzip (curl), where unzipping it whole took 32 KiB (gzip's
    # window) and the 19 KB of the page: in HEAP, a client without gzip was answered 500 on
    # both runtimes. (It serves both from 192 KiB on the native 64-bit build, 256 KiB on the
    # registry's, which runs the Python Link.)
    from helpers.portal import PAGE_SOURCE, Device

    # tests/helpers/portal_device.py runs the simulated radio as wifimgr.sim.
    shutil.copyfile(FROZEN / "wifimgr" / "sim.py", tree / "wifimgr" / "sim.py")
    mp = _Bounded(executable, tmp_path, tree, HEAP)
    gz = (tree / "wifimgr" / "portal" / "page.gz").read_bytes()
    with Device(mp, state=tmp_path / "state") as dev:
        for _ in range(3):
            status, headers, body = dev.get("/", {"Accept-Encoding": "gzip"})
            assert (status, headers.get("content-encoding"), body) == (200, "gzip", gz)
            status, headers, body = dev.get("/")  # Accept-Encoding: identity
            assert status == 200 and body == PAGE_SOURCE.read_bytes(), (status, dev.output())
            assert "content-encoding" not in headers
