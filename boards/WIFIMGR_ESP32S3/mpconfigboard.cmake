set(IDF_TARGET esp32s3)

# 8 MiB leaves room for Bluetooth next to two OTA slots, so this board keeps it; SPIRAM is
# detected at boot as on MicroPython's generic S3 board.
set(SDKCONFIG_DEFAULTS
    boards/sdkconfig.base
    boards/sdkconfig.ble
    boards/sdkconfig.spiram_sx
    ${MICROPY_BOARD_DIR}/sdkconfig.board
)

include(${MICROPY_BOARD_DIR}/../wifimgr.cmake)
wifimgr_partition_table(partitions-8MiB-ota.csv)
