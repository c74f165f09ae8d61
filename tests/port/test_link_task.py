"""port/link_task.c in the unix port with _wifimgr: what the VM sees of the task's thread."""

import json

import pytest

FULL_QUEUE = r"""
import json, micropython, socket, time
from wifimgr import sim
import _wifimgr
sim.install(sim.Scenario({"access_points": [
    {"ssid": "Home", "bssid": "aa:00:00:00:00:01", "channel": 6, "rssi": -50,
     "password": "correct-horse", "assoc_ms": 100, "dhcp_ms": 100}]}, "t"), sim.RealClock())
import network
L = _wifimgr.Link(network.WLAN(network.STA_IF), network.WLAN(network.AP_IF))
L.configure([{"ssid": "Home", "password": "correct-horse"}], {"probe_ms": 0})  # a scan first
seen = []
L.on_change(lambda s: seen.append(s["state"]))
L.start()
time.sleep_ms(100)  # "scanning" is dispatched
full = []
def noop(_):
    pass
def blocker(_):
    # In a scheduled callback the scheduler is locked: fill its queue, then keep the VM in C
    # (a receive with a timeout runs no callbacks) while the link scans, connects and gets
    # its address, each change finding the queue full.
    while True:
        try:
            micropython.schedule(noop, None)
        except RuntimeError:
            break
        full.append(1)
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(socket.getaddrinfo("127.0.0.1", 0)[0][-1])
    s.settimeout(3.5)
    try:
        s.recv(1)
    except OSError:
        pass
    s.close()
micropython.schedule(blocker, None)
time.sleep_ms(4000)
for _ in range(100):  # nothing changes any more: only a retry can bring the news
    if seen[-1:] == ["connected"]:
        break
    time.sleep_ms(10)
status = L.status()["state"]
before_stop = list(seen)
L.stop()  # dispatches what is left in any case
print(json.dumps({"queued": len(full), "seen": before_stop, "status": status}))
"""


def test_a_full_scheduler_queue_does_not_lose_the_latest_status(micropython):
    """MicroPython's scheduler queue (py/scheduler.c: mp_sched_schedule, MICROPY_SCHEDULER_DEPTH)
    refuses while full. The changes the thread made meanwhile must still reach the callbacks
    once the queue drains, though nothing changes after: the task schedules again."""
    if not micropython.native:
        pytest.skip("no _wifimgr in this MicroPython: build it with make unix MICROPY_DIR=...")
    r = json.loads(micropython.run(FULL_QUEUE, timeout=30).strip().splitlines()[-1])
    assert r["queued"] >= 1 and r["status"] == "connected", r
    assert r["seen"][0] == "scanning" and r["seen"][-1] == "connected", r


AP_ERROR = r"""
import asyncio, json
from wifimgr import sim
import _wifimgr
clock = sim.VirtualClock()
sim.install(sim.Scenario({"access_points": []}, "t"), clock)
import network
out = []
for config in ({"ssid": "Setup", "key": "correct-horse", "security": 1},
               {"ssid": "Setup", "key": "correct-horse", "security": 5},
               {"ssid": "Setup", "key": "short", "security": 3},
               {"ssid": "Setup", "key": "correct-horse", "security": 3},
               {"ssid": "Setup", "key": "", "security": 1}):
    L = _wifimgr.Link(network.WLAN(network.STA_IF), network.WLAN(network.AP_IF), clock=clock)
    L.configure([], {"ap_policy": "always", "ap_config": config})
    seen = []
    L.on_change(lambda s: seen.append([s["ap_active"], s["ap_error"]]))
    async def main():
        L.start()
        await asyncio.sleep_ms(100)
        status = L.status()
        L.stop()  # the AP goes down: nothing to report any more
        return [seen[-2:], status["ap_error"], L.status()["ap_error"]]
    out.append(asyncio.run(main()))
print(json.dumps(out))
"""


def test_an_access_point_config_no_radio_can_offer_is_reported(micropython):
    """ESP-IDF's softAP offers no WEP and no enterprise security (esp_wifi_types_generic.h:
    wifi_ap_config_t.authmode) and a WPA passphrase has 8 to 63 characters: the link task keeps
    the AP down instead of letting the driver's default open AP up, and says why in ap_error
    (the manager's status()["errors"]); the callbacks hear of it. Open needs no security."""
    if not micropython.native:
        pytest.skip("no _wifimgr in this MicroPython: build it with make unix MICROPY_DIR=...")
    r = json.loads(micropython.run(AP_ERROR, timeout=30).strip().splitlines()[-1])
    security = "ap_config: security not offered by an access point"
    password = "ap_config: password does not fit the security"
    want = [security, security, password, None, None]
    assert [running for _, running, _ in r] == want, r
    assert [seen[0][1] for seen, _, _ in r] == want, r  # the last change before stop
    assert all(seen[1] == [False, None] and after is None for seen, _, after in r), r
