"""ci/release_manifest.py: the release-wide OTA manifest and the ESP Web Tools manifests."""

import json
import subprocess
import sys

import boards


def write_dist(tmp_path, version="1.2.3"):
    for name, chip in (("WIFIMGR_ESP32C3", "esp32c3"), ("WIFIMGR_ESP32S3-FLASH_16M", "esp32s3")):
        d = tmp_path / name
        d.mkdir()
        files = [
            {
                "name": "firmware.bin",
                "role": "merged",
                "offset": 0,
                "sha256": "a" * 64,
                "length": 9,
            },
            {
                "name": "micropython.bin",
                "role": "app",
                "offset": 65536,
                "sha256": "b" * 64,
                "length": 7,
            },
        ]
        m = {"version": version, "board": name, "chip": chip, "flash_size": "4MB", "files": files}
        (d / "manifest.json").write_text(json.dumps(m))


def run(*args):
    script = boards.ROOT / "ci" / "release_manifest.py"
    return subprocess.run(
        [sys.executable, str(script), *map(str, args)], capture_output=True, text=True
    )


def test_release_manifests(tmp_path):
    write_dist(tmp_path)
    assert run(tmp_path, "https://example.invalid/rel/").returncode == 0
    ota = json.loads((tmp_path / "ota.json").read_text())
    c3 = ota["boards"]["WIFIMGR_ESP32C3"]
    assert ota["version"] == "1.2.3"
    assert c3["url"] == "https://example.invalid/rel/WIFIMGR_ESP32C3-1.2.3.app.bin"
    assert (c3["sha256"], c3["length"], c3["chip"]) == ("b" * 64, 7, "esp32c3")
    web = json.loads((tmp_path / "webflash" / "WIFIMGR_ESP32S3-FLASH_16M.json").read_text())
    assert web["builds"][0]["chipFamily"] == "ESP32-S3"
    assert web["builds"][0]["parts"] == [
        {"path": "https://example.invalid/rel/WIFIMGR_ESP32S3-FLASH_16M-1.2.3.bin", "offset": 0}
    ]


def test_release_manifest_without_builds_says_so(tmp_path):
    out = run(tmp_path, "https://example.invalid/")
    assert out.returncode != 0 and "run make firmware" in out.stderr
