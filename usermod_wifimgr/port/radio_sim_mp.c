// See radio_sim_mp.h. Python objects in, Python objects out; the radio itself is radio_sim.c.

#include <string.h>

#include "py/runtime.h"

#include "core/dns.h"
#include "port/radio_sim_mp.h"

static mp_obj_t radio_of(mp_obj_t sta) {
    mp_obj_t dest[2];
    mp_load_method_maybe(sta, MP_QSTR__radio, dest);
    if (dest[0] == MP_OBJ_NULL) {
        mp_raise_ValueError(MP_ERROR_TEXT(
            "sta: this build's Link drives the simulated radio: pass wifimgr.sim's WLAN"));
    }
    return dest[0];
}

static int64_t seconds_ms(mp_obj_t ap, qstr attr) {
    mp_float_t s = mp_obj_get_float(mp_load_attr(ap, attr));
    return s < 0 ? -1 : (int64_t)(s * 1000);
}

// sim.py's windows [(from_ms, to_ms)] of `ap` into the radio's; the first index, the count.
static uint16_t windows_of(wm_radio_sim_t *sim, mp_obj_t ap, qstr attr, uint16_t *n) {
    size_t len;
    mp_obj_t *items;
    mp_obj_list_get(mp_load_attr(ap, attr), &len, &items);
    uint16_t first = (uint16_t)sim->window_count;
    for (size_t i = 0; i < len; i++) {
        mp_obj_t *pair;
        mp_obj_get_array_fixed_n(items[i], 2, &pair);
        if (wm_radio_sim_add_window(sim, mp_obj_get_ll(pair[0]), mp_obj_get_ll(pair[1])) < 0) {
            mp_raise_msg_varg(&mp_type_ValueError,
                MP_ERROR_TEXT("sta: the scenario has more than %d times off the air or DHCP"),
                WM_RADIO_SIM_MAX_WINDOWS);
        }
    }
    *n = (uint16_t)len;
    return first;
}

static mp_int_t int_of(mp_obj_t ap, qstr attr) {
    return mp_obj_get_int(mp_load_attr(ap, attr));
}

mp_obj_t wm_radio_sim_mp_load(wm_radio_sim_t *sim, mp_obj_t sta) {
    mp_obj_t radio = radio_of(sta);
    size_t n;
    mp_obj_t *aps;
    mp_obj_list_get(mp_load_attr(mp_load_attr(radio, MP_QSTR_scenario), MP_QSTR_access_points),
        &n, &aps);
    for (size_t i = 0; i < n; i++) {
        wm_radio_sim_ap_t ap;
        memset(&ap, 0, sizeof(ap));
        size_t len;
        const char *ssid = mp_obj_str_get_data(mp_load_attr(aps[i], MP_QSTR_ssid), &len);
        ap.ssid_len = (uint8_t)(len > WM_LINK_SSID_MAX ? WM_LINK_SSID_MAX : len);
        memcpy(ap.ssid, ssid, ap.ssid_len);
        mp_buffer_info_t bssid;
        mp_get_buffer_raise(mp_load_attr(aps[i], MP_QSTR_bssid), &bssid, MP_BUFFER_READ);
        memcpy(ap.bssid, bssid.buf, 6);
        ap.channel = (uint8_t)int_of(aps[i], MP_QSTR_channel);
        ap.rssi = (int8_t)int_of(aps[i], MP_QSTR_rssi);
        ap.authmode = (uint8_t)int_of(aps[i], MP_QSTR_authmode);
        const char *key = mp_obj_str_get_data(mp_load_attr(aps[i], MP_QSTR_password), &len);
        memcpy(ap.password, key, len > WM_LINK_PASSWORD_MAX ? WM_LINK_PASSWORD_MAX : len);
        ap.hidden = mp_obj_is_true(mp_load_attr(aps[i], MP_QSTR_hidden));
        ap.dhcp = mp_obj_is_true(mp_load_attr(aps[i], MP_QSTR_dhcp));
        ap.assoc_ms = (uint32_t)int_of(aps[i], MP_QSTR_assoc_ms);
        ap.dhcp_ms = (uint32_t)int_of(aps[i], MP_QSTR_dhcp_ms);
        const char *ip = mp_obj_str_get_data(mp_load_attr(aps[i], MP_QSTR_ip), &len);
        wm_dns_parse_ipv4(ip, len, ap.ip);
        ap.away = windows_of(sim, aps[i], MP_QSTR_away, &ap.away_n);
        ap.dhcp_off = windows_of(sim, aps[i], MP_QSTR_dhcp_off, &ap.dhcp_off_n);
        ap.drop_after_ms = seconds_ms(aps[i], MP_QSTR_drop_after_s);
        if (!wm_radio_sim_add(sim, &ap)) {
            mp_raise_msg_varg(&mp_type_ValueError,
                MP_ERROR_TEXT("sta: the scenario has more than %d access points"),
                WM_RADIO_SIM_MAX_APS);
        }
    }
    return mp_load_attr(radio, MP_QSTR_clock);
}

static mp_obj_t time_of(int64_t t) {
    return mp_obj_new_int_from_ll(t);
}

static mp_obj_t str_of(const void *s, size_t len) {
    return mp_obj_new_str((const char *)s, len);
}

void wm_radio_sim_mp_show(wm_radio_sim_t *sim, mp_obj_t sta) {
    wm_radio_sim_view_t v;
    wm_radio_sim_view(sim, &v);
    if (v.gen == sim->shown_gen) {
        return;
    }
    sim->shown_gen = v.gen;
    // Radio.follow(attempt, ap): attempt None or (ap index or -1, associated_at, got_ip_at,
    // ended_at, end), ap None (off) or the config keys of WLAN.config().
    static const qstr ends[] = {
        MP_QSTR_, MP_QSTR_no_ap_found, MP_QSTR_wrong_password, MP_QSTR_beacon_timeout,
        MP_QSTR_auth_expire,
    };
    mp_obj_t attempt = mp_const_none;
    if (v.joined) {
        mp_obj_t items[5] = {
            MP_OBJ_NEW_SMALL_INT(v.ap), time_of(v.associated_at), time_of(v.got_ip_at),
            time_of(v.ended_at),
            v.ended_at >= 0 && v.end < MP_ARRAY_SIZE(ends)
                ? MP_OBJ_NEW_QSTR(ends[v.end]) : mp_const_none,
        };
        attempt = mp_obj_new_tuple(5, items);
    }
    mp_obj_t ap = mp_const_none;
    if (v.ap_on) {
        ap = mp_obj_new_dict(5);
        if (v.has_ap_config) {
            const wm_link_ap_config_t *c = &v.ap_config;
            mp_obj_dict_store(ap, MP_OBJ_NEW_QSTR(MP_QSTR_ssid), str_of(c->ssid, strlen(c->ssid)));
            mp_obj_dict_store(ap, MP_OBJ_NEW_QSTR(MP_QSTR_key),
                str_of(c->password, strlen(c->password)));
            mp_obj_dict_store(ap, MP_OBJ_NEW_QSTR(MP_QSTR_security),
                MP_OBJ_NEW_SMALL_INT(c->authmode));
            mp_obj_dict_store(ap, MP_OBJ_NEW_QSTR(MP_QSTR_hidden), mp_obj_new_bool(c->hidden));
            if (c->channel) {
                mp_obj_dict_store(ap, MP_OBJ_NEW_QSTR(MP_QSTR_channel),
                    MP_OBJ_NEW_SMALL_INT(c->channel));
            }
        }
    }
    mp_obj_t radio = radio_of(sta);
    mp_obj_t args[4];
    mp_load_method(radio, MP_QSTR_follow, args);
    args[2] = attempt;
    args[3] = ap;
    mp_call_method_n_kw(2, 0, args);
    if (v.ap_on && v.has_ap_config) {
        // The configured AP's DHCP server offers option 114 on the AP's address, as
        // radio_esp32.c: offer_captive_uri() sets it; the AP's WLAN records it.
        mp_obj_t apif = mp_load_attr(radio, MP_QSTR_ap);
        mp_obj_t call[2];
        mp_load_method(apif, MP_QSTR_ifconfig, call);
        mp_obj_t ip = mp_obj_subscr(mp_call_method_n_kw(0, 0, call), MP_OBJ_NEW_SMALL_INT(0),
            MP_OBJ_SENTINEL);
        vstr_t uri;
        vstr_init(&uri, sizeof("http://255.255.255.255/api/captive"));
        vstr_printf(&uri, "http://%s/api/captive", mp_obj_str_get_str(ip));
        mp_store_attr(apif, MP_QSTR_dhcp_captive_uri, mp_obj_new_str_from_vstr(&uri));
    }
}

mp_obj_t wm_radio_sim_mp_connects(const wm_radio_sim_t *sim) {
    mp_obj_t calls = mp_obj_new_list(0, NULL);
    for (uint32_t i = 0; i < sim->connects && i < WM_RADIO_SIM_LOG; i++) {
        const wm_radio_sim_call_t *c = &sim->log[i];
        mp_obj_t bssid = mp_const_none;
        if (c->has_bssid) {
            vstr_t vstr;
            vstr_init(&vstr, 18);
            vstr_printf(&vstr, "%02x:%02x:%02x:%02x:%02x:%02x", c->bssid[0], c->bssid[1],
                c->bssid[2], c->bssid[3], c->bssid[4], c->bssid[5]);
            bssid = mp_obj_new_str_from_vstr(&vstr);
        }
        mp_obj_t items[5] = {
            mp_obj_new_int_from_uint(c->at), str_of(c->ssid, c->ssid_len),
            str_of(c->password, strlen(c->password)), bssid,
            c->channel ? MP_OBJ_NEW_SMALL_INT(c->channel) : mp_const_none,
        };
        mp_obj_list_append(calls, mp_obj_new_list(5, items));
    }
    return calls;
}
