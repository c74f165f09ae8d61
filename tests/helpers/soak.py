"""Judging a month on the virtual clock (tests/helpers/soak_device.py's JSON line), for
tests/wifimgr/test_soak.py and tools/bench/bench_soak.py."""

import json
import subprocess
from pathlib import Path

from helpers.portal import free_port

DAY_MS = 86400000
WRAPS = (1 << 29, 1 << 30, 3 << 29, 1 << 31)  # as soak_device.py
DEVICE = Path(__file__).with_name("soak_device.py")
USABLE = ("R", "M")  # the access points of "Home" that give an address when up ("X" never does)
AP_CHECK_MS = 5000  # after a rejoin, the access point is closed this long after at the latest


def run(micropython, days, seed=1, timeout=600):
    """Runs the soak device for `days` virtual days; its JSON log."""
    state = micropython.tmp_path / ("soak-%d" % seed)
    state.mkdir(exist_ok=True)
    args = (days, seed, state, free_port(), free_port())
    proc = micropython.popen(DEVICE, args=args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, _ = proc.communicate()
        raise AssertionError(
            "soak device still running after %d s (real time):\n%s"
            % (timeout, out.decode()[-3000:])
        ) from None
    if proc.returncode != 0:
        raise AssertionError(
            "soak device exited %d:\n%s" % (proc.returncode, out.decode()[-3000:])
        )
    log = json.loads(out.decode().strip().splitlines()[-1])
    log["applied"], log["events"], log["heap"] = [], [], []
    for line in (state / "soak.log").read_text().splitlines():
        rec = json.loads(line)
        if rec[1] == "plan":
            log["applied"].append([rec[0], rec[2], rec[3]])
        elif rec[1] == "heap":
            log["heap"].append([rec[0], rec[2], rec[3]])
        else:
            log["events"].append(rec[:2])
    return log


def _intervals(changes, end, start_on):
    # [(t, on)] -> [(from, to)] while on.
    out, since = [], 0 if start_on else None
    for t, on in changes:
        if on and since is None:
            since = t
        elif not on and since is not None:
            out.append((since, t))
            since = None
    if since is not None:
        out.append((since, end))
    return out


def judge(log, bound_ms):
    """What the month showed: the longest rejoin (from the later of the network's return and
    the device's loss of its link), the times the device stayed off a network that had been
    usable for longer than `bound_ms`, and the rejoins after which the access point was still
    open AP_CHECK_MS later; the heap growth from the first day's sample to the last."""
    end = log["end_ms"]
    up = dict.fromkeys(USABLE, True)
    changes = []
    for t, name, what in log["applied"]:
        if name in up:
            up[name] = what == "up"
            changes.append((t, any(up.values())))
    usable = _intervals(changes, end, True)
    conn = [
        (t, ev == "connected") for t, ev in log["events"] if ev in ("connected", "disconnected")
    ]
    connected = _intervals(conn, end, False)
    aps = [(t, ev == "ap_started") for t, ev in log["events"] if ev.startswith("ap_")]
    ap_up = _intervals(aps, end, False)
    gaps, last = [], 0
    for a, b in connected:
        gaps.append((last, a))
        last = b
    gaps.append((last, end))
    rejoins, late, left_open = [], [], []
    for d0, d1 in gaps:
        for u0, u1 in usable:
            start, stop = max(d0, u0), min(d1, u1)
            if stop <= start:
                continue
            if d1 <= u1 and d1 < end:
                rejoins.append(d1 - start)
                if d1 - start > bound_ms:
                    late.append([start, d1 - start])
                # Back on the network: the access point must be closed shortly after.
                check = d1 + AP_CHECK_MS
                if check < end and any(a <= check < b for a, b in ap_up):
                    left_open.append(d1)
            elif stop - start > bound_ms:
                late.append([start, stop - start])
    heap = log["heap"]
    return {
        "days": log["days"],
        "outages": len(usable) - 1,
        "outage_spans": [[usable[i][1], usable[i + 1][0]] for i in range(len(usable) - 1)],
        "ap_opened": len(ap_up),
        "max_rejoin_ms": max(rejoins) if rejoins else None,
        "late": late,
        "ap_left_open": left_open,
        "ap_open_at_end": log["status"]["ap_active"],
        "heap_growth_bytes": heap[-1][2] - heap[0][2],
        "heap_alloc": [h[2] for h in heap],
    }
