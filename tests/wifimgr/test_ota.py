"""wifimgr.ota on MicroPython against tools/ota_server.py over loopback sockets, writing into the
file-backed esp32.Partition stand-in. Every failure must leave the running image as the boot
image, untouched, and raise an OTAError whose cause names what did not match.

The server speaks HTTPS with a certificate of a CA made for the run (helpers.ota.LocalCA), which
the device is given as `ca`; the section "what vouches for an update" tries the other ways in
(pin, plain HTTP with and without a digest, wrong CA, expired and wrong-name certificates)."""

import base64
import hashlib
import json
import random
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import esp_image
from helpers.micropython import ROOT, SCENARIOS
from helpers.ota import HEAP_SCRIPT, LocalCA, OtaServer, make_flash, otadata

SIZE = 160 * 1024
CHIP = "esp32c3"

# Runs one update on MicroPython and prints what happened as JSON.
ATTEMPT = """
import json, time
from wifimgr import partition, ota
partition.setup(%(flash)r)
t0 = time.ticks_ms()
out = {"boot_before": partition.Partition(partition.BOOT).info()[4]}
try:
    out["result"] = ota.update(%(url)r, reboot=False, **%(kw)s)
except ota.OTAError as e:
    out["cause"], out["error"] = e.cause, str(e)
out["ms"] = time.ticks_diff(time.ticks_ms(), t0)
out["boot_after"] = partition.Partition(partition.BOOT).info()[4]
out["status"] = ota.status()
print(json.dumps(out))
"""


@pytest.fixture(scope="module")
def images(tmp_path_factory):
    d = tmp_path_factory.mktemp("images")
    esp_image.write_set(d, SIZE)
    (d / "old.bin").write_bytes(esp_image.build(CHIP, SIZE, seed=7, version="0.1.0"))
    (d / "health").write_text("ok\n")
    return d


CA = {}  # "pem": the path of the test CA's certificate, the device's ota_ca (set by pki)


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    ca = LocalCA(tmp_path_factory.mktemp("pki"))
    CA["pem"] = str(ca.pem)
    return ca


@pytest.fixture(scope="module")
def server(images, pki):
    """HTTPS, its certificate for 127.0.0.1 and localhost signed by `pki`."""
    srv = OtaServer(images, tls=pki.issue("server")[:2])
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def plain(images):
    """The same files over plain HTTP."""
    srv = OtaServer(images)
    yield srv
    srv.stop()


@pytest.fixture
def flash(tmp_path, images):
    return make_flash(tmp_path / "flash", (images / "old.bin").read_bytes(), chip=CHIP)


def attempt(micropython, flash, url, **kw):
    """One ota.update() of url; https:// URLs are verified with the test CA unless kw says
    otherwise (ca=None, pin=...)."""
    if url.startswith("https://") and "pin" not in kw:
        kw.setdefault("ca", CA["pem"])
    out = micropython.run(ATTEMPT % {"flash": str(flash), "url": url, "kw": repr(kw)})
    return json.loads(out.strip().splitlines()[-1])


def digest(images, name):
    return hashlib.sha256((images / name).read_bytes()).hexdigest()


def assert_untouched(r, flash, images, cause):
    """The update failed for `cause`; ota_0 (running) still boots and is byte for byte intact."""
    assert r.get("cause") == cause, r
    assert r["boot_before"] == r["boot_after"] == "ota_0", r
    assert otadata(flash)[1] in (None, 0)
    assert (flash / "ota_0.bin").read_bytes() == (images / "old.bin").read_bytes()
    assert r["status"]["state"] == "failed" and r["status"]["cause"] == cause


@pytest.mark.parametrize("chip", sorted(esp_image.CHIP_IDS))
def test_good_image_switches_the_boot_record(micropython, tmp_path, images, server, chip):
    """For every chip the boards use: the image lands in ota_1 and otadata boots it next."""
    flash = make_flash(tmp_path / "f", (images / "old.bin").read_bytes(), chip=chip)
    name = "%s.bin" % chip
    size = (images / name).stat().st_size
    r = attempt(micropython, flash, server.url(name), sha256=digest(images, name), length=size)
    assert r.get("result") == "ota_1", r
    assert r["boot_after"] == "ota_1"
    entries, boot = otadata(flash)
    assert boot == 1 and ("new" in [e[1] for e in entries])
    assert (flash / "ota_1.bin").read_bytes()[:size] == (images / name).read_bytes()
    st = r["status"]
    assert (st["state"], st["bytes"], st["total"], st["percent"]) == ("done", size, size, 100)
    assert st["rate"] > 0 and st["image_version"] == "0.2.0" and st["running"] == "ota_0"


@pytest.mark.parametrize(
    "faults,expect",
    [
        ({"chunked": 1}, "ok"),
        ({"chunked": 1, "chunk": 4093}, "ok"),
        ({"redirect": 3}, "ok"),
        ({"redirect": 3, "chunked": 1}, "ok"),
        ({"nolength": 1}, "ok"),
        ({"redirect": 4}, "redirect"),
        ({"truncate": SIZE // 2}, "sha256"),
        ({"corrupt": 5000}, "sha256"),
        ({"corrupt": 5000, "chunked": 1}, "sha256"),
        ({"drop": 70000, "chunked": 1}, "connection"),
        ({"drop": 100}, "connection"),
    ],
)
def test_transfer_variants_with_the_expected_digest(
    micropython, flash, images, server, faults, expect
):
    """Chunked, redirected and close-delimited bodies succeed; truncation, a flipped byte, a
    dropped connection and too many redirects fail with the boot record unchanged."""
    name = "%s.bin" % CHIP
    r = attempt(micropython, flash, server.url(name, **faults), sha256=digest(images, name))
    if expect == "ok":
        assert r.get("result") == "ota_1", r
        assert (flash / "ota_1.bin").read_bytes()[: (images / name).stat().st_size] == (
            images / name
        ).read_bytes()
    else:
        assert_untouched(r, flash, images, expect)


@pytest.mark.parametrize(
    "name,faults,kw,cause",
    [
        # What the image itself says, with no digest from the caller.
        ("esp32c3-magic.bin", {}, {}, "magic"),
        ("esp32c3-segments.bin", {}, {}, "segments"),
        ("esp32c3-checksum.bin", {}, {}, "checksum"),
        ("esp32c3-body.bin", {}, {}, "checksum"),
        ("esp32c3-digest.bin", {}, {}, "digest"),
        ("esp32c3-truncated.bin", {}, {}, "truncated"),
        ("esp32c3.bin", {"truncate": SIZE // 2}, {}, "truncated"),
        ("esp32c3.bin", {"corrupt": -10}, {}, "digest"),
        ("esp32c3.bin", {"corrupt": 5000}, {}, "checksum"),
        # The segment count off by one: the walk finds no checksum where the image has it.
        ("esp32c3.bin", {"corrupt": 1}, {}, "checksum"),
        # Another chip's image, even a correct one.
        ("esp32s3.bin", {}, {}, "chip"),
        ("esp32.bin", {}, {}, "chip"),
        ("esp32c3-chip.bin", {}, {}, "chip"),
        # The caller's expectations.
        ("esp32c3.bin", {}, {"sha256": "00" * 32}, "sha256"),
        ("esp32c3.bin", {}, {"length": 1234}, "length"),
        ("esp32c3.bin", {"chunked": 1}, {"length": SIZE}, "length"),
        ("esp32c3.bin", {}, {"sha256": "abc"}, "sha256"),
        ("missing.bin", {}, {}, "http"),
    ],
)
def test_wrong_images_are_refused(micropython, flash, images, server, name, faults, kw, cause):
    r = attempt(micropython, flash, server.url(name, **faults), **kw)
    assert_untouched(r, flash, images, cause)


def test_error_messages_name_the_mismatch(micropython, flash, images, server):
    r = attempt(micropython, flash, server.url("esp32s3.bin"))
    assert r["error"] == "chip: image is for esp32s3 (chip id 0x9), this device is esp32c3 (0x5)"
    r = attempt(micropython, flash, server.url("esp32c3.bin"), sha256="00" * 32)
    assert r["error"] == "sha256: image SHA-256 is %s, expected %s" % (
        digest(images, "esp32c3.bin"),
        "00" * 32,
    )
    r = attempt(micropython, flash, server.url("esp32c3-checksum.bin"))
    assert r["error"].startswith("checksum: image checksum is 0x")


def test_wrong_chip_stops_before_downloading_the_rest(micropython, flash, server):
    r = attempt(micropython, flash, server.url("esp32s3.bin"))
    assert r["cause"] == "chip" and r["status"]["bytes"] == 0


def test_connection_dropped_at_20_random_points(micropython, flash, images, server):
    """Seeded: the server closes after N body bytes; every time the boot record is unchanged."""
    rng = random.Random(20261122)
    size = (images / "esp32c3.bin").stat().st_size
    points = sorted(rng.randrange(0, size) for _ in range(20))
    code = """
import json
from wifimgr import partition, ota
partition.setup(%r)
for n in %r:
    try:
        ota.update(%r + "?drop=%%d&chunked=%%d" %% (n, n %% 2), reboot=False, ca=%r)
        print(json.dumps([n, "ok", ""]))
    except ota.OTAError as e:
        print(json.dumps([n, e.cause, str(e)]))
    print(json.dumps(["boot", partition.Partition(partition.BOOT).info()[4]]))
""" % (str(flash), points, server.url("esp32c3.bin"), CA["pem"])
    lines = [json.loads(line) for line in micropython.run(code).splitlines()]
    results, boots = lines[0::2], lines[1::2]
    assert [r[0] for r in results] == points
    for n, cause, msg in results:
        # Early drops may land in the header check ("truncated") or the HTTP framing.
        assert cause in ("connection", "truncated"), (n, cause, msg)
    assert all(b == ["boot", "ota_0"] for b in boots)
    assert (flash / "ota_0.bin").read_bytes() == (images / "old.bin").read_bytes()
    assert otadata(flash)[1] is None


def test_stalled_server_times_out_within_the_limit(micropython, flash, images, server):
    url = server.url("esp32c3.bin", stall=50000, stall_s=5)
    r = attempt(micropython, flash, url, timeout_ms=400)
    assert_untouched(r, flash, images, "timeout")
    assert r["error"] == "timeout: no data for 400 ms"
    assert 400 <= r["ms"] < 3000, r["ms"]
    assert r["status"]["bytes"] >= 45056  # the blocks before the stall were written


def test_second_update_while_one_waits_for_reboot_is_refused(micropython, flash, server):
    """ota_1 holds an update that boots next: overwriting it would break the boot record."""
    code = """
from wifimgr import partition, ota
partition.setup(%r)
print(ota.update(%r, reboot=False, ca=%r))
try:
    ota.update(%r, reboot=False, ca=%r)
except ota.OTAError as e:
    print(e)
print(partition.Partition(partition.BOOT).info()[4])
""" % (str(flash), server.url("esp32c3.bin"), CA["pem"], server.url("esp32c3.bin"), CA["pem"])
    assert micropython.run(code).splitlines() == [
        "ota_1",
        "pending: ota_1 already holds an update that boots next: reboot first",
        "ota_1",
    ]


def test_image_larger_than_the_slot_is_refused(micropython, tmp_path, images, server):
    flash = make_flash(tmp_path / "f", (images / "old.bin").read_bytes(), chip=CHIP)
    cfg = json.loads((flash / "flash.json").read_text())
    cfg["slot_size"] = 64 * 1024
    (flash / "flash.json").write_text(json.dumps(cfg))
    for faults in ({}, {"chunked": 1}):
        r = attempt(micropython, flash, server.url("esp32c3.bin", **faults))
        assert r["cause"] == "length" and r["boot_after"] == "ota_0", r


def test_progress_callback_reports_bytes_percent_rate(micropython, flash, server):
    code = """
import json
from wifimgr import partition, ota
partition.setup(%r)
seen = []
ota.update(%r, reboot=False, ca=%r,
           progress=lambda s: seen.append((s["bytes"], s["percent"], s["rate"])))
print(json.dumps(seen))
""" % (str(flash), server.url("esp32c3.bin"), CA["pem"])
    seen = json.loads(micropython.run(code))
    assert len(seen) >= 3
    assert [s[0] for s in seen] == sorted(s[0] for s in seen)
    assert seen[-1][1] == 100 and seen[0][1] < 100
    assert all(s[2] >= 0 for s in seen)


# ---- power loss --------------------------------------------------------------------------------


def test_power_loss_at_20_random_points_boots_the_old_image(micropython, tmp_path, images, server):
    """Seeded points over every byte the update programs, four of them inside the otadata
    write of set_boot(); after each the bootloader runs the old image, which is intact, and a
    new attempt then succeeds."""
    old = (images / "old.bin").read_bytes()
    url = server.url("esp32c3.bin")
    sha = digest(images, "esp32c3.bin")
    probe = make_flash(tmp_path / "probe", old, chip=CHIP)
    total = int(
        micropython.run(
            """
from wifimgr import partition, ota
partition.setup(%r)
partition.power_fail_after(1 << 30)   # count as a torn write would: erase, then program
ota.update(%r, reboot=False, ca=%r)
print(partition.programmed)
"""
            % (str(probe), url, CA["pem"])
        )
    )
    rng = random.Random(7)
    otadata_write = 4096 + 32
    points = sorted(rng.sample(range(total - otadata_write), 16))
    points += sorted(rng.sample(range(total - otadata_write, total), 4))
    flashes = [make_flash(tmp_path / ("p%d" % i), old, chip=CHIP) for i in range(len(points))]
    code = """
import json
from wifimgr import partition, ota
for path, n in %r:
    partition.setup(path)
    partition.power_fail_after(n)
    try:
        ota.update(%r, sha256=%r, reboot=False, ca=%r)
        lost = False
    except partition.PowerLoss:
        lost = True
    partition.power_fail_after(-1)
    slot = partition.boot()          # power comes back
    print(json.dumps([n, lost, slot, ota.status()["running"]]))
print(ota.update(%r, sha256=%r, reboot=False, ca=%r))
""" % (
        [(str(f), n) for f, n in zip(flashes, points, strict=True)],
        url,
        sha,
        CA["pem"],
        url,
        sha,
        CA["pem"],
    )
    lines = micropython.run(code).splitlines()
    for line, n in zip(lines[:-1], points, strict=True):
        assert json.loads(line) == [n, True, 0, "ota_0"], line
    assert lines[-1] == "ota_1"  # the last device updates fine once power stays on
    for f in flashes[:-1]:
        assert (f / "ota_0.bin").read_bytes() == old
        assert otadata(f)[1] is None


# ---- rollback gated on health ------------------------------------------------------------------

GUARD = """
import asyncio, json
from wifimgr import partition, ota, sim
partition.setup(%(flash)r)
if %(update)r:
    ota.update(%(url)r, reboot=False, ca=%(ca)r)
    print(json.dumps(["booted", partition.boot(), ota.pending_verify()]))   # power cycle
clock = sim.VirtualClock()
sim.install(sim.load_scenario(%(scenario)r), clock)
import network
sta = network.WLAN(network.STA_IF)
sta.active(True)
sta.connect("Meadowbrook", "tulip-garden-42")

def healthy():
    clock.advance(250)   # the radio's time moves 250 ms per poll
    return sta.isconnected()

try:
    r = asyncio.run(
        ota.guard(healthy, deadline_ms=%(deadline)d, health_url=%(health)r, poll_ms=10,
                  ca=%(ca)r))
except SystemExit as e:
    r = "reset %%d" %% e.args[0]
print(json.dumps(["guard", r, partition.state_of(1)]))
print(json.dumps(["next boot", partition.boot(), partition.state_of(1), ota.status()]))
"""


def guard(micropython, flash, server, scenario, deadline=3000, health=None, update=True):
    code = GUARD % {
        "flash": str(flash),
        "url": server.url("esp32c3.bin"),
        "scenario": str(SCENARIOS / scenario),
        "deadline": deadline,
        "health": health,
        "update": update,
        "ca": CA["pem"],
    }
    return [json.loads(line) for line in micropython.run(code).splitlines()]


def test_new_image_that_rejoins_wifi_is_kept(micropython, flash, server):
    out = guard(micropython, flash, server, "home.json")
    assert out[0] == ["booted", 1, True]
    assert out[1] == ["guard", "valid", "valid"]
    assert out[2][:3] == ["next boot", 1, "valid"]
    assert out[2][3]["pending_verify"] is False and out[2][3]["rolled_back"] is False


def test_new_image_that_never_rejoins_wifi_is_rolled_back(micropython, flash, server):
    """No access point in range: at the deadline the guard resets, and the bootloader, finding
    the image still pending, aborts it and boots the old one."""
    out = guard(micropython, flash, server, "empty.json", deadline=300)
    assert out[0] == ["booted", 1, True]
    assert out[1] == ["guard", "reset 3", "pending_verify"]
    assert out[2][:3] == ["next boot", 0, "aborted"]
    assert out[2][3]["rolled_back"] is True and out[2][3]["running"] == "ota_0"


def test_unreachable_health_url_rolls_back_even_on_wifi(micropython, flash, server):
    out = guard(
        micropython, flash, server, "home.json", deadline=400, health="http://127.0.0.1:9/"
    )
    assert out[1] == ["guard", "reset 3", "pending_verify"]
    assert out[2][:3] == ["next boot", 0, "aborted"]


def test_reachable_health_url_keeps_the_image(micropython, flash, server):
    out = guard(micropython, flash, server, "home.json", health=server.url("health"))
    assert out[1] == ["guard", "valid", "valid"]


def test_guard_on_a_valid_image_does_nothing(micropython, flash, server):
    """Without a pending update a WiFi outage at boot must not reboot the device (no loop)."""
    out = guard(micropython, flash, server, "empty.json", deadline=200, update=False)
    assert out[0] == ["guard", "not_pending", None]
    assert out[1][:2] == ["next boot", 0]


def test_reboots_across_processes_roll_back(micropython, flash, server):
    """update(reboot=True) ends the process like machine.reset(); each new process is a new
    power-on of the same flash."""
    first = micropython.run(
        "from wifimgr import partition, ota\npartition.setup(%r)\nota.update(%r, ca=%r)\n"
        % (str(flash), server.url("esp32c3.bin"), CA["pem"]),
        check=False,
    )
    assert first.returncode == 3, first.stderr
    code = GUARD % {
        "flash": str(flash),
        "url": "",
        "scenario": str(SCENARIOS / "empty.json"),
        "deadline": 200,
        "health": None,
        "update": False,
        "ca": CA["pem"],
    }
    out = [json.loads(line) for line in micropython.run(code).splitlines()]
    assert out[0] == ["guard", "reset 3", "pending_verify"]
    third = micropython.run(
        "from wifimgr import partition, ota\npartition.setup(%r)\nprint(ota.status()['running'])"
        % str(flash)
    )
    assert third.strip() == "ota_0"


# ---- update_from_manifest: the release pipeline's own output ----------------------------------

RELEASE = "0.2.0"
APP_PY = b"print('app v2')\n"
INDEX = b"<!doctype html><p>v2</p>\n"


@pytest.fixture(scope="module")
def release(tmp_path_factory):
    """firmware/dist.py output for every build (our images as micropython.bin), then
    `ci/release.sh collect` with filesystem files: the directory a release server publishes."""
    import dist

    import boards

    tmp = tmp_path_factory.mktemp("release")
    esptool = str(Path(sys.executable).with_name("esptool"))
    for b in boards.builds():
        build = tmp / "build" / b["name"]
        (build / "bootloader").mkdir(parents=True)
        image = esp_image.build(b["chip"], SIZE, seed=len(b["name"]), version=RELEASE)
        (build / "micropython.bin").write_bytes(image)
        (build / "bootloader" / "bootloader.bin").write_bytes(image[:4096])
        dist.assemble(b["name"], build, tmp / "dist" / b["name"], RELEASE, esptool)
    files = tmp / "fs"
    (files / "lib").mkdir(parents=True)
    (files / "lib" / "app.py").write_bytes(APP_PY)
    (files / "www").mkdir()
    (files / "www" / "index.html").write_bytes(INDEX)
    out = tmp / "pub"
    return tmp, out, files


@pytest.fixture(scope="module")
def release_server(release, pki):
    tmp, out, files = release
    out.mkdir()
    srv = OtaServer(out, tls=pki.issue("release")[:2])
    subprocess.run(
        [
            str(ROOT / "ci" / "release.sh"),
            "collect",
            tmp / "dist",
            srv.base.rstrip("/"),
            out,
            files,
        ],
        check=True,
        capture_output=True,
    )
    yield srv, out
    srv.stop()


MANIFEST = """
import json, os
from wifimgr import partition, ota
partition.setup(%(flash)r)
for d in ("/lib", "/www"):
    try:
        os.mkdir(%(root)r + d)
    except OSError:
        pass
with open(%(root)r + "/lib/app.py", "w") as f:
    f.write("print('app v1')\\n")
out = {}
try:
    out["result"] = ota.update_from_manifest(%(url)r, reboot=False, fs_root=%(root)r, **%(kw)s)
except ota.OTAError as e:
    out["cause"], out["error"] = e.cause, str(e)
out["boot"] = partition.Partition(partition.BOOT).info()[4]
out["status"] = ota.status()
print(json.dumps(out))
"""


def from_manifest(micropython, tmp_path, url, chip=CHIP, flash_size="4MB", build=None, **kw):
    flash = make_flash(
        tmp_path / "flash",
        b"\xe9" + b"\0" * 4095,
        chip=chip,
        flash_size=flash_size,
        build=build,
    )
    root = tmp_path / "fs"
    root.mkdir(exist_ok=True)
    if "pin" not in kw:
        kw.setdefault("ca", CA["pem"])
    code = MANIFEST % {"flash": str(flash), "root": str(root), "url": url, "kw": repr(kw)}
    return json.loads(micropython.run(code).splitlines()[-1]), flash, root


def app_image(release, board):
    return (release[0] / "dist" / board / "micropython.bin").read_bytes()


@pytest.mark.parametrize(
    "chip,flash_size,board",
    [
        ("esp32c3", "4MB", "WIFIMGR_ESP32C3"),
        ("esp32s3", "8MB", "WIFIMGR_ESP32S3"),
        ("esp32s3", "16MB", "WIFIMGR_ESP32S3-FLASH_16M"),
        # The 8 MB build on a 16 MB module: the build name picks, not the flash chip.
        ("esp32s3", "16MB", "WIFIMGR_ESP32S3"),
    ],
)
def test_manifest_update_picks_this_board_and_writes_files(
    micropython, tmp_path, release, release_server, chip, flash_size, board
):
    """The image of this build (platform.build(): sys.implementation._build on a device, the
    release's board name), whatever size the flash chip is (esp.flash_size())."""
    srv, _out = release_server
    r, flash, root = from_manifest(
        micropython, tmp_path, srv.url("ota.json"), chip, flash_size, board
    )
    assert r.get("result") == RELEASE, r
    assert r["boot"] == "ota_1" and r["status"]["board"] == board
    image = app_image(release, board)
    assert (flash / "ota_1.bin").read_bytes()[: len(image)] == image
    assert (root / "lib" / "app.py").read_bytes() == APP_PY
    assert (root / "www" / "index.html").read_bytes() == INDEX
    # The previous version stays until the new firmware proves healthy (guard settles it).
    assert sorted(p.name for p in (root / "lib").iterdir()) == ["app.py", "app.py.bak"]
    assert json.loads((root / "ota_files.json").read_text()) == {
        "slot": "ota_1",
        "files": [[str(root / "lib" / "app.py"), True], [str(root / "www" / "index.html"), False]],
    }


def test_manifest_not_newer_is_skipped(micropython, tmp_path, release_server):
    srv, out = release_server
    m = json.loads((out / "ota.json").read_text())
    m["version"] = "0.1.0"  # the running package's version
    (out / "same.json").write_text(json.dumps(m))
    r, flash, root = from_manifest(micropython, tmp_path, srv.url("same.json"))
    assert r["result"] is None and r["boot"] == "ota_0"
    assert r["status"]["state"] == "up_to_date" and r["status"]["offered"] == "0.1.0"
    assert (root / "lib" / "app.py").read_bytes() == b"print('app v1')\n"
    assert not (flash / "ota_1.bin").exists()


def test_manifest_with_a_bad_file_digest_changes_nothing(micropython, tmp_path, release_server):
    """The image verifies, a file does not: no file is replaced, nothing is staged, and the
    boot record still names the running image."""
    srv, out = release_server
    m = json.loads((out / "ota.json").read_text())
    m["filesystem"][1]["sha256"] = "0" * 64
    (out / "badfile.json").write_text(json.dumps(m))
    r, _flash, root = from_manifest(micropython, tmp_path, srv.url("badfile.json"))
    assert r["cause"] == "sha256" and "/www/index.html" in r["error"], r
    assert r["boot"] == "ota_0"
    assert (root / "lib" / "app.py").read_bytes() == b"print('app v1')\n"
    assert sorted(p.name for p in root.rglob("*") if p.is_file()) == ["app.py"]


@pytest.mark.parametrize(
    "change,cause",
    [
        (lambda m: m["boards"]["WIFIMGR_ESP32C3"].update(sha256="1" * 64), "sha256"),
        (lambda m: m["boards"]["WIFIMGR_ESP32C3"].update(length=1000), "length"),
        (lambda m: m["boards"].pop("WIFIMGR_ESP32C3"), "board"),
        (lambda m: m["boards"]["WIFIMGR_ESP32C3"].pop("sha256"), "manifest"),
        (
            lambda m: m["filesystem"].append({"path": "/../x", "url": "x", "sha256": ""}),
            "manifest",
        ),
        (lambda m: m.update(version="two"), "manifest"),
        (lambda m: m.update(format=2), "manifest"),
    ],
)
def test_bad_manifests_are_refused(micropython, tmp_path, release_server, change, cause):
    srv, out = release_server
    m = json.loads((out / "ota.json").read_text())
    change(m)
    (out / "bad.json").write_text(json.dumps(m))
    r, _flash, root = from_manifest(micropython, tmp_path, srv.url("bad.json"))
    assert r.get("cause") == cause, r
    assert r["boot"] == "ota_0"
    assert (root / "lib" / "app.py").read_bytes() == b"print('app v1')\n"


def test_per_board_dist_manifest_works_too(micropython, tmp_path, release, release_server):
    """firmware/dist/<board>/manifest.json served as it is: the app image sits next to it."""
    srv, out = release_server
    board_dir = out / "dist-c3"
    board_dir.mkdir(exist_ok=True)
    for name in ("manifest.json", "micropython.bin"):
        (board_dir / name).write_bytes(
            (release[0] / "dist" / "WIFIMGR_ESP32C3" / name).read_bytes()
        )
    r, flash, _root = from_manifest(micropython, tmp_path, srv.url("dist-c3/manifest.json"))
    assert r.get("result") == RELEASE and r["boot"] == "ota_1", r
    image = app_image(release, "WIFIMGR_ESP32C3")
    assert (flash / "ota_1.bin").read_bytes()[: len(image)] == image


# ---- RAM ---------------------------------------------------------------------------------------


def test_heap_stays_bounded_during_a_1_2_mb_update(micropython, tmp_path, plain, images):
    """The image never sits in RAM: a 1.2 MB update (plain HTTP with its digest) needs less
    than 16 KiB of heap above idle (sampled at every 4 KiB flash access, collector every 2 KiB
    of allocation)."""
    big = images / "big.bin"
    if not big.exists():
        big.write_bytes(esp_image.build(CHIP, 1200 * 1024, seed=3))
    flash = make_flash(tmp_path / "f", (images / "old.bin").read_bytes(), chip=CHIP)
    out = micropython.run(
        HEAP_SCRIPT
        % {
            "flash": str(flash),
            "url": plain.url("big.bin"),
            "sha256": digest(images, "big.bin"),
            "ca": None,
        }
    )
    r = json.loads(out)
    assert r["bytes"] == big.stat().st_size > 1024 * 1024
    assert 4096 <= r["peak"] <= 16 * 1024, r  # at least the block buffer, at most 16 KiB


# ---- asyncio -----------------------------------------------------------------------------------

AIO = """
import asyncio, json
from wifimgr import partition, ota
partition.setup(%(flash)r)
ticks = 0

async def ticker():
    global ticks
    while True:
        ticks += 1
        await asyncio.sleep_ms(1)

async def main():
    t = asyncio.create_task(ticker())
    out = {}
    try:
        out["result"] = await ota.aupdate(%(url)r, reboot=False, timeout_ms=400, ca=%(ca)r)
    except ota.OTAError as e:
        out["cause"] = e.cause
    t.cancel()
    out["ticks"] = ticks
    out["boot"] = partition.Partition(partition.BOOT).info()[4]
    return out

print(json.dumps(asyncio.run(main())))
"""


@pytest.mark.parametrize(
    "faults,cause",
    [
        ({"rate": 2_000_000}, None),
        ({"chunked": 1, "redirect": 2}, None),
        ({"stall": 9000}, "timeout"),
    ],
)
def test_aupdate_lets_other_tasks_run(micropython, flash, server, faults, cause):
    """Inside asyncio the download yields: a 1 ms ticker keeps running (a 2 MB/s paced
    download takes about 80 ms), and a stalled server still times out."""
    url = server.url("esp32c3.bin", **faults)
    r = json.loads(micropython.run(AIO % {"flash": str(flash), "url": url, "ca": CA["pem"]}))
    if cause is None:
        assert r.get("result") == "ota_1" and r["boot"] == "ota_1", r
    else:
        assert r.get("cause") == cause and r["boot"] == "ota_0", r
    assert r["ticks"] >= (1 if "chunked" in faults else 10), r


def test_version_order(micropython):
    out = micropython.run(
        """
from wifimgr.ota import parse_version as v, OTAError
print(v("0.2.0") > v("0.1.0"), v("1.2") == v("1.2.0"), v("1.10.0") > v("1.9.9"))
print(v("1.3.0-rc1") < v("1.3.0"), v("v1.3.0") == v("1.3.0"), v("0.1.0") > v("0.1.0"))
try:
    v("two")
except OTAError as e:
    print(e)
"""
    )
    assert out.splitlines() == [
        "True True True",
        "True True False",
        "manifest: version 'two' is not numbers separated by dots",
    ]


def test_unreadable_manifests_are_refused(micropython, tmp_path, release_server):
    srv, out = release_server
    (out / "notjson.json").write_text("<html>captive portal login</html>")
    m = json.loads((out / "ota.json").read_text())
    m["padding"] = "x" * 20000
    (out / "huge.json").write_text(json.dumps(m))
    for name, error in (
        ("notjson.json", "manifest: %s is not JSON"),
        ("huge.json", "manifest: %s is larger than 16384 bytes"),
        ("absent.json", "http: %s answered 404"),
    ):
        r, _flash, _root = from_manifest(micropython, tmp_path, srv.url(name))
        assert r.get("error") == error % srv.url(name) and r["boot"] == "ota_0", r


# ---- malformed HTTP ----------------------------------------------------------------------------

CANNED = {
    "/garbage": b"SSH-2.0-OpenSSH_9.6\r\n",
    "/status": b"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\n\r\n",
    "/badlength": b"HTTP/1.1 200 OK\r\nContent-Length: -5\r\n\r\n",
    "/badchunk": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
    "/nocrlf": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabXY3\r\n",
    "/longheader": b"HTTP/1.1 200 OK\r\nX-Pad: " + b"a" * 600 + b"\r\n\r\n",
    "/nolocation": b"HTTP/1.1 302 Found\r\nContent-Length: 0\r\n\r\n",
    "/headcut": b"HTTP/1.1 200 OK\r\nContent-Le",
    "/tiny": b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\n\xe9\x01\x02",
}


@pytest.fixture(scope="module")
def canned():
    import socket
    import threading

    srv = socket.create_server(("127.0.0.1", 0))

    def serve():
        while True:
            try:
                conn, _ = srv.accept()
            except OSError:
                return
            with conn:
                path = conn.recv(4096).split(b" ")[1].decode()
                conn.sendall(CANNED[path])

    threading.Thread(target=serve, daemon=True).start()
    yield "http://127.0.0.1:%d" % srv.getsockname()[1]
    srv.close()


@pytest.mark.parametrize(
    "path,error",
    [
        ("/garbage", "http: %s did not answer HTTP: b'SSH-2.0-OpenSSH_9.6'"),
        ("/status", "http: %s answered 500"),
        ("/badlength", "http: bad Content-Length b'-5'"),
        ("/badchunk", "http: bad chunk size line b'zz'"),
        ("/nocrlf", "http: chunk not followed by CRLF"),
        ("/longheader", "http: header line longer than 512 bytes"),
        ("/nolocation", "http: redirect 302 without Location from %s"),
        ("/headcut", "connection: closed in the middle of the HTTP header"),
        ("/tiny", "truncated: only 3 bytes arrived"),
    ],
)
def test_malformed_http_is_named(micropython, flash, images, canned, path, error):
    url = canned + path
    r = attempt(micropython, flash, url, sha256="00" * 32)  # plain HTTP needs a digest
    assert r["error"] == (error % url if "%s" in error else error)
    assert_untouched(r, flash, images, error.split(":")[0])


def test_status_and_guard_on_a_host_without_flash_create_nothing(micropython, tmp_path):
    """wifimgr.start() runs the guard on every boot; on the unix port without a flash
    directory it must neither fail nor create one."""
    out = micropython.run(
        """
import asyncio
from wifimgr import ota
print(asyncio.run(ota.guard(lambda: False, deadline_ms=10)), ota.status())
"""
    )
    assert out.strip() == "not_pending {'state': 'idle'}"
    assert not (tmp_path / "flash").exists()


FILES_FOLLOW = """
import asyncio, json, os
from wifimgr import partition, ota
partition.setup(%(flash)r)
root = %(root)r
for d in ("/lib", "/www"):
    os.mkdir(root + d)
with open(root + "/lib/app.py", "w") as f:
    f.write("print('app v1')\\n")
print(ota.update_from_manifest(%(url)r, reboot=False, fs_root=root, ca=%(ca)r))
print(json.dumps(sorted(os.listdir(root + "/lib"))))
partition.boot()                            # the device restarts into the new image
try:
    r = asyncio.run(ota.guard(lambda: %(healthy)r, deadline_ms=200, poll_ms=10, fs_root=root))
except SystemExit:
    partition.boot()                        # rolled back: the old image runs
    r = "reset, then " + asyncio.run(ota.guard(lambda: True, deadline_ms=200, fs_root=root))
print(r)
print(open(root + "/lib/app.py").read().strip())
print(json.dumps([sorted(os.listdir(root + d)) for d in ("", "/lib", "/www")]))
"""


@pytest.mark.parametrize("healthy", [True, False])
def test_filesystem_files_follow_the_firmware(micropython, tmp_path, release_server, healthy):
    """Kept with the image that proves healthy; restored (and new ones removed) when the
    image is rolled back, by the old firmware at its next boot."""
    srv, _out = release_server
    flash = make_flash(tmp_path / "flash", b"\xe9" + b"\0" * 4095, chip=CHIP)
    root = tmp_path / "fs"
    root.mkdir()
    code = FILES_FOLLOW % {
        "flash": str(flash),
        "root": str(root),
        "url": srv.url("ota.json"),
        "healthy": healthy,
        "ca": CA["pem"],
    }
    out = micropython.run(code).splitlines()
    assert out[:2] == [RELEASE, '["app.py", "app.py.bak"]']
    if healthy:
        assert out[2:] == [
            "valid",
            "print('app v2')",
            '[["lib", "www"], ["app.py"], ["index.html"]]',
        ]
    else:
        assert out[2:] == [
            "reset, then not_pending",
            "print('app v1')",
            '[["lib", "www"], ["app.py"], []]',
        ]


# ---- wifimgr.start() runs the guard ------------------------------------------------------------

STARTED = """
from wifimgr import partition, ota
partition.setup(%(flash)r)
ota.update(%(url)r, reboot=False, ca=%(ca)r)
partition.boot()                      # the device restarts into the new image
with open("wifimgr.json", "w") as f:
    json.dump({"known_networks": [{"ssid": "Home", "password": "correct-horse"}],
               "ota_guard_s": 10, "ota_health_url": %(health)r, "ota_ca": %(ca)r}, f)
radio(%(aps)s)
import wifimgr
m = wifimgr.start("wifimgr.json", serve="never", clock=clock, ota_guard=True)

async def main():
    for _ in range(2000):             # 100 s of virtual time at most
        clock.advance(50)
        await asyncio.sleep_ms(0)
        if m._guard_task.done():
            break

try:
    asyncio.run(main())
    r = ota.status()["state"]
except SystemExit as e:
    r = "reset %%d" %% e.args[0]
out([r, partition.state_of(1), m._status()["state"] == "connected", clock.now_ms()])
"""


@pytest.mark.parametrize(
    "aps,health,expect",
    [
        ('[ap("Home")]', None, ["valid", "valid", True]),
        ("[]", None, ["reset 3", "pending_verify", False]),
        ('[ap("Home")]', "health", ["valid", "valid", True]),
        ('[ap("Home")]', "missing", ["reset 3", "pending_verify", True]),
    ],
)
def test_start_keeps_or_rolls_back_a_new_image(micropython, flash, server, aps, health, expect):
    """The real wifimgr.ota under wifimgr.start(ota_guard=True) (the default on an ESP32) with
    the configuration's ota_guard_s (10 s) and ota_health_url: back on WiFi (and the health URL
    answering 200), the new image is marked valid; with no network, or a health URL answering
    404, the device resets at the deadline while the image is still pending, so the bootloader
    rolls it back."""
    from helpers.pkg import PRELUDE

    code = PRELUDE + STARTED % {
        "flash": str(flash),
        "url": server.url("esp32c3.bin"),
        "aps": aps,
        "health": health and server.url(health),
        "ca": CA["pem"],
    }
    r = json.loads(micropython.run(code).strip().splitlines()[-1])
    assert r[:3] == expect
    if expect[0].startswith("reset"):
        # Not before ota_guard_s on the device's clock, and before the 120 s default (the
        # clock runs on while a health request waits, so the overshoot depends on the host).
        assert 10000 <= r[3] < 120000


# ---- Manager.ota_update: what the portal's update form runs ------------------------------------

UPDATE_FORM = """
from wifimgr import partition, ota
partition.setup(%(flash)r)
radio([])
with open("wifimgr.json", "w") as f:
    json.dump({"ota_ca": %(ca)r}, f)
from wifimgr.manager import Manager
m = Manager("wifimgr.json", clock=clock, uid=UID)
m.start(serve="never")
seen = []

async def main():
    m.ota_update(%(url)r)
    try:
        m.ota_update(%(url)r)
    except OSError as e:
        seen.append(str(e))
    for _ in range(30000):  # until the restart ends the process (SystemExit) or 30 s or more
        s = m.status()["ota"]
        step = [s["state"], s.get("percent")]
        if not seen or seen[-1] != step:
            seen.append(step)
        if s["state"] in ("failed", "up_to_date"):
            break
        await asyncio.sleep_ms(1)

try:
    asyncio.run(main())
    r = "running"
except SystemExit as e:
    r = "reset %%d" %% e.args[0]
s = m.status()["ota"]
out([r, seen, s.get("error"), partition.Partition(partition.BOOT).info()[4], s.get("version")])
"""


def update_form(micropython, flash, url):
    from helpers.pkg import PRELUDE

    code = PRELUDE + UPDATE_FORM % {"flash": str(flash), "url": url, "ca": CA["pem"]}
    return json.loads(micropython.run(code).strip().splitlines()[-1])


def test_update_form_installs_an_image_then_restarts(micropython, flash, server):
    """An app image URL: the progress goes through downloading (with its percentage) and
    verifying to done, a second update meanwhile is refused, then the device restarts into
    the new slot."""
    r, seen, error, boot, _ = update_form(
        micropython, flash, server.url("esp32c3.bin", rate=400000)
    )
    assert r == "reset 3" and boot == "ota_1" and error is None
    assert seen[0] == "ota_update: an update is already running"
    states = [s for s, _ in seen[1:]]
    assert states[0] == "running" and states[-1] == "done" and "downloading" in states, seen
    percents = [p for s, p in seen[1:] if s == "downloading"]
    assert percents == sorted(percents) and len(set(percents)) >= 2, seen


def test_update_progress_moves_in_small_steps(micropython, flash, server):
    """The percentage the portal polls grows with every 4 KiB block written (issue 17: it
    jumped 2 % -> 35 % -> 68 %, one step per 64 KiB of a 160 KiB image), so a slow download
    shows that it is alive."""
    r, seen, error, _boot, _ = update_form(
        micropython, flash, server.url("esp32c3.bin", rate=200000)
    )
    assert r == "reset 3" and error is None, (r, error)
    percents = [p for s, p in seen[1:] if s == "downloading"]
    steps = [b - a for a, b in zip(percents, percents[1:], strict=False)]
    assert len(set(percents)) >= 10 and max(steps) <= 5, percents


def test_update_form_reports_a_bad_image_and_keeps_running(micropython, flash, server):
    r, seen, error, boot, _ = update_form(
        micropython, flash, server.url("esp32c3.bin", corrupt=5000)
    )
    assert r == "running" and boot == "ota_0"
    assert seen[-1][0] == "failed" and error.startswith("checksum: image checksum is"), error


def test_update_form_follows_a_release_manifest(micropython, tmp_path, release_server):
    """A URL ending in .json is a release manifest: this board's image is installed with its
    filesystem files, in directories the device did not have yet (and the device restarts); a
    manifest that is not newer leaves everything as it is."""
    srv, out = release_server
    flash = make_flash(tmp_path / "flash", b"\xe9" + b"\0" * 4095, chip=CHIP)
    r, seen, error, boot, version = update_form(micropython, flash, srv.url("ota.json"))
    assert (r, error, boot, version) == ("reset 3", None, "ota_1", RELEASE), (seen, error)
    assert (micropython.tmp_path / "lib" / "app.py").read_bytes() == APP_PY
    assert (micropython.tmp_path / "www" / "index.html").read_bytes() == INDEX
    m = json.loads((out / "ota.json").read_text())
    m["version"] = "0.1.0"  # the running package's version
    (out / "same-form.json").write_text(json.dumps(m))
    flash = make_flash(tmp_path / "flash2", b"\xe9" + b"\0" * 4095, chip=CHIP)
    r, seen, error, boot, _ = update_form(micropython, flash, srv.url("same-form.json"))
    assert (r, seen[-1][0], boot) == ("running", "up_to_date", "ota_0")


# ---- what vouches for an update ----------------------------------------------------------------


@pytest.fixture(scope="module")
def bad_servers(images, pki, tmp_path_factory):
    """HTTPS servers the device must refuse: a certificate of another CA, an expired one, one
    for another name; and the `pin` of the good server's certificate."""
    other = LocalCA(tmp_path_factory.mktemp("other-ca"), "another CA")
    servers = {
        "other_ca": OtaServer(images, tls=other.issue("stranger")[:2]),
        "expired": OtaServer(images, tls=pki.issue("expired", days=(-10, -5))[:2]),
        "wrong_name": OtaServer(images, tls=pki.issue("elsewhere", hosts=("ota.example",))[:2]),
    }
    yield servers
    for srv in servers.values():
        srv.stop()


@pytest.fixture(scope="module")
def pinned(images, pki):
    cert, key, pin = pki.issue("pinned")
    srv = OtaServer(images, tls=(cert, key))
    yield srv, pin
    srv.stop()


def test_https_with_the_right_ca_installs(micropython, flash, images, server):
    name = "%s.bin" % CHIP
    r = attempt(micropython, flash, server.url(name))
    assert r.get("result") == "ota_1", r
    assert (flash / "ota_1.bin").read_bytes()[: (images / name).stat().st_size] == (
        images / name
    ).read_bytes()


@pytest.mark.parametrize(
    "which,host,error",
    [
        # modtls_mbedtls.c raises mbedtls_x509_crt_verify_info()'s lines; ota names them.
        ("other_ca", "127.0.0.1", "certificate not trusted (not signed by ota_ca)"),
        ("expired", "127.0.0.1", "certificate expired"),
        ("wrong_name", "127.0.0.1", "wrong name: the certificate is not for 127.0.0.1"),
    ],
)
def test_https_servers_failing_the_ca_check_are_refused(
    micropython, flash, images, bad_servers, which, host, error
):
    """Even with the image's right digest: the server is not who it must be."""
    name = "%s.bin" % CHIP
    r = attempt(micropython, flash, bad_servers[which].url(name), sha256=digest(images, name))
    assert_untouched(r, flash, images, "tls")
    assert r["error"] == "tls: %s: %s" % (host, error)
    assert r["status"]["bytes"] == 0


def test_a_pinned_certificate_installs_and_another_is_refused(
    micropython, flash, images, pinned, server
):
    """ota_pin alone: the server's own certificate must have that SHA-256 (its CA does not
    matter); colons between the bytes are fine. The good server's certificate is another one."""
    srv, pin = pinned
    colons = ":".join(pin[i : i + 2] for i in range(0, 64, 2)).upper()
    r = attempt(micropython, flash, srv.url("%s.bin" % CHIP), pin=colons)
    assert r.get("result") == "ota_1", r
    flash2 = make_flash(flash.parent / "f2", (images / "old.bin").read_bytes(), chip=CHIP)
    r = attempt(micropython, flash2, server.url("%s.bin" % CHIP), pin=pin)
    assert_untouched(r, flash2, images, "tls")
    assert r["error"].startswith("tls: certificate of 127.0.0.1 does not match ota_pin: its ")


@pytest.mark.parametrize(
    "scheme,kw,expect",
    [
        ("http", {}, "insecure"),
        ("http", {"sha256": "digest"}, "ota_1"),
        ("http", {"sha256": "00" * 32}, "sha256"),
        ("https", {"ca": None}, "insecure"),  # no ota_ca, no ota_pin: nothing checks the server
        ("https", {"ca": None, "sha256": "digest"}, "ota_1"),
    ],
)
def test_without_a_verified_server_only_a_given_digest_lets_an_image_in(
    micropython, flash, images, server, plain, scheme, kw, expect
):
    name = "%s.bin" % CHIP
    if kw.get("sha256") == "digest":
        kw["sha256"] = digest(images, name)
    url = (plain if scheme == "http" else server).url(name)
    r = attempt(micropython, flash, url, **kw)
    if expect == "ota_1":
        assert r.get("result") == "ota_1", r
        return
    assert_untouched(r, flash, images, expect)
    if expect == "insecure":
        assert r["error"].startswith("insecure: %s: " % url), r
        assert r["error"].endswith(
            "; give the SHA-256 of what it serves, or an https:// URL with ota_ca or ota_pin"
        )
        assert r["status"]["bytes"] == 0


def test_https_redirected_to_http_needs_the_digest(micropython, flash, images, server, plain):
    """Each hop is checked on its own: a verified server cannot hand the download over to
    plain HTTP unless the caller has the image's digest."""
    name = "%s.bin" % CHIP
    url = server.url(name, to=plain.url(name))
    r = attempt(micropython, flash, url)
    assert_untouched(r, flash, images, "insecure")
    assert r["error"].startswith("insecure: %s: plain HTTP lets anyone" % plain.url(name)), r
    r = attempt(micropython, flash, url, sha256=digest(images, name))
    assert r.get("result") == "ota_1", r


def test_manifest_over_http_needs_its_digest(micropython, tmp_path, release_server):
    """A manifest over plain HTTP is refused; with its SHA-256 from the caller it vouches for
    the image it names (here on the HTTPS server, no CA needed)."""
    _srv, out = release_server
    doc = (out / "ota.json").read_bytes()
    helper = OtaServer(out)
    try:
        url = helper.url("ota.json")
        r, _flash, _root = from_manifest(micropython, tmp_path, url, ca=None)
        assert r.get("cause") == "insecure" and r["boot"] == "ota_0", r
        r, _flash, _root = from_manifest(
            micropython, tmp_path, url, ca=None, sha256=hashlib.sha256(doc).hexdigest()
        )
        assert r.get("result") == RELEASE and r["boot"] == "ota_1", r
        r, _flash, _root = from_manifest(micropython, tmp_path, url, ca=None, sha256="0" * 64)
        assert r.get("cause") == "sha256" and "manifest SHA-256 is" in r["error"], r
    finally:
        helper.stop()


def test_ca_file_problems_are_named(micropython, flash, images, server, tmp_path):
    (tmp_path / "empty.pem").write_text("no certificate here\n")
    for ca, error in (
        (
            str(tmp_path / "absent.pem"),
            "tls: ota_ca %s cannot be read" % (tmp_path / "absent.pem"),
        ),
        (
            str(tmp_path / "empty.pem"),
            "tls: ota_ca %s holds no PEM certificate" % (tmp_path / "empty.pem"),
        ),
    ):
        r = attempt(micropython, flash, server.url("%s.bin" % CHIP), ca=ca)
        assert r["error"].startswith(error), r
        assert_untouched(r, flash, images, "tls")
    r = attempt(micropython, flash, server.url("%s.bin" % CHIP), pin="12" * 31)
    assert r["error"].startswith("tls: pin: must be the SHA-256 of a certificate"), r


# ---- credentials in URLs -----------------------------------------------------------------------


def test_url_credentials_are_sent_but_never_shown(micropython, flash, images, server, plain):
    """user:password@ (percent-decoded) goes to the server as Basic authorization; status()
    and errors carry the URL without it."""
    name = "%s.bin" % CHIP
    shown = server.url(name, auth=base64.b64encode(b"ota-user:hunter2@secret").decode())
    good = shown.replace("https://", "https://ota-user:hunter2%40secret@")
    r = attempt(micropython, flash, good)
    assert r.get("result") == "ota_1", r
    assert "hunter2" not in json.dumps(r) and r["status"]["url"] == shown
    r = attempt(micropython, flash, good.replace("%40", "%41"))  # "hunter2Asecret"
    assert r["error"] == "http: %s answered 401" % shown, r
    bad = plain.url("missing.bin").replace("http://", "http://ota-user:hunter2-secret@")
    r = attempt(micropython, flash, bad, sha256="00" * 32)
    assert r["cause"] == "http" and "hunter2" not in json.dumps(r), r
    assert r["error"] == "http: %s answered 404" % plain.url("missing.bin")


def test_manager_status_and_log_carry_no_url_credentials(micropython, flash, server):
    """Manager.ota_update (the portal's update form) with a failing image: the status the
    portal shows and the error log line name the URL without its user:password@."""
    from helpers.pkg import PRELUDE

    url = server.url("esp32c3.bin", corrupt=5000)
    secret = url.replace("https://", "https://ota-user:hunter2-secret@")
    code = PRELUDE + UPDATE_FORM % {"flash": str(flash), "url": secret, "ca": CA["pem"]}
    proc = micropython.run(code, check=False)
    r = json.loads(proc.stdout.strip().splitlines()[-1])
    assert r[0] == "running" and r[2].startswith("checksum:"), r
    assert "hunter2" not in proc.stdout + proc.stderr, proc
    assert "ERROR:wifimgr:OTA from %s failed" % url in proc.stderr, proc.stderr


def test_config_takes_https_ca_and_pin_and_urls_are_shown_without_credentials(micropython):
    out = micropython.run(
        """
import json
from wifimgr import config
config.check({"ota_url": "https://u.example/ota.json", "ota_ca": "/certs/ca.pem",
              "ota_pin": ":".join(["AB"] * 32), "ota_health_url": "https://u.example/h"})
for u in ("https://me:pw@h.example:8443/a@b.bin?x=@", "http://h/x", "http://@h/", "x@y"):
    print(config.safe_url(u))
print(config.check_pin(":".join(["AB"] * 32)) == "ab" * 32)
"""
    )
    assert out.splitlines() == [
        "https://h.example:8443/a@b.bin?x=@",
        "http://h/x",
        "http://h/",
        "x@y",
        "True",
    ]


@pytest.mark.parametrize(
    "which,error",
    [
        ("other_ca", "certificate not trusted (not signed by ota_ca)"),
        ("expired", "certificate expired"),
        ("wrong_name", "wrong name: the certificate is not for 127.0.0.1"),
    ],
)
def test_aupdate_refuses_the_same_certificates(micropython, flash, bad_servers, which, error):
    """Inside asyncio (asyncio.open_connection(ssl=...), the portal's path) the handshake
    runs in the stream's first write; the refusal reads the same."""
    code = """
import asyncio, json
from wifimgr import partition, ota
partition.setup(%r)
try:
    asyncio.run(ota.aupdate(%r, reboot=False, ca=%r))
except ota.OTAError as e:
    print(json.dumps([str(e), partition.Partition(partition.BOOT).info()[4]]))
""" % (str(flash), bad_servers[which].url("esp32c3.bin"), CA["pem"])
    assert json.loads(micropython.run(code)) == ["tls: 127.0.0.1: %s" % error, "ota_0"]


# ---- firmware without OTA slots (a stock image's partition table) ------------------------------

NO_SLOTS = "this firmware's partition table has no OTA slots"

FACTORY_BOOT = """
from wifimgr import partition, ota
partition.setup(%(flash)r)
P = partition.Partition
table = {}
for name, make in [("otadata", lambda: P("otadata")), ("boot", lambda: P(P.BOOT)),
                   ("next", lambda: P(P.RUNNING).get_next_update())]:
    try:
        make()
        table[name] = "found"
    except OSError as e:
        table[name] = e.args[0]
table["running"] = P(P.RUNNING).info()[4]
radio([ap("Home")])
with open("wifimgr.json", "w") as f:
    json.dump({"known_networks": [{"ssid": "Home", "password": "correct-horse"}],
               "ota_ca": %(ca)r}, f)
import wifimgr
m = wifimgr.start("wifimgr.json", serve="never", clock=clock, ota_guard=True)

async def main():
    for _ in range(400):
        clock.advance(50)
        await asyncio.sleep_ms(0)
        if m._guard_task.done() and m._status()["state"] == "connected":
            break

asyncio.run(main())
refused = {}
for name, call in [("update", lambda: ota.update(%(url)r, reboot=False, ca=%(ca)r)),
                   ("manifest", lambda: ota.update_from_manifest(%(url)r, reboot=False)),
                   ("manager", lambda: m.ota_update(%(url)r))]:
    try:
        call()
        refused[name] = None
    except ota.OTAError as e:
        refused[name] = [e.cause, str(e)]
    except OSError as e:
        refused[name] = ["OSError", str(e)]
out({"table": table, "status": ota.status(), "manager": m.status()["ota"], "refused": refused,
     "connected": m._status()["state"] == "connected"})
"""


def test_firmware_without_ota_slots_says_so_once_and_logs_no_error(micropython, tmp_path, server):
    """A factory-only table (the esp32 port's partitions-4MiBplus.csv, ESP32_GENERIC's): the
    stand-in raises ENOENT for otadata, BOOT and get_next_update() as esp32_partition.c's
    esp32_partition_new() does for the NULL of esp_ota_get_boot_partition() and
    esp_ota_get_next_update_partition(). Booted with the OTA guard (an ESP32's default), the
    manager logs no error, ota.status() says the firmware cannot update over the air, and
    every way of starting an update is refused with that reason; the flash is untouched."""
    from helpers.pkg import PRELUDE

    image = b"\xe9" + b"\0" * 4095
    flash = make_flash(tmp_path / "flash", image, chip=CHIP, slot_size=0x1F0000, layout="factory")
    code = PRELUDE + FACTORY_BOOT % {
        "flash": str(flash),
        "url": server.url("esp32c3.bin"),
        "ca": CA["pem"],
    }
    proc = micropython.run(code, check=False)
    assert proc.returncode == 0, proc.stderr
    r = json.loads(proc.stdout.strip().splitlines()[-1])
    assert r["table"] == {"otadata": 2, "boot": 2, "next": 2, "running": "factory"}, r
    assert "ERROR" not in proc.stderr and "OTA" not in proc.stderr, proc.stderr
    assert r["connected"], r
    unavailable = {"state": "unavailable", "reason": NO_SLOTS}
    assert r["status"] == unavailable and r["manager"] == unavailable, r
    assert r["refused"] == {
        "update": ["unavailable", "unavailable: " + NO_SLOTS],
        "manifest": ["unavailable", "unavailable: " + NO_SLOTS],
        "manager": ["OSError", "ota_update: " + NO_SLOTS],
    }, r
    assert sorted(p.name for p in flash.iterdir()) == ["factory.bin", "flash.json"]
    assert (flash / "factory.bin").read_bytes() == image


def test_portal_shows_an_update_card_without_ota_slots_as_unavailable(micropython, tmp_path):
    """Over HTTP: the update form's POST /api/ota is refused (409) with the reason, and
    /api/status then carries ota.status()'s "unavailable" for the page's update card."""
    from helpers.portal import Device

    state = tmp_path / "device"
    make_flash(state / "flash", b"\xe9" + b"\0" * 4095, chip=CHIP, layout="factory")
    with Device(micropython, "first-boot", state=state) as dev:
        owner = dev.client()
        assert owner.unlock(dev.setup_key())[0] == 200
        status, doc = owner.post("/api/ota", {"url": "https://updates.example/ota.json"})
        assert (status, doc["error"]) == (409, "update not started: ota_update: " + NO_SLOTS)
        st = dev.json("/api/status")
        assert st["ota"] == {"state": "unavailable", "reason": NO_SLOTS}, st
        assert "ERROR" not in dev.output(), dev.output()
