"""The scan/connect state machine: a pure reducer and an asyncio driver over `network.WLAN`.

`Machine` is the reducer, the twin of core/link.c: `step(event, now_ms)` returns the actions to
perform and touches no radio and no clock. Both pass the vectors in tests/link_vectors.json.
`Link` drives it on asyncio over `network.WLAN` (or the simulated radio, `wifimgr.sim`) by
polling `status()` and `status('rssi')`, the only way stock MicroPython reports progress.
`wifimgr.link_class()` says which of `_wifimgr.Link` and `Link` to use.

What it does:
- With a remembered (ssid, bssid, channel) of a known network it connects straight to that
  BSSID (the C Link on that channel; stock `WLAN.connect()` takes no channel, so for the twin
  ESP-IDF searches the channels for it); if that fails (or nothing associates within
  PROBE_TIMEOUT_MS) it scans.
- With nothing remembered and one candidate a scan cannot change the choice: it connects by
  name at once and the radio finds the channel (ESP-IDF's fast scan). If the network is not
  found the fallback access point opens when this round is the one, and a scan ends the round
  (the portal's list); any other failure one bad access point can explain: a scan and its plan
  first, the access point only if the round fails. Several candidates compete on signal: a
  scan first.
- After a scan it tries the known networks that are visible, in the user's order; candidates with
  the same SSID are equal and the better RSSI goes first; an SSID seen from several access
  points is joined through each in turn, best RSSI first (the BSSID is pinned). Hidden
  candidates that no scan shows are tried directly by name.
- Wrong password, network not found and no DHCP address are reported as such (`reason`); an
  access point that fails waits a bounded exponential backoff before it is tried again, while
  the others (of the same SSID too) are tried; a join by name, its BSSID unknown, backs off
  that candidate's joins by name. One exception: no address from a BSSID that gave one (the
  remembered one, or any joined since start(); a rebooting router's radio is back before its
  DHCP server) backs nothing off: the round goes on to the others, and the rounds' fast
  reconnect goes to that BSSID from then on (the remembered one may be a mesh node still away).
- While disconnected it starts a new round (fast reconnect, then scan) every `rescan_ms`, and
  between rounds probes every `probe_ms`, right after a round's scan and then every probe_ms
  after the last probe ended: in turn each BSSID that gave an address for a candidate (the
  remembered one among them; at most MAX_BACKOFFS, the latest kept) on its channel, so a mesh
  node still away does not hide the router that is back, else the only candidate by name. Only
  an address puts a BSSID in the turn: an access point that copies a known SSID never gets a
  probe. A probe is quiet (the state stays "waiting", `attempts` does not move) until it
  associates; then it is a join like the fast reconnect. So a network that comes back is
  rejoined within about probe_ms plus the probe plus association and DHCP.
- `try_credentials()` connects to the given network at once with the access point left up and
  reports the outcome in `status()["trial"]`. A failed trial neither opens the access point nor
  counts as a failed round: the known networks get their next round as usual.
- `configure()` while a network is connecting lets that attempt finish; if the network left the
  list, its failure starts a new round on the new list at once.
- A scan that never reports counts, after 10 s, as a scan that found nothing.
- A turn of the driver's task that raises (a MemoryError, a radio method's bug) is logged and
  shown in `status()["error"]` until the link next connects; the task pauses and goes on.

Policy keys (`configure(candidates, policy)`; every key is optional):
- `ap_policy`: "fallback" (default: the access point opens when `retries` rounds in a row joined
  nothing, and closes once the station has an address), "always" (up from `start()` to
  `stop()`), "never".
- `ap_config`: dict for `ap.config(**ap_config)` (ssid, key, channel, security, hidden).
- `retries`: failed rounds in a row before "fallback" opens the access point (1).
- `backoff_min_ms`, `backoff_max_ms`: a failing access point (a candidate joined by name)
  waits backoff_min_ms after its first failure, doubling with every further one up to
  backoff_max_ms (2000, 300000); "no_ip" from a BSSID that gave an address is not one.
- `rescan_ms`: time between the starts of two rounds while not connected (15000).
- `min_rssi`: access points weaker than this (dBm) are not tried (-90).
- `connect_timeout_ms`: connect to association, else "not_found" (15000).
- `dhcp_timeout_ms`: association to address, else "no_ip" (10000).
- `linger_ms`: after a successful `try_credentials()` under "fallback", the access point stays
  up until `finish_provisioning()` or this long (120000).
- `probe_ms`: the probes' interval while waiting (400); 0 turns off the probes and the
  direct first join (every round without a remembered network scans).
- `poll_ms`: how often the Python driver polls the radio (100; the C driver is event driven).
"""

from micropython import const

from wifimgr import _log as log
from wifimgr import platform
from wifimgr.linkspec import (
    AP_POLICIES,
    check_candidates,
    check_hint,
    check_policy,
    check_trial,
)

# States, as in core/link.h.
IDLE = const(0)
SCANNING = const(1)
CONNECTING = const(2)
GETTING_IP = const(3)
CONNECTED = const(4)
WAITING = const(5)
STATES = ("idle", "scanning", "connecting", "getting_ip", "connected", "waiting")

# Failure reasons.
NONE = const(0)
WRONG_PASSWORD = const(1)
NOT_FOUND = const(2)
NO_IP = const(3)
LINK_LOST = const(4)
REASONS = (None, "wrong_password", "not_found", "no_ip", "link_lost")

# Trial states.
TRIAL_NONE = const(0)
TRIAL_TRYING = const(1)
TRIAL_CONNECTED = const(2)
TRIAL_FAILED = const(3)
TRIALS = (None, "trying", "connected", "failed")

TRIAL_SLOT = const(-1)
ORPHAN_SLOT = const(-2)  # a connect in flight whose network was removed by configure()
# A scan that never reports (a radio that lost the event) counts as a scan that found nothing.
SCAN_TIMEOUT_MS = const(10000)
# A probe or a connect to the remembered BSSID not associated by then found nothing (at most
# connect_timeout_ms): a device's walk of every channel and an association take less. The C
# Link's radio says so sooner; WLAN.status() cannot (network_wlan_status() repeats the last
# failure while connecting).
PROBE_TIMEOUT_MS = const(3000)
# After a turn of the driver's task raised (a MemoryError, a radio's bug): the pause before the
# next one, doubling while the turns keep failing.
ERROR_PAUSE_MIN_MS = const(1000)
ERROR_PAUSE_MAX_MS = const(30000)
# What the connect in flight is (core/link.h: WM_LINK_KIND_), which decides what its failure
# leads to: from a scan's plan (backoff, the next candidate), the remembered BSSID (a scan), the
# only candidate by name (a scan, the fallback AP before it if not found and due), a probe
# while waiting (back to waiting).
# A round's plan: every visible BSSID of the candidates, the best kept (WM_LINK_MAX_PLAN).
MAX_PLAN = const(16)
# Access points backed off after a failure, by BSSID (WM_LINK_MAX_BACKOFFS).
MAX_BACKOFFS = const(8)
_PLAN = const(0)
_CACHED = const(1)
_DIRECT = const(2)
_PROBE = const(3)
_ALWAYS = const(0)
_FALLBACK = const(1)
_NEVER = const(2)


def _channel(channel):
    # A channel from the radio outside 1..14 counts as unknown.
    return channel if 0 <= channel <= 14 else 0


class _Candidate:
    def __init__(self, ssid, hidden, bssid):
        self.ssid = ssid
        self.hidden = hidden
        self.bssid = bssid
        self.fails = 0  # of the joins by name (the BSSID unknown)
        self.retry_at = 0


class Machine:
    """The reducer. Events are tuples, actions are tuples (see step()); no I/O, no clock.

    Events: ("start",) ("stop",) ("rescan",) ("try", ssid, hidden) ("finish",)
    ("scan_done", records) ("associated",) ("got_ip", bssid, channel) ("disconnected", reason)
    or ("disconnected", reason, ssid, bssid) when the radio names the link (None: unknown)
    ("timer",). Actions: ("scan",) ("connect", slot, bssid, channel) ("disconnect",)
    ("ap_start",) ("ap_stop",) ("remember", slot, bssid, channel) ("status", state).
    A slot is an index into the candidates, or TRIAL_SLOT; channel 0 means unknown.
    """

    def __init__(self):
        self.cands = []
        # [bssid, fails, retry_at]: a failure with the BSSID known backs off that BSSID, and
        # the network's other access points are still tried.
        self.backoffs = []
        # (bssid, ssid, channel) of the BSSIDs that gave an address (the remembered one too),
        # the latest last, at most MAX_BACKOFFS: their no_ip is the network's services late, not
        # their radio, and the probes go round them.
        self.served = []
        self.probe_next = 0  # the entry of `served` the next probe looks at first
        self.ap_policy = _FALLBACK
        self.set_policy(check_policy(None))
        self.hint = None  # (ssid, bssid, channel) of the last network that gave an address
        self.started = False
        self.state = IDLE
        self.ap_on = False
        self.reason = NONE
        self.attempts = 0
        self.failed_rounds = 0
        self.round_start = 0
        self.round_at = 0  # WAITING: when the next round starts
        self.probing = False  # a probe in flight: the state stays WAITING until it associates
        self.listed = False  # a scan since start(): a failed direct join needs none
        self.plan = []  # (slot, bssid, channel, rssi) still to try this round
        self.cur = None  # (slot, bssid, channel, kind) of the connect in flight
        self.t_state = -1  # deadline of the current state (connect, DHCP, next round)
        self.t_linger = -1
        self.trial = TRIAL_NONE
        self.trial_ssid = None
        self.trial_hidden = False
        self.trial_reason = NONE
        self.orphan_ssid = None
        self._out = None

    # --- configuration (validated by the caller with check_*) -----------------------------

    def set_policy(self, p):
        self.ap_policy = AP_POLICIES.index(p["ap_policy"])
        self.retries = p["retries"]
        self.backoff_min = p["backoff_min_ms"]
        self.backoff_max = p["backoff_max_ms"]
        self.rescan_ms = p["rescan_ms"]
        self.min_rssi = p["min_rssi"]
        self.connect_timeout = p["connect_timeout_ms"]
        self.dhcp_timeout = p["dhcp_timeout_ms"]
        self.linger_ms = p["linger_ms"]
        self.probe_ms = p["probe_ms"]

    def set_candidates(self, cands):
        # cands: (ssid bytes, hidden, bssid) in the user's order. A new list starts with no
        # backoff: the user may just have fixed a password.
        # A connect in flight keeps going; if its network left the list it becomes an orphan:
        # no backoff, and the rest of the round is dropped.
        old = None
        if self.cur is not None and self.cur[0] >= 0:
            old = self.cands[self.cur[0]].ssid
        elif self.cur is not None and self.cur[0] == ORPHAN_SLOT:
            old = self.orphan_ssid
        self.cands = [_Candidate(ssid, hidden, bssid) for ssid, hidden, bssid in cands]
        self.backoffs = []
        self.plan = []
        if old is not None:
            slot = self._slot_of(old)
            if slot < 0:
                self.orphan_ssid = old
                slot = ORPHAN_SLOT
            self.cur = (slot,) + self.cur[1:]

    def remember(self, ssid, bssid, channel):
        self.hint = (ssid, bssid, channel)
        if bssid is not None:
            self._add_served(ssid, bssid, channel)

    def _served_of(self, bssid):
        for i, s in enumerate(self.served):
            if s[0] == bssid:
                return i
        return -1

    def _add_served(self, ssid, bssid, channel):
        # `bssid` gave an address for `ssid` on `channel`: the latest last; a full list gives up
        # the oldest.
        i = self._served_of(bssid)
        if i < 0 and len(self.served) == MAX_BACKOFFS:
            i = 0
        if i >= 0:
            self.served.pop(i)
        self.served.append((bssid, ssid, channel))

    def ssid_of(self, slot):
        if slot == TRIAL_SLOT:
            return self.trial_ssid
        if slot == ORPHAN_SLOT:
            return self.orphan_ssid
        return self.cands[slot].ssid

    def deadline(self):
        """The time at which the driver must send ("timer",), or -1."""
        t = self.t_state
        if self.t_linger >= 0 and (t < 0 or self.t_linger < t):
            t = self.t_linger
        return t

    # --- the reducer -----------------------------------------------------------------------

    def step(self, event, now):
        out = self._out = []
        before = (self.state, self.reason, self.ap_on, self.trial, self.attempts)
        kind = event[0]
        if kind == "start":
            self._start(now)
        elif kind == "stop":
            self._stop()
        elif not self.started:
            pass
        elif kind == "timer":
            self._timer(now)
        elif kind == "scan_done":
            if self.state == SCANNING:
                self._plan(event[1], now)
                self._try_next(now)
        elif kind == "associated":
            if self.probing:
                # The remembered network answered: a join like the cached one.
                self.probing = False
                self.cur = self.cur[:3] + (_CACHED,)
                self.attempts += 1
                self.state = GETTING_IP
                self.t_state = now + self.dhcp_timeout
            elif self.state == CONNECTING:
                self.state = GETTING_IP
                self.t_state = now + self.dhcp_timeout
        elif kind == "got_ip":
            if self.state in (CONNECTING, GETTING_IP) or self.probing:
                self._got_ip(event[1], event[2], now)
        elif kind == "disconnected":
            if self._stale(event):
                pass
            elif self.state in (CONNECTING, GETTING_IP) or self.probing:
                reason = event[1]
                self._failed(reason if WRONG_PASSWORD <= reason <= LINK_LOST else NOT_FOUND, now)
            elif self.state == CONNECTED:
                self.reason = LINK_LOST
                self.attempts = 0
                self.failed_rounds = 0
                self._round(now, True)
        elif kind == "rescan":
            if self.state == WAITING:
                if self.probing:
                    out.append(("disconnect",))
                self._round(now, False)
            elif self.state == CONNECTED:
                self._scan()
        elif kind == "try":
            self._try(event[1], event[2], now)
        elif kind == "finish":
            self.t_linger = -1
            self._ap_after_ip()
        else:
            raise ValueError("unknown event %r" % (kind,))
        if (self.state, self.reason, self.ap_on, self.trial, self.attempts) != before:
            out.append(("status", STATES[self.state]))
        self._out = None
        return out

    def _stale(self, event):
        # A disconnect naming another network or access point than the connect in flight:
        # the late report of the link just left (ESP-IDF sends it after the next connect has
        # begun), not this attempt's outcome.
        if self.cur is None or len(event) < 4:
            return False
        ssid, bssid = event[2], event[3]
        if ssid is not None and ssid != self.ssid_of(self.cur[0]):
            return True
        return bssid is not None and self.cur[1] is not None and bssid != self.cur[1]

    def _scan(self):
        self.listed = True
        self._out.append(("scan",))

    def _ap(self, on):
        if on != self.ap_on:
            self.ap_on = on
            self._out.append(("ap_start",) if on else ("ap_stop",))

    def _start(self, now):
        if self.started:
            return
        self.started = True
        self.listed = False
        self.reason = NONE
        self.attempts = 0
        self.failed_rounds = 0
        if self.ap_policy == _ALWAYS:
            self._ap(True)
        self._round(now, True)

    def _in_flight(self):
        return self.state in (CONNECTING, GETTING_IP, CONNECTED) or self.probing

    def _stop(self):
        if not self.started:
            return
        if self._in_flight():
            self._out.append(("disconnect",))
        self._ap(False)
        self.started = False
        self.state = IDLE
        self.cur = None
        self.probing = False
        self.plan = []
        self.t_state = -1
        self.t_linger = -1
        if self.trial == TRIAL_TRYING:
            self.trial = TRIAL_FAILED
            self.trial_reason = NONE

    def _slot_of(self, ssid):
        for i, c in enumerate(self.cands):
            if c.ssid == ssid:
                return i
        return -1

    def _backoff_of(self, bssid):
        for i, b in enumerate(self.backoffs):
            if b[0] == bssid:
                return i
        return -1

    def _bssid_backed_off(self, bssid, now):
        i = self._backoff_of(bssid)
        return i >= 0 and self.backoffs[i][2] > now

    def _slot_through(self, ssid, bssid, now):
        # The slot of the candidate `ssid` if it is free to try through `bssid` (not backed off,
        # and a pinned candidate only through its own BSSID), else -1.
        slot = self._slot_of(ssid)
        if slot < 0 or self.cands[slot].retry_at > now or self._bssid_backed_off(bssid, now):
            return -1
        c = self.cands[slot]
        return -1 if c.bssid is not None and c.bssid != bssid else slot

    def _hint_slot(self, now):
        # The slot of the remembered network if it is a candidate free to try there, else -1.
        return -1 if self.hint is None else self._slot_through(self.hint[0], self.hint[1], now)

    def _served_slot(self, i, now):
        # The slot of the network served[i] gave an address for if it is free to try there,
        # else -1.
        bssid, ssid, _ = self.served[i]
        return self._slot_through(ssid, bssid, now)

    def _next_probe(self, now):
        # The entry of `served` the next probe goes to: the first free to try from probe_next
        # on, round the list, or -1.
        n = len(self.served)
        for k in range(n):
            i = (self.probe_next + k) % n
            if self._served_slot(i, now) >= 0:
                return i
        return -1

    def _only_candidate(self, now):
        # With nothing remembered and one candidate a scan cannot change the choice: that
        # candidate by name, the radio finding its channel (ESP-IDF's fast scan stops at the
        # first channel that answers).
        return (
            self.probe_ms != 0
            and self.hint is None
            and len(self.cands) == 1
            and self.cands[0].retry_at <= now
        )

    def _round(self, now, cached):
        # A round: the remembered BSSID on its channel if allowed (its turn of the probes: they
        # go on from the next), else the only candidate by name, else a full scan (always a
        # scan when not `cached`: rescan()).
        self.round_start = now
        self.plan = []
        self.probing = False
        slot = self._hint_slot(now) if cached else -1
        if slot >= 0:
            turn = self._served_of(self.hint[1])
            if turn >= 0:
                self.probe_next = turn + 1
            self._connect(slot, self.hint[1], self.hint[2], _CACHED, now)
            return
        if cached and self._only_candidate(now):
            self._connect(0, self.cands[0].bssid, 0, _DIRECT, now)
            return
        self.state = SCANNING
        self.t_state = now + SCAN_TIMEOUT_MS
        self.cur = None
        self._scan()

    def _connect(self, slot, bssid, channel, kind, now):
        self.cur = (slot, bssid, channel, kind)
        self.probing = kind == _PROBE
        # A probe is quiet: the state stays WAITING (no status change, no attempt) until it
        # associates.
        if not self.probing:
            self.state = CONNECTING
            self.attempts += 1
        timeout = self.connect_timeout
        if kind != _PLAN:
            timeout = min(timeout, PROBE_TIMEOUT_MS)
        self.t_state = now + timeout
        self._out.append(("connect", slot, bssid, channel))

    def _plan(self, records, now):
        # Every visible BSSID of the candidates not backed off (a pinned one only matches
        # itself), sorted by the first position of their SSID in the list, then RSSI; past
        # MAX_PLAN the last is dropped. Hidden ones not seen go after the visible ones of the
        # same rank, by name.
        plan = []
        for slot, c in enumerate(self.cands):
            rank = self._slot_of(c.ssid)
            seen = False
            for rec in records:
                if rec[0] != c.ssid or rec[3] < self.min_rssi:
                    continue
                if c.bssid is not None and rec[1] != c.bssid:
                    continue
                seen = True
                if not self._bssid_backed_off(rec[1], now):
                    self._plan_insert(plan, (rank, slot, rec[1], _channel(rec[2]), rec[3]))
            if not seen and c.hidden and c.retry_at <= now:
                self._plan_insert(plan, (rank, slot, c.bssid, 0, -128))
        self.plan = plan

    def _plan_insert(self, plan, entry):
        i = len(plan)
        while i > 0 and (
            plan[i - 1][0] > entry[0] or (plan[i - 1][0] == entry[0] and plan[i - 1][4] < entry[4])
        ):
            i -= 1
        if i < MAX_PLAN:
            plan.insert(i, entry)
            del plan[MAX_PLAN:]

    def _try_next(self, now):
        while self.plan:
            _, slot, bssid, channel, _ = self.plan.pop(0)
            if bssid is not None and not self._bssid_backed_off(bssid, now):
                self._connect(slot, bssid, channel, _PLAN, now)
                return
            if bssid is None and self.cands[slot].retry_at <= now:
                self._connect(slot, bssid, channel, _PLAN, now)
                return
        self._round_failed(now)

    def _round_failed(self, now, trial=False):
        # A failed trial is not a failed round: it neither opens the access point nor counts
        # towards `retries`; the known networks get their next round as usual.
        if not trial:
            self.failed_rounds += 1
        t = self.round_start + self.rescan_ms
        if t < now + self.backoff_min:
            t = now + self.backoff_min
        self.round_at = t
        self._wait(now, 0)
        if not trial and self.ap_policy == _FALLBACK and self.failed_rounds >= self.retries:
            self._ap(True)

    def _wait(self, now, after):
        # WAITING: the timer is the next probe when there is something to probe before the
        # round; `after` after this one (0 after a round: the scan has been away from the
        # channel).
        self.state = WAITING
        self.cur = None
        self.probing = False
        t = self.round_at
        if (
            self.probe_ms
            and (self._next_probe(now) >= 0 or self._only_candidate(now))
            and now + after < t
        ):
            t = now + after
        self.t_state = t

    def _probe(self, now):
        # While waiting: the BSSIDs that gave an address for a candidate in turn, each on its
        # channel (one channel dwell on a device; the remembered one is among them, and a node
        # of the network still away does not hide another that is back), else the only
        # candidate by name (the radio's channel search). Only an address puts a BSSID in the
        # turn: an access point that copies a known SSID is never probed.
        i = self._next_probe(now)
        if i >= 0:
            bssid, _, channel = self.served[i]
            self.probe_next = i + 1
            self._connect(self._served_slot(i, now), bssid, channel, _PROBE, now)
        elif self._only_candidate(now):
            self._connect(0, self.cands[0].bssid, 0, _PROBE, now)
        else:
            self._wait(now, self.probe_ms)

    def _backoff_after(self, fails):
        # backoff_min after the first failure, doubling with every further one to backoff_max.
        backoff = self.backoff_min
        for _ in range(fails - 1):
            backoff *= 2
            if backoff >= self.backoff_max:
                break
        return min(backoff, self.backoff_max)

    def _count_failure(self, slot, bssid, reason, now):
        # The failure backs off its BSSID when known (the network's other access points stay
        # free: one of them may be a broken mesh node), else the candidate's joins by name. A
        # full table gives up the entry due first. No address from a BSSID that gave one is its
        # network's services late, not the access point failing (a rebooting router's radio is
        # back before its DHCP server): it backs nothing off, and the probes go on.
        if reason == NO_IP and self._served_of(bssid) >= 0:
            return
        if bssid is None:
            c = self.cands[slot]
            c.fails += 1
            c.retry_at = now + self._backoff_after(c.fails)
            return
        i = self._backoff_of(bssid)
        if i < 0 and len(self.backoffs) < MAX_BACKOFFS:
            self.backoffs.append([bssid, 0, 0])
            i = len(self.backoffs) - 1
        elif i < 0:
            i = 0
            for j in range(1, MAX_BACKOFFS):
                if self.backoffs[j][2] < self.backoffs[i][2]:
                    i = j
            self.backoffs[i] = [bssid, 0, 0]
        b = self.backoffs[i]
        b[1] += 1
        b[2] = now + self._backoff_after(b[1])

    def _failed(self, reason, now):
        slot, bssid, channel, kind = self.cur
        if reason == NO_IP and slot >= 0 and channel and self._served_of(bssid) >= 0:
            # A BSSID that gave an address is on the air with its services late: the one to
            # probe and to join first from now on (the owner's last_good stays as it was).
            self.hint = (self.ssid_of(slot), bssid, channel)
        probing = self.probing
        self.probing = False
        self.cur = None
        self.t_state = -1
        if probing and slot != ORPHAN_SLOT:
            # Nothing answered (or it refused us: then its backoff pauses the probes). Quiet.
            if reason != NOT_FOUND:
                self.reason = reason
                self._count_failure(slot, bssid, reason, now)
            self._wait(now, self.probe_ms)
            return
        self.reason = reason
        if slot == TRIAL_SLOT:
            self.trial = TRIAL_FAILED
            self.trial_reason = reason
            self._round_failed(now, True)
            return
        if slot == ORPHAN_SLOT:
            # configure() changed the list under this attempt: a new round on the new list.
            self._round(now, True)
            return
        if kind == _DIRECT and reason != NOT_FOUND:
            # The network is on the air but the access point the radio chose failed (no
            # address, refused, association lost): one bad BSSID explains it. A scan and the
            # others of the plan, the AP only if the round fails. A wrong password too: ESP-IDF
            # reports a handshake timeout (a weak or broken access point) as one, and a
            # password that is really wrong fails on every BSSID of the plan before the AP
            # opens.
            self._count_failure(slot, bssid, reason, now)
        elif kind == _DIRECT:
            # The radio searched every channel for the only candidate, as a scan would have:
            # the network is not on the air and the round has failed. The first time the
            # fallback AP opens now if this round is the one, and a scan ends the round: the
            # portal's list.
            if self.listed:
                self._round_failed(now)
                return
            if self.ap_policy == _FALLBACK and self.failed_rounds + 1 >= self.retries:
                self._ap(True)
        if kind in (_CACHED, _DIRECT):
            # The remembered BSSID is not where it was: look for it (and the others).
            self.state = SCANNING
            self.t_state = now + SCAN_TIMEOUT_MS
            self._scan()
            return
        self._count_failure(slot, bssid, reason, now)
        self._try_next(now)

    def _got_ip(self, bssid, channel, now):
        slot, cbssid, cchannel, kind = self.cur
        bssid = bssid or cbssid
        channel = _channel(channel) or cchannel
        if self.probing:
            self.probing = False
            self.attempts += 1
        self.state = CONNECTED
        self.reason = NONE
        self.failed_rounds = 0
        self.t_state = -1
        self.plan = []
        if slot == TRIAL_SLOT:
            self.trial = TRIAL_CONNECTED
            self.trial_reason = NONE
            if self.ap_policy == _FALLBACK and self.ap_on:
                self.t_linger = now + self.linger_ms
        elif slot >= 0:
            self.cands[slot].fails = 0
            self.cands[slot].retry_at = 0
        if bssid is not None:
            self._add_served(self.ssid_of(slot), bssid, channel)
        joined = self._backoff_of(bssid) if bssid is not None else -1
        if joined >= 0:
            self.backoffs[joined] = self.backoffs[-1]
            self.backoffs.pop()
        if bssid is not None and channel:
            self.hint = (self.ssid_of(slot), bssid, channel)
            self._out.append(("remember", slot, bssid, channel))
        self._ap_after_ip()
        if kind == _DIRECT and not self.listed:
            # Joined without a scan: one now, for the portal's list.
            self._scan()

    def _ap_after_ip(self):
        if self.ap_policy == _FALLBACK and self.state == CONNECTED and self.t_linger < 0:
            self._ap(False)

    def _timer(self, now):
        if 0 <= self.t_linger <= now:
            self.t_linger = -1
            self._ap_after_ip()
        if self.t_state < 0 or now < self.t_state:
            return
        if self.state == WAITING and self.probing:
            self._out.append(("disconnect",))
            self._failed(NOT_FOUND, now)
        elif self.state == WAITING and self.round_at <= now:
            self._round(now, True)
        elif self.state == WAITING:
            self._probe(now)
        elif self.state == SCANNING:
            self._plan((), now)
            self._try_next(now)
        elif self.state == CONNECTING:
            self._out.append(("disconnect",))
            self._failed(NOT_FOUND, now)
        elif self.state == GETTING_IP:
            self._out.append(("disconnect",))
            self._failed(NO_IP, now)

    def _try(self, ssid, hidden, now):
        if self._in_flight():
            self._out.append(("disconnect",))
        self.trial_ssid = ssid
        self.trial_hidden = hidden
        self.trial = TRIAL_TRYING
        self.trial_reason = NONE
        self.t_linger = -1
        self.plan = []
        self._connect(TRIAL_SLOT, None, 0, _PLAN, now)


# --- the asyncio driver over network.WLAN ----------------------------------------------------


def _mac(bssid):
    return None if bssid is None else ":".join("%02x" % b for b in bssid)


class _TicksClock:
    # Milliseconds since the start, never wrapping: ticks_ms() wraps (every 2^30 ms on most
    # ports) and ticks_diff() is right only within half of that, so each reading adds the step
    # since the previous one (the driver reads it every poll_ms). The reducer's plain
    # comparisons on this clock are the C core's wrap-safe due() on its 32-bit one.
    def __init__(self):
        import time

        self._time = time
        self._last = time.ticks_ms()
        self._now = 0

    def now_ms(self):
        t = self._time.ticks_ms()
        self._now += self._time.ticks_diff(t, self._last)
        self._last = t
        return self._now


class Link:
    """Keeps the station connected: `Link(sta, ap)`, then configure(), start().

    `clock` is for tests and benchmarks: an object with now_ms(), and advance(ms) when it is
    virtual (wifimgr.sim.VirtualClock), in which case the driver's sleeps move it.
    """

    def __init__(self, sta, ap, clock=None):
        self._sta = sta
        self._ap = ap
        self._clock = clock or _TicksClock()
        self._m = Machine()
        self._policy = check_policy(None)
        self._passwords = []
        self._trial_password = ""
        self._orphan_password = ""
        self._queue = []
        self._task = None
        self._callbacks = []
        self._results = []
        self._last_good = None
        self._rssi = None
        self._ip = None
        self._associated = False
        self._stale = None  # the status code the last attempt left behind
        self._scan_next = False  # a scan put off to the next turn of the task
        self._error = None  # what the last failed turn of the task raised, until connected
        self._codes = platform.wlan_codes()

    # --- the API -----------------------------------------------------------------------------

    def configure(self, candidates, policy=None):
        cands = check_candidates(candidates)
        policy = check_policy(policy)
        self._policy = policy
        self._m.set_policy(policy)
        m = self._m
        if m.cur is not None and m.cur[0] >= 0:
            self._orphan_password = self._passwords[m.cur[0]]
        m.set_candidates([(s, h, b) for s, _, h, b in cands])
        self._passwords = [p for _, p, _, _ in cands]

    def remember(self, ssid, bssid, channel):
        ssid, bssid, channel = check_hint(ssid, bssid, channel)
        self._m.remember(ssid, bssid, channel)
        self._last_good = (ssid.decode(), _mac(bssid), channel)

    def start(self):
        import asyncio

        if self._task is not None:
            return
        # The driver decides when to reconnect: the port's own reconnect (on by default, for
        # ever) would keep the station connecting, and a scan then finds nothing.
        try:
            self._sta.config(reconnects=0)
        except (OSError, ValueError, TypeError) as e:
            log.warning("link: cannot turn off the driver's reconnect: %s", e)
        self._sta.active(True)
        self._queue.append(("start",))
        self._task = asyncio.create_task(self._run())

    def stop(self):
        self._queue = []
        self._scan_next = False
        self._feed(("stop",))
        task, self._task = self._task, None
        if task is not None:
            task.cancel()

    def rescan(self):
        self._queue.append(("rescan",))

    def try_credentials(self, ssid, password, hidden=False):
        ssid, password = check_trial(ssid, password, hidden)
        if self._task is None:
            raise OSError("link is not started")
        self._queue.append(("try", ssid, hidden, password))

    def finish_provisioning(self):
        self._queue.append(("finish",))

    def on_change(self, callback):
        self._callbacks.append(callback)

    def scan_results(self):
        return list(self._results)

    def status(self):
        m = self._m
        cur = m.cur
        ssid = bssid = channel = None
        if cur is not None and m.state in (CONNECTING, GETTING_IP, CONNECTED):
            ssid = m.ssid_of(cur[0]).decode()
            bssid = _mac(cur[1])
            channel = cur[2] or None
        trial = None
        if m.trial != TRIAL_NONE:
            trial = {
                "ssid": m.trial_ssid.decode(),
                "state": TRIALS[m.trial],
                "reason": REASONS[m.trial_reason],
                "ip": self._ip if m.trial == TRIAL_CONNECTED else None,
            }
        connected = m.state == CONNECTED
        e = self._error
        return {
            "state": STATES[m.state],
            "ssid": ssid,
            "bssid": bssid,
            "channel": channel,
            "rssi": self._rssi if connected else None,
            "ip": self._ip if connected else None,
            "reason": REASONS[m.reason],
            "attempts": m.attempts,
            "ap_active": m.ap_on,
            "last_good": self._last_good,
            "trial": trial,
            "error": None if e is None else "%s: %s" % (type(e).__name__, e),
        }

    # --- the task ------------------------------------------------------------------------------

    async def _sleep(self, ms):
        import asyncio

        advance = getattr(self._clock, "advance", None)
        if advance is not None:
            advance(ms)
            await asyncio.sleep_ms(0)
        else:
            await asyncio.sleep_ms(ms)

    async def _run(self):
        # A turn that raises (a MemoryError, a radio method's bug) is logged, shown in
        # status()["error"] until the link next connects, and followed by a pause: the task
        # goes on. What the turn left undone the reducer's deadlines recover (a connect never
        # made times out as not found, a scan as an empty one).
        pause = 0
        while self._m.started or self._queue:
            try:
                self._turn()
                pause = 0
            except Exception as e:
                pause = min(2 * pause, ERROR_PAUSE_MAX_MS) if pause else ERROR_PAUSE_MIN_MS
                self._error = e  # status()["error"], when the log line finds no heap
                log.error("link: %s: %s (going on in %d ms)", type(e).__name__, e, pause)
            await self._sleep(pause or self._policy["poll_ms"])

    def _turn(self):
        if self._scan_next:
            self._scan_next = False
            self._perform(("scan",))
        while self._queue:
            self._feed(self._queue.pop(0))
        self._poll(self._due())
        if self._due():
            self._feed(("timer",))

    def _due(self):
        deadline = self._m.deadline()
        return deadline >= 0 and self._clock.now_ms() >= deadline

    def _reason_of(self, code, associated):
        if code in self._codes.wrong_password:
            return WRONG_PASSWORD
        if code in self._codes.not_found or not associated:
            return NOT_FOUND
        return LINK_LOST

    def _poll(self, due):
        m = self._m
        state = CONNECTING if m.probing else m.state
        if state not in (CONNECTING, GETTING_IP, CONNECTED):
            return
        sta = self._sta
        codes = self._codes
        code = sta.status()
        try:
            self._rssi = sta.status("rssi")
            associated = True
        except (OSError, ValueError):
            associated = False
        if code != self._stale:
            self._stale = None
        if state == CONNECTED:
            if code != codes.got_ip:
                self._ip = None
                self._feed(("disconnected", LINK_LOST))
            return
        was_associated = self._associated
        if code == codes.got_ip:
            self._ip = sta.ifconfig()[0]
            self._feed(("got_ip",) + self._where())
        elif self._stale is not None and (
            (was_associated and not associated) or (due and state == CONNECTING)
        ):
            # Still the code the last attempt left, but the link this one made is gone, or its
            # time is up with no sign of progress: it ended the same way.
            self._feed(("disconnected", self._reason_of(code, was_associated or associated)))
        elif self._stale is None and not codes.progressing(code):
            self._feed(("disconnected", self._reason_of(code, was_associated or associated)))
        elif associated and state == CONNECTING:
            self._associated = True
            self._feed(("associated",))

    def _where(self):
        # The BSSID and channel joined: the channel the station reports (ESP-IDF chose it),
        # else the one planned; the BSSID of the connect, else the strongest of that SSID on
        # that channel in the last scan.
        slot, bssid, channel, _ = self._m.cur
        try:
            channel = self._sta.config("channel")
        except (OSError, ValueError):
            pass
        if bssid is None:
            best = self._strongest(self._m.ssid_of(slot), channel)
            bssid = best[1] if best else None
        return (bssid, channel)

    def _strongest(self, ssid, channel=None):
        # The last scan's record of `ssid` with the best RSSI (on `channel`, if given), or None.
        best = None
        for rec in self._results:
            if rec[0] == ssid and channel in (None, rec[2]) and (best is None or rec[3] > best[3]):
                best = rec
        return best

    def _feed(self, event):
        m = self._m
        now = self._clock.now_ms()
        if event[0] == "try":
            self._trial_password = event[3]
            event = event[:3]
        actions = m.step(event, now)
        # The status first: a scan blocks on stock MicroPython and callers should see
        # "scanning" before it does; but the network remembered before it, so that "connected"
        # carries its last_good (as the C Link's status does).
        for first in ("remember", "status"):
            for action in actions:
                if action[0] == first:
                    self._perform(action)
        for action in actions:
            if action[0] == "scan" and (
                ("ap_start",) in actions or ("status", "connected") in actions
            ):
                # The blocking scan waits a turn: the owner hears of the access point or the
                # address first (the manager starts the portal, the application its work)
                # instead of after two seconds of scanning.
                self._scan_next = True
            elif action[0] not in ("remember", "status"):
                self._perform(action)

    def _perform(self, action):
        kind = action[0]
        sta = self._sta
        if kind == "scan":
            self._results = sta.scan()  # blocks on stock MicroPython for the whole scan
            self._feed(("scan_done", self._results))
        elif kind == "connect":
            self._connect(action[1], action[2], action[3])
        elif kind == "disconnect":
            self._ip = None
            try:
                sta.disconnect()
            except OSError:
                pass
        elif kind == "ap_start":
            self._ap.active(True)
            if self._policy["ap_config"]:
                self._ap.config(**self._policy["ap_config"])
        elif kind == "ap_stop":
            self._ap.active(False)
        elif kind == "remember":
            ssid = self._m.ssid_of(action[1]).decode()
            self._last_good = (ssid, _mac(action[2]), action[3])
        elif kind == "status":
            if action[1] == "connected":
                self._error = None
            status = self.status()
            for callback in self._callbacks:
                try:
                    callback(status)
                except Exception as e:  # a broken callback must not stop the link
                    import sys

                    sys.print_exception(e)

    def _connect(self, slot, bssid, channel):
        m = self._m
        ssid = m.ssid_of(slot)
        if slot == TRIAL_SLOT:
            key = self._trial_password
            if bssid is None and not channel:
                # The portal's credentials go to the strongest BSSID of that name in the last
                # scan. A name the scan did not see is searched for by name.
                best = self._strongest(ssid)
                if best is not None:
                    bssid, channel = best[1], best[2]
        elif slot == ORPHAN_SLOT:
            key = self._orphan_password
        else:
            key = self._passwords[slot]
        self._associated = False
        self._ip = None
        # WLAN.status() keeps the last disconnect reason until the next GOT_IP, and connect()
        # does not clear it (network_wlan.c: network_wlan_status(), network_wlan_connect()):
        # until the status moves, a failure code is the last attempt's, not this one's.
        code = self._sta.status()
        codes = self._codes
        self._stale = None if code == codes.got_ip or codes.progressing(code) else code
        try:
            # ssid, key and bssid= are all WLAN.connect() takes: ESP-IDF then searches the
            # channels for that BSSID itself (the channel is the C Link's fast reconnect).
            self._sta.connect(ssid, key, bssid=bssid)
        except OSError:
            self._feed(("disconnected", NOT_FOUND))
