"""frozen/wifimgr/config.py on MicroPython: the schema 2 file of micropython-wifimanager read
unchanged and migrated without losing a field, validation naming key and problem, free-form
keys, and atomic saves that survive a power cut at every byte and every step."""

import json

import pytest
from helpers.pkg import run_json

# A realistic schema 2 file as micropython-wifimanager users have it, plus keys of their own.
SCHEMA2 = {
    "schema": 2,
    "known_networks": [
        {"ssid": "User\u2019s iPhone", "password": "Password1", "enables_webrepl": False},
        {
            "ssid": "HomeNetwork",
            "password": "Password2",
            "enables_webrepl": True,
            "note": "upstairs router",
        },
    ],
    "access_point": {
        "config": {
            "essid": "Micropython-Dev",
            "channel": 11,
            "hidden": False,
            "password": "P@55W0rd",
        },
        "enables_webrepl": True,
        "start_policy": "fallback",
    },
    "mqtt": {"broker": "10.0.0.2", "port": 1883},
    "webrepl_password": "wr-secret",
}

VIEW = r"""
from wifimgr.config import Config
from wifimgr.store import Store

def view(path):
    c = Config(path, Store.for_config(path, UID), UID)
    nets = [[n["ssid"], c.password(n["ssid"]), n.get("enables_webrepl"), n.get("note")]
            for n in c.networks()]
    return [nets, c.get("access_point"), c.ap_password(), c.get("mqtt"), c.get("topic"),
            c.webrepl_password()]
"""


def write_schema2(micropython):
    (micropython.tmp_path / "networks.json").write_text(json.dumps(SCHEMA2, indent=4))


def test_schema2_file_is_read_unchanged(micropython):
    write_schema2(micropython)
    r = run_json(micropython, VIEW + 'out(view("networks.json"))')
    nets, ap, ap_password, mqtt, _, webrepl = r
    assert webrepl == "wr-secret"
    assert nets == [
        ["User\u2019s iPhone", "Password1", False, None],
        ["HomeNetwork", "Password2", True, "upstairs router"],
    ]
    assert ap["start_policy"] == "fallback" and ap["enables_webrepl"] is True
    assert ap["config"] == {"essid": "Micropython-Dev", "channel": 11, "hidden": False}
    assert ap_password == "P@55W0rd"
    assert mqtt == {"broker": "10.0.0.2", "port": 1883}


def test_migration_on_save_keeps_every_field_and_moves_passwords_out(micropython):
    """Saving a schema 2 file writes schema 3: same networks, flags, unknown keys; the
    passwords are in the encrypted store and nowhere in the file."""
    write_schema2(micropython)
    r = run_json(
        micropython,
        VIEW
        + """
before = view("networks.json")
c = Config("networks.json", Store.for_config("networks.json", UID), UID)
c.save()
out([before, view("networks.json")])
""",
    )
    before, after = r
    assert before == after
    text = (micropython.tmp_path / "networks.json").read_text()
    doc = json.loads(text)
    assert doc["schema"] == 3
    assert doc["mqtt"] == SCHEMA2["mqtt"]
    assert doc["known_networks"][1]["note"] == "upstairs router"
    for secret in ("Password1", "Password2", "P@55W0rd", "wr-secret"):
        assert secret not in text
        for f in micropython.tmp_path.iterdir():
            assert secret.encode() not in f.read_bytes(), f.name
    # The plaintext original went once the migrated file read back.
    assert not (micropython.tmp_path / "networks.json.bak").exists()


@pytest.mark.parametrize(
    "doc, message",
    [
        ({"known_networks": "HomeNetwork"}, "known_networks: must be a list"),
        ({"known_networks": [{"ssid": 5}]}, "known_networks[0].ssid: must be a string, not int"),
        ({"known_networks": [{"ssid": ""}]}, "known_networks[0].ssid: must be 1 to 32 bytes"),
        ({"known_networks": [{"ssid": "x" * 33}]}, "known_networks[0].ssid: must be 1 to 32"),
        (
            {"known_networks": [{"ssid": "a", "password": "short"}]},
            "known_networks[0].password: must be empty (open network) or 8 to 63 printable ASCII",
        ),
        (
            {"known_networks": [{"ssid": "a", "enables_webrepl": "yes"}]},
            "known_networks[0].enables_webrepl: must be true or false",
        ),
        (
            {"known_networks": [{"ssid": "a"}, {"ssid": "a"}]},
            "known_networks[1].ssid: 'a' is listed twice",
        ),
        (
            {"known_networks": [{"ssid": "a", "static_ip": {"ip": "10.0.0.300"}}]},
            "known_networks[0].static_ip.ip: must be a dotted IPv4 address",
        ),
        (
            {"access_point": {"start_policy": "sometimes"}},
            "access_point.start_policy: must be one of always, fallback, never, not 'sometimes'",
        ),
        (
            {"access_point": {"config": {"channel": 14}}},
            "access_point.config.channel: must be an integer from 1 to 11",
        ),
        (  # ESP-IDF's default country "01" has channels 1 to 11 (esp_wifi_set_country)
            {"access_point": {"config": {"channel": 12}}},
            "access_point.config.channel: must be an integer from 1 to 11, not 12",
        ),
        (  # WIFI_AUTH_WEP: wifi_ap_config_t.authmode does not support it in softAP mode
            {"access_point": {"config": {"authmode": 1}}},
            "access_point.config.authmode: must be a security an access point offers (0, 2, 3, 4",
        ),
        (  # WIFI_AUTH_WPA2_ENTERPRISE
            {"access_point": {"config": {"authmode": 5}}},
            "access_point.config.authmode: must be a security an access point offers",
        ),
        (
            {"access_point": {"config": {"colour": "red"}}},
            "access_point.config.colour: unknown access point setting",
        ),
        ({"schema": 1}, "schema: schema 1 is not supported"),
        ({"schema": 7}, "schema: must be 2 or 3, not 7"),
        ({"hostname": "my device"}, "hostname: may hold only ASCII letters, digits and '-'"),
        ({"portal_idle_timeout_s": -1}, "portal_idle_timeout_s: must be an integer from 0"),
        ({"ota_url": "ftp://x/fw.bin"}, "ota_url: must be an https:// or http:// URL"),
        ({"ota_url": "https://"}, "ota_url: must be an https:// or http:// URL"),
        # The credentials of a URL are not repeated in the message.
        (
            {"ota_url": "ftp://me:hunter2@x/fw.bin"},
            "ota_url: must be an https:// or http:// URL or null, not 'ftp://x/fw.bin'",
        ),
        ({"ota_ca": 3}, "ota_ca: must be a string, not int"),
        ({"ota_pin": "ab" * 31}, "ota_pin: must be the SHA-256 of a certificate as 64 hex"),
        ({"ota_pin": "zz" * 32}, "ota_pin: must be the SHA-256 of a certificate as 64 hex"),
        ({"ota_guard_s": 5}, "ota_guard_s: must be an integer from 10 to 3600, not 5"),
        ({"ota_guard_s": "120"}, "ota_guard_s: must be an integer from 10 to 3600"),
        (
            {"ota_health_url": "x"},
            "ota_health_url: must be an https:// or http:// URL or null, not 'x'",
        ),
        ({"link": {"rescan_ms": 5}}, "link: rescan_ms must be an integer from 1000"),
        ([1, 2], "config: must be a JSON object, not list"),
    ],
)
def test_validation_names_key_and_problem(micropython, doc, message):
    r = run_json(
        micropython,
        """
from wifimgr import config
try:
    config.check(json.loads(%r))
    out(None)
except config.ConfigError as e:
    out(str(e))
"""
        % json.dumps(doc),
    )
    assert r is not None and message in r, r


def test_the_document_checks_are_loaded_for_a_check_and_dropped_after(micropython):
    # wifimgr/_schema.py holds them: loaded by config.check() (a load, a save, a set, a
    # network added), gone again after, also when the check refused, so that from .mpy their
    # bytecode does not stay on the heap.
    r = run_json(
        micropython,
        """
import wifimgr
from wifimgr import config
from wifimgr.config import Config, ConfigError
from wifimgr.store import Store
def held():
    return ["wifimgr._schema" in sys.modules, hasattr(wifimgr, "_schema")]
seen = []
c = Config("cfg.json", Store.for_config("cfg.json", UID), UID)
c.add_network("Home", "correct-horse")
seen.append(held())
c2 = Config("cfg.json", Store.for_config("cfg.json", UID), UID)
seen.append(held())
try:
    c2.set("hostname", "-bad-")
except ConfigError as e:
    seen.append(str(e))
seen.append(held())
seen.append(c2.ssids())
out(seen)
""",
    )
    assert r == [[False, False], [False, False], "hostname: must not start or end with '-'",
                 [False, False], ["Home"]], r  # fmt: skip


def test_free_form_keys_persist_with_get_and_set(micropython):
    """seeds/esp32-iot-manager.md: the application adds its own keys; they are saved and read
    back by a new Config (a reboot); values JSON cannot hold are refused by name."""
    r = run_json(
        micropython,
        """
from wifimgr.config import Config, ConfigError
from wifimgr.store import Store
c = Config("cfg.json", Store.for_config("cfg.json", UID), UID)
c.set("60_CUSTOM_CONFIG", "Counter")
c.set("thresholds", {"temp": [18.5, 24]})
try:
    c.set("bad", object())
    err = None
except ConfigError as e:
    err = str(e)
c2 = Config("cfg.json", Store.for_config("cfg.json", UID), UID)
out([c2.get("60_CUSTOM_CONFIG"), c2.get("thresholds"), c2.get("missing", 3), err])
""",
    )
    assert r[:3] == ["Counter", {"temp": [18.5, 24]}, 3]
    assert r[3].startswith("bad: cannot be stored in JSON")


def test_device_name_and_hostname_defaults_follow_the_unique_id(micropython):
    r = run_json(
        micropython,
        """
from wifimgr.config import Config
c = Config("cfg.json", None, UID)
a = [c.device_name, c.hostname]
c.set("device_name", "Kitchen Sensor #1", save=False)
out(a + [c.hostname])
""",
    )
    assert r == ["wifimgr-123456", "wifimgr-123456", "Kitchen-Sensor--1"]


def test_network_options_hidden_static_ip_and_order(micropython):
    r = run_json(
        micropython,
        """
from wifimgr.config import Config
from wifimgr.store import Store
c = Config("cfg.json", Store.for_config("cfg.json", UID), UID)
c.add_network("Attic", "attic-pass-1", hidden=True,
              static_ip={"ip": "10.0.0.9", "netmask": "255.255.255.0",
                         "gateway": "10.0.0.1", "dns": "10.0.0.1"})
c.add_network("Office", "office-pass")
c.add_network("Cafe", "", first=False)
order = c.ssids()
c.reorder(["Cafe", "Attic", "Office"])
try:
    c.reorder(["Cafe"])
    bad = None
except ValueError as e:
    bad = str(e)
c2 = Config("cfg.json", Store.for_config("cfg.json", UID), UID)
out([order, c2.ssids(), c2.networks()[1], c2.password("Attic"), c2.password("Cafe"), bad,
     c2.remove_network("Office"), c2.remove_network("Office"), c2.password("Office")])
""",
    )
    order, after, attic, pw, cafe_pw, bad, removed, again, gone = r
    assert order == ["Office", "Attic", "Cafe"]
    assert after == ["Cafe", "Attic", "Office"]
    assert attic["hidden"] is True and attic["static_ip"]["ip"] == "10.0.0.9"
    assert (pw, cafe_pw) == ("attic-pass-1", "")
    assert "not an order of the known networks" in bad
    assert (removed, again, gone) == (True, False, None)


TORN = (
    VIEW
    + r"""
from wifimgr import _fs

OLD = read("networks.json")

def reset():
    for name in os.listdir():
        if name.startswith("networks.") and name != "networks.json":
            os.remove(name)
    with open("networks.json", "wb") as f:
        f.write(OLD)

def change():
    # One save that migrates the schema 2 file and changes it: passwords to the store, a new
    # network first, a new key.
    c = Config("networks.json", Store.for_config("networks.json", UID), UID)
    c.add_network("Garden", "garden-pass", save=False)
    c.set("topic", "sensors/garden", save=False)
    c.save()

class PowerCut(OSError):
    pass

real_write = _fs._write
budget = [0]
steps = [0]

def torn_write(path, data):
    n = budget[0]
    if n >= len(data):
        budget[0] -= len(data)
        return real_write(path, data)
    with open(path, "wb") as f:
        f.write(data[:n])  # the bytes that reached the flash before the cut
    raise PowerCut("power cut after %d bytes of %s" % (n, path))

def step_cut(name):
    steps[0] -= 1
    if steps[0] < 0:
        raise PowerCut("power cut at " + name)

reset()
old = view("networks.json")
change()
new = view("networks.json")
total = 0
for name in os.listdir():
    if name.endswith(".tmp"):
        raise AssertionError("temp file left behind: " + name)
total = len(read("networks.json")) + len(read("networks.store"))

results = {"old": 0, "new": 0, "cuts": 0, "bytes": total}
_fs._write = torn_write
for n in range(total + 1):
    reset()
    budget[0] = n
    try:
        change()
    except PowerCut:
        results["cuts"] += 1
    _fs._write = real_write
    v = view("networks.json")
    _fs._write = torn_write
    if v == old:
        results["old"] += 1
    elif v == new:
        results["new"] += 1
    else:
        raise AssertionError("neither old nor new after %d bytes: %r" % (n, v))
_fs._write = real_write
_fs.step = step_cut
k = 0
while True:
    reset()
    steps[0] = k
    try:
        change()
        break
    except PowerCut:
        results["cuts"] += 1
    v = view("networks.json")
    if v == old:
        results["old"] += 1
    elif v == new:
        results["new"] += 1
    else:
        raise AssertionError("neither old nor new after step %d: %r" % (k, v))
    k += 1
results["steps"] = k
out(results)
"""
)


def test_power_cut_at_every_byte_and_step_leaves_old_or_new(micropython):
    """The migrating save writes the store then the config; a power cut after n bytes (every n
    from 0 to the total) or between any two steps (rename, remove) leaves a configuration
    that reads back, with every password, as the old or the new version."""
    write_schema2(micropython)
    r = run_json(micropython, TORN, timeout=120)
    assert r["old"] + r["new"] == r["bytes"] + 1 + r["steps"]
    assert r["old"] > 0 and r["new"] > 0
    assert r["steps"] >= 6  # store and config: written, bak_removed/old_moved, renamed
    assert r["bytes"] > 400
