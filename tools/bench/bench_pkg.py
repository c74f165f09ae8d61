"""Heap cost of the wifimgr package on MicroPython's unix port (issue 5).

heap_import_bytes: gc.mem_alloc() growth from `import wifimgr` (after gc.collect()).
heap_running_bytes: growth from before `import wifimgr` to a started manager with the access
point up, the captive DNS and the portal (if installed) serving and idle for 30 s. The
simulated radio stands in for `network`: a copy of sim.py loaded outside the package and set
up (scenario, clock, interfaces) before the baseline, so it is not counted.
Target: heap_running_bytes <= 24 KB on the unix port. Several runs; the median is reported.
"""

import json
import os
import socket
import subprocess
import tempfile

RUNS = 5

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


def _native(micropython):
    proc = subprocess.run(
        [micropython, "-c", "import _wifimgr"],
        env={**os.environ, "MICROPYPATH": ".frozen"},
        capture_output=True,
    )
    return proc.returncode == 0


def run(ctx):
    if not os.access(ctx.micropython, os.X_OK):
        return {"skipped": "no MicroPython at %s" % ctx.micropython}
    native = _native(ctx.micropython)
    path = ".frozen" if native else "%s:.frozen" % (ctx.root / "frozen")
    samples = []
    for _ in range(RUNS):
        with tempfile.TemporaryDirectory() as state:
            sim = (ctx.root / "frozen" / "wifimgr" / "sim.py").read_text()
            with open(os.path.join(state, "simradio.py"), "w") as f:
                f.write(sim)
            script = SCRIPT.replace("HTTP", str(_free_port(socket.SOCK_STREAM)))
            script = script.replace("DNS", str(_free_port(socket.SOCK_DGRAM)))
            proc = subprocess.run(
                [ctx.micropython, "-c", script],
                env={**os.environ, "MICROPYPATH": state + ":" + path},
                cwd=state,
                capture_output=True,
                text=True,
                timeout=120,
            )
            if proc.returncode != 0:
                raise RuntimeError("bench_pkg: MicroPython failed:\n" + proc.stderr)
            samples.append(json.loads(proc.stdout.strip().splitlines()[-1]))
    last = samples[-1]
    if not last["ap"]:
        raise RuntimeError("bench_pkg: the access point did not come up: %r" % last)

    def median(key):
        values = sorted(s[key] for s in samples)
        return values[len(values) // 2]

    running = median("running")
    return {
        "heap_import_bytes": median("import"),
        "heap_running_bytes": running,
        "heap_running_target_bytes": 24 * 1024,
        "heap_running_within_target": running <= 24 * 1024,
        "heap_scenario": {
            "runtime": "native (_wifimgr, package frozen)" if native else "registry unix port",
            "portal_installed": last["portal"],
            "dns_serving": last["dns"],
            "errors": last["errors"],
            "runs": RUNS,
        },
    }
