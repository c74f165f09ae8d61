"""ci/release_manifest.py: the release-wide OTA manifest and the ESP Web Tools manifests."""

import hashlib
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


def test_release_manifest_has_format_and_chip_id(tmp_path):
    write_dist(tmp_path)
    c3 = json.loads((tmp_path / "WIFIMGR_ESP32C3" / "manifest.json").read_text())
    c3["chip_id"] = boards.CHIP_ID["esp32c3"]
    (tmp_path / "WIFIMGR_ESP32C3" / "manifest.json").write_text(json.dumps(c3))
    assert run(tmp_path, "http://example.invalid/rel").returncode == 0
    ota = json.loads((tmp_path / "ota.json").read_text())
    assert ota["format"] == 1 and "filesystem" not in ota
    assert ota["boards"]["WIFIMGR_ESP32C3"]["chip_id"] == 5
    assert "chip_id" not in ota["boards"]["WIFIMGR_ESP32S3-FLASH_16M"]


def test_release_manifest_lists_filesystem_files(tmp_path):
    """--files DIR: each file with its device path, URL under BASE/files/, SHA-256, length."""
    write_dist(tmp_path)
    files = tmp_path / "fs"
    (files / "lib").mkdir(parents=True)
    (files / "lib" / "app.py").write_bytes(b"print('v2')\n")
    (files / "index.html").write_bytes(b"<p>v2</p>")
    out = run(tmp_path, "http://example.invalid/rel/", "--files", files)
    assert out.returncode == 0, out.stderr
    ota = json.loads((tmp_path / "ota.json").read_text())
    assert ota["filesystem"] == [
        {
            "path": "/index.html",
            "url": "http://example.invalid/rel/files/index.html",
            "sha256": hashlib.sha256(b"<p>v2</p>").hexdigest(),
            "length": 9,
        },
        {
            "path": "/lib/app.py",
            "url": "http://example.invalid/rel/files/lib/app.py",
            "sha256": hashlib.sha256(b"print('v2')\n").hexdigest(),
            "length": 12,
        },
    ]


def test_release_manifest_files_option_needs_a_directory(tmp_path):
    write_dist(tmp_path)
    assert run(tmp_path, "http://x.invalid/", "--files").returncode == 2
    out = run(tmp_path, "http://x.invalid/", "--files", tmp_path / "missing")
    assert out.returncode != 0 and "is not a directory" in out.stderr


def test_release_workflow_sources_export_sh_in_the_idf_container():
    """GitHub replaces the container's entrypoint (espressif/idf's entrypoint.sh sources
    export.sh), so the step that builds a board must source $IDF_PATH/export.sh itself before
    ci/release.sh build_board reaches firmware/preflight.sh's `command -v idf.py`."""
    text = (boards.ROOT / ".github" / "workflows" / "release.yml").read_text()
    job = text[text.index("\n  boards:") : text.index("\n  host:")]
    assert "container: espressif/idf:" in job
    step = job[job.rindex("- name:", 0, job.index("ci/release.sh build_board")) :]
    step = step[: step.index("ci/release.sh build_board")]
    assert "shell: bash" in step
    assert 'source "$IDF_PATH/export.sh"' in step.split("run: |", 1)[1]
