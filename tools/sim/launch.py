"""make sim: run the real wifimgr package on MicroPython against a simulated radio.

Starts MicroPython on tools/sim/device.py, waits until the portal answers HTTP and the
responder answers DNS, says what to open, and runs until Ctrl-C, which stops the device. When
the device resets itself (exit status 3: after an update, or a rollback) it is powered on again
with the same filesystem and flash, as a board would restart.
"""

import argparse
import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
READY_TIMEOUT_S = 20
RESET_STATUS = 3  # wifimgr.partition.reset(): machine.reset() on the unix port


def micropython_command():
    executable = os.environ.get("WIFIMGR_MICROPYTHON") or str(ROOT / ".venv/bin/micropython")
    if not os.access(executable, os.X_OK):
        sys.exit("sim: no MicroPython at %s (run `make sim`, which installs it)" % executable)
    native = (
        subprocess.run(
            [executable, "-c", "import _wifimgr"],
            env={**os.environ, "MICROPYPATH": ".frozen"},
            capture_output=True,
        ).returncode
        == 0
    )
    # The native build carries the package frozen inside; the registry runtime reads frozen/.
    path = ".frozen" if native else "%s:.frozen" % (ROOT / "frozen")
    return executable, path


def http_answers(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
            s.sendall(b"GET /api/status HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
            return s.recv(12).startswith(b"HTTP/1.")
    except OSError:
        return False


def dns_answers(port):
    # One A query for wifimgr.test; any well-formed response with our ID will do.
    query = struct.pack(">HHHHHH", 0x5EED, 0x0100, 1, 0, 0, 0)
    query += b"\x07wifimgr\x04test\x00" + struct.pack(">HH", 1, 1)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(0.5)
        try:
            s.sendto(query, ("127.0.0.1", port))
            reply = s.recv(512)
        except OSError:
            return False
    return reply[:2] == b"\x5e\xed"


def port_taken(kind, port):
    # Another program (often an earlier make sim) on the port would answer in the device's
    # place: say so instead of reporting it ready. Probe the way the device binds: the portal
    # listens with SO_REUSEADDR (micropython extmod/asyncio/stream.py: start_server()), so a
    # TIME-WAIT connection left by the previous run does not stop it; the DNS responder binds
    # its UDP socket without it (wifimgr/dns.py: DNSServer.start()).
    with socket.socket(socket.AF_INET, kind) as s:
        if kind == socket.SOCK_STREAM:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return True
    return False


def stop(device):
    if device.poll() is None:
        device.send_signal(signal.SIGTERM)
        try:
            device.wait(timeout=3)
        except subprocess.TimeoutExpired:
            device.kill()
            device.wait()


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scenario", default=str(ROOT / "tools/sim/scenarios/home.json"))
    parser.add_argument("--state", default=str(ROOT / "build/sim"), help="device filesystem")
    parser.add_argument(
        "--keep-state", action="store_true", help="keep what the device stored in a previous run"
    )
    args = parser.parse_args()
    http_port = int(os.environ.get("WIFIMGR_HTTP_PORT", "8080"))
    dns_port = int(os.environ.get("WIFIMGR_DNS_PORT", "5353"))
    scenario = Path(args.scenario).resolve()
    if not scenario.is_file():
        sys.exit("sim: no scenario file %s (SCENARIO=path/to.json)" % scenario)

    for kind, port, name in (
        (socket.SOCK_STREAM, http_port, "WIFIMGR_HTTP_PORT"),
        (socket.SOCK_DGRAM, dns_port, "WIFIMGR_DNS_PORT"),
    ):
        if port_taken(kind, port):
            sys.exit(
                "sim: 127.0.0.1:%d is in use (another make sim?); stop it or choose %s=..."
                % (port, name)
            )

    state = Path(args.state)
    state.mkdir(parents=True, exist_ok=True)
    if not args.keep_state:
        for old in state.iterdir():  # files, and the flash/ of the update slots
            if old.is_dir():
                shutil.rmtree(old)
            else:
                old.unlink()

    executable, path = micropython_command()

    def power_on():
        return subprocess.Popen(
            [executable, str(ROOT / "tools/sim/device.py"), str(scenario), str(state)],
            env={
                **os.environ,
                "MICROPYPATH": path,
                "WIFIMGR_HTTP_PORT": str(http_port),
                "WIFIMGR_DNS_PORT": str(dns_port),
            },
            cwd=state,
            start_new_session=True,  # Ctrl-C reaches this launcher, which stops the device
        )

    device = power_on()
    stopping = []

    def on_signal(signum, frame):
        stopping.append(signum)

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)

    started = time.monotonic()
    ready = False
    try:
        while not stopping:
            if device.poll() == RESET_STATUS:
                print("sim: the device reset itself; powering it on again", flush=True)
                device, ready, started = power_on(), False, time.monotonic()
            elif device.returncode is not None:
                break
            if not ready and http_answers(http_port) and dns_answers(dns_port):
                ready = True
                print(
                    "\nwifimgr simulator ready in %.1f s (scenario %s)\n"
                    "  portal:  http://127.0.0.1:%d/\n"
                    "  DNS:     127.0.0.1:%d  (dig @127.0.0.1 -p %d example.com)\n"
                    "  device filesystem: %s\n"
                    "Ctrl-C stops it.\n"
                    % (
                        time.monotonic() - started,
                        scenario.name,
                        http_port,
                        dns_port,
                        dns_port,
                        state,
                    ),
                    flush=True,
                )
            elif not ready and time.monotonic() - started > READY_TIMEOUT_S:
                print("sim: the device did not answer on both ports within %d s" % READY_TIMEOUT_S)
                break
            time.sleep(0.2)
    finally:
        stop(device)
    if stopping:
        print("sim: stopped")
        return 0
    return device.returncode or 1


if __name__ == "__main__":
    sys.exit(main())
