set(IDF_TARGET esp32c3)

# No sdkconfig.ble: wifimgr does not use Bluetooth, and without it two OTA slots fit in 4 MiB.
set(SDKCONFIG_DEFAULTS
    boards/sdkconfig.base
    boards/sdkconfig.riscv
    boards/ESP32_GENERIC_C3/sdkconfig.c3usb
    ${MICROPY_BOARD_DIR}/sdkconfig.board
)

include(${MICROPY_BOARD_DIR}/../wifimgr.cmake)
wifimgr_partition_table(partitions-4MiB-ota.csv)
