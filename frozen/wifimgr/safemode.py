"""What the application may not take down: its crashes are kept and shown, boots that crash
are counted, and after SAFE_BOOTS of them in a row the device starts in safe mode.

- `AppGuard(directory)`: one per Manager. `record(where, exc)` keeps the newest CRASHES_KEPT
  tracebacks (CRASH_BYTES each at most, the end of the traceback) in `<directory>` +
  CRASH_FILE, written atomically, at most CRASH_WRITES times a boot (a callback failing every
  second must not wear the flash out); `last()` is what status()["app_error"] shows.
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
import time

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


class AppGuard:
    def __init__(self, directory, nvs=None):
        self._path = directory + CRASH_FILE
        self._directory = directory
        self._nvs = nvs
        self._writes = 0
        self._new = 0  # entries recorded in this boot
        self._crashes = self._load()
        self.counting = False  # wifimgr.run(app) counts this boot
        self.healthy = False
        self.safe = None  # why this boot is in safe mode, or None
        self.boots = 0
        self.on_crash = None  # called with (where, exc) after a crash is kept
        self._grace = None  # (started at, grace ms) of the application

    def _load(self):
        try:
            with open(self._path) as f:
                doc = json.load(f)
            if isinstance(doc, list):
                return [e for e in doc if isinstance(e, dict)][-CRASHES_KEPT:]
        except (OSError, ValueError):
            pass
        return []

    def _store(self):
        if self._nvs is None:
            self._nvs = _nvs(self._directory)
        return self._nvs

    # --- crashes -------------------------------------------------------------------------

    def record(self, where, exc):
        """Keeps the traceback of `exc`, an unhandled exception in the application (`where`:
        "main", "task", "callback connected", ...), logs it and says so to on_crash."""
        error = "%s: %s" % (type(exc).__name__, exc)
        entry = {"where": where, "error": error[:200], "traceback": traceback_text(exc)}
        log.error("application crashed in %s: %s", where, error)
        self._crashes.append(entry)
        self._crashes = self._crashes[-CRASHES_KEPT:]
        self._new = min(self._new + 1, CRASHES_KEPT)
        if self._writes < CRASH_WRITES:
            self._writes += 1
            try:
                tmp = self._path + ".tmp"
                with open(tmp, "w") as f:
                    json.dump(self._crashes, f)
                os.rename(tmp, self._path)
            except OSError as e:
                log.warning("crash not kept in %s: %s", self._path, e)
        if self.on_crash is not None:
            self.on_crash(where, exc)

    def crashes(self):
        """The kept crashes, oldest first (at most CRASHES_KEPT, from earlier boots too)."""
        return [dict(e) for e in self._crashes]

    def last(self):
        """The newest crash with "this_boot" (True if it happened since this boot), or None."""
        if not self._crashes:
            return None
        out = dict(self._crashes[-1])
        out["this_boot"] = self._new > 0
        return out

    # --- the boot count ------------------------------------------------------------------

    def boot(self, limit=SAFE_BOOTS, fresh_image=False):
        """Counts this boot (committed at once); returns why it is in safe mode, or None."""
        nvs = self._store()
        try:
            before = nvs.get_i32(_BOOTS)
        except OSError:
            before = 0
        if fresh_image:
            before = 0  # an update: the new image gets its own chances
        self.boots = min(before, limit) + 1
        self.counting = True
        nvs.set_i32(_BOOTS, self.boots)
        nvs.commit()
        if before >= limit:
            self.safe = "the application did not come up healthy in the last %d boots" % before
        return self.safe

    def start(self, now_ms, grace_ms):
        """The application starts now: healthy after grace_ms without a crash (tick())."""
        self._grace = (now_ms, grace_ms)

    def tick(self, now_ms):
        """Called now and then by the manager: the grace time without a crash makes it ok()."""
        g = self._grace
        if g is not None and not self.healthy and not self._new:
            if time.ticks_diff(now_ms, g[0]) >= g[1]:
                log.info("application up for %d s without a crash: healthy", g[1] // 1000)
                self.ok()

    def ok(self):
        """The application is healthy: this boot does not count as a failed one."""
        if self.healthy:
            return
        self.healthy = True
        if self.counting and self.safe is None:
            self._reset_count()

    def leave(self):
        """Leaves safe mode: the next boot starts the application."""
        self.safe = None
        self._reset_count()

    def _reset_count(self):
        nvs = self._store()
        nvs.set_i32(_BOOTS, 0)
        nvs.commit()
        self.boots = 0
