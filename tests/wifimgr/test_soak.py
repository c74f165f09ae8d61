"""A month on the virtual clock (tests/helpers/soak_device.py, judged by tests/helpers/soak.py):
the Manager with its portal and captive DNS on the simulated radio for 30 virtual days, on both
Link backends, while the home network goes down and comes back (the router R and the mesh node
M together, R alone; X, an access point of the same name whose DHCP never answers, stays on the
air; a third of the outages end with R back on the air before its DHCP server), with portal
sessions and DNS queries every day, a configuration save a day, and an outage across each point
where a 32-bit port's ticks_ms() crosses half its period or wraps (2^29, 2^30, 3 * 2^29, 2^31
ms; on this 64-bit host they are plain numbers, on `make unix32` and an ESP32 they wrap).

The month is the scenario, each access point's times off the air and without DHCP, which both
radios take when they start (sim.py; radio_sim_mp.c: wm_radio_sim_mp_load()), so both backends
run the same month. A station associated while its access point's DHCP server is away gets its
lease at the first DISCOVER after the server is back, as ESP-IDF's DHCP client retries
(components/lwip/port/include/lwipopts.h: DHCP_REQUEST_BACKOFF_SEQUENCE, 0.5, 1, 2, then 4 s).
The rejoin bound is the issue's: rescan_ms (15 s) plus 5 s."""

import pytest
from helpers import soak
from helpers.micropython import LINKS, micropython_on
from helpers.pkg import run_json

DAYS = 30
RESCAN_MS = 15000
BOUND_MS = RESCAN_MS + 5000
# The heap after gc.collect() at the end of the first day and of the last: what is live then
# differs by the scan results held and the sessions' entries (the first day fills the table
# of 8), measured at most ~250 bytes apart from one day to another.
HEAP_TOLERANCE = 1024


@pytest.fixture(scope="module", params=LINKS)
def month(request, tmp_path_factory):
    mp = micropython_on(request.param, tmp_path_factory.mktemp("soak-" + request.param))
    log = soak.run(mp, DAYS)
    return request.param, log, soak.judge(log, BOUND_MS)


def test_the_month_passes_every_wrap_point_with_its_traffic(month):
    _, log, r = month
    assert log["end_ms"] >= DAYS * soak.DAY_MS > max(soak.WRAPS)
    for wrap in soak.WRAPS:
        assert any(a < wrap < b for a, b in r["outage_spans"]), wrap  # an outage across it
    assert r["outages"] >= 40
    assert r["ap_opened"] == r["outages"]  # every outage opened the access point
    assert log["sessions"] == 6 + 3 * DAYS and log["saves"] == DAYS
    assert log["answers"] == log["queries"] == 40 * DAYS
    assert len(log["heap"]) == DAYS


def test_the_access_point_closes_after_every_outage(month):
    _, log, r = month
    assert r["ap_left_open"] == []
    assert not r["ap_open_at_end"] and log["status"]["state"] == "connected"


def test_the_heap_does_not_grow_from_the_first_day_to_the_last(month):
    _, _, r = month
    assert abs(r["heap_growth_bytes"]) <= HEAP_TOLERANCE, r["heap_alloc"]


def test_connected_whenever_the_network_has_been_up_longer_than_the_bound(month):
    """Once 20.85 s on the twin (14.16 s on the C Link, whose month then had one outage): R
    back with its DHCP server 0.6 s before R's DHCP timeout, the round went on to X, a BSSID
    that never gave an address (10.7 s), and the probes then went to M, the remembered node
    still away. Now no address from a BSSID that gave one makes it the BSSID the rounds join
    first (tests/link_vectors.json: no_ip_from_a_served_bssid_makes_it_the_one_probed), and the
    probes go round every BSSID that gave an address, R and M, the round's fast reconnect to M
    being M's turn, so R back while M is away is found by a probe, not by the next round's
    scan (18.85 s on the twin in seed 3's month before; the vectors
    probes_go_round_every_bssid_that_gave_an_address and
    the_rounds_fast_reconnect_is_the_remembered_bssids_turn). The longest rejoin
    left is the first join after boot (15.15 s twin, 14.16 s C): by name, the radio takes X,
    the first channel that answers, and waits out its DHCP timeout before the scan."""
    _, _, r = month
    assert r["late"] == [], "max rejoin %s ms" % r["max_rejoin_ms"]


@pytest.fixture(params=LINKS)
def micropython(request, tmp_path):
    return micropython_on(request.param, tmp_path)


def test_rejoin_after_dhcp_failures_within_the_bound(micropython):
    """The router R is away for 10 minutes; X, of the same name, stays on the air and its DHCP
    never answers, so every round in the outage fails on it with no_ip. R back, the device
    must be on it within the bound: X's failures back off X, not "Home", so the probes of R
    and the rounds go on (tests/link_vectors.json: no_ip_backs_off_the_bssid_not_the_network,
    rounds_skip_the_backed_off_bssid)."""
    r = run_json(
        micropython,
        """
radio([ap("Home", rssi=-50, vanish_at_s=100, return_at_s=700),
       ap("Home", bssid="aa:00:00:00:00:02", rssi=-86, dhcp=False)])
from wifimgr.config import Config
from wifimgr.store import Store
c = Config("wifimgr.json", Store.for_config("wifimgr.json", UID), UID)
c.add_network("Home", "correct-horse")
from wifimgr.manager import Manager
m = Manager("wifimgr.json", clock=clock, uid=UID)
m.start(serve="never")
until(m, lambda s: s["state"] == "connected")
until(m, lambda s: clock.now_ms() >= 700000, 800000)
until(m, lambda s: s["state"] == "connected" and s["bssid"] == "aa:00:00:00:00:01", 600000)
out([clock.now_ms(), m.status()["state"]])
""",
    )
    assert r[1] == "connected" and r[0] - 700000 <= BOUND_MS, r


def test_the_lease_comes_at_the_first_discover_after_the_dhcp_server_is_back(micropython):
    """R is away twice (away_s) and back the second time 5 s before its DHCP server
    (dhcp_off_s): on both radios (sim.py: AccessPoint.lease_at(); radio_sim.c: lease_at())
    the device, associated again, keeps discovering and has its lease at the first DISCOVER
    after the server is back plus dhcp_ms (1 s), 4 s apart at most, not at a DHCP timeout
    (10 s) or a new round."""
    r = run_json(
        micropython,
        """
radio([ap("Home", rssi=-50, away_s=[[100, 200], [300, 400]], dhcp_off_s=[[400, 405]])])
from wifimgr.config import Config
from wifimgr.store import Store
c = Config("wifimgr.json", Store.for_config("wifimgr.json", UID), UID)
c.add_network("Home", "correct-horse")
from wifimgr.manager import Manager
m = Manager("wifimgr.json", clock=clock, uid=UID)
m.start(serve="never")
seen = []
until(m, lambda s: s["state"] == "connected")
until(m, lambda s: clock.now_ms() >= 250000, 300000)
seen.append(m.status()["state"])
until(m, lambda s: s["state"] != "connected", 100000)
seen.append(clock.now_ms())
until(m, lambda s: s["state"] == "connected", 200000)
seen += [clock.now_ms(), m.status()["attempts"]]
out(seen)
""",
    )
    assert r[0] == "connected", r  # back after the first time away
    assert 300000 + 6000 <= r[1] <= 300000 + 6000 + 500, r  # the beacons missed for 6 s
    assert 405000 + 1000 <= r[2] <= 405000 + 4000 + 1000, r
