"""The package as mip installs it on a port that is not an ESP32 (issue 14): there is no
esp32.Partition and no flash stand-in (mip never installs wifimgr.partition), so OTA says once,
in ota.status(), that this port cannot update over the air, refuses updates with that reason,
and the boot (the guard included) logs no error. The unix port with the installed tree is such
a port: it has neither `esp32` nor the stand-in."""

import json
import shutil
import subprocess

import pytest
from helpers.micropython import FROZEN
from helpers.mip import Installed, build_tree, runtimes

SCRIPT = r"""
import asyncio, json
import simradio as sim
clock = sim.VirtualClock()
sim.install(sim.Scenario({"access_points": []}, "no-esp32"), clock)
import wifimgr
from wifimgr import ota
m = wifimgr.start("wifimgr.json", serve="never", clock=clock, ota_guard=True)
try:
    m.ota_update("http://127.0.0.1:9/app.bin", sha256="00" * 32)
    refused = None
except OSError as e:
    refused = str(e)
async def main():
    t = clock.now_ms()
    while clock.now_ms() - t < 5000:
        await asyncio.sleep_ms(0)
asyncio.run(main())
print(json.dumps({"status": ota.status(), "refused": refused, "ota": m.status()["ota"]}))
"""


@pytest.fixture(scope="module")
def tree(tmp_path_factory):
    lib = tmp_path_factory.mktemp("fs") / "lib"
    build_tree(lib)
    shutil.copyfile(FROZEN / "wifimgr" / "sim.py", lib / "simradio.py")
    return lib


@pytest.mark.parametrize("executable", runtimes())
def test_a_port_without_esp32_partition_cannot_update_and_says_so(executable, tree, tmp_path):
    mp = Installed(executable, tmp_path, tree)
    assert not (tree / "wifimgr" / "partition.mpy").exists()
    (tmp_path / "ports.py").write_text(SCRIPT)
    proc = subprocess.run(
        [executable, "ports.py"],
        env=mp.env(),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    r = json.loads(proc.stdout.strip().splitlines()[-1])
    reason = "this port has no esp32.Partition: updates over the air are for ESP32s"
    assert r["status"] == {"state": "unavailable", "reason": reason}, r
    assert r["ota"] == r["status"] and r["refused"] == "ota_update: " + reason, r
    assert "ERROR" not in proc.stderr, proc.stderr
