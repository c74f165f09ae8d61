// wifimgr on a generic ESP32 module (WROOM) with 4 MiB of flash.

#ifndef MICROPY_HW_BOARD_NAME
#define MICROPY_HW_BOARD_NAME               "wifimgr ESP32 4MB"
#endif
#define MICROPY_HW_MCU_NAME                 "ESP32"

#define MICROPY_PY_BLUETOOTH                (0)
