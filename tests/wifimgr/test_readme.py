"""README.md "## Using wifimgr": every Python example runs unchanged on MicroPython.

Each example runs against the simulated radio on the virtual clock with /wifimgr.json being
wifimgr.json in a fresh directory, a phone that provisions "HomeNetwork"
whenever the access point opens, and the loop stopped after two virtual minutes for the
example that runs forever. Servers are not bound (no portal on port 80, no DNS on 53).
"""

import re

import pytest
from helpers.micropython import LINKS, ROOT, micropython_on


@pytest.fixture(params=LINKS)
def micropython(request, tmp_path):
    return micropython_on(request.param, tmp_path)


SECTION = "## Using wifimgr"

PRELUDE = r"""
import asyncio, os, sys
import wifimgr, wifimgr.manager, wifimgr.config, wifimgr.store, wifimgr.policy, wifimgr.dns
from wifimgr import sim
clock = sim.VirtualClock()
sim.install(sim.Scenario({"access_points": [
    {"ssid": "HomeNetwork", "bssid": "aa:00:00:00:00:01", "channel": 6, "rssi": -50,
     "password": "correct-horse"}]}, "readme"), clock)

# The device's "/": the examples' /wifimgr.json is wifimgr.json in ROOT_DIR.
os.chdir(ROOT_DIR)
wifimgr.config.DEFAULT_PATH = "wifimgr.json"

_get, _setup, _start = wifimgr._get, wifimgr.setup, wifimgr.start
def _local(path):
    return "wifimgr.json" if path in (None, "/wifimgr.json") else path
wifimgr._get = lambda config_path=None, clock_=None: _get(_local(config_path), clock)
def setup(*a, **k):
    k["http"] = k["dns"] = None
    return _setup(*a, **k)
def start(*a, **k):
    k["http"] = k["dns"] = None
    return _start(*a, **k)
wifimgr.setup, wifimgr.start = setup, start

def phone(s):
    wifimgr.get_manager().try_credentials("HomeNetwork", "correct-horse")
wifimgr.on("ap_started", phone)
wifimgr.on("provisioned", lambda ssid: wifimgr.get_manager().finish_provisioning())

async def stop_after(ms):
    while clock.now_ms() < ms:
        await asyncio.sleep_ms(0)
    asyncio.get_event_loop().stop()
asyncio.create_task(stop_after(120000))
"""


def examples():
    text = (ROOT / "README.md").read_text()
    start = text.index(SECTION)
    end = text.find("\n## ", start + len(SECTION))
    section = text[start : end if end >= 0 else len(text)]
    return re.findall(r"```python\n(.*?)```", section, re.S)


def test_readme_has_examples():
    assert len(examples()) >= 4


@pytest.mark.parametrize("index", range(len(examples())))
def test_readme_example_runs(micropython, index):
    code = examples()[index]
    root = micropython.tmp_path / "device"
    root.mkdir()
    out = micropython.run(PRELUDE.replace("ROOT_DIR", repr(str(root))) + code + "\nprint('END')")
    assert out.strip().endswith("END")
    if "connect_or_setup" in code or "wifimgr.setup(" in code or "start()" in code:
        assert "HomeNetwork" in (root / "wifimgr.json").read_text()
        assert b"correct-horse" not in (root / "wifimgr.store").read_bytes()
