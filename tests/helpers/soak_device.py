# A month on the virtual clock, run by MicroPython (not by pytest) for tests/wifimgr/test_soak.py
# and tools/bench/bench_soak.py: the real Manager (link, portal, captive DNS) on the simulated
# radio, the portal and DNS served on 127.0.0.1 all the time, while the home network "Home" (a
# router R and a mesh node M, plus X, an access point of the same name whose DHCP never
# answers) goes down and comes back as a plan says. In-process clients open portal sessions
# and send DNS queries, and the configuration is saved now and then. Prints one JSON line: the
# totals; soak.log in the device directory has the plan as applied, the manager's connected,
# disconnected and access point events and heap samples after gc.collect() at the end of each
# day, a JSON list a line; tests/helpers/soak.py judges them.
#
# argv: days, seed, device filesystem directory, HTTP port, DNS port.
#
# The plan is the scenario: each access point's times off the air (away_s) and without its
# DHCP server (dhcp_off_s), so that both radios take the whole month from it when they start,
# the twin's (sim.py) and the C Link's (radio_sim_mp.c: wm_radio_sim_mp_load() copies it once).

import asyncio
import gc
import json
import os
import random
import socket
import sys
import time

from wifimgr import sim

DAY_MS = 86400000
MIN_MS = 60000
WRAPS = (1 << 29, 1 << 30, 3 << 29, 1 << 31)  # a 32-bit port's ticks: half periods and wraps
PASSWORD = "tulip-garden-42"
APS = {
    "R": {"bssid": "9c:53:22:41:7a:10", "channel": 6, "rssi": -50, "ip": "192.168.1.57"},
    "M": {"bssid": "9c:53:22:41:7a:20", "channel": 11, "rssi": -68, "ip": "192.168.1.58"},
    "X": {"bssid": "9c:53:22:41:7a:30", "channel": 1, "rssi": -86, "dhcp": False},
}

days, seed, state = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
http_port, dns_port = int(sys.argv[4]), int(sys.argv[5])
clock = sim.VirtualClock()


def spec(name, plan):
    # The access point `name` as the plan has it: off the air from "down" to its next change,
    # without DHCP from "nodhcp" to its next change.
    d = {"ssid": "Home", "password": PASSWORD, "away_s": [], "dhcp_off_s": []}
    d.update(APS[name])
    mine = [(t, what) for t, n, what in plan if n == name]
    for i, (t, what) in enumerate(mine):
        if what != "up":
            end = mine[i + 1][0] / 1000 if i + 1 < len(mine) else -1
            d["away_s" if what == "down" else "dhcp_off_s"].append([t / 1000, end])
    return d


def plan_of(days):
    # [(t_ms, name, "up" | "down" | "nodhcp")], sorted: two outages of both R and M a day on
    # average, a third of them ending with the router back on the air before its DHCP server
    # (1 to 3 min), one roam a day (R away, M there), one outage across each wrap point.
    events = []
    wraps = [w - 2 * MIN_MS for w in WRAPS if w < days * DAY_MS]
    outages = list(wraps)
    for d in range(days):
        for _ in range(random.randint(1, 3)):
            outages.append(d * DAY_MS + random.randint(MIN_MS, DAY_MS - 30 * MIN_MS))
    busy = []
    for t in sorted(outages):
        if busy and t < busy[-1] + 30 * MIN_MS:
            continue  # one outage at a time, 30 min apart at least
        length = random.randint(4 * MIN_MS if t in wraps else MIN_MS, 10 * MIN_MS)
        events += [(t, "R", "down"), (t + random.randint(0, 5000), "M", "down")]
        back = t + length
        if random.randint(0, 2) == 0:
            events.append((back, "R", "nodhcp"))
            back += random.randint(MIN_MS, 3 * MIN_MS)
        events += [(back, "R", "up"), (back + random.randint(0, 5 * MIN_MS), "M", "up")]
        busy.append(back + 5 * MIN_MS)
    for d in range(days):
        t = d * DAY_MS + random.randint(MIN_MS, DAY_MS - 30 * MIN_MS)
        if all(abs(t - b) > 40 * MIN_MS for b in busy):
            events += [(t, "R", "down"), (t + random.randint(2, 8) * MIN_MS, "R", "up")]
    return sorted(events)


random.seed(seed)
plan = plan_of(days)
aps = [spec(name, plan) for name in APS]
radio = sim.install(sim.Scenario({"access_points": aps}, "soak"), clock)
os.chdir(state)

from wifimgr.config import Config  # noqa: E402
from wifimgr.manager import Manager  # noqa: E402
from wifimgr.store import Store  # noqa: E402

cfg = Config("wifimgr.json", Store.for_config("wifimgr.json"))
cfg.add_network("Home", PASSWORD, save=False)
cfg.save()

# What happened goes to a file line by line, so that the heap measured holds none of it.
record = open("soak.log", "w")


def note(*what):
    record.write(json.dumps([clock.now_ms()] + list(what)))
    record.write("\n")


m = Manager("wifimgr.json", clock=clock)
seen = {"connected": False, "ap": False}  # as the manager's events last said


def on_event(ev):
    note(ev)
    if ev in ("connected", "disconnected"):
        seen["connected"] = ev == "connected"
    else:
        seen["ap"] = ev == "ap_started"


for ev in ("connected", "disconnected", "ap_started", "ap_stopped"):
    m.on(ev, lambda s, ev=ev: on_event(ev))


class Traffic:
    def __init__(self):
        self.sessions = self.queries = self.answers = self.saves = 0

    async def http(self, method, path, cookie=None, token=None):
        r, w = await asyncio.open_connection("127.0.0.1", http_port)
        head = "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n" % (method, path)
        if cookie:
            head += "Cookie: %s\r\nX-Token: %s\r\nContent-Length: 0\r\n" % (cookie, token)
        w.write(head.encode() + b"\r\n")
        await w.drain()
        data = b""
        while True:
            chunk = await r.read(1024)
            if not chunk:
                break
            data += chunk
        w.close()
        await w.wait_closed()
        return data

    async def session(self):
        # A visitor: a session, the status, the scan and a rescan, as the page does.
        data = await self.http("GET", "/api/session")
        cookie = data.split(b"Set-Cookie: ")[1].split(b";")[0].decode()
        token = json.loads(data[data.find(b"\r\n\r\n") + 4 :])["token"]
        for path in ("/api/status", "/api/scan", "/"):
            await self.http("GET", path, cookie, token)
        await self.http("POST", "/api/rescan", cookie, token)
        self.sessions += 1

    async def dns(self, n):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.setblocking(False)
        addr = socket.getaddrinfo("127.0.0.1", dns_port)[0][-1]
        for i in range(n):
            name = b"\x07example\x03com\x00" if i % 2 else b"\x0cconnectivity\x03xyz\x00"
            s.sendto(
                b"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00" + name + b"\x00\x01\x00\x01",
                addr,
            )
            self.queries += 1
            sent = time.ticks_ms()
            # The C responder answers from its own thread, in real time: up to 2 s of it.
            while time.ticks_diff(time.ticks_ms(), sent) < 2000:
                await asyncio.sleep_ms(0)
                try:
                    if s.recv(512)[:2] == b"\x12\x34":
                        self.answers += 1
                        break
                except OSError:
                    pass
        s.close()

    def save(self, n):
        m.config.set("soak_saves", n)
        self.saves += 1


def at(day):
    # A random time on that day.
    return day * DAY_MS + random.randint(0, DAY_MS - MIN_MS)


async def main():
    m.start(http=("127.0.0.1", http_port), dns=("127.0.0.1", dns_port), serve="always")
    traffic = Traffic()
    # What happens when: (t, kind); kinds other than the plan's are the visitors' traffic.
    todo = [(t, "plan", (t, name, what)) for t, name, what in plan]
    for d in range(days):
        # The first day fills the portal's session table (8): the heap holds all it will.
        todo += [(at(d), "session", None) for _ in range(9 if d == 0 else 3)]
        todo += [(at(d), "dns", 20) for _ in range(2)]
        todo.append((at(d), "save", d))
        todo.append(((d + 1) * DAY_MS, "heap", d + 1))
    todo.sort(key=lambda e: e[0])
    i = changed = 0
    while i < len(todo):
        t, kind, arg = todo[i]
        now = clock.now_ms()
        if now < t:
            # Connected for a minute since the radio last changed (the link says so and the
            # manager has told), nothing due for two: the clock jumps to a minute before the
            # next thing (the polls meanwhile find nothing).
            s = m.status(visitor=False)
            quiet = s["state"] == "connected" and not s["ap_active"] and now - changed > MIN_MS
            quiet = quiet and seen["connected"] and not seen["ap"]
            if quiet and t - now > 2 * MIN_MS:
                clock.advance(t - now - MIN_MS)
            await asyncio.sleep_ms(0)
            continue
        i += 1
        if kind == "plan":
            changed = now
            note("plan", arg[1], arg[2])
        elif kind == "session":
            await traffic.session()
        elif kind == "dns":
            await traffic.dns(arg)
        elif kind == "save":
            traffic.save(arg)
        elif kind == "heap":
            # At a quiet moment after the day's end: connected, the access point closed.
            while m.status(visitor=False)["state"] != "connected":
                await asyncio.sleep_ms(0)
            gc.collect()
            note("heap", gc.mem_free(), gc.mem_alloc())
    log = dict(
        days=days,
        end_ms=clock.now_ms(),
        sessions=traffic.sessions,
        queries=traffic.queries,
        answers=traffic.answers,
        saves=traffic.saves,
        status=m.status(visitor=False),
        link_policy=m.config.get("link") or {},
    )
    m.stop()
    record.close()
    print(json.dumps(log))


asyncio.run(main())
