#!/usr/bin/env python3
"""Release-wide manifests from firmware/dist/<build>/manifest.json of every built board.

    release_manifest.py DIST_DIR BASE_URL

Writes DIST_DIR/ota.json (one entry per board: the app image for wifimgr.ota with its URL,
SHA-256 and length) and DIST_DIR/webflash/<build>.json, an ESP Web Tools manifest per board
(the merged image at offset 0) for flashing from the browser.
"""

import json
import sys
from pathlib import Path

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


def main(argv):
    if len(argv) != 2:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    dist, base = Path(argv[0]), argv[1].rstrip("/")
    manifests = load(dist)
    versions = {m["version"] for m in manifests}
    if len(versions) != 1:
        raise SystemExit("release_manifest: boards built from different versions: %s" % versions)
    version = versions.pop()
    ota = {"name": "wifimgr", "version": version, "boards": {}}
    (dist / "webflash").mkdir(exist_ok=True)
    for m in manifests:
        board, app = m["board"], role(m, "app")
        role(m, "merged")  # StopIteration here: a build without a merged image
        ota["boards"][board] = {
            "chip": m["chip"],
            "flash_size": m["flash_size"],
            "url": "%s/%s-%s.app.bin" % (base, board, version),
            "sha256": app["sha256"],
            "length": app["length"],
        }
        web = {
            "name": "wifimgr for %s" % board,
            "version": version,
            "new_install_prompt_erase": True,
            "builds": [
                {
                    "chipFamily": CHIP_FAMILY[m["chip"]],
                    "parts": [{"path": "%s/%s-%s.bin" % (base, board, version), "offset": 0}],
                }
            ],
        }
        (dist / "webflash" / ("%s.json" % board)).write_text(json.dumps(web, indent=2) + "\n")
    (dist / "ota.json").write_text(json.dumps(ota, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
