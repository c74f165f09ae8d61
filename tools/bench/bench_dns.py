"""make bench BENCH=dns: the captive DNS responder (issue 3), all on loopback in one run.

- qps under the same bounded load (tools/dns/load.c: WINDOW queries in flight for SECONDS):
  the host C server (core/dns.c + port/dns_task.c), a minimal C UDP echo (the ceiling),
  `_wifimgr.DNSServer` on the native unix build when there is one, and the Python twin on
  MicroPython. C and echo alternate ROUNDS times; the median counts. With each, the server's
  CPU time (user + system, /proc) per answered query: on loopback the kernel's UDP path is most
  of it, which is why `udp_echo_qps` bounds every responder, and `udp_echo_qps_over_python`
  bounds `dns_qps_c_over_python`.
- instructions per query of wm_dns_answer alone (valgrind --tool=callgrind), and its wall time
  per call natively. Beside it the same for the Python twin's `dns.answer()` on MicroPython,
  which no loopback bounds: callgrind counts the whole unix micropython process answering the
  same 4-query mix TWIN_ROUNDS and 2 x TWIN_ROUNDS times, and the same loop calling a function
  that does nothing; (answering 2N - answering N) - (idle 2N - idle N), over 4N queries, is the
  twin's work per query without the start-up, the import and the loop.
  `dns_instr_ratio_python_over_c` is that over the C figure.
- code size of core/dns.o for rv32imc -Os (make size).
- stop latency: the C server stopped with load running, and `_wifimgr.DNSServer.stop()`.
- the fuzzer: FUZZ_RUNS executions under ASan/UBSan, how long they took, clean or not.

Environment: WIFIMGR_BENCH_DNS_SECONDS (per load run, default 2), WIFIMGR_BENCH_DNS_FUZZ_RUNS
(default 10000000; 0 skips the fuzz run).
"""

import json
import os
import shutil
import signal
import statistics
import struct
import subprocess
import tempfile
import time
from pathlib import Path

from helpers import dnsclient
from targets import TARGETS, describe, met

SECONDS = float(os.environ.get("WIFIMGR_BENCH_DNS_SECONDS", "2"))
FUZZ_RUNS = int(os.environ.get("WIFIMGR_BENCH_DNS_FUZZ_RUNS", "10000000"))
ROUNDS = 3
WINDOW = 32
CALLGRIND_ROUNDS = 10000  # x 4 queries
TWIN_ROUNDS = 200  # x 4 queries, and twice that
# label, qps key, CPU key: the responders, as the table here and results.png show them
RESPONDERS = [
    ("udp echo (ceiling)", "udp_echo_qps", "udp_echo_cpu_us_per_query"),
    ("C (core + dns_task)", "dns_qps_c", "dns_cpu_us_per_query_c"),
    ("_wifimgr.DNSServer", "dns_qps_native", "dns_cpu_us_per_query_native"),
    ("Python twin", "dns_qps_python", "dns_cpu_us_per_query_python"),
]

# The twin on the mix of tools/dns/callgrind.c: the same 4 queries and the same 4 rules.
TWIN_SCRIPT = r"""
import sys
from binascii import unhexlify
from wifimgr import dns

rounds, what = int(sys.argv[1]), sys.argv[2]
queries = [unhexlify(q) for q in sys.argv[3:]]
cfg = dns.Answers(
    "192.168.4.1",
    60,
    overrides={"wifimgr.local": "10.0.0.7"},
    nxdomain=["*.nx.example", "allowed.example"],
    refused=["refused.example"],
)


def idle(cfg, q):
    return None


answer = dns.answer if what == "answer" else idle
for _ in range(rounds):
    for q in queries:
        answer(cfg, q)
print(rounds * len(queries))
"""


def mix_query(ident, name, qtype, edns):
    q = struct.pack(">HHHHHH", ident, 0x0100, 1, 0, 0, 1 if edns else 0)
    q += b"".join(bytes([len(label)]) + label for label in name.encode().split(b".")) + b"\0"
    q += struct.pack(">HH", qtype, 1)
    if edns:  # OPT: root owner, UDP size 4096, no flags, no options
        q += b"\0" + struct.pack(">HHIH", 41, 4096, 0, 0)
    return q


MIX = [
    mix_query(1, "www.Example.COM", 1, False),
    mix_query(2, "connectivitycheck.gstatic.com", 28, False),
    mix_query(3, "captive.apple.com", 1, True),
    mix_query(4, "www.Example.COM", 28, True),
]


def free_port():
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def load(tools, port, seconds=SECONDS, window=WINDOW):
    out = subprocess.run(
        [str(tools / "dns_load"), str(port), str(seconds), str(window)],
        capture_output=True,
        text=True,
        check=True,
        timeout=seconds + 30,
    ).stdout
    return json.loads(out)


def start_ready(cmd, **kwargs):
    proc = subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kwargs
    )
    line = proc.stdout.readline().split()
    if line[:1] != ["ready"]:
        proc.kill()
        raise RuntimeError("%s did not start: %r %s" % (cmd[0], line, proc.stderr.read()))
    return proc, int(line[1]) if len(line) > 1 else None


def cpu_seconds(pid):
    """User + system CPU time of a process so far (/proc/PID/stat)."""
    fields = Path("/proc/%d/stat" % pid).read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measure(pid, tools, port):
    """qps under the load, and the server's CPU time per answered query in microseconds."""
    before = cpu_seconds(pid)
    result = load(tools, port)
    cpu = cpu_seconds(pid) - before
    return result["qps"], cpu * 1e6 / max(result["received"], 1)


def c_server(tools, program, *args):
    proc, port = start_ready([str(tools / program), *args, "--port", "0"])
    try:
        return measure(proc.pid, tools, port)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=10)


def c_stop_ms_under_load(tools):
    """SIGTERM to the C server while dns_load runs; the time wm_dns_task_stop took."""
    proc, port = start_ready([str(tools / "wm_dns_server"), "192.168.4.1", "--port", "0"])
    loader = subprocess.Popen(
        [str(tools / "dns_load"), str(port), "1", str(WINDOW)], stdout=subprocess.DEVNULL
    )
    try:
        time.sleep(0.3)
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=10)
    finally:
        loader.wait(timeout=30)
    return json.loads(out.strip().splitlines()[-1])["stop_ms"]


def micropython_server(ctx, micropython, impl, tools):
    """qps and CPU us per query of a DNSServer on MicroPython under the load, and the time its
    stop() took."""
    with tempfile.TemporaryDirectory() as tmp:
        script = Path(tmp) / "serve.py"
        script.write_text(dnsclient.SERVE_UNTIL_STOPPED)
        stop = Path(tmp) / "stop"
        port = free_port()
        env = {**os.environ, "MICROPYPATH": ".frozen:%s" % (ctx.root / "frozen")}
        proc = subprocess.Popen(
            [micropython, str(script), str(port), impl, str(stop), json.dumps(dnsclient.SERVER)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
            cwd=tmp,
        )
        try:
            if proc.stdout.readline().strip() != "ready":
                raise RuntimeError(
                    "MicroPython %s server did not start: %s" % (impl, proc.stderr.read())
                )
            qps, cpu_us = measure(proc.pid, tools, port)
            stop.touch()
            out, err = proc.communicate(timeout=20)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        stats = json.loads(out.strip().splitlines()[-1])
    return qps, cpu_us, stats["stop_ms"]


def answer_ns_c(tools, rounds=2_500_000):
    """Wall time per wm_dns_answer call on the callgrind mix (4 queries, 4 rules), natively."""
    started = time.perf_counter()
    out = subprocess.run(
        [str(tools / "dns_callgrind"), str(rounds)], capture_output=True, text=True, check=True
    ).stdout
    return (time.perf_counter() - started) * 1e9 / int(out.split()[0])


def twin_instructions_per_query(ctx):
    """Instructions per query of the Python twin's dns.answer() on MicroPython (see above)."""
    micropython = ctx.native_micropython() or ctx.micropython
    env = {**os.environ, "MICROPYPATH": ".frozen:%s" % (ctx.root / "frozen")}
    with tempfile.TemporaryDirectory() as tmp:
        script = Path(tmp) / "twin.py"
        script.write_text(TWIN_SCRIPT)
        totals = {}
        for what in ("answer", "idle"):
            for rounds in (TWIN_ROUNDS, 2 * TWIN_ROUNDS):
                command = [micropython, script, rounds, what, *(q.hex() for q in MIX)]
                counted = ctx.instructions(command, env=env)
                if counted is None:
                    return None
                totals[what, rounds] = counted[0]
    answering = totals["answer", 2 * TWIN_ROUNDS] - totals["answer", TWIN_ROUNDS]
    idling = totals["idle", 2 * TWIN_ROUNDS] - totals["idle", TWIN_ROUNDS]
    return (answering - idling) / (TWIN_ROUNDS * len(MIX))


def fuzz(ctx):
    if not shutil.which("clang") or FUZZ_RUNS <= 0:
        return None
    subprocess.run(
        ["make", "-s", "build/fuzz/fuzz_dns", "build/fuzz/corpus/.seeded"],
        cwd=ctx.root,
        check=True,
        capture_output=True,
    )
    started = time.monotonic()
    proc = subprocess.run(
        ["make", "-s", "fuzz-dns", "FUZZ_RUNS=%d" % FUZZ_RUNS],
        cwd=ctx.root,
        capture_output=True,
        text=True,
        timeout=1800,
    )
    took = time.monotonic() - started
    clean = proc.returncode == 0 and ("Done %d runs" % FUZZ_RUNS) in proc.stderr
    return {"runs": FUZZ_RUNS, "seconds": took, "clean": clean}


def run(ctx):
    tools = ctx.root / "build" / "host" / "dns"
    subprocess.run(["make", "-s", "dns-tools"], cwd=ctx.root, check=True, capture_output=True)
    results = {}

    c, echo = [], []
    for _ in range(ROUNDS):
        c.append(c_server(tools, "wm_dns_server", "192.168.4.1"))
        echo.append(c_server(tools, "udp_echo"))
    results["dns_qps_c"] = statistics.median(q for q, _ in c)
    results["udp_echo_qps"] = statistics.median(q for q, _ in echo)
    results["dns_cpu_us_per_query_c"] = statistics.median(u for _, u in c)
    results["udp_echo_cpu_us_per_query"] = statistics.median(u for _, u in echo)
    results["dns_stop_ms_c"] = max(c_stop_ms_under_load(tools) for _ in range(ROUNDS))

    native = ctx.native_micropython()
    if native:
        (
            results["dns_qps_native"],
            results["dns_cpu_us_per_query_native"],
            results["dns_stop_ms_native"],
        ) = micropython_server(ctx, native, "native", tools)
    else:
        results["dns_native"] = "skipped: no MicroPython with _wifimgr (make unix MICROPY_DIR=...)"
    (
        results["dns_qps_python"],
        results["dns_cpu_us_per_query_python"],
        results["dns_stop_ms_python"],
    ) = micropython_server(ctx, ctx.micropython, "python", tools)
    results["dns_qps_c_over_echo"] = results["dns_qps_c"] / results["udp_echo_qps"]
    results["dns_qps_c_over_python"] = results["dns_qps_c"] / results["dns_qps_python"]
    # The best dns_qps_c_over_python any responder could show on this loopback: the echo's.
    results["udp_echo_qps_over_python"] = results["udp_echo_qps"] / results["dns_qps_python"]

    results["dns_answer_ns_c"] = answer_ns_c(tools)

    ipq = ctx.instructions_per_call("wm_dns_answer", [tools / "dns_callgrind", CALLGRIND_ROUNDS])
    if ipq is None:
        results["dns_instructions"] = "skipped: valgrind not installed"
    else:
        results["dns_instructions_per_query"] = ipq
        twin = twin_instructions_per_query(ctx)
        results["dns_instructions_per_query_python"] = twin
        results["dns_instr_ratio_python_over_c"] = twin / ipq
    size = ctx.code_size("dns.o")
    if size is None:
        results["dns_code_size"] = "skipped: riscv64-unknown-elf-gcc not installed"
    else:
        results["dns_code_size_rv32imc"] = size
    fz = fuzz(ctx)
    if fz is None:
        results["dns_fuzz"] = "skipped: clang not installed (or WIFIMGR_BENCH_DNS_FUZZ_RUNS=0)"
    else:
        results["dns_fuzz_runs"] = fz["runs"]
        results["dns_fuzz_seconds"] = fz["seconds"]
        results["dns_fuzz_execs_per_s"] = fz["runs"] / fz["seconds"]
        results["dns_fuzz_clean"] = fz["clean"]

    targets = [(describe(key), met(key, results[key])) for key in TARGETS if key in results]
    if fz is not None:
        targets.append(("fuzz %d runs clean" % fz["runs"], fz["clean"]))
    print("\n  %-22s %10s %18s" % ("responder", "qps", "server CPU us/query"))
    for label, qps, cpu in RESPONDERS:
        if qps in results:
            print("  %-22s %10.0f %18.2f" % (label, results[qps], results[cpu]))
    print("  wm_dns_answer alone: %.0f ns per call" % results["dns_answer_ns_c"])
    if "dns_instr_ratio_python_over_c" in results:
        print(
            "  instructions per query: C %.0f, Python twin %.0f (x %.0f)"
            % (
                results["dns_instructions_per_query"],
                results["dns_instructions_per_query_python"],
                results["dns_instr_ratio_python_over_c"],
            )
        )
    for what, ok in targets:
        print("  %-40s %s" % (what, "met" if ok else "NOT MET"))
    results["dns_targets_met"] = all(ok for _, ok in targets)
    return results
