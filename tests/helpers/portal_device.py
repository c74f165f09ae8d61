# A simulated device for the portal tests, run by MicroPython (not by pytest): the real wifimgr
# package (Manager, link, portal) on the simulated radio and the real clock, serving its portal
# on 127.0.0.1 all the time. argv: scenario file, device filesystem directory, HTTP port, and
# optionally the address to serve on, the DNS port (0: no DNS) and when to serve ("always",
# "ap") for the phone's-view test.
# The application data carries strings that must be escaped wherever they are shown, and the
# "connected" hook returns a result for the page to show.

import os
import sys

from wifimgr import sim


def main():
    scenario_path, state, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
    host = sys.argv[4] if len(sys.argv) > 4 else "127.0.0.1"
    dns_port = int(sys.argv[5]) if len(sys.argv) > 5 else 0
    serve = sys.argv[6] if len(sys.argv) > 6 else "always"
    scenario = sim.load_scenario(scenario_path)
    sim.install(scenario, sim.RealClock())

    import wifimgr
    from wifimgr.config import Config
    from wifimgr.store import Store

    os.chdir(state)
    if scenario.known_networks and "wifimgr.json" not in os.listdir():
        cfg = Config("wifimgr.json", Store.for_config("wifimgr.json"))
        for net in scenario.known_networks:
            cfg.add_network(net["ssid"], net.get("password", ""), first=False, save=False)
        cfg.save()
    wifimgr.data["temperature_c"] = 21.5
    wifimgr.data["<b>label</b>"] = '"quoted" & <i>markup</i> \u2615'
    wifimgr.on("connected", lambda status: "mqtt topic home/%s" % status["hostname"])
    wifimgr.start(
        config_path="wifimgr.json",
        http=(host, port),
        dns=(host, dns_port) if dns_port else None,
        serve=serve,
    )
    print("device: started")
    wifimgr.run()


main()
