// libFuzzer harness for core/link.c: every input is a policy, a candidate list and a sequence of
// events, commands, reconfigurations and clock jumps (near the 32-bit wrap too). Built with
// -fsanitize=fuzzer,address,undefined by `make fuzz-link`; the seed corpus is every vector of
// tests/link_vectors.json (tests/fuzz/link_corpus.py). Besides ASan/UBSan it checks what must
// hold after every step: at most WM_LINK_MAX_ACTIONS actions, never two connects in flight,
// the AP as the policy says, every connect to a known slot, and no busy state without a timer
// (nothing can get stuck waiting for an event that never comes).
//
// Input layout: 10 header bytes (policy, base time, candidate count and hint), one byte per
// candidate, then events: a kind byte (low 4 bits: the kind, bit 4: jump to the deadline), two
// bytes of elapsed ms and the kind's payload. Missing bytes read as 0.

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/link.h"

static const char *const ssids[] = { "Home", "Work", "Cafe", "Secret" };
static const uint8_t bssids[4][6] = {
    { 0xaa, 0, 0, 0, 0, 1 }, { 0xaa, 0, 0, 0, 0, 2 }, { 0xbb, 0, 0, 0, 0, 1 }, { 0xcc, 0, 0, 0, 0, 1 },
};

typedef struct {
    const uint8_t *p;
    size_t n;
} input_t;

static uint8_t u8(input_t *in) {
    if (in->n == 0) {
        return 0;
    }
    in->n--;
    return *in->p++;
}

static uint32_t u16(input_t *in) {
    uint32_t lo = u8(in);
    return lo | ((uint32_t)u8(in) << 8);
}

static void add_candidates(wm_link_t *l, input_t *in, unsigned count) {
    wm_link_clear_candidates(l);
    for (unsigned i = 0; i < count; i++) {
        uint8_t b = u8(in);
        const char *ssid = ssids[b & 3];
        int slot = wm_link_add_candidate(l, (const uint8_t *)ssid, strlen(ssid), (b >> 2) & 1,
            (b >> 3) & 1 ? bssids[(b >> 4) & 3] : NULL);
        if (slot != (int)i) {
            abort();
        }
    }
    wm_link_commit_candidates(l);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    input_t in = { data, size };
    wm_link_t *l = malloc(sizeof(wm_link_t));
    wm_link_init(l);

    wm_link_policy_t p;
    wm_link_policy_default(&p);
    p.ap_policy = u8(&in) % 4; // 3 is refused: the default policy stays
    p.retries = 1 + u8(&in) % 3;
    p.backoff_min_ms = 100 + u8(&in) * 50u;
    p.backoff_max_ms = p.backoff_min_ms * (1 + u8(&in) % 16);
    p.rescan_ms = 1000 + u8(&in) * 100u;
    p.connect_timeout_ms = 1000 + u8(&in) * 100u;
    p.dhcp_timeout_ms = 1000 + u8(&in) * 100u;
    p.linger_ms = u8(&in) * 1000u;
    if (wm_link_set_policy(l, &p) != WM_LINK_OK && p.ap_policy <= WM_LINK_AP_NEVER) {
        abort();
    }
    uint8_t ap_policy = l->policy.ap_policy;
    uint32_t now = u8(&in) & 1 ? 0xffffffffu - 40000u : 0;
    uint8_t counts = u8(&in);
    add_candidates(l, &in, (counts & 7) % 5);
    if (counts & 8) {
        const char *ssid = ssids[(counts >> 4) & 3];
        wm_link_remember(l, (const uint8_t *)ssid, strlen(ssid), bssids[counts >> 6], 6);
    }

    bool in_flight = false;
    bool ap = false;
    wm_link_action_t out[WM_LINK_MAX_ACTIONS];
    while (in.n > 0) {
        uint8_t k = u8(&in);
        uint8_t kind = (k & 15) % 12;
        int64_t deadline = wm_link_deadline(l);
        if ((k & 16) && deadline >= 0) {
            now = (uint32_t)deadline;
        } else {
            now += u16(&in);
        }
        wm_link_event_t ev;
        memset(&ev, 0, sizeof(ev));
        ev.kind = kind;
        wm_link_record_t *recs = NULL;
        uint8_t ssid[40];
        if (kind == 10) {
            add_candidates(l, &in, u8(&in) % (WM_LINK_MAX_CANDIDATES + 1));
            continue;
        }
        if (kind == 11) {
            uint8_t b = u8(&in);
            const char *s = ssids[b & 3];
            wm_link_remember(l, (const uint8_t *)s, strlen(s), bssids[(b >> 2) & 3], u8(&in));
            continue;
        }
        if (kind == WM_LINK_EV_SCAN_DONE) {
            // Exactly as many records as the event says: ASan catches any read past them.
            ev.record_count = u8(&in) % 7;
            recs = malloc(ev.record_count * sizeof(*recs) + 1);
            for (size_t i = 0; i < ev.record_count; i++) {
                uint8_t b = u8(&in);
                memset(&recs[i], 0, sizeof(recs[i]));
                if ((b & 7) < 4) {
                    recs[i].ssid_len = (uint8_t)strlen(ssids[b & 3]);
                    memcpy(recs[i].ssid, ssids[b & 3], recs[i].ssid_len);
                } else {
                    recs[i].hidden = 1;
                }
                memcpy(recs[i].bssid, bssids[(b >> 3) & 3], 6);
                recs[i].channel = u8(&in);
                recs[i].rssi = (int8_t)u8(&in);
            }
            ev.records = recs;
        } else if (kind == WM_LINK_EV_DISCONNECTED) {
            ev.reason = u8(&in);
        } else if (kind == WM_LINK_EV_GOT_IP) {
            uint8_t b = u8(&in);
            ev.has_bssid = b & 1;
            memcpy(ev.bssid, bssids[(b >> 1) & 3], 6);
            ev.channel = u8(&in);
        } else if (kind == WM_LINK_EV_TRY) {
            ev.ssid_len = u8(&in) % 40;
            for (size_t i = 0; i < ev.ssid_len; i++) {
                ssid[i] = u8(&in);
            }
            ev.ssid = ssid;
            ev.hidden = ev.ssid_len & 1;
        }
        size_t n = wm_link_step(l, &ev, now, out, WM_LINK_MAX_ACTIONS);
        free(recs);
        if (n > WM_LINK_MAX_ACTIONS || l->out_len > WM_LINK_MAX_ACTIONS) {
            abort();
        }
        if (kind == WM_LINK_EV_DISCONNECTED) {
            in_flight = false; // the radio says the attempt or the link is over
        }
        for (size_t i = 0; i < n; i++) {
            size_t len;
            switch (out[i].kind) {
                case WM_LINK_ACT_CONNECT:
                    if (in_flight || wm_link_ssid_of(l, out[i].slot, &len) == NULL || len < 1
                        || len > WM_LINK_SSID_MAX || out[i].channel > 14) {
                        abort();
                    }
                    in_flight = true;
                    break;
                case WM_LINK_ACT_DISCONNECT:
                    in_flight = false;
                    break;
                case WM_LINK_ACT_AP_START:
                    if (ap || ap_policy == WM_LINK_AP_NEVER) {
                        abort();
                    }
                    ap = true;
                    break;
                case WM_LINK_ACT_AP_STOP:
                    if (!ap) {
                        abort();
                    }
                    ap = false;
                    break;
                case WM_LINK_ACT_REMEMBER:
                    if (out[i].channel < 1 || out[i].channel > 14) {
                        abort();
                    }
                    break;
                case WM_LINK_ACT_STATUS:
                    if (i != n - 1) {
                        abort(); // the status comes last, once
                    }
                    break;
                case WM_LINK_ACT_SCAN:
                    break;
                default:
                    abort();
            }
        }
        wm_link_status_t st;
        wm_link_get_status(l, &st);
        if ((bool)st.ap_on != ap || (!st.started && ap)
            || (st.started && ap_policy == WM_LINK_AP_ALWAYS && !ap)
            || st.reason > WM_LINK_REASON_LINK_LOST || st.trial_reason > WM_LINK_REASON_LINK_LOST) {
            abort();
        }
        bool busy = st.state == WM_LINK_SCANNING || st.state == WM_LINK_CONNECTING
                    || st.state == WM_LINK_GETTING_IP || st.state == WM_LINK_WAITING;
        if (st.started && busy && wm_link_deadline(l) < 0) {
            abort();
        }
        if (!st.started && st.state != WM_LINK_IDLE) {
            abort();
        }
    }
    free(l);
    return 0;
}
