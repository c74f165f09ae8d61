// The link task's radio of this build, chosen in one place: wifimgr_build.h, which the build
// file generates (micropython.cmake for the esp32 port, micropython.mk for unix), defines
// exactly one of WIFIMGR_RADIO_ESP32 (port/radio_esp32.c, ESP-IDF's WiFi driver) and
// WIFIMGR_RADIO_SIM (port/radio_sim.c, a wifimgr.sim scenario), and WIFIMGR_VERSION.
//
// Not a -D, not ESP_PLATFORM: the esp32 port's qstr pass (py/mkrules.cmake, makeqstrdefs.py pp)
// gets the main component's COMPILE_DEFINITIONS but not this module's INTERFACE ones, and the
// executable's second compile of the INTERFACE sources (esp32_common.cmake:
// target_link_libraries(${MICROPY_TARGET} usermod)) has no ESP_PLATFORM, which ESP-IDF sets
// per component directory. The module's include directories reach all three (they become the
// main component's INCLUDE_DIRS through MICROPY_INC_USERMOD, py/usermod.cmake), so the header
// does too.
#ifndef WM_RADIO_H
#define WM_RADIO_H

#include "wifimgr_build.h"

#if defined(WIFIMGR_RADIO_ESP32) + defined(WIFIMGR_RADIO_SIM) != 1
#error "wifimgr_build.h must define one of WIFIMGR_RADIO_ESP32, WIFIMGR_RADIO_SIM"
#endif

#if defined(WIFIMGR_RADIO_ESP32)
#define WIFIMGR_LINK_SIM (0)
#include "port/radio_esp32.h"
#else
#define WIFIMGR_LINK_SIM (1)
#include "port/radio_sim.h"
#endif

#endif // WM_RADIO_H
