#!/usr/bin/env python3
"""Release-wide manifests from firmware/dist/<build>/manifest.json of every built board.

    release_manifest.py DIST_DIR BASE_URL [--files DIR]

Writes DIST_DIR/ota.json (one entry per board: the app image for wifimgr.ota with its URL,
SHA-256 and length) and DIST_DIR/webflash/<build>.json, an ESP Web Tools manifest per board
(the merged image at offset 0, Improv enabled) for flashing from the browser;
tools/webflash/build.py makes the page around them (make webflash).

With --files DIR, every file under DIR is also listed in ota.json under "filesystem" (path on
the device, URL BASE_URL/files/<path>, SHA-256, length): wifimgr.ota writes them to the
device's filesystem once the firmware image has verified. Publish DIR as BASE_URL/files/.

ota.json, as wifimgr.ota.update_from_manifest reads it:

    {"format": 1, "name": "wifimgr", "version": "1.2.3",
     "boards": {"WIFIMGR_ESP32C3": {"chip": "esp32c3", "chip_id": 5, "flash_size": "4MB",
                                    "url": ".../WIFIMGR_ESP32C3-1.2.3.app.bin",
                                    "sha256": "...", "length": 1536000}, ...},
     "filesystem": [{"path": "/lib/app.py", "url": ".../files/lib/app.py",
                     "sha256": "...", "length": 1234}, ...]}
"""

import hashlib
import json
import sys
from pathlib import Path

OTA_FORMAT = 1

# ESP Web Tools' chipFamily names.
CHIP_FAMILY = {
    "esp32": "ESP32",
    "esp32s3": "ESP32-S3",
    "esp32c3": "ESP32-C3",
    "esp32c6": "ESP32-C6",
}


def load(dist):
    found = sorted(Path(dist).glob("*/manifest.json"))
    if not found:
        raise SystemExit("release_manifest: no */manifest.json under %s: run make firmware" % dist)
    return [json.loads(p.read_text()) for p in found]


def role(manifest, name):
    return next(f for f in manifest["files"] if f["role"] == name)


def merged_name(manifest):
    """The release file name of a build's merged image (ci/release.sh collect)."""
    return "%s-%s.bin" % (manifest["board"], manifest["version"])


def webflash(manifest, path):
    """The ESP Web Tools manifest of one build: its merged image, at the offset dist.py gave it,
    found at `path` (a URL, or relative to the manifest). Every build freezes wifimgr.improv,
    which answers Improv Wi-Fi on the serial console, so ESP Web Tools asks for WiFi after
    flashing. ESP Web Tools 10 tries Improv after every install (new_install_improv_wait_time,
    not set, is how long); "improv" is the key its earlier releases read."""
    merged = role(manifest, "merged")
    return {
        "name": "wifimgr for %s" % manifest["board"],
        "version": manifest["version"],
        "new_install_prompt_erase": True,
        "improv": True,
        "builds": [
            {
                "chipFamily": CHIP_FAMILY[manifest["chip"]],
                "parts": [{"path": path, "offset": merged["offset"]}],
            }
        ],
    }


def filesystem(files_dir, base):
    """The --files entries: every regular file under files_dir, sorted by device path."""
    root = Path(files_dir)
    if not root.is_dir():
        raise SystemExit("release_manifest: --files %s is not a directory" % files_dir)
    out = []
    for p in sorted(q for q in root.rglob("*") if q.is_file()):
        rel = p.relative_to(root).as_posix()
        data = p.read_bytes()
        out.append(
            {
                "path": "/" + rel,
                "url": "%s/files/%s" % (base, rel),
                "sha256": hashlib.sha256(data).hexdigest(),
                "length": len(data),
            }
        )
    return out


def main(argv):
    files_dir = None
    if "--files" in argv:
        i = argv.index("--files")
        files_dir = argv[i + 1] if i + 1 < len(argv) else ""
        argv = argv[:i] + argv[i + 2 :]
    if len(argv) != 2 or files_dir == "":
        print(__doc__.strip(), file=sys.stderr)
        return 2
    dist, base = Path(argv[0]), argv[1].rstrip("/")
    manifests = load(dist)
    versions = {m["version"] for m in manifests}
    if len(versions) != 1:
        raise SystemExit("release_manifest: boards built from different versions: %s" % versions)
    version = versions.pop()
    ota = {"format": OTA_FORMAT, "name": "wifimgr", "version": version, "boards": {}}
    (dist / "webflash").mkdir(exist_ok=True)
    for m in manifests:
        board, app = m["board"], role(m, "app")
        entry = ota["boards"][board] = {
            "chip": m["chip"],
            "flash_size": m["flash_size"],
            "url": "%s/%s-%s.app.bin" % (base, board, version),
            "sha256": app["sha256"],
            "length": app["length"],
        }
        if "chip_id" in m:
            entry["chip_id"] = m["chip_id"]
        web = webflash(m, "%s/%s" % (base, merged_name(m)))
        (dist / "webflash" / ("%s.json" % board)).write_text(json.dumps(web, indent=2) + "\n")
    if files_dir is not None:
        ota["filesystem"] = filesystem(files_dir, base)
    (dist / "ota.json").write_text(json.dumps(ota, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
