// The scan/connect state machine as a reducer: wm_link_step(state, event, now) -> actions.
// No I/O, no clock, no heap: the caller owns the wm_link_t, feeds it events with the time and
// performs the actions. The twin of frozen/wifimgr/link.py (Machine); both pass
// tests/link_vectors.json. The policy keys are documented in link.py's docstring.
#ifndef WM_LINK_H
#define WM_LINK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifndef WM_LINK_MAX_CANDIDATES
#define WM_LINK_MAX_CANDIDATES (8)
#endif
// A round's plan: every visible BSSID of the candidates, the best kept (link.py: MAX_PLAN).
#define WM_LINK_MAX_PLAN (16)
// Access points backed off after a failure, by BSSID (link.py: MAX_BACKOFFS).
#define WM_LINK_MAX_BACKOFFS (8)
// A scan that never reports (a radio that lost the event) counts as one that found nothing.
#ifndef WM_LINK_SCAN_TIMEOUT_MS
#define WM_LINK_SCAN_TIMEOUT_MS (10000)
#endif
// A probe or a connect to the remembered BSSID not associated by then found nothing (at most
// connect_timeout_ms): a device's walk of every channel and an association take less. The radio
// usually says so sooner; stock MicroPython's WLAN.status() cannot (it repeats the last
// failure while connecting).
#define WM_LINK_PROBE_TIMEOUT_MS (3000)
// Upper bound of the actions one step produces.
#define WM_LINK_MAX_ACTIONS (8)
#define WM_LINK_SSID_MAX (32)
#define WM_LINK_PASSWORD_MAX (63)
#define WM_LINK_TRIAL_SLOT (-1)
#define WM_LINK_ORPHAN_SLOT (-2)

enum {
    WM_LINK_IDLE,
    WM_LINK_SCANNING,
    WM_LINK_CONNECTING,
    WM_LINK_GETTING_IP,
    WM_LINK_CONNECTED,
    WM_LINK_WAITING,
};

enum {
    WM_LINK_REASON_NONE,
    WM_LINK_REASON_WRONG_PASSWORD,
    WM_LINK_REASON_NOT_FOUND,
    WM_LINK_REASON_NO_IP,
    WM_LINK_REASON_LINK_LOST,
};

enum {
    WM_LINK_TRIAL_NONE,
    WM_LINK_TRIAL_TRYING,
    WM_LINK_TRIAL_CONNECTED,
    WM_LINK_TRIAL_FAILED,
};

enum {
    WM_LINK_AP_ALWAYS,
    WM_LINK_AP_FALLBACK,
    WM_LINK_AP_NEVER,
};

enum {
    WM_LINK_EV_START,
    WM_LINK_EV_STOP,
    WM_LINK_EV_RESCAN,
    WM_LINK_EV_TRY,
    WM_LINK_EV_FINISH,
    WM_LINK_EV_SCAN_DONE,
    WM_LINK_EV_ASSOCIATED,
    WM_LINK_EV_GOT_IP,
    WM_LINK_EV_DISCONNECTED,
    WM_LINK_EV_TIMER,
};

enum {
    WM_LINK_ACT_SCAN,
    WM_LINK_ACT_CONNECT,
    WM_LINK_ACT_DISCONNECT,
    WM_LINK_ACT_AP_START,
    WM_LINK_ACT_AP_STOP,
    WM_LINK_ACT_REMEMBER,
    WM_LINK_ACT_STATUS,
};

// Errors of the configuration functions, one per field.
enum {
    WM_LINK_OK = 0,
    WM_LINK_ERR_SSID = -1,
    WM_LINK_ERR_PASSWORD = -2,
    WM_LINK_ERR_FULL = -3,
    WM_LINK_ERR_CHANNEL = -4,
    WM_LINK_ERR_AP_POLICY = -5,
    WM_LINK_ERR_RETRIES = -6,
    WM_LINK_ERR_BACKOFF = -7,
    WM_LINK_ERR_RESCAN = -8,
    WM_LINK_ERR_MIN_RSSI = -9,
    WM_LINK_ERR_TIMEOUT = -10,
    WM_LINK_ERR_PROBE = -11,
};

// What the connect in flight is, which decides what its failure leads to.
enum {
    WM_LINK_KIND_PLAN, // from a scan's plan: backoff, then the next candidate
    WM_LINK_KIND_CACHED, // the remembered BSSID on its channel: a scan
    WM_LINK_KIND_DIRECT, // the only candidate by name, no scan first: a scan (the AP before it if
    // not found and due)
    WM_LINK_KIND_PROBE, // while waiting, not yet associated: back to waiting
};

typedef struct {
    uint8_t ssid[WM_LINK_SSID_MAX];
    uint8_t ssid_len;
    uint8_t bssid[6];
    uint8_t channel;
    int8_t rssi;
    uint8_t authmode;
    uint8_t hidden;
} wm_link_record_t;

typedef struct {
    uint8_t kind;
    uint8_t reason; // DISCONNECTED
    uint8_t hidden; // TRY
    // GOT_IP: the BSSID joined; DISCONNECTED: the BSSID left. When the radio knows it.
    uint8_t has_bssid;
    uint8_t bssid[6];
    uint8_t channel; // GOT_IP: 0 when unknown
    uint8_t ssid_len; // TRY; DISCONNECTED: the SSID left
    // TRY: copied. DISCONNECTED: NULL when the radio does not say; one naming another SSID or
    // BSSID than the connect in flight is the late report of the link left, and is dropped.
    const uint8_t *ssid;
    const wm_link_record_t *records; // SCAN_DONE
    size_t record_count;
} wm_link_event_t;

typedef struct {
    uint8_t kind;
    int8_t slot; // CONNECT, REMEMBER: candidate index, WM_LINK_TRIAL_SLOT or WM_LINK_ORPHAN_SLOT
    uint8_t has_bssid;
    uint8_t bssid[6];
    uint8_t channel; // 0: unknown, let the radio search
    uint8_t state; // STATUS
} wm_link_action_t;

typedef struct {
    uint8_t ap_policy;
    uint8_t retries;
    int8_t min_rssi;
    uint32_t backoff_min_ms;
    uint32_t backoff_max_ms;
    uint32_t rescan_ms;
    uint32_t connect_timeout_ms;
    uint32_t dhcp_timeout_ms;
    uint32_t linger_ms;
    uint32_t probe_ms; // 0: no direct first join and no probes
} wm_link_policy_t;

typedef struct {
    uint8_t ssid[WM_LINK_SSID_MAX];
    uint8_t ssid_len;
    uint8_t hidden;
    uint8_t has_bssid;
    uint8_t bssid[6];
    uint16_t fails; // of the joins by name (the BSSID unknown)
    uint32_t retry_at; // meaningful while fails > 0
} wm_link_candidate_t;

// The backoff of one access point: a failure with the BSSID known backs off that BSSID, and the
// network's other access points are still tried.
typedef struct {
    uint8_t bssid[6];
    uint16_t fails;
    uint32_t retry_at;
} wm_link_backoff_t;

// A BSSID that gave an address, with the SSID it gave it for and its channel then (0: unknown).
typedef struct {
    uint8_t bssid[6];
    uint8_t channel;
    uint8_t ssid_len;
    uint8_t ssid[WM_LINK_SSID_MAX];
} wm_link_served_t;

typedef struct {
    int8_t slot;
    uint8_t rank;
    int8_t rssi;
    uint8_t has_bssid;
    uint8_t bssid[6];
    uint8_t channel;
} wm_link_plan_t;

typedef struct {
    uint8_t state;
    uint8_t reason;
    uint8_t ap_on;
    uint8_t trial;
    uint8_t trial_reason;
    uint8_t started;
    int8_t cur_slot; // valid while has_cur
    uint8_t has_cur;
    uint16_t attempts;
} wm_link_status_t;

typedef struct {
    wm_link_policy_t policy;
    wm_link_candidate_t cands[WM_LINK_MAX_CANDIDATES];
    uint8_t cand_count;
    wm_link_backoff_t backoffs[WM_LINK_MAX_BACKOFFS];
    uint8_t backoff_count;
    // The BSSIDs that gave an address (the remembered one too), the latest last, at most
    // WM_LINK_MAX_BACKOFFS: their no_ip is the network's services late, not their radio, and
    // the probes go round them.
    wm_link_served_t served[WM_LINK_MAX_BACKOFFS];
    uint8_t served_count;
    uint8_t probe_next; // the entry of `served` the next probe looks at first
    uint8_t trial_ssid[WM_LINK_SSID_MAX];
    uint8_t trial_ssid_len;
    uint8_t orphan_ssid[WM_LINK_SSID_MAX];
    uint8_t orphan_ssid_len;
    uint8_t has_hint;
    uint8_t hint_ssid[WM_LINK_SSID_MAX];
    uint8_t hint_ssid_len;
    uint8_t hint_bssid[6];
    uint8_t hint_channel;
    wm_link_status_t st;
    uint16_t failed_rounds;
    uint32_t round_start;
    wm_link_plan_t plan[WM_LINK_MAX_PLAN];
    uint8_t plan_len;
    uint8_t plan_pos;
    uint8_t cur_has_bssid;
    uint8_t cur_bssid[6];
    uint8_t cur_channel;
    uint8_t cur_kind; // WM_LINK_KIND_
    uint8_t probing; // a probe in flight: the state stays WAITING until it associates
    uint8_t listed; // a scan since start(): a failed direct join needs none for the portal
    uint32_t round_at; // WAITING: when the next round starts
    uint8_t t_state_set;
    uint8_t t_linger_set;
    uint32_t t_state;
    uint32_t t_linger;
    // Output of the step in progress.
    wm_link_action_t *out;
    size_t out_len;
    size_t out_cap;
    wm_link_action_t spill;
} wm_link_t;

// The defaults of link.py's POLICY_DEFAULTS.
void wm_link_policy_default(wm_link_policy_t *p);

// Resets `l` to a stopped machine with the default policy and no candidates.
void wm_link_init(wm_link_t *l);

// The integer keys of the policy and their ranges (inclusive), in the order and with the
// values of frozen/wifimgr/linkspec.py _INT_RANGES: tests/link_vectors.json "policy_ranges"
// holds both to one table (tests/core/test_link.py, tests/wifimgr/test_link_vectors.py).
typedef struct {
    const char *key;
    int32_t low;
    int32_t high;
    int err; // the WM_LINK_ERR_ of the key
} wm_link_range_t;
#define WM_LINK_RANGE_COUNT 9
extern const wm_link_range_t wm_link_ranges[WM_LINK_RANGE_COUNT];

// The row of wm_link_ranges that `p` is outside of (the first), or -1.
int wm_link_policy_out_of_range(const wm_link_policy_t *p);

// Checks and sets the policy; returns WM_LINK_OK or the WM_LINK_ERR_ of the first bad field.
int wm_link_set_policy(wm_link_t *l, const wm_link_policy_t *p);

// Empties the candidate list (a connect in flight keeps going, see link.py).
void wm_link_clear_candidates(wm_link_t *l);

// Appends a candidate; bssid is NULL or 6 bytes. Returns its slot, or WM_LINK_ERR_SSID (not 1
// to 32 bytes), WM_LINK_ERR_FULL. Call wm_link_commit_candidates() after the last one.
int wm_link_add_candidate(wm_link_t *l, const uint8_t *ssid, size_t ssid_len, bool hidden,
    const uint8_t *bssid);

// Finishes a new candidate list: remaps the connect in flight onto it.
void wm_link_commit_candidates(wm_link_t *l);

// Sets the last-good network hint. Returns WM_LINK_OK, WM_LINK_ERR_SSID or WM_LINK_ERR_CHANNEL.
int wm_link_remember(wm_link_t *l, const uint8_t *ssid, size_t ssid_len, const uint8_t bssid[6],
    uint8_t channel);

// Runs one event at time `now` (ms, wrapping); writes at most `cap` actions to `out` and returns
// how many. WM_LINK_MAX_ACTIONS is always enough.
size_t wm_link_step(wm_link_t *l, const wm_link_event_t *ev, uint32_t now,
    wm_link_action_t *out, size_t cap);

// The time at which a WM_LINK_EV_TIMER is due, or -1 when none is.
int64_t wm_link_deadline(const wm_link_t *l);

void wm_link_get_status(const wm_link_t *l, wm_link_status_t *st);

// The SSID of a slot (candidate, trial or orphan); NULL for an unknown slot.
const uint8_t *wm_link_ssid_of(const wm_link_t *l, int slot, size_t *len);

// sizeof(wm_link_t), for callers that allocate it without this header (ctypes).
size_t wm_link_size(void);

#endif // WM_LINK_H
