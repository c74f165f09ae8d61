// The link task's radio on ESP-IDF. Scans run with esp_wifi_scan_start(block=false), connects
// set bssid and channel in wifi_sta_config_t (the fast reconnect: a directed probe instead of a
// scan), and the WIFI_EVENT_* / IP_EVENT_STA_GOT_IP handlers turn into link task events. The
// handlers run in ESP-IDF's event task: they only copy into the task's queue, never touch the
// MicroPython heap and never block for long. MicroPython's network.WLAN keeps working next to
// it (ifconfig/ipconfig, config); its own reconnect (network_wlan.c:
// network_wlan_wifi_event_handler) is turned off by the bindings when the link starts.

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "esp_event.h"
#include "esp_netif.h"
#include "esp_timer.h"
#include "esp_wifi.h"

#include "port/radio_esp32.h"

// network.hostname() (extmod/modnetwork.c): WLAN.connect() gives it to the STA netif before
// each connect (network_wlan.c: network_wlan_connect), the link's connects do the same.
extern char mod_network_hostname_data[];

static int esp32_errno(esp_err_t err) {
    switch (err) {
        case ESP_OK:
            return 0;
        case ESP_ERR_NO_MEM:
            return ENOMEM;
        case ESP_ERR_INVALID_ARG:
            return EINVAL;
        case ESP_ERR_WIFI_NOT_INIT:
        case ESP_ERR_WIFI_NOT_STARTED:
        case ESP_ERR_INVALID_STATE:
            return ENODEV;
        default:
            return EIO;
    }
}

// ESP-IDF's disconnect reason as the link tells failures apart.
static uint8_t reason_of(uint8_t reason, bool associated) {
    switch (reason) {
        case WIFI_REASON_AUTH_FAIL:
        case WIFI_REASON_HANDSHAKE_TIMEOUT:
        case WIFI_REASON_4WAY_HANDSHAKE_TIMEOUT:
            return WM_LINK_REASON_WRONG_PASSWORD;
        case WIFI_REASON_NO_AP_FOUND:
        case WIFI_REASON_ASSOC_FAIL:
        case WIFI_REASON_CONNECTION_FAIL:
        case WIFI_REASON_NO_AP_FOUND_W_COMPATIBLE_SECURITY:
        case WIFI_REASON_NO_AP_FOUND_IN_AUTHMODE_THRESHOLD:
        case WIFI_REASON_NO_AP_FOUND_IN_RSSI_THRESHOLD:
            return WM_LINK_REASON_NOT_FOUND;
        default:
            return associated ? WM_LINK_REASON_LINK_LOST : WM_LINK_REASON_NOT_FOUND;
    }
}

static void scan_done(wm_radio_esp32_t *radio) {
    wifi_ap_record_t *aps = radio->records;
    uint16_t n = WM_LINK_TASK_MAX_RECORDS;
    if (esp_wifi_scan_get_ap_records(&n, aps) != ESP_OK) {
        n = 0;
    }
    wm_link_record_t *recs = radio->recs;
    for (uint16_t i = 0; i < n; i++) {
        wm_link_record_t *r = &recs[i];
        memset(r, 0, sizeof(*r));
        size_t len = strnlen((const char *)aps[i].ssid, WM_LINK_SSID_MAX);
        memcpy(r->ssid, aps[i].ssid, len);
        r->ssid_len = (uint8_t)len;
        memcpy(r->bssid, aps[i].bssid, 6);
        r->channel = aps[i].primary;
        r->rssi = aps[i].rssi;
        r->authmode = (uint8_t)aps[i].authmode;
        r->hidden = len == 0;
    }
    wm_link_task_scan_done(radio->task, recs, n);
}

static void on_wifi(void *arg, esp_event_base_t base, int32_t id, void *data) {
    wm_radio_esp32_t *radio = arg;
    (void)base;
    switch (id) {
        case WIFI_EVENT_SCAN_DONE:
            if (radio->scanning) {
                radio->scanning = false;
                scan_done(radio);
            }
            break;
        case WIFI_EVENT_STA_CONNECTED:
            radio->associated = true;
            wm_link_task_post(radio->task, WM_LINK_EV_ASSOCIATED, 0);
            break;
        case WIFI_EVENT_STA_DISCONNECTED: {
            const wifi_event_sta_disconnected_t *ev = data;
            bool was = radio->associated;
            radio->associated = false;
            if (radio->leaving && ev->reason == WIFI_REASON_ASSOC_LEAVE) {
                radio->leaving = false; // the end of the link we gave up
                break;
            }
            // The event names the link it ends: the reducer drops the late report of a link
            // already left (wm_link_task_disconnected). A failed search (NO_AP_FOUND) names no
            // BSSID (all zeros), and then only the SSID counts.
            static const uint8_t none[6];
            size_t ssid_len = ev->ssid_len <= sizeof(ev->ssid) ? ev->ssid_len : 0;
            wm_link_task_disconnected(radio->task, reason_of(ev->reason, was),
                ssid_len ? ev->ssid : NULL, ssid_len,
                memcmp(ev->bssid, none, 6) != 0 ? ev->bssid : NULL);
            break;
        }
        default:
            break;
    }
}

static void on_ip(void *arg, esp_event_base_t base, int32_t id, void *data) {
    wm_radio_esp32_t *radio = arg;
    (void)base;
    if (id != IP_EVENT_STA_GOT_IP) {
        return;
    }
    const ip_event_got_ip_t *ev = data;
    uint8_t ip[4];
    memcpy(ip, &ev->ip_info.ip.addr, 4); // network order: a.b.c.d in memory order
    wifi_ap_record_t info;
    if (esp_wifi_sta_get_ap_info(&info) == ESP_OK) {
        wm_link_task_got_ip(radio->task, info.bssid, info.primary, ip, info.rssi);
    } else {
        wm_link_task_got_ip(radio->task, NULL, 0, ip, 0);
    }
}

static int esp32_scan(void *arg, uint32_t now) {
    wm_radio_esp32_t *radio = arg;
    (void)now;
    wifi_scan_config_t config;
    memset(&config, 0, sizeof(config));
    config.show_hidden = true;
    config.scan_type = WIFI_SCAN_TYPE_ACTIVE;
    // A full scan keeps ESP-IDF's default dwell (the connects' shorter one is the default
    // parameter now, see connect_dwell()).
    config.scan_time.active.max = WIFI_ACTIVE_SCAN_MAX_DEFAULT_TIME;
    radio->scanning = true;
    esp_err_t err = esp_wifi_scan_start(&config, false);
    if (err != ESP_OK) {
        radio->scanning = false;
    }
    return esp32_errno(err);
}

// The fast scan of a connect by name walks the channels from 1 and stops at the first one
// where the SSID answers (wifi_sta_config_t.scan_method WIFI_FAST_SCAN); the scan parameters
// set here are also those of that walk (esp_wifi.h: esp_wifi_set_scan_parameters). A probe
// response comes within a few ms: WM_LINK_CONNECT_DWELL_MS per channel instead of the default
// 120 (port/radio_sim.h models the same walk). Not fatal: the default dwell is only slower.
#define WM_LINK_CONNECT_DWELL_MS (50)

static void connect_dwell(void) {
    wifi_scan_default_params_t params = WIFI_SCAN_PARAMS_DEFAULT_CONFIG();
    params.scan_time.active.max = WM_LINK_CONNECT_DWELL_MS;
    esp_wifi_set_scan_parameters(&params);
}

static int esp32_connect(void *arg, uint32_t now, const uint8_t *ssid, size_t ssid_len,
    const char *password, const uint8_t *bssid, uint8_t channel) {
    wm_radio_esp32_t *radio = arg;
    (void)now;
    wifi_config_t config;
    memset(&config, 0, sizeof(config));
    memcpy(config.sta.ssid, ssid, ssid_len);
    strncpy((char *)config.sta.password, password, sizeof(config.sta.password) - 1);
    if (bssid != NULL) {
        config.sta.bssid_set = true;
        memcpy(config.sta.bssid, bssid, 6);
    }
    // With a channel ESP-IDF probes it first (fast scan stops at the first match); without
    // one it searches the channels.
    config.sta.channel = channel;
    config.sta.scan_method = WIFI_FAST_SCAN;
    config.sta.sort_method = WIFI_CONNECT_AP_BY_SIGNAL;
    config.sta.threshold.authmode = password[0] ? WIFI_AUTH_WEP : WIFI_AUTH_OPEN;
    radio->associated = false;
    radio->leaving = false;
    connect_dwell();
    esp_err_t err = esp_wifi_set_config(WIFI_IF_STA, &config);
    // The DHCP client sends the netif's hostname: without this the router sees "espressif".
    esp_netif_t *netif = esp_netif_get_handle_from_ifkey("WIFI_STA_DEF");
    if (err == ESP_OK && netif != NULL) {
        err = esp_netif_set_hostname(netif, mod_network_hostname_data);
    }
    if (err == ESP_OK) {
        err = esp_wifi_connect();
    }
    return esp32_errno(err);
}

static void esp32_disconnect(void *arg, uint32_t now) {
    wm_radio_esp32_t *radio = arg;
    (void)now;
    radio->leaving = true;
    esp_wifi_disconnect();
}

// link_task.c names the securities by number: they are ESP-IDF's.
_Static_assert(WIFI_AUTH_OPEN == 0 && WIFI_AUTH_WEP == 1 && WIFI_AUTH_WPA_PSK == 2
    && WIFI_AUTH_WPA2_PSK == 3 && WIFI_AUTH_WPA_WPA2_PSK == 4 && WIFI_AUTH_WPA2_ENTERPRISE == 5
    && WIFI_AUTH_WPA3_PSK == 6 && WIFI_AUTH_WPA2_WPA3_PSK == 7, "wifi_auth_mode_t numbers");

// The link task has checked the security and the password (link_task.c: ap_config_error);
// the channels are those of the driver's country (esp_wifi.h: esp_wifi_set_country, default
// "01": 1 to 11), checked before the AP comes up.
static int ap_check(const wm_link_ap_config_t *c) {
    wifi_country_t country;
    if (c->channel != 0 && esp_wifi_get_country(&country) == ESP_OK
        && (c->channel < country.schan || c->channel >= country.schan + country.nchan)) {
        return WM_LINK_AP_ERR_CHANNEL;
    }
    return WM_LINK_AP_OK;
}

// RFC 8910: the AP's DHCP server offers the URI of the Captive Portal API (option 114), which
// Android 11+ and iOS 14+ read before any probe, even with their own DNS resolver. It is the
// portal's route /api/captive (frozen/wifimgr/portal: Portal.captive) on the AP's address.
// ESP-IDF keeps the pointer, not a copy (esp_netif.h: esp_netif_dhcps_option,
// ESP_NETIF_CAPTIVEPORTAL_URI), and refuses to set an option while the server runs
// (esp_netif_lwip.c: esp_netif_dhcps_option_api, ESP_ERR_ESP_NETIF_DHCP_ALREADY_STARTED): it
// is stopped, set and started again; one that was not running yet starts with it later.
static char captive_uri[sizeof("http://255.255.255.255/api/captive")];

static esp_err_t offer_captive_uri(void) {
    esp_netif_t *netif = esp_netif_get_handle_from_ifkey("WIFI_AP_DEF");
    esp_netif_ip_info_t ip;
    if (netif == NULL) {
        return ESP_ERR_INVALID_STATE;
    }
    esp_err_t err = esp_netif_get_ip_info(netif, &ip);
    if (err != ESP_OK) {
        return err;
    }
    snprintf(captive_uri, sizeof(captive_uri), "http://" IPSTR "/api/captive", IP2STR(&ip.ip));
    bool was_running = esp_netif_dhcps_stop(netif) == ESP_OK;
    err = esp_netif_dhcps_option(netif, ESP_NETIF_OP_SET, ESP_NETIF_CAPTIVEPORTAL_URI,
        captive_uri, strlen(captive_uri));
    if (was_running) {
        esp_err_t started = esp_netif_dhcps_start(netif);
        err = err != ESP_OK ? err : started;
    }
    return err;
}

// The AP on or off; the configured one starts from the driver's own configuration (what
// WLAN(AP_IF).config() set, ESP-IDF's defaults otherwise) with our fields over it, and its
// DHCP server offers the captive portal's URI.
static int esp32_ap(void *arg, bool on, const wm_link_ap_config_t *c) {
    (void)arg;
    wifi_auth_mode_t authmode = WIFI_AUTH_OPEN;
    if (on && c != NULL) {
        authmode = c->password[0] ? (wifi_auth_mode_t)c->authmode : WIFI_AUTH_OPEN;
        int bad = ap_check(c);
        if (bad != WM_LINK_AP_OK) {
            return bad; // the driver's default open AP does not come up instead
        }
    }
    if (esp_wifi_set_mode(on ? WIFI_MODE_APSTA : WIFI_MODE_STA) != ESP_OK) {
        return WM_LINK_AP_ERR_DRIVER;
    }
    if (!on || c == NULL) {
        return WM_LINK_AP_OK;
    }
    wifi_config_t config;
    esp_err_t err = esp_wifi_get_config(WIFI_IF_AP, &config);
    if (err == ESP_OK) {
        size_t len = strlen(c->ssid);
        memset(config.ap.ssid, 0, sizeof(config.ap.ssid));
        memcpy(config.ap.ssid, c->ssid, len);
        config.ap.ssid_len = (uint8_t)len;
        memset(config.ap.password, 0, sizeof(config.ap.password));
        strncpy((char *)config.ap.password, c->password, sizeof(config.ap.password) - 1);
        if (c->channel != 0) {
            config.ap.channel = c->channel;
        }
        config.ap.authmode = authmode;
        config.ap.ssid_hidden = c->hidden;
        err = esp_wifi_set_config(WIFI_IF_AP, &config);
    }
    if (err != ESP_OK) {
        esp_wifi_set_mode(WIFI_MODE_STA); // not the driver's default AP under our name
        return err == ESP_ERR_WIFI_PASSWORD ? WM_LINK_AP_ERR_PASSWORD : WM_LINK_AP_ERR_DRIVER;
    }
    // Without option 114 the phone still finds the portal through the captive DNS and its
    // probes: the AP stays up.
    offer_captive_uri();
    return WM_LINK_AP_OK;
}

static uint32_t esp32_now_ms(void *arg) {
    (void)arg;
    return (uint32_t)(esp_timer_get_time() / 1000);
}

const wm_radio_ops_t wm_radio_esp32_ops = {
    .scan = esp32_scan,
    .connect = esp32_connect,
    .disconnect = esp32_disconnect,
    .ap = esp32_ap,
    .next_ms = NULL,
    .poll = NULL,
    .now_ms = esp32_now_ms,
};

int wm_radio_esp32_init(wm_radio_esp32_t *radio, wm_link_task_t *task) {
    memset(radio, 0, sizeof(*radio));
    radio->task = task;
    radio->records = malloc(WM_LINK_TASK_MAX_RECORDS * sizeof(wifi_ap_record_t));
    if (radio->records == NULL) {
        return ENOMEM;
    }
    esp_err_t err = esp_event_handler_instance_register(WIFI_EVENT, ESP_EVENT_ANY_ID, on_wifi,
        radio, (esp_event_handler_instance_t *)&radio->on_wifi);
    if (err == ESP_OK) {
        err = esp_event_handler_instance_register(IP_EVENT, IP_EVENT_STA_GOT_IP, on_ip, radio,
            (esp_event_handler_instance_t *)&radio->on_ip);
    }
    if (err != ESP_OK) {
        wm_radio_esp32_deinit(radio);
    }
    return esp32_errno(err);
}

void wm_radio_esp32_deinit(wm_radio_esp32_t *radio) {
    if (radio->on_wifi != NULL) {
        esp_event_handler_instance_unregister(WIFI_EVENT, ESP_EVENT_ANY_ID, radio->on_wifi);
        radio->on_wifi = NULL;
    }
    if (radio->on_ip != NULL) {
        esp_event_handler_instance_unregister(IP_EVENT, IP_EVENT_STA_GOT_IP, radio->on_ip);
        radio->on_ip = NULL;
    }
    free(radio->records);
    radio->records = NULL;
}
