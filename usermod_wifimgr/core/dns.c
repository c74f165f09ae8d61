// Captive DNS responder core: see dns.h for the behaviour. Message layout from RFC 1035 4.1,
// EDNS0 from RFC 6891.

#include <string.h>

#include "dns.h"

#define HEADER_LEN (12)
#define TYPE_A (1)
#define TYPE_OPT (41)
#define TYPE_ANY (255)
#define CLASS_IN (1)
#define CLASS_ANY (255)

#define FLAG_QR (0x8000)
#define FLAG_AA (0x0400)
#define FLAG_RD (0x0100)
#define FLAG_CD (0x0010)
#define OPCODE_MASK (0x7800)
#define EDNS_FLAG_DO (0x8000)

// Sections a record can be in, for the one check that cares (OPT only in additional).
#define SECTION_ADDITIONAL (2)

static uint16_t get16(const uint8_t *p) {
    return (uint16_t)((p[0] << 8) | p[1]);
}

static void put16(uint8_t *p, uint16_t v) {
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static void put32(uint8_t *p, uint32_t v) {
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static uint8_t lower(uint8_t c) {
    return (c >= 'A' && c <= 'Z') ? (uint8_t)(c + ('a' - 'A')) : c;
}

void wm_dns_config_init(wm_dns_config_t *cfg, const uint8_t addr[4], uint32_t ttl) {
    memcpy(cfg->addr, addr, 4);
    cfg->ttl = ttl;
    cfg->rule_count = 0;
}

int wm_dns_parse_ipv4(const char *text, size_t len, uint8_t out[4]) {
    uint8_t addr[4];
    size_t part = 0, digits = 0;
    unsigned value = 0;
    for (size_t i = 0; i <= len; i++) {
        if (i == len || text[i] == '.') {
            if (digits == 0 || part > 3) {
                return 0;
            }
            addr[part++] = (uint8_t)value;
            digits = 0;
            value = 0;
        } else if (text[i] >= '0' && text[i] <= '9' && digits < 3) {
            value = value * 10 + (unsigned)(text[i] - '0');
            if (value > 255) {
                return 0;
            }
            digits++;
        } else {
            return 0;
        }
    }
    if (part != 4) {
        return 0;
    }
    memcpy(out, addr, 4);
    return 1;
}

int wm_dns_config_add_rule(wm_dns_config_t *cfg, const char *name, size_t name_len,
    wm_dns_action_t action, const uint8_t *addr) {
    if (action != WM_DNS_ACTION_ADDRESS && action != WM_DNS_ACTION_NXDOMAIN
        && action != WM_DNS_ACTION_REFUSED) {
        return WM_DNS_ERR_ACTION;
    }
    if (action == WM_DNS_ACTION_ADDRESS && addr == NULL) {
        return WM_DNS_ERR_ACTION;
    }
    if (cfg->rule_count >= WM_DNS_MAX_RULES) {
        return WM_DNS_ERR_FULL;
    }
    wm_dns_rule_t *rule = &cfg->rules[cfg->rule_count];
    rule->wildcard = 0;
    if (name_len >= 2 && name[0] == '*' && name[1] == '.') {
        rule->wildcard = 1;
        name += 2;
        name_len -= 2;
    }
    if (name_len > 0 && name[name_len - 1] == '.') {
        name_len--;
    }
    if (name_len == 0 || name_len + 2 > WM_DNS_MAX_NAME) {
        return WM_DNS_ERR_NAME;
    }
    // "a.bc" becomes "\1a\2bc\0": each dot turns into the length of the label after it.
    size_t label = 0;
    for (size_t i = 0; i <= name_len; i++) {
        if (i == name_len || name[i] == '.') {
            size_t n = i - label;
            if (n == 0 || n > 63) {
                return WM_DNS_ERR_NAME;
            }
            rule->name[label] = (uint8_t)n;
            label = i + 1;
        } else {
            uint8_t c = (uint8_t)name[i];
            if (c <= ' ' || c >= 0x7f) {
                return WM_DNS_ERR_NAME;
            }
            rule->name[i + 1] = lower(c);
        }
    }
    rule->name[name_len + 1] = 0;
    rule->name_len = (uint16_t)(name_len + 2);
    rule->action = (uint8_t)action;
    if (addr != NULL) {
        memcpy(rule->addr, addr, 4);
    } else {
        memset(rule->addr, 0, 4);
    }
    cfg->rule_count++;
    return 0;
}

// Steps over a name inside a record at *pos, checking it: labels of 0..63 bytes, at most 255
// bytes once expanded, pointers only to a label inside the message at an offset below the
// previous one (so following them always ends). Advances *pos past the name as stored in the
// record. Returns 0, or -1 for a malformed name.
static int skip_name(const uint8_t *msg, size_t len, size_t *pos) {
    size_t p = *pos;
    size_t after = 0;
    size_t limit = *pos;
    size_t total = 0;
    for (;;) {
        if (p >= len) {
            return -1;
        }
        uint8_t c = msg[p];
        if ((c & 0xC0) == 0xC0) {
            if (p + 1 >= len) {
                return -1;
            }
            size_t target = ((size_t)(c & 0x3F) << 8) | msg[p + 1];
            if (after == 0) {
                after = p + 2;
            }
            if (target < HEADER_LEN || target >= limit) {
                return -1;
            }
            limit = target;
            p = target;
            continue;
        }
        if (c & 0xC0) {
            return -1;
        }
        total += (size_t)c + 1;
        if (total > WM_DNS_MAX_NAME) {
            return -1;
        }
        p += (size_t)c + 1;
        if (c == 0) {
            break;
        }
    }
    *pos = after ? after : p;
    return 0;
}

// Whether the question name qname (wire format, qlen bytes) matches a rule.
static int rule_matches(const wm_dns_rule_t *rule, const uint8_t *qname, size_t qlen) {
    size_t off = 0;
    if (rule->wildcard) {
        if (qlen <= rule->name_len) {
            return 0;
        }
        // The rule's name must start on one of the question's labels.
        size_t want = qlen - rule->name_len;
        while (off < want) {
            off += (size_t)qname[off] + 1;
        }
        if (off != want) {
            return 0;
        }
    } else if (qlen != rule->name_len) {
        return 0;
    }
    for (size_t i = 0; i < rule->name_len; i++) {
        if (lower(qname[off + i]) != rule->name[i]) {
            return 0;
        }
    }
    return 1;
}

// A response with no question: used for FORMERR and NOTIMP.
static size_t header_only(const uint8_t *query, uint16_t flags, int rcode, uint8_t *out,
    size_t out_cap) {
    if (out_cap < HEADER_LEN) {
        return 0;
    }
    memset(out, 0, HEADER_LEN);
    out[0] = query[0];
    out[1] = query[1];
    put16(out + 2, (uint16_t)(FLAG_QR | (flags & (OPCODE_MASK | FLAG_RD)) | rcode));
    return HEADER_LEN;
}

size_t wm_dns_answer(const wm_dns_config_t *cfg, const uint8_t *query, size_t len, uint8_t *out,
    size_t out_cap) {
    if (len < HEADER_LEN || len > WM_DNS_MAX_PACKET) {
        return 0;
    }
    uint16_t flags = get16(query + 2);
    if (flags & FLAG_QR) {
        // Never answer a response: two responders would bounce packets forever.
        return 0;
    }
    if (flags & OPCODE_MASK) {
        return header_only(query, flags, WM_DNS_RCODE_NOTIMP, out, out_cap);
    }
    if (get16(query + 4) != 1) {
        return header_only(query, flags, WM_DNS_RCODE_FORMERR, out, out_cap);
    }

    // The question: its name may not use compression (there is nothing before it to point to).
    size_t p = HEADER_LEN;
    for (;;) {
        if (p >= len) {
            return header_only(query, flags, WM_DNS_RCODE_FORMERR, out, out_cap);
        }
        uint8_t c = query[p];
        if ((c & 0xC0) || p - HEADER_LEN + 1 + c > WM_DNS_MAX_NAME) {
            return header_only(query, flags, WM_DNS_RCODE_FORMERR, out, out_cap);
        }
        p += (size_t)c + 1;
        if (c == 0) {
            break;
        }
    }
    size_t qname_len = p - HEADER_LEN;
    if (len - p < 4) {
        return header_only(query, flags, WM_DNS_RCODE_FORMERR, out, out_cap);
    }
    uint16_t qtype = get16(query + p);
    uint16_t qclass = get16(query + p + 2);
    p += 4;
    size_t question_end = p;

    // The other sections: a query normally carries only an OPT, but any well-formed record is
    // stepped over. Each record is at least 11 bytes, so a huge count ends at the packet's end.
    uint16_t counts[3] = { get16(query + 6), get16(query + 8), get16(query + 10) };
    int have_opt = 0;
    uint16_t opt_flags = 0;
    uint8_t opt_version = 0;
    for (int section = 0; section < 3; section++) {
        for (uint16_t i = 0; i < counts[section]; i++) {
            size_t name_at = p;
            if (skip_name(query, len, &p) != 0 || len - p < 10) {
                return header_only(query, flags, WM_DNS_RCODE_FORMERR, out, out_cap);
            }
            uint16_t rtype = get16(query + p);
            size_t rdlen = get16(query + p + 8);
            if (rtype == TYPE_OPT) {
                // One OPT, owned by the root, in the additional section (RFC 6891 6.1.1).
                if (section != SECTION_ADDITIONAL || have_opt || p != name_at + 1) {
                    return header_only(query, flags, WM_DNS_RCODE_FORMERR, out, out_cap);
                }
                have_opt = 1;
                opt_version = query[p + 5];
                opt_flags = get16(query + p + 6);
            }
            p += 10;
            if (len - p < rdlen) {
                return header_only(query, flags, WM_DNS_RCODE_FORMERR, out, out_cap);
            }
            p += rdlen;
        }
    }
    if (p != len) {
        return header_only(query, flags, WM_DNS_RCODE_FORMERR, out, out_cap);
    }

    // Decide: rcode, and whether (and with what address) to answer.
    int rcode = WM_DNS_RCODE_NOERROR;
    const uint8_t *addr = NULL;
    if (have_opt && opt_version != 0) {
        rcode = WM_DNS_RCODE_BADVERS;
    } else if (qclass != CLASS_IN && qclass != CLASS_ANY) {
        rcode = WM_DNS_RCODE_REFUSED;
    } else {
        addr = cfg->addr;
        const uint8_t *qname = query + HEADER_LEN;
        for (uint16_t i = 0; i < cfg->rule_count; i++) {
            const wm_dns_rule_t *rule = &cfg->rules[i];
            if (rule_matches(rule, qname, qname_len)) {
                if (rule->action == WM_DNS_ACTION_ADDRESS) {
                    addr = rule->addr;
                } else {
                    addr = NULL;
                    rcode = rule->action == WM_DNS_ACTION_NXDOMAIN
                        ? WM_DNS_RCODE_NXDOMAIN : WM_DNS_RCODE_REFUSED;
                }
                break;
            }
        }
        if (qtype != TYPE_A && qtype != TYPE_ANY) {
            addr = NULL;
        }
    }

    size_t question_len = question_end - HEADER_LEN;
    size_t need = HEADER_LEN + question_len + (addr ? 16 : 0) + (have_opt ? 11 : 0);
    if (out_cap < need) {
        return 0;
    }
    uint16_t out_flags = (uint16_t)(FLAG_QR | (flags & (FLAG_RD | FLAG_CD)) | (rcode & 0xF));
    if (rcode == WM_DNS_RCODE_NOERROR || rcode == WM_DNS_RCODE_NXDOMAIN) {
        out_flags |= FLAG_AA;
    }
    out[0] = query[0];
    out[1] = query[1];
    put16(out + 2, out_flags);
    put16(out + 4, 1);
    put16(out + 6, addr ? 1 : 0);
    put16(out + 8, 0);
    put16(out + 10, have_opt ? 1 : 0);
    memcpy(out + HEADER_LEN, query + HEADER_LEN, question_len);
    uint8_t *w = out + HEADER_LEN + question_len;
    if (addr) {
        put16(w, 0xC000 | HEADER_LEN);
        put16(w + 2, TYPE_A);
        put16(w + 4, CLASS_IN);
        put32(w + 6, cfg->ttl);
        put16(w + 10, 4);
        memcpy(w + 12, addr, 4);
        w += 16;
    }
    if (have_opt) {
        w[0] = 0;
        put16(w + 1, TYPE_OPT);
        put16(w + 3, WM_DNS_MAX_PACKET);
        w[5] = (uint8_t)(rcode >> 4);
        w[6] = 0;
        put16(w + 7, opt_flags & EDNS_FLAG_DO);
        put16(w + 9, 0);
        w += 11;
    }
    return (size_t)(w - out);
}
