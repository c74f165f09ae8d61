"""Captive DNS responder in pure Python: the twin of `_wifimgr.DNSServer` (core/dns.c).

Every A (or ANY) query gets the device's address; AAAA and other types get NOERROR with no
answer; names on the `nxdomain`/`refused` lists get that rcode; `overrides` maps names to their
own address. Names may start with "*." to cover every subdomain. Both implementations pass the
vectors in tests/dns_vectors.json. `wifimgr.dns_class()` returns the C one when the firmware has
it.
"""

import asyncio
import socket

from micropython import const

_HEADER = const(12)
_MAX_PACKET = const(512)
_MAX_NAME = const(255)
_MAX_RULES = const(8)
_TYPE_A = const(1)
_TYPE_OPT = const(41)
_TYPE_ANY = const(255)
_CLASS_IN = const(1)
_CLASS_ANY = const(255)
_FLAG_QR = const(0x8000)
_FLAG_AA = const(0x0400)
_FLAG_RD = const(0x0100)
_FLAG_CD = const(0x0010)
_OPCODE = const(0x7800)
_FORMERR = const(1)
_NXDOMAIN = const(3)
_NOTIMP = const(4)
_REFUSED = const(5)
_BADVERS = const(16)

# Rule actions, as in core/dns.h.
_ADDRESS = const(0)
_ACTION_NXDOMAIN = const(1)
_ACTION_REFUSED = const(2)


def _ipv4(ip, what):
    parts = ip.split(".") if isinstance(ip, str) else ()
    if len(parts) != 4:
        raise ValueError("%s: not an IPv4 address: %r" % (what, ip))
    out = bytearray(4)
    for i, part in enumerate(parts):
        if not part or len(part) > 3 or not part.isdigit() or int(part) > 255:
            raise ValueError("%s: not an IPv4 address: %r" % (what, ip))
        out[i] = int(part)
    return bytes(out)


def _rule(name, action, addr):
    if not isinstance(name, str):
        raise ValueError("dns name: not a string: %r" % (name,))
    wildcard = name.startswith("*.")
    text = name[2:] if wildcard else name
    if text.endswith("."):
        text = text[:-1]
    wire = bytearray()
    for label in text.split("."):
        raw = label.encode()
        if not raw or len(raw) > 63 or any(c <= 32 or c >= 127 for c in raw):
            raise ValueError("dns name: bad label in %r" % name)
        wire.append(len(raw))
        wire.extend(raw.lower())
    wire.append(0)
    if len(wire) > _MAX_NAME:
        raise ValueError("dns name: longer than 255 bytes: %r" % name)
    return (bytes(wire), wildcard, action, addr)


class Answers:
    """What the responder answers; the same fields as wm_dns_config_t."""

    def __init__(self, ip, ttl=60, overrides=None, nxdomain=(), refused=()):
        self.addr = _ipv4(ip, "ip")
        if not isinstance(ttl, int) or ttl < 0 or ttl > 0x7FFFFFFF:
            raise ValueError("ttl: must be an int from 0 to 2**31-1, not %r" % (ttl,))
        self.ttl = ttl
        rules = []
        for name, ip_ in (overrides or {}).items():
            rules.append(_rule(name, _ADDRESS, _ipv4(ip_, "override for %s" % name)))
        for name in nxdomain:
            rules.append(_rule(name, _ACTION_NXDOMAIN, None))
        for name in refused:
            rules.append(_rule(name, _ACTION_REFUSED, None))
        if len(rules) > _MAX_RULES:
            raise ValueError("dns: at most %d overrides/nxdomain/refused names" % _MAX_RULES)
        self.rules = rules


def _matches(rule, qname):
    wire, wildcard = rule[0], rule[1]
    n, m = len(qname), len(wire)
    off = 0
    if wildcard:
        if n <= m:
            return False
        while off < n - m:
            off += qname[off] + 1
        if off != n - m:
            return False
    elif n != m:
        return False
    return qname[off:].lower() == wire


def _header_only(q, flags, rcode):
    flags = _FLAG_QR | (flags & (_OPCODE | _FLAG_RD)) | rcode
    return bytes((q[0], q[1], flags >> 8, flags & 0xFF, 0, 0, 0, 0, 0, 0, 0, 0))


def _skip_name(q, n, p):
    # Returns the offset after the name at p, or -1 (see skip_name in core/dns.c).
    after = 0
    limit = p
    total = 0
    while True:
        if p >= n:
            return -1
        c = q[p]
        if c & 0xC0 == 0xC0:
            if p + 1 >= n:
                return -1
            target = (c & 0x3F) << 8 | q[p + 1]
            if not after:
                after = p + 2
            if target < _HEADER or target >= limit:
                return -1
            limit = p = target
            continue
        if c & 0xC0:
            return -1
        total += c + 1
        if total > _MAX_NAME:
            return -1
        p += c + 1
        if c == 0:
            return after or p


def answer(cfg, q):
    """The response to the query `q` (bytes), or None when it must get no response."""
    n = len(q)
    if n < _HEADER or n > _MAX_PACKET:
        return None
    flags = q[2] << 8 | q[3]
    if flags & _FLAG_QR:
        return None
    if flags & _OPCODE:
        return _header_only(q, flags, _NOTIMP)
    if q[4] or q[5] != 1:
        return _header_only(q, flags, _FORMERR)
    p = _HEADER
    while True:
        if p >= n:
            return _header_only(q, flags, _FORMERR)
        c = q[p]
        if c & 0xC0 or p - _HEADER + 1 + c > _MAX_NAME:
            return _header_only(q, flags, _FORMERR)
        p += c + 1
        if c == 0:
            break
    qname_end = p
    if n - p < 4:
        return _header_only(q, flags, _FORMERR)
    qtype = q[p] << 8 | q[p + 1]
    qclass = q[p + 2] << 8 | q[p + 3]
    p += 4
    question_end = p
    have_opt = False
    opt_version = opt_flags = 0
    for section in range(3):
        for _ in range(q[6 + 2 * section] << 8 | q[7 + 2 * section]):
            name_at = p
            p = _skip_name(q, n, p)
            if p < 0 or n - p < 10:
                return _header_only(q, flags, _FORMERR)
            if (q[p] << 8 | q[p + 1]) == _TYPE_OPT:
                if section != 2 or have_opt or p != name_at + 1:
                    return _header_only(q, flags, _FORMERR)
                have_opt = True
                opt_version = q[p + 5]
                opt_flags = q[p + 6] << 8 | q[p + 7]
            p += 10 + (q[p + 8] << 8 | q[p + 9])
            if p > n:
                return _header_only(q, flags, _FORMERR)
    if p != n:
        return _header_only(q, flags, _FORMERR)

    rcode = 0
    addr = None
    if have_opt and opt_version:
        rcode = _BADVERS
    elif qclass != _CLASS_IN and qclass != _CLASS_ANY:
        rcode = _REFUSED
    else:
        addr = cfg.addr
        if cfg.rules:
            qname = q[_HEADER:qname_end]
            for rule in cfg.rules:
                if _matches(rule, qname):
                    if rule[2] == _ADDRESS:
                        addr = rule[3]
                    else:
                        addr = None
                        rcode = _NXDOMAIN if rule[2] == _ACTION_NXDOMAIN else _REFUSED
                    break
        if qtype != _TYPE_A and qtype != _TYPE_ANY:
            addr = None

    out_flags = _FLAG_QR | (flags & (_FLAG_RD | _FLAG_CD)) | (rcode & 0xF)
    if rcode == 0 or rcode == _NXDOMAIN:
        out_flags |= _FLAG_AA
    out = bytearray(
        (
            q[0],
            q[1],
            out_flags >> 8,
            out_flags & 0xFF,
            0,
            1,
            0,
            1 if addr else 0,
            0,
            0,
            0,
            have_opt,
        )
    )
    out.extend(q[_HEADER:question_end])
    if addr:
        ttl = cfg.ttl
        out.extend(b"\xc0\x0c\x00\x01\x00\x01")
        out.extend(bytes((ttl >> 24, (ttl >> 16) & 0xFF, (ttl >> 8) & 0xFF, ttl & 0xFF, 0, 4)))
        out.extend(addr)
    if have_opt:
        do = (opt_flags >> 8) & 0x80
        out.extend(bytes((0, 0, _TYPE_OPT, _MAX_PACKET >> 8, _MAX_PACKET & 0xFF)))
        out.extend(bytes((rcode >> 4, 0, do, 0, 0, 0)))
    return bytes(out)


class DNSServer:
    """DNSServer(ip, port=53, ttl=60, *, bind="0.0.0.0", overrides=None, nxdomain=(),
    refused=()): answers on UDP `bind`:`port` from an asyncio task.

    `start()` must be called with an asyncio loop running (it creates the task and returns);
    `stop()` closes the socket at once. `stats()` -> {"queries", "answers", "drops", "running"}.
    """

    def __init__(
        self, ip, port=53, ttl=60, *, bind="0.0.0.0", overrides=None, nxdomain=(), refused=()
    ):
        self._cfg = Answers(ip, ttl, overrides, nxdomain, refused)
        if not isinstance(port, int) or port < 0 or port > 65535:
            raise ValueError("port: must be an int from 0 to 65535, not %r" % (port,))
        _ipv4(bind, "bind")
        self._bind = bind
        self._port = port
        self._sock = None
        self._task = None
        self._queries = self._answers = self._drops = 0

    def start(self):
        """Binds the socket (OSError if it cannot) and starts serving; no-op if running."""
        if self._sock is not None:
            return
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            s.bind(socket.getaddrinfo(self._bind, self._port)[0][-1])
            s.setblocking(False)
            self._task = asyncio.create_task(self._serve(s))
        except BaseException:
            s.close()
            raise
        self._sock = s

    def stop(self):
        """Stops serving and closes the socket; no-op if not running."""
        if self._task is not None:
            self._task.cancel()
            self._task = None
        if self._sock is not None:
            self._sock.close()
            self._sock = None

    def stats(self):
        return {
            "queries": self._queries,
            "answers": self._answers,
            "drops": self._drops,
            "running": self._sock is not None,
        }

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop()

    async def _serve(self, s):
        cfg = self._cfg
        while True:
            yield asyncio.core._io_queue.queue_read(s)
            while True:
                try:
                    data, peer = s.recvfrom(_MAX_PACKET + 1)
                except OSError:
                    # EAGAIN: drained; anything else (an ICMP error reported late): wait again.
                    break
                self._queries += 1
                try:
                    out = answer(cfg, data)
                    if out is None:
                        self._drops += 1
                    else:
                        s.sendto(out, peer)
                        self._answers += 1
                except Exception:
                    # Nothing a client sends may stop the responder.
                    self._drops += 1
