"""Shared by the tests of the wifimgr package (config, store, policy, manager, public API):
a MicroPython prelude that installs the simulated radio on a virtual clock, and a runner that
returns the JSON a script prints last."""

import json

# Runs on MicroPython. `radio(aps)` installs the simulated radio with these access points on a
# virtual clock `clock`; `ap(...)` builds one; `until(m, pred, ms)` runs the loop until
# pred(status) or `ms` of virtual time; `out(x)` prints the result line; `await request(port,
# method, path, ...)` makes one HTTP request.
PRELUDE = r"""
import asyncio, json, os, sys
from wifimgr import sim

UID = b"\x24\x0a\xc4\x12\x34\x56"
clock = sim.VirtualClock()

def ap(ssid, bssid="aa:00:00:00:00:01", channel=6, rssi=-50, password="correct-horse", **more):
    d = {"ssid": ssid, "bssid": bssid, "channel": channel, "rssi": rssi, "password": password}
    if not password:
        d["security"] = "open"
    d.update(more)
    return d

def radio(aps=()):
    return sim.install(sim.Scenario({"access_points": list(aps)}, "test"), clock)

def until(m, pred, ms=120000):
    async def main():
        return await m.wait_for(pred, ms)
    return asyncio.run(main())

def out(x):
    print(json.dumps(x))

async def request(port, method, path, host="127.0.0.1", headers=(), body=b""):
    # One HTTP/1.1 request to 127.0.0.1:port, Connection: close: (status, head, body bytes).
    r, w = await asyncio.open_connection("127.0.0.1", port)
    head = "%s %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\nContent-Length: %d\r\n" % (
        method, path, host, len(body))
    w.write((head + "".join(h + "\r\n" for h in headers) + "\r\n").encode() + body)
    await w.drain()
    data = b""
    while True:
        chunk = await r.read(1024)
        if not chunk:
            break
        data += chunk
    w.close()
    await w.wait_closed()
    head, _, payload = data.partition(b"\r\n\r\n")
    return int(head.split(b" ")[1]), head.decode(), payload

def read(path):
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError:
        return None
"""


def run_json(micropython, body, **kwargs):
    """Runs PRELUDE + body and returns the JSON of its last printed line."""
    text = micropython.run(PRELUDE + body, **kwargs)
    return json.loads(text.strip().splitlines()[-1])
