"""The captive portal's numbers (issue 6): page size, first paint in Chromium, submit-to-result
on the virtual clock, requests/s under a bounded concurrent load, latency while 50 slow clients
hold connections open, and the heap the manager and portal take on MicroPython.

The server is `make sim` (tools/sim/launch.py, home scenario, real clock) except for the
virtual-clock measurement, which runs tools/bench/portal_vclock.py in one MicroPython process.
"""

import http.client
import importlib.util
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

from helpers.portal import slow_bodies, slow_clients

LOAD_S = 3.0
LOAD_CLIENTS = 4
SLOW_CLIENTS = 50
PAINT_RUNS = 5
CHROMIUM = "/usr/bin/chromium"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def mkpage(root):
    spec = importlib.util.spec_from_file_location("mkpage", root / "tools/portal/mkpage.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def micropython_path(ctx):
    native = (
        subprocess.run(
            [ctx.micropython, "-c", "import _wifimgr"],
            env={**os.environ, "MICROPYPATH": ".frozen"},
            capture_output=True,
        ).returncode
        == 0
    )
    return ".frozen" if native else "%s:.frozen" % (ctx.root / "frozen")


def virtual_clock(ctx):
    with tempfile.TemporaryDirectory() as state:
        proc = subprocess.run(
            [ctx.micropython, str(ctx.root / "tools/bench/portal_vclock.py")]
            + [str(ctx.root / "tools/sim/scenarios/home.json"), state, str(free_port())],
            env={**os.environ, "MICROPYPATH": micropython_path(ctx)},
            capture_output=True,
            text=True,
            timeout=120,
        )
    if proc.returncode != 0:
        raise RuntimeError("portal_vclock.py failed:\n" + proc.stdout + proc.stderr)
    return json.loads(proc.stdout.strip().splitlines()[-1])


class Sim:
    def __init__(self, ctx, state):
        self.port = free_port()
        env = {
            **os.environ,
            "WIFIMGR_MICROPYTHON": ctx.micropython,
            "WIFIMGR_HTTP_PORT": str(self.port),
            "WIFIMGR_DNS_PORT": str(free_port()),
        }
        self.proc = subprocess.Popen(
            [sys.executable, str(ctx.root / "tools/sim/launch.py"), "--state", state]
            + ["--scenario", str(ctx.root / "tools/sim/scenarios/home.json")],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for line in self.proc.stdout:
            if "simulator ready" in line:
                break
        else:
            raise RuntimeError("make sim did not start")
        # the home device joins its network; then nothing scans (a scan blocks the device)
        deadline = time.monotonic() + 20
        while self.status()["state"] != "connected" and time.monotonic() < deadline:
            time.sleep(0.1)

    def status(self):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
        conn.request("GET", "/api/status")
        body = conn.getresponse().read()
        conn.close()
        return json.loads(body)

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.proc.stdout.close()


def first_paint(url):
    if not os.access(CHROMIUM, os.X_OK):
        return None
    from playwright.sync_api import sync_playwright

    times = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM)
        for _ in range(PAINT_RUNS):
            context = browser.new_context(viewport={"width": 360, "height": 740})
            page = context.new_page()
            page.goto(url, wait_until="load")
            # polled: the page's CSP forbids the eval that wait_for_function needs
            fcp = "performance.getEntriesByName('first-contentful-paint').map(e => e.startTime)"
            for _ in range(100):
                found = page.evaluate(fcp)
                if found:
                    times.append(found[0])
                    break
                time.sleep(0.05)
            context.close()
        browser.close()
    return statistics.median(times)


def load(port):
    """LOAD_CLIENTS keep-alive clients polling /api/status for LOAD_S seconds."""
    counts = [0] * LOAD_CLIENTS
    failures = [0]
    end = time.monotonic() + LOAD_S

    def client(i):
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        while time.monotonic() < end:
            try:
                conn.request("GET", "/api/status")
                resp = conn.getresponse()
                resp.read()
                if resp.status == 200:
                    counts[i] += 1
                else:
                    failures[0] += 1
            except (OSError, http.client.HTTPException):
                failures[0] += 1
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        conn.close()

    started = time.monotonic()
    threads = [threading.Thread(target=client, args=(i,)) for i in range(LOAD_CLIENTS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return sum(counts) / (time.monotonic() - started), failures[0]


def _answered(port, path, latencies):
    # One fresh request as a phone makes it; its latency (ms) counts only if it got a 200.
    t0 = time.monotonic()
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        conn.request("GET", path, headers={"Accept-Encoding": "gzip"})
        resp = conn.getresponse()
        resp.read()
        conn.close()
    except OSError:
        return
    if resp.status == 200:
        latencies.append((time.monotonic() - t0) * 1000)


def under_slow_clients(port):
    """Latencies (ms) of fresh /api/status requests while SLOW_CLIENTS dribble request heads."""
    latencies = []
    with slow_clients(port, SLOW_CLIENTS, 0.2):
        time.sleep(0.5)
        for _ in range(20):
            _answered(port, "/api/status", latencies)
            time.sleep(0.05)
    return latencies


def session_headers(port):
    """The cookie and token of a session of its own: what an attacker on the network gets."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    conn.request("GET", "/api/session")
    resp = conn.getresponse()
    token = json.loads(resp.read())["token"]
    cookie = resp.getheader("Set-Cookie").split(";")[0]
    conn.close()
    return "Cookie: %s\r\nX-Token: %s\r\n" % (cookie, token)


def under_slow_bodies(port):
    """Latencies (ms) of 10 x (GET /api/status, GET /) while SLOW_CLIENTS send POST heads with
    a valid session and then a 2000-byte body one byte each 0.5 s (issue 13), reopening what
    the portal cuts off."""
    latencies = []
    with slow_bodies(port, SLOW_CLIENTS, 0.5, session_headers(port)):
        time.sleep(1.0)
        for _ in range(10):
            for path in ("/api/status", "/"):
                _answered(port, path, latencies)
                time.sleep(0.05)
    return latencies


def run(ctx):
    page_gz = mkpage(ctx.root).build()
    vclock = virtual_clock(ctx)
    bound_ms = vclock["assoc_ms"] + vclock["dhcp_ms"] + 1000
    out = {
        "portal_page_bytes_gz": page_gz,
        "portal_submit_to_result_s": vclock["submit_to_answer_ms"] / 1000,
        "portal_submit_to_device_result_s": vclock["submit_to_device_ms"] / 1000,
        "portal_submit_bound_s": bound_ms / 1000,
        "portal_heap_manager_and_portal_bytes": vclock["heap_manager_and_portal"],
        "portal_heap_after_requests_bytes": vclock["heap_after_requests"],
    }
    with tempfile.TemporaryDirectory() as state:
        sim = Sim(ctx, state)
        try:
            paint = first_paint("http://127.0.0.1:%d/" % sim.port)
            if paint is not None:
                out["portal_first_paint_ms"] = round(paint, 1)
            rps, failures = load(sim.port)
            out["portal_requests_per_s"] = round(rps, 1)
            out["portal_load_failures"] = failures
            latencies = under_slow_clients(sim.port)
            out["portal_slow50_answered"] = len(latencies)
            if latencies:
                out["portal_slow50_latency_max_ms"] = round(max(latencies), 1)
                out["portal_slow50_latency_median_ms"] = round(statistics.median(latencies), 1)
                out["portal_slow50_within_200ms"] = int(
                    len(latencies) == 20 and max(latencies) < 200
                )
            latencies = under_slow_bodies(sim.port)
            out["portal_slow_body50_answered"] = len(latencies)
            out["portal_slow_body50_requests"] = 20
            if latencies:
                out["portal_slow_body50_latency_max_ms"] = round(max(latencies), 1)
                out["portal_slow_body50_latency_median_ms"] = round(
                    statistics.median(latencies), 1
                )
            out["portal_evicted"] = sim.status()["portal"]["evicted"]
        finally:
            sim.stop()
    return out
