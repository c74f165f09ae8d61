# A simulated device running an application the way a board's main.py does (run by MicroPython,
# not by pytest): the real wifimgr package on the simulated radio and the real clock, its portal
# on 127.0.0.1 all the time, and `wifimgr.run("app")`, the one line of main.py, with the test's
# app.py in the device filesystem directory. argv as portal_device.py's: scenario file, device
# filesystem directory, HTTP port.

import os
import sys

from wifimgr import sim


def main():
    scenario_path, state, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
    scenario = sim.load_scenario(scenario_path)
    sim.install(scenario, sim.RealClock())

    import wifimgr
    from wifimgr.config import Config
    from wifimgr.store import Store

    os.chdir(state)
    sys.path.insert(0, "")  # the device filesystem's root, where main.py's app.py is
    if scenario.known_networks and "wifimgr.json" not in os.listdir():
        cfg = Config("wifimgr.json", Store.for_config("wifimgr.json"))
        for net in scenario.known_networks:
            cfg.add_network(net["ssid"], net.get("password", ""), first=False, save=False)
        cfg.save()
    wifimgr.start(config_path="wifimgr.json", http=("127.0.0.1", port), dns=None, serve="always")
    print("device: started")
    wifimgr.run("app")


main()
