#!/usr/bin/env python3
"""The browser flashing page: ESP Web Tools' install button over every built board.

    build.py DIST_DIR ESP_WEB_TOOLS_DIR OUT_DIR

Reads DIST_DIR/<build>/manifest.json (firmware/dist.py) and writes OUT_DIR/index.html (this
directory's index.html with one choice per build), OUT_DIR/<build>.json (ESP Web Tools manifests
from ci/release_manifest.py: webflash(), Improv on), the merged images they name
(<build>-<version>.bin, as the release calls them) and ESP_WEB_TOOLS_DIR (the npm package's
dist/web bundle), with the package's LICENSE, as OUT_DIR/esp-web-tools/. A static directory:
serve it over HTTPS or from localhost, where Chromium allows Web Serial.
"""

import html
import json
import shutil
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent.parent / "ci"))

import release_manifest  # noqa: E402


def build(dist, tools, out):
    dist, tools, out = Path(dist), Path(tools), Path(out)
    if not (tools / "install-button.js").is_file():
        raise SystemExit("webflash: no install-button.js in %s: run make webflash" % tools)
    manifests = release_manifest.load(dist)
    if out.exists():
        shutil.rmtree(out)
    shutil.copytree(tools, out / "esp-web-tools")
    shutil.copyfile(tools.parent.parent / "LICENSE", out / "esp-web-tools" / "LICENSE")
    options = []
    for m in manifests:
        board, image = m["board"], release_manifest.merged_name(m)
        merged = release_manifest.role(m, "merged")
        shutil.copyfile(dist / board / merged["name"], out / image)
        web = release_manifest.webflash(m, image)
        (out / ("%s.json" % board)).write_text(json.dumps(web, indent=2) + "\n")
        options.append(
            '<option value="%s.json">%s (%s, %s)</option>'
            % (html.escape(board), html.escape(board), m["chip"], m["flash_size"])
        )
    page = (HERE / "index.html").read_text()
    (out / "index.html").write_text(page.replace("<!-- boards -->", "\n".join(options)))
    return manifests


def main(argv):
    if len(argv) != 3:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    manifests = build(*argv)
    print("webflash: %d boards -> %s" % (len(manifests), argv[2]))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
