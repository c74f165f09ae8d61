"""DNS conformance vectors: the shared spec of core/dns.c and frozen/wifimgr/dns.py.

`python tests/helpers/dnsvec.py` rewrites tests/dns_vectors.json. Every expected response here
is spelled out field by field from the RFCs (1035, 6891) and the issue, not produced by either
implementation. The tests load the JSON with `load()`.
"""

import json
import struct
import sys
from pathlib import Path

VECTORS = Path(__file__).resolve().parents[1] / "dns_vectors.json"

CONFIG = {
    "ip": "192.168.4.1",
    "ttl": 60,
    "overrides": {"device.lan": "10.0.0.7", "*.override.test": "203.0.113.5"},
    "nxdomain": ["allowed.example", "*.nx.example"],
    "refused": ["refused.example"],
}

A, NS, PTR, MX, TXT, AAAA, OPT, HTTPS, ANY = 1, 2, 12, 15, 16, 28, 41, 65, 255
IN, CH = 1, 3
QR, AA, TC, RD, RA, Z, AD, CD = 0x8000, 0x0400, 0x0200, 0x0100, 0x0080, 0x0040, 0x0020, 0x0010


def name(text):
    """Wire format of a dotted name (labels kept as given: case, length)."""
    out = b""
    for label in text.split(".") if text else ():
        raw = label.encode("latin-1")
        out += bytes([len(raw)]) + raw
    return out + b"\0"


def header(qid, flags, qd=1, an=0, ns=0, ar=0):
    return struct.pack(">HHHHHH", qid, flags, qd, an, ns, ar)


def question(qname, qtype=A, qclass=IN):
    return (name(qname) if isinstance(qname, str) else qname) + struct.pack(">HH", qtype, qclass)


def opt(udp=4096, version=0, do=False, ext_rcode=0, options=b"", owner=b"\0"):
    ttl = ext_rcode << 24 | version << 16 | (0x8000 if do else 0)
    return owner + struct.pack(">HHIH", OPT, udp, ttl, len(options)) + options


def query(qname, qtype=A, qclass=IN, qid=0x1234, flags=RD, extra=b"", ar=0, an=0, ns=0):
    return header(qid, flags, 1, an, ns, ar) + question(qname, qtype, qclass) + extra


def a_record(ip, ttl=60):
    return struct.pack(">HHHIH", 0xC00C, A, IN, ttl, 4) + bytes(int(x) for x in ip.split("."))


def response(q, rcode=0, answer_ip=None, edns=None, aa=True):
    """Expected answer to the well-formed query q: the question copied, then the records."""
    qid, qflags = struct.unpack(">HH", q[:4])
    end = 12
    while q[end]:
        end += q[end] + 1
    end += 5
    flags = QR | (qflags & (RD | CD)) | (rcode & 0xF) | (AA if aa else 0)
    out = header(qid, flags, 1, 1 if answer_ip else 0, 0, 1 if edns is not None else 0)
    out += q[12:end]
    if answer_ip:
        out += a_record(answer_ip)
    if edns is not None:
        out += opt(udp=512, do=edns, ext_rcode=rcode >> 4)
    return out


def error(q, rcode):
    """FORMERR/NOTIMP: the header alone, id, opcode and RD copied."""
    qid, qflags = struct.unpack(">HH", q[:4])
    return header(qid, QR | (qflags & 0x7900) | rcode, 0, 0, 0, 0)


FORMERR, NXDOMAIN, NOTIMP, REFUSED, BADVERS = 1, 3, 4, 5, 16
IP = CONFIG["ip"]


def vectors():
    v = []

    def add(what, q, r):
        v.append({"name": what, "query": q.hex(), "response": "drop" if r is None else r.hex()})

    # Answers.
    q = query("example.com")
    add("A for any name gets the configured address", q, response(q, answer_ip=IP))
    q = query("ExAmPlE.CoM", qid=0xBEEF)
    add("0x20 case of the question is kept in the answer", q, response(q, answer_ip=IP))
    q = query("connectivitycheck.gstatic.com", flags=0)
    add("no RD in the query: none in the answer", q, response(q, answer_ip=IP))
    q = query("captive.apple.com", flags=RD | CD)
    add("CD bit is copied", q, response(q, answer_ip=IP))
    q = query("example.com", flags=RD | AD | Z | TC | 0x000F)
    add("AD, Z, TC and rcode bits of a query are not echoed", q, response(q, answer_ip=IP))
    q = query("")
    add("A for the root name", q, response(q, answer_ip=IP))
    q = query("a\x00b.\x01\xff.com")
    add("binary bytes in labels are copied as they are", q, response(q, answer_ip=IP))
    q = query("www.msftconnecttest.com", qtype=ANY)
    add("ANY gets the A record", q, response(q, answer_ip=IP))
    q = query("example.com", qclass=255)
    add("class ANY gets the A record in class IN", q, response(q, answer_ip=IP))
    long_name = ".".join(["x" * 63] * 3 + ["y" * 61])
    q = query(long_name)
    add("255-byte name (longest allowed) is answered", q, response(q, answer_ip=IP))
    q = query("x" * 63 + ".com")
    add("63-byte label (longest allowed) is answered", q, response(q, answer_ip=IP))

    # NODATA.
    for qtype, label in ((AAAA, "AAAA"), (MX, "MX"), (TXT, "TXT"), (HTTPS, "HTTPS"), (PTR, "PTR")):
        q = query("example.com", qtype=qtype)
        add("%s gets NOERROR with no answer (NODATA)" % label, q, response(q))
    q = query("example.com", qtype=OPT)
    add("a question of type OPT is just another type: NODATA", q, response(q))
    q = query("version.bind", qtype=TXT, qclass=CH)
    add("class CHAOS is refused", q, response(q, rcode=REFUSED, aa=False))

    # EDNS0.
    q = query("example.com", extra=opt(), ar=1)
    add("EDNS0 query gets our own OPT (512, version 0)", q, response(q, answer_ip=IP, edns=False))
    q = query("example.com", extra=opt(udp=1232, do=True), ar=1)
    add("EDNS0 DO bit is copied into our OPT", q, response(q, answer_ip=IP, edns=True))
    cookie = struct.pack(">HH", 10, 8) + bytes(range(8))
    q = query("example.com", extra=opt(options=cookie), ar=1)
    add("EDNS0 options (a cookie) are not echoed", q, response(q, answer_ip=IP, edns=False))
    q = query("example.com", qtype=AAAA, extra=opt(), ar=1)
    add("EDNS0 AAAA: NODATA with OPT", q, response(q, edns=False))
    q = query("example.com", extra=opt(version=1), ar=1)
    add("EDNS version 1 gets BADVERS", q, response(q, rcode=BADVERS, edns=False, aa=False))
    base = query("example.com", extra=opt(), ar=1)
    pad = 512 - len(base) - 4
    q = query("example.com", extra=opt(options=struct.pack(">HH", 12, pad) + bytes(pad)), ar=1)
    assert len(q) == 512
    add("512-byte query (EDNS padding) is answered", q, response(q, answer_ip=IP, edns=False))
    q = query("example.com", extra=opt() + opt(), ar=2)
    add("two OPT records: FORMERR", q, error(q, FORMERR))
    q = query("example.com", extra=opt(owner=name("example.com")), ar=1)
    add("OPT owned by a name other than root: FORMERR", q, error(q, FORMERR))
    q = query("example.com", extra=opt(), an=1)
    add("OPT in the answer section: FORMERR", q, error(q, FORMERR))
    q = query("example.com", extra=opt(), ns=1)
    add("OPT in the authority section: FORMERR", q, error(q, FORMERR))
    cut = b"\0" + struct.pack(">HHIH", OPT, 4096, 0, 12) + b"\0\x0a\0\x08"
    q = query("example.com", extra=cut, ar=1)
    add("OPT rdata shorter than its rdlength: FORMERR", q, error(q, FORMERR))

    # Other records in a query are stepped over, their names checked.
    txt = struct.pack(">HHIH", TXT, IN, 0, 3) + b"\x02hi"
    q = query("example.com", extra=b"\xc0\x0c" + txt, ar=1)
    add(
        "additional record named by a pointer to the question is fine",
        q,
        response(q, answer_ip=IP),
    )
    q = query("example.com", extra=a_record("1.2.3.4"), an=1)
    add("a record in the answer section of a query is stepped over", q, response(q, answer_ip=IP))
    at = len(query("example.com"))
    q = query("example.com", extra=struct.pack(">H", 0xC000 | at) + txt, ar=1)
    add("pointer to itself in an additional record: FORMERR", q, error(q, FORMERR))
    # Record 1's rdata (at y) holds a pointer to record 2's name (at x), which points back to y.
    y = at + 2 + 10
    x = y + 2
    rec1 = b"\xc0\x0c" + struct.pack(">HHIH", TXT, IN, 0, 2) + struct.pack(">H", 0xC000 | x)
    q = query("example.com", extra=rec1 + struct.pack(">H", 0xC000 | y) + txt, ar=2)
    add("two pointers pointing at each other: FORMERR", q, error(q, FORMERR))
    q = query("example.com", extra=struct.pack(">H", 0xC000 | (at + 2)) + b"\0" + txt, ar=1)
    add("forward pointer: FORMERR", q, error(q, FORMERR))
    q = query("example.com", extra=b"\xc0\x02" + txt, ar=1)
    add("pointer into the header: FORMERR", q, error(q, FORMERR))
    q = query("example.com", extra=b"\xc0", ar=1)
    add("pointer cut off after its first byte: FORMERR", q, error(q, FORMERR))

    # Malformed: silence.
    add("empty datagram: no response", b"", None)
    add("one byte: no response", b"\x12", None)
    q = query("example.com")
    add("truncated header (11 bytes): no response", q[:11], None)
    add("header only, QR set: no response (never answer a response)", header(1, QR), None)
    q = query("example.com", flags=QR | RD)
    add("response to us (QR set): no response", q, None)
    q = query("example.com", extra=bytes(513 - len(query("example.com"))))
    add("513-byte datagram: no response", q, None)

    # Malformed: FORMERR or NOTIMP.
    q = header(7, RD, qd=0)
    add("qdcount 0: FORMERR", q, error(q, FORMERR))
    q = header(7, RD, qd=2) + question("a.com") + question("b.com")
    add("qdcount 2: FORMERR", q, error(q, FORMERR))
    q = header(7, RD, qd=0x100) + question("a.com")
    add("qdcount 256: FORMERR", q, error(q, FORMERR))
    for opcode, label in ((1, "IQUERY"), (2, "STATUS"), (4, "NOTIFY"), (5, "UPDATE")):
        q = query("example.com", flags=RD | opcode << 11)
        add("opcode %s: NOTIMP" % label, q, error(q, NOTIMP))
    q = query("x" * 64 + ".com")
    add("label of 64 bytes (0x40 label type): FORMERR", q, error(q, FORMERR))
    q = query(b"\x80" + b"x" * 10 + b"\0")
    add("label type 0x80: FORMERR", q, error(q, FORMERR))
    q = query(name(long_name)[:-1] + b"\x01z\0")
    add("name of 257 bytes: FORMERR", q, error(q, FORMERR))
    q = query(name(".".join(["x" * 63] * 3 + ["y" * 62])))
    add("name of 256 bytes: FORMERR", q, error(q, FORMERR))
    q = query(b"\xc0\x0c")
    add("compression pointer as the question name: FORMERR", q, error(q, FORMERR))
    q = query(b"\x03www\xc0\x00")
    add("compression pointer inside the question name: FORMERR", q, error(q, FORMERR))
    q = header(7, RD) + b"\x07example\x03com"
    add("question name without its end: FORMERR", q, error(q, FORMERR))
    q = header(7, RD) + b"\x07exam"
    add("question label cut short: FORMERR", q, error(q, FORMERR))
    q = header(7, RD) + name("example.com") + b"\x00\x01\x00"
    add("question type/class cut short: FORMERR", q, error(q, FORMERR))
    q = query("example.com", extra=b"\0")
    add("one trailing byte after the question: FORMERR", q, error(q, FORMERR))
    q = query("example.com", extra=opt() + b"junk", ar=1)
    add("trailing bytes after the OPT: FORMERR", q, error(q, FORMERR))
    q = query("example.com", ar=0xFFFF)
    add("arcount 65535 with no records: FORMERR", q, error(q, FORMERR))

    # Allow-list and overrides (CONFIG).
    q = query("device.lan")
    add("override: exact name gets its own address", q, response(q, answer_ip="10.0.0.7"))
    q = query("DEVICE.Lan")
    add("override matches without regard to case", q, response(q, answer_ip="10.0.0.7"))
    q = query("device.lan", qtype=AAAA)
    add("override, AAAA: NODATA", q, response(q))
    q = query("a.b.override.test")
    add("wildcard override covers subdomains", q, response(q, answer_ip="203.0.113.5"))
    q = query("override.test")
    add("wildcard override does not cover the name itself", q, response(q, answer_ip=IP))
    q = query("allowed.example")
    add("allow-listed name: NXDOMAIN", q, response(q, rcode=NXDOMAIN))
    q = query("Allowed.EXAMPLE", qtype=AAAA)
    add("allow-listed name, AAAA, mixed case: NXDOMAIN", q, response(q, rcode=NXDOMAIN))
    q = query("www.allowed.example")
    add("exact allow-list entry does not cover subdomains", q, response(q, answer_ip=IP))
    q = query("deep.sub.nx.example")
    add("wildcard allow-list entry: NXDOMAIN for subdomains", q, response(q, rcode=NXDOMAIN))
    q = query("xnx.example")
    add("wildcard matches on label boundaries only", q, response(q, answer_ip=IP))
    q = query("refused.example")
    add("refused name: REFUSED without AA", q, response(q, rcode=REFUSED, aa=False))
    q = query("refused.example", extra=opt(), ar=1)
    add(
        "refused name with EDNS0: REFUSED and OPT",
        q,
        response(q, rcode=REFUSED, edns=False, aa=False),
    )
    return v


def write():
    data = {
        "comment": "Generated by tests/helpers/dnsvec.py; spec of core/dns.c and wifimgr/dns.py.",
        "config": CONFIG,
        "vectors": vectors(),
    }
    VECTORS.write_text(json.dumps(data, indent=1) + "\n")
    return data


def load():
    return json.loads(VECTORS.read_text())


if __name__ == "__main__":
    print("%d vectors -> %s" % (len(write()["vectors"]), VECTORS), file=sys.stderr)
