# _wifimgr for make-based ports (unix). Sources are listed explicitly.
WIFIMGR_MOD_DIR := $(USERMOD_DIR)
WIFIMGR_VERSION := $(shell sed -n 's/^__version__ = "\(.*\)"/\1/p' $(WIFIMGR_MOD_DIR)/../frozen/wifimgr/__init__.py)

SRC_USERMOD_C += \
	$(WIFIMGR_MOD_DIR)/modwifimgr.c \
	$(WIFIMGR_MOD_DIR)/core/dns.c \
	$(WIFIMGR_MOD_DIR)/port/dns_task.c \
	$(WIFIMGR_MOD_DIR)/core/link.c \
	$(WIFIMGR_MOD_DIR)/port/link_task.c \
	$(WIFIMGR_MOD_DIR)/port/radio_sim.c \
	$(WIFIMGR_MOD_DIR)/port/radio_sim_mp.c \

CFLAGS_USERMOD += -I$(WIFIMGR_MOD_DIR) -DWIFIMGR_VERSION='"$(WIFIMGR_VERSION)"'
