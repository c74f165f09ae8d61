"""The application cannot take WiFi down (wifimgr.run("app"), wifimgr.safemode): a crash in a
task, an event callback, the connected hook or the application's main code leaves the link,
the portal and OTA running and its traceback shown; boots that crash are counted across power
cuts and the N-th starts in safe mode, left from the portal, the REPL or by an update; an
updated image whose application crashes is rolled back.

The device is tests/helpers/app_device.py on MicroPython: the real package on the simulated
radio, the real clock, a portal on loopback. The boot count lives in wifimgr.safemode.HostNVS,
the unix port's stand-in of esp32.NVS (esp32_nvs.c: set_i32() changes memory, commit() makes
it durable, get_i32() of an unset key raises OSError); a power cut is SIGKILL."""

import json
import subprocess
import time
from pathlib import Path

import pytest
from helpers import esp_image
from helpers.micropython import LINKS, SCENARIOS, micropython_on
from helpers.ota import make_flash
from helpers.pkg import PRELUDE
from helpers.portal import Device, free_port

APP_DEVICE = Path(__file__).parents[1] / "helpers" / "app_device.py"


@pytest.fixture(params=LINKS)
def micropython(request, tmp_path):
    return micropython_on(request.param, tmp_path)


# The application of each crash path: where it raises, what status()["app_error"] names.
CRASHES = {
    "task": (
        "first-boot",
        """
import asyncio
async def sensor():
    await asyncio.sleep_ms(100)
    raise ValueError("sensor gone")
async def main():
    asyncio.create_task(sensor())
    while True:
        await asyncio.sleep(1)
""",
        "task",
        "ValueError: sensor gone",
    ),
    "callback": (
        "first-boot",
        """
import wifimgr
wifimgr.on("ap_started", lambda s: s["no such key"])
""",
        "callback ap_started",
        "KeyError: no such key",
    ),
    "hook": (
        "home",
        """
import wifimgr
def hook(status):
    return "topic " + status["ip"] / 2
wifimgr.on("connected", hook)
""",
        "callback connected",
        "TypeError: unsupported types for __truediv__: 'str', 'int'",
    ),
    "main": (
        "first-boot",
        """
import wifimgr
wifimgr.data["up"] = True
raise RuntimeError("bad pin number")
""",
        "main",
        "RuntimeError: bad pin number",
    ),
}


def boot(micropython, state, app=None, scenario="first-boot"):
    """One boot of the device in `state` (app.py written first if given)."""
    state.mkdir(parents=True, exist_ok=True)
    if app is not None:
        (state / "app.py").write_text(app)
    return Device(micropython, SCENARIOS / (scenario + ".json"), state, script=APP_DEVICE)


def power_cut(dev):
    dev.proc.kill()
    dev.proc.wait()
    dev.log.close()


def nvs(state):
    return json.loads((state / "wifimgr_nvs.json").read_text())


@pytest.mark.parametrize("path", sorted(CRASHES))
def test_a_crash_leaves_wifi_portal_and_ota_running(micropython, path):
    scenario, app, where, error = CRASHES[path]
    state = micropython.tmp_path / "dev"
    with boot(micropython, state, app, scenario) as dev:
        st = dev.wait_status(lambda s: s["app_error"] is not None)
        crash = st["app_error"]
        assert (crash["where"], crash["error"], crash["this_boot"]) == (where, error, True)
        assert crash["traceback"] is None  # to a session not unlocked with the setup key
        assert st["safe_mode"] is None and st["servers"]["portal"] == "serving"
        if scenario == "home":
            dev.wait_status(lambda s: s["state"] == "connected")
        else:
            dev.wait_status(lambda s: s["ap_active"])  # the setup access point, after it
        assert dev.unlock(dev.setup_key())[0] == 200
        tb = dev.json("/api/status")["app_error"]["traceback"]
        assert tb.startswith("Traceback (most recent call last):") and error in tb
        # OTA still runs on the loop: an update starts, fails (nothing listens there) and
        # says so.
        code, doc = dev.post("/api/ota", {"url": "http://127.0.0.1:9/fw.bin", "sha256": "ab" * 32})
        assert code == 202, doc
        st = dev.wait_status(lambda s: s["ota"] and s["ota"]["state"] == "failed")
        assert "127.0.0.1:9" in st["ota"]["url"]
        assert "application crashed in %s: %s" % (where, error) in dev.output()
    kept = json.loads((state / "wifimgr_crash.json").read_text())
    assert [k["where"] for k in kept] == [where]
    assert nvs(state) == {"boots": 1}  # a crash before healthy: this boot stays counted


CRASH_AT_IMPORT = """
with open("ran.txt", "a") as f:
    f.write("ran\\n")
raise OSError(19, "sensor not found")
"""


def test_crash_boots_enter_safe_mode_and_the_portal_leaves_it(micropython):
    """Three boots whose application crashes, each ended by a power cut, then safe mode: the
    application is not started, the console and the portal say why; leaving it from the portal
    restarts the device into the application. Only the newest 3 crashes are kept."""
    state = micropython.tmp_path / "dev"
    for n in (1, 2, 3):
        dev = boot(micropython, state, CRASH_AT_IMPORT)
        dev.wait_status(lambda s: s["app_error"] and s["app_error"]["this_boot"])
        power_cut(dev)
        assert nvs(state) == {"boots": n}
    dev = boot(micropython, state)
    try:
        st = dev.json("/api/status")
        assert st["safe_mode"] == "the application did not come up healthy in the last 3 boots"
        assert st["app_error"]["this_boot"] is False and st["app_error"]["where"] == "main"
        assert st["servers"]["portal"] == "serving"
        assert "wifimgr: safe mode: the application did not come up healthy" in dev.output()
        assert (state / "ran.txt").read_text() == "ran\n" * 3  # not started this time
        assert dev.post("/api/safe_mode/leave", {})[0] == 403  # the owner's: needs the key
        assert dev.unlock(dev.setup_key())[0] == 200
        code, doc = dev.post("/api/safe_mode/leave", {})
        assert code == 202 and doc == {"restarting_in_ms": 3000}
        assert dev.proc.wait(timeout=10) == 3  # the host's machine.reset()
    finally:
        dev.stop()
    assert nvs(state) == {"boots": 0}
    assert len(json.loads((state / "wifimgr_crash.json").read_text())) == 3
    (state / "app.py").write_text("import wifimgr\nwifimgr.app_ok()\n")
    with boot(micropython, state) as dev:
        st = dev.json("/api/status")
        assert st["safe_mode"] is None
        assert nvs(state) == {"boots": 0}  # app_ok(): a healthy boot


def test_safe_mode_is_left_from_the_repl(micropython):
    state = micropython.tmp_path / "dev"
    state.mkdir()
    (state / "wifimgr_nvs.json").write_text(json.dumps({"boots": 3}))  # as 3 crash boots left it
    (state / "app.py").write_text("import wifimgr\nwifimgr.data['app'] = 'ran'\n")
    with boot(micropython, state) as dev:
        assert dev.json("/api/status")["safe_mode"]
    proc = micropython.run(
        "import os\nfrom wifimgr import sim\nsim.install(sim.Scenario({'access_points': []}))\n"
        "os.chdir(%r)\nimport wifimgr\nwifimgr.leave_safe_mode('wifimgr.json')\n" % str(state),
        check=False,
    )
    assert proc.returncode == 3, proc.stderr  # left, then machine.reset()
    assert nvs(state) == {"boots": 0}
    with boot(micropython, state) as dev:
        assert dev.json("/api/status")["safe_mode"] is None
        assert dev.json("/data") == {"app": "ran"}


def test_grace_time_without_a_crash_is_a_healthy_boot(micropython):
    state = micropython.tmp_path / "dev"
    state.mkdir()
    (state / "wifimgr.json").write_text(json.dumps({"schema": 3, "app_grace_s": 5}))
    (state / "wifimgr_nvs.json").write_text(json.dumps({"boots": 2}))
    (state / "app.py").write_text("")
    with boot(micropython, state) as dev:
        assert nvs(state) == {"boots": 3}  # counted before the application started
        deadline = time.monotonic() + 20
        while nvs(state) != {"boots": 0}:
            assert time.monotonic() < deadline, dev.output()
            time.sleep(0.2)
        assert dev.json("/api/status")["app_error"] is None


def test_an_update_leaves_safe_mode_and_a_crashing_new_image_is_rolled_back(micropython, tmp_path):
    """Safe mode on the old image; an update is installed (here: written into ota_1 and made
    the boot slot, as ota.update() does after its checks); the new image boots pending
    verification, so it is not in safe mode and its application runs. It crashes: the device
    resets at once without marking the image valid, and the bootloader goes back to ota_0."""
    state = tmp_path / "dev"
    images = esp_image.write_set(tmp_path / "images", 64 * 1024, chips=["esp32c3"])
    make_flash(state / "flash", images["esp32c3.bin"], chip="esp32c3")
    (state / "flash" / "ota_1.bin").write_bytes(images["esp32c3.bin"])
    (state / "wifimgr_nvs.json").write_text(json.dumps({"boots": 3}))
    (state / "app.py").write_text(CRASH_AT_IMPORT)
    micropython.run(
        "from wifimgr import partition\npartition.setup(%r)\n"
        "partition.Partition('ota_1').set_boot()\n" % str(state / "flash")
    )
    proc = micropython.popen(
        APP_DEVICE,
        args=(SCENARIOS / "first-boot.json", state, free_port()),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    console = proc.communicate(timeout=30)[0]
    assert proc.returncode == 3, console
    assert "the new firmware's application crashed: rolling back" in console
    assert (state / "ran.txt").read_text() == "ran\n"  # the new image ran the application
    assert nvs(state) == {"boots": 1}
    out = micropython.run(
        "from wifimgr import partition\npartition.setup(%r)\n"
        "print(partition.boot(), partition.state_of(1))\n" % str(state / "flash")
    )
    assert out.split() == ["0", "aborted"]


def test_the_ota_guard_keeps_a_new_image_only_once_the_application_is_healthy(
    micropython, tmp_path
):
    """A freshly updated image back on WiFi stays pending while the application run by
    wifimgr.run() has not said it is healthy; app_ok() and the guard marks it valid."""
    images = esp_image.write_set(tmp_path / "images", 64 * 1024, chips=["esp32c3"])
    flash = make_flash(tmp_path / "flash", images["esp32c3.bin"], chip="esp32c3")
    (flash / "ota_1.bin").write_bytes(images["esp32c3.bin"])
    (tmp_path / "app.py").write_text(
        """
import asyncio, json, wifimgr
from wifimgr import partition
from wifimgr.sim import _radio

async def main():
    clock = _radio.clock
    while wifimgr.status()["state"] != "connected" or clock.now_ms() < 30000:
        await asyncio.sleep_ms(0)
    before = partition.state_of(1)
    wifimgr.app_ok()
    t = clock.now_ms()
    while clock.now_ms() - t < 5000:
        await asyncio.sleep_ms(0)
    print(json.dumps([before, partition.state_of(1), wifimgr.status()["ota"]]))
    raise SystemExit(0)
"""
    )
    out = micropython.run(
        PRELUDE
        + """
sys.path.insert(0, "")
from wifimgr import partition
partition.setup(%r)
partition.Partition("ota_1").set_boot()
partition.boot()  # the power cycle into it
radio([ap("Home")])
import wifimgr
from wifimgr.config import Config
from wifimgr.store import Store
c = Config("wifimgr.json", Store.for_config("wifimgr.json", UID), UID)
c.add_network("Home", "correct-horse")
wifimgr.start("wifimgr.json", http=None, dns=None, serve="never", clock=clock, ota_guard=True)
wifimgr.run("app")
"""
        % str(flash)
    )
    before, after, ota = json.loads(out.strip().splitlines()[-1])
    assert (before, after) == ("pending_verify", "valid")
    # WiFi was back in a few seconds; app_ok() came at 30 s on the clock.
    assert ota["state"] == "valid" and ota["after_ms"] >= 25000


def test_ctrl_c_still_ends_run_for_the_repl(micropython, tmp_path):
    """KeyboardInterrupt (Ctrl-C; mpremote sends it before entering the raw REPL) is not a
    crash: it ends wifimgr.run() and reaches the REPL, as without wifimgr."""
    (tmp_path / "app.py").write_text(
        "import asyncio\nasync def main():\n    await asyncio.sleep_ms(50)\n"
        "    raise KeyboardInterrupt\n"
    )
    proc = micropython.run(
        PRELUDE
        + """
sys.path.insert(0, "")
radio([])
import wifimgr
wifimgr.start("wifimgr.json", http=None, dns=None, serve="never")
try:
    wifimgr.run("app")
except KeyboardInterrupt:
    print("back at the REPL", wifimgr.status()["app_error"])
""",
    )
    assert proc.strip().splitlines()[-1] == "back at the REPL None"
    assert not (tmp_path / "wifimgr_crash.json").exists()
