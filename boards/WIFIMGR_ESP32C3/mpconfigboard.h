// wifimgr on a generic ESP32-C3 module with 4 MiB of flash.

#ifndef MICROPY_HW_BOARD_NAME
#define MICROPY_HW_BOARD_NAME               "wifimgr ESP32-C3 4MB"
#endif
#define MICROPY_HW_MCU_NAME                 "ESP32C3"

// The REPL is on USB-Serial-JTAG and, for modules with a USB-UART chip, on UART0 too.
#define MICROPY_HW_ENABLE_UART_REPL         (1)

#define MICROPY_PY_BLUETOOTH                (0)
