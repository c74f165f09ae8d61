// wifimgr on a generic ESP32-S3 module with 8 MiB of flash (16 MiB: variant FLASH_16M).

#ifndef MICROPY_HW_BOARD_NAME
// Set by mpconfigvariant_FLASH_16M.cmake for the 16 MiB variant.
#define MICROPY_HW_BOARD_NAME               "wifimgr ESP32-S3 8MB"
#endif
#define MICROPY_HW_MCU_NAME                 "ESP32S3"

// Modules with a USB-UART chip have their REPL on UART0; native USB has it on USB too.
#define MICROPY_HW_ENABLE_UART_REPL         (1)
