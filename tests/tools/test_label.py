"""tools/label.py: the device label. Its QR code is read back from a rendering in Chromium with
a real decoder (zxing-cpp), and its derived name is the one the firmware derives."""

import importlib.util
import os
import subprocess
import sys

import pytest
from helpers.micropython import ROOT

_spec = importlib.util.spec_from_file_location("label", ROOT / "tools" / "label.py")
label = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(label)

CHROMIUM = "/usr/bin/chromium"


def run_label(*args, cwd):
    return subprocess.run(
        [sys.executable, str(ROOT / "tools" / "label.py"), *args],
        cwd=cwd,
        capture_output=True,
        text=True,
    )


def test_join_uri_escapes_every_special_character():
    assert label.join_uri("plain") == "WIFI:T:nopass;S:plain;;"
    assert (
        label.join_uri('a;b,c"d:e\\f', 'p;w,"d:\\12')
        == 'WIFI:T:WPA;S:a\\;b\\,c\\"d\\:e\\\\f;P:p\\;w\\,\\"d\\:\\\\12;;'
    )


@pytest.mark.parametrize(
    "args, message",
    [
        (["--mac", "24:6f:28:aa:bb"], "--mac '24:6f:28:aa:bb': expected six hex bytes"),
        (["--mac", "zz:6f:28:aa:bb:cc"], "expected six hex bytes"),
        (["--name", "x" * 33], "must be 1 to 32 bytes"),
        (["--name", ""], "must be 1 to 32 bytes"),
        (["--name", "dev", "--ap-password", "short"], "8 to 63 characters"),
        (["--name", "dev", "--setup-key", "1111-2222-3333"], "--setup-key '1111-2222-3333'"),
    ],
    ids=[
        "five-byte-mac",
        "non-hex-mac",
        "33-byte-name",
        "empty-name",
        "7-char-password",
        "look-alike-key",
    ],
)
def test_bad_input_is_refused_with_the_reason_and_writes_nothing(tmp_path, args, message):
    proc = run_label(*args, "-o", "out.svg", cwd=tmp_path)
    assert proc.returncode == 2
    assert message in proc.stderr
    assert not (tmp_path / "out.svg").exists()


def test_name_from_mac_is_the_one_the_firmware_derives(micropython):
    macs = ["24:6f:28:aa:bb:cc", "30-AE-A4-01-02-0F", "84f703a1b2c3"]
    out = micropython.run(
        "from wifimgr import config\n"
        "for uid in (b'\\x24\\x6f\\x28\\xaa\\xbb\\xcc', b'\\x30\\xae\\xa4\\x01\\x02\\x0f',"
        " b'\\x84\\xf7\\x03\\xa1\\xb2\\xc3'):\n"
        "    print(config.default_device_name(uid))\n"
    )
    assert out.split() == [label.device_name(m) for m in macs]


@pytest.mark.browser
@pytest.mark.parametrize(
    "args, name, uri",
    [
        (["--mac", "24:6f:28:aa:bb:cc"], "wifimgr-aabbcc", "WIFI:T:nopass;S:wifimgr-aabbcc;;"),
        (
            ["--name", "Küche; Sensor, Haus 2 (Keller)", "--ap-password", "pa:ss;word"],
            "Küche; Sensor, Haus 2 (Keller)",
            "WIFI:T:WPA;S:Küche\\; Sensor\\, Haus 2 (Keller);P:pa\\:ss\\;word;;",
        ),
        (
            ["--mac", "24:6f:28:aa:bb:cc", "--setup-key", "3eyc-nd3w-hd4g"],
            "wifimgr-aabbcc",
            "WIFI:T:WPA;S:wifimgr-aabbcc;P:3eyc-nd3w-hd4g;;",
        ),
    ],
    ids=["open-ap-from-mac", "wpa-ap-with-special-characters", "setup-key"],
)
def test_printed_label_scans_back_to_the_join_string(tmp_path, args, name, uri):
    if not os.access(CHROMIUM, os.X_OK):
        pytest.skip("no Chromium at %s (apt-get install chromium)" % CHROMIUM)
    sync_api = pytest.importorskip("playwright.sync_api")
    zxingcpp = pytest.importorskip("zxingcpp")
    from PIL import Image

    proc = run_label(*args, "-o", "label.svg", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    svg = tmp_path / "label.svg"
    shot = ROOT / "build" / "screenshots" / ("label-%s.png" % tmp_path.name)
    shot.parent.mkdir(parents=True, exist_ok=True)
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM)
        page = browser.new_page(device_scale_factor=3)
        page.goto(svg.as_uri())
        assert name in page.text_content("svg")
        if "--setup-key" in args:
            assert "Setup key:3eyc-nd3w-hd4g" in page.text_content("svg").replace("\n", "")
        page.locator("svg").screenshot(path=str(shot))
        browser.close()
    decoded = [r.text for r in zxingcpp.read_barcodes(Image.open(shot))]
    assert decoded == [uri]


def test_setup_keys_are_the_firmwares(micropython):
    """The label takes what wifimgr._seal.make_setup_key() makes, and nothing else."""
    keys = micropython.run(
        "from wifimgr._seal import make_setup_key\nfor _ in range(20): print(make_setup_key())"
    ).split()
    assert len(keys) == 20
    for key in keys:
        assert label.check_setup_key(key) == key
    assert label.SETUP_KEY_ALPHABET in (ROOT / "frozen/wifimgr/_seal.py").read_text()
