// Runs wm_link_step on a fixed cycle of events, for `valgrind --tool=callgrind
// --toggle-collect=wm_link_step`: instructions per event = the collected total / the steps.
// The cycle: boot with a 20-record scan, join, lose the link, fail the fast reconnect, scan,
// a wrong password on the first choice, the second joins, a trial, stop.
// usage: link_callgrind ROUNDS [scan]; prints the number of steps made. With `scan`, rounds of
// one START and ten SCAN_DONE of 20 records (the costliest event).

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/link.h"

static wm_link_record_t recs[20];

static void records(void) {
    static const char *const names[] = { "Home", "Work", "Cafe", "Neighbour", "Guest" };
    for (int i = 0; i < 20; i++) {
        const char *n = names[i % 5];
        memset(&recs[i], 0, sizeof(recs[i]));
        recs[i].ssid_len = (uint8_t)strlen(n);
        memcpy(recs[i].ssid, n, recs[i].ssid_len);
        recs[i].bssid[0] = 0xaa;
        recs[i].bssid[5] = (uint8_t)i;
        recs[i].channel = (uint8_t)(1 + i % 13);
        recs[i].rssi = (int8_t)(-40 - 2 * i);
        recs[i].authmode = 3;
    }
}

static unsigned long steps;
static wm_link_action_t out[WM_LINK_MAX_ACTIONS];

static size_t step(wm_link_t *l, uint8_t kind, uint8_t reason, uint32_t now) {
    wm_link_event_t ev;
    memset(&ev, 0, sizeof(ev));
    ev.kind = kind;
    ev.reason = reason;
    if (kind == WM_LINK_EV_SCAN_DONE) {
        ev.records = recs;
        ev.record_count = 20;
    } else if (kind == WM_LINK_EV_TRY) {
        ev.ssid = (const uint8_t *)"Cafe";
        ev.ssid_len = 4;
    }
    steps++;
    return wm_link_step(l, &ev, now, out, WM_LINK_MAX_ACTIONS);
}

int main(int argc, char **argv) {
    long rounds = argc > 1 ? atol(argv[1]) : 1000;
    int scan_only = argc > 2 && strcmp(argv[2], "scan") == 0;
    records();
    wm_link_t l;
    size_t acts = 0;
    for (long r = 0; r < rounds; r++) {
        wm_link_init(&l);
        wm_link_add_candidate(&l, (const uint8_t *)"Work", 4, false, NULL);
        wm_link_add_candidate(&l, (const uint8_t *)"Home", 4, false, NULL);
        wm_link_add_candidate(&l, (const uint8_t *)"Attic", 5, true, NULL);
        wm_link_commit_candidates(&l);
        uint32_t t = (uint32_t)r * 100000u;
        if (scan_only) {
            // One START per 10 SCAN_DONE: the start is a tenth of the count, and cheap.
            step(&l, WM_LINK_EV_START, 0, t);
            for (int k = 0; k < 10; k++) {
                l.st.state = WM_LINK_SCANNING;
                acts += step(&l, WM_LINK_EV_SCAN_DONE, 0, t + 1950);
            }
            continue;
        }
        acts += step(&l, WM_LINK_EV_START, 0, t);
        acts += step(&l, WM_LINK_EV_SCAN_DONE, 0, t + 1950);
        acts += step(&l, WM_LINK_EV_ASSOCIATED, 0, t + 2430);
        acts += step(&l, WM_LINK_EV_GOT_IP, 0, t + 3380);
        acts += step(&l, WM_LINK_EV_DISCONNECTED, WM_LINK_REASON_LINK_LOST, t + 60000);
        acts += step(&l, WM_LINK_EV_DISCONNECTED, WM_LINK_REASON_NOT_FOUND, t + 60030);
        acts += step(&l, WM_LINK_EV_SCAN_DONE, 0, t + 61980);
        acts += step(&l, WM_LINK_EV_DISCONNECTED, WM_LINK_REASON_WRONG_PASSWORD, t + 63000);
        acts += step(&l, WM_LINK_EV_ASSOCIATED, 0, t + 63500);
        acts += step(&l, WM_LINK_EV_TIMER, 0, t + 63600);
        acts += step(&l, WM_LINK_EV_GOT_IP, 0, t + 64400);
        acts += step(&l, WM_LINK_EV_TRY, 0, t + 70000);
        acts += step(&l, WM_LINK_EV_DISCONNECTED, WM_LINK_REASON_WRONG_PASSWORD, t + 71000);
        acts += step(&l, WM_LINK_EV_TIMER, 0, t + 72000);
        acts += step(&l, WM_LINK_EV_STOP, 0, t + 73000);
    }
    printf("%lu steps %lu actions\n", steps, (unsigned long)acts);
    return acts ? 0 : 1;
}
