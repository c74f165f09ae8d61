"""The configuration file (default /wifimgr.json): reading, validating, migrating, saving.

It reads the `networks.json` format of micropython-wifimanager (schema 2) unchanged and writes
schema 3, which is schema 2 plus the keys below; every key it does not know is kept. Secrets
(network passwords, the access point password, the WebREPL password) are moved into the
credential store (`wifimgr.store`) on save and never written to this file.

Schema 3, every key optional:
    schema            3
    device_name       str, 1 to 32 characters: access point name and default hostname
    hostname          str: DHCP/mDNS name (letters, digits, "-"; 1 to 32)
    known_networks    list, most preferred first, of
                      {"ssid", "password" (schema 2 only), "enables_webrepl", "hidden",
                       "bssid": "aa:bb:cc:dd:ee:ff" or null,
                       "static_ip": null or {"ip", "netmask", "gateway", "dns"}}
    access_point      {"config": {"essid", "channel", "hidden", "password", "authmode"},
                       "enables_webrepl": bool, "start_policy": "always"|"fallback"|"never"}
    setup_ap_secured  bool (default false): the first-boot access point too has the setup key
                      as its passphrase (a provisioned device's always has)
    portal_idle_timeout_s  int >= 0: stop the access point after this long without a portal
                      visitor (0: never)
    ota_url           "https://..." (or "http://...") or null: an app image, or a release
                      manifest ending in .json
    ota_ca            str or null: path of a PEM file on the device with the CA certificate(s)
                      that https:// OTA servers must be signed by
    ota_pin           str or null: SHA-256 of the OTA server's DER certificate, 64 hex digits
                      (colons between the bytes allowed), instead of or besides ota_ca
    ota_guard_s       int, 10 to 3600 (default 120): after an update, how long the new image
                      has to rejoin WiFi (and reach ota_health_url) before it is rolled back
    ota_health_url    "https://..." (or "http://...") or null: must also answer 200 for a new
                      image to be kept
    safe_mode_boots   int, 1 to 100 (default 3): boots in a row that end before the application
                      is healthy, after which the next one starts in safe mode (wifimgr.run)
    app_grace_s       int, 5 to 3600 (default 60): the application run by wifimgr.run(app) is
                      healthy after this long without a crash, if it did not call app_ok()
    webrepl_password  str (schema 2 style; moved to the store on save)
    link              dict of state machine settings (wifimgr.link policy keys, e.g. rescan_ms)
    last_good         [ssid, bssid, channel] of the last network that gave an address
    anything else     free-form user keys: `config.get(key)` / `config.set(key, value)`

Saving is atomic: the new file is written to `<path>.tmp` and read back, the current file
becomes `<path>.bak`, then the new one is renamed into place. Loading tries `<path>` then
`<path>.bak`, so a write torn at any byte leaves the old or the new version readable.
"""

import json
import os

from micropython import const

from wifimgr import _fs, linkspec
from wifimgr import _log as log
from wifimgr.platform import unique_id

DEFAULT_PATH = "/wifimgr.json"
SCHEMA = const(3)
START_POLICIES = ("always", "fallback", "never")
_MAX_NETWORKS = const(16)
_MAX_DEPTH = const(8)


class ConfigError(ValueError):
    """A configuration problem; the message names the file or key and what is wrong, `key`
    the key (None when the message names a file)."""

    def __init__(self, message, key=None):
        super().__init__(message)
        self.key = key


# --- validation --------------------------------------------------------------------------------


def _err(key, problem):
    raise ConfigError("%s: %s" % (key, problem), key)


def check_ssid(ssid, key="ssid"):
    """The SSID as str; ConfigError unless it is 1 to 32 bytes of valid UTF-8 (the checks and
    their wording are wifimgr.linkspec's)."""
    try:
        return linkspec.check_ssid(linkspec.check_text(ssid, key, 255), key).decode()
    except ValueError as e:
        raise ConfigError(str(e), key)


def check_password(password, key="password"):
    """The WPA2 passphrase as str ("" for an open network); ConfigError unless
    wifimgr.linkspec.check_password() takes it."""
    try:
        return linkspec.check_password(password, key)
    except ValueError as e:
        raise ConfigError(str(e), key)


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


def check_url(value, key="ota_url"):
    # Whether plain http:// may be used for an update is wifimgr.ota's decision (only with a
    # SHA-256 from elsewhere); here only the form.
    if value is None:
        return
    if not isinstance(value, str) or not (
        value.startswith("https://")
        and len(value) > 8
        or value.startswith("http://")
        and len(value) > 7
    ):
        _err(key, "must be an https:// or http:// URL or null, not %r" % (safe_url(value),))


def safe_url(url):
    """url without the `user:password@` of its authority: the form every log line and status
    shows (the one helper for it)."""
    if not isinstance(url, str):
        return url
    start = url.find("://") + 3
    if start < 3:
        return url
    end = len(url)
    for c in "/?#":
        i = url.find(c, start)
        if 0 <= i < end:
            end = i
    at = url.rfind("@", start, end)
    return url if at < 0 else url[:start] + url[at + 1 :]


def check_pin(value, key="ota_pin"):
    """A certificate's SHA-256 as hex, colons between the bytes allowed ("ab:cd:..." as
    `openssl x509 -fingerprint -sha256` prints it); returns the 64 hex digits, lower case."""
    if not isinstance(value, str):
        _err(key, "must be a string of 64 hex digits, not %s" % type(value).__name__)
    digits = value.replace(":", "").lower()
    if len(digits) != 64 or any(c not in "0123456789abcdef" for c in digits):
        _err(key, "must be the SHA-256 of a certificate as 64 hex digits, not %r" % value)
    return digits


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
    if len(nets) > _MAX_NETWORKS:
        _err("known_networks", "at most %d networks, not %d" % (_MAX_NETWORKS, len(nets)))
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
        from wifimgr.linkspec import check_policy

        for k in doc["link"]:
            if k in ("ap_policy", "ap_config"):
                _err("link." + k, "is set through access_point, not link")
        try:
            check_policy(doc["link"])
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


def parse(data, source="config"):
    """The document in `data` (bytes), checked; ConfigError naming `source` and the problem."""
    try:
        text = data.decode()
    except UnicodeError:
        raise ConfigError("%s: is not UTF-8 text" % source)
    try:
        doc = json.loads(text)
    except ValueError:
        raise ConfigError("%s: is not valid JSON" % source)
    try:
        check(doc)
    except ConfigError as e:
        raise ConfigError("%s: %s" % (source, e))
    return doc


def default_device_name(uid=None):
    uid = uid if uid is not None else unique_id()
    if not uid:
        return "wifimgr"
    return "wifimgr-" + "".join("%02x" % b for b in uid[-3:])


# --- the configuration object ------------------------------------------------------------------

# Store names of the secrets kept out of the file.
AP_SECRET = "ap"
WEBREPL_SECRET = "webrepl"


def network_secret(ssid):
    return "net:" + ssid


class Config:
    """The configuration in `path`, with secrets in `store` (a wifimgr.store.Store or None).

    A file that cannot be used is never overwritten blindly: `error` says why it was refused,
    the device runs on the previous version (`<path>.bak`) or the defaults, and the next save
    first keeps the refused file as `<path>.bad`.
    """

    def __init__(self, path=DEFAULT_PATH, store=None, uid=None):
        self.path = path
        self.store = store
        self._uid = uid
        self.error = None
        self.source = None
        self._doc = {}
        self._refused = False
        self.load()

    # --- loading and saving ----------------------------------------------------------------

    def load(self):
        doc, used, error = _fs.read_atomic(self.path, parse)
        self.error = error
        self.source = used
        self._refused = error is not None
        if error is not None:
            if used is not None:
                log.error("config: %s; using the previous version %s", error, used)
            else:
                log.error("config: %s; using the defaults", error)
        self._doc = doc if doc is not None else {"schema": SCHEMA}
        return self

    def _secrets_in_file(self):
        # Plaintext secrets of a schema 2 file: (store name, value, dict, key) to move.
        out = []
        doc = self._doc
        for net in doc.get("known_networks", []):
            if "password" in net:
                out.append((network_secret(net["ssid"]), net["password"], net, "password"))
        cfg = doc.get("access_point", {}).get("config", {})
        for k in ("password", "key"):
            if k in cfg:
                out.append((AP_SECRET, cfg[k], cfg, k))
        if doc.get("webrepl_password") is not None:
            out.append((WEBREPL_SECRET, doc["webrepl_password"], doc, "webrepl_password"))
        return out

    def has_plaintext(self):
        """True when the file as read holds passwords (schema 2): save() moves them."""
        return bool(self._secrets_in_file())

    def save(self):
        """Writes the configuration (schema 3, no secrets) atomically; secrets go to the store
        first. OSError/ConfigError naming the path if it cannot be written."""
        check(self._doc)
        moved = self._secrets_in_file()
        if moved and self.store is None:
            raise ConfigError("%s: cannot save: passwords need a credential store" % self.path)
        for name, value, _, _ in moved:
            self.store.put(name, value, save=False)
        if moved:
            self.store.save()
        self._doc["schema"] = SCHEMA
        data = _dumps_without(self._doc, moved)
        if self._refused and _fs.exists(self.path) and not _fs.is_dir(self.path):
            bad = self.path + ".bad"
            if _fs.exists(bad):
                os.remove(bad)
            os.rename(self.path, bad)
            log.error("config: kept the refused %s as %s", self.path, bad)
        _fs.write_atomic(self.path, data)
        for _, _, holder, key in moved:
            del holder[key]
        if moved and _fs.read_bytes(self.path) == data:
            # The migrated file reads back: the previous version held the passwords in
            # plaintext and goes now.
            _fs.step("migrated")
            os.remove(self.path + ".bak")
        self._refused = False
        self.error = None
        self.source = self.path

    # --- secrets ---------------------------------------------------------------------------

    def _secret(self, name, holder=None, key=None):
        if holder is not None and key in holder:
            return holder[key]
        if self.store is None:
            return None
        return self.store.get(name)

    def _set_secret(self, name, value):
        if self.store is None:
            raise ConfigError("%s: needs a credential store" % name)
        if value:
            self.store.put(name, value)
        else:
            self.store.delete(name)

    def password(self, ssid):
        """The password of a known network ("" for an open one), or None if unknown."""
        for net in self._doc.get("known_networks", []):
            if net["ssid"] == ssid:
                pw = self._secret(network_secret(ssid), net, "password")
                return pw if pw is not None else ""
        return None

    def ap_password(self):
        cfg = self._doc.get("access_point", {}).get("config", {})
        for k in ("password", "key"):
            if k in cfg:
                return cfg[k]
        return self._secret(AP_SECRET) or ""

    def set_ap_password(self, password):
        password = check_password(password, "access_point.config.password")
        cfg = self._doc.get("access_point", {}).get("config", {})
        for k in ("password", "key"):
            cfg.pop(k, None)
        self._set_secret(AP_SECRET, password)

    def webrepl_password(self):
        return self._secret(WEBREPL_SECRET, self._doc, "webrepl_password")

    def set_webrepl_password(self, password):
        if password is not None:
            _check_str(password, "webrepl_password", 4, 9)
        self._doc.pop("webrepl_password", None)
        self._set_secret(WEBREPL_SECRET, password)

    # --- known networks --------------------------------------------------------------------

    def networks(self):
        """The known networks, most preferred first: copies without passwords."""
        out = []
        for net in self._doc.get("known_networks", []):
            n = dict(net)
            n.pop("password", None)
            out.append(n)
        return out

    def ssids(self):
        return [n["ssid"] for n in self._doc.get("known_networks", [])]

    def add_network(self, ssid, password="", *, first=True, save=True, **options):
        """Adds or updates a known network (options: hidden, enables_webrepl, bssid,
        static_ip, or any other key) and puts it first (`first=True`), last (False) or, if
        known, where it was (None); the password goes to the store. Keys of an existing entry
        that are not given are kept."""
        ssid = check_ssid(ssid)
        password = check_password(password)
        nets = list(self._doc.get("known_networks", []))
        entry = {"ssid": ssid}
        at = len(nets)
        for i, net in enumerate(nets):
            if net["ssid"] == ssid:
                entry = nets.pop(i)
                at = i
                break
        entry = dict(entry)
        entry.pop("password", None)
        entry.update(options)
        check_network(entry, "network %r" % ssid)
        nets.insert(0 if first else len(nets) if first is False else at, entry)
        if len(nets) > _MAX_NETWORKS:
            _err("known_networks", "at most %d networks" % _MAX_NETWORKS)
        old = self._doc.get("known_networks")
        self._doc["known_networks"] = nets
        try:
            self._set_secret(network_secret(ssid), password)
        except BaseException:
            if old is None:
                del self._doc["known_networks"]
            else:
                self._doc["known_networks"] = old
            raise
        if save:
            self.save()

    def remove_network(self, ssid, save=True):
        """Forgets a network and its password; False if it was not known."""
        nets = self._doc.get("known_networks", [])
        for i, net in enumerate(nets):
            if net["ssid"] == ssid:
                nets.pop(i)
                if self.store is not None:
                    self.store.delete(network_secret(ssid))
                if self._doc.get("last_good") and self._doc["last_good"][0] == ssid:
                    self._doc["last_good"] = None
                if save:
                    self.save()
                return True
        return False

    def reorder(self, ssids, save=True):
        """Puts the known networks in the order of `ssids`, which must be a permutation."""
        nets = self._doc.get("known_networks", [])
        if not isinstance(ssids, (list, tuple)):
            raise ValueError("reorder: expected a list of SSIDs")
        if len(ssids) != len(nets) or sorted(ssids) != sorted(n["ssid"] for n in nets):
            raise ValueError("reorder: %r is not an order of the known networks" % (ssids,))
        by_ssid = {n["ssid"]: n for n in nets}
        self._doc["known_networks"] = [by_ssid[s] for s in ssids]
        if save:
            self.save()

    def clear_networks(self, save=True):
        for ssid in self.ssids():
            self.remove_network(ssid, save=False)
        if save:
            self.save()

    # --- plain keys ------------------------------------------------------------------------

    def get(self, key, default=None):
        """A top-level key (user keys too), or `default`; secrets are not returned."""
        if key == "known_networks":
            return self.networks()
        if key == "webrepl_password":
            return default
        value = self._doc.get(key, default)
        if key == "access_point" and isinstance(value, dict):
            value = dict(value)
            cfg = dict(value.get("config", {}))
            cfg.pop("password", None)
            cfg.pop("key", None)
            value["config"] = cfg
        return value

    def set(self, key, value, save=True):
        """Sets a top-level key after checking it (user keys: any JSON value) and saves."""
        if not isinstance(key, str) or not key:
            raise ConfigError("config key must be a non-empty string, not %r" % (key,))
        if key in ("schema", "known_networks"):
            raise ConfigError("%s: not settable with set(); use add_network()/reorder()" % key)
        if key == "webrepl_password":
            self.set_webrepl_password(value)
            return
        doc = dict(self._doc)
        doc[key] = value
        check(doc)
        self._doc = doc
        if save:
            self.save()

    def delete(self, key, save=True):
        if key in ("schema", "known_networks"):
            raise ConfigError("%s: cannot be deleted" % key)
        if self._doc.pop(key, None) is not None and save:
            self.save()

    def keys(self):
        return list(self._doc)

    # --- derived settings ------------------------------------------------------------------

    @property
    def device_name(self):
        name = self._doc.get("device_name")
        return name if name else default_device_name(self._uid)

    @property
    def hostname(self):
        name = self._doc.get("hostname")
        if name:
            return name
        # A hostname from the device name: letters and digits kept, the rest as "-".
        out = "".join(
            c if (c.isalpha() or c.isdigit()) and ord(c) < 128 else "-" for c in self.device_name
        ).strip("-")
        return out[:32] or "wifimgr"

    @property
    def start_policy(self):
        return self._doc.get("access_point", {}).get("start_policy", "fallback")


def _dumps_without(doc, moved):
    # JSON of doc without the secrets listed in `moved`, leaving doc itself intact.
    removed = []
    for _, value, holder, key in moved:
        removed.append((holder, key, value))
        del holder[key]
    try:
        return json.dumps(doc).encode()
    finally:
        for holder, key, value in removed:
            holder[key] = value


# The configuration of the running manager (or the default file), for wifimgr.config.get/set.
_current = None


def current():
    global _current
    if _current is None:
        from wifimgr.store import Store

        _current = Config(DEFAULT_PATH, Store.for_config(DEFAULT_PATH))
    return _current


def use(cfg):
    """Makes `cfg` the configuration wifimgr.config.get/set work on (the running manager's)."""
    global _current
    _current = cfg


def get(key, default=None):
    """`wifimgr.config.get(key)`: a key of the running manager's configuration."""
    return current().get(key, default)


def set(key, value):
    """`wifimgr.config.set(key, value)`: sets and saves a key (user keys: any JSON value)."""
    current().set(key, value)
