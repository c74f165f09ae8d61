"""wifimgr.ota.image: what an ESP app image must be before it may boot. `check_header()` looks at
its first bytes while it downloads (magic, segment count, this chip's id, the app descriptor);
`check_image()` reads it back from the slot and walks its segments, checksum and appended
SHA-256, as ESP-IDF's bootloader would (esp_image_format.c). Each mismatch is an OTAError
whose cause names it.
"""

import hashlib
import struct

import micropython
from micropython import const

from wifimgr.platform import chip

from . import OTAError

BUF_SIZE = const(4096)  # one flash sector: the download's buffer and the slot's block size
_MAGIC = const(0xE9)
_HEADER_LEN = const(24)
_MAX_SEGMENTS = const(16)
_APP_DESC_MAGIC = const(0xABCD5432)

# esp_image_header_t.chip_id per chip (ESP-IDF's esp_chip_id_t).
CHIP_IDS = {
    "esp32": 0x0000,
    "esp32s2": 0x0002,
    "esp32c3": 0x0005,
    "esp32s3": 0x0009,
    "esp32c2": 0x000C,
    "esp32c6": 0x000D,
    "esp32h2": 0x0010,
}

# The image checksum is the XOR of every segment byte. Viper does 1.5 MB in milliseconds, but a
# frozen viper function needs mpy-cross to know the target arch (the esp32 port tells it, the
# unix port does not), so it is compiled here at import, with a plain loop where the runtime has
# no native emitter.
_XOR_VIPER = """
@micropython.viper
def xor(buf, n: int, c: int) -> int:
    p = ptr8(buf)
    for i in range(n):
        c ^= p[i]
    return c
"""


def _xor_loop(buf, n, c):
    for i in range(n):
        c ^= buf[i]
    return c


try:
    _ns = {}
    exec(_XOR_VIPER, {"micropython": micropython}, _ns)
    _xor = _ns["xor"]
    del _ns
except (SyntaxError, NameError, ValueError):
    _xor = _xor_loop


def check_header(buf, chip_id):
    """Checks the first bytes of an app image; returns (segment count, digest appended)."""
    if buf[0] != _MAGIC:
        raise OTAError("magic", "image starts with 0x%02x, not the ESP image magic 0xe9" % buf[0])
    count = buf[1]
    if not 0 < count <= _MAX_SEGMENTS:
        raise OTAError("segments", "image header declares %d segments (1-16 allowed)" % count)
    image_chip = struct.unpack_from("<H", buf, 12)[0]
    if image_chip != chip_id:
        names = [n for n, i in CHIP_IDS.items() if i == image_chip]
        raise OTAError(
            "chip",
            "image is for %s (chip id 0x%x), this device is %s (0x%x)"
            % (names[0] if names else "another chip", image_chip, chip(), chip_id),
        )
    if buf[23] not in (0, 1):
        raise OTAError("header", "hash_appended byte is 0x%02x, not 0 or 1" % buf[23])
    if struct.unpack_from("<I", buf, 32)[0] != _APP_DESC_MAGIC:
        raise OTAError("header", "no ESP-IDF app descriptor after the first segment header")
    return count, buf[23] == 1


def check_image(part, total, buf):
    """Walks the image in `part` (its segments, checksum, appended SHA-256) with `buf`.

    Returns the app descriptor's version string. Raises OTAError naming the first mismatch."""
    mv = memoryview(buf)
    part.readblocks(0, buf)
    count, hashed = check_header(buf, CHIP_IDS.get(chip(), -1))
    version = bytes(mv[48:80]).split(b"\0")[0].decode()
    h = hashlib.sha256()
    csum = 0xEF
    seg_hdr = bytearray(8)
    hfill = 0
    seg_left = 0
    segs = 0
    pos = _HEADER_LEN  # absolute offset of the next byte to walk
    base = 0  # absolute offset of buf[0]
    end = -1
    while end < 0:
        if pos >= base + BUF_SIZE:
            h.update(buf)
            base += BUF_SIZE
            if base >= total:
                raise OTAError("truncated", "image ends inside segment %d at %d" % (segs, total))
            part.readblocks(base // BUF_SIZE, buf)
            continue
        i = pos - base
        if seg_left:
            n = min(seg_left, BUF_SIZE - i)
            csum = _xor(mv[i:], n, csum)
            seg_left -= n
            pos += n
            if not seg_left:
                segs += 1
        elif segs == count:
            end = (pos + 16) & ~15  # checksum in the last byte of the 16-byte aligned block
        else:
            n = min(8 - hfill, BUF_SIZE - i)
            seg_hdr[hfill : hfill + n] = mv[i : i + n]
            hfill += n
            pos += n
            if hfill == 8:
                hfill = 0
                seg_left = struct.unpack_from("<I", seg_hdr, 4)[0]
                if seg_left > total:
                    raise OTAError("segments", "segment %d claims %d bytes" % (segs, seg_left))
                if not seg_left:
                    segs += 1
    need = end + (32 if hashed else 0)
    if need > total:
        raise OTAError("truncated", "image needs %d bytes, only %d arrived" % (need, total))
    # Hash up to `end`, read the checksum byte and the digest (they may cross blocks).
    while base + BUF_SIZE <= end:
        h.update(buf)
        base += BUF_SIZE
        part.readblocks(base // BUF_SIZE, buf)
    h.update(mv[: end - base])
    stored = buf[end - 1 - base]
    if stored != csum:
        raise OTAError(
            "checksum", "image checksum is 0x%02x, its segments give 0x%02x" % (stored, csum)
        )
    if hashed:
        digest = bytearray(32)
        for k in range(32):
            a = end + k
            if a >= base + BUF_SIZE:
                base += BUF_SIZE
                part.readblocks(base // BUF_SIZE, buf)
            digest[k] = buf[a - base]
        if h.digest() != digest:
            raise OTAError("digest", "the image's appended SHA-256 does not match its contents")
    return version
