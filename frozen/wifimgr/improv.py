# Improv Wi-Fi over serial: the browser that flashed the board (ESP Web Tools) sends the WiFi
# name and password down the USB serial line, and gets the device's URL back.
#
# Written from the published serial protocol (improv-wifi.com/serial). A packet is
#     "IMPROV" | version 1 | type | length | data[length] | checksum
# where the checksum is the sum of every byte before it, modulo 256. Types: 1 current state
# (data: 2 ready, 3 provisioning, 4 provisioned), 2 error state (0 none, 1 invalid RPC packet,
# 2 unknown RPC command, 3 unable to connect, 0xff unknown), 3 RPC command (data: command,
# length, payload), 4 RPC result (data: command, length, then strings each prefixed with its
# length). Commands: 1 send WiFi settings (ssid length, ssid, password length, password),
# 2 request current state, 3 request device info, 4 request scanned networks (one result per
# network, then an empty one).
#
# The device answers on its REPL stream while wifimgr runs. That stream is also the keyboard
# interrupt's: the esp32 port's UART and USB drivers drop 0x03 as they receive it (uart.c,
# usb_serial_jtag.c: `rbuf[i] == mp_interrupt_char`), before any Python code runs, and an RPC
# packet carries 0x03 as its type byte right after the header. So the reader turns that off
# (micropython.kbd_intr(-1)) for as long as it runs and does the interrupt itself: a Ctrl-C
# (0x03) or Ctrl-A (0x01, raw REPL) outside a packet raises KeyboardInterrupt out of
# wifimgr.run(), with the keyboard interrupt restored first. It reads one byte at a time outside
# packets, so whatever follows the Ctrl-C (mpremote's "\r\x01") stays for the REPL, and one at a
# time inside them too: the console is a blocking stream, and read(n) would stop the whole loop
# until n bytes came. A packet must arrive whole within PACKET_MS of its header; a bad checksum
# gets no answer.
#
# On the unix port the terminal is put in raw mode (termios.setraw) while it runs, as a UART is:
# no line editing, no SIGINT from the terminal.
#
# Credentials are tried through the Manager (try_credentials, trial_outcome,
# finish_provisioning) as the portal tries them: with the access point up, stored encrypted
# only once they work.
#
# Configuration key "improv": true (on), false (off), unset: on on an ESP32 only
# (policy.wants_improv(); wifimgr.start() imports this module only then).

import sys

from micropython import const

from wifimgr import __version__
from wifimgr import _log as log

HEADER = b"IMPROV"
VERSION = const(1)

CURRENT_STATE = const(1)
ERROR_STATE = const(2)
RPC = const(3)
RPC_RESULT = const(4)

READY = const(2)
PROVISIONING = const(3)
PROVISIONED = const(4)

NO_ERROR = const(0)
INVALID_RPC = const(1)
UNKNOWN_RPC = const(2)
UNABLE_TO_CONNECT = const(3)

SEND_WIFI = const(1)
GET_STATE = const(2)
GET_INFO = const(3)
GET_NETWORKS = const(4)

PACKET_MS = const(1000)  # from the header to the checksum
TRIAL_MS = const(60000)  # longest wait for a trial's outcome
SCAN_MS = const(5000)  # longest wait for a scan when none was made yet
_CTRL_A = const(1)
_CTRL_C = const(3)


def packet(kind, data):
    """The bytes of one packet of type `kind` (with the newline the SDK also ends with)."""
    out = bytearray(HEADER)
    out.append(VERSION)
    out.append(kind)
    out.append(len(data))
    out.extend(data)
    out.append(sum(out) & 0xFF)
    out.append(10)
    return bytes(out)


def strings(command, items):
    """An RPC result's data: the command, the length, then each string prefixed by its own."""
    body = bytearray()
    for s in items:
        b = s.encode() if isinstance(s, str) else bytes(s)
        b = b[:255]
        body.append(len(b))
        body.extend(b)
    if len(body) > 253:
        raise ValueError("RPC result too long")
    return bytes([command, len(body)]) + body


def parse_rpc(data):
    """(command, payload) of an RPC packet's data; ValueError if its lengths disagree."""
    if len(data) < 2 or data[1] != len(data) - 2:
        raise ValueError("RPC length %s for %d bytes" % (data[1] if data else None, len(data)))
    return data[0], data[2:]


def parse_wifi(payload):
    """(ssid, password) of a send-WiFi-settings payload; ValueError unless well formed."""
    if not payload:
        raise ValueError("empty WiFi settings")
    n = payload[0]
    if 1 + n >= len(payload):
        raise ValueError("SSID length %d past the end" % n)
    m = payload[1 + n]
    if 2 + n + m != len(payload):
        raise ValueError("password length %d does not fit the packet" % m)
    try:
        return payload[1 : 1 + n].decode(), payload[2 + n :].decode()
    except UnicodeError:
        raise ValueError("SSID or password is not UTF-8")


def chip_family():
    # "ESP32", "ESP32-S3", ... as ESP Web Tools names them; the platform elsewhere.
    machine = getattr(sys.implementation, "_machine", "")
    i = machine.rfind("ESP32")
    if sys.platform != "esp32" or i < 0:
        return sys.platform.upper()
    chip = machine[i:].split()[0]
    return chip if chip == "ESP32" else "ESP32-" + chip[5:]


class Improv:
    """Improv(manager, rx, tx): answers the packets read from the stream `rx` (bytes) on the
    stream `tx` while `run()` runs on asyncio."""

    def __init__(self, manager, rx, tx):
        self.manager = manager
        self.rx = rx
        self.tx = tx
        self.state = READY
        self.busy = False  # a trial is running

    def send(self, kind, data):
        self.tx.write(packet(kind, data))

    def send_state(self, state):
        self.state = state
        self.send(CURRENT_STATE, bytes([state]))

    def send_error(self, error):
        self.send(ERROR_STATE, bytes([error]))

    def send_result(self, command, items):
        # ValueError, and nothing sent, when the strings do not fit one packet.
        self.send(RPC_RESULT, strings(command, items))

    def current(self):
        if self.busy:
            return PROVISIONING
        return PROVISIONED if self.manager.status()["state"] == "connected" else READY

    def urls(self):
        s = self.manager.status()
        out = ["http://%s.local/" % s["hostname"]]
        if s.get("ip"):
            out.append("http://%s/" % s["ip"])
        return out

    # --- reading -----------------------------------------------------------------------------

    async def run(self):
        import asyncio

        reader = asyncio.StreamReader(self.rx)
        matched = 0
        while True:
            b = await reader.read(1)
            if not b:
                log.info("improv: the console closed")
                return
            b = b[0]
            if b in (_CTRL_C, _CTRL_A):
                raise KeyboardInterrupt
            if b == HEADER[matched]:
                matched += 1
            else:
                matched = 1 if b == HEADER[0] else 0
            if matched < len(HEADER):
                continue
            matched = 0
            try:
                frame = await asyncio.wait_for_ms(self._rest(reader), PACKET_MS)
            except asyncio.TimeoutError:  # noqa: UP041 (MicroPython has no builtin)
                log.debug("improv: truncated packet dropped")
                continue
            if frame is not None:
                # a task of its own: the reader goes on reading while a scan or a trial runs,
                # so a Ctrl-C then still interrupts
                asyncio.create_task(self.handle(*frame))

    async def _rest(self, reader):
        # version, type, length, data, checksum after the header; None if it is not ours.
        # Byte by byte: a read of more than one byte blocks the whole loop until it has them
        # all (the stream is blocking; poll only says one byte is there).
        head = bytearray()
        while len(head) < 3 or len(head) < 4 + head[2]:
            head.append((await reader.read(1))[0])
        check = head[-1]
        if (sum(HEADER) + sum(head) - check) & 0xFF != check:
            log.debug("improv: packet with a bad checksum dropped")
            return None
        if head[0] != VERSION:
            log.debug("improv: version %d packet dropped", head[0])
            return None
        return head[1], bytes(head[3:-1])

    # --- answering ---------------------------------------------------------------------------

    async def handle(self, kind, data):
        if kind != RPC:
            return  # states, errors and results are the client's to receive
        try:
            command, payload = parse_rpc(data)
        except ValueError as e:
            log.warning("improv: invalid RPC packet: %s", e)
            self.send_error(INVALID_RPC)
            return
        if command == GET_STATE:
            self.send_error(NO_ERROR)
            self.send_state(self.current())
            if self.state == PROVISIONED:
                self.send_result(GET_STATE, self.urls())
        elif command == GET_INFO:
            self.send_error(NO_ERROR)
            impl = sys.implementation
            info = ["wifimgr", __version__, chip_family(), self.manager.device_name]
            info += [impl.name, ".".join(str(v) for v in impl.version[:3])]
            self.send_result(GET_INFO, info)
        elif command == GET_NETWORKS:
            self.send_error(NO_ERROR)
            await self.networks()
        elif command == SEND_WIFI:
            await self.provision(payload)
        else:
            log.warning("improv: unknown RPC command %d", command)
            self.send_error(UNKNOWN_RPC)

    async def networks(self):
        m = self.manager
        if not m.scan_results():
            m.rescan()
            await m.wait_for(lambda s: s["state"] != "scanning" and m.scan_results(), SCAN_MS)
        records = m.scan_results()
        best = {}
        for r in records:
            if r["ssid"] and not r["hidden"]:
                seen = best.get(r["ssid"])
                if seen is None or r["rssi"] > seen["rssi"]:
                    best[r["ssid"]] = r
        for r in sorted(best.values(), key=lambda r: -r["rssi"]):
            try:
                self.send_result(
                    GET_NETWORKS, [r["ssid"], str(r["rssi"]), "YES" if r["secure"] else "NO"]
                )
            except ValueError:
                continue  # an SSID too long for a packet
        self.send_result(GET_NETWORKS, [])

    async def provision(self, payload):
        try:
            ssid, password = parse_wifi(payload)
        except ValueError as e:
            log.warning("improv: invalid WiFi settings: %s", e)
            self.send_error(INVALID_RPC)
            return
        if self.busy:
            log.warning("improv: WiFi settings for %r while a trial runs: refused", ssid)
            self.send_error(UNABLE_TO_CONNECT)
            return
        m = self.manager
        try:
            m.try_credentials(ssid, password)
        except (ValueError, OSError) as e:
            msg = str(e).replace(password, "***") if password else str(e)
            log.warning("improv: %r not tried: %s", ssid, msg)
            self.send_error(UNABLE_TO_CONNECT)
            return
        self.busy = True
        self.send_error(NO_ERROR)
        self.send_state(PROVISIONING)
        try:
            outcome = await m.trial_outcome(ssid, TRIAL_MS)
        finally:
            self.busy = False
        if outcome is not None and outcome["state"] == "connected":
            log.info("improv: %r joined, provisioned", ssid)
            m.finish_provisioning()
            self.send_state(PROVISIONED)
            self.send_result(SEND_WIFI, self.urls())
            return
        reason = (
            outcome["reason"] if outcome is not None else "no outcome in %d s" % (TRIAL_MS // 1000)
        )
        log.warning("improv: %r not joined: %s", ssid, reason)
        self.send_error(UNABLE_TO_CONNECT)
        self.send_state(self.current())


_task = None  # the reader started by start()


class _Console:
    # The REPL stream taken over while the reader runs: raw terminal (unix), no keyboard
    # interrupt; given back as it was by restore(), however the reader ends.
    def __init__(self):
        self.saved = None

    def take(self):
        import micropython

        if sys.platform != "esp32":
            try:
                import termios

                self.saved = termios.tcgetattr(0)
                termios.setraw(0)
            except (ImportError, OSError):
                self.saved = None  # not a terminal (a pipe): bytes pass as they are
        micropython.kbd_intr(-1)

    def restore(self):
        import micropython

        micropython.kbd_intr(_CTRL_C)
        if self.saved is not None:
            import termios

            termios.tcsetattr(0, termios.TCSANOW, self.saved)
            self.saved = None


def start(manager):
    """Starts answering Improv packets on the REPL stream (wifimgr.start() does, when
    policy.wants_improv() says the configuration wants it); call it inside or before a running
    loop. The console is taken over only while the loop runs the
    reader, so a REPL used between start() and run() keeps its Ctrl-C. Returns the task or
    None."""
    global _task
    import asyncio

    if _task is not None:
        return None
    improv = Improv(
        manager, getattr(sys.stdin, "buffer", sys.stdin), getattr(sys.stdout, "buffer", sys.stdout)
    )

    async def main():
        global _task
        console = _Console()
        console.take()
        log.info("improv: answering on the serial console")
        try:
            await improv.run()
        finally:
            _task = None
            console.restore()

    _task = asyncio.create_task(main())
    return _task
