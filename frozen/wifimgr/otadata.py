# The otadata partition's records, as ESP-IDF's bootloader reads them: two esp_ota_select_entry_t
# (sequence, label, state, CRC-32 of the sequence), one per 4 KiB sector. wifimgr.ota reads them
# on a device through esp32.Partition; the host flash stand-in (wifimgr.partition) writes them.

import struct

from micropython import const

SECTOR = const(4096)

# esp_ota_img_states_t
STATE_NEW = const(0)
STATE_PENDING_VERIFY = const(1)
STATE_VALID = const(2)
STATE_INVALID = const(3)
STATE_ABORTED = const(4)
STATE_UNDEFINED = const(0xFFFFFFFF)
STATE_NAMES = {
    STATE_NEW: "new",
    STATE_PENDING_VERIFY: "pending_verify",
    STATE_VALID: "valid",
    STATE_INVALID: "invalid",
    STATE_ABORTED: "aborted",
    STATE_UNDEFINED: "undefined",
}
_ENTRY = "<I20sII"  # ota_seq, seq_label, ota_state, crc
ENTRY_LEN = const(32)
NO_SEQ = const(0xFFFFFFFF)


def _crc32(data):
    # CRC-32 (IEEE) of the sequence number as ESP-IDF's esp_rom_crc32_le(UINT32_MAX, ...), which
    # is zlib's crc32(data, 0xFFFFFFFF): the register starts at ~0xFFFFFFFF.
    crc = 0
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ (0xEDB88320 if crc & 1 else 0)
    return crc ^ 0xFFFFFFFF


def entry(seq, state):
    """The bytes of one record."""
    return struct.pack(_ENTRY, seq, b"\xff" * 20, state, _crc32(struct.pack("<I", seq)))


def read_otadata(read):
    """The two entries as (seq, state, crc_ok) tuples; `read(offset, n)` reads otadata."""
    out = []
    for i in range(2):
        seq, _label, state, crc = struct.unpack(_ENTRY, read(i * SECTOR, ENTRY_LEN))
        out.append((seq, state, crc == _crc32(struct.pack("<I", seq))))
    return out


def _valid(e):
    seq, state, crc_ok = e
    return seq != NO_SEQ and crc_ok and state not in (STATE_INVALID, STATE_ABORTED)


def active_entry(entries):
    """Index of the entry the bootloader follows (highest valid sequence), or -1."""
    best = -1
    for i, e in enumerate(entries):
        if _valid(e) and (best < 0 or e[0] > entries[best][0]):
            best = i
    return best
