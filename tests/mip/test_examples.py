"""examples/ (issue 14): the MQTT sensor against a real broker (Debian's mosquitto on
127.0.0.1) and the HTTP client against a local server, each on the unix port with the
simulated radio, through WiFi outages: the access point ends every association after 4 s
(tools/sim/README.md: drop_after_s), and is off the air from 16 s to 24 s (vanish_at_s,
return_at_s)."""

import json
import shutil
import socket
import subprocess
import threading
import time
from pathlib import Path

import pytest
from helpers.micropython import ROOT
from helpers.mip import copy_lib, has_module, micropython_lib, serve
from helpers.portal import free_port

EXAMPLES = ROOT / "examples"
DEVICE = Path(__file__).parents[1] / "helpers" / "example_device.py"
MOSQUITTO = "/usr/sbin/mosquitto"
OUTAGES = 4  # sessions after the first one: three drops, then the access point's absence
BACK_WITHIN_MS = 3000  # from the WiFi's "connected" to the client's first success

SCENARIO = {
    "description": "The home network: its access point drops every association after 4 s, "
    "and is off the air from 16 s to 24 s.",
    "known_networks": [{"ssid": "Meadowbrook", "password": "tulip-garden-42"}],
    "access_points": [
        {"ssid": "Meadowbrook", "bssid": "9c:53:22:41:7a:10", "channel": 6, "rssi": -54,
         "password": "tulip-garden-42", "assoc_ms": 300, "dhcp_ms": 300, "drop_after_s": 4,
         "vanish_at_s": 16, "return_at_s": 24}
    ],
}  # fmt: skip


class Lines:
    """A process's stdout lines as they come, each with its arrival time."""

    def __init__(self, proc):
        self.lines = []
        self.proc = proc
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))

    def wait(self, predicate, timeout):
        deadline = time.monotonic() + timeout
        while not predicate(self.lines):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                return False
            time.sleep(0.05)
        return True


def run_example(micropython, tmp_path, example, settings, libs, done):
    lib = tmp_path / "lib"
    names = [n for n in libs if not has_module(micropython.executable, n)]
    if names:
        copy_lib(micropython_lib(), names, lib)
    scenario = tmp_path / "scenario.json"
    scenario.write_text(json.dumps(SCENARIO))
    state = tmp_path / "device"
    state.mkdir()
    # Rejoin within 2 s of the access point's return (default rescan_ms: 15 s).
    settings = {"link": {"rescan_ms": 2000}, **settings}
    proc = micropython.popen(
        DEVICE,
        args=(scenario, state, EXAMPLES / example, json.dumps(settings)),
        path=[lib],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    out = Lines(proc)
    try:
        finished = out.wait(done, 60)
    finally:
        proc.terminate()
        proc.wait(timeout=5)
    assert finished, "\n".join(out.lines)
    return out.lines


def sessions(lines, prefix):
    """The example's lines between each "wifi up" and the following "wifi down", and what
    came while the WiFi was down (which must be nothing of the example's)."""
    up, down, current = [], [], None
    for line in lines:
        if line == "device: wifi up":
            current = []
            up.append(current)
        elif line.startswith("device: wifi down"):
            current = None
        elif line.startswith(prefix):
            (current if current is not None else down).append(line)
    return up, down


@pytest.fixture
def broker(tmp_path):
    if not shutil.which("mosquitto_sub") or not Path(MOSQUITTO).exists():
        pytest.skip("no mosquitto: run `make test` as root (tools/setup/debian-packages.txt)")
    port = free_port()
    conf = tmp_path / "mosquitto.conf"
    conf.write_text("listener %d 127.0.0.1\nallow_anonymous true\npersistence false\n" % port)
    proc = subprocess.Popen([MOSQUITTO, "-c", str(conf)], stderr=subprocess.DEVNULL)
    sub = None
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert time.monotonic() < deadline, "mosquitto did not listen on %d" % port
                time.sleep(0.05)
        # A subscriber at QoS 1, ready once a probe published through the broker reaches it.
        sub = subprocess.Popen(
            ["mosquitto_sub", "-h", "127.0.0.1", "-p", str(port), "-q", "1", "-v"]
            + ["-t", "sensors/#", "-t", "probe"],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        got = Lines(sub)
        deadline = time.monotonic() + 10
        while not got.wait(lambda lines: "probe ready" in lines, 0.3):
            assert time.monotonic() < deadline, "mosquitto did not answer on %d" % port
            probe = ["-h", "127.0.0.1", "-p", str(port), "-t", "probe", "-m", "ready"]
            subprocess.run(["mosquitto_pub", *probe], stderr=subprocess.DEVNULL)
        yield port, got
    finally:
        for p in (sub, proc):
            if p is not None:
                p.terminate()
                p.wait(timeout=5)


def test_mqtt_sensor_loses_and_repeats_nothing_through_wifi_outages(micropython, tmp_path, broker):
    port, received = broker
    settings = {"mqtt_broker": "127.0.0.1", "mqtt_port": port, "mqtt_every_s": 1,
                "mqtt_topic": "sensors/kitchen"}  # fmt: skip

    def done(lines):
        return sum(line.startswith("mqtt: connected") for line in lines) > OUTAGES

    lines = run_example(micropython, tmp_path, "mqtt_sensor.py", settings, ["umqtt.simple"], done)
    time.sleep(0.5)  # the last acknowledged message on its way to the subscriber
    up, down = sessions(lines, "mqtt: ")
    assert down == [], lines  # nothing published, no session tried, while the WiFi was down
    published = []
    for session in up[: OUTAGES + 1]:
        assert session and session[0].startswith("mqtt: connected to 127.0.0.1:%d" % port)
        assert int(session[0].split(", ")[1].split()[0]) < BACK_WITHIN_MS, session[0]
        published += [json.loads(x.split(" ", 2)[2])["seq"] for x in session[1:]]
    every = [json.loads(x.split(" ", 2)[2])["seq"] for x in lines if x.startswith("mqtt: pub")]
    assert every == list(range(1, len(every) + 1)), lines  # each reading once, in order
    got = [json.loads(x.split(" ", 1)[1]) for x in received.lines if x.startswith("sensors/")]
    seqs = [m["seq"] for m in got]
    assert len(seqs) == len(set(seqs)), seqs  # none duplicated
    # None lost: everything acknowledged arrived (and at most the one the device was stopped
    # in the middle of printing, beyond it).
    assert set(every) <= set(seqs) and set(seqs) - set(every) <= {len(every) + 1}, (every, seqs)
    assert len(published) > OUTAGES and all("readings" in m["data"] for m in got)


def test_http_client_polls_again_after_every_wifi_outage(micropython, tmp_path):
    site = tmp_path / "site"
    site.mkdir()
    (site / "weather.json").write_text('{"temperature_c": 21.5}')

    def done(lines):
        return sum("after WiFi" in line for line in lines) > OUTAGES

    with serve(site) as (base, asked):
        settings = {"http_url": base + "/weather.json", "http_every_s": 1}
        lines = run_example(micropython, tmp_path, "http_client.py", settings, ["requests"], done)
    up, down = sessions(lines, "http: ")
    assert down == [], lines  # no request while the WiFi was down
    for session in up[: OUTAGES + 1]:
        assert session and session[0].startswith("http: GET %s/weather.json: 200" % base)
        assert int(session[0].split(" ms after WiFi")[0].split()[-1]) < BACK_WITHIN_MS, session
    gets = [x for x in lines if x.startswith("http: GET")]
    assert all(": 200 in " in x for x in gets), gets
    # Every request the server saw is one the client reported (one more if it was stopped in
    # the middle of one).
    assert len(gets) <= len(asked) <= len(gets) + 1, (gets, asked)
