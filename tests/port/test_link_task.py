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
L.configure([{"ssid": "Home", "password": "correct-horse"}], {})
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
