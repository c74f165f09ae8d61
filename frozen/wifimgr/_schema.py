"""The checks of a configuration document (wifimgr.config: the schema in its docstring), in a
module of their own: wifimgr.config.check() loads it when a document is read or written and
drops it after, so that a device from .mpy does not keep their bytecode on the heap."""

from micropython import const

from wifimgr import call_dropped
from wifimgr.fields import (
    MAX_NETWORKS,
    SCHEMA,
    START_POLICIES,
    _err,
    check_password,
    check_pin,
    check_ssid,
    check_url,
)

_MAX_DEPTH = const(8)


def _check_bool(value, key):
    if not isinstance(value, bool):
        _err(key, "must be true or false, not %r" % (value,))


def _check_str(value, key, low=1, high=64):
    if not isinstance(value, str):
        _err(key, "must be a string, not %s" % type(value).__name__)
    if not low <= len(value) <= high:
        _err(key, "must be %d to %d characters" % (low, high))


def _check_int(value, key, low, high):
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        _err(key, "must be an integer from %d to %d, not %r" % (low, high, value))


def _check_ip(value, key):
    if not isinstance(value, str):
        _err(key, "must be a dotted IPv4 address string")
    parts = value.split(".")
    if len(parts) != 4:
        _err(key, "must be a dotted IPv4 address, not %r" % value)
    for p in parts:
        if not p.isdigit() or int(p) > 255:
            _err(key, "must be a dotted IPv4 address, not %r" % value)


def _check_mac(value, key):
    if value is None:
        return
    ok = isinstance(value, str) and len(value) == 17
    if ok:
        for i, c in enumerate(value.lower()):
            if (i % 3 == 2 and c != ":") or (i % 3 != 2 and c not in "0123456789abcdef"):
                ok = False
    if not ok:
        _err(key, "must be a MAC address aa:bb:cc:dd:ee:ff or null, not %r" % (value,))


def check_hostname(value, key="hostname"):
    _check_str(value, key, 1, 32)
    for c in value:
        if not (c.isalpha() or c.isdigit() or c == "-") or ord(c) > 127:
            _err(key, "may hold only ASCII letters, digits and '-', not %r" % value)
    if value[0] == "-" or value[-1] == "-":
        _err(key, "must not start or end with '-'")


def _check_json_value(value, key, depth=0):
    # Free-form keys: whatever JSON can hold, nested at most _MAX_DEPTH deep.
    if depth > _MAX_DEPTH:
        _err(key, "is nested too deeply")
    if value is None or isinstance(value, (bool, int, float, str)):
        return
    if isinstance(value, (list, tuple)):
        for i, v in enumerate(value):
            _check_json_value(v, "%s[%d]" % (key, i), depth + 1)
        return
    if isinstance(value, dict):
        for k, v in value.items():
            if not isinstance(k, str):
                _err(key, "keys must be strings")
            _check_json_value(v, key + "." + k, depth + 1)
        return
    _err(key, "cannot be stored in JSON: %s" % type(value).__name__)


def check_network(net, key):
    if not isinstance(net, dict):
        _err(key, "must be an object with at least an ssid")
    check_ssid(net.get("ssid"), key + ".ssid")
    if "password" in net:
        check_password(net["password"], key + ".password")
    for flag in ("enables_webrepl", "hidden"):
        if flag in net:
            _check_bool(net[flag], key + "." + flag)
    _check_mac(net.get("bssid"), key + ".bssid")
    static = net.get("static_ip")
    if static is not None:
        if not isinstance(static, dict):
            _err(key + ".static_ip", "must be an object {ip, netmask, gateway, dns} or null")
        for part in ("ip", "netmask", "gateway", "dns"):
            if part not in static:
                _err(key + ".static_ip." + part, "is missing")
            _check_ip(static[part], key + ".static_ip." + part)
    for k, v in net.items():
        _check_json_value(v, key + "." + k, 1)


# What ESP-IDF's softAP offers (esp_wifi_types_generic.h, wifi_ap_config_t.authmode: not WEP,
# WAPI or OWE; no enterprise mode), as network.AUTH_* numbers: open, WPA, WPA2, WPA/WPA2, WPA3,
# WPA2/WPA3.
AP_AUTHMODES = (0, 2, 3, 4, 6, 7)
# The channels of ESP-IDF's default country "01" (esp_wifi.h: esp_wifi_set_country), which
# MicroPython keeps unless network.country() changes it: an AP on 12 or 13 would not start.
AP_CHANNELS = (1, 11)


def check_access_point(ap, key="access_point"):
    if not isinstance(ap, dict):
        _err(key, "must be an object")
    cfg = ap.get("config", {})
    if not isinstance(cfg, dict):
        _err(key + ".config", "must be an object")
    for name in cfg:
        if name not in ("essid", "ssid", "channel", "hidden", "password", "key", "authmode"):
            # Passed to WLAN.config(); refuse what it would refuse at the worst moment.
            _err(key + ".config." + name, "unknown access point setting")
    for name in ("essid", "ssid"):
        if name in cfg:
            check_ssid(cfg[name], key + ".config." + name)
    if "channel" in cfg:
        _check_int(cfg["channel"], key + ".config.channel", *AP_CHANNELS)
    if "hidden" in cfg:
        _check_bool(cfg["hidden"], key + ".config.hidden")
    for name in ("password", "key"):
        if name in cfg:
            check_password(cfg[name], key + ".config." + name)
    if "authmode" in cfg:
        mode = cfg["authmode"]
        if not isinstance(mode, int) or isinstance(mode, bool) or mode not in AP_AUTHMODES:
            _err(
                key + ".config.authmode",
                "must be a security an access point offers (%s; not WEP or enterprise), not %r"
                % (", ".join(str(m) for m in AP_AUTHMODES), mode),
            )
    if "enables_webrepl" in ap:
        _check_bool(ap["enables_webrepl"], key + ".enables_webrepl")
    policy = ap.get("start_policy", "fallback")
    if policy not in START_POLICIES:
        _err(
            key + ".start_policy",
            "must be one of %s, not %r" % (", ".join(START_POLICIES), policy),
        )


def check(doc):
    """Raises ConfigError naming the first bad key of the document `doc` (a dict)."""
    if not isinstance(doc, dict):
        _err("config", "must be a JSON object, not %s" % type(doc).__name__)
    schema = doc.get("schema", SCHEMA)
    if schema == 1:
        _err(
            "schema",
            "schema 1 is not supported: write the file as schema 2 or 3 "
            "(known_networks as a list of {ssid, password}, see the README)",
        )
    if schema not in (2, SCHEMA):
        _err("schema", "must be 2 or 3, not %r" % (schema,))
    nets = doc.get("known_networks", [])
    if not isinstance(nets, list):
        _err("known_networks", "must be a list")
    if len(nets) > MAX_NETWORKS:
        _err("known_networks", "at most %d networks, not %d" % (MAX_NETWORKS, len(nets)))
    seen = []
    for i, net in enumerate(nets):
        check_network(net, "known_networks[%d]" % i)
        if net["ssid"] in seen:
            _err("known_networks[%d].ssid" % i, "%r is listed twice" % net["ssid"])
        seen.append(net["ssid"])
    if "access_point" in doc:
        check_access_point(doc["access_point"])
    if "device_name" in doc:
        check_ssid(doc["device_name"], "device_name")
    if "hostname" in doc:
        check_hostname(doc["hostname"])
    if "setup_ap_secured" in doc:
        _check_bool(doc["setup_ap_secured"], "setup_ap_secured")
    if "portal_idle_timeout_s" in doc:
        _check_int(doc["portal_idle_timeout_s"], "portal_idle_timeout_s", 0, 86400)
    check_url(doc.get("ota_url"))
    if doc.get("ota_ca") is not None:
        _check_str(doc["ota_ca"], "ota_ca", 1, 128)
    if doc.get("ota_pin") is not None:
        check_pin(doc["ota_pin"])
    if "ota_guard_s" in doc:
        _check_int(doc["ota_guard_s"], "ota_guard_s", 10, 3600)
    check_url(doc.get("ota_health_url"), "ota_health_url")
    if "safe_mode_boots" in doc:
        _check_int(doc["safe_mode_boots"], "safe_mode_boots", 1, 100)
    if "app_grace_s" in doc:
        _check_int(doc["app_grace_s"], "app_grace_s", 5, 3600)
    if doc.get("webrepl_password") is not None:
        pw = doc["webrepl_password"]
        _check_str(pw, "webrepl_password", 4, 9)  # WebREPL accepts 4 to 9 characters
    if "link" in doc:
        if not isinstance(doc["link"], dict):
            _err("link", "must be an object of state machine settings")
        for k in doc["link"]:
            if k in ("ap_policy", "ap_config"):
                _err("link." + k, "is set through access_point, not link")
        try:
            call_dropped("linkspec", "check_policy", doc["link"])
        except ValueError as e:
            _err("link", str(e).replace("policy.", ""))
    last = doc.get("last_good")
    if last is not None:
        if not isinstance(last, list) or len(last) != 3:
            _err("last_good", "must be [ssid, bssid, channel] or null")
        check_ssid(last[0], "last_good[0]")
        _check_mac(last[1], "last_good[1]")
        _check_int(last[2], "last_good[2]", 1, 14)
    for k, v in doc.items():
        _check_json_value(v, k)
