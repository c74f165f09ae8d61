"""make bench: runs every tools/bench/bench_*.py and writes build/bench/results.json.

Each benchmark module has `run(ctx)` returning a dict of result keys (numbers or small dicts
naming the scenario that produced them). `ctx` carries the paths and the MicroPython to use.
A module whose prerequisites are missing returns {"skipped": "reason"} instead.
"""

import argparse
import importlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "build" / "bench"


class Context:
    def __init__(self, only):
        self.root = ROOT
        self.out = OUT
        self.micropython = os.environ.get("WIFIMGR_MICROPYTHON") or str(
            ROOT / ".venv" / "bin" / "micropython"
        )
        self.only = only

    def native_micropython(self):
        """The MicroPython in use if it has _wifimgr, else build/unix/micropython if that one
        has it (make unix), else None."""
        from helpers.micropython import has_native_module

        for m in (self.micropython, str(self.root / "build" / "unix" / "micropython")):
            if os.access(m, os.X_OK) and has_native_module(m):
                return m
        return None

    def code_size(self, obj):
        """Bytes of build/size/<obj> as `make size` reports them (core/*.c for rv32imc, -Os),
        or None without Debian's riscv64-unknown-elf-gcc."""
        if not shutil.which("riscv64-unknown-elf-gcc"):
            return None
        out = subprocess.run(
            ["make", "-s", "size"], cwd=self.root, capture_output=True, text=True, check=True
        ).stdout
        for line in out.splitlines():
            fields = line.split()
            if fields and fields[-1] == "build/size/" + obj:
                return int(fields[0])
        raise RuntimeError("make size printed no %s: %s" % (obj, out))

    def instructions_per_call(self, function, command):
        """Instructions per call of the C `function`, counted by valgrind's callgrind over
        `command` (a program that prints how many calls it made first); None without
        valgrind. Instruction counts repeat exactly, whatever else the machine is doing."""
        if not shutil.which("valgrind"):
            return None
        with tempfile.TemporaryDirectory() as tmp:
            out_file = Path(tmp) / "callgrind.out"
            proc = subprocess.run(
                [
                    "valgrind",
                    "--tool=callgrind",
                    "--toggle-collect=" + function,
                    "--callgrind-out-file=%s" % out_file,
                    *map(str, command),
                ],
                capture_output=True,
                text=True,
                check=True,
            )
            calls = int(proc.stdout.split()[0])
            total = int(re.search(r"^totals: (\d+)", out_file.read_text(), re.M).group(1))
        return total / calls


def numbers(results):
    for area, values in results.items():
        for key, value in values.items():
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                yield area, key, value


def chart(results, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = list(numbers(results))
    if not rows:
        return
    fig, axes = plt.subplots(len(rows), 1, figsize=(8, 0.55 * len(rows) + 1), squeeze=False)
    for ax, (_area, key, value) in zip(axes[:, 0], rows, strict=True):
        ax.barh([key], [value], color="#3d7ab8")
        ax.set_yticks([0], [key], fontsize=8)
        ax.tick_params(axis="x", labelsize=7)
        ax.text(value, 0, " %.4g" % value, va="center", fontsize=8)
        ax.set_xlim(0, max(value, 1e-9) * 1.3)
    fig.suptitle("wifimgr make bench (%s)" % time.strftime("%Y-%m-%d %H:%M"), fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=100)


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("only", nargs="*", help="run only these benchmark modules (e.g. dns)")
    args = parser.parse_args()
    ctx = Context(args.only)
    OUT.mkdir(parents=True, exist_ok=True)
    sys.path.insert(0, str(ROOT / "tools" / "bench"))
    sys.path.insert(0, str(ROOT / "tests"))  # helpers: shared by the tests and the benchmarks
    modules = sorted(p.stem for p in (ROOT / "tools" / "bench").glob("bench_*.py"))
    results_path = OUT / "results.json"
    old = json.loads(results_path.read_text()) if results_path.exists() and args.only else {}
    results = old.get("by_area", {})
    for name in modules:
        area = name.removeprefix("bench_")
        if args.only and area not in args.only:
            continue
        print("bench: %s ..." % area, flush=True)
        started = time.monotonic()
        results[area] = importlib.import_module(name).run(ctx)
        print("bench: %s done in %.1f s" % (area, time.monotonic() - started), flush=True)
    flat = {key: value for values in results.values() for key, value in values.items()}
    results_path.write_text(json.dumps({**flat, "by_area": results}, indent=2, sort_keys=True))
    print("\n%-34s %s" % ("key", "value"))
    for values in results.values():
        for key, value in values.items():
            shown = "%.4g" % value if isinstance(value, float) else value
            print("%-34s %s" % (key, shown))
    chart(results, OUT / "results.png")
    print("\nwrote %s and %s" % (results_path, OUT / "results.png"))


if __name__ == "__main__":
    main()
