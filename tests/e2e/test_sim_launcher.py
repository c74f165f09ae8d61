"""`make sim` as a user runs it: ready on both ports, Ctrl-C stops everything, bad input named."""

import hashlib
import os
import queue
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

from helpers.micropython import MICROPYTHON, ROOT, SCENARIOS


def free_port(kind=socket.SOCK_STREAM):
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def processes_mentioning(text):
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            except OSError:
                continue
            if text in cmdline:
                found.append(int(entry.name))
    return found


def launch(tmp_path, scenario, http_port, dns_port):
    env = {
        **os.environ,
        "WIFIMGR_MICROPYTHON": MICROPYTHON,
        "WIFIMGR_HTTP_PORT": str(http_port),
        "WIFIMGR_DNS_PORT": str(dns_port),
    }
    return subprocess.Popen(
        [
            sys.executable,
            str(ROOT / "tools/sim/launch.py"),
            "--scenario",
            str(scenario),
            "--state",
            str(tmp_path / "device"),
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def test_sim_serves_both_ports_and_ctrl_c_stops_it_cleanly(tmp_path):
    http_port, dns_port = free_port(), free_port(socket.SOCK_DGRAM)
    sim = launch(tmp_path, SCENARIOS / "first-boot.json", http_port, dns_port)
    lines = []
    deadline = time.monotonic() + 30
    try:
        while time.monotonic() < deadline:
            line = sim.stdout.readline()
            if not line:
                break
            lines.append(line)
            if "Ctrl-C stops it" in line:
                break
        output = "".join(lines)
        assert "http://127.0.0.1:%d/" % http_port in output, output
        assert "127.0.0.1:%d" % dns_port in output, output
        ready_s = float(output.split("ready in ")[1].split(" s")[0])
        assert ready_s < 20
        assert processes_mentioning(str(tmp_path / "device")), "no device process running"
    finally:
        sim.send_signal(signal.SIGINT)
        rest, _ = sim.communicate(timeout=10)
    assert sim.returncode == 0, rest
    assert "sim: stopped" in rest
    assert "Traceback" not in "".join(lines) + rest
    assert processes_mentioning(str(tmp_path / "device")) == []


def test_sim_refuses_a_broken_scenario_naming_file_and_key(tmp_path):
    broken = tmp_path / "broken.json"
    broken.write_text('{"access_points": [{"ssid": "A", "bssid": "aa:bb:cc:dd:ee:ff"}]}')
    sim = launch(tmp_path, broken, free_port(), free_port(socket.SOCK_DGRAM))
    output, _ = sim.communicate(timeout=30)
    assert sim.returncode != 0
    assert "%s: access_points[0].channel: missing" % broken in output
    assert "Traceback" not in output


def test_sim_refuses_a_missing_scenario_file(tmp_path):
    sim = launch(tmp_path, tmp_path / "nowhere.json", free_port(), free_port(socket.SOCK_DGRAM))
    output, _ = sim.communicate(timeout=30)
    assert sim.returncode != 0
    assert "no scenario file %s" % (tmp_path / "nowhere.json") in output


def test_sim_refuses_a_port_in_use_naming_it(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        sim = launch(tmp_path, SCENARIOS / "home.json", port, free_port(socket.SOCK_DGRAM))
        output, _ = sim.communicate(timeout=30)
    assert sim.returncode != 0
    assert "127.0.0.1:%d is in use" % port in output and "WIFIMGR_HTTP_PORT" in output
    assert "ready" not in output


def time_wait_port():
    """A port whose only socket is a closed connection in TIME-WAIT, as Ctrl-C on make sim
    leaves behind after a browser was connected: the side that closes first keeps it ~60 s."""
    with socket.socket() as listener:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        client = socket.create_connection(("127.0.0.1", port))
        served, _ = listener.accept()
        served.close()  # the server closes first: its end of the connection waits in TIME-WAIT
        client.recv(1)
        client.close()
    with socket.socket() as plain:  # without SO_REUSEADDR the port reads as taken
        try:
            plain.bind(("127.0.0.1", port))
        except OSError:
            return port
    raise AssertionError("no TIME-WAIT socket on port %d" % port)


def test_sim_starts_right_after_a_previous_run_left_a_connection_in_time_wait(tmp_path):
    port = time_wait_port()
    sim = launch(tmp_path, SCENARIOS / "first-boot.json", port, free_port(socket.SOCK_DGRAM))
    lines = Lines(sim)
    try:
        assert lines.wait_for("Ctrl-C stops it"), lines
    finally:
        sim.send_signal(signal.SIGINT)
        sim.wait(timeout=10)
    assert "in use" not in str(lines)


class Lines:
    """The launcher's output, read by a thread so that waiting for a line can time out."""

    def __init__(self, sim):
        self.seen = []
        self._queue = queue.Queue()
        threading.Thread(target=self._read, args=(sim.stdout,), daemon=True).start()

    def _read(self, stream):
        for line in stream:
            self._queue.put(line)
        self._queue.put(None)

    def wait_for(self, text, timeout=30):
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            try:
                line = self._queue.get(timeout=left)
            except queue.Empty:
                break
            if line is None:
                break
            self.seen.append(line)
            if text in line:
                return True
        return False

    def __str__(self):
        return "".join(self.seen)


def test_an_update_from_the_portal_restarts_the_device_which_keeps_it(tmp_path):
    """The portal's update form in make sim: the image is installed, the device resets, the
    launcher powers it on again from the same flash, and back on WiFi the new image is kept."""
    from helpers import esp_image
    from helpers.ota import OtaServer, otadata
    from helpers.portal import _Client, setup_key_of

    images = tmp_path / "images"
    images.mkdir()
    image = esp_image.build("esp32", 160 * 1024, seed=3)
    (images / "esp32.bin").write_bytes(image)
    server = OtaServer(images)
    http_port, dns_port = free_port(), free_port(socket.SOCK_DGRAM)
    sim = launch(tmp_path, SCENARIOS / "home.json", http_port, dns_port)
    lines = Lines(sim)
    try:
        assert lines.wait_for("Ctrl-C stops it"), lines
        assert lines.wait_for("connected to Meadowbrook"), lines
        owner = _Client(http_port)  # updates need the setup key the device printed at boot
        assert owner.unlock(setup_key_of(str(lines)))[0] == 200
        # Plain HTTP, so the image's SHA-256 comes with the request (README: OTA modes).
        sha256 = hashlib.sha256(image).hexdigest()
        status, doc = owner.post("/api/ota", {"url": server.url("esp32.bin"), "sha256": sha256})
        assert status == 202, doc
        assert lines.wait_for("the device reset itself"), lines
        assert lines.wait_for("the new firmware is valid", 60), lines
        entries, boot = otadata(tmp_path / "device" / "flash")
        assert boot == 1 and "valid" in [state for _seq, state, _ok in entries]
    finally:
        server.stop()
        sim.send_signal(signal.SIGINT)
        sim.wait(timeout=10)
    lines.wait_for("sim: stopped", 10)
    assert "Traceback" not in str(lines)
