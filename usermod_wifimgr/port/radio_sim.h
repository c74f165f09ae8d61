// A simulated radio for unix builds: the access points of a wifimgr.sim scenario (see
// tools/sim/README.md; the bindings read the scenario parsed by sim.py and fill these structs)
// with the timings of frozen/wifimgr/sim.py, reported as events to a link task.
#ifndef WM_RADIO_SIM_H
#define WM_RADIO_SIM_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "port/link_task.h"

#ifndef WM_RADIO_SIM_MAX_APS
#define WM_RADIO_SIM_MAX_APS (16)
#endif

// The timings of sim.py, from ESP-IDF's defaults on an ESP32.
#define WM_RADIO_SIM_CHANNELS (13)
#define WM_RADIO_SIM_CHANNEL_MS (150) // 120 ms active dwell + 30 ms to switch
#define WM_RADIO_SIM_PROBE_MS (30)
// A connect by name: ESP-IDF's fast scan walks from channel 1 and stops on the first channel
// that answers, each channel walked costing the dwell the C Link sets for it
// (radio_esp32.c: connect_dwell(), 50 ms) + 30 ms to switch.
#define WM_RADIO_SIM_CONNECT_CHANNEL_MS (80)
#define WM_RADIO_SIM_HANDSHAKE_FAIL_MS (1200)
#define WM_RADIO_SIM_BEACON_TIMEOUT_MS (6000)
// ESP-IDF's DHCP client repeats its DISCOVER after 500 ms, then 1, 2 and 4 s, then every 4 s
// (components/lwip/port/include/lwipopts.h: DHCP_REQUEST_BACKOFF_SEQUENCE).
#define WM_RADIO_SIM_DHCP_RETRY_FIRST_MS (500)
#define WM_RADIO_SIM_DHCP_RETRY_MAX_MS (4000)
// The times off the air and without DHCP of all the access points together (sim.py's
// AccessPoint.away and .dhcp_off).
#ifndef WM_RADIO_SIM_MAX_WINDOWS
#define WM_RADIO_SIM_MAX_WINDOWS (1024)
#endif
// Connect calls kept for tests and benchmarks (the first ones).
#ifndef WM_RADIO_SIM_LOG
#define WM_RADIO_SIM_LOG (32)
#endif

typedef struct {
    uint32_t at;
    uint8_t ssid[WM_LINK_SSID_MAX];
    uint8_t ssid_len;
    uint8_t has_bssid;
    uint8_t bssid[6];
    uint8_t channel;
    char password[WM_LINK_PASSWORD_BUF];
} wm_radio_sim_call_t;

typedef struct {
    uint8_t ssid[WM_LINK_SSID_MAX];
    uint8_t ssid_len;
    uint8_t bssid[6];
    uint8_t channel;
    int8_t rssi;
    uint8_t authmode; // 0: open
    char password[WM_LINK_PASSWORD_BUF];
    bool hidden;
    bool dhcp;
    uint32_t assoc_ms;
    uint32_t dhcp_ms;
    uint8_t ip[4];
    // Off the air in windows[away, away + away_n), without DHCP in windows[dhcp_off, +n).
    uint16_t away, away_n;
    uint16_t dhcp_off, dhcp_off_n;
    int64_t drop_after_ms; // -1: never
} wm_radio_sim_ap_t;

// From `from` (ms) to `to`, -1: never.
typedef struct {
    int64_t from;
    int64_t to;
} wm_radio_sim_window_t;

// How a connect ended, as the station's WLAN.status() tells it (wifimgr.sim maps them).
enum {
    WM_RADIO_SIM_END_NONE,
    WM_RADIO_SIM_END_NO_AP_FOUND,
    WM_RADIO_SIM_END_WRONG_PASSWORD,
    WM_RADIO_SIM_END_BEACON_TIMEOUT, // the access point vanished
    WM_RADIO_SIM_END_AUTH_EXPIRE, // the access point dropped the station (drop_after_s)
};

// What the radio's station and access point are doing, for the owner to show (see
// port/radio_sim_mp.c): every time on the task's clock, -1 for never.
typedef struct {
    uint32_t gen; // connect, disconnect and AP calls so far: a new value, something to show
    bool joined; // a connect is the station's last call (no disconnect since)
    int ap; // the access point of that connect (index into aps), -1: none found
    int64_t associated_at;
    int64_t got_ip_at;
    int64_t ended_at;
    uint8_t end; // WM_RADIO_SIM_END_
    bool ap_on;
    bool has_ap_config;
    wm_link_ap_config_t ap_config;
} wm_radio_sim_view_t;

typedef struct {
    wm_radio_sim_ap_t aps[WM_RADIO_SIM_MAX_APS];
    size_t ap_count;
    wm_radio_sim_window_t windows[WM_RADIO_SIM_MAX_WINDOWS];
    size_t window_count;
    wm_link_task_t *task;
    // The scan in progress.
    bool scanning;
    int64_t scan_start;
    // The connect in progress: when each of its events is due (-1: never).
    bool attempt;
    uint8_t ssid[WM_LINK_SSID_MAX];
    uint8_t ssid_len;
    int ap; // index into aps, -1: none found
    int64_t associated_at;
    int64_t got_ip_at;
    int64_t ended_at;
    uint8_t end_reason; // WM_LINK_REASON_
    uint8_t end; // WM_RADIO_SIM_END_
    bool reported_assoc;
    bool reported_ip;
    bool ap_on;
    bool has_ap_config;
    wm_link_ap_config_t ap_config;
    bool joined;
    uint32_t gen;
    uint32_t shown_gen; // port/radio_sim_mp.c: the gen last shown to wifimgr.sim
    pthread_mutex_t lock; // what wm_radio_sim_view() reads, written by the task's thread
    uint32_t scans; // full scans run
    uint32_t connects; // connect calls
    wm_radio_sim_call_t log[WM_RADIO_SIM_LOG];
} wm_radio_sim_t;

extern const wm_radio_ops_t wm_radio_sim_ops;

// An empty radio reporting to `task` (set before the task starts).
void wm_radio_sim_init(wm_radio_sim_t *sim, wm_link_task_t *task);

// Frees what init made; the task must be stopped.
void wm_radio_sim_deinit(wm_radio_sim_t *sim);

// A consistent copy of what the station and the access point are doing; any thread.
void wm_radio_sim_view(wm_radio_sim_t *sim, wm_radio_sim_view_t *out);

// Adds a window for the access point to be added next; its index, or -1 when full.
int wm_radio_sim_add_window(wm_radio_sim_t *sim, int64_t from, int64_t to);

// Adds an access point; false when full.
bool wm_radio_sim_add(wm_radio_sim_t *sim, const wm_radio_sim_ap_t *ap);

#endif // WM_RADIO_SIM_H
