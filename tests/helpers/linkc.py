"""ctypes view of usermod_wifimgr/core/link.h, shared by the core tests and the benchmark."""

import ctypes

MAX_CANDIDATES = 8
MAX_ACTIONS = 8
TRIAL_SLOT = -1
STATES = ("idle", "scanning", "connecting", "getting_ip", "connected", "waiting")
REASONS = (None, "wrong_password", "not_found", "no_ip", "link_lost")
TRIALS = (None, "trying", "connected", "failed")
AP_POLICIES = ("always", "fallback", "never")
EVENTS = (
    "start",
    "stop",
    "rescan",
    "try",
    "finish",
    "scan_done",
    "associated",
    "got_ip",
    "disconnected",
    "timer",
)
ACTIONS = ("scan", "connect", "disconnect", "ap_start", "ap_stop", "remember", "status")


class Record(ctypes.Structure):
    _fields_ = [
        ("ssid", ctypes.c_uint8 * 32),
        ("ssid_len", ctypes.c_uint8),
        ("bssid", ctypes.c_uint8 * 6),
        ("channel", ctypes.c_uint8),
        ("rssi", ctypes.c_int8),
        ("authmode", ctypes.c_uint8),
        ("hidden", ctypes.c_uint8),
    ]


class Event(ctypes.Structure):
    _fields_ = [
        ("kind", ctypes.c_uint8),
        ("reason", ctypes.c_uint8),
        ("hidden", ctypes.c_uint8),
        ("has_bssid", ctypes.c_uint8),
        ("bssid", ctypes.c_uint8 * 6),
        ("channel", ctypes.c_uint8),
        ("ssid_len", ctypes.c_uint8),
        ("ssid", ctypes.c_char_p),
        ("records", ctypes.POINTER(Record)),
        ("record_count", ctypes.c_size_t),
    ]


class Action(ctypes.Structure):
    _fields_ = [
        ("kind", ctypes.c_uint8),
        ("slot", ctypes.c_int8),
        ("has_bssid", ctypes.c_uint8),
        ("bssid", ctypes.c_uint8 * 6),
        ("channel", ctypes.c_uint8),
        ("state", ctypes.c_uint8),
    ]


class Policy(ctypes.Structure):
    _fields_ = [
        ("ap_policy", ctypes.c_uint8),
        ("retries", ctypes.c_uint8),
        ("min_rssi", ctypes.c_int8),
        ("backoff_min_ms", ctypes.c_uint32),
        ("backoff_max_ms", ctypes.c_uint32),
        ("rescan_ms", ctypes.c_uint32),
        ("connect_timeout_ms", ctypes.c_uint32),
        ("dhcp_timeout_ms", ctypes.c_uint32),
        ("linger_ms", ctypes.c_uint32),
        ("probe_ms", ctypes.c_uint32),
    ]


class Status(ctypes.Structure):
    _fields_ = [
        ("state", ctypes.c_uint8),
        ("reason", ctypes.c_uint8),
        ("ap_on", ctypes.c_uint8),
        ("trial", ctypes.c_uint8),
        ("trial_reason", ctypes.c_uint8),
        ("started", ctypes.c_uint8),
        ("cur_slot", ctypes.c_int8),
        ("has_cur", ctypes.c_uint8),
        ("attempts", ctypes.c_uint16),
    ]


class Range(ctypes.Structure):
    _fields_ = [
        ("key", ctypes.c_char_p),
        ("low", ctypes.c_int32),
        ("high", ctypes.c_int32),
        ("err", ctypes.c_int),
    ]


def bind(lib):
    lib.wm_link_size.restype = ctypes.c_size_t
    lib.wm_link_init.argtypes = [ctypes.c_void_p]
    lib.wm_link_set_policy.argtypes = [ctypes.c_void_p, ctypes.POINTER(Policy)]
    lib.wm_link_policy_default.argtypes = [ctypes.POINTER(Policy)]
    lib.wm_link_clear_candidates.argtypes = [ctypes.c_void_p]
    lib.wm_link_commit_candidates.argtypes = [ctypes.c_void_p]
    lib.wm_link_add_candidate.argtypes = [
        ctypes.c_void_p,
        ctypes.c_char_p,
        ctypes.c_size_t,
        ctypes.c_bool,
        ctypes.c_char_p,
    ]
    lib.wm_link_remember.argtypes = [
        ctypes.c_void_p,
        ctypes.c_char_p,
        ctypes.c_size_t,
        ctypes.c_char_p,
        ctypes.c_uint8,
    ]
    lib.wm_link_step.restype = ctypes.c_size_t
    lib.wm_link_step.argtypes = [
        ctypes.c_void_p,
        ctypes.POINTER(Event),
        ctypes.c_uint32,
        ctypes.POINTER(Action),
        ctypes.c_size_t,
    ]
    lib.wm_link_deadline.restype = ctypes.c_int64
    lib.wm_link_deadline.argtypes = [ctypes.c_void_p]
    lib.wm_link_get_status.argtypes = [ctypes.c_void_p, ctypes.POINTER(Status)]
    lib.wm_link_ssid_of.restype = ctypes.POINTER(ctypes.c_uint8)
    lib.wm_link_ssid_of.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.POINTER(ctypes.c_size_t)]
    return lib


def mac(text):
    return None if text is None else bytes(int(p, 16) for p in text.split(":"))


def hexmac(raw):
    return None if raw is None else ":".join("%02x" % b for b in raw)


class Machine:
    """One wm_link_t with Python-level events in and JSON-like actions out (the vector form)."""

    def __init__(self, lib, policy=None, candidates=(), hint=None):
        self.lib = lib
        self.buf = ctypes.create_string_buffer(lib.wm_link_size())
        lib.wm_link_init(self.buf)
        if policy is not None:
            err = self.set_policy(policy)
            assert err == 0, "policy refused: %d" % err
        self.set_candidates(candidates)
        if hint:
            assert (
                lib.wm_link_remember(
                    self.buf, hint[0].encode(), len(hint[0].encode()), mac(hint[1]), hint[2]
                )
                == 0
            )
        self.out = (Action * MAX_ACTIONS)()

    def set_policy(self, policy):
        p = Policy()
        self.lib.wm_link_policy_default(ctypes.byref(p))
        for key, value in policy.items():
            if key == "ap_policy":
                value = AP_POLICIES.index(value)
            elif key not in [f[0] for f in Policy._fields_]:
                continue
            setattr(p, key, value)
        return self.lib.wm_link_set_policy(self.buf, ctypes.byref(p))

    def set_candidates(self, candidates):
        self.lib.wm_link_clear_candidates(self.buf)
        for c in candidates:
            ssid = c["ssid"].encode()
            slot = self.lib.wm_link_add_candidate(
                self.buf, ssid, len(ssid), c.get("hidden", False), mac(c.get("bssid"))
            )
            assert slot >= 0
        self.lib.wm_link_commit_candidates(self.buf)

    def ssid_of(self, slot):
        n = ctypes.c_size_t()
        p = self.lib.wm_link_ssid_of(self.buf, slot, ctypes.byref(n))
        return bytes(p[: n.value]).decode()

    def step(self, event, now):
        kind = event[0]
        ev = Event(kind=EVENTS.index(kind))
        keep = []
        if kind == "scan_done":
            records = (Record * max(1, len(event[1])))()
            for r, (ssid, bssid, channel, rssi, auth, hidden) in zip(
                records, event[1], strict=False
            ):
                raw = ssid.encode()
                r.ssid[: len(raw)] = list(raw)
                r.ssid_len = len(raw)
                r.bssid[:] = list(mac(bssid))
                r.channel, r.rssi, r.authmode, r.hidden = channel, rssi, auth, hidden
            ev.records = records
            ev.record_count = len(event[1])
            keep.append(records)
        elif kind == "got_ip":
            if event[1] is not None:
                ev.has_bssid = 1
                ev.bssid[:] = list(mac(event[1]))
            ev.channel = event[2]
        elif kind == "disconnected":
            ev.reason = REASONS.index(event[1])
            if len(event) > 3:
                if event[2] is not None:
                    raw = event[2].encode()
                    ev.ssid = raw
                    ev.ssid_len = len(raw)
                    keep.append(raw)
                if event[3] is not None:
                    ev.has_bssid = 1
                    ev.bssid[:] = list(mac(event[3]))
        elif kind == "try":
            raw = event[1].encode()
            ev.ssid = raw
            ev.ssid_len = len(raw)
            ev.hidden = event[2]
            keep.append(raw)
        n = self.lib.wm_link_step(self.buf, ctypes.byref(ev), now, self.out, MAX_ACTIONS)
        self.raw = [(ACTIONS[self.out[i].kind], self.out[i].slot) for i in range(n)]
        return [self.action(self.out[i]) for i in range(n)]

    def action(self, a):
        kind = ACTIONS[a.kind]
        if kind in ("connect", "remember"):
            bssid = hexmac(bytes(a.bssid)) if a.has_bssid else None
            return [kind, self.ssid_of(a.slot), bssid, a.channel]
        if kind == "status":
            return [kind, STATES[a.state]]
        return [kind]

    def status(self):
        st = Status()
        self.lib.wm_link_get_status(self.buf, ctypes.byref(st))
        return st

    def deadline(self):
        return self.lib.wm_link_deadline(self.buf)

    def final(self):
        st = self.status()
        return {
            "state": STATES[st.state],
            "reason": REASONS[st.reason],
            "ap_on": bool(st.ap_on),
            "attempts": st.attempts,
            "trial": TRIALS[st.trial],
            "trial_reason": REASONS[st.trial_reason],
            "deadline": self.deadline(),
        }


def run(lib, doc):
    """Runs one run of the vector form on core/link.c (see helpers/linktwin.py)."""
    m = Machine(lib, doc.get("policy") or {}, doc["candidates"], doc.get("hint"))
    steps = []
    for t, event in doc["steps"]:
        if event[0] == "configure":
            m.set_candidates(event[1])
            steps.append([])
        elif event[0] == "remember":
            raw = event[1].encode()
            err = lib.wm_link_remember(m.buf, raw, len(raw), mac(event[2]), event[3])
            assert err == 0, "remember refused: %d" % err
            steps.append([])
        else:
            steps.append(m.step(event, t % 2**32))
    return {"steps": steps, "final": m.final()}
