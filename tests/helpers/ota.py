"""Shared by the OTA tests and the OTA benchmark: the loopback OTA server as a subprocess, a
test certificate authority for its --https mode, and flash directories for the host Partition
stand-in (frozen/wifimgr/partition.py)."""

import datetime
import hashlib
import ipaddress
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
    """tools/ota_server.py on 127.0.0.1, any free port; `url(name, **faults)`. `tls`: a
    (certificate, key) pair of PEM paths makes it an HTTPS server."""

    def __init__(self, directory, *args, tls=None):
        if tls:
            args = (*args, "--https", tls[0], "--key", tls[1])
        self.proc = subprocess.Popen(
            [sys.executable, str(SERVER), str(directory), "--port", "0", *map(str, args)],
            stdout=subprocess.PIPE,
            text=True,
        )
        line = self.proc.stdout.readline()
        if not line.startswith(("ota_server: http://", "ota_server: https://")):
            self.stop()
            raise RuntimeError("ota_server did not start: %r" % line)
        self.base = line.split()[1]

    def url(self, name, **faults):
        query = "&".join("%s=%s" % kv for kv in faults.items())
        return self.base + name + ("?" + query if query else "")

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=10)


class LocalCA:
    """A certificate authority made for one test run (PyPI `cryptography`, ECDSA P-256):
    `issue(name, ...)` writes <name>.pem (certificate, then the CA's) and <name>.key.
    `pem` is the CA certificate file a device would have as ota_ca."""

    def __init__(self, directory, name="wifimgr test CA"):
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import NameOID

        self.x509, self.hashes, self.ec, self.oid = x509, hashes, ec, NameOID
        self.dir = Path(directory)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.key = ec.generate_private_key(ec.SECP256R1())
        now = datetime.datetime.now(datetime.UTC)
        self.cert = (
            self._builder(name, name, self.key.public_key(), now - _DAY, now + 30 * _DAY)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(self.key, hashes.SHA256())
        )
        self.pem = self.dir / ("%s.pem" % name.replace(" ", "-"))
        self.pem.write_bytes(self._pem(self.cert))

    def _builder(self, subject, issuer, public_key, before, after):
        x509 = self.x509

        def dn(cn):
            return x509.Name([x509.NameAttribute(self.oid.COMMON_NAME, cn)])

        return (
            x509.CertificateBuilder()
            .subject_name(dn(subject))
            .issuer_name(dn(issuer))
            .public_key(public_key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(before)
            .not_valid_after(after)
        )

    @staticmethod
    def _pem(cert):
        from cryptography.hazmat.primitives.serialization import Encoding

        return cert.public_bytes(Encoding.PEM)

    def issue(self, name, hosts=("127.0.0.1", "localhost"), days=(-1, 1)):
        """A server certificate for `hosts` (IP addresses or DNS names, as subjectAltName),
        valid from days[0] to days[1] around now; returns (cert path, key path, SHA-256 of the
        DER certificate as hex)."""
        from cryptography.hazmat.primitives import serialization

        key = self.ec.generate_private_key(self.ec.SECP256R1())
        now = datetime.datetime.now(datetime.UTC)
        names = [
            self.x509.IPAddress(ipaddress.ip_address(h))
            if h[0].isdigit()
            else self.x509.DNSName(h)
            for h in hosts
        ]
        subject = self.cert.subject.get_attributes_for_oid(self.oid.COMMON_NAME)[0].value
        cert = (
            self._builder(
                hosts[0], subject, key.public_key(), now + days[0] * _DAY, now + days[1] * _DAY
            )  # fmt: skip
            .add_extension(self.x509.SubjectAlternativeName(names), critical=False)
            .sign(self.key, self.hashes.SHA256())
        )
        crt, pk = self.dir / ("%s.pem" % name), self.dir / ("%s.key" % name)
        crt.write_bytes(self._pem(cert) + self._pem(self.cert))
        pk.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        der = cert.public_bytes(serialization.Encoding.DER)
        return crt, pk, hashlib.sha256(der).hexdigest()


_DAY = datetime.timedelta(days=1)


def make_flash(
    path,
    running_image,
    chip="esp32",
    flash_size="4MB",
    slot_size=0x1D0000,
    build=None,
    layout="ota",
):
    """A flash directory as a board leaves the factory: `running_image` in ota_0, otadata
    erased (the bootloader boots ota_0); `build` is the firmware's build name (by default
    the chip's 4 MB board, WIFIMGR_<CHIP>). layout="factory" is a stock image's table instead
    (the esp32 port's partitions-4MiBplus.csv: one factory app of 0x1F0000 bytes, no OTA slots,
    no otadata), the image in factory.bin."""
    build = build or "WIFIMGR_" + chip.upper()
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    board = {"chip": chip, "flash_size": flash_size, "slot_size": slot_size, "build": build}
    board["layout"] = layout
    (path / "flash.json").write_text(json.dumps(board))
    app = "factory.bin" if layout == "factory" else "ota_0.bin"
    (path / app).write_bytes(running_image)
    for name in ("ota_0.bin", "ota_1.bin", "otadata.bin", "factory.bin"):
        if name != app:
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
from wifimgr.ota import download  # the machinery is imported before the baseline
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

download.Partition = Sampling  # the slots the download writes
gc.collect()
gc.threshold(2048)
base = gc.mem_alloc()
t0 = time.ticks_ms()
ota.update(%(url)r, sha256=%(sha256)r, reboot=False, ca=%(ca)r)
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
