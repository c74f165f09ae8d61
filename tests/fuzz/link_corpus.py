"""Writes the seed corpus of tests/fuzz/fuzz_link.c: every vector of tests/link_vectors.json in
the harness's input layout (see the comment at the top of fuzz_link.c).

SSIDs and BSSIDs outside the harness's small tables map onto them, so a seed is the vector's
shape (its event kinds, timing and list sizes), not always its exact networks.

Usage: link_corpus.py VECTORS.json OUT_DIR
"""

import json
import struct
import sys
from pathlib import Path

SSIDS = ["Home", "Work", "Cafe", "Secret"]
BSSIDS = ["aa:00:00:00:00:01", "aa:00:00:00:00:02", "bb:00:00:00:00:01", "cc:00:00:00:00:01"]
EVENTS = ["start", "stop", "rescan", "try", "finish", "scan_done", "associated", "got_ip"]
EVENTS += ["disconnected", "timer", "configure", "remember"]
REASONS = [None, "wrong_password", "not_found", "no_ip", "link_lost"]
AP_POLICIES = ["always", "fallback", "never"]


def index(table, value):
    return table.index(value) if value in table else sum(value.encode()) % len(table)


def candidate(c):
    b = index(SSIDS, c["ssid"]) | (4 if c.get("hidden") else 0)
    if c.get("bssid"):
        b |= 8 | index(BSSIDS, c["bssid"]) << 4
    return b


def encode(policy, vector):
    p = dict(policy, **vector["policy"])
    out = bytearray(
        [
            AP_POLICIES.index(p.get("ap_policy", "fallback")),
            p.get("retries", 1) - 1,
            min(255, (p["backoff_min_ms"] - 100) // 50),
            max(0, p["backoff_max_ms"] // p["backoff_min_ms"] - 1),
            min(255, (p["rescan_ms"] - 1000) // 100),
            min(255, (p["connect_timeout_ms"] - 1000) // 100),
            min(255, (p["dhcp_timeout_ms"] - 1000) // 100),
            min(255, p["linger_ms"] // 1000),
            0,
        ]
    )
    cands = vector["candidates"][:4]
    counts = len(cands)
    hint = vector.get("hint")
    if hint:
        counts |= 8 | index(SSIDS, hint[0]) << 4 | index(BSSIDS, hint[1]) << 6
    out.append(counts)
    out += bytes(candidate(c) for c in cands)
    last = 0
    for t, event, _ in vector["steps"]:
        kind = EVENTS.index(event[0])
        out.append(kind)
        out += struct.pack("<H", min(0xFFFF, t - last))
        last = t
        if kind == 5:  # scan_done
            recs = event[1][:6]
            out.append(len(recs))
            for ssid, bssid, channel, rssi, _, hidden in recs:
                b = 4 if hidden or not ssid else index(SSIDS, ssid)
                out += bytes([b | index(BSSIDS, bssid) << 3, channel, rssi & 0xFF])
        elif kind == 8:  # disconnected
            out.append(REASONS.index(event[1]))
        elif kind == 7:  # got_ip
            has = event[1] is not None
            out += bytes([(1 if has else 0) | (index(BSSIDS, event[1]) << 1 if has else 0)])
            out.append(event[2])
        elif kind == 3:  # try
            raw = event[1].encode()
            out += bytes([len(raw)]) + raw
        elif kind == 10:  # configure
            out.append(len(event[1]))
            out += bytes(candidate(c) for c in event[1])
        elif kind == 11:  # remember
            out += bytes([index(SSIDS, event[1]) | index(BSSIDS, event[2]) << 2, event[3]])
    return bytes(out)


def main(argv):
    doc = json.loads(Path(argv[1]).read_text())
    out = Path(argv[2])
    out.mkdir(parents=True, exist_ok=True)
    for i, vector in enumerate(doc["vectors"]):
        (out / ("v%02d" % i)).write_bytes(encode(doc["base_policy"], vector))


if __name__ == "__main__":
    main(sys.argv)
