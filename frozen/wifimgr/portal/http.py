# A small HTTP/1.1 server on asyncio with bounded resources, for the provisioning portal.
#
# Everything a client can make the server hold is capped: simultaneous connections, bytes and
# fields of a request head, bytes of a body, and the time a whole request (head and body) may
# take: one deadline from its first byte. A connection still sending its request (slow, idle or
# hostile, in the head or in the body) gives its place to a new one when all places are taken,
# so a crowd of slow clients cannot lock out a phone; only one being answered keeps its place.
# The portal's `check_head(request)` refuses a request from its head alone (a missing token),
# before any of its body is read. A malformed request gets a 4xx with a short reason (JSON, as
# every error: {"error": ..., "field": ...}) and its connection is closed; everyone else keeps
# being served.

import asyncio
import json
import sys
import time

from micropython import const

from wifimgr import _log as log

_MAX_CONNECTIONS = const(4)
_MAX_HEAD_BYTES = const(2048)  # request line and header fields together
_MAX_HEADERS = const(24)
_MAX_BODY_BYTES = const(2048)
_REQUEST_TIMEOUT_MS = const(5000)  # first byte of a request to the end of its body
_IDLE_TIMEOUT_MS = const(10000)  # keep-alive: between two requests
_WRITE_TIMEOUT_MS = const(10000)
_READ = const(512)
_CHUNK = const(512)  # bytes of a large body per write
# asyncio's own timeout (MicroPython has no builtin TimeoutError)
_Timeout = asyncio.TimeoutError
_DRAIN_READS = const(16)
_DRAIN_MS = const(100)
# A connection is a list: [its task, the ticks since it waits for its current request (None
# while one is answered: then it is never evicted), the ticks by which that request must be in]
_TASK = const(0)
_SINCE = const(1)
_DEADLINE = const(2)

# The reason phrase of each status the portal answers, one "\n<status> <reason>" each: a string
# stays in flash where a dict would be built on the heap.
_REASONS = (
    "\n200 OK\n202 Accepted\n302 Found\n304 Not Modified\n400 Bad Request\n403 Forbidden"
    "\n404 Not Found\n405 Method Not Allowed\n408 Request Timeout\n409 Conflict"
    "\n411 Length Required\n413 Content Too Large\n414 URI Too Long"
    "\n415 Unsupported Media Type\n429 Too Many Requests"
    "\n431 Request Header Fields Too Large\n500 Internal Server Error\n501 Not Implemented"
    "\n503 Service Unavailable\n505 HTTP Version Not Supported\n"
)
_METHODS = ("GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH", "TRACE", "CONNECT")


class HTTPError(Exception):
    """An error answered to the client: status, a short reason, and the field it is about."""

    def __init__(self, status, message, field=None, headers=None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.field = field
        self.headers = headers


class Request:
    def __init__(self, method, target, version, headers):
        self.method = method
        self.version = version
        self.headers = headers  # lower-case name -> str
        self.body = b""
        q = target.find("?")
        self.path = target if q < 0 else target[:q]  # the query is not used

    def header(self, name, default=""):
        return self.headers.get(name, default)


class Response:
    """An answer. `body` is bytes (or str), or, for a large body not held in memory, a function
    that opens a stream of exactly `length` bytes (readinto, close), sent in slices; the
    Server opens it once the handler returned."""

    def __init__(self, status, body, content_type, headers, length=None):
        self.status = status
        if isinstance(body, str):
            body = body.encode()
        self.body = body
        self.length = len(body) if length is None else length
        self.content_type = content_type
        self.headers = headers  # list of (name, value)


def _is_token(s):
    if not s:
        return False
    for c in s:
        if c <= " " or c > "~" or c in '"(),/:;<=>?@[\\]{}':
            return False
    return True


def parse_head(head):
    """Parses a request head (bytes up to, not including, the blank line) into a Request, with
    `length`, the number of body bytes to read; HTTPError when it is malformed or its framing
    unusable."""
    lines = head.split(b"\r\n")
    parts = lines[0].split(b" ")
    if len(parts) != 3 or not parts[1]:
        raise HTTPError(400, "malformed request line")
    try:
        method = parts[0].decode()
        target = parts[1].decode()
        version = parts[2].decode()
    except UnicodeError:
        raise HTTPError(400, "request line is not ASCII")
    if not _is_token(method) or method.upper() != method:
        raise HTTPError(400, "malformed method")
    if not version.startswith("HTTP/") or len(version) != 8 or version[6] != ".":
        raise HTTPError(400, "malformed HTTP version")
    if version not in ("HTTP/1.1", "HTTP/1.0"):
        raise HTTPError(505, "only HTTP/1.0 and HTTP/1.1 are spoken here")
    for c in target:
        if c <= " " or c > "~":
            raise HTTPError(400, "request target has a control character or a space")
    if target.startswith("http://") or target.startswith("https://"):
        # absolute form (RFC 9112 3.2.2): the path is what counts here
        slash = target.find("/", target.find("//") + 2)
        target = "/" if slash < 0 else target[slash:]
    elif target[0] != "/" and not (method == "OPTIONS" and target == "*"):
        raise HTTPError(400, "request target must start with /")
    if len(lines) - 1 > _MAX_HEADERS:
        raise HTTPError(431, "more than %d header fields" % _MAX_HEADERS)
    headers = {}
    for line in lines[1:]:
        colon = line.find(b":")
        if colon <= 0:
            raise HTTPError(400, "header field without a name and colon")
        try:
            name = line[:colon].decode().lower()
            value = line[colon + 1 :].decode().strip()
        except UnicodeError:
            raise HTTPError(400, "header field is not valid text")
        if not _is_token(name):
            raise HTTPError(400, "malformed header field name")
        if name in headers:
            if name in ("host", "content-length", "transfer-encoding"):
                raise HTTPError(400, "duplicate %s header" % name)
            headers[name] += ", " + value
        else:
            headers[name] = value
    if version == "HTTP/1.1" and "host" not in headers:
        raise HTTPError(400, "HTTP/1.1 request without Host")
    req = Request(method, target, version, headers)
    if method not in _METHODS:
        raise HTTPError(501, "method %s is not implemented" % method)
    if "transfer-encoding" in headers:
        raise HTTPError(501, "chunked request bodies are not accepted; send Content-Length")
    text = headers.get("content-length")
    if text is None:
        if method in ("POST", "PUT", "PATCH"):
            raise HTTPError(411, "Content-Length is required")
        text = "0"
    if not text or len(text) > 9 or not text.isdigit():
        raise HTTPError(400, "malformed Content-Length")
    req.length = int(text)
    if req.length > _MAX_BODY_BYTES:
        raise HTTPError(413, "body larger than %d bytes" % _MAX_BODY_BYTES)
    return req


# The answer when the heap is too short to build one (a request's handler, or the page's API
# loaded for it, raised MemoryError): a literal, which stays in flash when frozen, so that
# sending it allocates nothing more.
NO_MEMORY = (
    b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
    b"Cache-Control: no-store\r\nRetry-After: 2\r\nConnection: close\r\n"
    b"Content-Length: 65\r\n\r\n"
    b'{"error": "the device is short of memory: try again in a moment"}'
)


def error_response(e):
    """The answer to an HTTPError: {"error": its message, "field": its field, if any}."""
    doc = {"error": e.message}
    if e.field:
        doc["field"] = e.field
    headers = [("Cache-Control", "no-store")] + (e.headers or [])
    return Response(e.status, json.dumps(doc), "application/json", headers)


def encode_head(resp, keep_alive):
    """The status line and header fields of `resp`, as bytes."""
    at = _REASONS.find("\n%d " % resp.status)
    reason = "Status" if at < 0 else _REASONS[at + 5 : _REASONS.find("\n", at + 5)]
    h = "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %d\r\n" % (
        resp.status,
        reason,
        resp.content_type,
        resp.length,
    )
    h += "Connection: %s\r\n" % ("keep-alive" if keep_alive else "close")
    for name, value in resp.headers:
        h += "%s: %s\r\n" % (name, value)
    h += "\r\n"
    return h.encode()


async def send(writer, resp, keep_alive, head_only=False):
    """Writes `resp` and waits until the socket took it. A small body goes in one write with
    the head: two writes would be two TCP segments, and Nagle's algorithm would hold the second
    until the client's delayed ACK of the first, 40 ms later. A larger one, or a stream (the
    Server opens a body that is a function), follows the head in slices of _CHUNK bytes, each
    drained before the next, so that no copy of it is made (asyncio's StreamWriter.write keeps
    what the socket did not take)."""
    body, n = resp.body, 0 if head_only else resp.length
    stream = body if hasattr(body, "readinto") else None
    try:
        head = encode_head(resp, keep_alive)
        if n and stream is None and n <= _CHUNK:
            writer.write(head + body)
            n = 0
        else:
            writer.write(head)
        await asyncio.wait_for_ms(writer.drain(), _WRITE_TIMEOUT_MS)
        if not n:
            return
        if stream is None:
            mv = memoryview(body)
            for i in range(0, n, _CHUNK):
                writer.write(mv[i : i + _CHUNK])
                await asyncio.wait_for_ms(writer.drain(), _WRITE_TIMEOUT_MS)
            return
        mv = memoryview(bytearray(_CHUNK))
        while n:
            got = stream.readinto(mv[: min(n, _CHUNK)])
            if not got:
                raise OSError("body shorter than its Content-Length")
            writer.write(mv[:got])
            await asyncio.wait_for_ms(writer.drain(), _WRITE_TIMEOUT_MS)
            n -= got
    finally:
        if stream is not None:
            stream.close()


class Server:
    """HTTP/1.1 on asyncio: `Server(host, port, check_head)`, then `await start()`, `stop()`.

    `check_head(request)`, from the request's head: raises HTTPError to refuse it before its
    body is read, returns the Response that answers it from the head alone, or the handler that
    answers it once its body is in: `handler(request)`, which returns a Response or raises
    HTTPError and must not block.
    """

    def __init__(self, host, port, check_head):
        self.host = host
        self.port = port
        self.check_head = check_head
        self._server = None
        self._conns = []
        self.stats = {
            "connections": 0,
            "open": 0,
            "evicted": 0,
            "refused": 0,
            "requests": 0,
            "errors": 0,
            "timeouts": 0,
            "no_memory": 0,
        }

    async def start(self):
        self._server = await asyncio.start_server(self._accept, self.host, self.port, backlog=8)

    def stop(self):
        server, self._server = self._server, None
        if server is not None:
            server.close()
        conns, self._conns = self._conns, []
        me = asyncio.current_task()
        for conn in conns:
            if conn[_TASK] is not me:  # stopped from a handler: that one ends after its answer
                conn[_TASK].cancel()

    def _place(self, conn):
        # True when the new connection may be served: there is a free place, or the one that
        # has waited longest for a request gives up its place.
        if len(self._conns) >= _MAX_CONNECTIONS:
            victim = None
            for c in self._conns:
                since = c[_SINCE]
                if since is not None and (
                    victim is None or time.ticks_diff(since, victim[_SINCE]) < 0
                ):
                    victim = c
            if victim is None:
                return False
            self._conns.remove(victim)
            self.stats["evicted"] += 1
            victim[_TASK].cancel()
        self._conns.append(conn)
        return True

    async def _accept(self, reader, writer):
        now = time.ticks_ms()
        conn = [asyncio.current_task(), now, now]
        self.stats["connections"] += 1
        try:
            if not self._place(conn):
                self.stats["refused"] += 1
                busy = HTTPError(503, "busy: too many connections", None, [("Retry-After", "1")])
                resp = error_response(busy)
                await asyncio.wait_for_ms(send(writer, resp, False), 1000)
                return
            self.stats["open"] = len(self._conns)
            await self._serve(conn, reader, writer)
        except asyncio.CancelledError:
            pass
        except (OSError, _Timeout):
            pass
        except Exception as e:  # nothing a client sends may stop the server
            sys.print_exception(e)
        finally:
            if conn in self._conns:
                self._conns.remove(conn)
            self.stats["open"] = len(self._conns)
            try:
                writer.close()
                await writer.wait_closed()
            except Exception:
                pass

    async def _serve(self, conn, reader, writer):
        buf = b""
        first = True
        while True:
            conn[_SINCE] = time.ticks_ms()
            try:
                head, buf = await self._read_head(conn, reader, buf, first)
            except HTTPError as e:
                await self._error(writer, e, reader)
                return
            if head is None:
                return  # the client closed
            first = False
            try:
                req = parse_head(head)
                answer = self.check_head(req)
            except HTTPError as e:
                await self._error(writer, e, reader)
                return
            except MemoryError:
                await self._short_of_memory(writer)
                return
            n = req.length
            if not callable(answer) and n:
                # answered from the head: the body is not read, and the connection closes
                self.stats["requests"] += 1
                await send(writer, answer, False, req.method == "HEAD")
                await self._drain(reader)
                return
            if n:
                if req.header("expect").lower() == "100-continue" and len(buf) < n:
                    writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
                    await asyncio.wait_for_ms(writer.drain(), _WRITE_TIMEOUT_MS)
                try:
                    req.body, buf = await self._read_body(conn, reader, buf, n)
                except _Timeout:
                    self.stats["timeouts"] += 1
                    await self._error(writer, HTTPError(408, "request took too long"))
                    return
                if req.body is None:
                    return
            conn[_SINCE] = None
            how = req.header("connection").lower()
            keep = "close" not in how if req.version == "HTTP/1.1" else "keep-alive" in how
            self.stats["requests"] += 1
            try:
                resp = answer(req) if callable(answer) else answer
                if callable(resp.body) and req.method != "HEAD":
                    resp.body = resp.body()  # opened here: if it cannot be, a 500 answers
            except HTTPError as e:
                self.stats["errors"] += 1
                resp = error_response(e)
            except MemoryError:
                await self._short_of_memory(writer)
                return
            except Exception as e:
                sys.print_exception(e)
                self.stats["errors"] += 1
                resp = error_response(HTTPError(500, "internal error"))
                keep = False
            await send(writer, resp, keep, req.method == "HEAD")
            if not keep or self._server is None:
                return

    async def _read_head(self, conn, reader, buf, first):
        # (head, rest): head is None when the client closed before sending a request. The
        # request's deadline (conn[_DEADLINE]) starts with its first byte.
        waiting = not first and not buf  # keep-alive: the idle timeout until a byte comes
        limit = _IDLE_TIMEOUT_MS if waiting else _REQUEST_TIMEOUT_MS
        conn[_DEADLINE] = time.ticks_add(time.ticks_ms(), limit)
        while True:
            end = buf.find(b"\r\n\r\n")
            if end >= 0:
                if end > _MAX_HEAD_BYTES:
                    raise HTTPError(431, "request head larger than %d bytes" % _MAX_HEAD_BYTES)
                return buf[:end], buf[end + 4 :]
            if len(buf) > _MAX_HEAD_BYTES:
                if buf.find(b"\r\n") < 0:
                    raise HTTPError(414, "request line larger than %d bytes" % _MAX_HEAD_BYTES)
                raise HTTPError(431, "request head larger than %d bytes" % _MAX_HEAD_BYTES)
            if buf and buf.find(b"\r\n") < 0 and buf.find(b"\n") >= 0:
                raise HTTPError(400, "lines must end with CRLF")
            if buf and waiting:
                # a keep-alive connection started a request: it gets the request timeout
                waiting = False
                conn[_SINCE] = time.ticks_ms()
                conn[_DEADLINE] = time.ticks_add(conn[_SINCE], _REQUEST_TIMEOUT_MS)
            left = time.ticks_diff(conn[_DEADLINE], time.ticks_ms())
            try:
                if left <= 0:
                    raise _Timeout
                data = await asyncio.wait_for_ms(reader.read(_READ), left)
            except _Timeout:
                if not buf:
                    return None, b""  # idle: close quietly
                self.stats["timeouts"] += 1
                raise HTTPError(408, "request took too long")
            if not data:
                if buf:
                    raise HTTPError(400, "connection closed inside the request head")
                return None, b""
            buf += data

    async def _read_body(self, conn, reader, buf, n):
        # Within what is left of the request's deadline.
        while len(buf) < n:
            left = time.ticks_diff(conn[_DEADLINE], time.ticks_ms())
            if left <= 0:
                raise _Timeout
            data = await asyncio.wait_for_ms(reader.read(min(_READ, n - len(buf))), left)
            if not data:
                return None, b""
            buf += data
        return buf[:n], buf[n:]

    async def _short_of_memory(self, writer):
        # Counted in stats (the page's status card shows them), said on the console, answered
        # 503 with the connection closed: what the request held is garbage now.
        self.stats["no_memory"] += 1
        log.error("portal: short of memory for a request (answered 503)")
        writer.write(NO_MEMORY)
        await asyncio.wait_for_ms(writer.drain(), _WRITE_TIMEOUT_MS)

    async def _error(self, writer, e, reader=None):
        self.stats["errors"] += 1
        await send(writer, error_response(e), False)
        if reader is not None:
            await self._drain(reader)

    async def _drain(self, reader):
        # Closing with unread input makes TCP reset the connection, and the client may lose
        # the answer: read (a bounded amount of) what it is still sending first.
        for _ in range(_DRAIN_READS):
            try:
                if not await asyncio.wait_for_ms(reader.read(_READ), _DRAIN_MS):
                    break
            except _Timeout:
                break
