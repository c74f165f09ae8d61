"""Improv Wi-Fi serial (wifimgr.improv): how long from the send-WiFi-settings RPC to the
"provisioned" answer, on the simulated radio's virtual clock (improv_vclock.py), next to the
portal's portal_submit_to_result_s (same scenario, same network)."""

import json
import os
import subprocess
import tempfile

from bench_portal import micropython_path


def run(ctx):
    with tempfile.TemporaryDirectory() as state:
        proc = subprocess.run(
            [ctx.micropython, str(ctx.root / "tools/bench/improv_vclock.py")]
            + [str(ctx.root / "tools/sim/scenarios/home.json"), state],
            env={**os.environ, "MICROPYPATH": micropython_path(ctx)},
            capture_output=True,
            text=True,
            timeout=120,
        )
    if proc.returncode != 0:
        raise RuntimeError("improv_vclock.py failed:\n" + proc.stdout + proc.stderr)
    r = json.loads(proc.stdout.strip().splitlines()[-1])
    if not r["provisioned"]:
        raise RuntimeError("improv_vclock.py: the guest network was not provisioned: %r" % r)
    return {
        "improv_provision_s": r["rpc_to_provisioned_ms"] / 1000,
        "improv_provision_bound_s": (r["assoc_ms"] + r["dhcp_ms"] + 1000) / 1000,
    }
