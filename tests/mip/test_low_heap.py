"""Short of memory, never silent (issue 14): the package as mip installs it (.mpy), under heaps
too small for the portal or the captive DNS. Whatever does not start is named in
status()["errors"] and on the log, status()["servers"] says it is missing, and it is tried
again with backoff; a server that could not start (here: its port taken) runs once it can."""

import json
import shutil
import subprocess

import pytest
from helpers.micropython import FROZEN
from helpers.mip import Installed, build_tree, runtimes

HEAP = 256 * 1024  # test_the_page_streams_to_every_client_in_a_small_heap

# The access point comes up (nothing known, nothing on the air); 30 s of virtual time pass.
SCRIPT = r"""
import asyncio, json, sys
import simradio as sim
clock = sim.VirtualClock()
sim.install(sim.Scenario({"access_points": []}, "low-heap"), clock)
import wifimgr
m = wifimgr.start("wifimgr.json", http=("127.0.0.1", HTTP), dns=("127.0.0.1", DNS), serve="ap",
                  clock=clock)
# The heap filled but for FREE KiB: what the access point, the portal and DNS have to start.
import gc
gc.collect()
ballast = [None] * 4096
try:
    for i in range(len(ballast)):
        ballast[i] = bytearray(1024)
except MemoryError:
    pass
for i in range(max(0, i - FREE), i):
    ballast[i] = None
gc.collect()
async def main():
    await m.wait_for(lambda s: s["ap_active"], 60000)
    t = clock.now_ms()
    while clock.now_ms() - t < 30000:
        await asyncio.sleep_ms(0)
asyncio.run(main())
s = m.status()
print(json.dumps({"ap": s["ap_active"], "servers": s["servers"], "errors": s["errors"]}))
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
            timeout=20,
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
def test_a_heap_too_small_for_a_server_is_reported_and_retried(
    executable, tree, tmp_path, free_ports
):
    mp = Installed(executable, tmp_path, tree)
    full, proc = run(mp, HEAP, free_ports)
    assert full == {"ap": True, "servers": {"portal": "serving", "dns": "serving"},
                    "errors": []}, proc.stderr  # fmt: skip
    # The heap filled after start(), but for `free` KiB, up to where everything serves: every
    # run with the access point up says which server is missing and why (or the manager
    # itself ran short: a MemoryError on the console). The page is no longer one large
    # allocation: a heap that holds the manager holds the portal, so a smaller -X heapsize
    # alone no longer leaves such a gap.
    missing = []
    for _sweep in range(3):  # until a sweep has left a server short
        # KiB, in the smallest steps the ballast takes; the edge is not sharp (the heap fragments
        # differently each run), so every step up to well past it is run.
        for free in range(2, 24):
            st, proc = run(mp, HEAP, free_ports, free)
            if st is None:  # the manager itself ran short: loud, on the console
                assert "MemoryError" in proc.stdout + proc.stderr, (proc.stdout, proc.stderr)
                continue
            assert st["ap"], st
            gone = [name for name, v in st["servers"].items() if v != "serving"]
            if not gone:
                assert not st["errors"], st
                continue
            assert all(st["servers"][n] == "missing" for n in gone), st
            names = {"portal": "portal on 127.0.0.1:", "dns": "DNS on 127.0.0.1:"}
            for name in gone:
                said = [e for e in st["errors"] if e.startswith(names[name])]
                assert len(said) == 1 and "did not start: MemoryError" in said[0], st["errors"]
                assert said[0] in proc.stderr  # and on the log
            # Tried again after 2, 4, 8 and 16 s (of the 30 s the access point was up).
            for ms in (2000, 4000, 8000, 16000):
                assert "(trying again in %d ms)" % ms in proc.stderr, proc.stderr
            missing.append((free, gone))
        # Which server runs short first depends on what the heap holds then (since the page
        # streams, often DNS, started after the portal); a server that could not bind is the
        # portal in test_a_server_that_could_not_start_runs_once_it_can.
        if missing:
            break
    if not missing:
        # Every run above was still checked (a manager short of memory is loud, a missing
        # server is said); only the window between the two was not hit this time.
        pytest.xfail(
            "no heap left a server short with the manager still running: the window between "
            "the manager running short and everything serving is about 1 KiB wide now"
        )


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
