// _wifimgr.Link: the scan/connect state machine type of the _wifimgr module (modwifimgr.c).
// Bindings only: each method converts its arguments and calls into core/link.c or
// port/link_task.c.

#include <stdlib.h>
#include <string.h>

#include "py/mperrno.h"
#include "py/mphal.h"
#include "py/objlist.h"
#include "py/objstr.h"
#include "py/runtime.h"

#include "core/link.h"
#include "port/link_task.h"

// The radio of Link, from the build file.
#include "port/radio.h"

#include "modwifimgr.h"

// ---- Scan/connect state machine: Link, the link task of port/link_task.c around core/link.c. --
// Same Python API as wifimgr.link.Link; wifimgr.linkspec's check_* functions validate the
// arguments (one wording of every error for both backends). On ESP-IDF the radio is port/radio_esp32.c; on
// unix it is port/radio_sim.c, loaded with the scenario of the wifimgr.sim radio behind `sta`
// and shown through it (port/radio_sim_mp.c).

#if WIFIMGR_LINK_SIM
#include "port/radio_sim_mp.h"
#endif

// What the task's thread may touch when it reports a change: outside the VM heap.
typedef struct {
    mp_obj_t link; // passed to mp_sched_schedule, never dereferenced by the thread
    bool threaded;
    volatile bool scheduled;
} wifimgr_link_notify_t;

typedef struct {
    mp_obj_base_t base;
    mp_obj_t sta;
    mp_obj_t ap;
    mp_obj_t clock; // None on a device: the task runs on esp_timer
    mp_obj_t callbacks; // list
    mp_obj_t policy; // dict, as linkspec.check_policy() returned it
    bool stepped; // virtual clock: its pump() steps the task from an asyncio task
    bool sim;
    wifimgr_link_notify_t *notify; // outside the VM heap
    bool listed; // in MP_STATE_PORT(wifimgr_links)
    wm_link_task_t *task; // outside the VM heap: the task's thread reads and writes it
    void *radio;
} wifimgr_link_obj_t;

static const char *const wifimgr_link_states[] = {
    "idle", "scanning", "connecting", "getting_ip", "connected", "waiting",
};
static const char *const wifimgr_link_reasons[] = {
    NULL, "wrong_password", "not_found", "no_ip", "link_lost",
};
static const char *const wifimgr_link_trials[] = { NULL, "trying", "connected", "failed" };
// Why the access point is not up as configured (WM_LINK_AP_ERR_*), for status()["errors"].
static const char *const wifimgr_link_ap_errors[] = {
    NULL, "ap_config: channel not allowed", "ap_config: security not offered by an access point",
    "ap_config: password does not fit the security", "ap_config: refused by the WiFi driver",
};

// wifimgr.linkspec.<fun>(*args), as wifimgr.call_dropped("linkspec", fun, *args) calls it:
// loaded for the call and dropped after it unless something else keeps it (the twin does).
static mp_obj_t wifimgr_link_call(qstr fun, size_t n, const mp_obj_t *args) {
    mp_obj_t pkg = mp_import_name(MP_QSTR_wifimgr, mp_const_none, MP_OBJ_NEW_SMALL_INT(0));
    mp_obj_t call[2 + 3]; // n <= 3: check_hint and check_trial take the most
    call[0] = MP_OBJ_NEW_QSTR(MP_QSTR_linkspec);
    call[1] = MP_OBJ_NEW_QSTR(fun);
    memcpy(call + 2, args, n * sizeof(mp_obj_t));
    return mp_call_function_n_kw(mp_load_attr(pkg, MP_QSTR_call_dropped), 2 + n, 0, call);
}

static mp_obj_t wifimgr_link_name(const char *const *names, size_t i) {
    return names[i] == NULL ? mp_const_none : mp_obj_new_str(names[i], strlen(names[i]));
}

static mp_obj_t wifimgr_link_mac(const uint8_t *mac) {
    vstr_t vstr;
    vstr_init(&vstr, 18);
    vstr_printf(&vstr, "%02x:%02x:%02x:%02x:%02x:%02x", mac[0], mac[1], mac[2], mac[3], mac[4],
        mac[5]);
    return mp_obj_new_str_from_vstr(&vstr);
}

static mp_obj_t wifimgr_link_str(const uint8_t *s, size_t len) {
    return mp_obj_new_str((const char *)s, len);
}

static mp_obj_t wifimgr_link_dict_get(mp_obj_t dict, qstr key) {
    return mp_obj_dict_get(dict, MP_OBJ_NEW_QSTR(key));
}

static mp_obj_t wifimgr_link_status_dict(const wm_link_task_status_t *s) {
    mp_obj_t d = mp_obj_new_dict(12);
    bool connected = s->state == WM_LINK_CONNECTED && s->has_ip;
    mp_obj_t ip = mp_const_none;
    if (s->has_ip) {
        vstr_t vstr;
        vstr_init(&vstr, 16);
        vstr_printf(&vstr, "%u.%u.%u.%u", s->ip[0], s->ip[1], s->ip[2], s->ip[3]);
        ip = mp_obj_new_str_from_vstr(&vstr);
    }
    mp_obj_dict_store(d, MP_OBJ_NEW_QSTR(MP_QSTR_state),
        wifimgr_link_name(wifimgr_link_states, s->state));
    mp_obj_dict_store(d, MP_OBJ_NEW_QSTR(MP_QSTR_ssid),
        s->has_link ? wifimgr_link_str(s->ssid, s->ssid_len) : mp_const_none);
    mp_obj_dict_store(d, MP_OBJ_NEW_QSTR(MP_QSTR_bssid),
        s->has_link && s->has_bssid ? wifimgr_link_mac(s->bssid) : mp_const_none);
    mp_obj_dict_store(d, MP_OBJ_NEW_QSTR(MP_QSTR_channel),
        s->has_link && s->channel ? MP_OBJ_NEW_SMALL_INT(s->channel) : mp_const_none);
    mp_obj_dict_store(d, MP_OBJ_NEW_QSTR(MP_QSTR_rssi),
        connected ? MP_OBJ_NEW_SMALL_INT(s->rssi) : mp_const_none);
    mp_obj_dict_store(d, MP_OBJ_NEW_QSTR(MP_QSTR_ip), connected ? ip : mp_const_none);
    mp_obj_dict_store(d, MP_OBJ_NEW_QSTR(MP_QSTR_reason),
        wifimgr_link_name(wifimgr_link_reasons, s->reason));
    mp_obj_dict_store(d, MP_OBJ_NEW_QSTR(MP_QSTR_attempts), MP_OBJ_NEW_SMALL_INT(s->attempts));
    // Up only if the radio took its config: a refused one leaves it down (ap_error says why).
    mp_obj_dict_store(d, MP_OBJ_NEW_QSTR(MP_QSTR_ap_active),
        mp_obj_new_bool(s->ap_on && s->ap_error == WM_LINK_AP_OK));
    mp_obj_dict_store(d, MP_OBJ_NEW_QSTR(MP_QSTR_ap_error), wifimgr_link_name(
        wifimgr_link_ap_errors, s->ap_error < MP_ARRAY_SIZE(wifimgr_link_ap_errors)
        ? s->ap_error : WM_LINK_AP_ERR_DRIVER));
    mp_obj_t last_good = mp_const_none;
    if (s->has_last_good) {
        mp_obj_t items[3] = {
            wifimgr_link_str(s->last_good_ssid, s->last_good_ssid_len),
            wifimgr_link_mac(s->last_good_bssid), MP_OBJ_NEW_SMALL_INT(s->last_good_channel),
        };
        last_good = mp_obj_new_tuple(3, items);
    }
    mp_obj_dict_store(d, MP_OBJ_NEW_QSTR(MP_QSTR_last_good), last_good);
    mp_obj_t trial = mp_const_none;
    if (s->trial != WM_LINK_TRIAL_NONE) {
        trial = mp_obj_new_dict(4);
        mp_obj_dict_store(trial, MP_OBJ_NEW_QSTR(MP_QSTR_ssid),
            wifimgr_link_str(s->trial_ssid, s->trial_ssid_len));
        mp_obj_dict_store(trial, MP_OBJ_NEW_QSTR(MP_QSTR_state),
            wifimgr_link_name(wifimgr_link_trials, s->trial));
        mp_obj_dict_store(trial, MP_OBJ_NEW_QSTR(MP_QSTR_reason),
            wifimgr_link_name(wifimgr_link_reasons, s->trial_reason));
        mp_obj_dict_store(trial, MP_OBJ_NEW_QSTR(MP_QSTR_ip),
            s->trial == WM_LINK_TRIAL_CONNECTED && connected ? ip : mp_const_none);
    }
    mp_obj_dict_store(d, MP_OBJ_NEW_QSTR(MP_QSTR_trial), trial);
    return d;
}

// Delivers the status changes to the callbacks, in the VM (scheduled, or after a step).
static mp_obj_t wifimgr_link_dispatch(mp_obj_t self_in) {
    wifimgr_link_obj_t *self = MP_OBJ_TO_PTR(self_in);
    if (self->notify != NULL) {
        self->notify->scheduled = false;
    }
    #if WIFIMGR_LINK_SIM
    if (self->task != NULL) {
        wm_radio_sim_mp_show(self->radio, self->sta);
    }
    #endif
    wm_link_task_status_t st;
    uint32_t seq;
    while (self->task != NULL && wm_link_task_peek_change(self->task, &st, &seq)) {
        size_t n;
        mp_obj_t *items;
        mp_obj_list_get(self->callbacks, &n, &items);
        // A MemoryError here leaves the change queued: the next dispatch delivers it (the next
        // notify, or the next step of the clock's pump).
        mp_obj_t status = n == 0 ? mp_const_none : wifimgr_link_status_dict(&st);
        wm_link_task_drop_change(self->task, seq);
        for (size_t i = 0; i < n; i++) {
            // A broken callback must not stop the link: its exception is printed.
            mp_call_function_1_protected(items[i], status);
        }
    }
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_1(wifimgr_link_dispatch_obj, wifimgr_link_dispatch);

// Called by the task after a status change: from its thread (scheduled for the VM), or from
// the VM when stepped (wifimgr_link_advance dispatches then). False when MicroPython's
// scheduler queue (MICROPY_SCHEDULER_DEPTH) is full: the task calls again shortly, so the VM
// still gets the latest status when nothing changes after it.
static bool wifimgr_link_notify(void *ctx) {
    wifimgr_link_notify_t *n = ctx;
    if (n->threaded && !n->scheduled) {
        n->scheduled = true;
        if (!mp_sched_schedule(MP_OBJ_FROM_PTR(&wifimgr_link_dispatch_obj), n->link)) {
            n->scheduled = false;
            return false;
        }
    }
    return true;
}

static uint32_t wifimgr_link_now(wifimgr_link_obj_t *self) {
    if (self->clock == mp_const_none) {
        return mp_hal_ticks_ms();
    }
    mp_obj_t args[2];
    mp_load_method(self->clock, MP_QSTR_now_ms, args);
    return (uint32_t)mp_obj_get_int_truncated(mp_call_method_n_kw(0, 0, args));
}

static wifimgr_link_obj_t *wifimgr_link_ready(mp_obj_t self_in) {
    wifimgr_link_obj_t *self = MP_OBJ_TO_PTR(self_in);
    if (self->task == NULL) {
        mp_raise_OSError(MP_EBADF);
    }
    return self;
}

// Link(sta, ap, clock=None)
static mp_obj_t wifimgr_link_make_new(const mp_obj_type_t *type, size_t n_args, size_t n_kw,
    const mp_obj_t *all_args) {
    enum { ARG_sta, ARG_ap, ARG_clock };
    static const mp_arg_t allowed_args[] = {
        { MP_QSTR_sta, MP_ARG_REQUIRED | MP_ARG_OBJ, {.u_obj = MP_OBJ_NULL} },
        { MP_QSTR_ap, MP_ARG_REQUIRED | MP_ARG_OBJ, {.u_obj = MP_OBJ_NULL} },
        { MP_QSTR_clock, MP_ARG_OBJ, {.u_obj = MP_ROM_NONE} },
    };
    mp_arg_val_t args[MP_ARRAY_SIZE(allowed_args)];
    mp_arg_parse_all_kw_array(n_args, n_kw, all_args, MP_ARRAY_SIZE(allowed_args), allowed_args,
        args);
    wifimgr_link_obj_t *self = mp_obj_malloc_with_finaliser(wifimgr_link_obj_t, type);
    self->sta = args[ARG_sta].u_obj;
    self->ap = args[ARG_ap].u_obj;
    self->clock = args[ARG_clock].u_obj;
    self->callbacks = mp_obj_new_list(0, NULL);
    self->policy = wifimgr_link_call(MP_QSTR_check_policy, 1, (mp_obj_t[]) { mp_const_none });
    self->task = NULL;
    self->radio = NULL;
    self->notify = NULL;
    self->listed = false;
    #if WIFIMGR_LINK_SIM
    self->sim = true;
    wm_radio_sim_t *sim = calloc(1, sizeof(wm_radio_sim_t));
    if (sim == NULL) {
        mp_raise_OSError(MP_ENOMEM);
    }
    self->radio = sim;
    wm_radio_sim_init(sim, NULL);
    mp_obj_t sim_clock = wm_radio_sim_mp_load(sim, self->sta);
    if (self->clock == mp_const_none) {
        self->clock = sim_clock;
    }
    const wm_radio_ops_t *ops = &wm_radio_sim_ops;
    #else
    self->sim = false;
    wm_radio_esp32_t *radio = calloc(1, sizeof(wm_radio_esp32_t));
    if (radio == NULL) {
        mp_raise_OSError(MP_ENOMEM);
    }
    self->radio = radio;
    const wm_radio_ops_t *ops = &wm_radio_esp32_ops;
    #endif
    mp_obj_t dest[2];
    mp_load_method_maybe(self->clock, MP_QSTR_advance, dest);
    self->stepped = self->clock != mp_const_none && dest[0] != MP_OBJ_NULL;
    self->notify = calloc(1, sizeof(wifimgr_link_notify_t));
    wm_link_task_t *task = calloc(1, sizeof(wm_link_task_t));
    if (task == NULL || self->notify == NULL) {
        free(task);
        mp_raise_OSError(MP_ENOMEM);
    }
    self->notify->link = MP_OBJ_FROM_PTR(self);
    self->notify->threaded = !self->stepped;
    int err = wm_link_task_init(task, ops, self->radio, wifimgr_link_notify, self->notify);
    if (err != 0) {
        free(task);
        mp_raise_OSError(err);
    }
    #if WIFIMGR_LINK_SIM
    sim->task = task;
    #else
    err = wm_radio_esp32_init(radio, task);
    if (err != 0) {
        wm_link_task_deinit(task);
        free(task);
        mp_raise_OSError(err);
    }
    #endif
    self->task = task;
    return MP_OBJ_FROM_PTR(self);
}

// ValueError naming what port/link_task.c refused. linkspec checked the arguments before, so
// this is the C side disagreeing with linkspec (wm_link_ranges against _INT_RANGES).
static MP_NORETURN void wifimgr_link_refused(int err, const wm_link_policy_t *p) {
    int row = wm_link_policy_out_of_range(p);
    if (row >= 0) {
        const wm_link_range_t *r = &wm_link_ranges[row];
        mp_raise_msg_varg(&mp_type_ValueError, MP_ERROR_TEXT("configure: policy.%s must be %d..%d"),
            r->key, (int)r->low, (int)r->high);
    }
    switch (err) {
        case WM_LINK_ERR_SSID:
            mp_raise_msg_varg(&mp_type_ValueError,
                MP_ERROR_TEXT("configure: a candidate's ssid must be 1..%d bytes"),
                WM_LINK_SSID_MAX);
        case WM_LINK_ERR_PASSWORD:
            mp_raise_msg_varg(&mp_type_ValueError,
                MP_ERROR_TEXT("configure: a candidate's password must be empty or 8..%d bytes"),
                WM_LINK_PASSWORD_MAX);
        case WM_LINK_ERR_FULL:
            mp_raise_msg_varg(&mp_type_ValueError,
                MP_ERROR_TEXT("configure: at most %d candidates"), WM_LINK_MAX_CANDIDATES);
        case WM_LINK_ERR_AP_POLICY:
            mp_raise_ValueError(
                MP_ERROR_TEXT("configure: policy.ap_policy must be always, fallback or never"));
        case WM_LINK_ERR_BACKOFF:
            mp_raise_ValueError(
                MP_ERROR_TEXT("configure: policy.backoff_max_ms must not be below backoff_min_ms"));
        case WM_LINK_ERR_PROBE:
            mp_raise_ValueError(
                MP_ERROR_TEXT("configure: policy.probe_ms must be 0 (off) or 100..60000"));
        default:
            mp_raise_msg_varg(&mp_type_ValueError, MP_ERROR_TEXT("configure: core/link.h error %d"), err);
    }
}

// Link.configure(candidates, policy=None)
static mp_obj_t wifimgr_link_configure(size_t n_args, const mp_obj_t *args) {
    wifimgr_link_obj_t *self = wifimgr_link_ready(args[0]);
    mp_obj_t cands = wifimgr_link_call(MP_QSTR_check_candidates, 1, &args[1]);
    mp_obj_t policy = wifimgr_link_call(MP_QSTR_check_policy, 1,
        n_args > 2 ? &args[2] : (mp_obj_t[]) { mp_const_none });
    wm_link_policy_t p;
    wm_link_policy_default(&p);
    const char *ap_policy = mp_obj_str_get_str(wifimgr_link_dict_get(policy, MP_QSTR_ap_policy));
    p.ap_policy = strcmp(ap_policy, "always") == 0 ? WM_LINK_AP_ALWAYS
        : strcmp(ap_policy, "never") == 0 ? WM_LINK_AP_NEVER : WM_LINK_AP_FALLBACK;
    p.retries = (uint8_t)mp_obj_get_int(wifimgr_link_dict_get(policy, MP_QSTR_retries));
    p.min_rssi = (int8_t)mp_obj_get_int(wifimgr_link_dict_get(policy, MP_QSTR_min_rssi));
    p.backoff_min_ms = mp_obj_get_int(wifimgr_link_dict_get(policy, MP_QSTR_backoff_min_ms));
    p.backoff_max_ms = mp_obj_get_int(wifimgr_link_dict_get(policy, MP_QSTR_backoff_max_ms));
    p.rescan_ms = mp_obj_get_int(wifimgr_link_dict_get(policy, MP_QSTR_rescan_ms));
    p.connect_timeout_ms = mp_obj_get_int(wifimgr_link_dict_get(policy,
        MP_QSTR_connect_timeout_ms));
    p.dhcp_timeout_ms = mp_obj_get_int(wifimgr_link_dict_get(policy, MP_QSTR_dhcp_timeout_ms));
    p.linger_ms = mp_obj_get_int(wifimgr_link_dict_get(policy, MP_QSTR_linger_ms));
    p.probe_ms = mp_obj_get_int(wifimgr_link_dict_get(policy, MP_QSTR_probe_ms));

    wm_link_ap_config_t apc;
    memset(&apc, 0, sizeof(apc));
    mp_obj_t config = wifimgr_link_dict_get(policy, MP_QSTR_ap_config);
    if (config != mp_const_none) {
        static const qstr keys[][2] = {
            { MP_QSTR_ssid, MP_QSTR_essid }, { MP_QSTR_key, MP_QSTR_password },
        };
        for (size_t k = 0; k < 2; k++) {
            for (size_t j = 0; j < 2; j++) {
                mp_map_elem_t *e = mp_map_lookup(mp_obj_dict_get_map(config),
                    MP_OBJ_NEW_QSTR(keys[k][j]), MP_MAP_LOOKUP);
                if (e != NULL) {
                    size_t len, cap = k == 0 ? WM_LINK_SSID_MAX : WM_LINK_PASSWORD_MAX;
                    const char *text = mp_obj_str_get_data(e->value, &len);
                    if (len > cap) {
                        mp_raise_msg_varg(&mp_type_ValueError,
                            MP_ERROR_TEXT("policy.ap_config.%q: at most %d bytes"), keys[k][j],
                            (int)cap);
                    }
                    memcpy(k == 0 ? apc.ssid : apc.password, text, len);
                }
            }
        }
        mp_map_elem_t *e = mp_map_lookup(mp_obj_dict_get_map(config),
            MP_OBJ_NEW_QSTR(MP_QSTR_channel), MP_MAP_LOOKUP);
        apc.channel = e != NULL ? (uint8_t)mp_obj_get_int(e->value) : 0;
        e = mp_map_lookup(mp_obj_dict_get_map(config), MP_OBJ_NEW_QSTR(MP_QSTR_security),
            MP_MAP_LOOKUP);
        apc.authmode = e != NULL ? (uint8_t)mp_obj_get_int(e->value) : (apc.password[0] ? 3 : 0);
        e = mp_map_lookup(mp_obj_dict_get_map(config), MP_OBJ_NEW_QSTR(MP_QSTR_hidden),
            MP_MAP_LOOKUP);
        apc.hidden = e != NULL && mp_obj_is_true(e->value);
    }

    size_t n;
    mp_obj_t *items;
    mp_obj_list_get(cands, &n, &items);
    wm_link_candidate_t cs[WM_LINK_MAX_CANDIDATES];
    const char *passwords[WM_LINK_MAX_CANDIDATES];
    memset(cs, 0, sizeof(cs));
    for (size_t i = 0; i < n && i < WM_LINK_MAX_CANDIDATES; i++) {
        size_t len;
        mp_obj_t *c;
        mp_obj_tuple_get(items[i], &len, &c); // (ssid bytes, password, hidden, bssid)
        const char *ssid = mp_obj_str_get_data(c[0], &len);
        memcpy(cs[i].ssid, ssid, len);
        cs[i].ssid_len = (uint8_t)len;
        passwords[i] = mp_obj_str_get_str(c[1]);
        cs[i].hidden = mp_obj_is_true(c[2]);
        if (c[3] != mp_const_none) {
            mp_buffer_info_t b;
            mp_get_buffer_raise(c[3], &b, MP_BUFFER_READ);
            cs[i].has_bssid = 1;
            memcpy(cs[i].bssid, b.buf, 6);
        }
    }
    int err = wm_link_task_configure(self->task, &p, cs, passwords, n,
        config != mp_const_none ? &apc : NULL);
    if (err != WM_LINK_OK) {
        wifimgr_link_refused(err, &p);
    }
    self->policy = policy;
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_VAR_BETWEEN(wifimgr_link_configure_obj, 2, 3,
    wifimgr_link_configure);

// Link.remember(ssid, bssid, channel)
static mp_obj_t wifimgr_link_remember(size_t n_args, const mp_obj_t *args) {
    (void)n_args;
    wifimgr_link_obj_t *self = wifimgr_link_ready(args[0]);
    mp_obj_t *hint;
    mp_obj_get_array_fixed_n(wifimgr_link_call(MP_QSTR_check_hint, 3, &args[1]), 3, &hint);
    mp_obj_t ssid = hint[0], bssid = hint[1], channel = hint[2];
    size_t len;
    const char *s = mp_obj_str_get_data(ssid, &len);
    mp_buffer_info_t b;
    mp_get_buffer_raise(bssid, &b, MP_BUFFER_READ);
    wm_link_task_remember(self->task, (const uint8_t *)s, len, b.buf,
        (uint8_t)mp_obj_get_int(channel));
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_VAR_BETWEEN(wifimgr_link_remember_obj, 4, 4,
    wifimgr_link_remember);

// The running Links, kept alive for the scheduler and the task's thread. The root pointer
// outlives the heap across a soft reset (mp_init() does not clear port root pointers), so
// wifimgr_links_count, outside the heap too, counts the Links in it: each leaves through
// stop() or its finaliser, which gc_sweep_all() runs for every object at a soft reset
// (ports/esp32/main.c), and the module's __init__ drops the list once none is left.
static size_t wifimgr_links_count;

static mp_obj_t wifimgr_link_running(void) {
    if (MP_STATE_PORT(wifimgr_links) == MP_OBJ_NULL) {
        MP_STATE_PORT(wifimgr_links) = mp_obj_new_list(0, NULL);
    }
    return MP_STATE_PORT(wifimgr_links);
}

// MicroPython's own reconnect (ports/esp32/network_wlan.c: network_wlan_wifi_event_handler
// calls esp_wifi_connect() on every STA_DISCONNECTED while wifi_sta_connect_requested, which
// any WLAN.connect() sets, a soft reset keeps and only WLAN.disconnect() clears) would fight
// the link's: config(reconnects=0) stops it (network_wlan_config), as the twin does. A WLAN
// without the key is left as it is.
static void wifimgr_link_no_port_reconnect(mp_obj_t sta) {
    nlr_buf_t nlr;
    if (nlr_push(&nlr) == 0) {
        mp_obj_t args[4];
        mp_load_method(sta, MP_QSTR_config, args);
        args[2] = MP_OBJ_NEW_QSTR(MP_QSTR_reconnects);
        args[3] = MP_OBJ_NEW_SMALL_INT(0);
        mp_call_method_n_kw(0, 1, args);
        nlr_pop();
    } else {
        const mp_obj_type_t *type = mp_obj_get_type(MP_OBJ_FROM_PTR(nlr.ret_val));
        if (!mp_obj_is_subclass_fast(MP_OBJ_FROM_PTR(type), MP_OBJ_FROM_PTR(&mp_type_OSError))
            && !mp_obj_is_subclass_fast(MP_OBJ_FROM_PTR(type), MP_OBJ_FROM_PTR(&mp_type_ValueError))
            && !mp_obj_is_subclass_fast(MP_OBJ_FROM_PTR(type), MP_OBJ_FROM_PTR(&mp_type_TypeError))) {
            nlr_jump(nlr.ret_val);
        }
    }
}

// Link.start(): starts the task (its thread, or its asyncio pump on a virtual clock); returns
// at once. On a device, OSError(EBUSY) while another Link runs: there is one radio (each
// simulated Link has its own).
static mp_obj_t wifimgr_link_start(mp_obj_t self_in) {
    wifimgr_link_obj_t *self = wifimgr_link_ready(self_in);
    if (self->task->running) {
        return mp_const_none;
    }
    size_t running;
    mp_obj_t *items;
    mp_obj_list_get(wifimgr_link_running(), &running, &items);
    if (!self->sim && running > 0) {
        mp_raise_OSError(MP_EBUSY);
    }
    wifimgr_link_no_port_reconnect(self->sta);
    mp_obj_t args[3];
    mp_load_method(self->sta, MP_QSTR_active, args);
    args[2] = mp_const_true;
    mp_call_method_n_kw(1, 0, args);
    int err = wm_link_task_start(self->task, !self->stepped, wifimgr_link_now(self));
    if (err != 0) {
        mp_raise_OSError(err);
    }
    mp_obj_list_append(wifimgr_link_running(), self_in);
    self->listed = true;
    wifimgr_links_count++;
    if (self->stepped) {
        wifimgr_link_dispatch(self_in);
        mp_obj_t pump[4];
        mp_load_method(self->clock, MP_QSTR_pump, pump);
        pump[2] = self_in;
        pump[3] = wifimgr_link_dict_get(self->policy, MP_QSTR_poll_ms);
        mp_obj_t coro = mp_call_method_n_kw(2, 0, pump);
        mp_obj_t asyncio = mp_import_name(MP_QSTR_asyncio, mp_const_none, MP_OBJ_NEW_SMALL_INT(0));
        mp_call_function_1(mp_load_attr(asyncio, MP_QSTR_create_task), coro);
    }
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_1(wifimgr_link_start_obj, wifimgr_link_start);

// Link.stop(): disconnects, closes the AP and ends the task.
static mp_obj_t wifimgr_link_stop(mp_obj_t self_in) {
    wifimgr_link_obj_t *self = wifimgr_link_ready(self_in);
    if (!self->task->running) {
        return mp_const_none;
    }
    MP_THREAD_GIL_EXIT();
    wm_link_task_stop(self->task);
    MP_THREAD_GIL_ENTER();
    mp_obj_list_remove(wifimgr_link_running(), self_in);
    self->listed = false;
    wifimgr_links_count--;
    wifimgr_link_dispatch(self_in);
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_1(wifimgr_link_stop_obj, wifimgr_link_stop);

// Link.__del__(): also frees what a failed constructor left.
static mp_obj_t wifimgr_link_del(mp_obj_t self_in) {
    wifimgr_link_obj_t *self = MP_OBJ_TO_PTR(self_in);
    wm_link_task_t *task = self->task;
    self->task = NULL;
    if (self->listed) {
        // Only gc_sweep_all() finalises a listed Link: the list goes with the heap.
        self->listed = false;
        wifimgr_links_count--;
    }
    if (task != NULL) {
        wm_link_task_stop(task);
        #if WIFIMGR_LINK_SIM
        wm_radio_sim_deinit(self->radio);
        #else
        wm_radio_esp32_deinit(self->radio);
        #endif
        wm_link_task_deinit(task);
        free(task);
    }
    free(self->radio);
    self->radio = NULL;
    free(self->notify);
    self->notify = NULL;
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_1(wifimgr_link_del_obj, wifimgr_link_del);

// Link.rescan()
static mp_obj_t wifimgr_link_rescan(mp_obj_t self_in) {
    wm_link_task_rescan(wifimgr_link_ready(self_in)->task);
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_1(wifimgr_link_rescan_obj, wifimgr_link_rescan);

// Link.finish_provisioning()
static mp_obj_t wifimgr_link_finish(mp_obj_t self_in) {
    wm_link_task_finish(wifimgr_link_ready(self_in)->task);
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_1(wifimgr_link_finish_obj, wifimgr_link_finish);

// Link.try_credentials(ssid, password, hidden=False)
static mp_obj_t wifimgr_link_try(size_t n_args, const mp_obj_t *args) {
    wifimgr_link_obj_t *self = wifimgr_link_ready(args[0]);
    mp_obj_t hidden = n_args > 3 ? args[3] : mp_const_false;
    mp_obj_t trial_args[3] = { args[1], args[2], hidden };
    mp_obj_t *trial;
    mp_obj_get_array_fixed_n(wifimgr_link_call(MP_QSTR_check_trial, 3, trial_args), 2, &trial);
    mp_obj_t ssid = trial[0], password = trial[1];
    if (!self->task->running) {
        mp_raise_msg(&mp_type_OSError, MP_ERROR_TEXT("link is not started"));
    }
    size_t len;
    const char *s = mp_obj_str_get_data(ssid, &len);
    wm_link_task_try(self->task, (const uint8_t *)s, len, mp_obj_str_get_str(password),
        hidden == mp_const_true);
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_VAR_BETWEEN(wifimgr_link_try_obj, 3, 4, wifimgr_link_try);

// Link.on_change(callback)
static mp_obj_t wifimgr_link_on_change(mp_obj_t self_in, mp_obj_t callback) {
    wifimgr_link_obj_t *self = MP_OBJ_TO_PTR(self_in);
    mp_obj_list_append(self->callbacks, callback);
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_2(wifimgr_link_on_change_obj, wifimgr_link_on_change);

// Link.status() -> dict
static mp_obj_t wifimgr_link_status(mp_obj_t self_in) {
    wm_link_task_status_t st;
    wm_link_task_status(wifimgr_link_ready(self_in)->task, &st);
    return wifimgr_link_status_dict(&st);
}
static MP_DEFINE_CONST_FUN_OBJ_1(wifimgr_link_status_obj, wifimgr_link_status);

// Link.scan_results() -> [(ssid bytes, bssid bytes, channel, rssi, authmode, hidden), ...]
static mp_obj_t wifimgr_link_scan_results(mp_obj_t self_in) {
    wifimgr_link_obj_t *self = wifimgr_link_ready(self_in);
    wm_link_record_t *recs = m_new(wm_link_record_t, WM_LINK_TASK_MAX_RECORDS);
    size_t n = wm_link_task_records(self->task, recs, WM_LINK_TASK_MAX_RECORDS);
    mp_obj_t list = mp_obj_new_list(0, NULL);
    for (size_t i = 0; i < n; i++) {
        const wm_link_record_t *r = &recs[i];
        mp_obj_t items[6] = {
            mp_obj_new_bytes(r->ssid, r->ssid_len > WM_LINK_SSID_MAX ? 0 : r->ssid_len),
            mp_obj_new_bytes(r->bssid, 6), MP_OBJ_NEW_SMALL_INT(r->channel),
            MP_OBJ_NEW_SMALL_INT(r->rssi), MP_OBJ_NEW_SMALL_INT(r->authmode),
            mp_obj_new_bool(r->hidden),
        };
        mp_obj_list_append(list, mp_obj_new_tuple(6, items));
    }
    m_del(wm_link_record_t, recs, WM_LINK_TASK_MAX_RECORDS);
    return list;
}
static MP_DEFINE_CONST_FUN_OBJ_1(wifimgr_link_scan_results_obj, wifimgr_link_scan_results);

// Link._advance(now_ms) -> running: on a virtual clock, runs what is due up to now_ms
// (the clock's pump() calls it: wifimgr.sim.VirtualClock).
static mp_obj_t wifimgr_link_advance(mp_obj_t self_in, mp_obj_t now) {
    wifimgr_link_obj_t *self = wifimgr_link_ready(self_in);
    if (self->stepped && self->task->running) {
        wm_link_task_advance(self->task, (uint32_t)mp_obj_get_int_truncated(now));
        wifimgr_link_dispatch(self_in);
    }
    return mp_obj_new_bool(self->task->running);
}
static MP_DEFINE_CONST_FUN_OBJ_2(wifimgr_link_advance_obj, wifimgr_link_advance);

// Link._next() -> ms: when the stepped task next has something to do, or -1.
static mp_obj_t wifimgr_link_next(mp_obj_t self_in) {
    wifimgr_link_obj_t *self = wifimgr_link_ready(self_in);
    return mp_obj_new_int_from_ll(self->stepped ? wm_link_task_next(self->task) : -1);
}
static MP_DEFINE_CONST_FUN_OBJ_1(wifimgr_link_next_obj, wifimgr_link_next);

// Link._radio() -> {"scans": n, "connects": [[t, ssid, key, bssid, channel], ...]}: what
// reached the simulated radio (its first connect calls), for tests and benchmarks.
static mp_obj_t wifimgr_link_radio(mp_obj_t self_in) {
    wifimgr_link_obj_t *self = wifimgr_link_ready(self_in);
    mp_obj_t d = mp_obj_new_dict(2);
    #if WIFIMGR_LINK_SIM
    mp_obj_t calls = wm_radio_sim_mp_connects(self->radio);
    #else
    mp_obj_t calls = mp_obj_new_list(0, NULL);
    #endif
    mp_obj_dict_store(d, MP_OBJ_NEW_QSTR(MP_QSTR_scans), mp_obj_new_int_from_uint(
        self->task->scans));
    mp_obj_dict_store(d, MP_OBJ_NEW_QSTR(MP_QSTR_connects), calls);
    return d;
}
static MP_DEFINE_CONST_FUN_OBJ_1(wifimgr_link_radio_obj, wifimgr_link_radio);

static const mp_rom_map_elem_t wifimgr_link_locals_dict_table[] = {
    { MP_ROM_QSTR(MP_QSTR_configure), MP_ROM_PTR(&wifimgr_link_configure_obj) },
    { MP_ROM_QSTR(MP_QSTR_remember), MP_ROM_PTR(&wifimgr_link_remember_obj) },
    { MP_ROM_QSTR(MP_QSTR_start), MP_ROM_PTR(&wifimgr_link_start_obj) },
    { MP_ROM_QSTR(MP_QSTR_stop), MP_ROM_PTR(&wifimgr_link_stop_obj) },
    { MP_ROM_QSTR(MP_QSTR_rescan), MP_ROM_PTR(&wifimgr_link_rescan_obj) },
    { MP_ROM_QSTR(MP_QSTR_try_credentials), MP_ROM_PTR(&wifimgr_link_try_obj) },
    { MP_ROM_QSTR(MP_QSTR_finish_provisioning), MP_ROM_PTR(&wifimgr_link_finish_obj) },
    { MP_ROM_QSTR(MP_QSTR_on_change), MP_ROM_PTR(&wifimgr_link_on_change_obj) },
    { MP_ROM_QSTR(MP_QSTR_status), MP_ROM_PTR(&wifimgr_link_status_obj) },
    { MP_ROM_QSTR(MP_QSTR_scan_results), MP_ROM_PTR(&wifimgr_link_scan_results_obj) },
    { MP_ROM_QSTR(MP_QSTR__advance), MP_ROM_PTR(&wifimgr_link_advance_obj) },
    { MP_ROM_QSTR(MP_QSTR__next), MP_ROM_PTR(&wifimgr_link_next_obj) },
    { MP_ROM_QSTR(MP_QSTR__radio), MP_ROM_PTR(&wifimgr_link_radio_obj) },
    { MP_ROM_QSTR(MP_QSTR___del__), MP_ROM_PTR(&wifimgr_link_del_obj) },
};
static MP_DEFINE_CONST_DICT(wifimgr_link_locals_dict, wifimgr_link_locals_dict_table);

MP_DEFINE_CONST_OBJ_TYPE(
    wifimgr_link_type,
    MP_QSTR_Link,
    MP_TYPE_FLAG_NONE,
    make_new, wifimgr_link_make_new,
    locals_dict, &wifimgr_link_locals_dict
    );

MP_REGISTER_ROOT_POINTER(mp_obj_t wifimgr_links);

// From _wifimgr.__init__() (modwifimgr.c): a list that no running Link is in belongs to a heap
// that may be gone.
void wifimgr_link_module_init(void) {
    if (wifimgr_links_count == 0) {
        MP_STATE_PORT(wifimgr_links) = MP_OBJ_NULL;
    }
}
