# _wifimgr for cmake-based ports (esp32).
add_library(usermod_wifimgr INTERFACE)

file(STRINGS ${CMAKE_CURRENT_LIST_DIR}/../frozen/wifimgr/__init__.py WIFIMGR_VERSION_LINE
    REGEX "^__version__ = ")
string(REGEX REPLACE "^__version__ = \"(.*)\"$" "\\1" WIFIMGR_VERSION "${WIFIMGR_VERSION_LINE}")

target_sources(usermod_wifimgr INTERFACE
    ${CMAKE_CURRENT_LIST_DIR}/modwifimgr.c
    ${CMAKE_CURRENT_LIST_DIR}/core/dns.c
    ${CMAKE_CURRENT_LIST_DIR}/port/dns_task.c
    ${CMAKE_CURRENT_LIST_DIR}/core/link.c
    ${CMAKE_CURRENT_LIST_DIR}/port/link_task.c
    ${CMAKE_CURRENT_LIST_DIR}/port/radio_esp32.c
)

target_include_directories(usermod_wifimgr INTERFACE
    ${CMAKE_CURRENT_LIST_DIR}
)

target_compile_definitions(usermod_wifimgr INTERFACE
    WIFIMGR_VERSION="${WIFIMGR_VERSION}"
)

target_link_libraries(usermod INTERFACE usermod_wifimgr)
