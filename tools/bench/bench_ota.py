"""make bench BENCH=ota: OTA on the unix port against tools/ota_server.py over loopback.

A 1.5 MB ESP32-C3 app image (the size of a wifimgr build) is downloaded five times by a plain
socket loop that throws the bytes away (ota_raw_kib_s) and five times by ota.update() into the
file-backed partition, SHA-256 and the read-back image check included (ota_throughput_kib_s);
medians. Loopback runs at memory speed, where SHA-256 dominates, so the same pair is measured
again with the server paced at 2 MiB/s, a good WiFi link (ota_paced_*). ota_peak_heap_bytes is
the heap above the idle baseline during one update, sampled at every flash access with the
collector run every 2 KiB of allocation (tests/helpers/ota.py HEAP_SCRIPT).
ota_sha256_kib_s is hashlib's SHA-256 on the same MicroPython over the same bytes in the same
4 KiB blocks; ota_ratio_ceiling = raw time / (raw time + one SHA-256 pass) is the best
ota_throughput_ratio that any updater checking a digest could reach here. The same update over
HTTPS, the server verified against a CA made for the run (helpers.ota.LocalCA), gives
ota_https_throughput_kib_s, ota_https_paced_throughput_kib_s and ota_https_peak_heap_bytes
(the same heap measure, so sampled during the transfer, not the TLS handshake).
"""

import hashlib
import json
import statistics

ROUNDS = 5
PACED_ROUNDS = 2
PACE = 2 * 1024 * 1024
IMAGE_SIZE = 1536 * 1024

TIMED = """
import json, time
from wifimgr import partition, ota
partition.setup(%(flash)r)
t0 = time.ticks_ms()
ota.update(%(url)r, sha256=%(sha256)r, reboot=False, ca=%(ca)r)
print(json.dumps({"ms": time.ticks_diff(time.ticks_ms(), t0), "bytes": ota.status()["bytes"]}))
"""


SHA256 = """
import hashlib, json, time
block = bytearray(4096)
t0 = time.ticks_us()
h = hashlib.sha256()
for _ in range(%(blocks)d):
    h.update(block)
h.digest()
print(json.dumps({"ms": time.ticks_diff(time.ticks_us(), t0) / 1000, "bytes": %(blocks)d * 4096}))
"""


def run(ctx):
    from helpers import esp_image
    from helpers.micropython import MicroPython
    from helpers.ota import HEAP_SCRIPT, RAW_SCRIPT, LocalCA, OtaServer, make_flash

    work = ctx.out / "ota"
    (work / "images").mkdir(parents=True, exist_ok=True)
    image = esp_image.build("esp32c3", IMAGE_SIZE, seed=11)
    old = esp_image.build("esp32c3", 128 * 1024, seed=12, version="0.1.0")
    (work / "images" / "app.bin").write_bytes(image)
    sha = hashlib.sha256(image).hexdigest()
    mp = MicroPython(ctx.micropython, work)
    server = OtaServer(work / "images")
    pki = LocalCA(work / "pki")
    tls_server = OtaServer(work / "images", tls=pki.issue("server")[:2])
    ca = str(pki.pem)
    host, port = server.base[len("http://") :].rstrip("/").split(":")

    def once(script, **fields):
        make_flash(work / "flash", old, chip="esp32c3")
        fields.setdefault("flash", str(work / "flash"))
        out = json.loads(mp.run(script % fields).strip().splitlines()[-1])
        if out["bytes"] < len(image):
            raise RuntimeError(
                "bench_ota: only %d of %d bytes arrived" % (out["bytes"], len(image))
            )
        return out

    def kib_s(results):
        return statistics.median(r["bytes"] / 1024 / (max(r["ms"], 1) / 1000) for r in results)

    try:
        raw_fields = {"host": host, "port": int(port), "path": "/app.bin"}
        raw = [once(RAW_SCRIPT, **raw_fields) for _ in range(ROUNDS)]
        ota = [once(TIMED, url=server.url("app.bin"), sha256=sha, ca=None) for _ in range(ROUNDS)]
        paced_raw_fields = dict(raw_fields, path="/app.bin?rate=%d" % PACE)
        paced_raw = [once(RAW_SCRIPT, **paced_raw_fields) for _ in range(PACED_ROUNDS)]
        paced_url = server.url("app.bin", rate=PACE)
        paced = [once(TIMED, url=paced_url, sha256=sha, ca=None) for _ in range(PACED_ROUNDS)]
        heap = once(HEAP_SCRIPT, url=server.url("app.bin"), sha256=sha, ca=None)
        https_url = tls_server.url("app.bin")
        https = [once(TIMED, url=https_url, sha256=sha, ca=ca) for _ in range(ROUNDS)]
        https_paced_url = tls_server.url("app.bin", rate=PACE)
        https_paced = [
            once(TIMED, url=https_paced_url, sha256=sha, ca=ca) for _ in range(PACED_ROUNDS)
        ]
        https_heap = once(HEAP_SCRIPT, url=https_url, sha256=sha, ca=ca)
        blocks = -(-len(image) // 4096)
        sha_runs = [json.loads(mp.run(SHA256 % {"blocks": blocks})) for _ in range(ROUNDS)]
    finally:
        server.stop()
        tls_server.stop()
    result = {
        "ota_image_bytes": len(image),
        "ota_raw_kib_s": round(kib_s(raw), 1),
        "ota_throughput_kib_s": round(kib_s(ota), 1),
        "ota_paced_link_kib_s": PACE // 1024,
        "ota_paced_raw_kib_s": round(kib_s(paced_raw), 1),
        "ota_paced_throughput_kib_s": round(kib_s(paced), 1),
        "ota_peak_heap_bytes": heap["peak"],
        "ota_idle_heap_bytes": heap["base"],
        "ota_https_throughput_kib_s": round(kib_s(https), 1),
        "ota_https_paced_throughput_kib_s": round(kib_s(https_paced), 1),
        "ota_https_peak_heap_bytes": https_heap["peak"],
    }
    result["ota_throughput_ratio"] = round(
        result["ota_throughput_kib_s"] / result["ota_raw_kib_s"], 3
    )
    result["ota_sha256_kib_s"] = round(kib_s(sha_runs), 1)
    result["ota_ratio_ceiling"] = round(
        result["ota_sha256_kib_s"] / (result["ota_sha256_kib_s"] + result["ota_raw_kib_s"]), 3
    )
    result["ota_paced_ratio"] = round(
        result["ota_paced_throughput_kib_s"] / result["ota_paced_raw_kib_s"], 3
    )
    return result
