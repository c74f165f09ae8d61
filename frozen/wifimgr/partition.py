# Host stand-in for esp32.Partition: two app slots and an otadata partition kept in files, so
# OTA and its rollback run on the unix port exactly as on a board.
#
# The flash lives in a directory (WIFIMGR_FLASH, default "flash"): ota_0.bin, ota_1.bin,
# otadata.bin and flash.json (chip, build name, flash size, slot size). Missing bytes read as
# erased (0xFF); a write without erase can only clear bits, like NOR flash. otadata holds
# ESP-IDF's two esp_ota_select_entry_t records (wifimgr.otadata), one per 4 KiB sector, and
# boot() is the second-stage bootloader's choice with app rollback enabled:
# the highest valid sequence wins; NEW becomes PENDING_VERIFY when booted; an image still
# PENDING_VERIFY at the next boot becomes ABORTED and the other slot boots.
#
# flash.json's "layout" is the partition table: "ota" (the default: ota_0, ota_1, otadata, as
# the wifimgr boards' tables) or "factory" (one factory app and no otadata, as the esp32 port's
# partitions-4MiBplus.csv that ESP32_GENERIC ships): there esp32.Partition("otadata"),
# Partition(BOOT) and get_next_update() raise ENOENT (esp32_partition.c: esp32_partition_new()
# of the NULL that esp_ota_get_boot_partition() / esp_ota_get_next_update_partition() return).
#
# One process is one power-on: setup() (called by the first use) runs boot(). Tests call boot()
# again to power-cycle in-process and power_fail_after(n) to cut power after n more bytes
# are programmed (PowerLoss is raised from inside the write, which is left torn).

import json
import os

from micropython import const

from .otadata import (
    NO_SEQ,
    STATE_ABORTED,
    STATE_NAMES,
    STATE_NEW,
    STATE_PENDING_VERIFY,
    STATE_VALID,
    active_entry,
    entry,
    read_otadata,
)

BOOT = 0
RUNNING = 1
TYPE_APP = 0
TYPE_DATA = 1
SUBTYPE_FACTORY = const(0x00)
SUBTYPE_OTA_0 = const(0x10)
SUBTYPE_OTADATA = const(0x00)

_BLOCK = const(4096)
_ERASE_CMD = const(6)

# The board the flash stands for: chip, build name (sys.implementation._build on a device, the
# release's board name), flash size and app slot size.
DEFAULTS = {
    "chip": "esp32",
    "build": "WIFIMGR_ESP32",
    "flash_size": "4MB",
    "slot_size": 0x1D0000,
    "layout": "ota",
}


class PowerLoss(BaseException):
    """Power was cut during a flash write (the write is torn)."""


_dir = None
_board = None
_running = None
_budget = -1
_files = {}
programmed = 0  # bytes programmed or erased since setup(), for choosing power-loss points


def setup(path=None, **board):
    """Selects the flash directory (writing its flash.json from `board` keys if given) and
    powers on: the bootloader picks the running slot."""
    global _dir, _board, _running, programmed
    programmed = 0
    for f in _files.values():
        f.close()
    _files.clear()
    _dir = path or os.getenv("WIFIMGR_FLASH") or "flash"
    try:
        os.mkdir(_dir)
    except OSError:
        pass
    try:
        with open(_dir + "/flash.json") as f:
            _board = json.load(f)
    except OSError:
        _board = {}
    write = board or not _board
    for k, v in DEFAULTS.items():
        _board.setdefault(k, v)
    if write:
        _board.update(board)
        with open(_dir + "/flash.json", "w") as f:
            json.dump(_board, f)
    _running = None
    boot()  # selecting the flash is powering the device on
    return _dir


def ready():
    """True when a flash directory is selected or the default one exists: only then do status
    queries look at it (they never create one)."""
    if _dir is not None:
        return True
    try:
        os.stat(os.getenv("WIFIMGR_FLASH") or "flash")
        return True
    except OSError:
        return False


def board():
    if _dir is None:
        setup()
    return _board


def _factory():
    return board()["layout"] == "factory"


def _enoent(what):
    return OSError(2, "no partition %s" % what)  # ENOENT, as esp32.Partition


def power_fail_after(nbytes):
    """Cuts power once `nbytes` more bytes have been programmed (-1: never)."""
    global _budget
    _budget = nbytes


def _file(name):
    f = _files.get(name)
    if f is None:
        if _dir is None:
            setup()
        path = "%s/%s.bin" % (_dir, name)
        try:
            f = open(path, "r+b")
        except OSError:
            f = open(path, "w+b")
        _files[name] = f
    return f


def _program(name, addr, data, erase):
    # Erase writes 0xFF; a program ANDs into what is there. Honours the power budget.
    global _budget, programmed
    f = _file(name)
    n = len(data)
    programmed += n
    if not erase:
        old = _read(name, addr, n)
        data = bytes([old[i] & data[i] for i in range(n)])
    if _budget >= 0 and n > _budget:
        n, data = _budget, data[:_budget]
        _budget = 0
        f.seek(addr)
        f.write(data)
        raise PowerLoss()
    if _budget >= 0:
        _budget -= n
    f.seek(addr)
    f.write(data)


def _read(name, addr, n):
    f = _file(name)
    f.seek(addr)
    data = f.read(n) or b""
    if len(data) < n:
        data += b"\xff" * (n - len(data))
    return data


def _readinto(name, addr, buf):
    f = _file(name)
    f.seek(addr)
    got = f.readinto(buf) or 0
    n = len(buf)
    if got < n:
        mv = memoryview(buf)
        for i in range(got, n):
            mv[i] = 0xFF


def _erase(name, addr, n):
    if addr % _BLOCK or n % _BLOCK:
        raise OSError(22, "erase of 0x%x+0x%x is not 4 KiB aligned" % (addr, n))
    erased = b"\xff" * _BLOCK
    for a in range(addr, addr + n, _BLOCK):
        _program(name, a, erased, True)


# ---- otadata -------------------------------------------------------------------------------


def _otadata():
    return read_otadata(lambda off, n: _read("otadata", off, n))


def _write_entry(sector, seq, state):
    _erase("otadata", sector * _BLOCK, _BLOCK)
    _program("otadata", sector * _BLOCK, entry(seq, state), False)


def boot():
    """Power-on: the bootloader picks the slot to run and updates otadata; returns the slot."""
    global _running
    if _factory():
        return None  # no otadata: the bootloader runs the factory app
    entries = _otadata()
    active = active_entry(entries)
    if active >= 0 and entries[active][1] == STATE_PENDING_VERIFY:
        # Booted before but never marked valid: roll back.
        _write_entry(active, entries[active][0], STATE_ABORTED)
        entries = _otadata()
        active = active_entry(entries)
    slot = 0
    if active >= 0:
        seq, state, _ok = entries[active]
        slot = (seq - 1) % 2
        if (
            _read("ota_%d" % slot, 0, 1) != b"\xe9"
            and _read("ota_%d" % (1 - slot), 0, 1) == b"\xe9"
        ):
            slot = 1 - slot  # the bootloader skips a slot without a loadable image
        elif state == STATE_NEW:
            _write_entry(active, seq, STATE_PENDING_VERIFY)
    _running = slot
    return slot


def running_slot():
    if _running is None:
        boot()
    return _running


def state_of(slot):
    """The otadata state of `slot` ("valid", "pending_verify", ...) or None when not listed."""
    entries = _otadata()
    best = None
    for e in entries:
        if e[0] != NO_SEQ and e[2] and (e[0] - 1) % 2 == slot:
            if best is None or e[0] > best[0]:
                best = e
    return STATE_NAMES.get(best[1], "undefined") if best else None


def reset():
    """machine.reset() of the host: the process ends; the next one powers on with boot()."""
    for f in _files.values():
        f.close()
    _files.clear()
    raise SystemExit(3)


# ---- the esp32.Partition API ---------------------------------------------------------------


class Partition:
    BOOT = BOOT
    RUNNING = RUNNING
    TYPE_APP = TYPE_APP
    TYPE_DATA = TYPE_DATA
    ready = staticmethod(ready)  # the stand-in's own: whether there is a flash to look at

    def __init__(self, id, block_size=_BLOCK):
        factory = _factory()
        if id == RUNNING:
            name = "factory" if factory else "ota_%d" % running_slot()
        elif id == BOOT:
            if factory:
                raise _enoent("to boot: no otadata")
            entries = _otadata()
            active = active_entry(entries)
            name = "ota_%d" % ((entries[active][0] - 1) % 2 if active >= 0 else 0)
        elif isinstance(id, int):
            raise ValueError  # esp32_partition_make_new(): only BOOT and RUNNING
        elif id in (("factory",) if factory else ("ota_0", "ota_1", "otadata")):
            name = id
        else:
            raise _enoent(repr(id))
        self.name = name
        self.block_size = block_size
        slot_size = board()["slot_size"]
        if name == "otadata":
            self.type, self.subtype, self.addr, self.size = (
                TYPE_DATA,
                SUBTYPE_OTADATA,
                0xD000,
                0x2000,
            )
        elif name == "factory":
            self.type, self.subtype, self.addr, self.size = (
                TYPE_APP,
                SUBTYPE_FACTORY,
                0x10000,
                slot_size,
            )
        else:
            slot = int(name[-1])
            self.type, self.subtype = TYPE_APP, SUBTYPE_OTA_0 + slot
            self.addr, self.size = 0x10000 + slot * slot_size, slot_size

    @staticmethod
    def find(type=TYPE_APP, subtype=0xFF, label=None, block_size=_BLOCK):
        if _factory():
            names = ("factory",) if type == TYPE_APP else ()
        else:
            names = ("ota_0", "ota_1") if type == TYPE_APP else ("otadata",)
        out = []
        for n in names:
            p = Partition(n, block_size)
            if (subtype == 0xFF or p.subtype == subtype) and (label is None or label == n):
                out.append(p)
        return out

    def info(self):
        return (self.type, self.subtype, self.addr, self.size, self.name, False)

    def __repr__(self):
        return "<Partition type=%u, subtype=%u, address=%u, size=%u, label=%s, encrypted=0>" % (
            self.type,
            self.subtype,
            self.addr,
            self.size,
            self.name,
        )

    def _range(self, block_num, n, offset):
        addr = block_num * self.block_size + offset
        if addr < 0 or addr + n > self.size:
            raise OSError(22, "0x%x+0x%x is outside %s" % (addr, n, self.name))
        return addr

    def readblocks(self, block_num, buf, offset=0):
        _readinto(self.name, self._range(block_num, len(buf), offset), buf)

    def writeblocks(self, block_num, buf, offset=None):
        if offset is None:
            # A simple write erases first (the block size is the 4 KiB erase sector here).
            addr = self._range(block_num, len(buf), 0)
            if _budget >= 0:
                _erase(self.name, addr, len(buf))  # power may fail between erase and write
            elif len(buf) % _BLOCK:
                raise OSError(22, "write of 0x%x bytes is not whole 4 KiB sectors" % len(buf))
            _program(self.name, addr, buf, True)
        else:
            _program(self.name, self._range(block_num, len(buf), offset), buf, False)

    def ioctl(self, cmd, arg):
        if cmd == 4:
            return self.size // self.block_size
        if cmd == 5:
            return self.block_size
        if cmd == _ERASE_CMD:
            if self.block_size != _BLOCK:
                return -22  # esp32_partition_ioctl(): -MP_EINVAL unless 4 KiB blocks
            _erase(self.name, self._range(arg, _BLOCK, 0), _BLOCK)
            return 0
        if cmd in (1, 2, 3):
            return 0
        return None

    def set_boot(self):
        if self.type != TYPE_APP:
            raise OSError(22, "set_boot on a data partition")
        if self.name == "factory":
            raise _enoent("otadata to record the boot in")
        if _read(self.name, 0, 1) != b"\xe9":
            raise OSError(22, "ESP_ERR_OTA_VALIDATE_FAILED: %s holds no app image" % self.name)
        slot = self.subtype - SUBTYPE_OTA_0
        entries = _otadata()
        active = active_entry(entries)
        seq = entries[active][0] if active >= 0 else 0
        new_seq = seq + 1
        while (new_seq - 1) % 2 != slot:
            new_seq += 1
        _write_entry((~active) & 1 if active >= 0 else 0, new_seq, STATE_NEW)

    def get_next_update(self):
        if _factory():
            raise _enoent("to update: no OTA slots")
        return Partition("ota_%d" % (1 - (self.subtype - SUBTYPE_OTA_0)))

    @classmethod
    def mark_app_valid_cancel_rollback(cls):
        if _factory():
            raise _enoent("otadata")  # esp_ota_current_ota_is_workable(): ESP_ERR_NOT_FOUND
        entries = _otadata()
        active = active_entry(entries)
        if active < 0:
            return
        seq, state, _ok = entries[active]
        if (seq - 1) % 2 == running_slot() and state == STATE_PENDING_VERIFY:
            _write_entry(active, seq, STATE_VALID)
