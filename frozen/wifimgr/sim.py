# A simulated radio: the part of MicroPython's `network` module that wifimgr uses, driven by a
# scenario file (see tools/sim/README.md). Installed as the `network` module by the simulator and
# by tests; the package itself never imports this file on a device.
#
# The state of every interface is computed from the clock when it is asked for, so the same code
# runs on the real clock (make sim) and on a virtual one that tests advance by hand.

import json
import time

from micropython import const

from wifimgr.linkspec import parse_mac
from wifimgr.platform import AP_DEFAULT_IP

STA_IF = const(0)
AP_IF = const(1)

# Values of WLAN.status() as the esp32 port names them (modnetwork.h, modnetwork_globals.h):
# the progress values, and ESP-IDF's disconnect reasons (esp_wifi_types_generic.h).
STAT_IDLE = const(1000)
STAT_CONNECTING = const(1001)
STAT_GOT_IP = const(1010)
STAT_BEACON_TIMEOUT = const(200)
STAT_NO_AP_FOUND = const(201)
STAT_WRONG_PASSWORD = const(202)
STAT_ASSOC_FAIL = const(203)
STAT_CONNECT_FAIL = const(203)
STAT_HANDSHAKE_TIMEOUT = const(204)
STAT_NO_AP_FOUND_W_COMPATIBLE_SECURITY = const(210)
STAT_NO_AP_FOUND_IN_AUTHMODE_THRESHOLD = const(211)
STAT_NO_AP_FOUND_IN_RSSI_THRESHOLD = const(212)
REASON_AUTH_EXPIRE = const(2)  # the access point ended the association
REASON_ASSOC_LEAVE = const(8)  # this station left: disconnect() or active(False)
REASON_CONNECTION_FAIL = const(205)

SECURITY = {
    "open": 0,
    "wep": 1,
    "wpa": 2,
    "wpa2": 3,
    "wpa_wpa2": 4,
    "wpa2_enterprise": 5,
    "wpa3": 6,
    "wpa2_wpa3": 7,
}
AUTH_OPEN = const(0)

# Radio timings, from ESP-IDF's defaults on an ESP32.
CHANNELS = const(13)
SCAN_DWELL_MS = const(120)  # active scan, maximum dwell per channel
CHANNEL_SWITCH_MS = const(30)
HANDSHAKE_FAIL_MS = const(1200)  # 4-way handshake timeout with a wrong password
BEACON_TIMEOUT_MS = const(6000)  # beacons missed before the station declares the link lost
ASSOC_MS = const(500)
DHCP_MS = const(1000)
# ESP-IDF's DHCP client repeats its DISCOVER after 500 ms, then 1, 2 and 4 s, then every 4 s
# (components/lwip/port/include/lwipopts.h: DHCP_REQUEST_BACKOFF_SEQUENCE).
DHCP_RETRY_FIRST_MS = const(500)
DHCP_RETRY_MAX_MS = const(4000)


def channel_ms():
    return SCAN_DWELL_MS + CHANNEL_SWITCH_MS


def full_scan_ms():
    return CHANNELS * channel_ms()


class ScenarioError(ValueError):
    pass


class RealClock:
    def __init__(self):
        self._t0 = time.ticks_ms()

    def now_ms(self):
        return time.ticks_diff(time.ticks_ms(), self._t0)

    def sleep_ms(self, ms):
        time.sleep_ms(ms)


class VirtualClock:
    def __init__(self, now_ms=0):
        self._now = now_ms

    def now_ms(self):
        return self._now

    def advance(self, ms):
        if ms < 0:
            raise ValueError("clock cannot go back: %d ms" % ms)
        self._now += ms

    def sleep_ms(self, ms):
        self.advance(ms)

    async def pump(self, link, poll_ms):
        # Runs a `_wifimgr.Link` on this clock (its start() creates this task): the task has no
        # thread then; this moves the clock to the task's next event (at most poll_ms on) and
        # steps it. A step short of memory (the status it hands to the VM) is taken again
        # poll_ms later: a device's task is not on the heap and never stops.
        import asyncio

        while True:
            try:
                if not link._advance(self._now):
                    return
                nxt = link._next()
            except MemoryError:
                nxt = -1
            step = poll_ms if nxt < 0 else min(poll_ms, nxt - self._now)
            if step > 0:
                self.advance(step)
            await asyncio.sleep_ms(0)


# Scenario keys of an access point, in the order they are checked: (name, types, default).
# A default of None means required.
_AP_KEYS = (
    ("ssid", str, None),
    ("bssid", str, None),
    ("channel", int, None),
    ("rssi", int, None),
    ("security", str, "wpa2"),
    ("password", str, ""),
    ("hidden", bool, False),
    ("assoc_ms", int, ASSOC_MS),
    ("dhcp_ms", int, DHCP_MS),
    ("dhcp", bool, True),
    ("ip", str, "192.168.1.50"),
    ("netmask", str, "255.255.255.0"),
    ("gateway", str, "192.168.1.1"),
    ("dns", str, "192.168.1.1"),
    ("vanish_at_s", (int, float), -1),
    ("return_at_s", (int, float), -1),
    ("drop_after_s", (int, float), -1),
    ("away_s", list, []),
    ("dhcp_off_s", list, []),
)
_TOP_KEYS = ("description", "access_points", "known_networks", "device")


def _fail(source, where, problem):
    raise ScenarioError("%s: %s: %s" % (source, where, problem))


def _windows(pairs, source, where, after_ms=0):
    # [[from_s, to_s], ...] in order, to_s -1 (never) on the last only -> [(from_ms, to_ms)].
    out = []
    for i, pair in enumerate(pairs):
        here = "%s[%d]" % (where, i)
        ok = isinstance(pair, list) and len(pair) == 2
        ok = ok and all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in pair)
        if not ok:
            _fail(source, here, "must be [from_s, to_s], numbers: %r" % (pair,))
        start, end = int(pair[0] * 1000), int(pair[1] * 1000) if pair[1] >= 0 else -1
        if start < after_ms or (out and out[-1][1] < 0):
            _fail(source, here, "must start after the one before it")
        if end >= 0 and end <= start:
            _fail(source, here, "must end after it starts, or never (-1)")
        out.append((start, end))
        after_ms = end
    return out


def _within(windows, t_ms):
    # The window of `windows` that holds t_ms, or None.
    for w in windows:
        if w[0] <= t_ms and (w[1] < 0 or t_ms < w[1]):
            return w
    return None


def _parse_bssid(text, source, where):
    try:
        return parse_mac(text, where)
    except ValueError:
        _fail(source, where, "not a MAC address like aa:bb:cc:dd:ee:ff: %r" % (text,))


class AccessPoint:
    def __init__(self, spec, source, index):
        where = "access_points[%d]" % index
        if not isinstance(spec, dict):
            _fail(source, where, "must be an object")
        names = [key for key, _, _ in _AP_KEYS]
        for key in spec:
            if key not in names:
                _fail(source, where + "." + key, "unknown key")
        for key, kinds, default in _AP_KEYS:
            value = spec.get(key, default)
            if value is None:
                _fail(source, where + "." + key, "missing")
            if not isinstance(value, kinds) or (kinds is int and isinstance(value, bool)):
                _fail(source, where + "." + key, "wrong type: %r" % (value,))
            setattr(self, key, value)
        if self.ssid.encode() == b"" or len(self.ssid.encode()) > 32:
            _fail(source, where + ".ssid", "must be 1 to 32 bytes of UTF-8")
        self.bssid = _parse_bssid(self.bssid, source, where + ".bssid")
        if not 1 <= self.channel <= CHANNELS:
            _fail(source, where + ".channel", "must be 1 to %d, not %d" % (CHANNELS, self.channel))
        if not -100 <= self.rssi <= 0:
            _fail(source, where + ".rssi", "must be -100 to 0 dBm, not %d" % self.rssi)
        if self.security not in SECURITY:
            _fail(
                source,
                where + ".security",
                "unknown %r, one of %s" % (self.security, ", ".join(sorted(SECURITY))),
            )
        self.authmode = SECURITY[self.security]
        if self.authmode != AUTH_OPEN and not 8 <= len(self.password) <= 63:
            _fail(source, where + ".password", "a secured network needs 8 to 63 characters")
        for key in ("assoc_ms", "dhcp_ms"):
            if getattr(self, key) < 0:
                _fail(source, where + "." + key, "must not be negative")
        if self.return_at_s >= 0 and not 0 <= self.vanish_at_s < self.return_at_s:
            _fail(source, where + ".return_at_s", "needs an earlier vanish_at_s")
        # The times off the air: vanish_at_s to return_at_s, then away_s; read by the C Link's
        # radio too (radio_sim_mp.c), as the times the DHCP server does not answer.
        self.away = []
        if self.vanish_at_s >= 0:
            self.away = _windows([[self.vanish_at_s, self.return_at_s]], source, where)
        if self.away_s and self.away and self.away[0][1] < 0:
            _fail(source, where + ".away_s", "needs a return_at_s")
        after = self.away[0][1] if self.away else 0
        self.away += _windows(self.away_s, source, where + ".away_s", after)
        self.dhcp_off = _windows(self.dhcp_off_s, source, where + ".dhcp_off_s")

    def visible(self, t_ms):
        return _within(self.away, t_ms) is None

    def vanish_after(self, t_ms):
        # When it next goes off the air at t_ms or later, or -1.
        for start, _ in self.away:
            if start >= t_ms:
                return start
        return -1

    def lease_at(self, t_ms):
        # The address of a DHCP client starting at t_ms: the first DISCOVER that the server
        # answers, plus dhcp_ms; -1 for never.
        if not self.dhcp:
            return -1
        retry = DHCP_RETRY_FIRST_MS
        while True:
            w = _within(self.dhcp_off, t_ms)
            if w is None:
                return t_ms + self.dhcp_ms
            if w[1] < 0:
                return -1
            while t_ms < w[1]:
                t_ms += retry
                retry = min(2 * retry, DHCP_RETRY_MAX_MS)


class Scenario:
    def __init__(self, doc, source="<scenario>"):
        if not isinstance(doc, dict):
            _fail(source, "top level", "must be an object")
        for key in doc:
            if key not in _TOP_KEYS:
                _fail(source, key, "unknown key (expected one of %s)" % ", ".join(_TOP_KEYS))
        self.source = source
        self.description = doc.get("description", "")
        aps = doc.get("access_points")
        if not isinstance(aps, list):
            _fail(source, "access_points", "missing or not a list")
        self.access_points = [AccessPoint(spec, source, i) for i, spec in enumerate(aps)]
        seen = set()
        for i, ap in enumerate(self.access_points):
            if ap.bssid in seen:
                _fail(source, "access_points[%d].bssid" % i, "used twice")
            seen.add(ap.bssid)
        known = doc.get("known_networks", [])
        if not isinstance(known, list):
            _fail(source, "known_networks", "must be a list")
        for i, net in enumerate(known):
            if not isinstance(net, dict) or not isinstance(net.get("ssid"), str):
                _fail(source, "known_networks[%d].ssid" % i, "missing or not a string")
        self.known_networks = known
        device = doc.get("device", {})
        if not isinstance(device, dict):
            _fail(source, "device", "must be an object")
        self.device = device


def load_scenario(path):
    try:
        with open(path) as f:
            text = f.read()
    except OSError as e:
        raise ScenarioError("%s: cannot read: %s" % (path, e))
    try:
        doc = json.loads(text)
    except ValueError as e:
        raise ScenarioError("%s: not valid JSON: %s" % (path, e))
    return Scenario(doc, path)


class _Attempt:
    # One esp_wifi_connect(): where it stands follows from the clock alone. ESP-IDF's fast scan
    # (the port's connect() leaves sta.channel 0 and scan_method WIFI_FAST_SCAN) walks the
    # channels from 1 and stops at the first one where the SSID (and BSSID, if set) answers.
    def __init__(self, radio, start, ssid, key, bssid, static):
        self.start = start
        self.ssid = ssid
        self.key = key
        self.bssid = bssid
        self.ap = None
        self.ended_at = -1  # link lost, or the attempt failed, at this time
        self.reason = 0
        self.associated_at = -1
        self.got_ip_at = -1
        self.ip_seen = False  # IP_EVENT_STA_GOT_IP delivered
        matches = [
            ap
            for ap in radio.scenario.access_points
            if ap.ssid == ssid and (bssid is None or ap.bssid == bssid)
        ]
        found = []
        search_end = start + full_scan_ms()
        for ch in range(1, CHANNELS + 1):
            t = start + ch * channel_ms()
            found = [ap for ap in matches if ap.channel == ch and ap.visible(t)]
            if found:
                search_end = t
                break
        if not found:
            self._end(search_end, STAT_NO_AP_FOUND)
            return
        ap = found[0]
        for other in found:
            if other.rssi > ap.rssi:
                ap = other
        self.ap = ap
        if ap.authmode != AUTH_OPEN and key != ap.password:
            self._end(search_end + ap.assoc_ms + HANDSHAKE_FAIL_MS, STAT_WRONG_PASSWORD)
            return
        self.associated_at = search_end + ap.assoc_ms
        self.address_by(static, start)
        # The first thing that ends the link after it is up: the AP vanishing or dropping us.
        vanish = ap.vanish_after(self.associated_at)
        if vanish >= 0:
            self._end(vanish + BEACON_TIMEOUT_MS, STAT_BEACON_TIMEOUT)
        if ap.drop_after_s >= 0:
            self._end(self.associated_at + int(ap.drop_after_s * 1000), REASON_AUTH_EXPIRE)

    def address_by(self, static, now):
        # When the address comes, from `now` or the association if later: a static one at once
        # (esp_netif_handlers.c: esp_netif_action_connected() posts GOT_IP for it), a lease
        # after the AP's DHCP delay.
        if self.associated_at < 0:
            return
        t = self.associated_at if self.associated_at > now else now
        self.got_ip_at = t if static else self.ap.lease_at(t)

    def _end(self, at, reason):
        if self.ended_at < 0 or at < self.ended_at:
            self.ended_at = at
            self.reason = reason

    def over(self, now):
        return 0 <= self.ended_at <= now

    def associated(self, now):
        return self.ap is not None and 0 <= self.associated_at <= now and not self.over(now)

    def has_ip(self, now):
        return self.associated(now) and 0 <= self.got_ip_at <= now


class Radio:
    """One simulated chip: a station and an access point interface sharing a clock."""

    def __init__(self, scenario, clock=None):
        self.scenario = scenario
        self.clock = clock or RealClock()
        self.sta = WLAN(STA_IF, self)
        self.ap = WLAN(AP_IF, self)
        self.scans = 0  # full scans run, for tests and benchmarks

    def now(self):
        return self.clock.now_ms()

    def channel(self):
        # esp_wifi_get_channel(): the station's channel while it is linked, else the AP's.
        now = self.now()
        attempt = self.sta._sync(now)
        if attempt is not None and attempt.associated(now):
            return attempt.ap.channel
        return self.ap._ap_config["channel"]

    def follow(self, attempt, ap):
        """Called by the C Link's simulated radio (usermod_wifimgr/port/radio_sim_mp.c), in the
        VM, after it connected, disconnected or switched its access point: the interfaces
        then show that radio, so the application sees the one radio the C Link drives.
        `attempt`: None (disconnected) or (access point index or -1, associated_at,
        got_ip_at, ended_at, how it ended), times in ms on the clock, -1 for never; `ap`:
        None (off) or WLAN.config() keys."""
        a = None
        if attempt is not None:
            index, associated_at, got_ip_at, ended_at, end = attempt
            a = object.__new__(_Attempt)  # every field _Attempt.__init__ sets, from the C radio
            a.start = a.key = None
            a.ap = self.scenario.access_points[index] if index >= 0 else None
            a.ssid = a.ap.ssid if a.ap else None
            a.bssid = a.ap.bssid if a.ap else None
            a.associated_at, a.got_ip_at, a.ended_at = associated_at, got_ip_at, ended_at
            a.reason = _ENDS.get(end, STAT_IDLE)
            a.ip_seen = False  # the station's _sync() delivers GOT_IP when it is due
        self.sta._attempt = a
        self.ap.active(ap is not None)
        if ap:
            self.ap.config(**ap)


# How the C radio's attempts end (radio_sim.h: WM_RADIO_SIM_END_), as WLAN.status() says it.
_ENDS = {
    "no_ap_found": STAT_NO_AP_FOUND,
    "wrong_password": STAT_WRONG_PASSWORD,
    "beacon_timeout": STAT_BEACON_TIMEOUT,
    "auth_expire": REASON_AUTH_EXPIRE,
}

_radio = None


def install(scenario, clock=None):
    """Makes `network.WLAN` this simulated radio; returns the Radio."""
    import sys

    global _radio
    _radio = Radio(scenario, clock)
    sys.modules["network"] = sys.modules[__name__]
    return _radio


def hostname(name=None):
    # extmod/modnetwork.c: mod_network_hostname(); the esp32 port's default is "mpy-<chip>".
    if name is None:
        return _hostname[0]
    if not isinstance(name, str):
        raise TypeError("hostname must be a string")
    if len(name.encode()) > HOSTNAME_MAX_LEN:
        raise ValueError
    _hostname[0] = name


HOSTNAME_MAX_LEN = const(32)
_hostname = ["mpy-esp32"]
_ZERO = ("0.0.0.0",) * 4


def _ipv4(text):
    # netutils_parse_ipv4_addr(): four dotted decimals.
    parts = text.split(".") if isinstance(text, str) else ()
    if len(parts) != 4 or not all(p.isdigit() and int(p) < 256 for p in parts):
        raise ValueError("invalid arguments")
    return text


def _netmask(mask):
    # esp_ifconfig() takes a prefix length for the netmask as well.
    if isinstance(mask, int):
        bits = (0xFFFFFFFF << (32 - mask)) & 0xFFFFFFFF
        return ".".join(str((bits >> s) & 0xFF) for s in (24, 16, 8, 0))
    return _ipv4(mask)


class WLAN:
    """network.WLAN of the esp32 port (ports/esp32/network_wlan.c, network_common.c).

    The station keeps the port's flags: `_reason` is wifi_sta_disconn_reason (set by every
    STA_DISCONNECTED, cleared only by GOT_IP), `_requested` wifi_sta_connect_requested,
    `_conf_reconnects` and `_reconnects` the port's conf_wifi_sta_reconnects and
    wifi_sta_reconnects, `_connected` wifi_sta_connected. `_static` is the address set with
    ifconfig(tuple) while DHCP is stopped, None while the DHCP client runs.
    """

    # The radio is optional so that `network.WLAN(network.STA_IF)` works once install() ran.
    SEC_OPEN = 0
    SEC_WEP = 1
    SEC_WPA = 2
    SEC_WPA2 = 3
    SEC_WPA_WPA2 = 4
    SEC_WPA2_ENT = 5
    SEC_WPA3 = 6
    SEC_WPA2_WPA3 = 7
    IF_STA = STA_IF
    IF_AP = AP_IF
    PM_NONE = 0
    PM_PERFORMANCE = 1
    PM_POWERSAVE = 2

    def __new__(cls, interface=STA_IF, radio=None):
        if radio is None:
            if _radio is None:
                raise OSError("simulated radio not installed: call wifimgr.sim.install()")
            if interface not in (STA_IF, AP_IF):
                raise ValueError("invalid WLAN interface identifier")
            return _radio.sta if interface == STA_IF else _radio.ap
        return object.__new__(cls)

    def __init__(self, interface=STA_IF, radio=None):
        if radio is None:
            return  # an existing interface, returned by __new__
        self._if = interface
        self._radio = radio
        self._active = False
        self._attempt = None
        self._reason = 0
        self._requested = False
        self._connected = False
        self._conf_reconnects = 0  # 0: reconnect for ever, the port's default
        self._reconnects = 0
        self._static = None
        self._sta_ssid = ""
        self._key = ""
        self._bssid = None
        self.netif_hostname = None  # what the DHCP server is told: set by connect() only
        device = radio.scenario.device
        index = 1 if interface == AP_IF else 0
        mac = device.get("mac", "24:0a:c4:12:34:5%d" % (6 + index))
        self._mac = _parse_bssid(mac, radio.scenario.source, "device.mac")
        self._ap_config = {
            "ssid": "wifimgr",
            "key": "",
            "channel": 1,
            "security": AUTH_OPEN,
            "hidden": False,
            "max_clients": 4,
        }
        self._radio_config = {"txpower": 20.0, "pm": self.PM_PERFORMANCE, "protocol": 7}
        self._ap_ip = (AP_DEFAULT_IP, "255.255.255.0", AP_DEFAULT_IP, AP_DEFAULT_IP)
        # The URI the AP's DHCP server offers as option 114 (RFC 8910) while it runs: set by
        # the C Link's radio (radio_sim_mp.c, as port/radio_esp32.c: offer_captive_uri() sets
        # it on ESP-IDF); network.WLAN has no way to set it, so the twin's AP offers None.
        self.dhcp_captive_uri = None

    def _require_if(self, interface):
        # network_wlan.c: require_if().
        if self._if != interface:
            raise OSError("STA required" if interface == STA_IF else "AP required")

    def _require_sta_mode(self):
        if not self._radio.sta._active:
            raise OSError("STA must be active")

    def _linked(self, now):
        attempt = self._sync(now)
        return attempt is not None and attempt.associated(now)

    def _sync(self, now):
        # Delivers the events of the station's attempts up to `now`, as the port's event
        # handlers would have seen them: GOT_IP (network_wlan_ip_event_handler()) and
        # STA_DISCONNECTED (network_wlan_wifi_event_handler(), which calls esp_wifi_connect()
        # again while a connect is requested, `reconnects` permitting).
        while True:
            a = self._attempt
            if a is None:
                return None
            if not a.ip_seen and 0 <= a.got_ip_at <= now and not a.over(a.got_ip_at):
                a.ip_seen = True
                self._connected = True
                self._reason = 0
            if not a.over(now):
                return a
            self._attempt = None
            self._reason = a.reason
            self._connected = False
            if not (self._requested and self._active):
                return None
            if self._conf_reconnects:
                self._reconnects += 1
                if self._reconnects >= self._conf_reconnects:
                    return None
            self._attempt = _Attempt(
                self._radio, a.ended_at, a.ssid, a.key, a.bssid, self._static is not None
            )

    def _leave(self):
        # esp_wifi_disconnect() or esp_wifi_stop() with a link or an attempt in flight: the
        # driver reports STA_DISCONNECTED with WIFI_REASON_ASSOC_LEAVE.
        if self._sync(self._radio.now()) is not None:
            self._attempt = None
            self._reason = REASON_ASSOC_LEAVE
            self._connected = False

    def active(self, on=None):
        if on is None:
            return self._active
        if self._if == STA_IF and not on:
            self._leave()  # the mode loses STA: the port's handler does not reconnect
        if self._if == STA_IF and on and not self._active:
            self._reconnects = 0  # WIFI_EVENT_STA_START
        if not on:
            self.dhcp_captive_uri = None  # the DHCP server stops with the AP
        self._active = bool(on)

    # --- station ---------------------------------------------------------------------------

    def scan(self):
        """network_wlan_scan(): blocks for a full scan; [] while a connect is in progress
        (esp_wifi_scan_start() returns ESP_ERR_WIFI_STATE, which the port does not raise)."""
        self._require_sta_mode()
        radio = self._radio
        start = radio.now()
        sta = radio.sta
        attempt = sta._sync(start)
        if attempt is not None and not attempt.associated(start):
            return []
        radio.clock.sleep_ms(full_scan_ms())
        radio.scans += 1
        found = []
        for ap in radio.scenario.access_points:
            if ap.visible(start + ap.channel * channel_ms()):
                ssid = b"" if ap.hidden else ap.ssid.encode()
                # The port always reports hidden as False ("XXX hidden?").
                found.append((ssid, ap.bssid, ap.channel, ap.rssi, ap.authmode, False))
        found.sort(key=lambda r: -r[3])
        return found

    def connect(self, ssid=None, key=None, *, bssid=None):
        """network_wlan_connect(): ssid, key and bssid= only; ESP-IDF's own channel search."""
        self._require_sta_mode()
        if ssid is not None:
            ssid = ssid.encode() if isinstance(ssid, str) else bytes(ssid)
            self._sta_ssid = ssid[:32].decode()
            key = key.encode() if isinstance(key, str) else bytes(key or b"")
            self._key = key[:64].decode()
            if bssid is not None and len(bssid) != 6:
                raise ValueError
            self._bssid = None if bssid is None else bytes(bssid)
        if not self._sta_ssid:
            raise OSError("ESP_ERR_WIFI_SSID")
        self.netif_hostname = _hostname[0]
        self._reconnects = 0
        self._leave()  # a link or attempt in flight ends before the new one (tools/sim/README)
        now = self._radio.now()
        self._attempt = _Attempt(
            self._radio, now, self._sta_ssid, self._key, self._bssid, self._static is not None
        )
        self._requested = True

    def disconnect(self):
        self._requested = False
        self._leave()

    def isconnected(self):
        if self._if == AP_IF:
            return False  # no simulated clients join the access point
        self._sync(self._radio.now())
        return self._connected

    def status(self, param=None):
        """network_wlan_status()."""
        now = self._radio.now()
        if param == "rssi":
            self._require_if(STA_IF)
            attempt = self._sync(now)
            if attempt is None or not attempt.associated(now):
                raise OSError("ESP_ERR_WIFI_NOT_CONNECT")
            return attempt.ap.rssi
        if param == "stations":
            self._require_if(AP_IF)
            return []
        if param is not None:
            raise ValueError("unknown status param")
        if self._if != STA_IF:
            return None
        self._sync(now)
        reason = self._reason
        if self._connected:
            return STAT_GOT_IP
        if reason in _STICKY:
            return reason
        if reason in (STAT_WRONG_PASSWORD, REASON_CONNECTION_FAIL):
            return STAT_WRONG_PASSWORD
        if reason == REASON_ASSOC_LEAVE:
            return STAT_IDLE
        if self._requested and (
            self._conf_reconnects == 0 or self._reconnects < self._conf_reconnects
        ):
            return STAT_CONNECTING
        return STAT_IDLE if reason == 0 else reason

    # --- addresses (network_common.c) ------------------------------------------------------

    def ifconfig(self, config=None):
        """esp_ifconfig(): a tuple stops the DHCP client for good and sets the address;
        "dhcp" starts the client again (OSError if it runs)."""
        if config is None:
            if self._if == AP_IF:
                return self._ap_ip if self._active else _ZERO
            if self._static is not None:
                return self._static
            attempt = self._sync(self._radio.now())
            if attempt is None or not attempt.has_ip(self._radio.now()):
                return _ZERO
            ap = attempt.ap
            return (ap.ip, ap.netmask, ap.gateway, ap.dns)
        if isinstance(config, (tuple, list)):
            if len(config) != 4:
                raise ValueError("requested length 4 but object has length %d" % len(config))
            addr = (_ipv4(config[0]), _netmask(config[1]), _ipv4(config[2]), _ipv4(config[3]))
            if self._if == AP_IF:
                self._ap_ip = addr
            else:
                self._set_static(addr)
            return None
        if self._if != STA_IF or config != "dhcp":
            raise ValueError("invalid arguments")
        if self._dhcp_running():
            raise OSError("ESP_ERR_ESP_NETIF_DHCP_ALREADY_STARTED")
        self._start_dhcp()
        return None

    def _dhcp_running(self):
        # esp_netif_dhcpc_get_status() == ESP_NETIF_DHCP_STARTED: the client runs while the
        # link is up (esp_netif_action_connected() starts it from INIT, esp_netif_down()
        # returns it to INIT), unless a static address stopped it.
        return self._static is None and self._linked(self._radio.now())

    def _set_static(self, addr):
        self._static = addr
        now = self._radio.now()
        attempt = self._sync(now)
        if attempt is not None and not attempt.ip_seen:
            attempt.address_by(True, now)

    def _start_dhcp(self):
        # esp_netif_dhcpc_start(): the address is cleared; a lease follows if the link is up.
        self._static = None
        now = self._radio.now()
        attempt = self._sync(now)
        if attempt is not None:
            attempt.address_by(False, now)

    def ipconfig(self, *args, **kwargs):
        """esp_ipconfig(): dhcp4, addr4, gw4."""
        if args and kwargs:
            raise TypeError("can't specify pos and kw args")
        if kwargs:
            for key, value in kwargs.items():
                if key == "dhcp4" and self._if == STA_IF:
                    if value and not self._dhcp_running():
                        self._start_dhcp()
                    elif not value and self._dhcp_running():
                        self._set_static(("0.0.0.0",) * 3 + (self.ifconfig()[3],))
                elif key in ("addr4", "gw4"):
                    ip, mask, gw, dns = self.ifconfig()
                    if key == "gw4":
                        gw = _ipv4(value)
                    elif isinstance(value, str) and "/" in value:
                        ip, _, bits = value.partition("/")
                        ip, mask = _ipv4(ip), _netmask(int(bits))
                    elif isinstance(value, str):
                        ip = _ipv4(value)
                    else:
                        ip, mask = _ipv4(value[0]), _ipv4(value[1])
                    if self._if == AP_IF:
                        self._ap_ip = (ip, mask, gw, dns)
                    else:
                        self._set_static((ip, mask, gw, dns))
                else:
                    raise ValueError("unexpected key")
            return None
        if len(args) != 1:
            raise TypeError("must query one param")
        ip, netmask, gateway, _ = self.ifconfig()
        key = args[0]
        if key == "addr4":
            return (ip, netmask)
        if key == "gw4":
            return gateway
        if key == "dhcp4" and self._if == STA_IF:
            return self._dhcp_running()
        raise ValueError("unexpected key")

    # --- configuration (network_wlan_config()) ---------------------------------------------

    def config(self, *args, **kwargs):
        if args and kwargs:
            raise TypeError("either pos or kw args are allowed")
        if kwargs:
            for key, value in kwargs.items():
                self._set(key, value)
            return None
        if len(args) != 1:
            raise TypeError("can query only one param")
        return self._get(args[0])

    def _set(self, key, value):
        key = _ALIASES.get(key, key)
        if key == "mac":
            if len(value) != 6:
                raise ValueError("invalid buffer length")
            self._mac = bytes(value)
        elif key in ("ssid", "hidden", "security", "key", "max_clients"):
            self._require_if(AP_IF)
            self._ap_config[key] = value
        elif key == "channel":
            if self._if == AP_IF:
                self._ap_config["channel"] = value
            # On the station it only seeds the next scan's first channel, and connect()
            # writes a fresh config (sta.channel 0) before it connects.
        elif key == "hostname":
            hostname(value)
        elif key == "reconnects":
            self._require_if(STA_IF)
            self._conf_reconnects = 0 if value == -1 else value + 1
        elif key in self._radio_config:
            self._radio.sta._radio_config[key] = value
        else:
            raise ValueError("unknown config param")

    def _get(self, key):
        key = _ALIASES.get(key, key)
        if key == "mac":
            return self._mac
        if key == "ssid":
            return self._sta_ssid if self._if == STA_IF else self._ap_config["ssid"]
        if key in ("hidden", "security"):
            self._require_if(AP_IF)
            return self._ap_config[key]
        if key == "max_clients":
            return self._ap_config[key]
        if key == "channel":
            return self._radio.channel()
        if key == "hostname":
            self._require_if(STA_IF)
            return _hostname[0]
        if key == "reconnects":
            self._require_if(STA_IF)
            return self._conf_reconnects - 1
        if key in self._radio_config:
            return self._radio.sta._radio_config[key]
        raise ValueError("unknown config param")


# network_wlan_status(): reasons reported as themselves even while a connect is requested.
_STICKY = (
    STAT_NO_AP_FOUND,
    STAT_NO_AP_FOUND_IN_RSSI_THRESHOLD,
    STAT_NO_AP_FOUND_IN_AUTHMODE_THRESHOLD,
    STAT_NO_AP_FOUND_W_COMPATIBLE_SECURITY,
)
_ALIASES = {
    "essid": "ssid",
    "password": "key",
    "authmode": "security",
    "dhcp_hostname": "hostname",
}
