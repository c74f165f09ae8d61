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

from wifimgr import _fs, call_dropped
from wifimgr import _log as log
from wifimgr.fields import (  # noqa: F401 (the checks wifimgr.config offers)
    MAX_NETWORKS,
    SCHEMA,
    START_POLICIES,
    ConfigError,
    _err,
    check_password,
    check_pin,
    check_ssid,
    check_url,
    safe_url,
)
from wifimgr.platform import unique_id

DEFAULT_PATH = "/wifimgr.json"


def check(doc):
    """Raises ConfigError naming the first bad key of the document `doc` (a dict)."""
    call_dropped("_schema", "check", doc)


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

    def has_plaintext(self):
        """True when the file as read holds passwords (schema 2): save() moves them."""
        return call_dropped("_cfgedit", "has_plaintext", self)

    def save(self):
        """Writes the configuration (schema 3, no secrets) atomically; secrets go to the store
        first. OSError/ConfigError naming the path if it cannot be written."""
        call_dropped("_cfgedit", "save", self)

    # --- secrets ---------------------------------------------------------------------------

    def _secret(self, name, holder=None, key=None):
        if holder is not None and key in holder:
            return holder[key]
        if self.store is None:
            return None
        return self.store.get(name)

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
        call_dropped("_cfgedit", "set_ap_password", self, password)

    def webrepl_password(self):
        return self._secret(WEBREPL_SECRET, self._doc, "webrepl_password")

    def set_webrepl_password(self, password):
        call_dropped("_cfgedit", "set_webrepl_password", self, password)

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
        call_dropped("_cfgedit", "add_network", self, ssid, password, first, save, options)

    def remove_network(self, ssid, save=True):
        """Forgets a network and its password; False if it was not known."""
        return call_dropped("_cfgedit", "remove_network", self, ssid, save)

    def reorder(self, ssids, save=True):
        """Puts the known networks in the order of `ssids`, which must be a permutation."""
        call_dropped("_cfgedit", "reorder", self, ssids, save)

    def clear_networks(self, save=True):
        call_dropped("_cfgedit", "clear_networks", self, save)

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
