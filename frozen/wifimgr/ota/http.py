"""wifimgr.ota.http: the HTTP(S) client of an update. One GET at a time over a socket (TLS for
https://, the server checked as `Trust` says), the body read through a caller's buffer, sync
(blocking sockets, run by `drive()`) or on asyncio. Redirects are followed, each hop checked on
its own; every failure is an OTAError naming what went wrong, with no credential in it
(config.safe_url).
"""

import binascii
import hashlib

from micropython import const

from wifimgr.config import ConfigError, check_pin, safe_url

from . import OTAError

_LINE_MAX = const(512)
MAX_REDIRECTS = const(3)


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


def join_url(base, ref):
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


class Trust:
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
                % (host, binascii.hexlify(self.seen).decode()),
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


async def get(url, timeout_ms, aio, trust, vouched):
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
            url = join_url(url, http.location)
            continue
        if http.status != 200:
            http.close()
            raise OTAError("http", "%s answered %d" % (shown, http.status))
        http.url = url
        return http
    raise OTAError(
        "redirect", "more than %d redirects, the last to %s" % (MAX_REDIRECTS, safe_url(url))
    )


def drive(coro):
    # Runs a coroutine that never suspends (sync mode: blocking sockets) to its end.
    try:
        coro.send(None)
    except StopIteration as e:
        return e.value
    coro.close()
    raise RuntimeError("ota: sync update suspended")
