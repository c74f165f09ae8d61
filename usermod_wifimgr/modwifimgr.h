// The _wifimgr module (modwifimgr.c) and its types, one a file.
#ifndef WIFIMGR_MODWIFIMGR_H
#define WIFIMGR_MODWIFIMGR_H

#include "py/obj.h"

extern const mp_obj_type_t wifimgr_dns_server_type; // wifimgr_dns_server.c
extern const mp_obj_type_t wifimgr_link_type; // wifimgr_link.c

// Run by _wifimgr.__init__(): forgets the list of running Links when none is left.
void wifimgr_link_module_init(void);

#endif // WIFIMGR_MODWIFIMGR_H
