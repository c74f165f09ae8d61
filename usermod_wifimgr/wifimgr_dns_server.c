// _wifimgr.DNSServer: the captive DNS responder type of the _wifimgr module (modwifimgr.c).
// Bindings only: each method converts its arguments and calls into core/dns.c or
// port/dns_task.c.

#include <stdlib.h>
#include <string.h>

#include "py/mperrno.h"
#include "py/runtime.h"

#include "core/dns.h"
#include "port/dns_task.h"

#include "modwifimgr.h"

// ---- Captive DNS: DNSServer, the server thread of port/dns_task.c around core/dns.c. ---------

typedef struct {
    mp_obj_base_t base;
    // Both owned by C, outside the VM heap: the server thread reads cfg and reads and writes
    // task, never the MicroPython heap. cfg (2 KB with its rule slots) is freed with the
    // object, task when the server stops.
    wm_dns_config_t *cfg;
    wm_dns_task_t *task;
    uint32_t bind_addr; // network order
    uint16_t port;
    wm_dns_stats_t done; // the counters of the runs that ended: like the twin's, they add up
} wifimgr_dns_server_obj_t;

// ValueError("<what>: <msg><repr(obj)>"), as frozen/wifimgr/dns.py words it.
static MP_NORETURN void wifimgr_dns_raise(const char *what, const char *msg, mp_obj_t obj) {
    vstr_t vstr;
    mp_print_t print;
    vstr_init_print(&vstr, 48, &print);
    mp_printf(&print, "%s: %s", what, msg);
    if (obj != MP_OBJ_NULL) {
        mp_obj_print_helper(&print, obj, PRINT_REPR);
    }
    nlr_raise(mp_obj_new_exception_arg1(&mp_type_ValueError, mp_obj_new_str_from_vstr(&vstr)));
}

// The one translator from port/dns_task.c's errno values to OSError.
static void wifimgr_dns_check(int err) {
    if (err != 0) {
        mp_raise_OSError(err);
    }
}

static void wifimgr_dns_ipv4(mp_obj_t obj, const char *what, uint8_t out[4]) {
    size_t len;
    const char *text = mp_obj_is_str(obj) ? mp_obj_str_get_data(obj, &len) : NULL;
    if (text == NULL || !wm_dns_parse_ipv4(text, len, out)) {
        wifimgr_dns_raise(what, "not an IPv4 address: ", obj);
    }
}

static mp_int_t wifimgr_dns_int(mp_obj_t obj, const char *what, mp_int_t lo, mp_uint_t hi,
    const char *msg) {
    // hi may not fit a small int on 32-bit ports (2**31-1): compare as objects.
    if (!mp_obj_is_int(obj)
        || mp_obj_is_true(mp_binary_op(MP_BINARY_OP_LESS, obj, mp_obj_new_int(lo)))
        || mp_obj_is_true(mp_binary_op(MP_BINARY_OP_MORE, obj, mp_obj_new_int_from_uint(hi)))) {
        wifimgr_dns_raise(what, msg, obj);
    }
    return mp_obj_get_int_truncated(obj);
}

static void wifimgr_dns_rule(wm_dns_config_t *cfg, mp_obj_t name, wm_dns_action_t action,
    const uint8_t *addr) {
    if (!mp_obj_is_str(name)) {
        wifimgr_dns_raise("dns name", "not a string: ", name);
    }
    size_t len;
    const char *text = mp_obj_str_get_data(name, &len);
    int err = wm_dns_config_add_rule(cfg, text, len, action, addr);
    if (err == WM_DNS_ERR_FULL) {
        mp_raise_msg_varg(&mp_type_ValueError,
            MP_ERROR_TEXT("dns: at most %d overrides/nxdomain/refused names"), WM_DNS_MAX_RULES);
    } else if (err != 0) {
        // The core says only that the name is bad; its length tells which message fits.
        size_t core = len;
        if (core >= 2 && text[0] == '*' && text[1] == '.') {
            core -= 2;
        }
        if (core > 0 && text[len - 1] == '.') {
            core--;
        }
        wifimgr_dns_raise("dns name",
            core + 2 > WM_DNS_MAX_NAME ? "longer than 255 bytes: " : "bad label in ", name);
    }
}

static void wifimgr_dns_add_stats(wm_dns_stats_t *sum, const wm_dns_task_t *task) {
    wm_dns_stats_t run;
    wm_dns_task_stats(task, &run);
    sum->queries += run.queries;
    sum->answers += run.answers;
    sum->drops += run.drops;
}

// DNSServer(ip, port=53, ttl=60, *, bind="0.0.0.0", overrides=None, nxdomain=(), refused=())
static mp_obj_t wifimgr_dns_server_make_new(const mp_obj_type_t *type, size_t n_args,
    size_t n_kw, const mp_obj_t *all_args) {
    enum { ARG_ip, ARG_port, ARG_ttl, ARG_bind, ARG_overrides, ARG_nxdomain, ARG_refused };
    static const mp_arg_t allowed_args[] = {
        { MP_QSTR_ip, MP_ARG_REQUIRED | MP_ARG_OBJ, {.u_obj = MP_OBJ_NULL} },
        { MP_QSTR_port, MP_ARG_OBJ, {.u_obj = MP_OBJ_NEW_SMALL_INT(53)} },
        { MP_QSTR_ttl, MP_ARG_OBJ, {.u_obj = MP_OBJ_NEW_SMALL_INT(WM_DNS_DEFAULT_TTL)} },
        { MP_QSTR_bind, MP_ARG_KW_ONLY | MP_ARG_OBJ, {.u_obj = MP_OBJ_NULL} }, // "0.0.0.0"
        { MP_QSTR_overrides, MP_ARG_KW_ONLY | MP_ARG_OBJ, {.u_obj = MP_ROM_NONE} },
        { MP_QSTR_nxdomain, MP_ARG_KW_ONLY | MP_ARG_OBJ, {.u_obj = MP_OBJ_NULL} },
        { MP_QSTR_refused, MP_ARG_KW_ONLY | MP_ARG_OBJ, {.u_obj = MP_OBJ_NULL} },
    };
    mp_arg_val_t args[MP_ARRAY_SIZE(allowed_args)];
    mp_arg_parse_all_kw_array(n_args, n_kw, all_args, MP_ARRAY_SIZE(allowed_args), allowed_args,
        args);

    wifimgr_dns_server_obj_t *self = mp_obj_malloc_with_finaliser(wifimgr_dns_server_obj_t,
        type);
    self->task = NULL;
    memset(&self->done, 0, sizeof(self->done));
    // If an argument is refused below, the finaliser frees cfg with the half-made object.
    self->cfg = malloc(sizeof(*self->cfg));
    if (self->cfg == NULL) {
        mp_raise_OSError(MP_ENOMEM);
    }
    uint8_t addr[4];
    wifimgr_dns_ipv4(args[ARG_ip].u_obj, "ip", addr);
    mp_int_t ttl = wifimgr_dns_int(args[ARG_ttl].u_obj, "ttl", 0, 0x7fffffff,
        "must be an int from 0 to 2**31-1, not ");
    wm_dns_config_init(self->cfg, addr, (uint32_t)ttl);

    mp_obj_t overrides = args[ARG_overrides].u_obj;
    if (overrides != mp_const_none) {
        if (!mp_obj_is_dict_or_ordereddict(overrides)) {
            wifimgr_dns_raise("overrides", "not a dict: ", overrides);
        }
        mp_map_t *map = mp_obj_dict_get_map(overrides);
        for (size_t i = 0; i < map->alloc; i++) {
            if (!mp_map_slot_is_filled(map, i)) {
                continue;
            }
            mp_obj_t name = map->table[i].key;
            if (!mp_obj_is_str(name)) {
                wifimgr_dns_raise("dns name", "not a string: ", name);
            }
            uint8_t other[4];
            vstr_t what;
            vstr_init(&what, 32);
            vstr_printf(&what, "override for %s", mp_obj_str_get_str(name));
            wifimgr_dns_ipv4(map->table[i].value, vstr_null_terminated_str(&what), other);
            vstr_clear(&what);
            wifimgr_dns_rule(self->cfg, name, WM_DNS_ACTION_ADDRESS, other);
        }
    }
    static const struct {
        uint8_t arg;
        uint8_t action;
    } lists[] = {
        { ARG_nxdomain, WM_DNS_ACTION_NXDOMAIN },
        { ARG_refused, WM_DNS_ACTION_REFUSED },
    };
    for (size_t k = 0; k < MP_ARRAY_SIZE(lists); k++) {
        if (args[lists[k].arg].u_obj == MP_OBJ_NULL) {
            continue;
        }
        mp_obj_t iter = mp_getiter(args[lists[k].arg].u_obj, NULL);
        mp_obj_t name;
        while ((name = mp_iternext(iter)) != MP_OBJ_STOP_ITERATION) {
            wifimgr_dns_rule(self->cfg, name, (wm_dns_action_t)lists[k].action, NULL);
        }
    }

    self->port = (uint16_t)wifimgr_dns_int(args[ARG_port].u_obj, "port", 0, 65535,
        "must be an int from 0 to 65535, not ");
    memset(addr, 0, 4);
    if (args[ARG_bind].u_obj != MP_OBJ_NULL) {
        wifimgr_dns_ipv4(args[ARG_bind].u_obj, "bind", addr);
    }
    memcpy(&self->bind_addr, addr, 4);
    return MP_OBJ_FROM_PTR(self);
}

// DNSServer.start(): binds the socket (OSError if it cannot) and starts the server thread;
// no-op if running.
static mp_obj_t wifimgr_dns_server_start(mp_obj_t self_in) {
    wifimgr_dns_server_obj_t *self = MP_OBJ_TO_PTR(self_in);
    if (self->task != NULL) {
        return mp_const_none;
    }
    // calloc: the task must start zeroed; malloc: it lives outside the VM heap.
    wm_dns_task_t *task = calloc(1, sizeof(*task));
    if (task == NULL) {
        mp_raise_OSError(MP_ENOMEM);
    }
    uint8_t port[2] = { (uint8_t)(self->port >> 8), (uint8_t)self->port };
    uint16_t port_n;
    memcpy(&port_n, port, 2);
    int err = wm_dns_task_start(task, self->cfg, self->bind_addr, port_n);
    if (err != 0) {
        free(task);
        wifimgr_dns_check(err);
    }
    self->task = task;
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_1(wifimgr_dns_server_start_obj, wifimgr_dns_server_start);

// DNSServer.stop(): stops the thread (within WM_DNS_TASK_POLL_MS) and closes the socket; no-op
// if not running.
static mp_obj_t wifimgr_dns_server_stop(mp_obj_t self_in) {
    wifimgr_dns_server_obj_t *self = MP_OBJ_TO_PTR(self_in);
    wm_dns_task_t *task = self->task;
    if (task == NULL) {
        return mp_const_none;
    }
    self->task = NULL;
    MP_THREAD_GIL_EXIT();
    wm_dns_task_stop(task);
    MP_THREAD_GIL_ENTER();
    wifimgr_dns_add_stats(&self->done, task);
    free(task);
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_1(wifimgr_dns_server_stop_obj, wifimgr_dns_server_stop);

// DNSServer.__del__(): a server dropped while running stops with it; its config goes too.
// The finaliser runs inside the GC, so it does not wait for the thread: on lwIP that is up to
// WM_DNS_TASK_POLL_MS (lwip/src/api/sockets.c: lwip_shutdown() refuses UDP sockets, so only
// the receive timeout wakes recvfrom()). The thread closes the socket and frees the task and
// the config it reads as it ends; the port is free again then.
static mp_obj_t wifimgr_dns_server_del(mp_obj_t self_in) {
    wifimgr_dns_server_obj_t *self = MP_OBJ_TO_PTR(self_in);
    if (self->task != NULL) {
        wm_dns_task_abandon(self->task, self->cfg);
    } else {
        free(self->cfg);
    }
    self->task = NULL;
    self->cfg = NULL;
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_1(wifimgr_dns_server_del_obj, wifimgr_dns_server_del);

// DNSServer.stats() -> {"queries", "answers", "drops", "running"}
static mp_obj_t wifimgr_dns_server_stats(mp_obj_t self_in) {
    wifimgr_dns_server_obj_t *self = MP_OBJ_TO_PTR(self_in);
    wm_dns_stats_t st = self->done;
    if (self->task != NULL) {
        wifimgr_dns_add_stats(&st, self->task);
    }
    mp_obj_t dict = mp_obj_new_dict(4);
    mp_obj_dict_store(dict, MP_OBJ_NEW_QSTR(MP_QSTR_queries), mp_obj_new_int_from_uint(st.queries));
    mp_obj_dict_store(dict, MP_OBJ_NEW_QSTR(MP_QSTR_answers), mp_obj_new_int_from_uint(st.answers));
    mp_obj_dict_store(dict, MP_OBJ_NEW_QSTR(MP_QSTR_drops), mp_obj_new_int_from_uint(st.drops));
    mp_obj_dict_store(dict, MP_OBJ_NEW_QSTR(MP_QSTR_running), mp_obj_new_bool(self->task != NULL));
    return dict;
}
static MP_DEFINE_CONST_FUN_OBJ_1(wifimgr_dns_server_stats_obj, wifimgr_dns_server_stats);

// DNSServer.__enter__()
static mp_obj_t wifimgr_dns_server_enter(mp_obj_t self_in) {
    wifimgr_dns_server_start(self_in);
    return self_in;
}
static MP_DEFINE_CONST_FUN_OBJ_1(wifimgr_dns_server_enter_obj, wifimgr_dns_server_enter);

// DNSServer.__exit__(exc_type, exc, tb)
static mp_obj_t wifimgr_dns_server_exit(size_t n_args, const mp_obj_t *args) {
    (void)n_args;
    return wifimgr_dns_server_stop(args[0]);
}
static MP_DEFINE_CONST_FUN_OBJ_VAR_BETWEEN(wifimgr_dns_server_exit_obj, 4, 4,
    wifimgr_dns_server_exit);

static const mp_rom_map_elem_t wifimgr_dns_server_locals_dict_table[] = {
    { MP_ROM_QSTR(MP_QSTR_start), MP_ROM_PTR(&wifimgr_dns_server_start_obj) },
    { MP_ROM_QSTR(MP_QSTR_stop), MP_ROM_PTR(&wifimgr_dns_server_stop_obj) },
    { MP_ROM_QSTR(MP_QSTR_stats), MP_ROM_PTR(&wifimgr_dns_server_stats_obj) },
    { MP_ROM_QSTR(MP_QSTR___enter__), MP_ROM_PTR(&wifimgr_dns_server_enter_obj) },
    { MP_ROM_QSTR(MP_QSTR___exit__), MP_ROM_PTR(&wifimgr_dns_server_exit_obj) },
    { MP_ROM_QSTR(MP_QSTR___del__), MP_ROM_PTR(&wifimgr_dns_server_del_obj) },
};
static MP_DEFINE_CONST_DICT(wifimgr_dns_server_locals_dict, wifimgr_dns_server_locals_dict_table);

MP_DEFINE_CONST_OBJ_TYPE(
    wifimgr_dns_server_type,
    MP_QSTR_DNSServer,
    MP_TYPE_FLAG_NONE,
    make_new, wifimgr_dns_server_make_new,
    locals_dict, &wifimgr_dns_server_locals_dict
    );
