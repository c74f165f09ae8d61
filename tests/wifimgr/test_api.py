"""frozen/wifimgr/__init__.py on MicroPython: the public API used the way each seed's README
uses its own library, over the simulated radio on the virtual clock."""

import json
import os
import re
from pathlib import Path

import pytest
from helpers.micropython import LINKS, micropython_on
from helpers.pkg import PRELUDE, run_json


@pytest.fixture(params=LINKS)
def micropython(request, tmp_path):
    return micropython_on(request.param, tmp_path)


# A portal user, played from the loop: on the access point, give credentials; once they are
# stored, tell the manager the page has shown success.
PHONE = """
def phone(ssid, password):
    import wifimgr
    def on_ap(s):
        wifimgr.get_manager().try_credentials(ssid, password)
    wifimgr.on("ap_started", on_ap)
    wifimgr.on("provisioned", lambda ssid: wifimgr.get_manager().finish_provisioning())
"""

SCHEMA2 = {
    "schema": 2,
    "known_networks": [
        {"ssid": "Upstairs", "password": "Password1", "enables_webrepl": False},
        {"ssid": "HomeNetwork", "password": "Password2", "enables_webrepl": True},
    ],
    "access_point": {
        "config": {"essid": "Micropython-Dev", "channel": 11, "hidden": False},
        "enables_webrepl": True,
        "start_policy": "fallback",
    },
    "webrepl_password": "P@55",
}


def test_seed_wifimanager_setup_network_one_shot(micropython):
    """seeds/micropython-wifimanager.md: networks.json (schema 2) + setup_network() -> True,
    joined the preferred network that is on the air, WebREPL started as that network asks."""
    (micropython.tmp_path / "networks.json").write_text(json.dumps(SCHEMA2))
    r = run_json(
        micropython,
        """
radio([ap("HomeNetwork", password="Password2")])
class WebREPL:
    started = []
    def start(self, password=None):
        self.started.append(password)
sys.modules["webrepl"] = WebREPL()
import wifimgr
ok = wifimgr.setup_network("networks.json", clock=clock)
s = wifimgr.status()
out([ok, s["ssid"], s["ap_active"], WebREPL.started])
""",
    )
    assert r == [True, "HomeNetwork", False, ["P@55"]]
    # Migrated at start-up: schema 3, every network kept, no password left in any file.
    doc = json.loads((micropython.tmp_path / "networks.json").read_text())
    assert doc["schema"] == 3
    assert [n["ssid"] for n in doc["known_networks"]] == ["Upstairs", "HomeNetwork"]
    for f in micropython.tmp_path.iterdir():
        if f.name != "mpy_script.py":
            for secret in (b"Password1", b"Password2", b"P@55"):
                assert secret not in f.read_bytes(), f.name


def test_seed_wifimanager_setup_network_false_opens_the_fallback_ap(micropython):
    (micropython.tmp_path / "networks.json").write_text(json.dumps(SCHEMA2))
    r = run_json(
        micropython,
        """
radio([ap("Elsewhere")])
import wifimgr
ok = wifimgr.setup_network("networks.json", clock=clock)
s = wifimgr.status()
import network
out([ok, s["ap_active"], s["ap_ssid"], network.WLAN(network.AP_IF).config("ssid")])
""",
    )
    assert r == [False, True, "Micropython-Dev", "Micropython-Dev"]


def test_seed_wifimanager_managed_rejoins_after_an_outage(micropython):
    """The event-loop usage: start(), run the loop forever; the network
    vanishes and comes back, the manager rejoins it by itself."""
    (micropython.tmp_path / "networks.json").write_text(json.dumps(SCHEMA2))
    r = run_json(
        micropython,
        """
radio([ap("Upstairs", password="Password1", vanish_at_s=60, return_at_s=120)])
import wifimgr
seen = []
for e in ("connected", "disconnected", "ap_started", "ap_stopped"):
    wifimgr.on(e, lambda s, e=e: seen.append([e, clock.now_ms() // 1000]))
wifimgr.start("networks.json", serve="never", clock=clock)
async def stop_later():
    while clock.now_ms() < 200000:
        await asyncio.sleep_ms(0)
    asyncio.get_event_loop().stop()
asyncio.create_task(stop_later())
wifimgr.run()
out([seen, wifimgr.status()["state"]])
""",
    )
    seen, state = r
    names = [e for e, _ in seen]
    assert names[:3] == ["connected", "disconnected", "ap_started"]
    assert names[-2:] == ["connected", "ap_stopped"]
    assert 60 <= seen[1][1] <= 70 and seen[-1][1] >= 120
    assert state == "connected"


def test_seed_wifi_setup_connect_or_setup(micropython):
    """seeds/micropython-wifi-setup.md: connect_or_setup("ding-5cd80b1") with nothing stored
    opens an access point of that name with the portal, the phone gives credentials, the
    callback's value is shown, the access point closes and the connected WLAN is returned;
    after a reboot the same call just connects."""
    first = run_json(
        micropython,
        PHONE
        + """
radio([ap("Home")])
import wifimgr
phone("Home", "correct-horse")
ap_names = []
wifimgr.on("ap_started", lambda s: ap_names.append(s["ap_ssid"]))
shown = []
wifimgr.on("provisioned", lambda ssid: shown.append(wifimgr.status()["trial"]["hook"]))
sta = wifimgr.connect_or_setup("ding-5cd80b1", lambda s: "topic/ding-5cd80b1",
                               config_path="wifimgr.json", http=None, dns=None, clock=clock)
import network
out([sta.isconnected(), sta.ifconfig()[0], ap_names, shown, wifimgr.status()["ap_active"],
     network.hostname()])
""",
    )
    assert first == [True, "192.168.1.50", ["ding-5cd80b1"], ["topic/ding-5cd80b1"], False,
                     "ding-5cd80b1"]  # fmt: skip
    second = run_json(
        micropython,
        """
radio([ap("Home")])
import wifimgr
seen = []
wifimgr.on("ap_started", lambda s: seen.append("ap"))
sta = wifimgr.connect_or_setup("ding-5cd80b1", config_path="wifimgr.json", clock=clock)
out([sta.isconnected(), seen])
""",
    )
    assert second == [True, []]


def test_seed_wifi_setup_fine_grained_and_clear(micropython):
    r = run_json(
        micropython,
        PHONE
        + """
radio([ap("Home")])
import wifimgr
p = "wifimgr.json"
steps = [wifimgr.has_ssid(p, clock=clock)]
sta = None
if wifimgr.has_ssid(p):
    sta = wifimgr.connect(p)
if not sta:
    phone("Home", "correct-horse")
    sta = wifimgr.setup("ding-5cd80b1", p, http=None, dns=None)
steps.append(sta.isconnected())
steps.append(wifimgr.has_ssid(p))
wifimgr.clear(p)
steps.append(wifimgr.has_ssid(p))
from wifimgr.config import Config
from wifimgr.store import Store
steps.append(Config(p, Store.for_config(p, UID), UID).ssids())
steps.append(Store.for_config(p, UID).names())
out(steps)
""",
    )
    # the setup key stays: it is the device's, printed on its label, not a network's
    assert r == [False, True, True, False, [], ["setup_key"]]


def test_seed_wifi_setup_connect_returns_none_when_nothing_answers(micropython):
    r = run_json(
        micropython,
        """
radio([])
from wifimgr.config import Config
from wifimgr.store import Store
Config("wifimgr.json", Store.for_config("wifimgr.json", UID), UID).add_network(
    "Gone", "correct-horse")
import wifimgr
sta = wifimgr.connect("wifimgr.json", clock=clock)
out([sta, wifimgr.status()["ap_active"], wifimgr.status()["state"]])
""",
    )
    assert r == [None, False, "waiting"]


def test_seed_wifi_setup_idle_timeout(micropython):
    """The portal idle timeout: nobody comes for portal_idle_timeout_s, the access point
    closes and setup() returns None instead of waiting forever."""
    r = run_json(
        micropython,
        """
radio([ap("Home")])
from wifimgr.config import Config
Config("wifimgr.json", None, UID).set("portal_idle_timeout_s", 300)
import wifimgr
seen = []
wifimgr.on("ap_started", lambda s: seen.append(["up", clock.now_ms() // 1000]))
wifimgr.on("ap_stopped", lambda s: seen.append(["down", clock.now_ms() // 1000]))
sta = wifimgr.setup(config_path="wifimgr.json", http=None, dns=None, clock=clock)
out([sta, seen])
""",
    )
    sta, seen = r
    assert sta is None
    assert [e for e, _ in seen] == ["up", "down"]
    assert 300 <= seen[1][1] - seen[0][1] <= 302


def test_seed_iot_manager_config_data_tasks_and_fallback_ssid(micropython):
    """seeds/esp32-iot-manager.md: a primary and a fallback network (the primary is away, the
    open fallback has a blank password), a custom config key persisted, data filled by a user
    task running beside the manager, the same dict the portal serves at /data."""
    r = run_json(
        micropython,
        """
radio([ap("Fallback", password="")])
from wifimgr.config import Config
from wifimgr.store import Store
c = Config("wifimgr.json", Store.for_config("wifimgr.json", UID), UID)
c.add_network("Primary", "primary-pass", first=False)
c.add_network("Fallback", "", first=False)
c.set("ota_url", "http://10.1.1.10:8080/micropython.bin")
import wifimgr
from wifimgr import config
m = wifimgr.start("wifimgr.json", serve="never", clock=clock)
config.set("60_CUSTOM_CONFIG", "Counter")
for i in range(5):
    wifimgr.data["Key %d" % i] = "%d" % i

class Alive:
    async def run(self):
        i = 0
        key = config.get("60_CUSTOM_CONFIG")
        while True:
            wifimgr.data[key] = "%d" % i
            i += 1
            await asyncio.sleep_ms(0)

asyncio.create_task(Alive().run())
out_ = []
until(m, lambda s: s["state"] == "connected")
again = Config("wifimgr.json", Store.for_config("wifimgr.json", UID), UID)
out([m.status()["ssid"], m.data is wifimgr.data, int(wifimgr.data["Counter"]) > 0,
     wifimgr.data["Key 3"], again.get("60_CUSTOM_CONFIG"), again.get("ota_url")])
""",
    )
    assert r == ["Fallback", True, True, "3", "Counter", "http://10.1.1.10:8080/micropython.bin"]


def test_seed_mipy_esp_wifi_json_then_ap_closes_on_connect(micropython):
    """seeds/mipy-esp.md: wifi.json dropped on the device is imported (encrypted, file gone)
    and used at start-up; with nothing known the AP opens and closes once connected."""
    (micropython.tmp_path / "wifi.json").write_text('{"Home": "correct-horse"}')
    r = run_json(
        micropython,
        """
radio([ap("Home")])
import wifimgr
m = wifimgr.start("wifimgr.json", serve="never", clock=clock)
until(m, lambda s: s["state"] == "connected")
out([m.known_networks(), sorted(os.listdir()), m.status()["errors"]])
""",
    )
    known, files, errors = r
    assert known == ["Home"] and "wifi.json" not in files and errors == []
    assert b"correct-horse" not in (micropython.tmp_path / "wifimgr.store").read_bytes()


def test_seed_networking_tutorial_plain_wlan_after_connect(micropython):
    """seeds/micropython-networking-tutorial.md: what wifimgr returns is the ordinary
    network.WLAN, so the tutorial's ifconfig() works on it."""
    r = run_json(
        micropython,
        """
radio([ap("Home")])
from wifimgr.config import Config
from wifimgr.store import Store
Config("wifimgr.json", Store.for_config("wifimgr.json", UID), UID).add_network(
    "Home", "correct-horse")
import wifimgr, network
sta = wifimgr.connect("wifimgr.json", clock=clock)
out([sta is network.WLAN(network.STA_IF), list(sta.ifconfig())])
""",
    )
    assert r == [True, ["192.168.1.50", "255.255.255.0", "192.168.1.1", "192.168.1.1"]]


def test_events_reject_unknown_names_and_survive_broken_callbacks(micropython):
    r = run_json(
        micropython,
        """
radio([ap("Home")])
import wifimgr
try:
    wifimgr.on("conected", print)
    err = None
except ValueError as e:
    err = str(e)
def broken(s):
    raise RuntimeError("user bug")
wifimgr.on("ap_started", broken)
from wifimgr.config import Config
Config("wifimgr.json", None, UID)
m = wifimgr.start("wifimgr.json", serve="never", clock=clock)
until(m, lambda s: False, 20000)
out([err, m.status()["ap_active"]])
""",
    )
    assert r[0].startswith("event must be one of connected, disconnected") and r[1] is True


LOGGING_RUN = """
radio([ap("Home")])
import wifimgr
m = wifimgr.start("wifimgr.json", serve="never", clock=clock)
until(m, lambda s: s["ap_active"])
"""


def test_quiet_without_logging_module(micropython):
    proc = micropython.run(PRELUDE + LOGGING_RUN + "print('done')", check=False)
    assert proc.returncode == 0, proc.stderr
    # nothing but the setup key, which the manager prints at every boot
    assert re.fullmatch(r"wifimgr: setup key [0-9a-z-]{14}\ndone\n", proc.stdout), proc.stdout
    assert proc.stderr == ""


def test_logs_through_micropython_lib_logging_when_present(micropython):
    """With micropython-lib's logging importable, wifimgr logs through it (logger "wifimgr")
    once the application lowers the level; a config error reaches stderr named."""
    if not os.environ.get("MICROPY_DIR"):
        pytest.skip("MICROPY_DIR not set (no micropython-lib to take logging from)")
    lib = Path(os.environ["MICROPY_DIR"]) / "lib" / "micropython-lib" / "python-stdlib" / "logging"
    if not (lib / "logging.py").exists():
        pytest.skip("MICROPY_DIR has no lib/micropython-lib/python-stdlib/logging/logging.py")
    (micropython.tmp_path / "wifimgr.json").mkdir()
    code = (
        PRELUDE
        + "import logging\nlogging.basicConfig(level=logging.INFO)\n"
        + "import wifimgr\nwifimgr.log_level(logging.INFO)\n"
        + LOGGING_RUN
        + "from wifimgr import _log\nprint(_log.logging is logging)\n"
    )
    proc = micropython.run(code, path=[lib], check=False)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().splitlines()[-1] == "True"
    assert "ERROR:wifimgr:config: wifimgr.json: is a directory, not a file" in proc.stderr


def test_the_logger_escapes_control_characters(micropython):
    """An SSID from the air with a newline, a carriage return and an ESC sequence is logged
    as one line with those escaped: it forges no "ERROR:wifimgr:" line of its own and sends
    nothing raw to the console."""
    proc = micropython.run(
        PRELUDE
        + """
from wifimgr import _log as log
log.error("joining %s", "a\\nERROR:wifimgr:FORGED\\r\\x1b[2Jb\\t\\x7f\\x85")
""",
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == (
        "ERROR:wifimgr:joining a\\nERROR:wifimgr:FORGED\\r\\x1b[2Jb\\t\\x7f\\x85\n"
    )


@pytest.mark.parametrize("api", ["setup_network", "connect", "connect_or_setup"])
def test_one_shot_api_remembers_the_network_it_joined(micropython, api):
    """Issue 18: every one-shot API saves last_good when the station gets its address (not only
    the managed loop's tick, which they return before), so their second boot joins the
    remembered BSSID without the scan; and the access point is not left open. Two known
    networks, so the first boot scans and the twin learns the BSSID too (stock
    network_wlan.c has no getter for the BSSID of a join by name)."""
    known = [{"ssid": "Home", "password": "correct-horse"}, {"ssid": "Work", "password": "x" * 8}]
    (micropython.tmp_path / "wifimgr.json").write_text(
        json.dumps({"schema": 2, "known_networks": known})
    )
    body = (
        """
radio([ap("Home", bssid="aa:00:00:00:00:07", channel=11)])
import wifimgr
joined = []
wifimgr.on("connected", lambda s: joined.append(clock.now_ms()))
wifimgr.%s(config_path="wifimgr.json", clock=clock)
s = wifimgr.status()
out([joined, s["ap_active"], json.load(open("wifimgr.json")).get("last_good")])
"""
        % api
    )
    first = run_json(micropython, body)
    assert first[1:] == [False, ["Home", "aa:00:00:00:00:07", 11]]
    second = run_json(micropython, body)
    assert second[1:] == first[1:]
    # No scan (1.95 s) on the second boot.
    assert first[0][0] - second[0][0] >= 1800, (first, second)
