// The scan/connect reducer. Every function mirrors the method of the same name in
// frozen/wifimgr/link.py (Machine); keep the two in step, the vectors check it.
#include "link.h"

#include <string.h>

// A channel from the radio outside 1..14 counts as unknown.
static uint8_t valid_channel(uint8_t channel) {
    return channel <= 14 ? channel : 0;
}

// a <= b on the wrapping millisecond clock.
static bool due(uint32_t a, uint32_t b) {
    return (int32_t)(a - b) <= 0;
}

void wm_link_policy_default(wm_link_policy_t *p) {
    p->ap_policy = WM_LINK_AP_FALLBACK;
    p->retries = 1;
    p->min_rssi = -90;
    p->backoff_min_ms = 2000;
    p->backoff_max_ms = 300000;
    p->rescan_ms = 15000;
    p->connect_timeout_ms = 15000;
    p->dhcp_timeout_ms = 10000;
    p->linger_ms = 120000;
    p->probe_ms = 400;
}

void wm_link_init(wm_link_t *l) {
    memset(l, 0, sizeof(*l));
    wm_link_policy_default(&l->policy);
}

size_t wm_link_size(void) {
    return sizeof(wm_link_t);
}

const wm_link_range_t wm_link_ranges[WM_LINK_RANGE_COUNT] = {
    { "retries", 1, 100, WM_LINK_ERR_RETRIES },
    { "backoff_min_ms", 100, 3600000, WM_LINK_ERR_BACKOFF },
    { "backoff_max_ms", 100, 86400000, WM_LINK_ERR_BACKOFF },
    { "rescan_ms", 1000, 3600000, WM_LINK_ERR_RESCAN },
    { "min_rssi", -100, 0, WM_LINK_ERR_MIN_RSSI },
    { "connect_timeout_ms", 1000, 120000, WM_LINK_ERR_TIMEOUT },
    { "dhcp_timeout_ms", 1000, 120000, WM_LINK_ERR_TIMEOUT },
    { "linger_ms", 0, 3600000, WM_LINK_ERR_TIMEOUT },
    { "probe_ms", 0, 60000, WM_LINK_ERR_PROBE },
};

int wm_link_policy_out_of_range(const wm_link_policy_t *p) {
    const int64_t value[WM_LINK_RANGE_COUNT] = {
        p->retries, p->backoff_min_ms, p->backoff_max_ms, p->rescan_ms, p->min_rssi,
        p->connect_timeout_ms, p->dhcp_timeout_ms, p->linger_ms, p->probe_ms,
    };
    for (int i = 0; i < WM_LINK_RANGE_COUNT; i++) {
        if (value[i] < wm_link_ranges[i].low || value[i] > wm_link_ranges[i].high) {
            return i;
        }
    }
    return -1;
}

int wm_link_set_policy(wm_link_t *l, const wm_link_policy_t *p) {
    if (p->ap_policy > WM_LINK_AP_NEVER) {
        return WM_LINK_ERR_AP_POLICY;
    }
    int row = wm_link_policy_out_of_range(p);
    if (row >= 0) {
        return wm_link_ranges[row].err;
    }
    if (p->backoff_max_ms < p->backoff_min_ms) {
        return WM_LINK_ERR_BACKOFF;
    }
    if (p->probe_ms != 0 && p->probe_ms < 100) {
        return WM_LINK_ERR_PROBE;
    }
    l->policy = *p;
    return WM_LINK_OK;
}

static int slot_of(const wm_link_t *l, const uint8_t *ssid, size_t len) {
    for (int i = 0; i < l->cand_count; i++) {
        if (l->cands[i].ssid_len == len && memcmp(l->cands[i].ssid, ssid, len) == 0) {
            return i;
        }
    }
    return -1;
}

void wm_link_clear_candidates(wm_link_t *l) {
    // Park the SSID of the connect in flight in the orphan slot; commit remaps it.
    if (l->st.has_cur && l->st.cur_slot >= 0) {
        const wm_link_candidate_t *c = &l->cands[l->st.cur_slot];
        memcpy(l->orphan_ssid, c->ssid, c->ssid_len);
        l->orphan_ssid_len = c->ssid_len;
        l->st.cur_slot = WM_LINK_ORPHAN_SLOT;
    }
    l->cand_count = 0;
    l->backoff_count = 0;
    l->plan_len = 0;
    l->plan_pos = 0;
}

int wm_link_add_candidate(wm_link_t *l, const uint8_t *ssid, size_t ssid_len, bool hidden,
    const uint8_t *bssid) {
    if (ssid == NULL || ssid_len < 1 || ssid_len > WM_LINK_SSID_MAX) {
        return WM_LINK_ERR_SSID;
    }
    if (l->cand_count >= WM_LINK_MAX_CANDIDATES) {
        return WM_LINK_ERR_FULL;
    }
    wm_link_candidate_t *c = &l->cands[l->cand_count];
    memset(c, 0, sizeof(*c));
    memcpy(c->ssid, ssid, ssid_len);
    c->ssid_len = (uint8_t)ssid_len;
    c->hidden = hidden;
    if (bssid != NULL) {
        c->has_bssid = 1;
        memcpy(c->bssid, bssid, 6);
    }
    return l->cand_count++;
}

void wm_link_commit_candidates(wm_link_t *l) {
    if (l->st.has_cur && l->st.cur_slot == WM_LINK_ORPHAN_SLOT) {
        int slot = slot_of(l, l->orphan_ssid, l->orphan_ssid_len);
        if (slot >= 0) {
            l->st.cur_slot = (int8_t)slot;
        }
    }
}

static int served_of(const wm_link_t *l, const uint8_t bssid[6]) {
    for (int i = 0; i < l->served_count; i++) {
        if (memcmp(l->served[i].bssid, bssid, 6) == 0) {
            return i;
        }
    }
    return -1;
}

// `bssid` gave an address for `ssid` on `channel`: the latest last; a full list gives up the
// oldest.
static void add_served(wm_link_t *l, const uint8_t *ssid, size_t ssid_len, const uint8_t bssid[6],
    uint8_t channel) {
    int i = served_of(l, bssid);
    if (i < 0 && l->served_count == WM_LINK_MAX_BACKOFFS) {
        i = 0;
    }
    if (i >= 0) {
        memmove(&l->served[i], &l->served[i + 1],
            (size_t)(l->served_count - 1 - i) * sizeof(wm_link_served_t));
        l->served_count--;
    }
    wm_link_served_t *s = &l->served[l->served_count++];
    memmove(s->bssid, bssid, 6);
    memmove(s->ssid, ssid, ssid_len);
    s->ssid_len = (uint8_t)ssid_len;
    s->channel = channel;
}

int wm_link_remember(wm_link_t *l, const uint8_t *ssid, size_t ssid_len, const uint8_t bssid[6],
    uint8_t channel) {
    if (ssid == NULL || ssid_len < 1 || ssid_len > WM_LINK_SSID_MAX) {
        return WM_LINK_ERR_SSID;
    }
    if (channel < 1 || channel > 14) {
        return WM_LINK_ERR_CHANNEL;
    }
    memcpy(l->hint_ssid, ssid, ssid_len);
    l->hint_ssid_len = (uint8_t)ssid_len;
    memcpy(l->hint_bssid, bssid, 6);
    l->hint_channel = channel;
    l->has_hint = 1;
    add_served(l, ssid, ssid_len, bssid, channel);
    return WM_LINK_OK;
}

const uint8_t *wm_link_ssid_of(const wm_link_t *l, int slot, size_t *len) {
    if (slot == WM_LINK_TRIAL_SLOT) {
        *len = l->trial_ssid_len;
        return l->trial_ssid;
    }
    if (slot == WM_LINK_ORPHAN_SLOT) {
        *len = l->orphan_ssid_len;
        return l->orphan_ssid;
    }
    if (slot < 0 || slot >= l->cand_count) {
        *len = 0;
        return NULL;
    }
    *len = l->cands[slot].ssid_len;
    return l->cands[slot].ssid;
}

int64_t wm_link_deadline(const wm_link_t *l) {
    if (l->t_linger_set && (!l->t_state_set || !due(l->t_state, l->t_linger))) {
        return l->t_linger;
    }
    return l->t_state_set ? (int64_t)l->t_state : -1;
}

void wm_link_get_status(const wm_link_t *l, wm_link_status_t *st) {
    *st = l->st;
}

// --- the reducer ------------------------------------------------------------------------------

static wm_link_action_t *emit(wm_link_t *l, uint8_t kind) {
    // Past `cap` actions are written to a spare and dropped (never with WM_LINK_MAX_ACTIONS).
    wm_link_action_t *a = l->out_len < l->out_cap ? &l->out[l->out_len] : &l->spill;
    l->out_len++;
    memset(a, 0, sizeof(*a));
    a->kind = kind;
    if (kind == WM_LINK_ACT_SCAN) {
        l->listed = 1;
    }
    return a;
}

static void set_ap(wm_link_t *l, bool on) {
    if (on != (bool)l->st.ap_on) {
        l->st.ap_on = on;
        emit(l, on ? WM_LINK_ACT_AP_START : WM_LINK_ACT_AP_STOP);
    }
}

static void set_state_timer(wm_link_t *l, bool set, uint32_t at) {
    l->t_state_set = set;
    l->t_state = at;
}

static void do_connect(wm_link_t *l, int slot, bool has_bssid, const uint8_t *bssid,
    uint8_t channel, uint8_t kind, uint32_t now) {
    l->st.has_cur = 1;
    l->st.cur_slot = (int8_t)slot;
    l->cur_has_bssid = has_bssid;
    if (has_bssid) {
        memcpy(l->cur_bssid, bssid, 6);
    }
    l->cur_channel = channel;
    l->cur_kind = kind;
    l->probing = kind == WM_LINK_KIND_PROBE;
    // A probe is quiet: the state stays WAITING (no status change, no attempt) until it
    // associates.
    if (!l->probing) {
        l->st.state = WM_LINK_CONNECTING;
        l->st.attempts++;
    }
    uint32_t timeout = l->policy.connect_timeout_ms;
    if (kind != WM_LINK_KIND_PLAN && timeout > WM_LINK_PROBE_TIMEOUT_MS) {
        timeout = WM_LINK_PROBE_TIMEOUT_MS;
    }
    set_state_timer(l, true, now + timeout);
    wm_link_action_t *a = emit(l, WM_LINK_ACT_CONNECT);
    a->slot = (int8_t)slot;
    a->has_bssid = has_bssid;
    if (has_bssid) {
        memcpy(a->bssid, bssid, 6);
    }
    a->channel = channel;
}

// A candidate's joins by name wait out its backoff.
static bool backed_off(const wm_link_t *l, int slot, uint32_t now) {
    const wm_link_candidate_t *c = &l->cands[slot];
    return c->fails > 0 && !due(c->retry_at, now);
}

static int backoff_of(const wm_link_t *l, const uint8_t bssid[6]) {
    for (int i = 0; i < l->backoff_count; i++) {
        if (memcmp(l->backoffs[i].bssid, bssid, 6) == 0) {
            return i;
        }
    }
    return -1;
}

static bool bssid_backed_off(const wm_link_t *l, const uint8_t bssid[6], uint32_t now) {
    int i = backoff_of(l, bssid);
    return i >= 0 && !due(l->backoffs[i].retry_at, now);
}

// The slot of the candidate `ssid` if it is free to try through `bssid` (not backed off, and a
// pinned candidate only through its own BSSID), else -1.
static int slot_through(const wm_link_t *l, const uint8_t *ssid, size_t len,
    const uint8_t bssid[6], uint32_t now) {
    int slot = slot_of(l, ssid, len);
    if (slot < 0 || backed_off(l, slot, now) || bssid_backed_off(l, bssid, now)) {
        return -1;
    }
    const wm_link_candidate_t *c = &l->cands[slot];
    return c->has_bssid && memcmp(c->bssid, bssid, 6) != 0 ? -1 : slot;
}

// The slot of the remembered network if it is a candidate free to try there, else -1.
static int hint_slot(const wm_link_t *l, uint32_t now) {
    return l->has_hint ? slot_through(l, l->hint_ssid, l->hint_ssid_len, l->hint_bssid, now) : -1;
}

// The slot of the network `served` entry i gave an address for if it is free to try there, else
// -1.
static int served_slot(const wm_link_t *l, int i, uint32_t now) {
    const wm_link_served_t *s = &l->served[i];
    return slot_through(l, s->ssid, s->ssid_len, s->bssid, now);
}

// The entry of `served` the next probe goes to: the first free to try from probe_next on,
// round the list, or -1.
static int next_probe(const wm_link_t *l, uint32_t now) {
    for (int k = 0; k < l->served_count; k++) {
        int i = (l->probe_next + k) % l->served_count;
        if (served_slot(l, i, now) >= 0) {
            return i;
        }
    }
    return -1;
}

// With nothing remembered and one candidate a scan cannot change the choice: that candidate
// by name, the radio finding its channel (ESP-IDF's fast scan stops at the first that answers).
static bool only_candidate(const wm_link_t *l, uint32_t now) {
    return l->policy.probe_ms != 0 && !l->has_hint && l->cand_count == 1 && !backed_off(l, 0, now);
}

// A round: the remembered BSSID on its channel if allowed (its turn of the probes: they go on
// from the next), else the only candidate by name, else a full scan (always a scan when
// `cached` is false: rescan()).
static void begin_round(wm_link_t *l, uint32_t now, bool cached) {
    l->round_start = now;
    l->plan_len = 0;
    l->plan_pos = 0;
    l->probing = 0;
    int slot = cached ? hint_slot(l, now) : -1;
    if (slot >= 0) {
        int turn = served_of(l, l->hint_bssid);
        if (turn >= 0) {
            l->probe_next = (uint8_t)(turn + 1);
        }
        do_connect(l, slot, true, l->hint_bssid, l->hint_channel, WM_LINK_KIND_CACHED, now);
        return;
    }
    if (cached && only_candidate(l, now)) {
        const wm_link_candidate_t *c = &l->cands[0];
        do_connect(l, 0, c->has_bssid, c->bssid, 0, WM_LINK_KIND_DIRECT, now);
        return;
    }
    l->st.state = WM_LINK_SCANNING;
    set_state_timer(l, true, now + WM_LINK_SCAN_TIMEOUT_MS);
    l->st.has_cur = 0;
    emit(l, WM_LINK_ACT_SCAN);
}

// Sorted by the first position of the SSID in the list, then RSSI; past WM_LINK_MAX_PLAN the
// last is dropped.
static void plan_insert(wm_link_t *l, const wm_link_plan_t *e) {
    int i = l->plan_len;
    while (i > 0 && (l->plan[i - 1].rank > e->rank
                     || (l->plan[i - 1].rank == e->rank && l->plan[i - 1].rssi < e->rssi))) {
        i--;
    }
    if (i >= WM_LINK_MAX_PLAN) {
        return;
    }
    int last = l->plan_len < WM_LINK_MAX_PLAN ? l->plan_len : WM_LINK_MAX_PLAN - 1;
    for (int j = last; j > i; j--) {
        l->plan[j] = l->plan[j - 1];
    }
    l->plan[i] = *e;
    if (l->plan_len < WM_LINK_MAX_PLAN) {
        l->plan_len++;
    }
}

static void make_plan(wm_link_t *l, const wm_link_record_t *recs, size_t n, uint32_t now) {
    l->plan_len = 0;
    l->plan_pos = 0;
    for (int slot = 0; slot < l->cand_count; slot++) {
        const wm_link_candidate_t *c = &l->cands[slot];
        wm_link_plan_t e;
        memset(&e, 0, sizeof(e));
        e.slot = (int8_t)slot;
        e.rank = (uint8_t)slot_of(l, c->ssid, c->ssid_len);
        bool seen = false;
        for (size_t i = 0; i < n; i++) {
            const wm_link_record_t *r = &recs[i];
            if (r->ssid_len != c->ssid_len || memcmp(r->ssid, c->ssid, c->ssid_len) != 0
                || r->rssi < l->policy.min_rssi) {
                continue;
            }
            if (c->has_bssid && memcmp(r->bssid, c->bssid, 6) != 0) {
                continue;
            }
            seen = true;
            if (!bssid_backed_off(l, r->bssid, now)) {
                e.has_bssid = 1;
                memcpy(e.bssid, r->bssid, 6);
                e.channel = valid_channel(r->channel);
                e.rssi = r->rssi;
                plan_insert(l, &e);
            }
        }
        if (!seen && c->hidden && !backed_off(l, slot, now)) {
            e.has_bssid = c->has_bssid;
            memcpy(e.bssid, c->bssid, 6);
            e.channel = 0;
            e.rssi = -128;
            plan_insert(l, &e);
        }
    }
}

// WAITING: the timer is the next probe when there is something to probe before the round;
// `after` after this one (0 after a round: the scan has been away from the channel).
static void wait(wm_link_t *l, uint32_t now, uint32_t after) {
    l->st.state = WM_LINK_WAITING;
    l->st.has_cur = 0;
    l->probing = 0;
    uint32_t t = l->round_at;
    if (l->policy.probe_ms != 0 && (next_probe(l, now) >= 0 || only_candidate(l, now))
        && (int32_t)(now + after - t) < 0) {
        t = now + after;
    }
    set_state_timer(l, true, t);
}

// While waiting: the BSSIDs that gave an address for a candidate in turn, each on its channel
// (one channel dwell on a device; the remembered one is among them, and a node of the network
// still away does not hide another that is back), else the only candidate by name (the radio's
// channel search). Only an address puts a BSSID in the turn: an access point that copies a
// known SSID is never probed.
static void probe(wm_link_t *l, uint32_t now) {
    int i = next_probe(l, now);
    if (i >= 0) {
        const wm_link_served_t *s = &l->served[i];
        l->probe_next = (uint8_t)(i + 1);
        do_connect(l, served_slot(l, i, now), true, s->bssid, s->channel, WM_LINK_KIND_PROBE,
            now);
    } else if (only_candidate(l, now)) {
        const wm_link_candidate_t *c = &l->cands[0];
        do_connect(l, 0, c->has_bssid, c->bssid, 0, WM_LINK_KIND_PROBE, now);
    } else {
        wait(l, now, l->policy.probe_ms);
    }
}

// A failed trial is not a failed round: it neither opens the AP nor counts towards retries.
static void round_failed(wm_link_t *l, uint32_t now, bool trial) {
    if (!trial) {
        l->failed_rounds++;
    }
    uint32_t t = l->round_start + l->policy.rescan_ms;
    uint32_t floor = now + l->policy.backoff_min_ms;
    if ((int32_t)(t - floor) < 0) {
        t = floor;
    }
    l->round_at = t;
    wait(l, now, 0);
    if (!trial && l->policy.ap_policy == WM_LINK_AP_FALLBACK
        && l->failed_rounds >= l->policy.retries) {
        set_ap(l, true);
    }
}

static void try_next(wm_link_t *l, uint32_t now) {
    while (l->plan_pos < l->plan_len) {
        const wm_link_plan_t *e = &l->plan[l->plan_pos++];
        if (e->has_bssid ? !bssid_backed_off(l, e->bssid, now) : !backed_off(l, e->slot, now)) {
            do_connect(l, e->slot, e->has_bssid, e->bssid, e->channel, WM_LINK_KIND_PLAN, now);
            return;
        }
    }
    round_failed(l, now, false);
}

// backoff_min_ms after the first failure, doubling with every further one up to backoff_max_ms.
static uint32_t backoff_after(const wm_link_t *l, uint16_t fails) {
    uint32_t backoff = l->policy.backoff_min_ms;
    for (unsigned i = 1; i < fails; i++) {
        backoff *= 2;
        if (backoff >= l->policy.backoff_max_ms) {
            break;
        }
    }
    if (backoff > l->policy.backoff_max_ms) {
        backoff = l->policy.backoff_max_ms;
    }
    return backoff;
}

// The failure of the connect in flight backs off its BSSID when known (the network's other
// access points stay free: one of them may be a broken mesh node), else the candidate's joins
// by name. A full table gives up the entry due first. No address from a BSSID that gave one is
// its network's services late, not the access point failing (a rebooting router's radio is
// back before its DHCP server): it backs nothing off, and the probes go on.
static void count_failure(wm_link_t *l, int slot, uint8_t reason, uint32_t now) {
    if (reason == WM_LINK_REASON_NO_IP && l->cur_has_bssid && served_of(l, l->cur_bssid) >= 0) {
        return;
    }
    if (!l->cur_has_bssid) {
        wm_link_candidate_t *c = &l->cands[slot];
        if (c->fails < UINT16_MAX) {
            c->fails++;
        }
        c->retry_at = now + backoff_after(l, c->fails);
        return;
    }
    int i = backoff_of(l, l->cur_bssid);
    if (i < 0 && l->backoff_count < WM_LINK_MAX_BACKOFFS) {
        i = l->backoff_count++;
        l->backoffs[i].fails = 0;
    } else if (i < 0) {
        i = 0;
        for (int j = 1; j < WM_LINK_MAX_BACKOFFS; j++) {
            if ((int32_t)(l->backoffs[j].retry_at - l->backoffs[i].retry_at) < 0) {
                i = j;
            }
        }
        l->backoffs[i].fails = 0;
    }
    wm_link_backoff_t *b = &l->backoffs[i];
    memcpy(b->bssid, l->cur_bssid, 6);
    if (b->fails < UINT16_MAX) {
        b->fails++;
    }
    b->retry_at = now + backoff_after(l, b->fails);
}

// The network the probes and a round's fast reconnect go to: `slot`'s SSID through `bssid`.
static void set_hint(wm_link_t *l, int slot, const uint8_t bssid[6], uint8_t channel) {
    size_t len;
    const uint8_t *ssid = wm_link_ssid_of(l, slot, &len);
    memmove(l->hint_ssid, ssid, len);
    l->hint_ssid_len = (uint8_t)len;
    memmove(l->hint_bssid, bssid, 6);
    l->hint_channel = channel;
    l->has_hint = 1;
}

static void failed(wm_link_t *l, uint8_t reason, uint32_t now) {
    int slot = l->st.cur_slot;
    if (reason == WM_LINK_REASON_NO_IP && slot >= 0 && l->cur_has_bssid && l->cur_channel
        && served_of(l, l->cur_bssid) >= 0) {
        // A BSSID that gave an address is on the air with its services late: the one to probe
        // and to join first from now on (the owner's last_good stays as it was).
        set_hint(l, slot, l->cur_bssid, l->cur_channel);
    }
    uint8_t kind = l->cur_kind;
    bool probing = l->probing;
    l->probing = 0;
    l->st.has_cur = 0;
    set_state_timer(l, false, 0);
    if (probing && slot != WM_LINK_ORPHAN_SLOT) {
        // Nothing answered (or it refused us: then its backoff pauses the probes). Quiet.
        if (reason != WM_LINK_REASON_NOT_FOUND) {
            l->st.reason = reason;
            count_failure(l, slot, reason, now);
        }
        wait(l, now, l->policy.probe_ms);
        return;
    }
    l->st.reason = reason;
    if (slot == WM_LINK_TRIAL_SLOT) {
        l->st.trial = WM_LINK_TRIAL_FAILED;
        l->st.trial_reason = reason;
        round_failed(l, now, true);
        return;
    }
    if (slot == WM_LINK_ORPHAN_SLOT) {
        // The candidate list changed under this attempt: a new round on the new list.
        begin_round(l, now, true);
        return;
    }
    if (kind == WM_LINK_KIND_DIRECT && reason != WM_LINK_REASON_NOT_FOUND) {
        // The network is on the air but the access point the radio chose failed (no address,
        // refused, association lost): one bad BSSID explains it. A scan and the others of the
        // plan, the AP only if the round fails. A wrong password too: ESP-IDF reports a
        // handshake timeout (a weak or broken access point) as one, and a password that is
        // really wrong fails on every BSSID of the plan before the AP opens.
        count_failure(l, slot, reason, now);
    } else if (kind == WM_LINK_KIND_DIRECT) {
        // The radio searched every channel for the only candidate, as a scan would have: the
        // network is not on the air and the round has failed. The first time the fallback AP
        // opens now if this round is the one, and a scan ends the round: the portal's list.
        if (l->listed) {
            round_failed(l, now, false);
            return;
        }
        if (l->policy.ap_policy == WM_LINK_AP_FALLBACK
            && l->failed_rounds + 1 >= l->policy.retries) {
            set_ap(l, true);
        }
    }
    if (kind == WM_LINK_KIND_CACHED || kind == WM_LINK_KIND_DIRECT) {
        l->st.state = WM_LINK_SCANNING;
        set_state_timer(l, true, now + WM_LINK_SCAN_TIMEOUT_MS);
        emit(l, WM_LINK_ACT_SCAN);
        return;
    }
    count_failure(l, slot, reason, now);
    try_next(l, now);
}

static void ap_after_ip(wm_link_t *l) {
    if (l->policy.ap_policy == WM_LINK_AP_FALLBACK && l->st.state == WM_LINK_CONNECTED
        && !l->t_linger_set) {
        set_ap(l, false);
    }
}

static void got_ip(wm_link_t *l, const wm_link_event_t *ev, uint32_t now) {
    int slot = l->st.cur_slot;
    bool has_bssid = ev->has_bssid || l->cur_has_bssid;
    const uint8_t *bssid = ev->has_bssid ? ev->bssid : l->cur_bssid;
    uint8_t channel = valid_channel(ev->channel) ? valid_channel(ev->channel) : l->cur_channel;
    if (l->probing) {
        l->probing = 0;
        l->st.attempts++;
    }
    l->st.state = WM_LINK_CONNECTED;
    l->st.reason = WM_LINK_REASON_NONE;
    l->failed_rounds = 0;
    set_state_timer(l, false, 0);
    l->plan_len = 0;
    l->plan_pos = 0;
    if (slot == WM_LINK_TRIAL_SLOT) {
        l->st.trial = WM_LINK_TRIAL_CONNECTED;
        l->st.trial_reason = WM_LINK_REASON_NONE;
        if (l->policy.ap_policy == WM_LINK_AP_FALLBACK && l->st.ap_on) {
            l->t_linger_set = 1;
            l->t_linger = now + l->policy.linger_ms;
        }
    } else if (slot >= 0) {
        l->cands[slot].fails = 0;
        l->cands[slot].retry_at = 0;
    }
    if (has_bssid) {
        size_t len;
        const uint8_t *ssid = wm_link_ssid_of(l, slot, &len);
        add_served(l, ssid, len, bssid, channel);
    }
    int joined = has_bssid ? backoff_of(l, bssid) : -1;
    if (joined >= 0) {
        l->backoffs[joined] = l->backoffs[--l->backoff_count];
    }
    if (has_bssid && channel) {
        set_hint(l, slot, bssid, channel);
        wm_link_action_t *a = emit(l, WM_LINK_ACT_REMEMBER);
        a->slot = (int8_t)slot;
        a->has_bssid = 1;
        memcpy(a->bssid, bssid, 6);
        a->channel = channel;
    }
    ap_after_ip(l);
    if (l->cur_kind == WM_LINK_KIND_DIRECT && !l->listed) {
        // Joined without a scan: one now (the station is linked), for the portal's list.
        emit(l, WM_LINK_ACT_SCAN);
    }
}

static void on_timer(wm_link_t *l, uint32_t now) {
    if (l->t_linger_set && due(l->t_linger, now)) {
        l->t_linger_set = 0;
        ap_after_ip(l);
    }
    if (!l->t_state_set || !due(l->t_state, now)) {
        return;
    }
    if (l->st.state == WM_LINK_WAITING && l->probing) {
        emit(l, WM_LINK_ACT_DISCONNECT);
        failed(l, WM_LINK_REASON_NOT_FOUND, now);
    } else if (l->st.state == WM_LINK_WAITING && due(l->round_at, now)) {
        begin_round(l, now, true);
    } else if (l->st.state == WM_LINK_WAITING) {
        probe(l, now);
    } else if (l->st.state == WM_LINK_SCANNING) {
        make_plan(l, NULL, 0, now);
        try_next(l, now);
    } else if (l->st.state == WM_LINK_CONNECTING) {
        emit(l, WM_LINK_ACT_DISCONNECT);
        failed(l, WM_LINK_REASON_NOT_FOUND, now);
    } else if (l->st.state == WM_LINK_GETTING_IP) {
        emit(l, WM_LINK_ACT_DISCONNECT);
        failed(l, WM_LINK_REASON_NO_IP, now);
    }
}

static void start(wm_link_t *l, uint32_t now) {
    if (l->st.started) {
        return;
    }
    l->st.started = 1;
    l->listed = 0;
    l->st.reason = WM_LINK_REASON_NONE;
    l->st.attempts = 0;
    l->failed_rounds = 0;
    if (l->policy.ap_policy == WM_LINK_AP_ALWAYS) {
        set_ap(l, true);
    }
    begin_round(l, now, true);
}

static bool in_flight(const wm_link_t *l) {
    return l->st.state == WM_LINK_CONNECTING || l->st.state == WM_LINK_GETTING_IP
           || l->st.state == WM_LINK_CONNECTED || l->probing;
}

static void stop(wm_link_t *l) {
    if (!l->st.started) {
        return;
    }
    if (in_flight(l)) {
        emit(l, WM_LINK_ACT_DISCONNECT);
    }
    set_ap(l, false);
    l->st.started = 0;
    l->st.state = WM_LINK_IDLE;
    l->st.has_cur = 0;
    l->probing = 0;
    l->plan_len = 0;
    l->plan_pos = 0;
    set_state_timer(l, false, 0);
    l->t_linger_set = 0;
    if (l->st.trial == WM_LINK_TRIAL_TRYING) {
        l->st.trial = WM_LINK_TRIAL_FAILED;
        l->st.trial_reason = WM_LINK_REASON_NONE;
    }
}

static void try_trial(wm_link_t *l, const wm_link_event_t *ev, uint32_t now) {
    if (in_flight(l)) {
        emit(l, WM_LINK_ACT_DISCONNECT);
    }
    size_t len = ev->ssid_len > WM_LINK_SSID_MAX ? WM_LINK_SSID_MAX : ev->ssid_len;
    memcpy(l->trial_ssid, ev->ssid, len);
    l->trial_ssid_len = (uint8_t)len;
    l->st.trial = WM_LINK_TRIAL_TRYING;
    l->st.trial_reason = WM_LINK_REASON_NONE;
    l->t_linger_set = 0;
    l->plan_len = 0;
    l->plan_pos = 0;
    do_connect(l, WM_LINK_TRIAL_SLOT, false, NULL, 0, WM_LINK_KIND_PLAN, now);
}

// A disconnect naming another network or access point than the connect in flight: the late
// report of the link just left (ESP-IDF sends it after the next connect has begun).
static bool stale(const wm_link_t *l, const wm_link_event_t *ev) {
    if (!l->st.has_cur) {
        return false;
    }
    size_t len;
    const uint8_t *cur = wm_link_ssid_of(l, l->st.cur_slot, &len);
    if (ev->ssid != NULL && cur != NULL
        && (ev->ssid_len != len || memcmp(ev->ssid, cur, len) != 0)) {
        return true;
    }
    return ev->has_bssid && l->cur_has_bssid && memcmp(ev->bssid, l->cur_bssid, 6) != 0;
}

size_t wm_link_step(wm_link_t *l, const wm_link_event_t *ev, uint32_t now,
    wm_link_action_t *out, size_t cap) {
    l->out = out;
    l->out_len = 0;
    l->out_cap = cap;
    wm_link_status_t before = l->st;
    switch (ev->kind) {
        case WM_LINK_EV_START:
            start(l, now);
            break;
        case WM_LINK_EV_STOP:
            stop(l);
            break;
        default:
            if (!l->st.started) {
                break;
            }
            switch (ev->kind) {
                case WM_LINK_EV_TIMER:
                    on_timer(l, now);
                    break;
                case WM_LINK_EV_SCAN_DONE:
                    if (l->st.state == WM_LINK_SCANNING) {
                        make_plan(l, ev->records, ev->records ? ev->record_count : 0, now);
                        try_next(l, now);
                    }
                    break;
                case WM_LINK_EV_ASSOCIATED:
                    if (l->probing) {
                        // The remembered network answered: a join like the cached one.
                        l->probing = 0;
                        l->cur_kind = WM_LINK_KIND_CACHED;
                        l->st.attempts++;
                        l->st.state = WM_LINK_GETTING_IP;
                        set_state_timer(l, true, now + l->policy.dhcp_timeout_ms);
                    } else if (l->st.state == WM_LINK_CONNECTING) {
                        l->st.state = WM_LINK_GETTING_IP;
                        set_state_timer(l, true, now + l->policy.dhcp_timeout_ms);
                    }
                    break;
                case WM_LINK_EV_GOT_IP:
                    if (l->st.state == WM_LINK_CONNECTING || l->st.state == WM_LINK_GETTING_IP
                        || l->probing) {
                        got_ip(l, ev, now);
                    }
                    break;
                case WM_LINK_EV_DISCONNECTED:
                    if (stale(l, ev)) {
                        break;
                    }
                    if (l->st.state == WM_LINK_CONNECTING || l->st.state == WM_LINK_GETTING_IP
                        || l->probing) {
                        // An unknown reason counts as not_found.
                        failed(l, ev->reason >= WM_LINK_REASON_WRONG_PASSWORD
                            && ev->reason <= WM_LINK_REASON_LINK_LOST
                            ? ev->reason : WM_LINK_REASON_NOT_FOUND, now);
                    } else if (l->st.state == WM_LINK_CONNECTED) {
                        l->st.reason = WM_LINK_REASON_LINK_LOST;
                        l->st.attempts = 0;
                        l->failed_rounds = 0;
                        begin_round(l, now, true);
                    }
                    break;
                case WM_LINK_EV_RESCAN:
                    if (l->st.state == WM_LINK_WAITING) {
                        if (l->probing) {
                            emit(l, WM_LINK_ACT_DISCONNECT);
                        }
                        begin_round(l, now, false);
                    } else if (l->st.state == WM_LINK_CONNECTED) {
                        emit(l, WM_LINK_ACT_SCAN);
                    }
                    break;
                case WM_LINK_EV_TRY:
                    if (ev->ssid != NULL && ev->ssid_len >= 1) {
                        try_trial(l, ev, now);
                    }
                    break;
                case WM_LINK_EV_FINISH:
                    l->t_linger_set = 0;
                    ap_after_ip(l);
                    break;
                default:
                    break;
            }
    }
    if (l->st.state != before.state || l->st.reason != before.reason
        || l->st.ap_on != before.ap_on || l->st.trial != before.trial
        || l->st.attempts != before.attempts) {
        wm_link_action_t *a = emit(l, WM_LINK_ACT_STATUS);
        a->state = l->st.state;
    }
    l->out = NULL;
    return l->out_len < cap ? l->out_len : cap;
}
