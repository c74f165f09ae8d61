"""make bench: runs every tools/bench/bench_*.py and writes build/bench/results.json.

Each benchmark module has `run(ctx)` returning a dict of result keys (numbers or small dicts
naming the scenario that produced them). `ctx` carries the paths and the MicroPython to use.
A module whose prerequisites are missing returns {"skipped": "reason"} instead.
Every result with a target (tools/bench/targets.py) is printed met or NOT MET at the end, and
build/bench/results.png draws the comparisons: the DNS responders side by side, each link
figure per backend beside its target, each heap figure beside its target.
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

from targets import TARGETS, met

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

    def instructions(self, command, function=None, env=None):
        """Instructions valgrind's callgrind counts while `command` runs (only inside the C
        `function` if one is named), and the command's output; None without valgrind.
        Instruction counts repeat exactly, whatever else the machine is doing."""
        if not shutil.which("valgrind"):
            return None
        toggle = ["--toggle-collect=" + function] if function else []
        with tempfile.TemporaryDirectory() as tmp:
            out_file = Path(tmp) / "callgrind.out"
            proc = subprocess.run(
                [
                    "valgrind",
                    "--tool=callgrind",
                    *toggle,
                    "--callgrind-out-file=%s" % out_file,
                    *map(str, command),
                ],
                capture_output=True,
                text=True,
                check=True,
                env=env,
            )
            total = int(re.search(r"^totals: (\d+)", out_file.read_text(), re.M).group(1))
        return total, proc.stdout

    def instructions_per_call(self, function, command):
        """Instructions per call of the C `function` over `command` (a program that prints how
        many calls it made first); None without valgrind."""
        counted = self.instructions(command, function)
        if counted is None:
            return None
        total, out = counted
        return total / int(out.split()[0])


BLUE, ORANGE, GREY = "#3d7ab8", "#b8703d", "#9a9a9a"
BACKENDS = ("python", "native")
SYMBOL = {">=": "≥", "<=": "≤"}


def target_key(key):
    """The TARGETS key a result is held to, or None; link and soak figures carry their
    backend."""
    if key.startswith(("t_", "soak_")) and key.endswith(tuple("_" + b for b in BACKENDS)):
        key = key.rsplit("_", 1)[0]
    return key if key in TARGETS else None


def label_bars(ax, bars, fmt, missed=()):
    """Each horizontal bar's value at its end; red for the bars (indices) that miss a target."""
    for i, bar in enumerate(bars):
        ax.annotate(
            fmt % bar.get_width() + (" NOT MET" if i in missed else ""),
            (bar.get_width(), bar.get_y() + bar.get_height() / 2),
            color="red" if i in missed else "black",
            xytext=(3, 0),
            textcoords="offset points",
            va="center",
            fontsize=8,
        )


def label_columns(ax, bars, missed=()):
    """Each vertical bar's value on top of it; red for the bars (indices) that miss a target."""
    for i, bar in enumerate(bars):
        ax.annotate(
            "%.4g" % bar.get_height(),
            (bar.get_x() + bar.get_width() / 2, bar.get_height()),
            color="red" if i in missed else "black",
            xytext=(0, 2),
            textcoords="offset points",
            ha="center",
            va="bottom",
            fontsize=8,
        )


def dns_panels(fig, dns):
    """Each responder's qps beside its CPU per query, and the instructions per query."""
    from bench_dns import RESPONDERS, WINDOW

    shown = [(label, dns[q], dns[c]) for label, q, c in RESPONDERS if q in dns]
    qps_ax, cpu_ax, ins_ax = fig.subplots(1, 3, gridspec_kw={"wspace": 0.08})
    labels = [label for label, _, _ in shown]
    for ax, values, color, title, fmt in (
        (
            qps_ax,
            [q for _, q, _ in shown],
            BLUE,
            "queries/s, loopback, %d in flight; C / echo %.2f (target %s %g)"
            % (
                WINDOW,
                dns["dns_qps_c_over_echo"],
                SYMBOL[TARGETS["dns_qps_c_over_echo"][0]],
                TARGETS["dns_qps_c_over_echo"][1],
            ),
            "%.0f",
        ),
        (cpu_ax, [c for _, _, c in shown], ORANGE, "server CPU µs per query", "%.2f"),
    ):
        label_bars(ax, ax.barh(labels, values, color=color), fmt)
        ax.set_title(title, fontsize=9)
        ax.set_xlim(0, max(values) * 1.25)
        ax.invert_yaxis()
    cpu_ax.set_yticks([])
    if "dns_instructions_per_query_python" in dns:
        rows = [
            ("wm_dns_answer (C)", dns["dns_instructions_per_query"]),
            ("dns.answer (twin)", dns["dns_instructions_per_query_python"]),
        ]
        bars = ins_ax.barh([r for r, _ in rows], [v for _, v in rows], color=[BLUE, ORANGE])
        ins_ax.set_xscale("log")
        ins_ax.set_xlim(100, rows[1][1] * 8)
        label_bars(ins_ax, bars, "%.0f")
        relation, bound, issue = TARGETS["dns_instr_ratio_python_over_c"]
        ins_ax.set_title(
            "instructions per query (callgrind): twin / C = %.0f, target %s %g (issue %d)"
            % (dns["dns_instr_ratio_python_over_c"], SYMBOL[relation], bound, issue),
            fontsize=9,
        )
        ins_ax.yaxis.tick_right()
        ins_ax.invert_yaxis()
    else:
        ins_ax.set_axis_off()
    for ax in (qps_ax, cpu_ax, ins_ax):
        ax.tick_params(labelsize=8)
    fig.suptitle("Captive DNS: each responder on the same load", fontsize=10, x=0.01, ha="left")


LINK_RUNS = (("", "Link"), ("_manager", "manager"), ("_oneshot", "one-shot API"))


def link_rows(link, unit):
    """[(figure, [(label, value, color), ...])] of the link figures in `unit` ("s" or "ms"):
    each figure's bars, the Link then the manager then the one-shot APIs, twin then C."""
    runs = tuple(run for run, _ in LINK_RUNS if run)
    names = sorted(
        {
            key.rsplit("_", 1)[0]
            for key in link
            if key.startswith("t_")
            and key.endswith(BACKENDS)
            and not any(run + "_" in key for run in runs)
        }
    )
    figures = []
    for name in names:
        if not name.endswith("_" + unit):
            continue
        bars = []
        for run, label in LINK_RUNS:
            for backend in BACKENDS:
                value = link.get("%s%s_%s" % (name, run, backend))
                if value is not None:
                    native = backend == "native"
                    bars.append(
                        (
                            "%s, %s" % (label, "C" if native else "twin"),
                            value,
                            ORANGE if native else BLUE,
                        )
                    )
        figures.append((name, bars))
    return figures


def link_axis(ax, figures, unit):
    """One horizontal bar a run of each figure, grouped by figure, its target a dashed line
    across the group; a bar that misses it red-labelled."""
    y, ticks, labels = 0, [], []
    top = 0
    for name, bars in figures:
        target = TARGETS.get(name)
        first = y
        for label, value, color in bars:
            bar = ax.barh(y, value, color=color, height=0.8)
            missed = [0] if target and not met(name, value) else []
            label_bars(ax, bar, "%.3g", missed)
            ticks.append(y)
            labels.append(label)
            top = max(top, value)
            y += 1
        if target:
            ax.plot([target[1]] * 2, [first - 0.5, y - 0.5], color=GREY, ls="--", lw=1.2)
            ax.annotate(
                "target %s %g (issue %d)" % (SYMBOL[target[0]], target[1], target[2]),
                (target[1], y - 0.5),
                xytext=(3, -1),
                textcoords="offset points",
                va="top",
                fontsize=7,
                color=GREY,
            )
            top = max(top, target[1])
        ax.annotate(name, (0, first - 0.6), fontsize=8, weight="bold")
        y += 2
    ax.set_yticks(ticks, labels, fontsize=7)
    ax.set_ylim(y - 1.2, -1.6)
    ax.set_xlim(0, top * 1.3)
    ax.set_xlabel("seconds" if unit == "s" else "ms", fontsize=8)
    ax.tick_params(labelsize=7)


def link_panels(fig, link):
    """Each link figure for every run and backend beside its target; the event-loop stall."""
    seconds, millis = link_rows(link, "s"), link_rows(link, "ms")
    stall = [
        (k, link["vm_stall_max_ms_" + k])
        for k in ("native", "stock", "baseline")
        if "vm_stall_max_ms_" + k in link
    ]
    axes = fig.subplot_mosaic(
        [["s", "ms"], ["s", "stall"]],
        width_ratios=[3, 1],
        gridspec_kw={"wspace": 0.1, "hspace": 0.15},
    )
    link_axis(axes["s"], seconds, "s")
    link_axis(axes["ms"], millis, "ms")
    ax = axes["stall"]
    if stall:
        shade = {"native": ORANGE, "stock": BLUE, "baseline": GREY}
        rows = range(len(stall))
        bars = ax.barh(rows, [v for _, v in stall], color=[shade[k] for k, _ in stall])
        ax.set_yticks(rows, [k for k, _ in stall])
        label_bars(ax, bars, "%.0f")
        ax.set_xlim(0, max(v for _, v in stall) * 1.3)
        ax.invert_yaxis()
        ax.set_title("vm_stall_max_ms (real clock, during a scan)", fontsize=8)
        ax.tick_params(labelsize=7)
    else:
        ax.set_axis_off()
    fig.suptitle(
        "Link, virtual clock: twin = wifimgr.link.Link, C = _wifimgr.Link",
        fontsize=10,
        x=0.01,
        ha="left",
    )


def heap_panel(fig, flat):
    """Each heap figure (KiB) beside its target."""
    keys = [
        k
        for k, v in sorted(flat.items())
        if "heap" in k
        and isinstance(v, (int, float))
        and not isinstance(v, bool)
        and "target" not in k
    ]
    ax = fig.subplots(1, 1)
    labels, values, colors, hatches = [], [], [], []
    missed = []
    for key in keys:
        if key in TARGETS and not met(key, flat[key]):
            missed.append(len(labels))
        labels.append(key)
        values.append(flat[key] / 1024)
        colors.append(BLUE)
        hatches.append("")
        target = TARGETS.get(key)
        if target:
            labels.append(
                "target %s %g KiB (issue %d)" % (SYMBOL[target[0]], target[1] / 1024, target[2])
            )
            values.append(target[1] / 1024)
            colors.append("white")
            hatches.append("//")
    bars = ax.barh(
        range(len(labels)),
        values,
        color=colors,
        edgecolor=[BLUE if h == "" else GREY for h in hatches],
    )
    for bar, hatch in zip(bars, hatches, strict=True):
        bar.set_hatch(hatch)
    ax.set_yticks(range(len(labels)), labels, fontsize=8)
    ax.invert_yaxis()
    label_bars(ax, bars, "%.1f", missed)
    ax.set_xlim(0, max(values) * 1.15)
    ax.set_xlabel("KiB", fontsize=8)
    ax.tick_params(labelsize=8)
    fig.suptitle("Heap: each figure beside its target", fontsize=10, x=0.01, ha="left")


def chart(results, path):
    """build/bench/results.png: the comparisons, one section per area that ran."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    flat = {k: v for values in results.values() for k, v in values.items()}
    sections = []
    if "dns_qps_c" in results.get("dns", {}):
        sections.append((2.6, lambda f: dns_panels(f, results["dns"])))
    if any(k.startswith("t_") for k in results.get("link", {})):
        sections.append((5.5, lambda f: link_panels(f, results["link"])))
    if any("heap" in k for k in flat):
        sections.append(
            (0.4 + 0.22 * sum("heap" in k for k in flat), lambda f: heap_panel(f, flat))
        )
    if not sections:
        return
    fig = plt.figure(figsize=(14, sum(h for h, _ in sections) + 0.6), layout="constrained")
    fig.get_layout_engine().set(w_pad=0.12, h_pad=0.1)
    subfigs = fig.subfigures(
        len(sections), 1, height_ratios=[h for h, _ in sections], squeeze=False
    )
    for subfig, (_h, draw) in zip(subfigs[:, 0], sections, strict=True):
        draw(subfig)
    fig.suptitle("wifimgr make bench (%s)" % time.strftime("%Y-%m-%d %H:%M"), fontsize=11)
    fig.savefig(path, dpi=100)
    plt.close(fig)


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
    print()
    for key, value in sorted(flat.items()):
        name = target_key(key)
        if name and isinstance(value, (int, float)):
            relation, bound, issue = TARGETS[name]
            verdict = "met" if met(name, value) else "NOT MET"
            print(
                "%-34s %-10.4g %s %g (issue %d): %s"
                % (key, value, relation, bound, issue, verdict)
            )
    chart(results, OUT / "results.png")
    print("\nwrote %s and %s" % (results_path, OUT / "results.png"))


if __name__ == "__main__":
    main()
