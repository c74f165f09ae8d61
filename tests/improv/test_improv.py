"""Improv Wi-Fi over serial (wifimgr.improv) with the real client ESP Web Tools uses
(improv-wifi-serial-sdk under Node), on the unix port over a pseudo-terminal, against the
simulated radio (first-boot: no known network, the access point up)."""

import json
import termios

from helpers.improv import SerialDevice

READY, PROVISIONING, PROVISIONED = 2, 3, 4


def frame(kind, data, checksum=None):
    # Built here from the published packet layout, not by the module under test.
    out = b"IMPROV\x01" + bytes([kind, len(data)]) + bytes(data)
    return out + bytes([sum(out) & 0xFF if checksum is None else checksum]) + b"\n"


GET_STATE = frame(3, [2, 0])


def test_detect_info_and_scan(device, client):
    r = client("initialize")
    assert r["ok"], r
    assert r["state"] == READY and r["url"] is None
    info = r["info"]
    assert info["firmware"] == "wifimgr"
    assert info["name"] == device.status()["device_name"]
    assert info["chipFamily"] == "LINUX"
    assert info["osName"] == "micropython"
    r = client("scan")
    assert r["ok"], r
    by_name = {n["name"]: n for n in r["networks"]}
    assert sorted(by_name) == ["Meadowbrook", "Meadowbrook-Guest", "NETGEAR-2F4A"]
    assert by_name["Meadowbrook"] == {"name": "Meadowbrook", "rssi": -54, "secured": True}


def test_wrong_password_then_the_right_one(device, client):
    device.wait_status(lambda s: s["ap_active"])  # first boot: the setup network is up
    assert client("initialize")["ok"]
    r = client("provision", ssid="Meadowbrook", password="not-it-at-all")
    assert not r["ok"] and "UNABLE_TO_CONNECT" in r["error"], r
    r = client("state")
    assert r["ok"] and r["state"] == READY, r
    st = device.status()
    assert st["ap_active"] and st["trial"]["reason"] == "wrong_password", st  # AP kept up
    assert "improv: 'Meadowbrook' not joined: wrong_password" in device.output()
    assert not st["errors"]

    r = client("provision", ssid="Meadowbrook", password="tulip-garden-42")
    assert r["ok"], r
    assert r["state"] == PROVISIONED
    hostname = device.status()["hostname"]
    assert r["url"] == "http://%s.local/" % hostname
    r = client("state")
    assert r["state"] == PROVISIONED and r["url"] == "http://%s.local/" % hostname
    # stored, and not in the clear; the access point closes (policy fallback, once connected)
    st = device.wait_status(lambda s: not s["ap_active"])
    assert st["state"] == "connected" and st["ssid"] == "Meadowbrook"
    doc = json.loads((device.state / "wifimgr.json").read_text())
    assert [n["ssid"] for n in doc["known_networks"]] == ["Meadowbrook"]
    for path in device.state.rglob("*"):
        if path.is_file() and path.name != "device.log":
            assert b"tulip-garden-42" not in path.read_bytes(), path
    assert "tulip-garden-42" not in device.output()


def test_a_provisioned_device_reports_its_urls(device, client):
    assert client("initialize")["ok"]
    assert client("provision", ssid="Meadowbrook-Guest", password="welcome-guests")["ok"]
    r = client("state")  # a new session (the page reloaded) finds it provisioned
    assert r["state"] == PROVISIONED and r["url"].endswith(".local/")
    client.close()  # the SDK keeps the first URL only: read the whole answer here
    device.write(GET_STATE)
    out = device.read(1.0)
    hostname = device.status()["hostname"].encode()
    assert b"IMPROV\x01\x01\x01\x04" in out  # current state: provisioned
    assert b"http://" + hostname + b".local/" in out and b"http://192.168.2.23/" in out


def test_bad_checksum_gets_nothing_garbage_and_truncated_frames_are_ignored(device):
    bad = bytearray(GET_STATE)
    bad[-2] ^= 0xFF
    device.write(bytes(bad))
    assert device.read(1.5) == b""
    device.write(b"hello\nIMPRO\x00IMPROVE\xff\xfe\x7f garbage \n")
    device.write(b"IMPROV\x01\x03\x05\x02")  # truncated: never completed
    assert b"IMPROV" not in device.read(1.5)
    device.write(GET_STATE)
    out = device.read(1.0)
    assert frame(1, [READY]) in out  # still answering


def test_invalid_and_unknown_rpcs_get_their_error(device):
    device.write(frame(3, [1, 9, 3, 0x41]))  # length 9 for 2 bytes
    assert frame(2, [1]) in device.read(1.0)  # invalid RPC packet
    device.write(frame(3, [1, 4, 9, 0x41, 0, 0]))  # SSID past the end
    assert frame(2, [1]) in device.read(1.0)
    device.write(frame(3, [0x42, 0]))
    assert frame(2, [2]) in device.read(1.0)  # unknown RPC command
    device.write(frame(3, [1, 6, 2, 0x41, 0x42, 2, 0x43, 0x44]))  # password of 2: refused
    assert frame(2, [3]) in device.read(1.0)
    assert "improv: 'AB' not tried" in device.output()


def _interrupted(device, keys):
    device.write(keys)
    code = device.proc.wait(timeout=10)
    # the traceback goes to the console (the registry runtime) or to stderr (the unix build)
    console = device.read(0.5).decode(errors="replace")
    assert code != 0, code
    assert "KeyboardInterrupt" in console + device.output(), (console, device.output())
    # the console is given back as it was: line editing and the terminal's Ctrl-C
    attrs = device.terminal()
    assert attrs[3] & termios.ICANON and attrs[3] & termios.ISIG


def test_ctrl_c_interrupts_run(device):
    device.write(GET_STATE)  # Improv was working
    assert frame(1, [READY]) in device.read(1.0)
    _interrupted(device, b"\x03")


def test_raw_repl_entry_interrupts_run(device):
    # follows mpremote's transport_serial.py: enter_raw_repl() writes "\r\x03", then "\r\x01"
    _interrupted(device, b"\r\x01")


def test_mpremote_sequence_leaves_the_raw_repl_request_unread(micropython):
    dev = SerialDevice(micropython)
    try:
        _interrupted(dev, b"\r\x03\r\x01")
    finally:
        dev.stop()


def test_ctrl_c_while_credentials_are_tried_interrupts_at_once(device):
    ssid, password = b"Meadowbrook", b"not-it-at-all"  # fails 1.65 s after the request
    payload = bytes([len(ssid)]) + ssid + bytes([len(password)]) + password
    device.write(frame(3, [1, len(payload)] + list(payload)))
    assert frame(1, [PROVISIONING]) in device.read(0.5)
    _interrupted(device, b"\x03")
    assert "not joined" not in device.output()  # not left waiting for the outcome


def test_ctrl_c_inside_a_frame_is_data(device):
    # 0x03 is the RPC type byte and may be any data byte: inside a frame it interrupts nothing
    device.write(frame(3, [3, 0]))  # request device info
    out = device.read(1.0)
    assert b"wifimgr" in out and device.proc.poll() is None
