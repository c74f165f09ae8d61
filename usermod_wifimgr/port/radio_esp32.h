// The ESP-IDF radio of the link task: esp_wifi calls and esp_event handlers (see
// radio_esp32.c). Only this pair knows ESP-IDF; port/radio.h chooses it.
#ifndef WM_RADIO_ESP32_H
#define WM_RADIO_ESP32_H

#include <stdbool.h>
#include <stdint.h>

#include "port/link_task.h"

typedef struct {
    wm_link_task_t *task;
    void *records; // wifi_ap_record_t[WM_LINK_TASK_MAX_RECORDS], outside the VM heap
    // The scan as the link task takes it, converted in ESP-IDF's event task: here, not on that
    // task's stack (CONFIG_ESP_SYSTEM_EVENT_TASK_STACK_SIZE, 2304 bytes in MicroPython's
    // sdkconfig, against about 1 KB for these).
    wm_link_record_t recs[WM_LINK_TASK_MAX_RECORDS];
    void *on_wifi; // esp_event_handler_instance_t
    void *on_ip;
    // Shared by the task's thread and the event task: word-sized flags.
    volatile bool scanning; // our scan runs: its SCAN_DONE is ours, not WLAN.scan()'s
    volatile bool associated;
    volatile bool leaving; // we asked for the disconnect: its event is not a failure
} wm_radio_esp32_t;

extern const wm_radio_ops_t wm_radio_esp32_ops;

// Registers the event handlers (the WiFi driver and the default event loop must exist: create
// network.WLAN first). Returns 0 or an errno value.
int wm_radio_esp32_init(wm_radio_esp32_t *radio, wm_link_task_t *task);

// Unregisters the handlers and frees the record buffer.
void wm_radio_esp32_deinit(wm_radio_esp32_t *radio);

#endif // WM_RADIO_ESP32_H
