// _wifimgr: the C half of wifimgr. The module table; its types live one a file, as ports/esp32
// keeps modesp32.c apart from esp32_partition.c and esp32_nvs.c: _wifimgr.DNSServer in
// wifimgr_dns_server.c, _wifimgr.Link in wifimgr_link.c. Bindings only: each function converts
// its arguments and calls into core/ or port/, so everything it does can be tested without
// MicroPython.

#include "py/objstr.h"
#include "py/runtime.h"

// The version of the frozen package, from the build file.
#include "port/radio.h"

#include "modwifimgr.h"

#ifndef WIFIMGR_VERSION
#error "wifimgr_build.h must define WIFIMGR_VERSION"
#endif

static const MP_DEFINE_STR_OBJ(wifimgr_version_obj, WIFIMGR_VERSION);

// _wifimgr.__init__(): run at the first import after boot or a soft reset (and again after
// `del sys.modules["_wifimgr"]`: MICROPY_MODULE_BUILTIN_INIT, py/objmodule.c). A list that
// no running Link is in belongs to a heap that may be gone.
static mp_obj_t wifimgr_module_init(void) {
    wifimgr_link_module_init();
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_0(wifimgr_module_init_obj, wifimgr_module_init);

static const mp_rom_map_elem_t wifimgr_module_globals_table[] = {
    { MP_ROM_QSTR(MP_QSTR___name__), MP_ROM_QSTR(MP_QSTR__wifimgr) },
    { MP_ROM_QSTR(MP_QSTR___init__), MP_ROM_PTR(&wifimgr_module_init_obj) },
    { MP_ROM_QSTR(MP_QSTR___version__), MP_ROM_PTR(&wifimgr_version_obj) },
    { MP_ROM_QSTR(MP_QSTR_DNSServer), MP_ROM_PTR(&wifimgr_dns_server_type) },
    { MP_ROM_QSTR(MP_QSTR_Link), MP_ROM_PTR(&wifimgr_link_type) },
};
static MP_DEFINE_CONST_DICT(wifimgr_module_globals, wifimgr_module_globals_table);

const mp_obj_module_t wifimgr_user_cmodule = {
    .base = { &mp_type_module },
    .globals = (mp_obj_dict_t *)&wifimgr_module_globals,
};

MP_REGISTER_MODULE(MP_QSTR__wifimgr, wifimgr_user_cmodule);
