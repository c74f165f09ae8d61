"""tests/link_vectors.json against the Python reducer (frozen/wifimgr/link.py) on MicroPython.

The same file runs against core/link.c in tests/core/test_link.py, so the twins cannot drift.
"""

import json

import pytest
from helpers.micropython import ROOT

VECTORS = ROOT / "tests" / "link_vectors.json"
NAMES = [v["name"] for v in json.loads(VECTORS.read_text())["vectors"]]

RUNNER = r"""
import json, sys
from wifimgr import link

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
        return ("disconnected", link.REASONS.index(ev[1]))
    if k == "try":
        return ("try", ev[1].encode(), ev[2])
    return tuple(ev)

def action_json(m, a):
    if a[0] in ("connect", "remember"):
        return [a[0], m.ssid_of(a[1]).decode(), hexmac(a[2]), a[3]]
    return list(a)

with open(sys.argv[1]) as f:
    doc = json.load(f)
v = [v for v in doc["vectors"] if v["name"] == sys.argv[2]][0]
policy = dict(doc["base_policy"])
policy.update(v["policy"])
m = link.Machine()
m.set_policy(link.check_policy(policy))
m.set_candidates([(c["ssid"].encode(), c.get("hidden", False), mac(c.get("bssid")))
                  for c in v["candidates"]])
if "hint" in v:
    m.remember(v["hint"][0].encode(), mac(v["hint"][1]), v["hint"][2])
steps = []
for t, ev, _ in v["steps"]:
    steps.append([action_json(m, a) for a in m.step(event_of(ev), t)])
final = {"state": link.STATES[m.state], "reason": link.REASONS[m.reason], "ap_on": m.ap_on,
         "attempts": m.attempts, "trial": link.TRIALS[m.trial],
         "trial_reason": link.REASONS[m.trial_reason], "deadline": m.deadline()}
print(json.dumps({"steps": steps, "final": final}))
"""


def test_there_are_at_least_30_vectors():
    assert len(NAMES) >= 30 and len(set(NAMES)) == len(NAMES)


@pytest.mark.parametrize("name", NAMES)
def test_python_reducer_matches_vector(micropython, name):
    vector = [v for v in json.loads(VECTORS.read_text())["vectors"] if v["name"] == name][0]
    got = json.loads(micropython.run(RUNNER, args=(VECTORS, name)).strip().splitlines()[-1])
    for (t, event, expected), actions in zip(vector["steps"], got["steps"], strict=True):
        assert actions == expected, "at %d ms after %s" % (t, event)
    assert got["final"] == vector["final"]
