"""The simulated radio (frozen/wifimgr/sim.py) on MicroPython, on the virtual clock.

Each test runs a short MicroPython script that drives the simulated WLAN the way wifimgr drives
network.WLAN on a device and prints what it saw as JSON.
"""

import json

import pytest
from helpers.micropython import SCENARIOS

PRELUDE = """
import json
from wifimgr import sim

def ap(ssid, bssid, channel, rssi, **more):
    spec = {"ssid": ssid, "bssid": bssid, "channel": channel, "rssi": rssi,
            "password": "correct-horse"}
    spec.update(more)
    return spec

def radio(*aps):
    clock = sim.VirtualClock()
    r = sim.install(sim.Scenario({"access_points": list(aps)}, "test"), clock)
    import network
    sta = network.WLAN(network.STA_IF)
    sta.active(True)
    return r, clock, sta

def until(clock, sta, statuses, limit_ms=60000, step=10):
    # Advances the clock until status() is one of `statuses`; returns the time it took.
    start = clock.now_ms()
    while sta.status() not in statuses:
        if clock.now_ms() - start > limit_ms:
            raise AssertionError("status stuck at %d" % sta.status())
        clock.advance(step)
    return clock.now_ms() - start

def out(**values):
    print(json.dumps(values))
"""


def run(micropython, body):
    return json.loads(micropython.run(PRELUDE + body).strip().splitlines()[-1])


def test_full_scan_takes_about_two_seconds_and_lists_strongest_first(micropython):
    """Follows network_wlan.c: network_wlan_scan(): hidden networks with an empty SSID, and the
    sixth field always False."""
    r = run(
        micropython,
        """
r, clock, sta = radio(ap("Far", "aa:00:00:00:00:01", 1, -80),
                      ap("Near", "aa:00:00:00:00:02", 11, -40, security="open"),
                      ap("Hidden", "aa:00:00:00:00:03", 6, -60, hidden=True))
found = sta.scan()
out(ms=clock.now_ms(), found=[[s.decode(), c, rssi, sec, h] for s, b, c, rssi, sec, h in found],
    scans=r.scans)
""",
    )
    assert 1800 <= r["ms"] <= 2200
    assert r["found"] == [
        ["Near", 11, -40, 0, False],
        ["", 6, -60, 3, False],
        ["Far", 1, -80, 3, False],
    ]
    assert r["scans"] == 1


def test_connect_by_name_scans_to_the_channel_then_associates_then_gets_an_address(micropython):
    r = run(
        micropython,
        """
r, clock, sta = radio(ap("Home", "aa:00:00:00:00:01", 6, -50, assoc_ms=400, dhcp_ms=900,
                         ip="192.168.7.9"))
sta.connect("Home", "correct-horse")
seen = []
t_assoc = None
while not sta.isconnected():
    st = sta.status()
    if st not in seen:
        seen.append(st)
    if t_assoc is None:
        try:
            sta.status("rssi")
            t_assoc = clock.now_ms()
        except OSError:
            pass
    clock.advance(10)
out(ms=clock.now_ms(), t_assoc=t_assoc, seen=seen, status=sta.status(),
    ifconfig=list(sta.ifconfig()), rssi=sta.status("rssi"), essid=sta.config("essid"))
""",
    )
    # Follows network_wlan.c: network_wlan_connect(), a fresh wifi_sta_config_t (channel 0,
    # scan_method 0: WIFI_FAST_SCAN) and esp_wifi_connect(): ESP-IDF's fast scan walks from
    # channel 1 and ends on the first that answers, each channel walked costing the default
    # active dwell (120 ms) + 30 to switch: channel 6 after 6 x 150 ms, then 400 ms
    # association, then 900 ms DHCP.
    assert r["t_assoc"] == 900 + 400
    assert r["ms"] == 900 + 400 + 900
    assert r["seen"] == [1001]
    assert r["status"] == 1010
    assert r["ifconfig"][0] == "192.168.7.9"
    assert r["rssi"] == -50 and r["essid"] == "Home"


def test_connect_takes_ssid_key_and_bssid_only_and_searches_the_channels(micropython):
    """Follows network_wlan.c: network_wlan_connect(), whose allowed args are ssid, key and
    bssid=: a channel is refused, and with a BSSID ESP-IDF still walks the channels to it."""
    r = run(
        micropython,
        """
r, clock, sta = radio(ap("Home", "aa:00:00:00:00:01", 11, -50))
try:
    sta.connect("Home", "correct-horse", bssid=b"\\xaa\\0\\0\\0\\0\\x01", channel=11)
    refused = None
except TypeError as e:
    refused = str(e)
sta.connect("Home", "correct-horse", bssid=b"\\xaa\\0\\0\\0\\0\\x01")
out(refused=refused, ms=until(clock, sta, (1010,)))
""",
    )
    assert r["refused"] == "unexpected keyword argument 'channel'"
    assert r["ms"] == 11 * 150 + 500 + 1000


def test_wrong_password_is_reported_after_the_handshake_times_out(micropython):
    r = run(
        micropython,
        """
r, clock, sta = radio(ap("Home", "aa:00:00:00:00:01", 1, -50))
sta.connect("Home", "not-the-password")
ms = until(clock, sta, (202,))
out(ms=ms, connected=sta.isconnected(), ip=sta.ifconfig()[0])
""",
    )
    assert r["ms"] == 150 + 500 + 1200
    assert r == {"ms": r["ms"], "connected": False, "ip": "0.0.0.0"}


def test_open_network_accepts_any_key(micropython):
    r = run(
        micropython,
        """
r, clock, sta = radio(ap("Cafe", "aa:00:00:00:00:01", 1, -50, security="open", password=""))
sta.connect("Cafe")
out(ms=until(clock, sta, (1010,)))
""",
    )
    assert r["ms"] == 150 + 500 + 1000


def test_missing_network_is_not_found_after_a_full_scan(micropython):
    r = run(
        micropython,
        """
r, clock, sta = radio(ap("Home", "aa:00:00:00:00:01", 1, -50))
sta.connect("Elsewhere", "whatever-it-is")
out(ms=until(clock, sta, (201,)))
""",
    )
    assert r["ms"] == 1950


def test_hidden_network_is_found_only_by_name(micropython):
    r = run(
        micropython,
        """
r, clock, sta = radio(ap("Backroom", "aa:00:00:00:00:01", 13, -60, hidden=True))
names = [s for s, *_ in sta.scan()]
sta.connect("Backroom", "correct-horse")
out(names=[n.decode() for n in names], ms=until(clock, sta, (1010,)))
""",
    )
    assert r["names"] == [""]
    assert r["ms"] == 13 * 150 + 500 + 1000


def test_no_dhcp_means_associated_but_never_connected(micropython):
    r = run(
        micropython,
        """
r, clock, sta = radio(ap("Lab", "aa:00:00:00:00:01", 1, -50, dhcp=False))
sta.connect("Lab", "correct-horse")
clock.advance(30000)
out(status=sta.status(), connected=sta.isconnected(), rssi=sta.status("rssi"))
""",
    )
    assert r == {"status": 1001, "connected": False, "rssi": -50}


def test_dhcp_delay_is_the_scenarios(micropython):
    r = run(
        micropython,
        """
r, clock, sta = radio(ap("Slow", "aa:00:00:00:00:01", 1, -50, dhcp_ms=4000))
sta.connect("Slow", "correct-horse")
out(ms=until(clock, sta, (1010,)))
""",
    )
    assert r["ms"] == 150 + 500 + 4000


def test_vanishing_access_point_ends_the_link_after_the_beacon_timeout_and_returns(micropython):
    r = run(
        micropython,
        """
r, clock, sta = radio(ap("Flaky", "aa:00:00:00:00:01", 1, -50, vanish_at_s=10, return_at_s=40))
sta.config(reconnects=0)
sta.connect("Flaky", "correct-horse")
until(clock, sta, (1010,))
until(clock, sta, (200,))
t_lost = clock.now_ms()
absent = [s for s, *_ in sta.scan()]
clock.advance(40000 - clock.now_ms())
back = [s.decode() for s, *_ in sta.scan()]
sta.connect("Flaky", "correct-horse")
until(clock, sta, (1010,))
out(t_lost=t_lost, absent=len(absent), back=back, connected=sta.isconnected())
""",
    )
    assert r["t_lost"] == 10000 + 6000
    assert r["absent"] == 0
    assert r["back"] == ["Flaky"]
    assert r["connected"] is True


def test_away_windows_and_a_dhcp_server_back_at_the_next_discover(micropython):
    """away_s: off the air again after return_at_s. dhcp_off_s: associated while the DHCP
    server is away, the station gets its lease at the first DISCOVER after it is back plus
    dhcp_ms; ESP-IDF's client sends them 0.5, 1, 2, then every 4 s apart
    (components/lwip/port/include/lwipopts.h: DHCP_REQUEST_BACKOFF_SEQUENCE)."""
    r = run(
        micropython,
        """
r, clock, sta = radio(ap("Flaky", "aa:00:00:00:00:01", 1, -50, vanish_at_s=10, return_at_s=20,
                         away_s=[[30, 40]], dhcp_off_s=[[0, 3.6], [50, -1]]))
sta.config(reconnects=0)
sta.connect("Flaky", "correct-horse")
until(clock, sta, (1010,))
t_ip = clock.now_ms()
clock.advance(25000 - clock.now_ms())
seen_25 = len(sta.scan())
clock.advance(35000 - clock.now_ms())
seen_35 = len(sta.scan())
clock.advance(50000 - clock.now_ms())
sta.connect("Flaky", "correct-horse")
clock.advance(20000)
out(t_ip=t_ip, seen_25=seen_25, seen_35=seen_35, late=sta.status(), ip=sta.ifconfig()[0])
""",
    )
    # Associated at 650 ms: DISCOVERs at 650, 1150, 2150, 4150 (the first after 3.6 s).
    assert r["t_ip"] == 150 + 500 + 3500 + 1000
    assert (r["seen_25"], r["seen_35"]) == (1, 0)
    assert r["late"] == 1001 and r["ip"] == "0.0.0.0"  # DHCP away for good: no lease


def test_access_point_that_drops_the_link_after_n_seconds(micropython):
    r = run(
        micropython,
        """
r, clock, sta = radio(ap("Drops", "aa:00:00:00:00:01", 1, -50, drop_after_s=20))
sta.config(reconnects=0)
sta.connect("Drops", "correct-horse")
t_up = until(clock, sta, (1010,))
t_drop = until(clock, sta, (2,), step=100)
out(t_up=t_up, t_drop=t_drop, connected=sta.isconnected())
""",
    )
    # 150 ms scan + 500 ms association, the link lasts 20 s from the association.
    assert r["t_up"] + r["t_drop"] == 150 + 500 + 20000
    assert r["connected"] is False


def test_connect_without_bssid_takes_the_first_channel_that_answers(micropython):
    """Like ESP-IDF's fast scan: the weak BSSID on channel 1 wins over the strong one on 11."""
    r = run(
        micropython,
        """
r, clock, sta = radio(ap("Office", "aa:00:00:00:00:01", 1, -81),
                      ap("Office", "aa:00:00:00:00:02", 11, -49))
sta.connect("Office", "correct-horse")
until(clock, sta, (1010,))
first = sta.status("rssi")
sta.connect("Office", "correct-horse", bssid=b"\\xaa\\0\\0\\0\\0\\x02")
until(clock, sta, (1010,))
out(first=first, pinned=sta.status("rssi"), channel=sta.config("channel"))
""",
    )
    assert r == {"first": -81, "pinned": -49, "channel": 11}


def test_access_point_interface_and_channel_follow_the_station(micropython):
    r = run(
        micropython,
        """
r, clock, sta = radio(ap("Home", "aa:00:00:00:00:01", 9, -50))
import network
apif = network.WLAN(network.AP_IF)
apif.active(True)
apif.config(essid="wifimgr-1a2b", password="letmein-please", channel=1)
before = apif.config("channel")
sta.connect("Home", "correct-horse")
until(clock, sta, (1010,))
out(essid=apif.config("essid"), before=before, after=apif.config("channel"),
    ip=apif.ifconfig()[0], same=network.WLAN(network.AP_IF) is apif)
""",
    )
    assert r == {
        "essid": "wifimgr-1a2b",
        "before": 1,
        "after": 9,
        "ip": "192.168.4.1",
        "same": True,
    }


def test_disconnect_and_inactive_interface(micropython):
    r = run(
        micropython,
        """
r, clock, sta = radio(ap("Home", "aa:00:00:00:00:01", 1, -50))
sta.connect("Home", "correct-horse")
until(clock, sta, (1010,))
sta.disconnect()
after_disconnect = sta.status()
sta.active(False)
try:
    sta.scan()
    error = None
except OSError as e:
    error = str(e)
out(after_disconnect=after_disconnect, error=error)
""",
    )
    assert r == {"after_disconnect": 1000, "error": "STA must be active"}


def test_disconnect_reason_outlives_the_next_connect_until_got_ip(micropython):
    """Follows network_wlan.c: network_wlan_status() reports wifi_sta_disconn_reason, which
    only IP_EVENT_STA_GOT_IP clears (network_wlan_ip_event_handler()) and connect() leaves as
    it is (network_wlan_connect()): a fresh attempt after a failure shows the old failure."""
    r = run(
        micropython,
        """
r, clock, sta = radio(ap("Home", "aa:00:00:00:00:01", 1, -50))
sta.config(reconnects=0)
sta.connect("Home", "not-the-password")
until(clock, sta, (202,))
sta.connect("Home", "correct-horse")
at_connect = sta.status()
ms = until(clock, sta, (1010,))
sta.disconnect()
out(at_connect=at_connect, ms=ms, after_disconnect=sta.status())
""",
    )
    assert r == {"at_connect": 202, "ms": 150 + 500 + 1000, "after_disconnect": 1000}


def test_driver_reconnects_for_ever_unless_reconnects_says_otherwise(micropython):
    """Follows network_wlan.c: network_wlan_wifi_event_handler() calls esp_wifi_connect() on
    every STA_DISCONNECTED while a connect is requested, for ever by default
    (conf_wifi_sta_reconnects 0), `reconnects` times after config(reconnects=n); while it does,
    network_wlan_status() says STAT_CONNECTING for reasons it does not name."""
    r = run(
        micropython,
        """
def drops(reconnects):
    r, clock, sta = radio(ap("Drops", "aa:00:00:00:00:01", 1, -50, drop_after_s=5))
    if reconnects is not None:
        sta.config(reconnects=reconnects)
    sta.connect("Drops", "correct-horse")
    seen = []
    while clock.now_ms() < 25000:
        st = sta.status()
        if not seen or seen[-1] != st:
            seen.append(st)
        clock.advance(50)
    return [sta.config("reconnects"), seen]
out(default=drops(None), none=drops(0), one=drops(1))
""",
    )
    # Associated 650 ms after each connect, dropped (reason 2) 5 s later: 25 s hold five links.
    assert r["default"] == [-1, [1001, 1010] * 5]
    assert r["none"] == [0, [1001, 1010, 2]]
    assert r["one"] == [1, [1001, 1010, 1001, 1010, 2]]


def test_scan_while_connecting_finds_nothing_at_once(micropython):
    """Follows network_wlan.c: network_wlan_scan(), which returns an empty list when
    esp_wifi_scan_start() fails, as it does with ESP_ERR_WIFI_STATE while the station is
    connecting (esp_wifi.h)."""
    r = run(
        micropython,
        """
r, clock, sta = radio(ap("Home", "aa:00:00:00:00:01", 6, -50))
sta.connect("Home", "correct-horse")
clock.advance(300)
during = sta.scan()
t = clock.now_ms()
until(clock, sta, (1010,))
out(during=during, t=t, after=len(sta.scan()))
""",
    )
    assert r == {"during": [], "t": 300, "after": 1}


def test_static_address_stops_dhcp_until_it_is_started_again(micropython):
    """Follows network_common.c: esp_ifconfig() with a tuple stops the DHCP client
    (esp_netif_dhcpc_stop()) for good, so the next network joined keeps that address and
    gets it at association (esp_netif_handlers.c: esp_netif_action_connected()); "dhcp"
    starts it again and fails while it runs; esp_ipconfig(dhcp4=...) starts or stops it only
    when it is not already so."""
    r = run(
        micropython,
        """
r, clock, sta = radio(ap("Home", "aa:00:00:00:00:01", 1, -50, ip="192.168.1.50"),
                      ap("Work", "aa:00:00:00:00:02", 1, -60, ip="10.0.0.50"))
before = [list(sta.ifconfig()), sta.ipconfig("dhcp4")]
sta.connect("Home", "correct-horse")
until(clock, sta, (1010,))
leased = [sta.ifconfig()[0], sta.ipconfig("dhcp4")]
try:
    sta.ifconfig("dhcp")
    twice = None
except OSError as e:
    twice = str(e)
sta.ifconfig(("192.168.1.77", 24, "192.168.1.1", "1.1.1.1"))
static = [list(sta.ifconfig()), sta.ipconfig("dhcp4"), sta.status()]
sta.disconnect()
sta.connect("Work", "correct-horse", bssid=b"\\xaa\\0\\0\\0\\0\\x02")
t_work = until(clock, sta, (1010,))
work = [sta.ifconfig()[0], sta.ipconfig("dhcp4")]
sta.ipconfig(dhcp4=True)
cleared = sta.ifconfig()[0]
t_lease = until(clock, sta, (1010,)) if sta.ifconfig()[0] == "0.0.0.0" else None
clock.advance(1000)
out(before=before, leased=leased, twice=twice, static=static, t_work=t_work, work=work,
    cleared=cleared, lease=sta.ifconfig()[0], dhcp4=sta.ipconfig("dhcp4"))
""",
    )
    assert r["before"] == [["0.0.0.0"] * 4, False]
    assert r["leased"] == ["192.168.1.50", True]
    assert r["twice"] == "ESP_ERR_ESP_NETIF_DHCP_ALREADY_STARTED"
    assert r["static"] == [
        ["192.168.1.77", "255.255.255.0", "192.168.1.1", "1.1.1.1"],
        False,
        1010,
    ]
    # Work still gets Home's static address, at association (no DHCP wait).
    assert r["work"] == ["192.168.1.77", False] and r["t_work"] == 150 + 500
    assert r["cleared"] == "0.0.0.0"
    assert r["lease"] == "10.0.0.50" and r["dhcp4"] is True


def test_hostname_reaches_dhcp_only_through_connect(micropython):
    """Follows network_wlan.c: network_wlan_connect() is where esp_netif_set_hostname() gives
    the STA netif network.hostname() (extmod/modnetwork.c: mod_network_hostname(), default
    "mpy-esp32", at most 32 bytes)."""
    r = run(
        micropython,
        """
r, clock, sta = radio(ap("Home", "aa:00:00:00:00:01", 1, -50))
import network
default = network.hostname()
network.hostname("kitchen")
sta.connect("Home", "correct-horse")
network.hostname("garage")
told = sta.netif_hostname
try:
    network.hostname("x" * 33)
    long = None
except ValueError:
    long = "ValueError"
out(default=default, told=told, config=sta.config("hostname"), long=long)
""",
    )
    assert r == {
        "default": "mpy-esp32",
        "told": "kitchen",
        "config": "garage",
        "long": "ValueError",
    }


def test_config_keys_and_interfaces_as_the_port(micropython):
    """Follows network_wlan.c: network_wlan_config() (AP-only and STA-only keys, unknown ones,
    `reconnects` read back as set, no password read-back) and network_wlan_status()
    (None on the AP, `stations` on the AP only, `rssi` on the STA only)."""
    r = run(
        micropython,
        """
r, clock, sta = radio(ap("Home", "aa:00:00:00:00:01", 1, -50))
import network
apif = network.WLAN(network.AP_IF)
def err(f):
    try:
        return ["ok", f()]
    except Exception as e:
        return [type(e).__name__, str(e)]
sta.connect("Home", "correct-horse")
out(sta_essid=err(lambda: sta.config(essid="x")),
    ap_reconnects=err(lambda: apif.config(reconnects=1)),
    unknown=err(lambda: sta.config("colour")),
    password=err(lambda: apif.config("password")),
    reconnects=err(lambda: (sta.config(reconnects=3), sta.config("reconnects"))[1]),
    forever=err(lambda: (sta.config(reconnects=-1), sta.config("reconnects"))[1]),
    ssid=err(lambda: sta.config("ssid")),
    both=err(lambda: sta.config("mac", pm=0)),
    ap_status=err(lambda: apif.status()),
    sta_stations=err(lambda: sta.status("stations")),
    ap_rssi=err(lambda: apif.status("rssi")))
""",
    )
    assert r == {
        "sta_essid": ["OSError", "AP required"],
        "ap_reconnects": ["OSError", "STA required"],
        "unknown": ["ValueError", "unknown config param"],
        "password": ["ValueError", "unknown config param"],
        "reconnects": ["ok", 3],
        "forever": ["ok", -1],
        "ssid": ["ok", "Home"],
        "both": ["TypeError", "either pos or kw args are allowed"],
        "ap_status": ["ok", None],
        "sta_stations": ["OSError", "AP required"],
        "ap_rssi": ["OSError", "STA required"],
    }


@pytest.mark.parametrize(
    "doc, message",
    [
        ('{"access_points": "x"}', "access_points: missing or not a list"),
        ('{"access_points": [], "radio": 1}', "radio: unknown key"),
        ('{"access_points": [{"ssid": "A"}]}', "access_points[0].bssid: missing"),
        (
            '{"access_points": [{"ssid": "A", "bssid": "zz", "channel": 1, "rssi": -5}]}',
            "access_points[0].bssid: not a MAC address",
        ),
        (
            '{"access_points": [{"ssid": "A", "bssid": "aa:bb:cc:dd:ee:ff", "channel": 14,'
            ' "rssi": -5, "password": "12345678"}]}',
            "access_points[0].channel: must be 1 to 13, not 14",
        ),
        (
            '{"access_points": [{"ssid": "A", "bssid": "aa:bb:cc:dd:ee:ff", "channel": 1,'
            ' "rssi": -5, "password": "12345678", "explodes_at_s": 3}]}',
            "access_points[0].explodes_at_s: unknown key",
        ),
        (
            '{"access_points": [{"ssid": "A", "bssid": "aa:bb:cc:dd:ee:ff", "channel": 1,'
            ' "rssi": "-5", "password": "12345678"}]}',
            "access_points[0].rssi: wrong type",
        ),
        (
            '{"access_points": [{"ssid": "A", "bssid": "aa:bb:cc:dd:ee:ff", "channel": 1,'
            ' "rssi": -5, "security": "wpa9"}]}',
            "access_points[0].security: unknown 'wpa9'",
        ),
        (
            '{"access_points": [{"ssid": "A", "bssid": "aa:bb:cc:dd:ee:ff", "channel": 1,'
            ' "rssi": -5, "password": "short"}]}',
            "access_points[0].password: a secured network needs 8 to 63 characters",
        ),
        (
            '{"access_points": [{"ssid": "A", "bssid": "aa:bb:cc:dd:ee:ff", "channel": 1,'
            ' "rssi": -5, "password": "12345678", "return_at_s": 5}]}',
            "access_points[0].return_at_s: needs an earlier vanish_at_s",
        ),
        (
            '{"access_points": [{"ssid": "A", "bssid": "aa:bb:cc:dd:ee:ff", "channel": 1,'
            ' "rssi": -5, "password": "12345678", "away_s": [[10, 20], [15, 30]]}]}',
            "access_points[0].away_s[1]: must start after the one before it",
        ),
        (
            '{"access_points": [{"ssid": "A", "bssid": "aa:bb:cc:dd:ee:ff", "channel": 1,'
            ' "rssi": -5, "password": "12345678", "dhcp_off_s": [[10, 5]]}]}',
            "access_points[0].dhcp_off_s[0]: must end after it starts, or never (-1)",
        ),
        (
            '{"access_points": [{"ssid": "A", "bssid": "aa:bb:cc:dd:ee:ff", "channel": 1,'
            ' "rssi": -5, "password": "12345678", "vanish_at_s": 1, "away_s": [[5, 6]]}]}',
            "access_points[0].away_s: needs a return_at_s",
        ),
        ("{not json", "not valid JSON"),
        ("[]", "top level: must be an object"),
    ],
)
def test_bad_scenario_is_refused_naming_the_file_and_the_key(micropython, tmp_path, doc, message):
    path = tmp_path / "broken.json"
    path.write_text(doc)
    out = micropython.run(
        """
from wifimgr import sim
try:
    sim.load_scenario(%r)
except sim.ScenarioError as e:
    print(e)
"""
        % str(path)
    )
    assert out.startswith(str(path) + ": ")
    assert message in out


def test_unreadable_scenario_names_the_file(micropython, tmp_path):
    out = micropython.run(
        """
from wifimgr import sim
try:
    sim.load_scenario(%r)
except sim.ScenarioError as e:
    print(e)
"""
        % str(tmp_path / "missing.json")
    )
    assert str(tmp_path / "missing.json") + ": cannot read" in out


@pytest.mark.parametrize("name", sorted(p.stem for p in SCENARIOS.glob("*.json")))
def test_shipped_scenarios_load(micropython, name):
    out = micropython.run(
        "from wifimgr import sim\ns = sim.load_scenario(%r)\nprint(len(s.access_points))"
        % str(SCENARIOS / (name + ".json"))
    )
    assert int(out) >= 0


def test_thirty_second_scenario_runs_in_no_real_time(micropython):
    """The hostile scenario's events over 30 virtual minutes, polled every 100 ms."""
    r = run(
        micropython,
        """
import time
r = sim.install(sim.load_scenario(%r), sim.VirtualClock())
import network
sta = network.WLAN(network.STA_IF)
sta.active(True)
t0 = time.ticks_ms()
sta.connect("Flaky-Repeater", "repeat-after-me")
changes = []
last = None
for _ in range(18000):
    r.clock.advance(100)
    st = sta.status()
    if st != last:
        changes.append([r.clock.now_ms(), st])
        last = st
out(changes=changes, real_ms=time.ticks_diff(time.ticks_ms(), t0))
"""
        % str(SCENARIOS / "hostile.json"),
    )
    # The driver's own reconnect (on by default) looks for the repeater while it is away
    # (STAT_CONNECTING, then STAT_NO_AP_FOUND) and rejoins it when it is back.
    assert [st for _, st in r["changes"]] == [1001, 1010, 1001, 201, 1010]
    assert r["changes"][2][0] == 30000 + 6000
