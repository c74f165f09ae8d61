// The simulated radio: see radio_sim.h. Every time is on the link task's clock; what sim.py
// computes from the clock when asked, this reports as events when they are due.

#include <string.h>

#include "port/radio_sim.h"

void wm_radio_sim_init(wm_radio_sim_t *sim, wm_link_task_t *task) {
    memset(sim, 0, sizeof(*sim));
    sim->task = task;
    sim->ap = -1;
    pthread_mutex_init(&sim->lock, NULL);
}

void wm_radio_sim_deinit(wm_radio_sim_t *sim) {
    pthread_mutex_destroy(&sim->lock);
}

void wm_radio_sim_view(wm_radio_sim_t *sim, wm_radio_sim_view_t *out) {
    pthread_mutex_lock(&sim->lock);
    memset(out, 0, sizeof(*out));
    out->gen = sim->gen;
    out->joined = sim->joined;
    out->ap = sim->ap;
    out->associated_at = sim->associated_at;
    out->got_ip_at = sim->got_ip_at;
    out->ended_at = sim->ended_at;
    out->end = sim->end;
    out->ap_on = sim->ap_on;
    out->has_ap_config = sim->has_ap_config;
    out->ap_config = sim->ap_config;
    pthread_mutex_unlock(&sim->lock);
}

int wm_radio_sim_add_window(wm_radio_sim_t *sim, int64_t from, int64_t to) {
    if (sim->window_count >= WM_RADIO_SIM_MAX_WINDOWS) {
        return -1;
    }
    sim->windows[sim->window_count] = (wm_radio_sim_window_t) { from, to };
    return (int)sim->window_count++;
}

bool wm_radio_sim_add(wm_radio_sim_t *sim, const wm_radio_sim_ap_t *ap) {
    if (sim->ap_count >= WM_RADIO_SIM_MAX_APS) {
        return false;
    }
    sim->aps[sim->ap_count++] = *ap;
    return true;
}

// The window of windows[first, first + n) that holds t, or NULL (sim.py: _within()).
static const wm_radio_sim_window_t *within(const wm_radio_sim_t *sim, uint16_t first,
    uint16_t n, int64_t t) {
    for (uint16_t i = first; i < first + n; i++) {
        const wm_radio_sim_window_t *w = &sim->windows[i];
        if (w->from <= t && (w->to < 0 || t < w->to)) {
            return w;
        }
    }
    return NULL;
}

static bool visible(const wm_radio_sim_t *sim, const wm_radio_sim_ap_t *ap, int64_t t) {
    return within(sim, ap->away, ap->away_n, t) == NULL;
}

// When the access point next goes off the air at t or later, or -1.
static int64_t vanish_after(const wm_radio_sim_t *sim, const wm_radio_sim_ap_t *ap, int64_t t) {
    for (uint16_t i = ap->away; i < ap->away + ap->away_n; i++) {
        if (sim->windows[i].from >= t) {
            return sim->windows[i].from;
        }
    }
    return -1;
}

// The address of a DHCP client starting at t: the first DISCOVER that the server answers,
// plus dhcp_ms; -1 for never (sim.py: AccessPoint.lease_at()).
static int64_t lease_at(const wm_radio_sim_t *sim, const wm_radio_sim_ap_t *ap, int64_t t) {
    if (!ap->dhcp) {
        return -1;
    }
    int64_t retry = WM_RADIO_SIM_DHCP_RETRY_FIRST_MS;
    for (;;) {
        const wm_radio_sim_window_t *w = within(sim, ap->dhcp_off, ap->dhcp_off_n, t);
        if (w == NULL) {
            return t + ap->dhcp_ms;
        }
        if (w->to < 0) {
            return -1;
        }
        while (t < w->to) {
            t += retry;
            retry = retry * 2 < WM_RADIO_SIM_DHCP_RETRY_MAX_MS ? retry * 2
                : WM_RADIO_SIM_DHCP_RETRY_MAX_MS;
        }
    }
}

static void end_at(wm_radio_sim_t *sim, int64_t at, uint8_t reason, uint8_t end) {
    if (sim->ended_at < 0 || at < sim->ended_at) {
        sim->ended_at = at;
        sim->end_reason = reason;
        sim->end = end;
    }
}

static int sim_scan(void *radio, uint32_t now) {
    wm_radio_sim_t *sim = radio;
    sim->scanning = true;
    sim->scan_start = now;
    return 0;
}

static int sim_connect(void *radio, uint32_t now, const uint8_t *ssid, size_t ssid_len,
    const char *password, const uint8_t *bssid, uint8_t channel) {
    wm_radio_sim_t *sim = radio;
    int64_t start = now;
    if (sim->connects < WM_RADIO_SIM_LOG) {
        wm_radio_sim_call_t *call = &sim->log[sim->connects];
        memset(call, 0, sizeof(*call));
        call->at = now;
        memcpy(call->ssid, ssid, ssid_len);
        call->ssid_len = (uint8_t)ssid_len;
        call->has_bssid = bssid != NULL;
        memcpy(call->bssid, bssid != NULL ? bssid : call->bssid, 6);
        call->channel = channel;
        strncpy(call->password, password, WM_LINK_PASSWORD_MAX);
    }
    pthread_mutex_lock(&sim->lock);
    sim->gen++;
    sim->joined = true;
    sim->connects++;
    sim->attempt = true;
    memcpy(sim->ssid, ssid, ssid_len);
    sim->ssid_len = (uint8_t)ssid_len;
    sim->ap = -1;
    sim->associated_at = sim->got_ip_at = sim->ended_at = -1;
    sim->reported_assoc = sim->reported_ip = false;
    int64_t search_end = start + WM_RADIO_SIM_CHANNELS * WM_RADIO_SIM_CONNECT_CHANNEL_MS;
    int best = -1;
    for (int pass = channel ? 0 : 1; pass <= WM_RADIO_SIM_CHANNELS && best < 0; pass++) {
        // pass 0: a directed probe on `channel`; 1..13: the fast scan, channel by channel.
        uint8_t ch = pass ? (uint8_t)pass : channel;
        int64_t t = pass ? start + pass * WM_RADIO_SIM_CONNECT_CHANNEL_MS
            : start + WM_RADIO_SIM_PROBE_MS;
        for (size_t i = 0; i < sim->ap_count; i++) {
            const wm_radio_sim_ap_t *ap = &sim->aps[i];
            if (ap->ssid_len != ssid_len || memcmp(ap->ssid, ssid, ssid_len) != 0
                || (bssid != NULL && memcmp(ap->bssid, bssid, 6) != 0) || ap->channel != ch
                || !visible(sim, ap, t)) {
                continue;
            }
            if (best < 0 || ap->rssi > sim->aps[best].rssi) {
                best = (int)i;
            }
        }
        if (best >= 0 || !pass) {
            search_end = t;
            if (!pass) {
                break;
            }
        }
    }
    if (best < 0) {
        end_at(sim, search_end, WM_LINK_REASON_NOT_FOUND, WM_RADIO_SIM_END_NO_AP_FOUND);
    } else if (sim->aps[best].authmode != 0 && strcmp(password, sim->aps[best].password) != 0) {
        sim->ap = best;
        end_at(sim, search_end + sim->aps[best].assoc_ms + WM_RADIO_SIM_HANDSHAKE_FAIL_MS,
            WM_LINK_REASON_WRONG_PASSWORD, WM_RADIO_SIM_END_WRONG_PASSWORD);
    } else {
        const wm_radio_sim_ap_t *ap = &sim->aps[best];
        sim->ap = best;
        sim->associated_at = search_end + ap->assoc_ms;
        sim->got_ip_at = lease_at(sim, ap, sim->associated_at);
        int64_t vanish = vanish_after(sim, ap, sim->associated_at);
        if (vanish >= 0) {
            end_at(sim, vanish + WM_RADIO_SIM_BEACON_TIMEOUT_MS,
                WM_LINK_REASON_LINK_LOST, WM_RADIO_SIM_END_BEACON_TIMEOUT);
        }
        if (ap->drop_after_ms >= 0) {
            end_at(sim, sim->associated_at + ap->drop_after_ms, WM_LINK_REASON_LINK_LOST,
                WM_RADIO_SIM_END_AUTH_EXPIRE);
        }
    }
    pthread_mutex_unlock(&sim->lock);
    return 0;
}

static void sim_disconnect(void *radio, uint32_t now) {
    wm_radio_sim_t *sim = radio;
    (void)now;
    pthread_mutex_lock(&sim->lock);
    sim->gen++;
    sim->joined = false;
    sim->attempt = false;
    pthread_mutex_unlock(&sim->lock);
}

static int sim_ap(void *radio, bool on, const wm_link_ap_config_t *config) {
    wm_radio_sim_t *sim = radio;
    pthread_mutex_lock(&sim->lock);
    sim->gen++;
    sim->ap_on = on;
    if (config != NULL) {
        sim->ap_config = *config;
        sim->has_ap_config = true;
    }
    pthread_mutex_unlock(&sim->lock);
    return 0;
}

static int64_t scan_done_at(const wm_radio_sim_t *sim) {
    return sim->scan_start + WM_RADIO_SIM_CHANNELS * WM_RADIO_SIM_CHANNEL_MS;
}

// Before the attempt ends: its association and address events still to report.
static bool before_end(const wm_radio_sim_t *sim, int64_t at) {
    return at >= 0 && (sim->ended_at < 0 || at < sim->ended_at);
}

static int64_t sim_next(void *radio) {
    wm_radio_sim_t *sim = radio;
    int64_t next = -1;
    int64_t times[4] = {
        sim->scanning ? scan_done_at(sim) : -1,
        sim->attempt && !sim->reported_assoc && before_end(sim, sim->associated_at)
            ? sim->associated_at : -1,
        sim->attempt && !sim->reported_ip && before_end(sim, sim->got_ip_at) ? sim->got_ip_at : -1,
        sim->attempt ? sim->ended_at : -1,
    };
    for (int i = 0; i < 4; i++) {
        if (times[i] >= 0 && (next < 0 || times[i] < next)) {
            next = times[i];
        }
    }
    return next;
}

static void sim_poll(void *radio, uint32_t now_ms) {
    wm_radio_sim_t *sim = radio;
    int64_t now = now_ms;
    if (sim->scanning && scan_done_at(sim) <= now) {
        sim->scanning = false;
        sim->scans++;
        wm_link_record_t recs[WM_RADIO_SIM_MAX_APS];
        size_t n = 0;
        for (size_t i = 0; i < sim->ap_count; i++) {
            const wm_radio_sim_ap_t *ap = &sim->aps[i];
            if (!visible(sim, ap, sim->scan_start + ap->channel * WM_RADIO_SIM_CHANNEL_MS)) {
                continue;
            }
            wm_link_record_t r;
            memset(&r, 0, sizeof(r));
            if (!ap->hidden) {
                memcpy(r.ssid, ap->ssid, ap->ssid_len);
                r.ssid_len = ap->ssid_len;
            }
            memcpy(r.bssid, ap->bssid, 6);
            r.channel = ap->channel;
            r.rssi = ap->rssi;
            r.authmode = ap->authmode;
            r.hidden = ap->hidden;
            // Strongest first, as WLAN.scan() sorts them.
            size_t j = n++;
            while (j > 0 && recs[j - 1].rssi < r.rssi) {
                recs[j] = recs[j - 1];
                j--;
            }
            recs[j] = r;
        }
        wm_link_task_scan_done(sim->task, recs, n);
    }
    if (!sim->attempt) {
        return;
    }
    if (!sim->reported_assoc && before_end(sim, sim->associated_at)
        && sim->associated_at <= now) {
        sim->reported_assoc = true;
        wm_link_task_post(sim->task, WM_LINK_EV_ASSOCIATED, 0);
    }
    if (!sim->reported_ip && before_end(sim, sim->got_ip_at) && sim->got_ip_at <= now) {
        sim->reported_ip = true;
        const wm_radio_sim_ap_t *ap = &sim->aps[sim->ap];
        wm_link_task_got_ip(sim->task, ap->bssid, ap->channel, ap->ip, ap->rssi);
    }
    if (sim->ended_at >= 0 && sim->ended_at <= now) {
        sim->attempt = false;
        // As the Python driver tells them apart: a failure before association is not_found.
        uint8_t reason = sim->end_reason;
        if (reason == WM_LINK_REASON_LINK_LOST && !sim->reported_assoc) {
            reason = WM_LINK_REASON_NOT_FOUND;
        }
        // Naming the link, as ESP-IDF's event does.
        wm_link_task_disconnected(sim->task, reason, sim->ssid, sim->ssid_len,
            sim->ap >= 0 ? sim->aps[sim->ap].bssid : NULL);
    }
}

const wm_radio_ops_t wm_radio_sim_ops = {
    .scan = sim_scan,
    .connect = sim_connect,
    .disconnect = sim_disconnect,
    .ap = sim_ap,
    .next_ms = sim_next,
    .poll = sim_poll,
    .now_ms = NULL,
};
