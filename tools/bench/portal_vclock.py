# Run by MicroPython for bench_portal.py: the real Manager and portal on the simulated radio with
# a virtual clock (home scenario), and an HTTP client in the same asyncio loop that submits the
# guest network's credentials and polls GET /api/status. Measures, in virtual time from the
# moment the portal hands the credentials to the manager: when the manager first reports the
# outcome, and when the portal first answers a status request with it (time stamps taken by
# wrapping the two calls, which still do their work). The virtual clock advances whenever the
# state machine sleeps, so every HTTP exchange of the in-process client costs virtual time too.
# Also the heap the manager and the portal hold. Prints one JSON line. argv: scenario, state, port.

import asyncio
import gc
import json
import os
import sys

from wifimgr import sim

scenario = sim.load_scenario(sys.argv[1])
clock = sim.VirtualClock()
sim.install(scenario, clock)
os.chdir(sys.argv[2])
port = int(sys.argv[3])

from wifimgr.config import Config  # noqa: E402
from wifimgr.manager import Manager  # noqa: E402
from wifimgr.store import Store  # noqa: E402

cfg = Config("wifimgr.json", Store.for_config("wifimgr.json"))
for net in scenario.known_networks:
    cfg.add_network(net["ssid"], net.get("password", ""), first=False, save=False)
cfg.save()


session = {}  # the cookie and token of the page's session


async def request(method, path, body=b""):
    r, w = await asyncio.open_connection("127.0.0.1", port)
    head = "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n" % (method, path)
    if session:
        head += "Cookie: %s\r\n" % session["cookie"]
        head += (
            "X-Token: %s\r\nContent-Type: application/x-www-form-urlencoded\r\n"
            % (session["token"])
        )
    if method == "POST":
        head += "Content-Length: %d\r\n" % len(body)
    w.write(head.encode() + b"\r\n" + body)
    await w.drain()
    data = b""
    while True:
        chunk = await r.read(1024)
        if not chunk:
            break
        data += chunk
    w.close()
    await w.wait_closed()
    if b"Set-Cookie: " in data:
        session["cookie"] = data.split(b"Set-Cookie: ")[1].split(b";")[0].decode()
    return json.loads(data[data.find(b"\r\n\r\n") + 4 :])


async def poll_status(r, w):
    # one GET /api/status on a kept-alive connection, as a browser polls
    w.write(
        b"GET /api/status HTTP/1.1\r\nHost: 127.0.0.1\r\nCookie: %s\r\n\r\n" % session["cookie"]
    )
    await w.drain()
    data = b""
    while b"\r\n\r\n" not in data:
        data += await r.read(1024)
    end = data.find(b"\r\n\r\n") + 4
    n = int(data.split(b"Content-Length: ")[1].split(b"\r\n")[0])
    body = data[end:]
    while len(body) < n:
        body += await r.read(n - len(body))
    return json.loads(body)


async def main():
    gc.collect()
    before = gc.mem_alloc()
    m = Manager("wifimgr.json", clock=clock)
    m.start(http=("127.0.0.1", port), serve="always")
    while m.status()["state"] != "connected":
        await asyncio.sleep_ms(0)
    gc.collect()
    started = gc.mem_alloc()
    stamps = {}
    try_credentials = m.try_credentials

    def timed_try(*args):
        stamps["submit"] = clock.now_ms()
        return try_credentials(*args)

    def timed_status(req):
        resp = status(req)
        if "answer" not in stamps and b'"state": "connected"' in resp.body.split(b'"trial"')[1]:
            stamps["answer"] = clock.now_ms()
        return resp

    m.try_credentials = timed_try

    async def watch():
        while True:
            t = m.status()["trial"]
            if t and t["state"] != "trying":
                stamps["device"] = clock.now_ms()
                return
            await asyncio.sleep_ms(0)

    token = (await request("GET", "/api/session"))["token"]
    session["token"] = token
    # the page's API, loaded by that first request (wifimgr.portal.api): its status handler
    visit = m._portal.visit
    status = visit.status
    visit.status = timed_status
    # the device is provisioned: changing its network needs the setup key
    await request("POST", "/api/unlock", b"key=" + m.setup_key.encode())
    guest = [a for a in scenario.access_points if a.ssid == "Meadowbrook-Guest"][0]
    body = b"ssid=Meadowbrook-Guest&password=welcome-guests"
    asyncio.create_task(watch())
    await request("POST", "/api/connect", body)
    r, w = await asyncio.open_connection("127.0.0.1", port)
    while True:
        st = await poll_status(r, w)
        if st["trial"] and st["trial"]["state"] != "trying":
            break
    gc.collect()
    print(
        json.dumps(
            {
                "outcome": st["trial"]["state"],
                "submit_to_device_ms": stamps["device"] - stamps["submit"],
                "submit_to_answer_ms": stamps["answer"] - stamps["submit"],
                "assoc_ms": guest.assoc_ms,
                "dhcp_ms": guest.dhcp_ms,
                "heap_manager_and_portal": started - before,
                "heap_after_requests": gc.mem_alloc() - before,
            }
        )
    )
    m.stop()


asyncio.run(main())
