# A simulated radio: the part of MicroPython's `network` module that wifimgr uses, driven by a
# scenario file (see tools/sim/README.md). Installed as the `network` module by the simulator and
# by tests; the package itself never imports this file on a device.
#
# The state of every interface is computed from the clock when it is asked for, so the same code
# runs on the real clock (make sim) and on a virtual one that tests advance by hand.

import json
import time

from micropython import const

STA_IF = const(0)
AP_IF = const(1)

# Values of WLAN.status() as MicroPython's esp32 port reports them: the ESP-IDF disconnect reason
# after a failure, or one of the progress values.
STAT_IDLE = const(1000)
STAT_CONNECTING = const(1001)
STAT_GOT_IP = const(1010)
STAT_BEACON_TIMEOUT = const(200)
STAT_NO_AP_FOUND = const(201)
STAT_WRONG_PASSWORD = const(202)
STAT_ASSOC_FAIL = const(203)
STAT_HANDSHAKE_TIMEOUT = const(204)
REASON_AUTH_EXPIRE = const(2)  # the access point ended the association

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
PROBE_MS = const(30)  # directed probe on a known channel for a known BSSID
HANDSHAKE_FAIL_MS = const(1200)  # 4-way handshake timeout with a wrong password
BEACON_TIMEOUT_MS = const(6000)  # beacons missed before the station declares the link lost
ASSOC_MS = const(500)
DHCP_MS = const(1000)


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
)
_TOP_KEYS = ("description", "access_points", "known_networks", "device")


def _fail(source, where, problem):
    raise ScenarioError("%s: %s: %s" % (source, where, problem))


def _parse_bssid(text, source, where):
    parts = text.split(":")
    try:
        if len(parts) != 6:
            raise ValueError
        return bytes(int(p, 16) for p in parts)
    except ValueError:
        _fail(source, where, "not a MAC address like aa:bb:cc:dd:ee:ff: %r" % text)


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

    def visible(self, t_ms):
        if self.vanish_at_s < 0 or t_ms < self.vanish_at_s * 1000:
            return True
        return 0 <= self.return_at_s and t_ms >= self.return_at_s * 1000


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
    # One call of connect(): where it stands follows from the clock alone.
    def __init__(self, radio, start, ssid, key, bssid, channel):
        self.start = start
        self.ap = None
        self.ended_at = -1  # link lost, or the attempt failed, at this time
        self.reason = STAT_IDLE
        matches = [
            ap
            for ap in radio.scenario.access_points
            if ap.ssid == ssid and (bssid is None or ap.bssid == bssid)
        ]
        if channel is not None:
            # Directed probe on one channel, as ESP-IDF does with bssid and channel set.
            found = [ap for ap in matches if ap.channel == channel]
            search_end = start + PROBE_MS
        else:
            # ESP-IDF's fast scan walks the channels and stops at the first match.
            found = []
            search_end = start + full_scan_ms()
            for ch in range(1, CHANNELS + 1):
                t = start + ch * channel_ms()
                found = [ap for ap in matches if ap.channel == ch and ap.visible(t)]
                if found:
                    search_end = t
                    break
        found = [ap for ap in found if ap.visible(search_end)]
        if not found:
            self._end(search_end, STAT_NO_AP_FOUND)
            return
        ap = found[0]
        for other in found:
            if other.rssi > ap.rssi:
                ap = other
        self.ap = ap
        self.associated_at = search_end + ap.assoc_ms
        if ap.authmode != AUTH_OPEN and key != ap.password:
            self.associated_at = -1
            self._end(search_end + ap.assoc_ms + HANDSHAKE_FAIL_MS, STAT_WRONG_PASSWORD)
            return
        self.got_ip_at = self.associated_at + ap.dhcp_ms if ap.dhcp else -1
        # The first thing that ends the link after it is up: the AP vanishing or dropping us.
        if ap.vanish_at_s >= 0 and ap.vanish_at_s * 1000 >= self.associated_at:
            self._end(ap.vanish_at_s * 1000 + BEACON_TIMEOUT_MS, STAT_BEACON_TIMEOUT)
        if ap.drop_after_s >= 0:
            self._end(self.associated_at + int(ap.drop_after_s * 1000), REASON_AUTH_EXPIRE)

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
            a = object.__new__(_Attempt)
            a.start = None
            a.ap = self.scenario.access_points[index] if index >= 0 else None
            a.associated_at, a.got_ip_at, a.ended_at = associated_at, got_ip_at, ended_at
            a.reason = _ENDS.get(end, STAT_IDLE)
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
    if name is None:
        return _hostname[0]
    if not isinstance(name, str) or not 1 <= len(name) <= 32:
        raise ValueError("hostname must be 1 to 32 characters")
    _hostname[0] = name


_hostname = ["wifimgr"]


class WLAN:
    # The radio is optional so that `network.WLAN(network.STA_IF)` works once install() ran.
    SEC_OPEN = 0
    SEC_WEP = 1
    SEC_WPA = 2
    SEC_WPA2 = 3
    SEC_WPA_WPA2 = 4
    SEC_WPA3 = 6
    SEC_WPA2_WPA3 = 7
    IF_STA = STA_IF
    IF_AP = AP_IF

    def __new__(cls, interface=STA_IF, radio=None):
        if radio is None:
            if _radio is None:
                raise OSError("simulated radio not installed: call wifimgr.sim.install()")
            return _radio.sta if interface == STA_IF else _radio.ap
        return object.__new__(cls)

    def __init__(self, interface=STA_IF, radio=None):
        if radio is None:
            return  # an existing interface, returned by __new__
        if interface not in (STA_IF, AP_IF):
            raise ValueError("interface must be STA_IF or AP_IF")
        self._if = interface
        self._radio = radio
        self._active = False
        self._attempt = None
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
        self._ap_ip = ("192.168.4.1", "255.255.255.0", "192.168.4.1", "192.168.4.1")

    def _require_active(self):
        if not self._active:
            raise OSError("WLAN interface is not active")

    def active(self, on=None):
        if on is None:
            return self._active
        self._active = bool(on)
        if not on:
            self._attempt = None

    # --- station ---------------------------------------------------------------------------

    def scan(self):
        """Blocks for a full scan, as WLAN.scan() does on an ESP32."""
        self._require_sta()
        radio = self._radio
        start = radio.now()
        radio.clock.sleep_ms(full_scan_ms())
        radio.scans += 1
        found = []
        for ap in radio.scenario.access_points:
            if ap.visible(start + ap.channel * channel_ms()):
                ssid = b"" if ap.hidden else ap.ssid.encode()
                found.append((ssid, ap.bssid, ap.channel, ap.rssi, ap.authmode, ap.hidden))
        found.sort(key=lambda r: -r[3])
        return found

    def _require_sta(self):
        if self._if != STA_IF:
            raise OSError("operation needs the station interface")
        self._require_active()

    def connect(self, ssid=None, key=None, *, bssid=None, channel=None):
        # `channel` is not in MicroPython's signature: it is how the native radio's fast
        # reconnect (ESP-IDF's sta.channel) is reached in the simulation.
        self._require_sta()
        if isinstance(ssid, bytes):
            ssid = ssid.decode()
        if not isinstance(ssid, str) or not 1 <= len(ssid.encode()) <= 32:
            raise ValueError("ssid must be 1 to 32 bytes")
        if bssid is not None and len(bssid) != 6:
            raise ValueError("bssid must be 6 bytes")
        if channel is not None and not 1 <= channel <= CHANNELS:
            raise ValueError("channel must be 1 to %d" % CHANNELS)
        if key is None:
            key = ""
        self._attempt = _Attempt(self._radio, self._radio.now(), ssid, key, bssid, channel)

    def disconnect(self):
        self._require_sta()
        self._attempt = None

    def isconnected(self):
        if self._if == AP_IF:
            return False  # no simulated clients join the access point
        attempt = self._attempt
        return self._active and attempt is not None and attempt.has_ip(self._radio.now())

    def status(self, param=None):
        now = self._radio.now()
        attempt = self._attempt
        if param == "rssi":
            if self._if != STA_IF or attempt is None or not attempt.associated(now):
                raise OSError("not connected")
            return attempt.ap.rssi
        if param == "stations":
            return []
        if param is not None:
            raise ValueError("unknown status parameter %r" % param)
        if not self._active or attempt is None:
            return STAT_IDLE
        if attempt.over(now):
            return attempt.reason
        return STAT_GOT_IP if attempt.has_ip(now) else STAT_CONNECTING

    def ifconfig(self, config=None):
        if config is not None:
            raise OSError("static addresses are not simulated")
        if self._if == AP_IF:
            return self._ap_ip if self._active else ("0.0.0.0",) * 4
        if not self.isconnected():
            return ("0.0.0.0",) * 4
        ap = self._attempt.ap
        return (ap.ip, ap.netmask, ap.gateway, ap.dns)

    def ipconfig(self, key):
        ip, netmask, gateway, _ = self.ifconfig()
        if key == "addr4":
            return (ip, netmask)
        if key == "gw4":
            return gateway
        if key == "dhcp4":
            return self._if == STA_IF
        raise ValueError("unknown ipconfig parameter %r" % key)

    def config(self, *args, **kwargs):
        if args and kwargs:
            raise TypeError("either get one parameter or set some, not both")
        if kwargs:
            if self._if != AP_IF:
                raise OSError("only the access point is configured in the simulation")
            for key, value in kwargs.items():
                key = "ssid" if key == "essid" else "key" if key == "password" else key
                key = "security" if key == "authmode" else key
                if key not in self._ap_config:
                    raise ValueError("unknown config parameter %r" % key)
                self._ap_config[key] = value
            return None
        if len(args) != 1:
            raise TypeError("config() takes one parameter name")
        key = args[0]
        if key == "mac":
            return self._mac
        if self._if == STA_IF:
            attempt = self._attempt
            now = self._radio.now()
            linked = attempt is not None and attempt.associated(now)
            if key in ("ssid", "essid"):
                return attempt.ap.ssid if linked else ""
            if key == "channel":
                return attempt.ap.channel if linked else 1
            if key == "hostname":
                return _hostname[0]
            raise ValueError("unknown config parameter %r" % key)
        key = "ssid" if key == "essid" else "key" if key == "password" else key
        key = "security" if key == "authmode" else key
        if key == "key":
            raise ValueError("the access point password cannot be read back")
        if key == "channel":
            # The access point follows the station's channel while the station is linked.
            sta = self._radio.sta
            if sta._attempt is not None and sta._attempt.associated(self._radio.now()):
                return sta._attempt.ap.channel
        if key not in self._ap_config:
            raise ValueError("unknown config parameter %r" % key)
        return self._ap_config[key]
