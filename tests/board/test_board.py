"""On a flashed board (pytest-embedded `dut`): boot, import, join, DNS, portal, OTA, rollback.

Every step sends MicroPython code to the REPL and waits for what it prints.
"""

import pytest

PROMPT = ">>> "


def repl(dut, code, expect, timeout=30):
    """Runs one line of Python on the board's REPL and waits for `expect` in its output."""
    dut.write(code + "\r\n")
    return dut.expect(expect, timeout=timeout)


@pytest.fixture
def board(dut):
    dut.write("\x03\x02")  # Ctrl-C, Ctrl-B: a friendly REPL whatever was running
    dut.expect(PROMPT, timeout=30)
    return dut


@pytest.fixture
def network(request):
    ssid = request.config.getoption("wifi_ssid")
    if not ssid:
        pytest.skip("no --wifi-ssid given: the join, DNS, portal and OTA steps need a network")
    return ssid, request.config.getoption("wifi_password")


def test_boots_and_names_the_board(board):
    repl(board, "import sys; print('M=' + sys.implementation._machine)", "M=wifimgr ")


def test_imports_wifimgr_with_the_native_backend(board):
    repl(board, "import wifimgr; print('B=' + wifimgr.backend)", "B=native")


def test_joins_the_test_network(board, network):
    ssid, password = network
    repl(
        board, "import network, time; sta = network.WLAN(network.STA_IF); sta.active(True)", PROMPT
    )
    repl(board, "sta.connect(%r, %r)" % (ssid, password), PROMPT)
    repl(
        board,
        "t = time.ticks_ms()\r\nwhile not sta.isconnected() and time.ticks_diff(time.ticks_ms(), "
        "t) < 20000: time.sleep_ms(100)\r\n\r\nprint('IP=%s' % sta.ifconfig()[0])",
        "IP=",
    )


def test_dns_on_the_ap_answers_with_the_portal_address(board):
    code = (
        "import _wifimgr, socket; s = _wifimgr.DNSServer('192.168.4.1', port=5353); s.start(); "
        "u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); "
        "u.sendto(b'\\x12\\x34\\x01\\x00\\x00\\x01\\x00\\x00\\x00\\x00\\x00\\x00"
        "\\x07example\\x03com\\x00\\x00\\x01\\x00\\x01', ('127.0.0.1', 5353)); "
        "r = u.recv(512); print('DNS=%d.%d.%d.%d' % tuple(r[-4:])); s.stop()"
    )
    repl(board, code, "DNS=192.168.4.1")


def test_portal_page_is_served(board):
    code = (
        "import asyncio, socket, wifimgr\r\n"
        "wifimgr.start()\r\n"
        "asyncio.get_event_loop().run_until_complete(asyncio.sleep(2))\r\n"
        "c = socket.socket(); c.connect(('127.0.0.1', 80)); "
        "c.send(b'GET / HTTP/1.0\\r\\n\\r\\n'); print('H=' + c.recv(64).decode().split()[1])"
    )
    repl(board, code, "H=200", timeout=60)


def test_ota_to_the_same_version_then_rollback(board, network, request):
    url = request.config.getoption("ota_url")
    if not url:
        pytest.skip("no --ota-url: serve firmware/dist/<board>/ and pass its manifest.json")
    # force: the manifest is of the running version, which update_from_manifest would skip.
    code = "import wifimgr.ota as ota; ota.update_from_manifest(%r, force=True)" % url
    repl(board, code, "rst:", 300)
    board.expect(PROMPT, timeout=60)
    # The new image is pending verification: without marking it valid a reset rolls back.
    repl(board, "import esp32; print('P=' + str(esp32.Partition(esp32.Partition.RUNNING)))", "P=")
    repl(board, "import machine; machine.reset()", "rst:", 30)
    board.expect(PROMPT, timeout=60)
    repl(
        board,
        "import esp32; print('R=' + esp32.Partition(esp32.Partition.RUNNING).info()[4])",
        "R=ota_",
    )
