# Runs one of examples/ on a simulated device, run by MicroPython (not by pytest): the real
# wifimgr package on the simulated radio and the real clock. argv: scenario file, device
# filesystem directory, example file, and a JSON object of configuration keys for it. The
# scenario's known networks are provisioned first; the portal and DNS are not served.

import json
import os
import sys

from wifimgr import sim


def main():
    scenario_path, state, example, settings = sys.argv[1:5]
    scenario = sim.load_scenario(scenario_path)
    sim.install(scenario, sim.RealClock())

    from wifimgr.config import Config
    from wifimgr.store import Store

    os.chdir(state)
    cfg = Config("wifimgr.json", Store.for_config("wifimgr.json"))
    for net in scenario.known_networks:
        cfg.add_network(net["ssid"], net.get("password", ""), first=False, save=False)
    for key, value in json.loads(settings).items():
        cfg.set(key, value, save=False)
    cfg.save()
    head, name = example.rsplit("/", 1)
    sys.path.insert(0, head)
    module = __import__(name[: -len(".py")])
    import wifimgr

    # What the test reads beside the example's own lines: when the WiFi went down and came up.
    wifimgr.on("connected", lambda s: print("device: wifi up"))
    wifimgr.on("disconnected", lambda s: print("device: wifi down (%s)" % s["reason"]))
    print("device: started")
    module.main(config_path="wifimgr.json", http=None, dns=None, serve="never")


main()
