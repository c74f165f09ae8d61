set(SDKCONFIG_DEFAULTS
    ${SDKCONFIG_DEFAULTS}
    ${MICROPY_BOARD_DIR}/sdkconfig.flash_16M
)

wifimgr_partition_table(partitions-16MiB-ota.csv)

list(APPEND MICROPY_DEF_BOARD
    MICROPY_HW_BOARD_NAME="wifimgr ESP32-S3 16MB"
)
