"""frozen/wifimgr/manager.py on MicroPython over the simulated radio (virtual clock): the API
the portal uses, and bad input on disk that must neither stop the access point nor lose
anything."""

import json

import pytest
from helpers.micropython import LINKS, micropython_on
from helpers.pkg import PRELUDE, run_json


@pytest.fixture(params=LINKS)
def micropython(request, tmp_path):
    return micropython_on(request.param, tmp_path)


START = """
from wifimgr.manager import Manager
m = Manager("wifimgr.json", clock=clock, uid=UID)
m.start(serve="never")
"""


def test_status_has_every_key_the_portal_reads(micropython):
    r = run_json(
        micropython,
        "radio([ap('Home')])\n"
        + START
        + """
until(m, lambda s: s["ap_active"])
out(m.status())
""",
    )
    for key in (
        "state ssid bssid channel rssi ip reason attempts ap_active last_good trial "
        "ap_ssid ap_ip ap_error hostname device_name version backend ota"
    ).split():
        assert key in r, key
    assert r["ap_active"] is True and r["ap_ssid"] == "wifimgr-123456"
    assert r["ap_ip"] == "192.168.4.1"
    assert r["backend"] == ("native" if micropython.native else "python")
    json.dumps(r)


def test_provisioning_stores_credentials_first_and_shows_the_hook(micropython):
    """A wrong password fails with its reason; the right one connects, is stored (encrypted)
    first in the known list, the "connected" hook's value and the .local URL are in the
    trial; finish_provisioning() closes the access point."""
    r = run_json(
        micropython,
        """
radio([ap("Home", rssi=-40), ap("Cafe", bssid="aa:00:00:00:00:02", rssi=-60)])
from wifimgr.manager import Manager
from wifimgr.config import Config
from wifimgr.store import Store
c = Config("wifimgr.json", Store.for_config("wifimgr.json", UID), UID)
c.add_network("Office", "office-pass")
events = []
m = Manager("wifimgr.json", clock=clock, uid=UID)
m.on("connected", lambda s: "mqtt topic: home/" + s["ip"])
m.on("provisioned", lambda ssid: events.append(["provisioned", ssid]))
m.on("ap_started", lambda s: events.append(["ap_started", s["ap_ssid"]]))
m.on("ap_stopped", lambda s: events.append(["ap_stopped", s["state"]]))
m.start(serve="never")
# The direct try of Office failed: the AP is up, and the scan that ends the round lists.
until(m, lambda s: s["ap_active"] and s["state"] == "waiting")
scan = m.scan_results()
m.try_credentials("Home", "wrong-password")
until(m, lambda s: s["trial"] and s["trial"]["state"] == "failed")
failed = m.status()["trial"]
m.try_credentials("Home", "correct-horse")
until(m, lambda s: s["trial"] and s["trial"]["state"] == "connected")
ok = m.status()
m.finish_provisioning()
until(m, lambda s: not s["ap_active"])
c2 = Config("wifimgr.json", Store.for_config("wifimgr.json", UID), UID)
out([scan, failed, ok, m.known_networks(), c2.ssids(), c2.password("Home"), events,
     m.status()["ap_active"]])
""",
    )
    scan, failed, ok, known, on_disk, pw, events, ap_up = r
    assert {"ssid": "Home", "bssid": "aa:00:00:00:00:01", "rssi": -40, "channel": 6,
            "secure": True, "hidden": False} in scan  # fmt: skip
    assert failed["reason"] == "wrong_password" and failed["url"] is None
    trial = ok["trial"]
    assert trial["state"] == "connected" and trial["ip"] == "192.168.1.50"
    assert trial["url"] == "http://wifimgr-123456.local/"
    assert trial["hook"] == "mqtt topic: home/192.168.1.50"
    assert known == on_disk == ["Home", "Office"] and pw == "correct-horse"
    assert events == [
        ["ap_started", "wifimgr-123456"],
        ["provisioned", "Home"],
        ["ap_stopped", "connected"],
    ]
    assert ap_up is False
    text = (micropython.tmp_path / "wifimgr.json").read_text()
    assert "correct-horse" not in text and "office-pass" not in text


def test_a_trial_is_trying_from_the_request_until_the_link_reports_its_outcome(micropython):
    """try_credentials() returns before the link takes the request; status() says "trying"
    from then on, not the previous outcome of the same network (the same wrong password again),
    and trial_outcome() gives this trial's outcome, for the portal and Improv alike."""
    r = run_json(
        micropython,
        """
radio([ap("Home")])
"""
        + START
        + """
until(m, lambda s: s["ap_active"])
m.try_credentials("Home", "wrong-password")
first = asyncio.run(m.trial_outcome("Home", 60000))
m.try_credentials("Home", "wrong-password")
at_once = m.status()["trial"]["state"]
asked = clock.now_ms()
again = asyncio.run(m.trial_outcome("Home", 60000))
took = clock.now_ms() - asked
m.try_credentials("Home", "correct-horse")
ok = asyncio.run(m.trial_outcome("Home", 60000))
out([first, at_once, again, took, ok])
""",
    )
    first, at_once, again, took, ok = r
    assert (first["state"], first["reason"]) == ("failed", "wrong_password")
    assert at_once == "trying"
    assert (again["state"], again["reason"]) == ("failed", "wrong_password")
    assert took > 0  # the outcome of the new attempt, not the previous one read again
    assert ok["state"] == "connected" and ok["url"] == "http://wifimgr-123456.local/"


def test_forget_and_reorder(micropython):
    r = run_json(
        micropython,
        """
radio([])
from wifimgr.manager import Manager
from wifimgr.config import Config
from wifimgr.store import Store
c = Config("wifimgr.json", Store.for_config("wifimgr.json", UID), UID)
for s in ("C", "B", "A"):
    c.add_network(s, s * 8)
m = Manager("wifimgr.json", clock=clock, uid=UID)
before = m.known_networks()
m.reorder(["C", "A", "B"])
errors = []
for bad in (["C", "A"], ["C", "A", "B", "D"], ["C", "C", "A"], "CAB"):
    try:
        m.reorder(bad)
    except ValueError as e:
        errors.append(str(e))
forgot = [m.forget("A"), m.forget("A")]
c2 = Config("wifimgr.json", Store.for_config("wifimgr.json", UID), UID)
out([before, m.known_networks(), c2.ssids(), forgot, len(errors), c2.password("A")])
""",
    )
    before, after, on_disk, forgot, n_errors, pw = r
    assert before == ["A", "B", "C"]
    assert after == on_disk == ["C", "B"]
    assert forgot == [True, False] and n_errors == 4 and pw is None


def test_reorder_and_forget_while_connected_keep_the_status_true(micropython):
    """The portal reorders and forgets while the station is on "A": status() keeps naming the
    network actually joined (a new order applies from the next round); forgetting B changes
    nothing; forgetting A, the network the station is on, leaves it for B."""
    r = run_json(
        micropython,
        """
radio([ap("A", rssi=-40), ap("B", bssid="aa:00:00:00:00:02", rssi=-70),
       ap("C", bssid="aa:00:00:00:00:03", rssi=-80)])
from wifimgr.config import Config
from wifimgr.store import Store
c = Config("wifimgr.json", Store.for_config("wifimgr.json", UID), UID)
c.add_network("B", "correct-horse")
c.add_network("A", "correct-horse")
from wifimgr.manager import Manager
m = Manager("wifimgr.json", clock=clock, uid=UID)
m.start(serve="never")
until(m, lambda s: s["state"] == "connected")
seen = [m.status()["ssid"]]
m.reorder(["B", "A"])
seen.append([m.status()["ssid"], m.known_networks()])
m.config.add_network("C", "correct-horse", first=False)
m.apply()
m.forget("B")
seen.append([m.status()["ssid"], m.status()["state"], m.known_networks()])
m.forget("A")
until(m, lambda s: s["state"] == "connected", 120000)
seen.append([m.status()["ssid"], m.known_networks()])
out(seen)
""",
    )
    assert r == ["A", ["A", ["B", "A"]], ["A", "connected", ["A", "C"]], ["C", ["C"]]]


def test_non_utf8_and_bad_credentials_are_refused_by_name(micropython):
    r = run_json(
        micropython,
        "radio([ap('Home')])\n"
        + START
        + """
errs = []
for args in ((b"\\xff\\xfeHome", "correct-horse"), ("", "correct-horse"), ("Home", "short"),
             ("Home", "correct-horse", "yes")):
    try:
        m.try_credentials(*args)
        errs.append(None)
    except ValueError as e:
        errs.append(str(e))
out(errs)
""",
    )
    assert "ssid: is not valid UTF-8" in r[0]
    assert "ssid: must be 1 to 32 bytes" in r[1]
    assert "password: must be empty (open network) or 8 to 63" in r[2]
    assert "hidden: must be True or False" in r[3]


def test_scan_shows_a_non_utf8_ssid_escaped(micropython):
    if micropython.link == "native":
        pytest.skip("scenario SSIDs are text: only the twin's WLAN.scan() can be given bytes")
    r = run_json(
        micropython,
        """
r = radio([ap("Home")])
real_scan = r.sta.scan
def scan():
    real_scan()  # the time it takes
    return [(b"caf\\xe9\\\\", b"\\xaa\\x00\\x00\\x00\\x00\\x09", 3, -70, 0, False)]
r.sta.scan = scan
from wifimgr.manager import Manager
m = Manager("wifimgr.json", clock=clock, uid=UID)
m.start(serve="never")
until(m, lambda s: s["ap_active"])
out(m.scan_results())
""",
    )
    assert r[0]["ssid"] == "caf\\xe9\\x5c" and r[0]["secure"] is False


def test_ota_update_without_an_ota_module_says_so(micropython):
    r = run_json(
        micropython,
        "radio([])\n"
        + START
        + """
m._module = lambda name: None  # an installation without wifimgr.ota
errs = []
for url in (None, "ftp://x/fw.bin", "http://me:hunter2@10.0.0.2:8080/micropython.bin"):
    try:
        m.ota_update(url)
    except (OSError, ValueError) as e:
        errs.append(str(e))
out([errs, m.status()["ota"]])
""",
    )
    errs, ota = r
    assert "no url given and no ota_url configured" in errs[0]
    assert "url: must be an https:// or http:// URL" in errs[1]
    assert "no wifimgr.ota module" in errs[2]
    assert ota == {"state": "failed", "url": "http://10.0.0.2:8080/micropython.bin",
                   "error": "no OTA module installed"}  # fmt: skip


def test_no_portal_installed_is_reported_and_dns_still_serves(micropython):
    r = run_json(
        micropython,
        """
radio([])
from wifimgr.manager import Manager
import socket
m = Manager("wifimgr.json", clock=clock, uid=UID)
m._module = lambda name: None  # an installation without wifimgr.portal
async def main():
    m.start(http=("127.0.0.1", 0), dns=("127.0.0.1", 0), serve="always")
    await asyncio.sleep_ms(0)
    return [m.status()["errors"], m._dns_server is not None and m._dns_server.stats()["running"]]
out(asyncio.run(main()))
""",
    )
    errors, dns_running = r
    assert any("no portal installed" in e for e in errors), errors
    assert dns_running is True


BAD_FILES = {
    "malformed JSON": (b'{"schema": 2, "known_networks": [', "is not valid JSON"),
    "wrong types": (
        b'{"schema": 2, "known_networks": {"ssid": "Home"}}',
        "known_networks: must be a list",
    ),
    "schema 1": (b'{"schema": 1, "networks": {"Home": "pw"}}', "schema 1 is not supported"),
    "unknown start_policy": (
        b'{"schema": 2, "access_point": {"start_policy": "sometimes"}}',
        "access_point.start_policy: must be one of always, fallback, never",
    ),
    "non-UTF-8 SSID": (
        b'{"schema": 2, "known_networks": [{"ssid": "caf\xe9", "password": "correct-horse"}]}',
        "is not UTF-8 text",
    ),
}


@pytest.mark.parametrize("case", list(BAD_FILES))
def test_bad_config_file_names_the_problem_starts_the_ap_and_loses_nothing(micropython, case):
    """The device comes up on the defaults with its access point, status()["errors"] names the
    file and the problem, and provisioning through the portal keeps the refused file as .bad
    byte for byte instead of overwriting it."""
    content, message = BAD_FILES[case]
    (micropython.tmp_path / "wifimgr.json").write_bytes(content)
    r = run_json(
        micropython,
        "radio([ap('Home')])\n"
        + START
        + """
until(m, lambda s: s["ap_active"])
first = m.status()
m.try_credentials("Home", "correct-horse")
until(m, lambda s: s["trial"] and s["trial"]["state"] == "connected")
out([first["ap_active"], first["errors"], m.known_networks(), sorted(os.listdir())])
""",
    )
    ap_up, errors, known, files = r
    assert ap_up is True
    assert len(errors) == 1 and "wifimgr.json" in errors[0] and message in errors[0], errors
    assert known == ["Home"]
    assert (micropython.tmp_path / "wifimgr.json.bad").read_bytes() == content
    assert "wifimgr.json" in files


def test_config_path_that_is_a_directory(micropython):
    """The AP still starts; the error names the path; the directory and its files are left
    alone; a network provisioned anyway is joined (it cannot be saved, which is reported)."""
    d = micropython.tmp_path / "wifimgr.json"
    d.mkdir()
    (d / "keep.txt").write_text("mine")
    r = run_json(
        micropython,
        "radio([ap('Home')])\n"
        + START
        + """
until(m, lambda s: s["ap_active"])
first = m.status()
m.try_credentials("Home", "correct-horse")
until(m, lambda s: s["state"] == "connected")
out([first["ap_active"], first["errors"], m.status()["state"], m.status()["errors"]])
""",
    )
    ap_up, errors, state, later = r
    assert ap_up is True
    assert errors == ["wifimgr.json: is a directory, not a file"]
    assert state == "connected"
    assert any("could not be stored" in e and "is a directory" in e for e in later), later
    assert (d / "keep.txt").read_text() == "mine"


def test_broken_file_falls_back_to_the_previous_version(micropython):
    """A config torn or hand-broken after a good save: the previous version (.bak) is used, so
    the device still joins its network, and the error says which file was refused."""
    r = run_json(
        micropython,
        """
radio([ap("Home")])
from wifimgr.config import Config
from wifimgr.store import Store
c = Config("wifimgr.json", Store.for_config("wifimgr.json", UID), UID)
c.add_network("Home", "correct-horse")
c.set("note", "second save")
with open("wifimgr.json", "w") as f:
    f.write('{"schema": 3, "known_net')
"""
        + START
        + """
until(m, lambda s: s["state"] == "connected")
out([m.status()["state"], m.status()["errors"], m.known_networks()])
""",
    )
    state, errors, known = r
    assert state == "connected" and known == ["Home"]
    assert errors == ["wifimgr.json: is not valid JSON"]


def test_the_application_sees_the_radio_the_link_drives(micropython):
    """One radio: what the application reads from network.WLAN (isconnected, ifconfig,
    status, the access point's active and ssid) is what the manager's link did, on either
    Link. On the C Link, wifimgr.sim's WLAN shows port/radio_sim.c (Radio.follow)."""
    r = run_json(
        micropython,
        """
radio([ap("Home", vanish_at_s=60)])
import network
from wifimgr.manager import Manager
from wifimgr.config import Config
from wifimgr.store import Store
c = Config("wifimgr.json", Store.for_config("wifimgr.json", UID), UID)
c.add_network("Home", "correct-horse")
sta, wap = network.WLAN(network.STA_IF), network.WLAN(network.AP_IF)
def view():
    up = wap.active()
    return [sta.isconnected(), sta.ifconfig()[0], sta.status() == network.STAT_GOT_IP, up,
            wap.config("ssid") if up else None]
m = Manager("wifimgr.json", clock=clock, uid=UID)
m.start(serve="never")
until(m, lambda s: s["state"] == "connected")
joined = [m.status()["ip"]] + view()
until(m, lambda s: s["ap_active"], 600000)
lost = [m.status()["state"]] + view()
m.stop()
out([joined, lost, view()])
""",
    )
    joined, lost, stopped = r
    assert joined == ["192.168.1.50", True, "192.168.1.50", True, False, None]
    assert lost[0] != "connected" and lost[1:3] == [False, "0.0.0.0"]
    assert lost[4:] == [True, "wifimgr-123456"]
    assert stopped[0] is False and stopped[3] is False


def test_link_changes_never_run_inside_the_applications_code(micropython):
    """On the real clock the C Link reports from its thread through MicroPython's scheduler,
    which runs the callback between any two bytecodes of whatever Python runs; the manager
    only notes the change there and handles it (events, portal, NVS) in its own task, so an
    event callback never interrupts the application's code between two awaits."""
    r = run_json(
        micropython,
        """
import time
sim.install(sim.Scenario({"access_points": [ap("Home", assoc_ms=100, dhcp_ms=100)]}, "t"),
            sim.RealClock())
from wifimgr.manager import Manager
from wifimgr.config import Config
from wifimgr.store import Store
c = Config("wifimgr.json", Store.for_config("wifimgr.json", UID), UID)
c.add_network("Home", "correct-horse")
busy = [False]
seen = []
m = Manager("wifimgr.json", uid=UID)
m.on("connected", lambda s: seen.append(busy[0]))
async def app():
    m.start(serve="never", ota_guard=False)
    t0 = time.ticks_ms()
    while not seen and time.ticks_diff(time.ticks_ms(), t0) < 20000:
        busy[0] = True
        t1 = time.ticks_ms()
        while time.ticks_diff(time.ticks_ms(), t1) < 200:
            pass  # the application's own work between two awaits
        busy[0] = False
        await asyncio.sleep_ms(10)
    m.stop()
    return seen
out(asyncio.run(app()))
""",
    )
    assert r == [False]


def test_an_access_point_the_radio_refuses_is_in_errors(micropython):
    """The C Link keeps the access point down when its config cannot be offered (link_task.c:
    ap_error) instead of leaving the driver's open default up; the manager names it in
    status()["errors"] and on the log. config.py refuses such a config before it gets that far,
    so the test hands the link one whose passphrase is too short for WPA2 past the manager's
    configuration, as a driver refusing a channel would be reported."""
    if micropython.link != "native":
        pytest.skip("the twin's ap.config() raises instead: only the C Link reports ap_error")
    r = run_json(
        micropython,
        """
radio([])
from wifimgr.manager import Manager
m = Manager("wifimgr.json", clock=clock, uid=UID)
m.link.configure([], {"ap_config": {"ssid": "Setup", "key": "short", "security": 3}})
m.start(serve="never")
seen = []
until(m, lambda s: s["ap_error"] and not seen.append(s), 30000)
out(seen[0])
""",
    )
    assert r["ap_active"] is False, json.dumps(r)
    assert (
        "access point not started: ap_config: password does not fit the security" in r["errors"]
    ), r["errors"]


LOGGED = """
try:  # a firmware with micropython-lib logging frozen in logs through it
    import logging
    logging.basicConfig(level=logging.INFO)
except ImportError:
    pass  # without it wifimgr prints "INFO:wifimgr:..." on stderr itself
import wifimgr
wifimgr.log_level(20)
from wifimgr.config import Config
from wifimgr.store import Store
c = Config("wifimgr.json", Store.for_config("wifimgr.json", UID), UID)
"""


def console(micropython, body):
    """The INFO lines the manager printed (what a serial console shows) running `body`."""
    proc = micropython.run(PRELUDE + LOGGED + body, check=False)
    assert proc.returncode == 0, proc.stderr
    return [x[len("INFO:wifimgr:") :] for x in proc.stderr.splitlines() if x.startswith("INFO:")]


def test_the_console_says_why_an_attempt_ended(micropython):
    """A router that refuses the stored password and a link that drops are named on the log,
    not only the next "joining"; "connected" never ends in "channel None"."""
    lines = console(
        micropython,
        """
radio([ap("Home", drop_after_s=5), ap("Attic", bssid="aa:00:00:00:00:02", rssi=-40)])
c.add_network("Home", "correct-horse")
c.add_network("Attic", "not-the-password")
from wifimgr.manager import Manager
m = Manager("wifimgr.json", clock=clock, uid=UID)
m.start(serve="never")
lost = []
until(m, lambda s: s["reason"] == "link_lost" and lost.append(s)
      or lost and s["state"] == "connected")
""",
    )
    assert "Attic refused the password" in lines, lines
    assert "lost the link to Home" in lines, lines
    assert not [x for x in lines if "None" in x], lines


def test_the_console_says_no_known_network_is_on_the_air(micropython):
    lines = console(
        micropython,
        """
radio([ap("Neighbour")])
c.add_network("Home", "correct-horse")
from wifimgr.manager import Manager
m = Manager("wifimgr.json", clock=clock, uid=UID)
m.start(serve="never")
until(m, lambda s: s["state"] == "waiting")
""",
    )
    assert "none of the known networks is on the air" in lines, lines
    assert not [x for x in lines if x.startswith("no known network")], lines


def test_a_portal_success_logs_connected_once(micropython):
    """The access point closing after a portal success is one line of its own: "connected
    to" is not printed again with it."""
    lines = console(
        micropython,
        """
radio([ap("Home")])
from wifimgr.manager import Manager
m = Manager("wifimgr.json", clock=clock, uid=UID)
m.start(serve="never")
until(m, lambda s: s["ap_active"])
m.try_credentials("Home", "correct-horse")
until(m, lambda s: s["trial"] and s["trial"]["state"] == "connected")
m.finish_provisioning()
until(m, lambda s: not s["ap_active"])
""",
    )
    assert len([x for x in lines if x.startswith("connected to Home")]) == 1, lines
    assert "access point wifimgr-123456 down" in lines, lines
