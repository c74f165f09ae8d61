# wifimgr.ota: firmware updates over HTTPS (or HTTP) into the app slot that is not running,
# verified before it becomes bootable, and kept only if the new firmware gets back onto WiFi.
#
#   ota.update(url, sha256=None, length=None, reboot=True, progress=None, timeout_ms=10000,
#              ca=None, pin=None)
#   ota.update_from_manifest(url, reboot=True, progress=None, board=None, force=False,
#              sha256=None, ca=None, pin=None)
#   await ota.aupdate(...), await ota.aupdate_from_manifest(...)   (same, inside asyncio)
#   ota.status()                    progress and boot state, JSON-able
#   ota.unavailable()               None, or why this firmware cannot update over the air
#   await ota.guard(is_healthy, deadline_ms=120000, health_url=None, ca=None, pin=None)
#   ota.reset()                     machine.reset(), or the end of the process on the unix port
#
# Something must vouch for what is installed: either the server, over https:// with its
# certificate checked against `ca` (path of a PEM file of CA certificates: chain, expiry and
# name) or `pin` (SHA-256 of its DER certificate), or a SHA-256 the caller has from elsewhere
# (`sha256`: of the image for update(), of the manifest for update_from_manifest(); a manifest
# so vouched for vouches for the images and files it lists). Plain http:// without such a
# digest is refused (OTAError cause "insecure") before anything is sent; so is https:// with
# neither ca nor pin nor digest. A URL's user:password@ is sent as HTTP Basic authorization and
# never shown: status(), errors and logs carry config.safe_url(url).
#
# Every failure raises OTAError naming what did not match (e.cause is a short key such as
# "sha256" or "chip") and leaves the boot partition as it was.
#
# The package, one part per module, each imported when first used: this one holds the state
# (status(), unavailable(), pending_verify()) that the portal and the boot need; .http is the
# HTTP(S) client, .image the app-image checks, .download one image into the other slot,
# .manifest the release manifests, .journal the filesystem files that follow the firmware,
# .rollback the health check that keeps or rolls back a new image, .managed the update and the
# health check as the Manager runs them on its loop. The flash is esp32.Partition
# on a board; only where there is none (the unix port) is the host stand-in, wifimgr.partition,
# imported.

from wifimgr import otadata
from wifimgr.config import safe_url
from wifimgr.platform import reset  # noqa: F401 (ota.reset())

ON_HOST = False
try:
    from esp32 import Partition
except ImportError:
    try:  # the unix port: the host's flash stand-in, which no device has
        from wifimgr.partition import Partition

        ON_HOST = True
    except ImportError:  # another port (rp2, ...): nothing to update
        Partition = None

TIMEOUT_MS = 10000
_NO_SLOTS = "this firmware's partition table has no OTA slots"
_NO_PARTITIONS = "this port has no esp32.Partition: updates over the air are for ESP32s"
_SUBTYPE_OTA_0 = 0x10

# What wifimgr.ota.<module>.<name> the package offers as wifimgr.ota.<name>.
_LAZY = (
    ("download", ("update", "aupdate")),
    (
        "manifest",
        ("update_from_manifest", "aupdate_from_manifest", "select_board", "parse_version"),
    ),
    ("journal", ("settle_files",)),
    ("rollback", ("guard",)),
    ("image", ("check_header", "check_image", "CHIP_IDS")),
)


def _submodule(name):
    return __import__("wifimgr.ota." + name, None, None, (name,))


def __getattr__(name):
    # The machinery is imported when it is first asked for (ota.update(...)), not with the
    # package: a boot that only reads status() or runs the guard never loads the HTTP client.
    for module, names in _LAZY:
        if name in names:
            return getattr(_submodule(module), name)
    # `from wifimgr.ota import http` before anything imported it: MicroPython's import_from
    # (py/runtime.c: mp_import_from()) asks the package's attributes first and lets what
    # __getattr__ raises through, where CPython would go on to the submodule.
    if name in ("download", "http", "image", "journal", "manifest", "rollback"):
        return _submodule(name)
    raise AttributeError(name)


class OTAError(Exception):
    """An update that did not happen; `cause` says which check failed, the message how."""

    def __init__(self, cause, message):
        super().__init__("%s: %s" % (cause, message))
        self.cause = cause


current = {"state": "idle"}  # the current or last update's progress, as status() shows it
_unavailable = []  # [reason or None] once known


def no_flash():
    # The host stand-in without a flash directory: nothing to look at (or create).
    return ON_HOST and not Partition.ready()


def unavailable():
    """None when this firmware can update over the air, else the reason: a port without
    esp32.Partition, or a stock image whose partition table has a factory app only (there
    esp32.Partition's get_next_update() and Partition("otadata") raise ENOENT,
    esp32_partition.c: esp32_partition_new())."""
    if not _unavailable:
        if no_flash():
            return None
        if Partition is None:
            _unavailable.append(_NO_PARTITIONS)
            return _NO_PARTITIONS
        try:
            Partition(Partition.RUNNING).get_next_update()
            Partition("otadata")
            _unavailable.append(None)
        except OSError:
            _unavailable.append(_NO_SLOTS)
    return _unavailable[0]


def refuse_if_unavailable():
    reason = unavailable()
    if reason:
        raise OTAError("unavailable", reason)


def status():
    """Progress of the current or last update plus what the bootloader will do, JSON-able;
    {"state": "unavailable", "reason": ...} on firmware that cannot update over the air."""
    out = dict(current)
    if no_flash():
        return out
    reason = unavailable()
    if reason:
        return {"state": "unavailable", "reason": reason}
    try:
        out["running"] = Partition(Partition.RUNNING).info()[4]
        entries = _read_otadata()
        out["pending_verify"] = _pending(entries)
        # The newest record was given up by the bootloader: the last update was rolled back.
        written = [e for e in entries if e[0] != otadata.NO_SEQ and e[2]]
        out["rolled_back"] = bool(written) and max(written)[1] in (
            otadata.STATE_ABORTED,
            otadata.STATE_INVALID,
        )
    except OSError:
        pass
    return out


# The steps of an update (status()["state"]) the Manager shows while its own runs.
_STEPS = ("checking", "connecting", "downloading", "verifying")


def merged_status(mine):
    """What the Manager's status()["ota"] shows: `mine`, the Manager's own update (running,
    done, failed, up_to_date; None without one), with this module's details: while it runs,
    the step (downloading, percent, ...) once it has begun this update; after it, what the
    module says of the outcome (cause, version, slot). Without an update of the Manager's,
    the module's own state (e.g. the health check after one), or None when idle."""
    try:
        progress = status()
    except OSError as e:  # the boot record could not be read
        progress = {"state": "idle", "status_error": str(e)}
    if mine is None:
        return progress if progress["state"] != "idle" else None
    out = dict(mine)
    if out["state"] != "running":
        for k, v in progress.items():
            if k not in ("state", "url", "error"):
                out[k] = v
    elif progress["state"] in _STEPS:
        out.update(progress)
        out["url"] = mine["url"]
    return out


def fail(url, e):
    # Keeps the progress fields: how far it got is part of the diagnosis.
    current.update(state="failed", url=safe_url(url), error=str(e), cause=e.cause)


def begin(state, **kw):
    # A new step of an update: the progress fields are the step's own.
    current.clear()
    current["state"] = state
    current.update(kw)
    for key in ("url", "health_url"):
        if key in kw:
            current[key] = safe_url(kw[key])


# ---- what the bootloader will do -------------------------------------------------------------


def _read_otadata():
    data = Partition("otadata")
    buf = bytearray(otadata.ENTRY_LEN)

    def read(off, n):
        data.readblocks(off // otadata.SECTOR, buf, off % otadata.SECTOR)
        return bytes(buf)

    return otadata.read_otadata(read)


def _pending(entries):
    active = otadata.active_entry(entries)
    if active < 0:
        return False
    seq, state, _ok = entries[active]
    slot = Partition(Partition.RUNNING).info()[1] - _SUBTYPE_OTA_0
    return (seq - 1) % 2 == slot and state == otadata.STATE_PENDING_VERIFY


def pending_verify():
    """True when this boot runs a new image the bootloader will roll back unless marked valid."""
    return _pending(_read_otadata())
