// The link task: runs core/link's reducer on an event queue and timers and performs its actions
// through a radio (port/radio_sim.c on unix, port/radio_esp32.c on ESP-IDF).
//
// Two ways to run it:
// - threaded (the device and `make sim`): a pthread waits for radio events, commands and the
//   reducer's deadline, on the monotonic clock (or the radio's own clock, esp_timer);
// - stepped (tests and benchmarks on a virtual clock): no thread; wm_link_task_advance(t) runs
//   everything due up to t, in time order, in the caller.
// Radio callbacks and commands may come from any thread; nothing here raises, allocates or
// knows MicroPython. The owner reads a snapshot of the status and learns of changes through
// `notify`, called from the task's thread after every status change.
#ifndef WM_LINK_TASK_H
#define WM_LINK_TASK_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/link.h"
#include "wifimgr_build.h"

#ifndef WM_LINK_TASK_MAX_RECORDS
#define WM_LINK_TASK_MAX_RECORDS (24)
#endif
#ifndef WM_LINK_TASK_QUEUE
#define WM_LINK_TASK_QUEUE (16)
#endif
// Status changes kept for the owner between two reads (older ones are dropped and counted).
#ifndef WM_LINK_TASK_HISTORY
#define WM_LINK_TASK_HISTORY (16)
#endif
#ifndef WM_LINK_TASK_STACK
#define WM_LINK_TASK_STACK (6144)
#endif
// The longest the thread sleeps without looking at the clock, in ms.
#ifndef WM_LINK_TASK_MAX_SLEEP_MS
#define WM_LINK_TASK_MAX_SLEEP_MS (1000)
#endif
// How soon the thread tells the owner again of a change it could not deliver (notify returned
// false: MicroPython's scheduler queue was full), in ms.
#ifndef WM_LINK_TASK_RENOTIFY_MS
#define WM_LINK_TASK_RENOTIFY_MS (10)
#endif
#define WM_LINK_PASSWORD_BUF (WM_LINK_PASSWORD_MAX + 1)

typedef struct {
    char ssid[WM_LINK_SSID_MAX + 1];
    char password[WM_LINK_PASSWORD_BUF];
    uint8_t channel; // 0: the radio's current one
    uint8_t authmode; // 0 open, else WPA2 (ESP-IDF's wifi_auth_mode_t numbers)
    bool hidden;
} wm_link_ap_config_t;

// The radio. Every function is called from the task's thread (or the stepping caller) without
// the task's lock held; `now` is the task's clock. A function that fails returns nonzero and
// the task reports it as the radio would (connect: not_found, scan: nothing found).
typedef struct {
    // Starts a scan of all channels and returns at once; the result comes through
    // wm_link_task_scan_done().
    int (*scan)(void *radio, uint32_t now);
    // Starts a connect (bssid NULL: any; channel 0: search); progress comes through
    // wm_link_task_post() (ASSOCIATED, DISCONNECTED) and wm_link_task_got_ip().
    int (*connect)(void *radio, uint32_t now, const uint8_t *ssid, size_t ssid_len,
        const char *password, const uint8_t *bssid, uint8_t channel);
    void (*disconnect)(void *radio, uint32_t now);
    // Returns WM_LINK_AP_OK or why the access point is not up as configured (the status's
    // ap_error until the next call); config NULL: the radio's own.
    int (*ap)(void *radio, bool on, const wm_link_ap_config_t *config);
    // Optional (NULL): radios that keep their own timeline (the simulation). next_ms returns
    // when the radio next has something to report, or -1; poll reports what is due at `now`.
    int64_t (*next_ms)(void *radio);
    void (*poll)(void *radio, uint32_t now);
    // Optional (NULL: CLOCK_MONOTONIC): the clock of the threaded task, in ms.
    uint32_t (*now_ms)(void *radio);
} wm_radio_ops_t;

// What wm_radio_ops_t.ap returns.
#define WM_LINK_AP_OK (0)
#define WM_LINK_AP_ERR_CHANNEL (1) // a channel the radio's country does not allow
#define WM_LINK_AP_ERR_AUTHMODE (2) // a security an access point cannot offer (WEP, ...)
#define WM_LINK_AP_ERR_PASSWORD (3) // the password does not fit the security
#define WM_LINK_AP_ERR_DRIVER (4) // the radio refused for a reason of its own

// What the owner sees. ssid/bssid/channel: the connect in flight or the link.
typedef struct {
    uint8_t state;
    uint8_t reason;
    uint8_t ap_on;
    uint8_t ap_error; // WM_LINK_AP_ERR_ of the last ops->ap call
    uint8_t trial;
    uint8_t trial_reason;
    uint16_t attempts;
    uint8_t has_link; // ssid/bssid/channel are meaningful
    uint8_t ssid[WM_LINK_SSID_MAX];
    uint8_t ssid_len;
    uint8_t has_bssid;
    uint8_t bssid[6];
    uint8_t channel;
    uint8_t has_ip; // connected: ip and rssi are meaningful
    uint8_t ip[4];
    int8_t rssi;
    uint8_t trial_ssid[WM_LINK_SSID_MAX];
    uint8_t trial_ssid_len;
    uint8_t has_last_good;
    uint8_t last_good_ssid[WM_LINK_SSID_MAX];
    uint8_t last_good_ssid_len;
    uint8_t last_good_bssid[6];
    uint8_t last_good_channel;
    uint32_t at; // the task's clock at the change
} wm_link_task_status_t;

typedef struct {
    uint8_t kind; // WM_LINK_EV_*
    uint8_t reason;
    uint8_t hidden;
    uint8_t has_bssid;
    uint8_t bssid[6];
    uint8_t channel;
    uint8_t ssid_len;
    uint8_t ssid[WM_LINK_SSID_MAX];
    uint8_t ip[4];
    int8_t rssi;
    char password[WM_LINK_PASSWORD_BUF]; // TRY
} wm_link_task_event_t;

typedef struct {
    wm_link_t link; // the reducer, under `lock`
    const wm_radio_ops_t *ops;
    void *radio;
    bool (*notify)(void *ctx);
    void *notify_ctx;
    volatile bool renotify; // threaded: the last notify was not delivered, try again
    pthread_mutex_t lock;
    #if defined(WIFIMGR_RADIO_ESP32)
    void *wake; // SemaphoreHandle_t: a relative FreeRTOS wait (see wait_for() in link_task.c)
    #else
    pthread_cond_t wake; // on CLOCK_MONOTONIC
    #endif
    pthread_t thread;
    bool threaded;
    bool running;
    volatile bool stop;
    uint32_t now; // stepped: the caller's time; threaded: the time of the last turn
    uint32_t offset; // threaded: clock value at task time 0
    wm_link_task_event_t queue[WM_LINK_TASK_QUEUE];
    uint8_t q_head;
    uint8_t q_len;
    uint32_t dropped_events;
    char passwords[WM_LINK_MAX_CANDIDATES][WM_LINK_PASSWORD_BUF];
    char trial_password[WM_LINK_PASSWORD_BUF];
    char orphan_password[WM_LINK_PASSWORD_BUF];
    wm_link_ap_config_t ap_config;
    bool has_ap_config;
    wm_link_record_t records[WM_LINK_TASK_MAX_RECORDS];
    size_t record_count;
    uint32_t scans;
    wm_link_task_status_t status;
    wm_link_task_status_t history[WM_LINK_TASK_HISTORY];
    uint8_t h_head;
    uint8_t h_len;
    uint32_t h_taken; // changes ever taken off the queue, read or dropped: the head's seq
    uint32_t dropped_changes;
} wm_link_task_t;

// Prepares a stopped task with the default policy and no candidates. Returns 0 or an errno.
// notify returns false when the owner could not take the news now: the threaded task then
// calls it again within WM_LINK_TASK_RENOTIFY_MS until it does, changed or not.
int wm_link_task_init(wm_link_task_t *t, const wm_radio_ops_t *ops, void *radio,
    bool (*notify)(void *ctx), void *notify_ctx);

// Frees what init made; the task must be stopped.
void wm_link_task_deinit(wm_link_task_t *t);

// Sets the policy and the candidates, passwords[i] for candidate i ("" when open). The owner
// has checked them; returns a WM_LINK_ERR_ code if the core refuses one anyway (nothing set).
int wm_link_task_configure(wm_link_task_t *t, const wm_link_policy_t *policy,
    const wm_link_candidate_t *cands, const char *const *passwords, size_t count,
    const wm_link_ap_config_t *ap_config);

// The last-good hint (see wm_link_remember()); also shown as last_good.
int wm_link_task_remember(wm_link_task_t *t, const uint8_t *ssid, size_t ssid_len,
    const uint8_t bssid[6], uint8_t channel);

// Starts the task: threaded, on the clock where `now` is the current time, or stepped at `now`.
// Returns 0 or an errno (EALREADY, or from pthread_create).
int wm_link_task_start(wm_link_task_t *t, bool threaded, uint32_t now);

// Sends stop to the reducer (disconnect, AP down), performs it and ends the thread.
void wm_link_task_stop(wm_link_task_t *t);

// Commands: queued, run by the task in order.
void wm_link_task_rescan(wm_link_task_t *t);
void wm_link_task_finish(wm_link_task_t *t);
void wm_link_task_try(wm_link_task_t *t, const uint8_t *ssid, size_t ssid_len,
    const char *password, bool hidden);

// From the radio, any thread: an event (ASSOCIATED, DISCONNECTED with a WM_LINK_REASON_),
// an address (bssid NULL and channel 0 when unknown), a finished scan (records copied).
void wm_link_task_post(wm_link_task_t *t, uint8_t kind, uint8_t reason);
// A disconnect that names the link left (ssid NULL, bssid NULL: unknown): the reducer drops
// one that is not about the connect in flight (ESP-IDF's wifi_event_sta_disconnected_t).
void wm_link_task_disconnected(wm_link_task_t *t, uint8_t reason, const uint8_t *ssid,
    size_t ssid_len, const uint8_t *bssid);
void wm_link_task_got_ip(wm_link_task_t *t, const uint8_t *bssid, uint8_t channel,
    const uint8_t ip[4], int8_t rssi);
void wm_link_task_scan_done(wm_link_task_t *t, const wm_link_record_t *records, size_t count);

// Stepped task: runs every radio event, command and timer due up to `now`, in time order.
void wm_link_task_advance(wm_link_task_t *t, uint32_t now);

// Stepped task: the time of the next thing it will do by itself, or -1.
int64_t wm_link_task_next(wm_link_task_t *t);

// The current status.
void wm_link_task_status(wm_link_task_t *t, wm_link_task_status_t *out);

// The oldest status change not read yet, left queued; false when there is none. `*seq` names
// it for wm_link_task_drop_change().
bool wm_link_task_peek_change(wm_link_task_t *t, wm_link_task_status_t *out, uint32_t *seq);

// Takes the change that wm_link_task_peek_change() gave `seq` off the queue, unless the task
// dropped it since (the queue was full). Peek, deliver, then drop: a change that could not be
// delivered (MemoryError while the VM builds its status) is delivered by the next dispatch.
void wm_link_task_drop_change(wm_link_task_t *t, uint32_t seq);

// Copies at most `cap` records of the last scan; returns how many.
size_t wm_link_task_records(wm_link_task_t *t, wm_link_record_t *out, size_t cap);

#endif // WM_LINK_TASK_H
