"""Heap cost of the wifimgr package on MicroPython's unix port (issue 5).

heap_import_bytes: gc.mem_alloc() growth from `import wifimgr` (after gc.collect()).
heap_running_bytes: growth from before `import wifimgr` to a started manager with the access
point up, the captive DNS and the portal (if installed) serving and idle for 30 s. The
simulated radio stands in for `network`: a copy of sim.py loaded outside the package and set
up (scenario, clock, interfaces) before the baseline, so it is not counted.
Target: heap_running_bytes <= 24 KB on the unix port. Several runs; the median is reported.
With MICROPY_DIR (make unix) the package is frozen as on a device; the registry runtime, which
compiles it from source onto the heap, is reported beside it as *_from_source. A 64-bit build
spends twice an ESP32's bytes on every object (8-byte words, 32-byte GC blocks): with `make
unix32` the 32-bit build's numbers, the ones that match a device, are reported as *_32bit.
"""

import json
import os
import socket
import subprocess
import tempfile

from helpers.micropython import has_native_module

RUNS = 5
TARGET = 24 * 1024

SCRIPT = r"""
import gc, sys, asyncio, json
import simradio as sim
clock = sim.VirtualClock()
sim.install(sim.Scenario({"access_points": []}, "bench"), clock)
import network
network.WLAN(network.STA_IF)
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
                  "portal": m._portal is not None, "dns": m._dns_server is not None,
                  "errors": s["errors"]}))
"""


def _free_port(kind):
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _measure(micropython, root):
    native = has_native_module(micropython)
    path = ".frozen" if native else "%s:.frozen" % (root / "frozen")
    samples = []
    for _ in range(RUNS):
        with tempfile.TemporaryDirectory() as state:
            sim = (root / "frozen" / "wifimgr" / "sim.py").read_text()
            with open(os.path.join(state, "simradio.py"), "w") as f:
                f.write(sim)
            script = SCRIPT.replace("HTTP", str(_free_port(socket.SOCK_STREAM)))
            script = script.replace("DNS", str(_free_port(socket.SOCK_DGRAM)))
            proc = subprocess.run(
                [micropython, "-c", script],
                env={**os.environ, "MICROPYPATH": state + ":" + path},
                cwd=state,
                capture_output=True,
                text=True,
                timeout=120,
            )
            if proc.returncode != 0:
                raise RuntimeError("bench_pkg: MicroPython failed:\n" + proc.stderr)
            samples.append(json.loads(proc.stdout.strip().splitlines()[-1]))
    if not samples[-1]["ap"]:
        raise RuntimeError("bench_pkg: the access point did not come up: %r" % samples[-1])

    def median(key):
        values = sorted(s[key] for s in samples)
        return values[len(values) // 2]

    return native, median("import"), median("running"), samples[-1]


def run(ctx):
    if not os.access(ctx.micropython, os.X_OK):
        return {"skipped": "no MicroPython at %s" % ctx.micropython}
    native, imported, running, last = _measure(ctx.micropython, ctx.root)
    out = {
        "heap_import_bytes": imported,
        "heap_running_bytes": running,
        "heap_running_target_bytes": TARGET,
        "heap_running_within_target": running <= TARGET,
        "heap_scenario": {
            "runtime": "native unix build (package frozen)" if native else "registry unix port",
            "portal_installed": last["portal"],
            "dns_serving": last["dns"],
            "errors": last["errors"],
            "runs": RUNS,
        },
    }
    unix32 = str(ctx.root / "build" / "unix32" / "micropython")
    if native and os.access(unix32, os.X_OK):
        _, imported, running, _ = _measure(unix32, ctx.root)
        out["heap_import_bytes_32bit"] = imported
        out["heap_running_bytes_32bit"] = running
        out["heap_running_within_target_32bit"] = running <= TARGET
    # For comparison: the registry runtime compiles the package from source, so its bytecode
    # lives on the heap too (on a device the frozen bytecode stays in flash).
    registry = str(ctx.root / ".venv" / "bin" / "micropython")
    if native and os.access(registry, os.X_OK):
        _, imported, running, _ = _measure(registry, ctx.root)
        out["heap_import_bytes_from_source"] = imported
        out["heap_running_bytes_from_source"] = running
    return out
