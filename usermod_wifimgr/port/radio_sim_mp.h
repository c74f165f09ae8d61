// The simulated radio of port/radio_sim.c on MicroPython's unix port: loaded with the scenario
// of the wifimgr.sim radio behind the station, and shown through that radio's network.WLAN, so
// that the application sees the one radio the C Link drives. Built by micropython.mk only.
#ifndef WM_RADIO_SIM_MP_H
#define WM_RADIO_SIM_MP_H

#include "py/obj.h"

#include "port/radio_sim.h"

// Fills `sim` with the access points of the wifimgr.sim scenario behind `sta` (ValueError if
// `sta` is not a wifimgr.sim WLAN or the scenario does not fit); returns that radio's clock.
mp_obj_t wm_radio_sim_mp_load(wm_radio_sim_t *sim, mp_obj_t sta);

// In the VM: shows what the C radio's station and access point do now through the wifimgr.sim
// radio behind `sta` (Radio.follow), when something changed since the last call.
void wm_radio_sim_mp_show(wm_radio_sim_t *sim, mp_obj_t sta);

// The first connect calls that reached the radio: [[t, ssid, key, bssid, channel], ...].
mp_obj_t wm_radio_sim_mp_connects(const wm_radio_sim_t *sim);

#endif // WM_RADIO_SIM_MP_H
