// The link task: see link_task.h. One lock guards the reducer, the queue and the status; radio
// calls and the owner's notify run without it, so a radio may post from inside a call.

#include <errno.h>
#include <string.h>
#include <time.h>

#include "port/link_task.h"

#if defined(WIFIMGR_RADIO_ESP32)
#include "freertos/FreeRTOS.h"
#include "freertos/semphr.h"
#endif

// a - b on the wrapping millisecond clock, as a signed distance.
static int32_t diff(uint32_t a, uint32_t b) {
    return (int32_t)(a - b);
}

static uint32_t clock_ms(const wm_link_task_t *t) {
    if (t->ops->now_ms != NULL) {
        return t->ops->now_ms(t->radio);
    }
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint32_t)((uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u);
}

static uint32_t now_of(const wm_link_task_t *t) {
    return t->threaded ? clock_ms(t) - t->offset : t->now;
}

// --- waking the thread -------------------------------------------------------------------------
// The thread sleeps until an event or command arrives or `ms` pass, measured on a clock that
// NTP, settimeofday() and the RTC cannot step. POSIX: a condition variable on CLOCK_MONOTONIC.
// ESP-IDF: its pthread_cond_timedwait() turns the absolute deadline back into a relative one
// with gettimeofday() (components/pthread/pthread_cond_var.c: pthread_cond_timedwait), and its
// pthread_condattr_setclock() does nothing, so a step of the wall clock between our deadline
// and its gettimeofday() stretches or cuts the wait: the thread waits on a FreeRTOS semaphore
// with a relative timeout in ticks instead. wake_signal and wait_for run with the lock held.

#if defined(WIFIMGR_RADIO_ESP32)

static int wake_init(wm_link_task_t *t) {
    t->wake = xSemaphoreCreateBinary();
    return t->wake == NULL ? ENOMEM : 0;
}

static void wake_deinit(wm_link_task_t *t) {
    vSemaphoreDelete((SemaphoreHandle_t)t->wake);
}

static void wake_signal(wm_link_task_t *t) {
    xSemaphoreGive((SemaphoreHandle_t)t->wake); // kept until taken: no wakeup is lost
}

static void wait_for(wm_link_task_t *t, uint32_t ms) {
    pthread_mutex_unlock(&t->lock);
    xSemaphoreTake((SemaphoreHandle_t)t->wake, pdMS_TO_TICKS(ms) + 1);
    pthread_mutex_lock(&t->lock);
}

#else

static int wake_init(wm_link_task_t *t) {
    pthread_condattr_t attr;
    int err = pthread_condattr_init(&attr);
    if (err == 0) {
        err = pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
        if (err == 0) {
            err = pthread_cond_init(&t->wake, &attr);
        }
        pthread_condattr_destroy(&attr);
    }
    return err;
}

static void wake_deinit(wm_link_task_t *t) {
    pthread_cond_destroy(&t->wake);
}

static void wake_signal(wm_link_task_t *t) {
    pthread_cond_signal(&t->wake);
}

static void wait_for(wm_link_task_t *t, uint32_t ms) {
    struct timespec until;
    clock_gettime(CLOCK_MONOTONIC, &until);
    until.tv_sec += ms / 1000;
    until.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    pthread_cond_timedwait(&t->wake, &t->lock, &until);
}

#endif

int wm_link_task_init(wm_link_task_t *t, const wm_radio_ops_t *ops, void *radio,
    bool (*notify)(void *ctx), void *notify_ctx) {
    memset(t, 0, sizeof(*t));
    wm_link_init(&t->link);
    t->ops = ops;
    t->radio = radio;
    t->notify = notify;
    t->notify_ctx = notify_ctx;
    int err = pthread_mutex_init(&t->lock, NULL);
    if (err != 0) {
        return err;
    }
    err = wake_init(t);
    if (err != 0) {
        pthread_mutex_destroy(&t->lock);
    }
    return err;
}

void wm_link_task_deinit(wm_link_task_t *t) {
    wake_deinit(t);
    pthread_mutex_destroy(&t->lock);
}

// --- status -----------------------------------------------------------------------------------

static void copy_ssid(uint8_t *dst, uint8_t *dst_len, const uint8_t *src, size_t len) {
    if (src == NULL || len > WM_LINK_SSID_MAX) {
        len = 0;
    }
    memcpy(dst, src, len);
    *dst_len = (uint8_t)len;
}

// Refreshes the reducer's part of t->status (lock held).
static void refresh(wm_link_task_t *t) {
    const wm_link_t *l = &t->link;
    wm_link_task_status_t *s = &t->status;
    s->state = l->st.state;
    s->reason = l->st.reason;
    s->ap_on = l->st.ap_on;
    s->trial = l->st.trial;
    s->trial_reason = l->st.trial_reason;
    s->attempts = l->st.attempts;
    copy_ssid(s->trial_ssid, &s->trial_ssid_len, l->trial_ssid, l->trial_ssid_len);
    bool linked = l->st.has_cur && (l->st.state == WM_LINK_CONNECTING
        || l->st.state == WM_LINK_GETTING_IP || l->st.state == WM_LINK_CONNECTED);
    s->has_link = linked;
    if (linked) {
        size_t len;
        const uint8_t *ssid = wm_link_ssid_of(l, l->st.cur_slot, &len);
        copy_ssid(s->ssid, &s->ssid_len, ssid, len);
        s->has_bssid = l->cur_has_bssid;
        memcpy(s->bssid, l->cur_bssid, 6);
        s->channel = l->cur_channel;
    }
    if (l->st.state != WM_LINK_CONNECTED) {
        s->has_ip = 0;
    }
}

static void push_change(wm_link_task_t *t, uint32_t now) {
    t->status.at = now;
    if (t->h_len == WM_LINK_TASK_HISTORY) {
        t->h_head = (t->h_head + 1) % WM_LINK_TASK_HISTORY;
        t->h_len--;
        t->h_taken++;
        t->dropped_changes++;
    }
    t->history[(t->h_head + t->h_len) % WM_LINK_TASK_HISTORY] = t->status;
    t->h_len++;
}

void wm_link_task_status(wm_link_task_t *t, wm_link_task_status_t *out) {
    pthread_mutex_lock(&t->lock);
    *out = t->status;
    pthread_mutex_unlock(&t->lock);
}

bool wm_link_task_peek_change(wm_link_task_t *t, wm_link_task_status_t *out, uint32_t *seq) {
    pthread_mutex_lock(&t->lock);
    bool any = t->h_len > 0;
    if (any) {
        *out = t->history[t->h_head];
        *seq = t->h_taken;
    }
    pthread_mutex_unlock(&t->lock);
    return any;
}

void wm_link_task_drop_change(wm_link_task_t *t, uint32_t seq) {
    pthread_mutex_lock(&t->lock);
    if (t->h_len > 0 && t->h_taken == seq) {
        t->h_head = (t->h_head + 1) % WM_LINK_TASK_HISTORY;
        t->h_len--;
        t->h_taken++;
    }
    pthread_mutex_unlock(&t->lock);
}

size_t wm_link_task_records(wm_link_task_t *t, wm_link_record_t *out, size_t cap) {
    pthread_mutex_lock(&t->lock);
    size_t n = t->record_count < cap ? t->record_count : cap;
    memcpy(out, t->records, n * sizeof(*out));
    pthread_mutex_unlock(&t->lock);
    return n;
}

// --- configuration ------------------------------------------------------------------------------

int wm_link_task_configure(wm_link_task_t *t, const wm_link_policy_t *policy,
    const wm_link_candidate_t *cands, const char *const *passwords, size_t count,
    const wm_link_ap_config_t *ap_config) {
    if (count > WM_LINK_MAX_CANDIDATES) {
        return WM_LINK_ERR_FULL;
    }
    for (size_t i = 0; i < count; i++) {
        size_t len = strlen(passwords[i]);
        if (len > WM_LINK_PASSWORD_MAX || (len > 0 && len < 8)) {
            return WM_LINK_ERR_PASSWORD;
        }
        if (cands[i].ssid_len < 1 || cands[i].ssid_len > WM_LINK_SSID_MAX) {
            return WM_LINK_ERR_SSID;
        }
    }
    pthread_mutex_lock(&t->lock);
    int err = wm_link_set_policy(&t->link, policy);
    if (err == WM_LINK_OK) {
        wm_link_t *l = &t->link;
        if (l->st.has_cur && l->st.cur_slot >= 0) {
            memcpy(t->orphan_password, t->passwords[l->st.cur_slot], WM_LINK_PASSWORD_BUF);
        }
        wm_link_clear_candidates(l);
        for (size_t i = 0; i < count; i++) {
            wm_link_add_candidate(l, cands[i].ssid, cands[i].ssid_len, cands[i].hidden,
                cands[i].has_bssid ? cands[i].bssid : NULL);
            strcpy(t->passwords[i], passwords[i]);
        }
        wm_link_commit_candidates(l);
        t->has_ap_config = ap_config != NULL;
        if (ap_config != NULL) {
            t->ap_config = *ap_config;
        }
        refresh(t);
    }
    pthread_mutex_unlock(&t->lock);
    return err;
}

int wm_link_task_remember(wm_link_task_t *t, const uint8_t *ssid, size_t ssid_len,
    const uint8_t bssid[6], uint8_t channel) {
    pthread_mutex_lock(&t->lock);
    int err = wm_link_remember(&t->link, ssid, ssid_len, bssid, channel);
    if (err == WM_LINK_OK) {
        wm_link_task_status_t *s = &t->status;
        copy_ssid(s->last_good_ssid, &s->last_good_ssid_len, ssid, ssid_len);
        memcpy(s->last_good_bssid, bssid, 6);
        s->last_good_channel = channel;
        s->has_last_good = 1;
    }
    pthread_mutex_unlock(&t->lock);
    return err;
}

// --- the queue ----------------------------------------------------------------------------------

static void enqueue(wm_link_task_t *t, const wm_link_task_event_t *ev) {
    pthread_mutex_lock(&t->lock);
    if (t->q_len == WM_LINK_TASK_QUEUE) {
        // The reducer's timeouts recover from a lost event.
        t->dropped_events++;
    } else {
        t->queue[(t->q_head + t->q_len) % WM_LINK_TASK_QUEUE] = *ev;
        t->q_len++;
    }
    wake_signal(t);
    pthread_mutex_unlock(&t->lock);
}

static void post_kind(wm_link_task_t *t, uint8_t kind) {
    wm_link_task_event_t ev;
    memset(&ev, 0, sizeof(ev));
    ev.kind = kind;
    enqueue(t, &ev);
}

void wm_link_task_rescan(wm_link_task_t *t) {
    post_kind(t, WM_LINK_EV_RESCAN);
}

void wm_link_task_finish(wm_link_task_t *t) {
    post_kind(t, WM_LINK_EV_FINISH);
}

void wm_link_task_try(wm_link_task_t *t, const uint8_t *ssid, size_t ssid_len,
    const char *password, bool hidden) {
    wm_link_task_event_t ev;
    memset(&ev, 0, sizeof(ev));
    ev.kind = WM_LINK_EV_TRY;
    ev.hidden = hidden;
    copy_ssid(ev.ssid, &ev.ssid_len, ssid, ssid_len);
    size_t len = strlen(password);
    memcpy(ev.password, password, len <= WM_LINK_PASSWORD_MAX ? len : 0);
    enqueue(t, &ev);
}

void wm_link_task_post(wm_link_task_t *t, uint8_t kind, uint8_t reason) {
    wm_link_task_event_t ev;
    memset(&ev, 0, sizeof(ev));
    ev.kind = kind;
    ev.reason = reason;
    enqueue(t, &ev);
}

void wm_link_task_disconnected(wm_link_task_t *t, uint8_t reason, const uint8_t *ssid,
    size_t ssid_len, const uint8_t *bssid) {
    wm_link_task_event_t ev;
    memset(&ev, 0, sizeof(ev));
    ev.kind = WM_LINK_EV_DISCONNECTED;
    ev.reason = reason;
    if (ssid != NULL) {
        copy_ssid(ev.ssid, &ev.ssid_len, ssid, ssid_len);
    }
    if (bssid != NULL) {
        ev.has_bssid = 1;
        memcpy(ev.bssid, bssid, 6);
    }
    enqueue(t, &ev);
}

void wm_link_task_got_ip(wm_link_task_t *t, const uint8_t *bssid, uint8_t channel,
    const uint8_t ip[4], int8_t rssi) {
    wm_link_task_event_t ev;
    memset(&ev, 0, sizeof(ev));
    ev.kind = WM_LINK_EV_GOT_IP;
    if (bssid != NULL) {
        ev.has_bssid = 1;
        memcpy(ev.bssid, bssid, 6);
    }
    ev.channel = channel;
    memcpy(ev.ip, ip, 4);
    ev.rssi = rssi;
    enqueue(t, &ev);
}

void wm_link_task_scan_done(wm_link_task_t *t, const wm_link_record_t *records, size_t count) {
    pthread_mutex_lock(&t->lock);
    if (count > WM_LINK_TASK_MAX_RECORDS) {
        count = WM_LINK_TASK_MAX_RECORDS;
    }
    if (count > 0) {
        memcpy(t->records, records, count * sizeof(*records));
    }
    t->record_count = count;
    pthread_mutex_unlock(&t->lock);
    post_kind(t, WM_LINK_EV_SCAN_DONE);
}

// --- running the reducer ------------------------------------------------------------------------

// One step's actions with what the radio needs, copied out from under the lock.
typedef struct {
    wm_link_action_t acts[WM_LINK_MAX_ACTIONS];
    size_t n;
    uint8_t ssid[WM_LINK_SSID_MAX];
    size_t ssid_len;
    char password[WM_LINK_PASSWORD_BUF];
    wm_link_ap_config_t ap_config;
    bool has_ap_config;
    bool changed;
} step_out_t;

// The portal's credentials go to the strongest BSSID of that name in the last scan, on its
// channel: the radio then skips its channel search (ESP-IDF starts its scan there). A name the
// scan did not see (hidden, or gone) is searched for as before.
static void aim_trial(const wm_link_task_t *t, wm_link_action_t *a, const uint8_t *ssid,
    size_t ssid_len) {
    const wm_link_record_t *best = NULL;
    for (size_t i = 0; i < t->record_count; i++) {
        const wm_link_record_t *r = &t->records[i];
        if (r->ssid_len == ssid_len && memcmp(r->ssid, ssid, ssid_len) == 0
            && (best == NULL || r->rssi > best->rssi)) {
            best = r;
        }
    }
    if (best != NULL) {
        a->has_bssid = 1;
        memcpy(a->bssid, best->bssid, 6);
        a->channel = best->channel;
    }
}

// Runs the next queued event, or the timer if due (lock held). False: nothing to do at `now`.
static bool step_locked(wm_link_task_t *t, uint32_t now, step_out_t *o) {
    wm_link_task_event_t qe;
    wm_link_event_t ev;
    memset(&ev, 0, sizeof(ev));
    if (t->q_len > 0) {
        qe = t->queue[t->q_head];
        t->q_head = (t->q_head + 1) % WM_LINK_TASK_QUEUE;
        t->q_len--;
        ev.kind = qe.kind;
        ev.reason = qe.reason;
        ev.hidden = qe.hidden;
        ev.has_bssid = qe.has_bssid;
        memcpy(ev.bssid, qe.bssid, 6);
        ev.channel = qe.channel;
    } else {
        int64_t deadline = wm_link_deadline(&t->link);
        if (deadline < 0 || diff((uint32_t)deadline, now) > 0) {
            return false;
        }
        memset(&qe, 0, sizeof(qe));
        ev.kind = WM_LINK_EV_TIMER;
    }
    wm_link_t *l = &t->link;
    if (ev.kind == WM_LINK_EV_SCAN_DONE) {
        ev.records = t->records;
        ev.record_count = t->record_count;
    } else if (ev.kind == WM_LINK_EV_TRY) {
        ev.ssid = qe.ssid;
        ev.ssid_len = qe.ssid_len;
        memcpy(t->trial_password, qe.password, WM_LINK_PASSWORD_BUF);
    } else if (ev.kind == WM_LINK_EV_DISCONNECTED && qe.ssid_len > 0) {
        ev.ssid = qe.ssid;
        ev.ssid_len = qe.ssid_len;
    }
    uint8_t before = l->st.state;
    o->n = wm_link_step(l, &ev, now, o->acts, WM_LINK_MAX_ACTIONS);
    o->changed = false;
    if (ev.kind == WM_LINK_EV_GOT_IP && before != WM_LINK_CONNECTED
        && l->st.state == WM_LINK_CONNECTED) {
        memcpy(t->status.ip, qe.ip, 4);
        t->status.rssi = qe.rssi;
        t->status.has_ip = 1;
        o->changed = true; // the address is news even when the state is not
    }
    for (size_t i = 0; i < o->n; i++) {
        wm_link_action_t *a = &o->acts[i];
        if (a->kind == WM_LINK_ACT_CONNECT) {
            const uint8_t *ssid = wm_link_ssid_of(l, a->slot, &o->ssid_len);
            memcpy(o->ssid, ssid, o->ssid_len);
            if (a->slot == WM_LINK_TRIAL_SLOT && !a->has_bssid && a->channel == 0) {
                aim_trial(t, a, ssid, o->ssid_len);
            }
            const char *key = a->slot == WM_LINK_TRIAL_SLOT ? t->trial_password
                : a->slot == WM_LINK_ORPHAN_SLOT ? t->orphan_password : t->passwords[a->slot];
            memcpy(o->password, key, WM_LINK_PASSWORD_BUF);
        } else if (a->kind == WM_LINK_ACT_REMEMBER) {
            size_t len;
            const uint8_t *ssid = wm_link_ssid_of(l, a->slot, &len);
            wm_link_task_status_t *s = &t->status;
            copy_ssid(s->last_good_ssid, &s->last_good_ssid_len, ssid, len);
            memcpy(s->last_good_bssid, a->bssid, 6);
            s->last_good_channel = a->channel;
            s->has_last_good = 1;
        } else if (a->kind == WM_LINK_ACT_STATUS) {
            o->changed = true;
        } else if (a->kind == WM_LINK_ACT_AP_START) {
            o->ap_config = t->ap_config;
            o->has_ap_config = t->has_ap_config;
        }
    }
    refresh(t);
    if (o->changed) {
        push_change(t, now);
    }
    return true;
}

// Tells the owner of a change; threaded, one it could not take is told again (run()).
static void tell(wm_link_task_t *t) {
    if (t->notify != NULL) {
        t->renotify = !t->notify(t->notify_ctx) && t->threaded;
    }
}

// What no radio can offer as an access point, checked before ops->ap: the securities of
// ESP-IDF's softAP (wifi_ap_config_t.authmode in esp_wifi_types_generic.h; WEP, WAPI, OWE and
// the enterprise modes are not among them), by wifi_auth_mode_t number, and a WPA passphrase
// of 8 to 63 characters or 64 hex digits. The channels the radio's country allows are the
// radio's to check.
static int ap_config_error(const wm_link_ap_config_t *c) {
    if (c == NULL || c->password[0] == '\0') {
        return WM_LINK_AP_OK; // open
    }
    switch (c->authmode) {
        case 0: // WIFI_AUTH_OPEN: the radio ignores the password
            return WM_LINK_AP_OK;
        case 2: // WPA_PSK
        case 3: // WPA2_PSK
        case 4: // WPA_WPA2_PSK
        case 6: // WPA3_PSK
        case 7: { // WPA2_WPA3_PSK
            size_t len = strlen(c->password);
            return len >= 8 && len <= 64 ? WM_LINK_AP_OK : WM_LINK_AP_ERR_PASSWORD;
        }
        default:
            return WM_LINK_AP_ERR_AUTHMODE;
    }
}

// What ops->ap returned becomes the status's ap_error: a change the owner hears of.
static bool ap_result(wm_link_task_t *t, uint32_t now, int err) {
    pthread_mutex_lock(&t->lock);
    bool news = t->status.ap_error != (uint8_t)err;
    if (news) {
        t->status.ap_error = (uint8_t)err;
        push_change(t, now);
    }
    pthread_mutex_unlock(&t->lock);
    return news;
}

static void perform(wm_link_task_t *t, uint32_t now, const step_out_t *o) {
    bool changed = o->changed;
    for (size_t i = 0; i < o->n; i++) {
        const wm_link_action_t *a = &o->acts[i];
        switch (a->kind) {
            case WM_LINK_ACT_SCAN:
                t->scans++;
                if (t->ops->scan(t->radio, now) != 0) {
                    wm_link_task_scan_done(t, NULL, 0);
                }
                break;
            case WM_LINK_ACT_CONNECT:
                if (t->ops->connect(t->radio, now, o->ssid, o->ssid_len, o->password,
                    a->has_bssid ? a->bssid : NULL, a->channel) != 0) {
                    wm_link_task_post(t, WM_LINK_EV_DISCONNECTED, WM_LINK_REASON_NOT_FOUND);
                }
                break;
            case WM_LINK_ACT_DISCONNECT:
                t->ops->disconnect(t->radio, now);
                break;
            case WM_LINK_ACT_AP_START: {
                // A configuration the radio cannot offer leaves the AP down rather than the
                // radio's default (open, under another name) up.
                const wm_link_ap_config_t *c = o->has_ap_config ? &o->ap_config : NULL;
                int err = ap_config_error(c);
                changed |= ap_result(t, now, err != WM_LINK_AP_OK ? err
                    : t->ops->ap(t->radio, true, c));
                break;
            }
            case WM_LINK_ACT_AP_STOP:
                changed |= ap_result(t, now, t->ops->ap(t->radio, false, NULL));
                break;
            default:
                break;
        }
    }
    if (changed) {
        tell(t);
    }
}

// Runs everything due at `now`: the radio's own timeline, queued events, the timer.
static void drain(wm_link_task_t *t, uint32_t now) {
    step_out_t o;
    for (;;) {
        if (t->ops->poll != NULL) {
            t->ops->poll(t->radio, now);
        }
        pthread_mutex_lock(&t->lock);
        bool any = step_locked(t, now, &o);
        pthread_mutex_unlock(&t->lock);
        if (!any) {
            return;
        }
        perform(t, now, &o);
    }
}

// The next time something is due, relative to now, capped at `cap` ms (lock not held).
static uint32_t wait_ms(wm_link_task_t *t, uint32_t now, uint32_t cap) {
    uint32_t wait = cap;
    int64_t next = t->ops->next_ms != NULL ? t->ops->next_ms(t->radio) : -1;
    pthread_mutex_lock(&t->lock);
    int64_t deadline = wm_link_deadline(&t->link);
    bool queued = t->q_len > 0;
    pthread_mutex_unlock(&t->lock);
    if (queued) {
        return 0;
    }
    int64_t times[2] = { next, deadline };
    for (int i = 0; i < 2; i++) {
        if (times[i] >= 0) {
            int32_t d = diff((uint32_t)times[i], now);
            uint32_t w = d < 0 ? 0 : (uint32_t)d;
            if (w < wait) {
                wait = w;
            }
        }
    }
    return wait;
}

static void *run(void *arg) {
    wm_link_task_t *t = arg;
    while (!t->stop) {
        if (t->renotify) {
            tell(t);
        }
        uint32_t now = now_of(t);
        drain(t, now);
        uint32_t wait = wait_ms(t, now_of(t),
            t->renotify ? WM_LINK_TASK_RENOTIFY_MS : WM_LINK_TASK_MAX_SLEEP_MS);
        if (wait == 0) {
            continue;
        }
        pthread_mutex_lock(&t->lock);
        if (t->q_len == 0 && !t->stop) {
            wait_for(t, wait);
        }
        pthread_mutex_unlock(&t->lock);
    }
    return NULL;
}

int wm_link_task_start(wm_link_task_t *t, bool threaded, uint32_t now) {
    if (t->running) {
        return EALREADY;
    }
    pthread_mutex_lock(&t->lock);
    t->q_len = 0;
    t->h_len = 0;
    t->stop = false;
    t->renotify = false;
    t->threaded = threaded;
    t->now = now;
    if (threaded) {
        t->offset = clock_ms(t) - now;
    }
    pthread_mutex_unlock(&t->lock);
    post_kind(t, WM_LINK_EV_START);
    t->running = true;
    if (!threaded) {
        drain(t, now);
        return 0;
    }
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, WM_LINK_TASK_STACK);
    int err = pthread_create(&t->thread, &attr, run, t);
    pthread_attr_destroy(&attr);
    if (err != 0) {
        t->running = false;
    }
    return err;
}

void wm_link_task_stop(wm_link_task_t *t) {
    if (!t->running) {
        return;
    }
    if (t->threaded) {
        pthread_mutex_lock(&t->lock);
        t->stop = true;
        wake_signal(t);
        pthread_mutex_unlock(&t->lock);
        pthread_join(t->thread, NULL);
    }
    uint32_t now = now_of(t);
    pthread_mutex_lock(&t->lock);
    memset(&t->queue[t->q_head], 0, sizeof(t->queue[t->q_head]));
    t->queue[t->q_head].kind = WM_LINK_EV_STOP;
    t->q_len = 1;
    step_out_t o;
    step_locked(t, now, &o);
    pthread_mutex_unlock(&t->lock);
    perform(t, now, &o);
    t->running = false;
}

void wm_link_task_advance(wm_link_task_t *t, uint32_t target) {
    if (!t->running || t->threaded) {
        return;
    }
    drain(t, t->now);
    for (;;) {
        int64_t next = wm_link_task_next(t);
        // Nothing more before target, or something due now that draining could not run (a
        // radio that keeps reporting a past time): go on to target.
        if (next < 0 || diff((uint32_t)next, target) > 0 || diff((uint32_t)next, t->now) <= 0) {
            break;
        }
        t->now = (uint32_t)next;
        drain(t, t->now);
    }
    t->now = target;
    drain(t, target);
}

int64_t wm_link_task_next(wm_link_task_t *t) {
    uint32_t wait = wait_ms(t, t->now, UINT32_MAX);
    return wait == UINT32_MAX ? -1 : (int64_t)(uint32_t)(t->now + wait);
}
