"""An MQTT sensor on wifimgr: publishes wifimgr.data to a broker every few seconds, and
reconnects to the broker after every WiFi outage.

Install (stock MicroPython): `mpremote mip install github:<owner>/<repo>@mip umqtt.simple`,
or add require("umqtt.simple") to your firmware's manifest. Copy this file to the device as
main.py. Settings are your own keys in /wifimgr.json (wifimgr keeps them): `mqtt_broker`
(required), `mqtt_port` (1883), `mqtt_topic` (default sensors/<hostname>), `mqtt_every_s` (5).

How it behaves: the `connected` event starts a broker session; `disconnected` ends it (the TCP
connection died with the WiFi). Each reading is published with QoS 1 and a sequence number and
counts as sent only once the broker acknowledged it; one that was not is sent first in the next
session (at least once, as QoS 1 is: a subscriber drops a repeated `seq`). Readings taken
while the WiFi is down are not published (wifimgr.data still shows them on the portal). A
publish waits for the broker's PUBACK (up to 5 s), blocking the loop that long at most.
"""

import asyncio
import json
import time

import wifimgr
from umqtt.simple import MQTTClient
from wifimgr import config

TIMEOUT_S = 5  # for the broker's answers; then the session ends and the next one retries

_session = None  # the broker session task while the WiFi is up
_pending = None  # (topic, payload) not yet acknowledged by the broker
_seq = 0


def read_sensor():
    # Stand-in for your sensor: uptime and a counter, into wifimgr.data (shown on the portal).
    wifimgr.data["uptime_s"] = time.ticks_ms() // 1000
    wifimgr.data["readings"] = wifimgr.data.get("readings", 0) + 1


def topic(status):
    return config.get("mqtt_topic") or "sensors/" + status["hostname"]


async def session(status, up_ms):
    # Runs while the WiFi is up (cancelled by on_disconnected): connects, then publishes a
    # reading every mqtt_every_s; a broker that fails is tried again after that long.
    global _pending, _seq
    broker, port = config.get("mqtt_broker"), config.get("mqtt_port", 1883)
    every = config.get("mqtt_every_s", 5)
    while True:
        client = MQTTClient(status["hostname"], broker, port, keepalive=60)
        try:
            client.connect(timeout=TIMEOUT_S)
            ms = time.ticks_diff(time.ticks_ms(), up_ms)
            print("mqtt: connected to %s:%d, %d ms after WiFi" % (broker, port, ms))
            while True:
                if _pending is None:
                    read_sensor()
                    _seq += 1
                    payload = json.dumps({"seq": _seq, "data": wifimgr.data})
                    _pending = (topic(status), payload)
                client.publish(_pending[0], _pending[1], qos=1)  # returns once acknowledged
                print("mqtt: published", _pending[1])
                _pending = None
                await asyncio.sleep(every)
        except OSError as e:  # the broker or the path to it went away
            print("mqtt: %s:%d: %r; again in %d s" % (broker, port, e, every))
        finally:
            if client.sock is not None:
                client.sock.close()  # no DISCONNECT: the WiFi may be gone already
        await asyncio.sleep(every)


def on_connected(status):
    global _session
    if _session is None:
        _session = asyncio.create_task(session(status, time.ticks_ms()))
    return "MQTT topic: " + topic(status)  # the portal shows it after provisioning


def on_disconnected(status):
    global _session
    if _session is not None:
        _session.cancel()
        _session = None


def main(**start):
    """wifimgr.start(**start) with the sensor on its events, then the loop, forever."""
    wifimgr.on("connected", on_connected)
    wifimgr.on("disconnected", on_disconnected)
    wifimgr.start(**start)
    wifimgr.run()


if __name__ == "__main__":
    main()
