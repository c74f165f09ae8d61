# The simulated device behind `make sim`, run by MicroPython: argv is the scenario file and the
# directory that stands for the device's filesystem. The radio is simulated; everything else is
# the real wifimgr package. WIFIMGR_SIM_APP names an application module in that directory,
# run as a board's main.py runs it: wifimgr.run("app").

import os
import sys

from wifimgr import sim


def main():
    scenario_path, state = sys.argv[1], sys.argv[2]
    try:
        scenario = sim.load_scenario(scenario_path)
    except sim.ScenarioError as e:
        print("sim: %s" % e)
        sys.exit(2)
    sim.install(scenario)
    if scenario.description:
        print(scenario.description)

    import wifimgr
    from wifimgr import partition

    os.chdir(state)
    try:  # micropython-lib logging, where the firmware has it, prints what reaches the root
        import logging

        logging.basicConfig(level=logging.INFO)
    except ImportError:
        pass
    wifimgr.log_level(20)  # what a serial console would show: INFO and up
    partition.setup("flash")  # two app slots, so updates and rollbacks run as on a board
    if scenario.known_networks and "wifimgr.json" not in os.listdir():
        seed(scenario.known_networks)
    wifimgr.start(
        config_path="wifimgr.json",
        http=("127.0.0.1", int(os.getenv("WIFIMGR_HTTP_PORT") or 8080)),
        dns=("127.0.0.1", int(os.getenv("WIFIMGR_DNS_PORT") or 5353)),
        serve="always",
        ota_guard=True,  # after an update: keep the new image once back on WiFi, else roll back
    )
    app = os.getenv("WIFIMGR_SIM_APP")
    if app:
        sys.path.insert(0, "")  # the filesystem's root, on sys.path as on a board
    wifimgr.run(app or None)


def seed(known):
    # First run of a scenario with known networks: provision them as a user would have.
    from wifimgr.config import Config
    from wifimgr.store import Store

    cfg = Config("wifimgr.json", Store.for_config("wifimgr.json"))
    for net in known:
        cfg.add_network(net["ssid"], net.get("password", ""), first=False, save=False)
    cfg.save()


main()
