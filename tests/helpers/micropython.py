"""Running code on MicroPython's unix port with the wifimgr package importable, and the paths
the tests share. Imported by conftest.py and by tests as `helpers.micropython`."""

import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FROZEN = ROOT / "frozen"
SCENARIOS = ROOT / "tools" / "sim" / "scenarios"

MICROPYTHON = os.environ.get("WIFIMGR_MICROPYTHON") or str(ROOT / ".venv" / "bin" / "micropython")


class MicroPythonError(AssertionError):
    pass


class MicroPython:
    """Runs scripts on MicroPython's unix port with the wifimgr package importable.

    On the registry runtime the package comes from frozen/ (fallback backend); on a unix build
    made with `make unix` it is the frozen copy inside the binary, next to _wifimgr. `link`
    "twin" runs the manager on the Python twin even where _wifimgr.Link is built in.
    """

    def __init__(self, executable, tmp_path, link=None):
        self.executable = executable
        self.tmp_path = tmp_path
        self.native = has_native_module(executable)
        self.link = link

    def env(self, path=()):
        env = dict(os.environ)
        entries = [str(p) for p in path]
        if not self.native:
            entries.append(str(FROZEN))
        entries.append(".frozen")
        env["MICROPYPATH"] = ":".join(entries)
        return env

    def command(self, script, args=()):
        if self.link == "twin" and self.native:
            # The script runs as __main__ after the manager's choice is set.
            launcher = self.tmp_path / "mpy_twin.py"
            launcher.write_text(
                "import sys, wifimgr.manager\n"
                'wifimgr.manager.link_backend = "twin"\n'
                "sys.argv.pop(0)\n"
                "with open(sys.argv[0]) as f:\n"
                '    exec(f.read(), {"__name__": "__main__"})\n'
            )
            return [self.executable, str(launcher), str(script), *map(str, args)]
        return [self.executable, str(script), *map(str, args)]

    def run(self, code, *, args=(), path=(), timeout=60, check=True):
        """Runs `code` and returns what it printed; a MicroPython exception fails the test."""
        script = self.tmp_path / "mpy_script.py"
        script.write_text(code)
        proc = subprocess.run(
            self.command(script, args),
            env=self.env(path),
            cwd=self.tmp_path,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if check and proc.returncode != 0:
            raise MicroPythonError(
                "MicroPython exited with %d\n--- stdout ---\n%s--- stderr ---\n%s"
                % (proc.returncode, proc.stdout, proc.stderr)
            )
        return proc.stdout if check else proc

    def popen(self, script, *, args=(), path=(), **kwargs):
        """Starts a long-running MicroPython script (a server); the caller stops it."""
        return subprocess.Popen(
            self.command(script, args), env=self.env(path), cwd=self.tmp_path, **kwargs
        )


_native_cache = {}


def has_native_module(executable):
    if executable not in _native_cache:
        proc = subprocess.run(
            [executable, "-c", "import _wifimgr"],
            env={**os.environ, "MICROPYPATH": ".frozen"},
            capture_output=True,
        )
        _native_cache[executable] = proc.returncode == 0
    return _native_cache[executable]


# The Link backends the manager runs on: the Python twin, and _wifimgr.Link where built in.
LINKS = ("twin", "native")


def micropython_on(link, tmp_path):
    """MicroPython running the manager on `link`, for a test module's `micropython` fixture
    parametrized over LINKS; skips "native" where the build has no _wifimgr.Link."""
    if not os.access(MICROPYTHON, os.X_OK):
        pytest.skip("no MicroPython at %s: run `make test`, which installs it" % MICROPYTHON)
    mp = MicroPython(MICROPYTHON, tmp_path, link=link)
    if link == "native" and not mp.native:
        pytest.skip("no _wifimgr.Link in %s: the native tier runs it" % MICROPYTHON)
    return mp
