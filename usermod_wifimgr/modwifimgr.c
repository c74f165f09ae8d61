// _wifimgr: the C half of wifimgr. Bindings only: each function converts its arguments and
// calls into core/ or port/, so everything it does can be tested without MicroPython.

#include "py/objstr.h"
#include "py/runtime.h"

// The build files pass the version of the frozen wifimgr package, so the two always match.
#ifndef WIFIMGR_VERSION
#error "WIFIMGR_VERSION must be defined by micropython.mk or micropython.cmake"
#endif

static const MP_DEFINE_STR_OBJ(wifimgr_version_obj, WIFIMGR_VERSION);

static const mp_rom_map_elem_t wifimgr_module_globals_table[] = {
    { MP_ROM_QSTR(MP_QSTR___name__), MP_ROM_QSTR(MP_QSTR__wifimgr) },
    { MP_ROM_QSTR(MP_QSTR___version__), MP_ROM_PTR(&wifimgr_version_obj) },
};
static MP_DEFINE_CONST_DICT(wifimgr_module_globals, wifimgr_module_globals_table);

const mp_obj_module_t wifimgr_user_cmodule = {
    .base = { &mp_type_module },
    .globals = (mp_obj_dict_t *)&wifimgr_module_globals,
};

MP_REGISTER_MODULE(MP_QSTR__wifimgr, wifimgr_user_cmodule);
