"""make webflash: the browser flashing page over a dist of every board, served on 127.0.0.1 and
loaded in Debian's Chromium (Playwright). The dist is what firmware/dist.py assembles from real
ESP images (tests/helpers/esp_image.py, esptool's own image classes); the manifests are checked
against the format of the ESP Web Tools package the page ships (its dist/const.d.ts: Manifest,
Build) and every part against the file and offset firmware/dist.py recorded."""

import functools
import hashlib
import http.server
import json
import os
import re
import struct
import subprocess
import sys
import threading
import zipfile

import dist
import pytest
from helpers import esp_image

import boards

ROOT = boards.ROOT
ESPTOOL = os.path.join(os.path.dirname(sys.executable), "esptool")
ESP_WEB_TOOLS = ROOT / "build" / "webflash-npm" / "node_modules" / "esp-web-tools" / "dist"
CHROMIUM = "/usr/bin/chromium"
SHOTS = ROOT / "build" / "screenshots"
VIEWPORT = {"width": 390, "height": 844}
BUILDS = boards.ROOT.joinpath("firmware", "boards.py")


def build_names():
    out = subprocess.run([sys.executable, str(BUILDS), "list"], capture_output=True, text=True)
    return out.stdout.split()


def bootloader(chip):
    """A second-stage-bootloader-sized ESP image: one IRAM segment, as esptool saves it."""
    cls = esp_image.IMAGE_CLASSES[chip]
    image = cls()
    iram = esp_image._region(cls.ROM_LOADER, "IRAM")
    image.segments = [esp_image.bin_image.ELFSection(b".iram0.text", iram, bytes(4096), 0)]
    image.entrypoint = iram
    return image.save(None)


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """(dist dir, page dir): every board assembled by dist.py, then `make webflash` over it."""
    if not (ESP_WEB_TOOLS / "web" / "install-button.js").is_file():
        pytest.skip("no ESP Web Tools in %s: run `make test`, which installs it" % ESP_WEB_TOOLS)
    tmp = tmp_path_factory.mktemp("webflash")
    for name in build_names():
        chip = boards.find(name)["chip"]
        build = tmp / "idf" / name
        (build / "bootloader").mkdir(parents=True)
        app = esp_image.build(chip, 96 * 1024, version="7.7.7")
        boot = bootloader(chip)
        (build / "micropython.bin").write_bytes(app)
        (build / "bootloader" / "bootloader.bin").write_bytes(boot)
        dist.assemble(name, build, tmp / "dist" / name, version="7.7.7", esptool=ESPTOOL)
    page = tmp / "page"
    # the release's own step (.github/workflows/release.yml publishes what it writes)
    subprocess.run([ROOT / "ci" / "release.sh", "webflash", tmp / "dist", page], check=True)
    return tmp / "dist", page


def test_the_release_publishes_the_page_and_its_zip(site):
    """The release job builds the page with ci/release.sh webflash, uploads that directory as the
    GitHub Pages artifact the pages job deploys, and attaches the same page as a zip."""
    _, page = site
    with zipfile.ZipFile(str(page) + ".zip") as z:
        zipped = {n for n in z.namelist() if not n.endswith("/")}
    assert zipped == {str(p.relative_to(page)) for p in page.rglob("*") if p.is_file()}
    assert {"index.html", "esp-web-tools/install-button.js"} <= zipped
    flow = (ROOT / ".github" / "workflows" / "release.yml").read_text()
    release = flow[flow.index("\n  release:") : flow.index("\n  pages:")]
    assert "ci/release.sh webflash firmware/dist release/site" in release
    assert "actions/upload-pages-artifact" in release and "path: release/site" in release
    assert "release/site.zip" in release.split("gh release create", 1)[1]
    pages = flow[flow.index("\n  pages:") :]
    assert "needs: [release]" in pages and "actions/deploy-pages" in pages


def ts_interface(name):
    """Field name to TypeScript type of `interface name` in ESP Web Tools' const.d.ts."""
    src = (ESP_WEB_TOOLS / "const.d.ts").read_text()
    body = re.search(r"interface %s \{(.*?)\n\}" % name, src, re.S).group(1)
    body = re.sub(r"/\*.*?\*/", "", body, flags=re.S)
    return dict(re.findall(r"^\s{4}(\w+)\??: (.*?);?$", body, re.M))


def test_manifests_follow_esp_web_tools_format_and_name_the_dist_files(site):
    dist_dir, page = site
    manifest_fields = ts_interface("Manifest")
    build_fields = ts_interface("Build")
    families = re.findall(r'"([^"]+)"', build_fields["chipFamily"])
    names = build_names()
    assert sorted(p.stem for p in page.glob("*.json")) == sorted(names)
    assert "Apache" in (page / "esp-web-tools" / "LICENSE").read_text()
    for name in names:
        web = json.loads((page / ("%s.json" % name)).read_text())
        recorded = json.loads((dist_dir / name / "manifest.json").read_text())
        # every key ESP Web Tools knows, plus "improv", which its earlier releases read
        assert set(web) <= set(manifest_fields) | {"improv"}, name
        assert {"name", "version", "builds"} <= set(web)
        assert isinstance(web["name"], str) and web["version"] == "7.7.7"
        assert web["new_install_prompt_erase"] is True and web["improv"] is True
        assert web.get("new_install_improv_wait_time") != 0  # 0 would skip Improv
        (build,) = web["builds"]
        assert set(build) <= set(build_fields), name
        assert build["chipFamily"] in families
        assert build["chipFamily"].replace("-", "").lower() == recorded["chip"]
        merged = next(f for f in recorded["files"] if f["role"] == "merged")
        for part in build["parts"]:
            assert isinstance(part["offset"], int) and part["offset"] == merged["offset"] == 0
            data = (page / part["path"]).read_bytes()
            assert len(data) == merged["length"]
            assert hashlib.sha256(data).hexdigest() == merged["sha256"]
            # a merged image starts with the bootloader where the chip's ROM looks for it
            board = boards.find(name)
            boot = board["bootloader_offset"]
            assert data[boot] == 0xE9
            assert struct.unpack_from("<H", data, boot + 12)[0] == board["chip_id"]


def test_release_and_page_manifests_are_one_format(site, tmp_path):
    dist_dir, page = site
    script = ROOT / "ci" / "release_manifest.py"
    subprocess.run([sys.executable, str(script), str(dist_dir), "https://r.invalid/v"], check=True)
    for p in (dist_dir / "webflash").glob("*.json"):
        rel, local = json.loads(p.read_text()), json.loads((page / p.name).read_text())
        rel_part, local_part = rel["builds"][0]["parts"][0], local["builds"][0]["parts"][0]
        assert rel_part["path"] == "https://r.invalid/v/" + local_part["path"]
        rel_part["path"] = local_part["path"]
        assert rel == local


@pytest.fixture
def served(site):
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(site[1]))
    handler.log_message = lambda *a: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield "http://127.0.0.1:%d/" % server.server_address[1]
    server.shutdown()
    server.server_close()


@pytest.mark.browser
def test_chromium_loads_the_page_without_console_errors(served):
    if not os.access(CHROMIUM, os.X_OK):
        pytest.skip("no Chromium at %s (apt-get install chromium)" % CHROMIUM)
    playwright = pytest.importorskip("playwright.sync_api")
    errors, outside = [], []
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM)
        page = browser.new_page(viewport=VIEWPORT, device_scale_factor=1)
        page.on("console", lambda m: m.type == "error" and errors.append(m.text))
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.on("requestfailed", lambda r: errors.append("%s failed" % r.url))
        page.on("request", lambda r: r.url.startswith(served) or outside.append(r.url))
        page.goto(served)
        page.wait_for_function("customElements.get('esp-web-install-button') !== undefined")
        options = page.eval_on_selector_all("#board option", "os => os.map(o => o.value)")
        assert sorted(options) == sorted("%s.json" % n for n in build_names())
        page.select_option("#board", "WIFIMGR_ESP32C6.json")
        button = page.locator("esp-web-install-button")
        assert button.get_attribute("manifest") == "WIFIMGR_ESP32C6.json"
        # the element rendered one of its states: the Connect button, or "unsupported" text
        page.wait_for_function(
            "document.querySelector('esp-web-install-button').shadowRoot?.childElementCount > 0"
        )
        for value in options:  # each manifest the button would fetch, from the page's origin
            web = page.evaluate("u => fetch(u).then(r => r.json())", value)
            assert web["builds"][0]["parts"][0]["offset"] == 0
        SHOTS.mkdir(parents=True, exist_ok=True)
        png = page.screenshot(path=str(SHOTS / "webflash.png"), full_page=True)
        assert struct.unpack(">I", png[16:20])[0] == 390
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
        browser.close()
    assert not errors, errors
    assert not outside, "the page loaded something from elsewhere: %s" % outside
