"""dnspython as a real client against a running captive DNS responder, whichever it is: the host
C server (tools/dns/server.c), `_wifimgr.DNSServer` or the Python twin on MicroPython.

`SERVER` is the configuration every responder under test is started with; `check_responder`
asks it, over a real UDP socket on loopback, every kind of question the issue names and checks
each answer as dnspython parses it.
"""

import socket

import dns.edns
import dns.flags
import dns.message
import dns.query
import dns.rcode
import dns.rdataclass
import dns.rdatatype

SERVER = {
    "ip": "192.168.4.1",
    "ttl": 30,
    "overrides": {"device.lan": "10.0.0.7"},
    "nxdomain": ["allowed.example", "*.nx.example"],
    "refused": ["refused.example"],
}

# The same configuration as tools/dns/server.c arguments.
SERVER_ARGS = [
    SERVER["ip"],
    "--ttl",
    str(SERVER["ttl"]),
    *[a for n, ip in SERVER["overrides"].items() for a in ("--override", "%s=%s" % (n, ip))],
    *[a for n in SERVER["nxdomain"] for a in ("--nxdomain", n)],
    *[a for n in SERVER["refused"] for a in ("--refused", n)],
]

TIMEOUT = 2.0

# Run by MicroPython: argv PORT, IMPL ("native": _wifimgr.DNSServer, else the twin), STOP, and
# the configuration as JSON (SERVER). Prints "ready" once serving on 127.0.0.1:PORT; serves until
# the file STOP exists (60 s at most), then prints how long stop() took and the counters.
SERVE_UNTIL_STOPPED = """
import asyncio, json, os, sys, time
from wifimgr import dns

PORT, IMPL, STOP = int(sys.argv[1]), sys.argv[2], sys.argv[3]
cfg = json.loads(sys.argv[4])

def stopped():
    try:
        os.stat(STOP)
        return True
    except OSError:
        return False

async def main():
    if IMPL == "native":
        import _wifimgr
        cls = _wifimgr.DNSServer
    else:
        cls = dns.DNSServer
    srv = cls(cfg["ip"], PORT, cfg["ttl"], bind="127.0.0.1", overrides=cfg["overrides"],
              nxdomain=cfg["nxdomain"], refused=cfg["refused"])
    srv.start()
    print("ready")
    for _ in range(3000):
        if stopped():
            break
        await asyncio.sleep_ms(20)
    t = time.ticks_us()
    srv.stop()
    stop_us = time.ticks_diff(time.ticks_us(), t)
    s = srv.stats()
    print(json.dumps({"stop_ms": stop_us / 1000, "queries": s["queries"],
                      "answers": s["answers"], "drops": s["drops"], "running": s["running"]}))

asyncio.run(main())
"""


def ask(port, qname, rdtype="A", **kwargs):
    """One query through dns.query.udp (which checks id and question); the parsed response."""
    q = dns.message.make_query(qname, rdtype, **kwargs)
    return dns.query.udp(q, "127.0.0.1", port=port, timeout=TIMEOUT)


def raw(port, payload):
    """Sends raw bytes; the response bytes, or None when nothing came back within 0.3 s."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(0.3)
        s.sendto(payload, ("127.0.0.1", port))
        try:
            return s.recv(1024)
        except TimeoutError:
            return None


def addresses(msg):
    return [r.address for rrset in msg.answer for r in rrset]


def check_responder(port):
    """Runs every check against the responder on 127.0.0.1:port; returns how many queries (and
    how many of them got an answer) it sent, so callers can compare with the server's stats."""
    sent = answered = 0

    def expect(msg, rcode, addrs, aa=True):
        nonlocal sent, answered
        sent += 1
        answered += 1
        assert msg.rcode() == rcode, dns.rcode.to_text(msg.rcode())
        assert addresses(msg) == addrs
        assert bool(msg.flags & dns.flags.AA) == aa
        return msg

    # A for any name, with the configured TTL; the name's 0x20 case is kept in question and
    # answer (dnspython compares names without case, so the labels are compared here).
    m = expect(ask(port, "wWw.ExAmPle.COM"), dns.rcode.NOERROR, ["192.168.4.1"])
    assert m.question[0].name.labels[:3] == (b"wWw", b"ExAmPle", b"COM")
    assert m.answer[0].name.labels[:3] == (b"wWw", b"ExAmPle", b"COM")
    assert m.answer[0].ttl == 30
    assert m.edns == -1, "an OPT in the answer to a query without one"
    # AAAA and the other types: NODATA, so a phone falls back to IPv4 at once.
    for rdtype in ("AAAA", "TXT", "MX", "HTTPS"):
        expect(ask(port, "connectivitycheck.gstatic.com", rdtype), dns.rcode.NOERROR, [])
    # ANY gets the A record.
    expect(ask(port, "captive.apple.com", "ANY"), dns.rcode.NOERROR, ["192.168.4.1"])
    # EDNS0: our own OPT comes back in the additional section (512, version 0, DO copied).
    m = expect(
        ask(port, "example.com", use_edns=0, payload=1232, want_dnssec=True),
        dns.rcode.NOERROR,
        ["192.168.4.1"],
    )
    assert (m.edns, m.payload, bool(m.ednsflags & dns.flags.DO)) == (0, 512, True)
    assert not m.options
    cookie = dns.edns.GenericOption(dns.edns.OptionType.COOKIE, bytes(range(8)))
    m = expect(
        ask(port, "example.com", "AAAA", use_edns=0, options=[cookie]), dns.rcode.NOERROR, []
    )
    assert (m.edns, m.payload, len(m.options)) == (0, 512, 0)
    m = expect(ask(port, "example.com", use_edns=1), dns.rcode.BADVERS, [], aa=False)
    assert m.edns == 0
    # Allow-list and override.
    expect(ask(port, "Allowed.Example"), dns.rcode.NXDOMAIN, [])
    expect(ask(port, "deep.x.nx.example", "AAAA"), dns.rcode.NXDOMAIN, [])
    expect(ask(port, "nx.example"), dns.rcode.NOERROR, ["192.168.4.1"])
    expect(ask(port, "refused.example"), dns.rcode.REFUSED, [], aa=False)
    expect(ask(port, "Device.LAN"), dns.rcode.NOERROR, ["10.0.0.7"])
    expect(ask(port, "device.lan", "AAAA"), dns.rcode.NOERROR, [])
    # Class CHAOS is refused.
    expect(ask(port, "version.bind", "TXT", rdclass="CH"), dns.rcode.REFUSED, [], aa=False)

    # Malformed: a runt is dropped, two questions get FORMERR, and the next good query is
    # answered as if nothing happened.
    sent += 1
    assert raw(port, b"\x00\x01") is None
    q = dns.message.make_query("a.example", "A").to_wire()
    two = q[:4] + b"\x00\x02" + q[6:] + q[12:]
    r = raw(port, two)
    sent += 1
    answered += 1
    m = dns.message.from_wire(r)
    assert (m.id, m.rcode(), m.question) == (int.from_bytes(q[:2], "big"), dns.rcode.FORMERR, [])
    expect(ask(port, "after.garbage.example"), dns.rcode.NOERROR, ["192.168.4.1"])
    return sent, answered
