"""What the application may not take down: its crashes are kept and shown, boots that crash
are counted, and after SAFE_BOOTS of them in a row the device starts in safe mode.

- `guard(directory)`: the application's state, one dict per Manager (its `app`), which the
  Manager and the facade read and hand to the functions here; this module is loaded only for
  those (wifimgr.call_dropped(): at boot, on a crash, when the application is healthy or safe
  mode is left), not kept between them. Its keys: "dir" (`directory`), "crashes" (the newest
  CRASHES_KEPT, from earlier boots too, oldest first), "new" (how many of them this boot
  recorded), "writes" (of the crash file, this boot), "counting" (wifimgr.run(app) counts
  this boot), "healthy", "safe" (why this boot is in safe mode, or None), "grace" ((started
  at, grace ms) of the application, or None) and "boots".
- `record(guard, where, exc)` keeps the newest CRASHES_KEPT tracebacks (CRASH_BYTES each at
  most, the end of the traceback) in `<directory>` + CRASH_FILE, written atomically, at most
  CRASH_WRITES times a boot (a callback failing every second must not wear the flash out).
- The boot count: how many boots in a row ended before the application was healthy
  (`ok()`: wifimgr.app_ok(), or `app_grace_s` without a crash). `boot()` adds this boot to it
  and commits it before the application starts, so a crash, a watchdog reset or a power cut
  at any moment after leaves it counted; `ok()` and `leave()` set it to 0. It lives in
  `esp32.NVS("wifimgr")` on an ESP32 (committed by ESP-IDF's nvs_commit()), else in
  `HostNVS`, the stand-in of the unix port.
- Safe mode: a boot that finds SAFE_BOOTS (the configuration's `safe_mode_boots`) failed boots
  before it does not start the application; wifimgr.run() keeps WiFi, the portal and OTA up.
  A boot into a freshly updated image (still pending verification) starts counting again: an
  update leaves safe mode. The rules with OTA's rollback are in docs/ota.md.
"""

import json
import os
import sys

from micropython import const

from wifimgr import _log as log

CRASH_FILE = "wifimgr_crash.json"
CRASHES_KEPT = const(3)
CRASH_BYTES = const(1024)
CRASH_WRITES = const(5)
SAFE_BOOTS = const(3)  # default safe_mode_boots
GRACE_S = const(60)  # default app_grace_s
NVS_NAMESPACE = "wifimgr"
_BOOTS = "boots"  # NVS key: boots in a row that did not reach healthy
NVS_FILE = "wifimgr_nvs.json"  # HostNVS's file, beside the configuration


class HostNVS:
    """esp32.NVS's i32 part on the unix port (esp32_nvs.c): set_i32() changes the namespace
    in memory only, commit() makes it durable (here: a file replaced by an atomic rename, so
    a power cut, the process killed, leaves the last commit), get_i32() of a key never set
    raises OSError (ESP_ERR_NVS_NOT_FOUND through check_esp_err())."""

    def __init__(self, path):
        self._path = path
        try:
            with open(path) as f:
                self._values = json.load(f)
        except (OSError, ValueError):
            self._values = {}

    def get_i32(self, key):
        if key not in self._values:
            raise OSError(-0x1102)  # ESP_ERR_NVS_NOT_FOUND
        return self._values[key]

    def set_i32(self, key, value):
        self._values[key] = int(value)

    def commit(self):
        tmp = self._path + ".tmp"
        with open(tmp, "w") as f:
            json.dump(self._values, f)
        os.rename(tmp, self._path)


def _nvs(directory):
    try:
        import esp32

        if hasattr(esp32, "NVS"):
            return esp32.NVS(NVS_NAMESPACE)
    except ImportError:
        pass
    return HostNVS(directory + NVS_FILE)


def traceback_text(exc):
    """The traceback MicroPython prints for `exc`, its last CRASH_BYTES characters."""
    import io

    buf = io.StringIO()
    sys.print_exception(exc, buf)
    text = buf.getvalue()
    return text[-CRASH_BYTES:]


def guard(directory):
    """The application's state (see above) with the crashes kept in `directory`."""
    crashes = []
    try:
        with open(directory + CRASH_FILE) as f:
            doc = json.load(f)
        if isinstance(doc, list):
            crashes = [e for e in doc if isinstance(e, dict)][-CRASHES_KEPT:]
    except (OSError, ValueError):
        pass
    return {
        "dir": directory,
        "crashes": crashes,
        "new": 0,
        "writes": 0,
        "counting": False,
        "healthy": False,
        "safe": None,
        "grace": None,
        "boots": 0,
    }


# --- crashes -------------------------------------------------------------------------------


def record(guard, where, exc):
    """Keeps the traceback of `exc`, an unhandled exception in the application (`where`:
    "main", "task", "callback connected", ...), and logs it. An image still pending
    verification whose application (run by wifimgr.run(app)) crashes goes back to the
    previous image now (docs/ota.md, "Safe mode and rollback")."""
    error = "%s: %s" % (type(exc).__name__, exc)
    entry = {"where": where, "error": error[:200], "traceback": traceback_text(exc)}
    log.error("application crashed in %s: %s", where, error)
    guard["crashes"] = (guard["crashes"] + [entry])[-CRASHES_KEPT:]
    guard["new"] = min(guard["new"] + 1, CRASHES_KEPT)
    if guard["writes"] < CRASH_WRITES:
        guard["writes"] += 1
        path = guard["dir"] + CRASH_FILE
        try:
            tmp = path + ".tmp"
            with open(tmp, "w") as f:
                json.dump(guard["crashes"], f)
            os.rename(tmp, path)
        except OSError as e:
            log.warning("crash not kept in %s: %s", path, e)
    ota = sys.modules.get("wifimgr.ota")
    if ota is None or not guard["counting"]:
        return  # no application run by wifimgr.run(app), or no OTA
    try:
        pending = ota.status().get("pending_verify")
    except OSError:
        pending = False
    if pending:
        log.error("the new firmware's application crashed: rolling back")
        ota.reset()


# --- the boot count ------------------------------------------------------------------------


def boot(guard, config, now_ms):
    """Counts this boot (committed at once) against the configuration's safe_mode_boots;
    returns why it is in safe mode (and says so on the console), or None: then the
    application starts now and is healthy after app_grace_s without a crash (the Manager's
    tick, then ok())."""
    limit = config.get("safe_mode_boots", SAFE_BOOTS)
    nvs = _nvs(guard["dir"])
    try:
        before = nvs.get_i32(_BOOTS)
    except OSError:
        before = 0
    if _fresh_image():
        before = 0  # an update: the new image gets its own chances
    guard["boots"] = min(before, limit) + 1
    guard["counting"] = True
    nvs.set_i32(_BOOTS, guard["boots"])
    nvs.commit()
    if before >= limit:
        guard["safe"] = "the application did not come up healthy in the last %d boots" % before
        # On the serial console at every log level, as the setup key is.
        print("wifimgr: safe mode: %s; the application is not started." % guard["safe"])
        print("wifimgr: leave it from the portal or with wifimgr.leave_safe_mode()")
        return guard["safe"]
    guard["grace"] = (now_ms, config.get("app_grace_s", GRACE_S) * 1000)
    return None


def _fresh_image():
    # True when this boot runs a freshly updated image the guard has not kept yet.
    try:
        from wifimgr import ota
    except ImportError:
        return False
    try:
        return bool(ota.status().get("pending_verify"))
    except OSError:
        return False


def ok(guard, graced=False):
    """The application is healthy (`graced`: it ran app_grace_s without a crash): this boot
    does not count as a failed one."""
    if guard["healthy"]:
        return
    if graced:
        log.info("application up for %d s without a crash: healthy", guard["grace"][1] // 1000)
    guard["healthy"] = True
    if guard["counting"] and guard["safe"] is None:
        _reset_count(guard)


def leave(guard, restart_ms=None):
    """Leaves safe mode: the next boot starts the application; with `restart_ms`, the device
    restarts that long after (on the running loop)."""
    was = guard["safe"]
    guard["safe"] = None
    _reset_count(guard)
    log.info("safe mode left%s", "" if was else " (it was not on)")
    if restart_ms is not None:
        import asyncio

        async def restart():
            await asyncio.sleep_ms(restart_ms)
            from wifimgr.platform import reset

            reset()

        asyncio.create_task(restart())


def _reset_count(guard):
    nvs = _nvs(guard["dir"])
    nvs.set_i32(_BOOTS, 0)
    nvs.commit()
    guard["boots"] = 0
