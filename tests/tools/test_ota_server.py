"""tools/ota_server.py from CPython: each fault does exactly what its name says."""

import http.client
import subprocess
import sys
import time
import urllib.request

import pytest
from helpers.ota import SERVER, OtaServer

DATA = bytes(range(256)) * 40  # 10240 bytes


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    d = tmp_path_factory.mktemp("srv")
    (d / "a.bin").write_bytes(DATA)
    (d / "sub").mkdir()
    (d / "sub" / "b.txt").write_bytes(b"b")
    srv = OtaServer(d)
    yield srv
    srv.stop()


def get(url):
    with urllib.request.urlopen(url, timeout=10) as r:
        return r.status, dict(r.headers), r.read()


def test_plain_file_and_subdirectory(server):
    status, headers, body = get(server.url("a.bin"))
    assert (status, headers["Content-Length"], body) == (200, "10240", DATA)
    assert get(server.url("sub/b.txt"))[2] == b"b"


def test_truncate_and_corrupt(server):
    _s, headers, body = get(server.url("a.bin", truncate=100))
    assert headers["Content-Length"] == "100" and body == DATA[:100]
    body = get(server.url("a.bin", corrupt=7))[2]
    assert body[7] == DATA[7] ^ 1 and body[:7] + body[8:] == DATA[:7] + DATA[8:]
    assert get(server.url("a.bin", corrupt=-1))[2][-1] == DATA[-1] ^ 1


def test_chunked_and_no_length(server):
    _s, headers, body = get(server.url("a.bin", chunked=1, chunk=333))
    assert headers["Transfer-Encoding"] == "chunked" and body == DATA
    _s, headers, body = get(server.url("a.bin", nolength=1))
    assert "Content-Length" not in headers and body == DATA


def test_drop_closes_early_under_a_full_content_length(server):
    with pytest.raises(http.client.IncompleteRead) as e:
        get(server.url("a.bin", drop=1000))
    assert len(e.value.partial) == 1000


def test_redirect_chain_alternates_absolute_and_relative(server):
    host = server.base[len("http://") :].rstrip("/")
    seen = []
    path = "/a.bin?redirect=3&truncate=10"
    for _ in range(4):
        conn = http.client.HTTPConnection(host, timeout=10)
        conn.request("GET", path)
        r = conn.getresponse()
        if r.status != 302:
            assert r.read() == DATA[:10]
            break
        seen.append(r.headers["Location"])
        path = r.headers["Location"].replace(server.base.rstrip("/"), "")
        conn.close()
    assert len(seen) == 3
    assert seen[0].startswith("http://") and not seen[1].startswith("http://")


def test_redirect_to_another_url(server):
    conn = http.client.HTTPConnection(server.base[len("http://") :].rstrip("/"), timeout=10)
    conn.request("GET", "/a.bin?to=https://127.0.0.1:1/x.bin")
    r = conn.getresponse()
    assert (r.status, r.headers["Location"]) == (302, "https://127.0.0.1:1/x.bin")
    conn.close()


def test_stall_and_rate(server):
    t = time.monotonic()
    assert get(server.url("a.bin", stall=5000, stall_s=0.3))[2] == DATA
    assert time.monotonic() - t >= 0.3
    t = time.monotonic()
    assert get(server.url("a.bin", rate=51200))[2] == DATA  # 10 KiB at 50 KiB/s
    assert time.monotonic() - t >= 0.15


def test_missing_file_and_bad_offsets(server):
    for url, code in ((server.url("nope.bin"), 404), (server.url("../etc/passwd"), 404)):
        with pytest.raises(urllib.error.HTTPError) as e:
            get(url)
        assert e.value.code == code
    with pytest.raises(urllib.error.HTTPError) as e:
        get(server.url("a.bin", corrupt=10240))
    assert e.value.code == 416


def test_refuses_a_non_loopback_address(tmp_path):
    out = subprocess.run(
        [sys.executable, str(SERVER), str(tmp_path), "--host", "0.0.0.0"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert out.returncode == 2 and "loopback" in out.stderr


def test_https_serves_with_the_given_certificate(tmp_path):
    """--https CERT --key KEY: a client trusting the test CA gets the file, and redirects stay
    on https://; a client that does not trust it fails the handshake, and the server goes on."""
    import ssl

    from helpers.ota import LocalCA

    ca = LocalCA(tmp_path / "pki")
    (tmp_path / "a.bin").write_bytes(DATA)
    srv = OtaServer(tmp_path, tls=ca.issue("srv")[:2])
    try:
        assert srv.base.startswith("https://127.0.0.1:")
        with pytest.raises(urllib.error.URLError):
            urllib.request.urlopen(srv.url("a.bin"), timeout=10)
        ctx = ssl.create_default_context(cafile=str(ca.pem))
        with urllib.request.urlopen(srv.url("a.bin", redirect=1), timeout=10, context=ctx) as r:
            assert r.read() == DATA and r.url.startswith("https://")
    finally:
        srv.stop()
