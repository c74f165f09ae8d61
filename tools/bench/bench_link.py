"""make bench BENCH=link: the scan/connect state machine (issue 4), both backends.

On the virtual clock, with the simulated radio's latencies (tools/sim/README.md), for
`link.Link` (`_python`: the asyncio driver polling network.WLAN every 100 ms) and, when the
MicroPython has _wifimgr, `_wifimgr.Link` (`_native`: port/link_task.c + port/radio_sim.c):
- t_connect_cached_s: boot to IP with the remembered BSSID and channel of the home network
  (tools/sim/scenarios/home.json), against t_connect_first_boot_s with nothing remembered;
- t_ap_fallback_s: the same flat, only an absent network known, policy fallback: start to AP up;
- t_rejoin_after_outage_s: the home AP vanishes at 60 s for 5 minutes; from its return to IP,
  with the AP stopped afterwards (rescan_ms 15000: the bound is 17 s);
- t_rejoin_worst_s: the worst of the same over PHASES returns of the router spread evenly over
  one rescan_ms (the link's cycle), each with the AP stopped once the station has an address;
- t_appear_worst_s: the same for the home network first coming on the air while the fallback AP
  is up, nothing remembered;
- t_first_retry_ms: the home AP drops the link 30 s after association; from the drop to the
  next connect reaching the radio.
The same for the whole manager (`*_manager_python`: on the twin, `*_manager_native`: on
`_wifimgr.Link`), configured from a wifimgr.json as a device is, timed by its events, and for
the one-shot APIs (`*_oneshot_*`): t_connect_cached_s, the worst second boot of
setup_network(), connect() and connect_or_setup() (the first one saved the network), and
t_ap_fallback_s of setup_network().
On the real clock (unix build), the longest asyncio event-loop stall while the link boots
through a full scan (two known networks): vm_stall_max_ms_native (the C task scans in its
thread) against vm_stall_max_ms_stock (the Python driver over SimWLAN's blocking scan, as stock
WLAN.scan()), and vm_stall_max_ms_baseline, the same ticker with no link: the host's
scheduling noise. Each
is the best of STALL_RUNS runs.
In C: instructions per wm_link_step (callgrind) on an event mix and on 20-record scans, wall
time per step, and the code size of core/link.o for rv32imc -Os (make size).
"""

import json
import os
import subprocess
import tempfile
import time
from pathlib import Path

CALLGRIND_ROUNDS = 2000
PHASES = 16
LINK_KEYS = (
    "t_connect_cached_s",
    "t_connect_first_boot_s",
    "t_ap_fallback_s",
    "t_rejoin_after_outage_s",
    "t_rejoin_worst_s",
    "t_appear_worst_s",
    "t_first_retry_ms",
)
MANAGER_KEYS = LINK_KEYS
ONESHOT_KEYS = ("t_connect_cached_s", "t_ap_fallback_s")
STALL_RUNS = 3

SCRIPT = r"""
import asyncio, json, sys, time
from wifimgr import sim, link

BACKEND, SCENARIO, WHAT = sys.argv[1], sys.argv[2], sys.argv[3]
HOME = "Meadowbrook"
HINT = (HOME, "9c:53:22:41:7a:10", 6)
PHASES = @PHASES@  # returns of the router, evenly over one rescan_ms
RESCAN_MS = 15000
OFFSETS = [i * RESCAN_MS // PHASES for i in range(PHASES)]

def record_connects(sta, clock, calls):
    # The time of every WLAN.connect() (network_wlan.c takes no channel).
    real = sta.connect
    def connect(ssid=None, key=None, bssid=None):
        calls.append(clock.now_ms())
        real(ssid, key, bssid=bssid)
    sta.connect = connect

def outage(ret_ms):
    # The home AP, joined at boot, off the air from 20 s until ret_ms.
    return doc(vanish_at_s=20, return_at_s=ret_ms / 1000)

def appear(ret_ms):
    # The home AP off the air from the start until ret_ms: the fallback AP opens first.
    return doc(vanish_at_s=0, return_at_s=ret_ms / 1000)

def doc(**home):
    with open(SCENARIO) as f:
        d = json.load(f)
    d.pop("known_networks", None)
    for ap in d["access_points"]:
        if ap["ssid"] == HOME:
            ap.update(home)
    return d

class Run:
    def __init__(self, d, cands, policy=None, hint=None, clock=None):
        self.clock = clock or sim.VirtualClock()
        self.radio = sim.install(sim.Scenario(d, SCENARIO), self.clock)
        import network
        self.sta = network.WLAN(network.STA_IF)
        self.ap = network.WLAN(network.AP_IF)
        self.calls = []
        record_connects(self.sta, self.clock, self.calls)
        if BACKEND == "native":
            import _wifimgr
            self.link = _wifimgr.Link(self.sta, self.ap, clock=clock or self.clock)
        else:
            self.link = link.Link(self.sta, self.ap, clock=clock or self.clock)
        self.link.configure(cands, policy or {})
        if hint:
            self.link.remember(*hint)
        self.changes = []
        self.link.on_change(lambda s: self.changes.append(
            (self.clock.now_ms(), s["state"], s["ap_active"])))

    def connects(self):
        if BACKEND == "native":
            return [c[0] for c in self.link._radio()["connects"]]
        return self.calls

    def run(self, until_ms):
        async def main():
            self.link.start()
            while self.clock.now_ms() < until_ms:
                await asyncio.sleep_ms(0)
            self.status = self.link.status()
            self.link.stop()
        asyncio.run(main())
        return self

    def first(self, state, after=0):
        for t, s, _ in self.changes:
            if s == state and t >= after:
                return t
        return None

KNOWN = [{"ssid": HOME, "password": "tulip-garden-42"}]
out = {}
if WHAT == "virtual":
    r = Run(doc(), KNOWN, hint=HINT).run(10000)
    out["t_connect_cached_s"] = r.first("connected") / 1000
    out["cached_scans"] = r.radio.scans if BACKEND != "native" else r.link._radio()["scans"]
    r = Run(doc(), KNOWN).run(10000)
    out["t_connect_first_boot_s"] = r.first("connected") / 1000
    r = Run(doc(), [{"ssid": "Nowhere", "password": "not-here-at-all"}]).run(10000)
    out["t_ap_fallback_s"] = [t for t, _, ap in r.changes if ap][0] / 1000
    r = Run(doc(vanish_at_s=60, return_at_s=360), KNOWN, {"rescan_ms": 15000}, HINT).run(400000)
    out["t_rejoin_after_outage_s"] = (r.first("connected", 360000) - 360000) / 1000
    out["outage_ap_was_up"] = any(ap for t, _, ap in r.changes if 60000 < t < 360000)
    out["outage_ap_stopped_after"] = not r.status["ap_active"] and not r.ap.active()
    worst = {"t_rejoin_worst_s": 0, "t_appear_worst_s": 0}
    for key, scenario, start, hint in (("t_rejoin_worst_s", outage, 50000, HINT),
                                       ("t_appear_worst_s", appear, 10000, None)):
        for off in OFFSETS:
            ret = start + off
            r = Run(scenario(ret), KNOWN, {"rescan_ms": RESCAN_MS}, hint).run(ret + 20000)
            t = r.first("connected", ret)
            ap_with_ip = any(ap for _, state, ap in r.changes if state == "connected")
            if t is None or ap_with_ip or r.status["ap_active"] or r.ap.active():
                raise OSError("%s: no join, or the AP left open, after %d ms" % (key, ret))
            worst[key] = max(worst[key], (t - ret) / 1000)
    out.update(worst)
    r = Run(doc(drop_after_s=30), KNOWN, None, HINT).run(40000)
    # The C Link probes channel 6 (30 ms); the twin's WLAN.connect() takes no channel and
    # ESP-IDF searches channels 1 to 6. Then association, then 30 s.
    drop = (30 if BACKEND == "native" else 6 * sim.channel_ms()) + 450 + 30000
    out["t_first_retry_ms"] = [t for t in r.connects() if t >= drop][0] - drop
elif WHAT == "manager":
    import wifimgr.manager
    if BACKEND == "python":
        wifimgr.manager.link_backend = "twin"
    from wifimgr.manager import Manager

    class ManagerRun:
        def __init__(self, name, d, known, link=None, hint=None):
            self.clock = clock = sim.VirtualClock()
            sim.install(sim.Scenario(d, SCENARIO), clock)
            cfg = {"schema": 2, "known_networks": known}
            if link:
                cfg["link"] = link
            if hint:
                cfg["last_good"] = list(hint)
            with open(name, "w") as f:
                json.dump(cfg, f)
            import network
            self.calls = []
            record_connects(network.WLAN(network.STA_IF), clock, self.calls)
            self.m = Manager(name, clock=clock, uid=b"\x24\x0a\xc4\x12\x34\x56")
            self.events = []
            for ev in ("connected", "ap_started"):
                self.m.on(ev, lambda s, ev=ev: self.events.append((clock.now_ms(), ev)))

        def run(self, until_ms):
            async def main():
                self.m.start(serve="never", ota_guard=False)
                while self.clock.now_ms() < until_ms:
                    await asyncio.sleep_ms(0)
                self.ap_at_end = self.m._status()["ap_active"]
                self.m.stop()
            asyncio.run(main())
            link = self.m.link
            self.connects = ([c[0] for c in link._radio()["connects"]]
                             if BACKEND == "native" else self.calls)
            return self

        def first(self, event, after=0):
            return [t for t, e in self.events if e == event and t >= after][0]

        def ap_with_ip(self):
            # The AP up again after the last join, or still up at the end.
            joined = max(t for t, e in self.events if e == "connected")
            return self.ap_at_end or any(e == "ap_started" and t > joined
                                         for t, e in self.events)

    out["t_connect_cached_s"] = ManagerRun("a.json", doc(), KNOWN, hint=HINT).run(
        10000).first("connected") / 1000
    out["t_ap_fallback_s"] = ManagerRun(
        "b.json", doc(), [{"ssid": "Nowhere", "password": "not-here-at-all"}]).run(
        10000).first("ap_started") / 1000
    r = ManagerRun("c.json", doc(vanish_at_s=60, return_at_s=360), KNOWN, {"rescan_ms": 15000},
                   HINT).run(400000)
    out["t_rejoin_after_outage_s"] = (r.first("connected", 360000) - 360000) / 1000
    out["t_connect_first_boot_s"] = ManagerRun("e.json", doc(), KNOWN).run(10000).first(
        "connected") / 1000
    for key, scenario, start, hint in (("t_rejoin_worst_s", outage, 50000, HINT),
                                       ("t_appear_worst_s", appear, 10000, None)):
        out[key] = 0
        for off in OFFSETS:
            ret = start + off
            r = ManagerRun("f.json", scenario(ret), KNOWN, {"rescan_ms": RESCAN_MS}, hint).run(
                ret + 20000)
            if r.ap_with_ip():
                raise OSError("%s: the AP left open after the join at %d ms" % (key, ret))
            out[key] = max(out[key], (r.first("connected", ret) - ret) / 1000)
    r = ManagerRun("d.json", doc(drop_after_s=30), KNOWN, hint=HINT).run(40000)
    drop = 30 + 450 + 30000
    out["t_first_retry_ms"] = [t for t in r.connects if t >= drop][0] - drop
elif WHAT == "oneshot":
    # Each one-shot API twice on one configuration, a reboot between: a new radio, clock and
    # manager; the second boot's time to an address.
    import wifimgr, wifimgr.manager
    if BACKEND == "python":
        wifimgr.manager.link_backend = "twin"

    def boot(api, d, name):
        clock = sim.VirtualClock()
        sim.install(sim.Scenario(d, SCENARIO), clock)
        if wifimgr._manager is not None:
            wifimgr._manager.stop()
        wifimgr._manager = None
        wifimgr._events.clear()
        seen = {}
        for ev in ("connected", "ap_started"):
            wifimgr.on(ev, lambda s, ev=ev: seen.setdefault(ev, clock.now_ms()))
        getattr(wifimgr, api)(config_path=name, clock=clock)
        if wifimgr.status()["state"] == "connected" and wifimgr.status()["ap_active"]:
            raise OSError("%s: the AP left open after the join" % api)
        return seen

    worst = 0
    for api in ("setup_network", "connect", "connect_or_setup"):
        name = api + ".json"
        with open(name, "w") as f:
            json.dump({"schema": 2, "known_networks": KNOWN}, f)
        boot(api, doc(), name)
        worst = max(worst, boot(api, doc(), name)["connected"] / 1000)
    out["t_connect_cached_s"] = worst
    with open("fallback.json", "w") as f:
        json.dump({"schema": 2, "known_networks": [
            {"ssid": "Nowhere", "password": "not-here-at-all"}]}, f)
    out["t_ap_fallback_s"] = boot("setup_network", doc(), "fallback.json")["ap_started"] / 1000
elif WHAT == "baseline":
    # The same ticker with no link, as long as a boot takes: the host's own scheduling noise.
    async def main():
        worst = 0
        last = t0 = time.ticks_ms()
        while time.ticks_diff(last, t0) < 2300:
            await asyncio.sleep_ms(1)
            now = time.ticks_ms()
            worst = max(worst, time.ticks_diff(now, last))
            last = now
        return worst
    out["vm_stall_max_ms"] = asyncio.run(main())
else:
    # Real clock: a ticker sleeping 1 ms notes the longest gap while the link boots through a
    # full scan to an address.
    # Two known networks: the first join scans (with one it would connect by name).
    two = KNOWN + [{"ssid": "Nowhere", "password": "not-here-at-all"}]
    r = Run(doc(assoc_ms=100, dhcp_ms=100), two, clock=sim.RealClock())
    async def main():
        r.link.start()
        worst = 0
        last = time.ticks_ms()
        t0 = last
        while r.link.status()["state"] != "connected":
            await asyncio.sleep_ms(1)
            now = time.ticks_ms()
            worst = max(worst, time.ticks_diff(now, last))
            last = now
            if time.ticks_diff(now, t0) > 20000:
                raise OSError("no connection within 20 s")
        r.link.stop()
        return worst
    out["vm_stall_max_ms"] = asyncio.run(main())
print(json.dumps(out))
""".replace("@PHASES@", str(PHASES))


def on_micropython(ctx, micropython, backend, what):
    with tempfile.TemporaryDirectory() as tmp:
        script = Path(tmp) / "bench_link.py"
        script.write_text(SCRIPT)
        env = {**os.environ, "MICROPYPATH": ".frozen:%s" % (ctx.root / "frozen")}
        scenario = ctx.root / "tools" / "sim" / "scenarios" / "home.json"
        proc = subprocess.run(
            [micropython, str(script), backend, str(scenario), what],
            capture_output=True,
            text=True,
            env=env,
            cwd=tmp,
            timeout=120,
        )
    if proc.returncode != 0:
        raise RuntimeError("bench_link %s %s failed:\n%s" % (backend, what, proc.stdout[-2000:]))
    return json.loads(proc.stdout.strip().splitlines()[-1])


def step_ns(tool, rounds=200_000):
    started = time.perf_counter()
    out = subprocess.run([str(tool), str(rounds)], capture_output=True, text=True, check=True)
    return (time.perf_counter() - started) * 1e9 / int(out.stdout.split()[0])


def run(ctx):
    results = {}
    native = ctx.native_micropython()
    backends = [("python", ctx.micropython)] + ([("native", native)] if native else [])
    if not native:
        results["link_native"] = (
            "skipped: no MicroPython with _wifimgr (make unix MICROPY_DIR=...)"
        )
    for backend, micropython in backends:
        virtual = on_micropython(ctx, micropython, backend, "virtual")
        for key in LINK_KEYS:
            results["%s_%s" % (key, backend)] = virtual[key]
        if virtual["cached_scans"] != 0 or not virtual["outage_ap_was_up"]:
            raise RuntimeError("bench_link %s: unexpected behaviour: %s" % (backend, virtual))
        if not virtual["outage_ap_stopped_after"]:
            raise RuntimeError("bench_link %s: the AP stayed up after the rejoin" % backend)
        manager = on_micropython(ctx, micropython, backend, "manager")
        for key in MANAGER_KEYS:
            results["%s_manager_%s" % (key, backend)] = manager[key]
        oneshot = on_micropython(ctx, micropython, backend, "oneshot")
        for key in ONESHOT_KEYS:
            results["%s_oneshot_%s" % (key, backend)] = oneshot[key]

    # Real time on a shared host: the best of STALL_RUNS, next to the same ticker with no link.
    def stall(micropython, backend, what):
        runs = [on_micropython(ctx, micropython, backend, what) for _ in range(STALL_RUNS)]
        return min(r["vm_stall_max_ms"] for r in runs)

    if native:
        results["vm_stall_max_ms_native"] = stall(native, "native", "real")
    results["vm_stall_max_ms_stock"] = stall(ctx.micropython, "python", "real")
    results["vm_stall_max_ms_baseline"] = stall(native or ctx.micropython, "python", "baseline")

    subprocess.run(["make", "-s", "link-tools"], cwd=ctx.root, check=True, capture_output=True)
    tool = ctx.root / "build" / "host" / "link" / "link_callgrind"
    mix = ctx.instructions_per_call("wm_link_step", [tool, CALLGRIND_ROUNDS])
    if mix is not None:
        results["link_step_instructions_per_event"] = mix
        results["link_step_instructions_per_scan_done_20"] = ctx.instructions_per_call(
            "wm_link_step", [tool, CALLGRIND_ROUNDS, "scan"]
        )
    results["link_step_ns_per_event"] = step_ns(tool)
    size = ctx.code_size("link.o")
    if size is not None:
        results["link_code_bytes_rv32imc"] = size
    results["link_scenarios"] = {
        "t_connect_cached_s": "home.json, Meadowbrook remembered (9c:53:22:41:7a:10, ch 6)",
        "t_connect_first_boot_s": "home.json, Meadowbrook known, nothing remembered",
        "t_ap_fallback_s": "home.json, only an absent network known, ap_policy fallback",
        "t_rejoin_after_outage_s": "home.json, Meadowbrook off the air 60-360 s, rescan_ms 15000",
        "t_rejoin_worst_s": "home.json, Meadowbrook joined, off the air from 20 s to 50 s plus"
        " one of %d phases over rescan_ms 15000; worst from its return to IP" % PHASES,
        "t_appear_worst_s": "home.json, Meadowbrook known, nothing remembered, off the air"
        " until 10 s plus one of %d phases over rescan_ms 15000 (the fallback AP up)" % PHASES,
        "t_connect_cached_s_oneshot": "home.json: setup_network(), connect(), connect_or_setup()"
        " each booted twice on one wifimgr.json; the worst second boot",
        "t_first_retry_ms": "home.json, Meadowbrook drops the link 30 s after association",
        "vm_stall_max_ms": "home.json on the real clock, assoc/DHCP 100 ms, two known networks:"
        " boot through a scan;"
        " best of %d runs; baseline: the ticker alone for 2.3 s" % STALL_RUNS,
        "link_step_instructions_per_event": "tools/link/callgrind.c cycle, 3 candidates",
    }
    return results
