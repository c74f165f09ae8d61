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
# The image is streamed through one fixed 4 KiB buffer straight into esp32.Partition blocks
# while SHA-256 runs over it; nothing of the running slot is written. Before set_boot() it must
# match the expected length and SHA-256, and its ESP app-image header (magic, segment count,
# this chip's id, app descriptor) plus its own checksum and appended SHA-256, read back from
# flash, must hold. Every failure raises OTAError naming what did not match (e.cause is a short
# key such as "sha256" or "chip") and leaves the boot partition as it was.

import hashlib
import json
import struct
import time

import micropython
from micropython import const

try:
    from esp32 import Partition

    _host = None
except ImportError:
    from . import partition as _host

    Partition = _host.Partition

from . import otadata as _otadata
from .config import ConfigError, check_pin, safe_url
from .platform import build, chip, reset

BUF_SIZE = const(4096)
_LINE_MAX = const(512)
MAX_REDIRECTS = const(3)
MANIFEST_MAX = const(16384)
MANIFEST_FORMAT = const(1)
TIMEOUT_MS = 10000

_MAGIC = const(0xE9)
_HEADER_LEN = const(24)
_MAX_SEGMENTS = const(16)
_APP_DESC_MAGIC = const(0xABCD5432)
_SUBTYPE_OTA_0 = const(0x10)
_PROGRESS_STEP = const(65536)

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


class OTAError(Exception):
    """An update that did not happen; `cause` says which check failed, the message how."""

    def __init__(self, cause, message):
        super().__init__("%s: %s" % (cause, message))
        self.cause = cause


_status = {"state": "idle"}
_NO_SLOTS = "this firmware's partition table has no OTA slots"
_unavailable = []  # [reason or None] once known


def unavailable():
    """None when this firmware can update over the air, else the reason (a stock image whose
    partition table has a factory app only: there esp32.Partition's get_next_update() and
    Partition("otadata") raise ENOENT, esp32_partition.c: esp32_partition_new())."""
    if not _unavailable:
        if _host and not _host.ready():
            return None  # a host without a flash directory: nothing to look at (or create)
        try:
            Partition(Partition.RUNNING).get_next_update()
            Partition("otadata")
            _unavailable.append(None)
        except OSError:
            _unavailable.append(_NO_SLOTS)
    return _unavailable[0]


def _refuse_if_unavailable():
    reason = unavailable()
    if reason:
        raise OTAError("unavailable", reason)


def status():
    """Progress of the current or last update plus what the bootloader will do, JSON-able;
    {"state": "unavailable", "reason": ...} on firmware that cannot update over the air."""
    out = dict(_status)
    if _host and not _host.ready():
        return out
    reason = unavailable()
    if reason:
        return {"state": "unavailable", "reason": reason}
    try:
        out["running"] = Partition(Partition.RUNNING).info()[4]
        entries = _read_otadata()
        active = _otadata.active_entry(entries)
        out["pending_verify"] = _pending(entries, active)
        # The newest record was given up by the bootloader: the last update was rolled back.
        written = [e for e in entries if e[0] != 0xFFFFFFFF and e[2]]
        out["rolled_back"] = bool(written) and max(written)[1] in (
            _otadata.STATE_ABORTED,
            _otadata.STATE_INVALID,
        )
    except OSError:
        pass
    return out


def _failed(url, e):
    # Keeps the progress fields: how far it got is part of the diagnosis.
    _status.update(state="failed", url=safe_url(url), error=str(e), cause=e.cause)


def _set(state, **kw):
    _status.clear()
    _status["state"] = state
    _status.update(kw)
    for key in ("url", "health_url"):
        if key in kw:
            _status[key] = safe_url(kw[key])


# ---- URLs, and what vouches for a download ---------------------------------------------------


def _split_url(url):
    """(scheme, userinfo or None, host, port, path) of an http:// or https:// URL."""
    if url.startswith("https://"):
        scheme, rest, port = "https", url[8:], 443
    elif url.startswith("http://"):
        scheme, rest, port = "http", url[7:], 80
    else:
        raise OTAError(
            "url", "only https:// and http:// URLs are supported, not %r" % safe_url(url)
        )
    slash = rest.find("/")
    hostport, path = (rest, "/") if slash < 0 else (rest[:slash], rest[slash:])
    at = hostport.rfind("@")
    userinfo, hostport = (hostport[:at], hostport[at + 1 :]) if at >= 0 else (None, hostport)
    host = hostport
    if ":" in hostport:
        host, p = hostport.rsplit(":", 1)
        try:
            port = int(p)
        except ValueError:
            raise OTAError("url", "bad port in %r" % safe_url(url))
    if not host:
        raise OTAError("url", "no host in %r" % safe_url(url))
    return scheme, userinfo, host, port, path


def _join(base, ref):
    # A redirect or manifest entry relative to `base` (same scheme, credentials and server).
    if ref.startswith("http://") or ref.startswith("https://"):
        return ref
    scheme, userinfo, host, port, path = _split_url(base)
    origin = "%s://%s%s:%d" % (scheme, userinfo + "@" if userinfo else "", host, port)
    if ref.startswith("/"):
        return origin + ref
    return origin + path[: path.rfind("/") + 1] + ref


def _authorization(userinfo):
    # A URL's user:password@ (percent-encoded, RFC 3986) as HTTP Basic authorization (RFC
    # 7617), or nothing.
    if not userinfo:
        return b""
    import binascii

    raw = userinfo.encode()
    parts = raw.split(b"%")
    try:
        raw = parts[0] + b"".join(binascii.unhexlify(p[:2]) + p[2:] for p in parts[1:])
    except ValueError:
        raise OTAError("url", "bad percent-encoding in the URL's user:password")
    return b"Authorization: Basic %s\r\n" % binascii.b2a_base64(raw, newline=False)


# mbedtls_x509_crt_verify_info() lines (modtls_mbedtls.c raises them as one ValueError when the
# handshake fails the certificate check) and what they mean here.
_TLS_REASONS = (
    ("not correctly signed by the trusted CA", "certificate not trusted (not signed by ota_ca)"),
    ("validity has expired", "certificate expired"),
    ("starts in the future", "certificate not yet valid (is the device's clock set?)"),
    ("does not match with the expected CN", "wrong name: the certificate is not for %s"),
)


class _Trust:
    """How the servers of one update are checked: `ca`, the path of a PEM file with the CA
    certificates to verify https:// servers against, and/or `pin`, the SHA-256 (hex) of the
    server's DER certificate. Without either, https:// is only encrypted, not authenticated."""

    def __init__(self, ca=None, pin=None):
        self.ca = ca
        self.cas = _pem_certs(ca) if ca else ()
        try:
            self.pin = bytes.fromhex(check_pin(pin, "pin")) if pin else None
        except ConfigError as e:
            raise OTAError("tls", str(e))
        self.seen = None  # SHA-256 of the last server certificate, with a pin

    def context(self, verify):
        try:
            import tls
        except ImportError:
            raise OTAError("tls", "this firmware has no TLS (the tls module is missing)")
        ctx = tls.SSLContext(tls.PROTOCOL_TLS_CLIENT)
        if not verify:
            ctx.verify_mode = tls.CERT_NONE
            return ctx
        # A CA: mbedtls checks chain, validity dates and name. Only a pin: the chain is
        # checked but not required (CERT_OPTIONAL); the pin below decides.
        ctx.verify_mode = tls.CERT_REQUIRED if self.cas else tls.CERT_OPTIONAL
        for i, der in enumerate(self.cas):
            try:
                ctx.load_verify_locations(der)
            except ValueError:
                raise OTAError(
                    "tls", "ota_ca %s: certificate %d is not valid X.509" % (self.ca, i)
                )
        if self.pin:
            self.seen = None
            ctx.verify_callback = self._check_pin
        return ctx

    def _check_pin(self, cert, depth):
        # Called by mbedtls for each certificate of the chain; the server's own is depth 0.
        # Nonzero ends the handshake before anything (a credential) is sent.
        if depth:
            return 0
        self.seen = hashlib.sha256(cert).digest()
        return 0 if self.seen == self.pin else -0x2700  # MBEDTLS_ERR_X509_CERT_VERIFY_FAILED

    def mismatch(self):
        return self.pin is not None and self.seen is not None and self.seen != self.pin

    def refused(self, e, host):
        """The OTAError for a failed TLS handshake with host (e as modtls_mbedtls.c raised it)."""
        if self.mismatch():
            return OTAError(
                "tls",
                "certificate of %s does not match ota_pin: its SHA-256 is %s"
                % (host, _hex(self.seen)),
            )
        if isinstance(e, ValueError):
            lines = [line for line in str(e).split("\n") if line]
            why = []
            for line in lines:
                for text, reason in _TLS_REASONS:
                    if text in line:
                        line = reason % host if "%s" in reason else reason
                why.append(line)
            return OTAError("tls", "%s: %s" % (host, "; ".join(why)))
        return OTAError("tls", "TLS with %s failed: %s" % (host, e.args[-1] if e.args else e))


def _pem_certs(path):
    # The DER certificates of a PEM file (MicroPython's mbedtls parses DER only).
    import binascii

    try:
        with open(path) as f:
            text = f.read()
    except OSError as e:
        raise OTAError("tls", "ota_ca %s cannot be read (%s)" % (path, e))
    begin, end = "-----BEGIN CERTIFICATE-----", "-----END CERTIFICATE-----"
    out = []
    i = text.find(begin)
    while i >= 0:
        j = text.find(end, i)
        if j < 0:
            break
        try:
            out.append(binascii.a2b_base64(text[i + len(begin) : j]))
        except ValueError:
            raise OTAError("tls", "ota_ca %s: certificate %d is not base64" % (path, len(out)))
        i = text.find(begin, j)
    if not out:
        raise OTAError("tls", "ota_ca %s holds no PEM certificate" % path)
    return out


# ---- HTTP over a socket, TLS when https:// ---------------------------------------------------


class _Http:
    """One HTTP/1.1 GET: the response head, then the body through readinto(); sync or asyncio."""

    def __init__(self, timeout_ms, aio):
        self.timeout_ms = timeout_ms
        self.aio = aio
        self.sock = self.reader = self.writer = None
        self.line = bytearray(_LINE_MAX)
        self.lmv = memoryview(self.line)
        self.pos = self.end = 0
        self.status = 0
        self.length = -1
        self.chunked = False
        self.left = 0  # bytes left in the body (Content-Length) or the current chunk
        self.done = False
        self.location = None

    async def open(self, url, trust, vouched):
        """Connects and reads the response head. `vouched`: the content's SHA-256 is known
        from elsewhere (or nothing is installed from it), so the server need not be verified."""
        scheme, userinfo, host, port, path = _split_url(url)
        verify = scheme == "https" and (trust.cas or trust.pin)
        if not verify and not vouched:
            if scheme == "http":
                why = "plain HTTP lets anyone on the path change image and digest together"
            else:
                why = "no ota_ca or ota_pin to verify the server with"
            raise OTAError(
                "insecure",
                "%s: %s; give the SHA-256 of what it serves, or an https:// URL with ota_ca or "
                "ota_pin" % (safe_url(url), why),
            )
        ctx = trust.context(verify) if scheme == "https" else None
        import socket

        try:
            addr = socket.getaddrinfo(host, port)[0][-1]
        except OSError as e:
            raise OTAError("connect", "cannot resolve %s (%s)" % (host, e))
        req = (
            b"GET %s HTTP/1.1\r\nHost: %s\r\n"
            b"User-Agent: wifimgr-ota\r\nConnection: close\r\n%s\r\n"
        )
        req %= (path.encode(), host.encode(), _authorization(userinfo))
        # With TLS the handshake (and the certificate check) happens in the first write.
        try:
            if self.aio:
                import asyncio

                async def send():
                    self.reader, self.writer = await asyncio.open_connection(
                        host, port, ssl=ctx, server_hostname=host if ctx else None
                    )
                    self.writer.write(req)
                    await self.writer.drain()

                try:
                    await asyncio.wait_for_ms(send(), self.timeout_ms)
                except asyncio.TimeoutError:  # noqa: UP041 (MicroPython has no builtin)
                    raise OSError(110, "no answer in %d ms" % self.timeout_ms)
            else:
                self.sock = socket.socket()
                self.sock.settimeout(self.timeout_ms / 1000)
                self.sock.connect(addr)
                if ctx:
                    self.sock = ctx.wrap_socket(
                        self.sock, server_hostname=host, do_handshake_on_connect=False
                    )
                # A TLS handshake that stalls past the socket timeout writes nothing.
                if (self.sock.write(req) or 0) < len(req):
                    raise OSError(110, "no answer in %d ms" % self.timeout_ms)
        except (OSError, ValueError) as e:
            self.close()
            code = e.args[0] if e.args and isinstance(e.args[0], int) else 0
            if ctx and (isinstance(e, ValueError) or code < -255 or trust.mismatch()):
                raise trust.refused(e, host)  # a certificate check or an mbedtls error
            raise OTAError("connect", "cannot connect to %s:%d (%s)" % (host, port, e))
        await self._head(url)

    def close(self):
        for s in (self.sock, self.writer):
            if s:
                try:
                    s.close()
                except OSError:
                    pass
        self.sock = self.reader = self.writer = None

    async def _recv(self, mv):
        # Up to len(mv) bytes from the socket; 0 at EOF. Stalls raise OTAError("timeout").
        try:
            if self.aio:
                import asyncio

                try:
                    n = await asyncio.wait_for_ms(self.reader.readinto(mv), self.timeout_ms)
                except asyncio.TimeoutError:  # noqa: UP041 (MicroPython has no builtin)
                    raise OTAError("timeout", "no data for %d ms" % self.timeout_ms)
            else:
                n = self.sock.readinto(mv)
                if n is None:  # a TLS socket's read past the socket timeout
                    raise OTAError("timeout", "no data for %d ms" % self.timeout_ms)
        except OSError as e:
            if e.args and e.args[0] in (110, 116, 11):  # ETIMEDOUT, ETIMEDOUT (lwIP), EAGAIN
                raise OTAError("timeout", "no data for %d ms" % self.timeout_ms)
            raise OTAError("connection", "receive failed: %s" % e)
        return n or 0

    async def _readline(self):
        # One header or chunk-size line (without CRLF) from the line buffer, as bytes.
        while True:
            i = self.line.find(b"\n", self.pos, self.end) if self.pos < self.end else -1
            if i >= 0:
                out = bytes(self.lmv[self.pos : i])
                self.pos = i + 1
                return out[:-1] if out.endswith(b"\r") else out
            if self.pos:
                self.line[: self.end - self.pos] = self.lmv[self.pos : self.end]
                self.end -= self.pos
                self.pos = 0
            if self.end == _LINE_MAX:
                raise OTAError("http", "header line longer than %d bytes" % _LINE_MAX)
            n = await self._recv(self.lmv[self.end :])
            if not n:
                raise OTAError("connection", "closed in the middle of the HTTP header")
            self.end += n

    async def _head(self, url):
        line = await self._readline()
        parts = line.split(None, 2)
        if len(parts) < 2 or not parts[0].startswith(b"HTTP/1."):
            raise OTAError("http", "%s did not answer HTTP: %r" % (safe_url(url), line[:40]))
        try:
            self.status = int(parts[1])
        except ValueError:
            raise OTAError("http", "bad status line %r" % line[:40])
        while True:
            line = await self._readline()
            if not line:
                break
            name, _, value = line.partition(b":")
            name = name.strip().lower()
            value = value.strip()
            if name == b"content-length":
                try:
                    self.length = int(value)
                except ValueError:
                    self.length = -2
                if self.length < 0:
                    raise OTAError("http", "bad Content-Length %r" % value)
            elif name == b"transfer-encoding":
                self.chunked = b"chunked" in value.lower()
            elif name == b"location":
                self.location = value.decode()
        self.left = -1 if self.chunked else self.length

    async def _buffered(self, mv):
        # Bytes already in the line buffer go first; then the socket directly.
        if self.pos < self.end:
            n = min(len(mv), self.end - self.pos)
            mv[:n] = self.lmv[self.pos : self.pos + n]
            self.pos += n
            return n
        return await self._recv(mv)

    async def readinto(self, mv):
        """Body bytes into the memoryview mv; 0 at the end of the body. Checks the framing as
        it goes."""
        if self.done:
            return 0
        if self.chunked:
            if self.left <= 0:
                if self.left == 0 and await self._readline():
                    raise OTAError("http", "chunk not followed by CRLF")
                size = (await self._readline()).split(b";")[0].strip()
                try:
                    self.left = int(size, 16)
                except ValueError:
                    self.left = -1
                if self.left < 0:
                    raise OTAError("http", "bad chunk size line %r" % size[:20])
                if self.left == 0:
                    while await self._readline():  # trailers
                        pass
                    self.done = True
                    return 0
            want = min(len(mv), self.left)
        elif self.length >= 0:
            if self.left == 0:
                self.done = True
                return 0
            want = min(len(mv), self.left)
        else:
            want = len(mv)
        n = await self._buffered(mv[:want])
        if not n:
            if self.length < 0 and not self.chunked:
                self.done = True
                return 0
            raise OTAError("connection", "closed by the server before the end of the body")
        self.left -= n
        return n


async def _get(url, timeout_ms, aio, trust, vouched):
    """An open _Http on the final URL after at most MAX_REDIRECTS redirects, status 200. Each
    hop is checked on its own (an https:// URL redirected to http:// needs `vouched` too)."""
    for _ in range(MAX_REDIRECTS + 1):
        http = _Http(timeout_ms, aio)
        await http.open(url, trust, vouched)
        shown = safe_url(url)
        if http.status in (301, 302, 303, 307, 308):
            http.close()
            if not http.location:
                raise OTAError(
                    "http", "redirect %d without Location from %s" % (http.status, shown)
                )
            url = _join(url, http.location)
            continue
        if http.status != 200:
            http.close()
            raise OTAError("http", "%s answered %d" % (shown, http.status))
        http.url = url
        return http
    raise OTAError(
        "redirect", "more than %d redirects, the last to %s" % (MAX_REDIRECTS, safe_url(url))
    )


def _drive(coro):
    # Runs a coroutine that never suspends (sync mode: blocking sockets) to its end.
    try:
        coro.send(None)
    except StopIteration as e:
        return e.value
    coro.close()
    raise RuntimeError("ota: sync update suspended")


# ---- the image checks ------------------------------------------------------------------------


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


# ---- update ----------------------------------------------------------------------------------


def _hex(b):
    return "".join("%02x" % x for x in b)


async def _download(url, sha256, length, progress, timeout_ms, aio, trust, vouched):
    """Streams url into the next update partition and verifies it; returns that partition."""
    running = Partition(Partition.RUNNING)
    target = running.get_next_update()
    if target.info()[2] == running.info()[2]:
        raise OTAError("partition", "the next update partition is the running one")
    if Partition(Partition.BOOT).info()[2] == target.info()[2]:
        raise OTAError(
            "pending",
            "%s already holds an update that boots next: reboot first" % target.info()[4],
        )
    capacity = target.info()[3]
    if sha256 is not None:
        sha256 = sha256.lower()
        if len(sha256) != 64:
            raise OTAError("sha256", "expected digest %r is not 64 hex digits" % sha256)
    _set("connecting", url=url, bytes=0, total=length, percent=0, rate=0)
    http = await _get(url, timeout_ms, aio, trust, vouched)
    try:
        total = http.length if http.length >= 0 else length
        if length is not None and http.length >= 0 and http.length != length:
            raise OTAError("length", "server sends %d bytes, expected %d" % (http.length, length))
        if total is not None and total > capacity:
            raise OTAError(
                "length", "image of %d bytes does not fit the %d-byte slot" % (total, capacity)
            )
        chip_id = CHIP_IDS.get(chip(), -1)
        buf = bytearray(BUF_SIZE)
        mv = memoryview(buf)
        h = hashlib.sha256()
        done = fill = block = 0
        checked = False
        start = time.ticks_ms()
        next_report = 0
        _set("downloading", url=http.url, bytes=0, total=total, percent=0, rate=0)
        while True:
            n = await http.readinto(mv[fill:])
            if n:
                fill += n
                done += n
                if done > capacity:
                    raise OTAError("length", "more than the slot's %d bytes arrived" % capacity)
                if not checked and fill >= 80:
                    check_header(buf, chip_id)  # a wrong image stops before the download
                    checked = True
                if fill < BUF_SIZE:
                    continue
            if fill:
                h.update(mv[:fill])
                for i in range(fill, BUF_SIZE):
                    buf[i] = 0xFF  # the tail as a whole erased-looking sector (encryption-safe)
                target.writeblocks(block, buf)
                block += 1
                fill = 0
                _status["bytes"] = done
            if done >= next_report or not n:
                ms = max(time.ticks_diff(time.ticks_ms(), start), 1)
                _status["bytes"] = done
                _status["percent"] = done * 100 // total if total else None
                _status["rate"] = done * 1000 // ms
                if progress:
                    progress(_status)
                next_report = done + _PROGRESS_STEP
                if aio:
                    import asyncio

                    await asyncio.sleep_ms(0)
            if not n:
                break
    finally:
        http.close()
    _set("verifying", url=url, bytes=done, total=total, percent=100, rate=_status["rate"])
    if length is not None and done != length:
        raise OTAError("length", "received %d bytes, expected %d" % (done, length))
    if done < 80:
        raise OTAError("truncated", "only %d bytes arrived" % done)
    if sha256 is not None:
        got = _hex(h.digest())
        if got != sha256:
            raise OTAError("sha256", "image SHA-256 is %s, expected %s" % (got, sha256))
    version = check_image(target, done, buf)
    _status["image_version"] = version
    return target


async def _update(url, sha256, length, reboot, progress, timeout_ms, aio, ca, pin):
    _refuse_if_unavailable()
    try:
        trust = _Trust(ca, pin)
        target = await _download(
            url, sha256, length, progress, timeout_ms, aio, trust, sha256 is not None
        )
        target.set_boot()
    except OTAError as e:
        _failed(url, e)
        raise
    except OSError as e:
        e = OTAError("flash", "writing the update partition failed: %s" % e)
        _failed(url, e)
        raise e
    _status["state"] = "done"
    _status["boot"] = target.info()[4]
    if reboot:
        reset()
    return target.info()[4]


def update(
    url,
    sha256=None,
    length=None,
    reboot=True,
    progress=None,
    timeout_ms=TIMEOUT_MS,
    ca=None,
    pin=None,
):
    """Downloads the app image at url into the other slot, verifies it and makes it bootable.
    An https:// server is verified with ca and/or pin; without them (and for http://) the
    image's sha256 must be given.

    Returns the label of the slot that boots next (when reboot is False); raises OTAError."""
    return _drive(_update(url, sha256, length, reboot, progress, timeout_ms, False, ca, pin))


async def aupdate(
    url,
    sha256=None,
    length=None,
    reboot=True,
    progress=None,
    timeout_ms=TIMEOUT_MS,
    ca=None,
    pin=None,
):
    """update() for asyncio: other tasks run while it downloads; a stall still ends it after
    timeout_ms."""
    return await _update(url, sha256, length, reboot, progress, timeout_ms, True, ca, pin)


# ---- manifests -------------------------------------------------------------------------------


def parse_version(v):
    """ "1.2.3" (optionally "v1.2.3-rc1") as a comparable tuple; a suffix sorts before none."""
    v = v.lstrip("v")
    main, _, suffix = v.partition("-")
    try:
        nums = [int(x) for x in main.split(".")]
    except ValueError:
        raise OTAError("manifest", "version %r is not numbers separated by dots" % v)
    while len(nums) < 3:
        nums.append(0)  # "1.2" is "1.2.0"
    return tuple(nums) + ((0, suffix) if suffix else (1, ""))


def _current_version():
    from . import __version__

    return __version__


def _boards(manifest):
    # ci/release_manifest.py's ota.json has "boards"; firmware/dist.py's per-board
    # manifest.json has one board whose app image sits next to it.
    if "boards" in manifest:
        boards = manifest["boards"]
        if isinstance(boards, dict) and boards:
            return boards
    elif "board" in manifest and isinstance(manifest.get("files"), list):
        for f in manifest["files"]:
            if isinstance(f, dict) and f.get("role") == "app":
                entry = {
                    "url": f.get("name"),
                    "sha256": f.get("sha256"),
                    "length": f.get("length"),
                }
                for key in ("chip", "chip_id", "flash_size"):
                    if key in manifest:
                        entry[key] = manifest[key]
                return {manifest["board"]: entry}
    raise OTAError("manifest", 'no "boards" (nor a per-board app image) in the manifest')


def select_board(manifest, board=None):
    """(name, entry) of the manifest's image for this device: `board`, else this firmware's
    build name (platform.build()), never the flash chip's size."""
    boards = _boards(manifest)
    name = build() if board is None else board
    if name not in boards:
        raise OTAError("board", "manifest has no %s; it has %s" % (name, ", ".join(boards)))
    return name, boards[name]


def _safe_path(path):
    if not isinstance(path, str) or not path.startswith("/") or "/../" in path + "/":
        raise OTAError("manifest", "file path %r is not absolute or leaves the filesystem" % path)
    return path


async def _fetch(url, timeout_ms, aio, trust, sha256, limit=MANIFEST_MAX):
    # A small document (the manifest) in RAM: as large as it is, at most `limit` bytes, with
    # the SHA-256 `sha256` when given.
    http = await _get(url, timeout_ms, aio, trust, sha256 is not None)
    try:
        out = bytearray()
        chunk = memoryview(bytearray(512))
        while True:
            k = await http.readinto(chunk)
            if not k:
                break
            if len(out) + k > limit:
                raise OTAError("manifest", "%s is larger than %d bytes" % (safe_url(url), limit))
            out.extend(chunk[:k])
    finally:
        http.close()
    if sha256 is not None:
        got = _hex(hashlib.sha256(out).digest())
        if got != sha256.lower():
            raise OTAError("sha256", "manifest SHA-256 is %s, expected %s" % (got, sha256))
    return bytes(out)


async def _fetch_file(entry, base, fs_root, timeout_ms, aio, trust):
    # One filesystem file to <path>.new, streamed and hashed; returns the temporary name.
    path = fs_root + _safe_path(entry.get("path"))
    url = _join(base, entry["url"])
    tmp = path + ".new"
    http = await _get(url, timeout_ms, aio, trust, True)  # the manifest's digest vouches
    h = hashlib.sha256()
    done = 0
    buf = bytearray(BUF_SIZE)
    mv = memoryview(buf)
    try:
        try:
            _make_dirs(fs_root, entry["path"])
            f = open(tmp, "wb")
        except OSError as e:
            raise OTAError("file", "cannot write %s: %s" % (tmp, e))
        with f:
            while True:
                n = await http.readinto(mv)
                if not n:
                    break
                h.update(mv[:n])
                f.write(mv[:n])
                done += n
    finally:
        http.close()
    if "length" in entry and done != entry["length"]:
        raise OTAError(
            "length", "%s: received %d bytes, expected %d" % (path, done, entry["length"])
        )
    got = _hex(h.digest())
    if got != entry.get("sha256", "").lower():
        raise OTAError("sha256", "%s: SHA-256 %s, expected %s" % (path, got, entry.get("sha256")))
    return tmp


def _make_dirs(fs_root, path):
    # The directories above a manifest file that this device does not have yet.
    import os

    d = fs_root
    for part in path.split("/")[1:-1]:
        d += "/" + part
        if not _exists(d):
            os.mkdir(d)


def _remove(name):
    import os

    try:
        os.remove(name)
    except OSError:
        pass


# The filesystem files follow the firmware: the previous version of each is kept as
# <path>.bak and a journal (/ota_files.json) names the files and the slot they belong to.
# Whichever firmware boots next settles it (settle_files(), run by guard() and before the next
# manifest update): running that slot and valid, the .bak files go; running the other slot (the
# update was rolled back or never switched over), the previous files come back.
_JOURNAL = "/ota_files.json"


def _exists(path):
    import os

    try:
        os.stat(path)
        return True
    except OSError:
        return False


def _install_files(fs_root, staged, slot):
    import os

    entries = [[path, _exists(path)] for _tmp, path in staged]
    tmp = fs_root + _JOURNAL + ".new"
    with open(tmp, "w") as f:
        json.dump({"slot": slot, "files": entries}, f)
    os.rename(tmp, fs_root + _JOURNAL)
    for i, (new, path) in enumerate(staged):
        if entries[i][1]:
            _remove(path + ".bak")
            os.rename(path, path + ".bak")
        os.rename(new, path)  # each file atomically


def _root(fs_root):
    # Manifest paths are the device's filesystem: "/" on a board, the current directory on the
    # unix port (never the host's root).
    if fs_root is None:
        return "." if _host else ""
    return fs_root


def settle_files(fs_root=None):
    """Keeps or restores the files of the last manifest update to match the firmware that
    runs; returns "kept", "restored", "pending" or None (nothing to settle)."""
    import os

    fs_root = _root(fs_root)
    try:
        with open(fs_root + _JOURNAL) as f:
            journal = json.load(f)
    except (OSError, ValueError):
        _remove(fs_root + _JOURNAL)
        return None
    running = Partition(Partition.RUNNING).info()[4]
    if running == journal["slot"] and pending_verify():
        return "pending"
    keep = running == journal["slot"]
    for path, had_old in journal["files"]:
        _remove(path + ".new")
        if keep:
            _remove(path + ".bak")
        elif had_old:
            if _exists(path + ".bak"):
                _remove(path)
                os.rename(path + ".bak", path)
        else:
            _remove(path)
    _remove(fs_root + _JOURNAL)
    return "kept" if keep else "restored"


async def _update_from_manifest(
    url, reboot, progress, board, timeout_ms, aio, force, fs_root, sha256, ca, pin
):
    _refuse_if_unavailable()
    _set("checking", url=url)
    fs_root = _root(fs_root)
    settle_files(fs_root)
    try:
        trust = _Trust(ca, pin)
        try:
            manifest = json.loads(await _fetch(url, timeout_ms, aio, trust, sha256))
        except ValueError:
            raise OTAError("manifest", "%s is not JSON" % safe_url(url))
        if not isinstance(manifest, dict) or "version" not in manifest:
            raise OTAError("manifest", '%s has no "version"' % safe_url(url))
        if manifest.get("format", 1) > MANIFEST_FORMAT:
            raise OTAError(
                "manifest", "format %s is newer than this firmware reads" % manifest["format"]
            )
        new, current = manifest["version"], _current_version()
        if not force and parse_version(new) <= parse_version(current):
            _set("up_to_date", url=url, version=current, offered=new)
            return None
        name, entry = select_board(manifest, board)
        for key in ("url", "sha256", "length"):
            if key not in entry:
                raise OTAError("manifest", "entry for %s has no %r" % (name, key))
        files = manifest.get("filesystem") or []
        for f in files:
            _safe_path(f.get("path"))
            if "url" not in f or "sha256" not in f:
                raise OTAError("manifest", 'file %s needs "url" and "sha256"' % f.get("path"))
    except OTAError as e:
        _failed(url, e)
        raise
    image_url = _join(url, entry["url"])
    target = await _download_checked(image_url, entry, progress, timeout_ms, aio, trust)
    staged = []
    try:
        for f in files:
            tmp = await _fetch_file(f, url, fs_root, timeout_ms, aio, trust)
            staged.append((tmp, fs_root + f["path"]))
    except (OTAError, OSError) as e:
        for tmp, _ in staged:
            _remove(tmp)
        _remove(fs_root + files[len(staged)]["path"] + ".new")
        err = e if isinstance(e, OTAError) else OTAError("file", str(e))
        _failed(url, err)
        raise err
    try:
        _install_files(fs_root, staged, target.info()[4])
        target.set_boot()
    except OSError as e:
        err = OTAError("flash", "installing the update failed: %s" % e)
        _failed(url, err)
        raise err
    _set("done", url=url, version=new, board=name, boot=target.info()[4], files=len(staged))
    if reboot:
        reset()
    return new


async def _download_checked(url, entry, progress, timeout_ms, aio, trust):
    # The manifest, verified or vouched for, vouches for the image by its digest.
    try:
        return await _download(
            url, entry["sha256"], entry["length"], progress, timeout_ms, aio, trust, True
        )
    except OTAError as e:
        _failed(url, e)
        raise


def update_from_manifest(
    url,
    reboot=True,
    progress=None,
    board=None,
    timeout_ms=TIMEOUT_MS,
    force=False,
    fs_root=None,
    sha256=None,
    ca=None,
    pin=None,
):
    """Updates to the manifest's image for this board when its version is newer than ours
    (or always, with force), then writes the manifest's filesystem files under fs_root. The
    manifest comes from an https:// server verified with ca and/or pin, or has the SHA-256
    sha256; its digests then vouch for the image and files, wherever they come from.

    Returns the new version, or None when there was nothing newer; raises OTAError."""
    return _drive(
        _update_from_manifest(
            url, reboot, progress, board, timeout_ms, False, force, fs_root, sha256, ca, pin
        )
    )


async def aupdate_from_manifest(
    url,
    reboot=True,
    progress=None,
    board=None,
    timeout_ms=TIMEOUT_MS,
    force=False,
    fs_root=None,
    sha256=None,
    ca=None,
    pin=None,
):
    return await _update_from_manifest(
        url, reboot, progress, board, timeout_ms, True, force, fs_root, sha256, ca, pin
    )


# ---- rollback gated on health ----------------------------------------------------------------


def _read_otadata():
    data = Partition("otadata")
    buf = bytearray(32)

    def read(off, n):
        data.readblocks(off // BUF_SIZE, buf, off % BUF_SIZE)
        return bytes(buf)

    return _otadata.read_otadata(read)


def _pending(entries, active):
    if active < 0:
        return False
    seq, state, _ok = entries[active]
    slot = Partition(Partition.RUNNING).info()[1] - _SUBTYPE_OTA_0
    return (seq - 1) % 2 == slot and state == _otadata.STATE_PENDING_VERIFY


def pending_verify():
    """True when this boot runs a new image the bootloader will roll back unless marked valid."""
    entries = _read_otadata()
    return _pending(entries, _otadata.active_entry(entries))


async def _reachable(url, timeout_ms, trust):
    # Nothing is installed from a health URL: any answer 200 counts, over http:// too.
    try:
        http = await _get(url, timeout_ms, True, trust, True)
        http.close()
        return True
    except OTAError:
        return False


async def guard(
    is_healthy,
    deadline_ms=120000,
    health_url=None,
    poll_ms=500,
    fs_root=None,
    clock=None,
    ca=None,
    pin=None,
):
    """Keeps a freshly updated image only if it proves healthy within deadline_ms.

    is_healthy() says the device is back on WiFi; with health_url, that URL must also answer
    200. Then the image is marked valid (returns "valid"); at the deadline the device reboots
    into the previous image. On a boot that is not pending verification it returns at once
    ("not_pending"), so a WiFi outage never causes a reboot loop; on firmware without OTA
    slots it returns "unavailable". It first settles the
    filesystem files of the last manifest update under fs_root (settle_files()). `clock`
    (with now_ms(), e.g. the simulator's) measures the deadline and the polls instead of
    time.ticks_ms. An https:// health_url is verified with ca and/or pin when given."""
    import asyncio

    if _host and not _host.ready():
        return "not_pending"
    if unavailable():
        return "unavailable"
    settle_files(fs_root)
    if not pending_verify():
        return "not_pending"
    try:
        trust = _Trust(ca, pin)
    except OTAError:  # a broken ota_ca: the health URL cannot be reached, the image goes back
        trust = None
    _set("verifying_health", deadline_ms=deadline_ms, health_url=health_url)

    now = clock.now_ms if clock is not None else time.ticks_ms

    def elapsed():
        return time.ticks_diff(now(), start)

    start = now()
    while elapsed() < deadline_ms:
        if is_healthy() and (
            health_url is None or trust and await _reachable(health_url, 5000, trust)
        ):
            Partition.mark_app_valid_cancel_rollback()
            settle_files(fs_root)
            _set("valid", after_ms=elapsed())
            return "valid"
        polled = now()
        while time.ticks_diff(now(), polled) < poll_ms:  # a virtual clock moves in its own time
            await asyncio.sleep_ms(0 if hasattr(clock, "advance") else poll_ms)
    _set("rolling_back", reason="not healthy within %d ms" % deadline_ms)
    reset()
