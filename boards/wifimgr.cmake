# Shared by every wifimgr board. A board's mpconfigboard.cmake sets IDF_TARGET and
# SDKCONFIG_DEFAULTS, includes this file, then names its partition table with
# wifimgr_partition_table(<file in partitions/>); a variant may name another one (the last wins).

get_filename_component(WIFIMGR_ROOT ${CMAKE_CURRENT_LIST_DIR}/.. ABSOLUTE)

# The port's own frozen modules plus frozen/manifest.py (see boards/manifest.py).
set(MICROPY_FROZEN_MANIFEST ${WIFIMGR_ROOT}/boards/manifest.py)

# _wifimgr is part of every wifimgr firmware, also when the port is built by hand.
if(NOT USER_C_MODULES)
    set(USER_C_MODULES ${WIFIMGR_ROOT}/usermod_wifimgr/micropython.cmake)
endif()

# ESP-IDF resolves a relative CONFIG_PARTITION_TABLE_CUSTOM_FILENAME against the project (the
# port directory), so the absolute path of our table goes into a generated sdkconfig fragment.
set(WIFIMGR_SDKCONFIG_PARTITIONS ${CMAKE_BINARY_DIR}/sdkconfig.wifimgr_partitions)
list(APPEND SDKCONFIG_DEFAULTS ${WIFIMGR_SDKCONFIG_PARTITIONS})

function(wifimgr_partition_table csv)
    set(path ${WIFIMGR_ROOT}/partitions/${csv})
    if(NOT EXISTS ${path})
        message(FATAL_ERROR "wifimgr: partition table ${path} does not exist")
    endif()
    file(WRITE ${WIFIMGR_SDKCONFIG_PARTITIONS}
        "CONFIG_PARTITION_TABLE_CUSTOM=y\n"
        "CONFIG_PARTITION_TABLE_CUSTOM_FILENAME=\"${path}\"\n")
endfunction()
