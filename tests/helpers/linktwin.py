"""The Python reducer (frozen/wifimgr/link.py, Machine) run on MicroPython as a co-process.

One MicroPython process takes runs as JSON lines on stdin and answers each with one JSON line,
so the vectors and hypothesis examples cost a pipe round trip each, not a process each. A run is
the vector form: {"policy", "candidates", "hint", "steps": [[t, event], ...]}, where an event is
a reducer event as in tests/link_vectors.json or one of two driver calls, ["configure",
candidates] and ["remember", ssid, bssid, channel]. The answer is {"steps": [actions, ...],
"final": {...}}, or {"error": traceback} when the twin raised. `linkc.run()` gives the same for
core/link.c.
"""

import json
import subprocess

SCRIPT = r"""
import io, json, sys
from wifimgr import link, linkspec

def mac(s):
    return None if s is None else bytes(int(p, 16) for p in s.split(":"))

def hexmac(b):
    return None if b is None else ":".join("%02x" % x for x in b)

def event_of(ev):
    k = ev[0]
    if k == "scan_done":
        return ("scan_done", [(r[0].encode(), mac(r[1]), r[2], r[3], r[4], r[5]) for r in ev[1]])
    if k == "got_ip":
        return ("got_ip", mac(ev[1]), ev[2])
    if k == "disconnected":
        named = () if len(ev) < 4 else (None if ev[2] is None else ev[2].encode(), mac(ev[3]))
        return ("disconnected", link.REASONS.index(ev[1])) + named
    if k == "try":
        return ("try", ev[1].encode(), ev[2])
    return tuple(ev)

def action_json(m, a):
    if a[0] in ("connect", "remember"):
        return [a[0], m.ssid_of(a[1]).decode(), hexmac(a[2]), a[3]]
    return list(a)

def cands_of(cands):
    return [(c["ssid"].encode(), c.get("hidden", False), mac(c.get("bssid"))) for c in cands]

def run(v):
    policy = dict(v.get("policy") or {})
    m = link.Machine()
    m.set_policy(linkspec.check_policy(policy))
    m.set_candidates(cands_of(v["candidates"]))
    if v.get("hint"):
        m.remember(v["hint"][0].encode(), mac(v["hint"][1]), v["hint"][2])
    steps = []
    for t, ev in v["steps"]:
        if ev[0] == "configure":
            m.set_candidates(cands_of(ev[1]))
            steps.append([])
        elif ev[0] == "remember":
            m.remember(ev[1].encode(), mac(ev[2]), ev[3])
            steps.append([])
        else:
            steps.append([action_json(m, a) for a in m.step(event_of(ev), t)])
    # Times are points on the C core's 32-bit clock: the twin's, which does not wrap, is
    # reported modulo 2^32 as wm_link_deadline() gives it.
    deadline = m.deadline()
    final = {"state": link.STATES[m.state], "reason": link.REASONS[m.reason],
             "ap_on": m.ap_on, "attempts": m.attempts, "trial": link.TRIALS[m.trial],
             "trial_reason": link.REASONS[m.trial_reason],
             "deadline": deadline % (1 << 32) if deadline >= 0 else deadline}
    return {"steps": steps, "final": final}

while True:
    line = sys.stdin.readline()
    if not line:
        break
    try:
        out = run(json.loads(line))
    except Exception as e:
        buf = io.StringIO()
        sys.print_exception(e, buf)
        out = {"error": buf.getvalue()}
    sys.stdout.write(json.dumps(out) + "\n")
"""


class Twin:
    """A MicroPython process running link.Machine; `run(doc)` answers one run."""

    def __init__(self, micropython):
        script = micropython.tmp_path / "link_twin.py"
        script.write_text(SCRIPT)
        self.proc = micropython.popen(
            script,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            bufsize=1,
        )

    def run(self, doc):
        self.proc.stdin.write(json.dumps(doc) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            raise AssertionError("the MicroPython twin died: %s" % self.proc.stderr.read())
        out = json.loads(line)
        if "error" in out:
            raise AssertionError("the Python reducer raised:\n" + out["error"])
        return out

    def close(self):
        self.proc.stdin.close()
        self.proc.wait(timeout=10)


def start(tmp_path_factory):
    """A Twin on the MicroPython the tests use; skips the test when there is none."""
    import os

    import pytest
    from helpers.micropython import MICROPYTHON, MicroPython

    if not os.access(MICROPYTHON, os.X_OK):
        pytest.skip("no MicroPython at %s: run `make test`, which installs it" % MICROPYTHON)
    return Twin(MicroPython(MICROPYTHON, tmp_path_factory.mktemp("linktwin")))
