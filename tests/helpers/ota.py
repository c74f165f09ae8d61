"""Shared by the OTA tests and the OTA benchmark: the loopback OTA server as a subprocess, and
flash directories for the host Partition stand-in (frozen/wifimgr/partition.py)."""

import json
import struct
import subprocess
import sys
import zlib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SERVER = ROOT / "tools" / "ota_server.py"

STATES = {0: "new", 1: "pending_verify", 2: "valid", 3: "invalid", 4: "aborted"}


class OtaServer:
    """tools/ota_server.py on 127.0.0.1, any free port; `url(name, **faults)`."""

    def __init__(self, directory, *args):
        self.proc = subprocess.Popen(
            [sys.executable, str(SERVER), str(directory), "--port", "0", *map(str, args)],
            stdout=subprocess.PIPE,
            text=True,
        )
        line = self.proc.stdout.readline()
        if not line.startswith("ota_server: http://"):
            self.stop()
            raise RuntimeError("ota_server did not start: %r" % line)
        self.base = line.split()[1]

    def url(self, name, **faults):
        query = "&".join("%s=%s" % kv for kv in faults.items())
        return self.base + name + ("?" + query if query else "")

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=10)


def make_flash(
    path, running_image, chip="esp32", flash_size="4MB", slot_size=0x1D0000, build=None
):
    """A flash directory as a board leaves the factory: `running_image` in ota_0, otadata
    erased (the bootloader boots ota_0); `build` is the firmware's build name (by default
    the chip's 4 MB board, WIFIMGR_<CHIP>)."""
    build = build or "WIFIMGR_" + chip.upper()
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    board = {"chip": chip, "flash_size": flash_size, "slot_size": slot_size, "build": build}
    (path / "flash.json").write_text(json.dumps(board))
    (path / "ota_0.bin").write_bytes(running_image)
    for name in ("ota_1.bin", "otadata.bin"):
        (path / name).unlink(missing_ok=True)
    return path


def otadata(path):
    """The otadata entries of a flash directory as (seq, state name, crc ok), like the
    bootloader reads them, and the slot it boots next (None: ota_0 by default)."""
    raw = (
        (Path(path) / "otadata.bin").read_bytes() if (Path(path) / "otadata.bin").exists() else b""
    )
    raw = raw.ljust(8192, b"\xff")
    entries = []
    for i in range(2):
        seq, _label, state, crc = struct.unpack_from("<I20sII", raw, i * 4096)
        ok = crc == zlib.crc32(struct.pack("<I", seq), 0xFFFFFFFF) & 0xFFFFFFFF
        entries.append((seq, STATES.get(state, hex(state)), ok))
    valid = [
        e for e in entries if e[0] != 0xFFFFFFFF and e[2] and e[1] not in ("invalid", "aborted")
    ]
    boot = (max(valid)[0] - 1) % 2 if valid else None
    return entries, boot


# Measures the heap an update needs on MicroPython: every flash read and write (each 4 KiB block
# of the download and of the read-back check) samples gc.mem_alloc(), with the collector run
# after every 2 KiB allocated so that garbage cannot hide in the numbers. Prints JSON with the
# idle baseline (package imported, collected) and the peak above it.
HEAP_SCRIPT = """
import gc, json, time
from wifimgr import partition, ota
partition.setup(%(flash)r)
P = partition.Partition
peak = 0

def sample():
    global peak
    m = gc.mem_alloc()
    if m > peak:
        peak = m

class Sampling(P):
    def readblocks(self, block, buf, offset=0):
        sample()
        P.readblocks(self, block, buf, offset)

    def writeblocks(self, block, buf, offset=None):
        sample()
        P.writeblocks(self, block, buf, offset)

    def get_next_update(self):
        return Sampling(P.get_next_update(self).name)

ota.Partition = Sampling
gc.collect()
gc.threshold(2048)
base = gc.mem_alloc()
t0 = time.ticks_ms()
ota.update(%(url)r, sha256=%(sha256)r, reboot=False)
ms = time.ticks_diff(time.ticks_ms(), t0)
gc.threshold(-1)
print(json.dumps({"base": base, "peak": peak - base, "ms": ms, "bytes": ota.status()["bytes"]}))
"""

# The same download with nothing but a socket: the ceiling for OTA throughput.
RAW_SCRIPT = """
import json, socket, time
host, port, path = %(host)r, %(port)d, %(path)r
buf = bytearray(4096)
t0 = time.ticks_ms()
s = socket.socket()
s.connect(socket.getaddrinfo(host, port)[0][-1])
s.write(b"GET %%s HTTP/1.1\\r\\nHost: %%s\\r\\nConnection: close\\r\\n\\r\\n" %% (path, host))
n = 0
while True:
    k = s.readinto(buf)
    if not k:
        break
    n += k
s.close()
print(json.dumps({"ms": time.ticks_diff(time.ticks_ms(), t0), "bytes": n}))
"""
