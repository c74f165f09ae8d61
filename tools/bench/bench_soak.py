"""The month on the virtual clock and a few minutes on the real one (issue 16).

Virtual: tests/helpers/soak_device.py for SOAK_DAYS days on each Link backend (the same month:
the scenario carries it, and both radios take it whole), once for each seed of SOAK_SEEDS (a
month of its own: outage times and lengths, roams, DHCP delays), judged by tests/helpers/soak.py
as tests/wifimgr/test_soak.py judges it. Per backend, over all the seeds: `soak_outages_*` and
`soak_late_rejoins_*` (summed), `soak_heap_growth_bytes_*` (the worst: the heap after
gc.collect() at the end of the last day minus the first's), `soak_max_rejoin_s_*` (the worst,
from the later of the network's return and the device's loss of its link to the next connect;
`soak_max_rejoin_seed_*` says which month), `soak_ap_left_open_*` (summed: rejoins after which
the access point was still up 5 s later). One month takes about 22 s on a core (the clock is
virtual, so the figures do not depend on the machine's load): the 5 seeds of both backends run
two at a time, about 2 minutes of the `make bench BENCH=soak` run (the real-clock part adds
SOAK_REAL_S).

Real clock: `make sim` (tools/sim/launch.py, home scenario) for SOAK_REAL_S seconds with an
application (WIFIMGR_SIM_APP) that puts gc.mem_free() and gc.mem_alloc() after gc.collect()
into wifimgr.data every second, while a thread sends DNS queries and another opens portal
sessions and reads the status, the scan and the page; /data is sampled every second.
`soak_real_heap_growth_bytes`: the median mem_alloc of the last minute minus the first's.
"""

import http.client
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from helpers import soak
from helpers.micropython import LINKS, MicroPython
from helpers.portal import free_port

SOAK_DAYS = 30
SOAK_SEEDS = (1, 2, 3, 4, 5)  # seed 1 is tests/wifimgr/test_soak.py's month
BOUND_MS = 15000 + 5000  # rescan_ms + 5 s, as test_soak.py
SOAK_REAL_S = int(os.environ.get("SOAK_REAL_S", "180"))
PROBE = """import asyncio, gc, wifimgr


async def main():
    while True:
        gc.collect()
        wifimgr.data["mem_free"] = gc.mem_free()
        wifimgr.data["mem_alloc"] = gc.mem_alloc()
        await asyncio.sleep(1)
"""


def month(exe, link, seed):
    with tempfile.TemporaryDirectory() as tmp:
        log = soak.run(MicroPython(exe, Path(tmp), link=link), SOAK_DAYS, seed, timeout=1800)
    return soak.judge(log, BOUND_MS)


def virtual(ctx, out):
    out["soak_days"] = SOAK_DAYS
    out["soak_seeds"] = len(SOAK_SEEDS)
    native = ctx.native_micropython()
    runs = {}
    with ThreadPoolExecutor(2) as pool:  # each month is a MicroPython process of its own
        for link in LINKS:
            if link == "native" and native is None:
                out["soak_native"] = "skipped: no MicroPython with _wifimgr (make unix)"
                continue
            for seed in SOAK_SEEDS:
                runs[link, seed] = pool.submit(month, native or ctx.micropython, link, seed)
    for link in LINKS:
        months = {seed: runs[link, seed].result() for seed in SOAK_SEEDS if (link, seed) in runs}
        if not months:
            continue
        name = "python" if link == "twin" else "native"
        worst = max(months, key=lambda seed: months[seed]["max_rejoin_ms"])
        out["soak_max_rejoin_s_" + name] = months[worst]["max_rejoin_ms"] / 1000
        out["soak_max_rejoin_seed_" + name] = worst
        rs = months.values()
        out["soak_heap_growth_bytes_" + name] = max(r["heap_growth_bytes"] for r in rs)
        out["soak_ap_left_open_" + name] = sum(
            len(r["ap_left_open"]) + int(r["ap_open_at_end"]) for r in rs
        )
        out["soak_outages_" + name] = sum(r["outages"] for r in rs)
        out["soak_late_rejoins_" + name] = sum(len(r["late"]) for r in rs)


class Load:
    """DNS queries and portal sessions against 127.0.0.1 until stopped; counts them."""

    def __init__(self, http_port, dns_port):
        self.http_port, self.dns_port = http_port, dns_port
        self.stop = threading.Event()
        self.counts = {"requests": 0, "errors": 0, "queries": 0, "answers": 0}
        self.threads = [threading.Thread(target=f, daemon=True) for f in (self.dns, self.http)]
        for t in self.threads:
            t.start()

    def dns(self):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.settimeout(1)
            n = 0
            while not self.stop.is_set():
                n = (n + 1) & 0xFFFF
                name = b"\x07example\x03com\x00"
                s.sendto(n.to_bytes(2, "big") + bytes.fromhex("01000001000000000000") + name
                         + b"\x00\x01\x00\x01", ("127.0.0.1", self.dns_port))  # fmt: skip
                self.counts["queries"] += 1
                try:
                    if s.recv(512)[:2] == n.to_bytes(2, "big"):
                        self.counts["answers"] += 1
                except OSError:
                    pass
                time.sleep(0.02)

    def get(self, path, cookie=None):
        conn = http.client.HTTPConnection("127.0.0.1", self.http_port, timeout=5)
        try:
            conn.request("GET", path, headers={"Cookie": cookie} if cookie else {})
            resp = conn.getresponse()
            body = resp.read()
            self.counts["requests"] += 1
            return resp, body
        finally:
            conn.close()

    def http(self):
        while not self.stop.is_set():
            try:
                resp, _ = self.get("/api/session")
                cookie = resp.getheader("Set-Cookie").split(";")[0]
                for path in ("/api/status", "/api/scan", "/", "/generate_204"):
                    self.get(path, cookie)
            except (OSError, http.client.HTTPException):
                self.counts["errors"] += 1
            time.sleep(0.05)

    def end(self):
        self.stop.set()
        for t in self.threads:
            t.join(timeout=5)


def real_clock(ctx, out):
    http_port, dns_port = free_port(), free_port()
    with tempfile.TemporaryDirectory() as state:
        (Path(state) / "probe.py").write_text(PROBE)
        env = {
            **os.environ,
            "WIFIMGR_HTTP_PORT": str(http_port),
            "WIFIMGR_DNS_PORT": str(dns_port),
            "WIFIMGR_SIM_APP": "probe",
            "WIFIMGR_MICROPYTHON": ctx.native_micropython() or ctx.micropython,
        }
        sim = subprocess.Popen(
            [sys.executable, str(ctx.root / "tools/sim/launch.py"), "--state", state]
            + ["--keep-state"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        try:
            for line in sim.stdout:
                if line.startswith("wifimgr simulator ready"):
                    break
            else:
                out["soak_real"] = "skipped: make sim did not start"
                return
            threading.Thread(target=sim.stdout.read, daemon=True).start()  # keep it drained
            load = Load(http_port, dns_port)
            samples, t0 = [], time.monotonic()
            while time.monotonic() - t0 < SOAK_REAL_S:
                try:
                    _, body = load.get("/data")
                    d = json.loads(body)
                    if "mem_alloc" in d:
                        samples.append((time.monotonic() - t0, d["mem_free"], d["mem_alloc"]))
                except (OSError, ValueError, http.client.HTTPException):
                    pass
                time.sleep(1)
            load.end()
        finally:
            sim.terminate()
            sim.wait(timeout=20)
    first = [a for t, _, a in samples if t < 60]
    last = [a for t, _, a in samples if t >= SOAK_REAL_S - 60]
    out["soak_real_seconds"] = SOAK_REAL_S
    out["soak_real_samples"] = len(samples)
    out["soak_real_mem_free_min"] = min(f for _, f, _ in samples)
    out["soak_real_heap_growth_bytes"] = statistics.median(last) - statistics.median(first)
    out["soak_real_requests"] = load.counts["requests"]
    out["soak_real_http_errors"] = load.counts["errors"]
    out["soak_real_dns_queries"] = load.counts["queries"]
    out["soak_real_dns_answers"] = load.counts["answers"]


def run(ctx):
    out = {}
    virtual(ctx, out)
    real_clock(ctx, out)
    return out
