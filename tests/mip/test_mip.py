"""The mip package (issue 14): package.json in step with the package, the tree `make mip`
builds, and that tree installed by MicroPython's own mip from a local server, then run."""

import gzip
import json
import re

import pytest
from helpers.micropython import FROZEN, ROOT, SCENARIOS
from helpers.mip import (
    MPY_CROSS,
    Installed,
    add_index_package,
    build_tree,
    copy_lib,
    has_module,
    micropython_lib,
    mipbuild,
    runtimes,
    serve,
)
from helpers.portal import PAGE_SOURCE, Device


def test_package_json_lists_every_device_module_and_no_host_stand_in():
    pkg = json.loads((ROOT / "package.json").read_text())
    targets = sorted(t for t, _ in pkg["urls"])
    on_disk = {str(p.relative_to(FROZEN)) for p in (FROZEN / "wifimgr").rglob("*.py")}
    # Every module of the package but the simulated radio, plus the generated page: its
    # module and its gzip file.
    host_only = {"wifimgr/sim.py", "wifimgr/partition.py"}
    page = {"wifimgr/portal/_page.py", "wifimgr/portal/page.gz"}
    assert targets == sorted(on_disk - host_only | page)
    assert set(mipbuild().HOST_ONLY) == host_only
    assert all(src == "frozen/" + t for t, src in pkg["urls"])
    assert pkg["deps"] == [["logging", "latest"]]
    init = (FROZEN / "wifimgr" / "__init__.py").read_text()
    assert pkg["version"] == re.search(r'__version__ = "(.+)"', init).group(1)


def test_the_build_refuses_a_package_json_out_of_step(tmp_path):
    pkg = json.loads((ROOT / "package.json").read_text())
    pkg["urls"] = [u for u in pkg["urls"] if u[0] != "wifimgr/store.py"]
    pkg["urls"].append(["wifimgr/sim.py", "frozen/wifimgr/sim.py"])
    bad = tmp_path / "package.json"
    bad.write_text(json.dumps(pkg))
    with pytest.raises(SystemExit, match=r"not list wifimgr/store.py; lists wifimgr/sim.py"):
        mipbuild().build(tmp_path / "mip", MPY_CROSS, package_json=bad)


def test_the_tree_is_mpy_for_the_pinned_micropython(tmp_path):
    index = build_tree(tmp_path / "mip")
    assert index["deps"] == [["logging", "latest"]]
    for target, url in index["urls"]:
        assert target == url, target
        if target == "wifimgr/portal/page.gz":
            continue
        assert target.endswith(".mpy"), target
        head = (tmp_path / "mip" / target).read_bytes()[:4]
        # py/persistentcode.c: "M", version 6 (sys.implementation._mpy & 0xFF of v1.28), and
        # no architecture flags: bytecode only, which every port of that version loads.
        assert head[:3] == b"M\x06\x00", (target, head)
    assert sorted(p.name for p in (tmp_path / "mip").rglob("*.py")) == []


def test_the_tree_carries_the_page_as_a_gzip_file_not_as_bytecode(tmp_path):
    # A bytes constant of an .mpy is copied onto the heap when it is imported: the tree has the
    # page as a file, which the portal streams, and a _page.mpy that only names it.
    build_tree(tmp_path / "mip")
    portal = tmp_path / "mip" / "wifimgr" / "portal"
    assert gzip.decompress((portal / "page.gz").read_bytes()) == PAGE_SOURCE.read_bytes()
    assert (portal / "_page.mpy").stat().st_size < 200
    assert b"page.gz" in (portal / "_page.mpy").read_bytes()


@pytest.mark.parametrize("executable", runtimes())
def test_mip_installs_the_tree_and_the_portal_runs_from_it(executable, tmp_path):
    lib = micropython_lib()
    srv = tmp_path / "srv"
    build_tree(srv)
    add_index_package(srv / "pi", lib, "logging")
    fs = tmp_path / "fs"  # the device's filesystem, empty
    fs.mkdir()
    # mip is frozen into the registry's unix port (its standard variant requires mip-cmdline);
    # the native build freezes only asyncio and the package, so it gets micropython-lib's.
    tools = tmp_path / "tools"
    if not has_module(executable, "mip"):
        copy_lib(lib, ["mip", "requests"], tools)
    mp = Installed(executable, fs, fs / "lib", extra=[tools])
    with serve(srv) as (base, asked):
        out = mp.run(
            "import mip\nmip.install(%r, target='lib', index=%r)\n"
            % (base + "/package.json", base + "/pi")
        )
    assert out.strip().splitlines()[-1] == "Done", out
    assert "/package.json" in asked and "/package/6/logging/latest.json" in "".join(asked)
    installed = sorted(str(p.relative_to(fs / "lib")) for p in (fs / "lib").rglob("*"))
    assert "logging.mpy" in installed and "wifimgr/portal/_page.mpy" in installed
    assert "wifimgr/portal/page.gz" in installed
    assert not [p for p in installed if p.endswith(".py")], installed

    # The package runs from there: imported from the .mpy files (not frozen/, not the native
    # build's frozen copy), on the simulated radio and the host's flash stand-in, copied in
    # since a device needs neither.
    for name in ("sim.py", "partition.py"):
        (fs / "lib" / "wifimgr" / name).write_bytes((FROZEN / "wifimgr" / name).read_bytes())
    where = mp.run(
        "import wifimgr, wifimgr.portal, logging\n"
        "print(wifimgr.__file__, wifimgr.portal.__file__, logging.__file__)\n"
    ).split()
    assert where == [
        str(fs / "lib" / p)
        for p in ("wifimgr/__init__.mpy", "wifimgr/portal/__init__.mpy", "logging.mpy")
    ], where
    state = fs / "state"
    with Device(mp, scenario=SCENARIOS / "first-boot.json", state=state) as dev:
        # The page from the installed file, gzipped, and unzipped for a client without gzip.
        status, headers, body = dev.get("/", {"Accept-Encoding": "gzip"})
        assert status == 200 and headers["content-encoding"] == "gzip", (status, headers)
        gz = (fs / "lib" / "wifimgr" / "portal" / "page.gz").read_bytes()
        assert body == gz
        status, headers, body = dev.get("/")
        assert status == 200 and body == PAGE_SOURCE.read_bytes(), (status, headers)
        status, head, body = dev.request("HEAD", "/", headers={"Accept-Encoding": "gzip"})
        assert (status, body) == (200, b"") and head["content-length"] == str(len(gz)), head
        st = dev.wait_status(lambda s: s["ap_active"])
        assert st["errors"] == [] and st["backend"] == ("native" if mp.native else "python")
        names = [n["ssid"] for n in dev.json("/api/scan")["networks"]]
        assert "Meadowbrook" in names, names
        status, doc = dev.post(
            "/api/connect", {"ssid": "Meadowbrook", "password": "tulip-garden-42"}
        )
        assert status == 202, doc
        st = dev.wait_status(lambda s: (s["trial"] or {}).get("state") == "connected")
        assert st["trial"]["ip"] == "192.168.1.57"
        assert dev.post("/api/finish")[0] == 200
        assert dev.json("/api/networks")["networks"] == ["Meadowbrook"]
