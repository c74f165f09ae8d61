# A simulated device for the Improv tests, run by MicroPython (not by pytest): the real wifimgr
# package on the simulated radio and the real clock, with "improv": true in its configuration,
# so wifimgr.start() answers Improv on stdin/stdout (the test's pseudo-terminal). The portal
# serves on 127.0.0.1 all the time, for the test to read the status. Logs go to stderr.
# argv: scenario file, device filesystem directory, HTTP port.

import json
import os
import sys

from wifimgr import sim


def main():
    scenario_path, state, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
    sim.install(sim.load_scenario(scenario_path), sim.RealClock())

    import wifimgr

    os.chdir(state)
    if "wifimgr.json" not in os.listdir():
        with open("wifimgr.json", "w") as f:
            json.dump({"schema": 3, "improv": True}, f)
    try:
        import logging  # frozen into the unix build: its log lines need a handler on stderr

        logging.basicConfig(level=logging.INFO)
    except ImportError:
        pass
    wifimgr.log_level(20)
    wifimgr.start(config_path="wifimgr.json", http=("127.0.0.1", port), dns=None, serve="always")
    print("device: started", file=sys.stderr)
    wifimgr.run()


main()
