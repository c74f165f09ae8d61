// Captive DNS: one UDP query in, one response out. A pure function over caller buffers: no
// heap, no globals, no recursion, bounded stack, so it can be fuzzed and measured on a host.
#ifndef WM_DNS_H
#define WM_DNS_H

#include <stddef.h>
#include <stdint.h>

// Largest query accepted and largest UDP payload advertised in our EDNS0 OPT record.
#ifndef WM_DNS_MAX_PACKET
#define WM_DNS_MAX_PACKET (512)
#endif

// How many per-name rules (allow-list entries and overrides) a config holds.
#ifndef WM_DNS_MAX_RULES
#define WM_DNS_MAX_RULES (8)
#endif

// Longest name in wire format (RFC 1035: 255 octets including the length octets).
#define WM_DNS_MAX_NAME (255)

// Largest response wm_dns_answer writes: header, the question copied back, one A record and
// one OPT record. An out buffer this large never makes it drop a query.
#define WM_DNS_MAX_RESPONSE (12 + WM_DNS_MAX_NAME + 4 + 16 + 11)

#define WM_DNS_DEFAULT_TTL (60)

// Response codes (RFC 1035, RFC 6891).
#define WM_DNS_RCODE_NOERROR (0)
#define WM_DNS_RCODE_FORMERR (1)
#define WM_DNS_RCODE_NXDOMAIN (3)
#define WM_DNS_RCODE_NOTIMP (4)
#define WM_DNS_RCODE_REFUSED (5)
#define WM_DNS_RCODE_BADVERS (16)

// What a rule does with a name it matches.
typedef enum {
    WM_DNS_ACTION_ADDRESS = 0,  // answer A queries with the rule's own address
    WM_DNS_ACTION_NXDOMAIN = 1, // allow-list: the name does not exist here
    WM_DNS_ACTION_REFUSED = 2,  // allow-list: we refuse to answer for the name
} wm_dns_action_t;

typedef struct {
    uint8_t action;     // a wm_dns_action_t
    uint8_t wildcard;   // 1: matches strict subdomains of name ("*.example.com"), 0: exact
    uint8_t addr[4];    // WM_DNS_ACTION_ADDRESS: the IPv4 address, network order
    uint16_t name_len;  // bytes of name used, including the terminating zero label
    uint8_t name[WM_DNS_MAX_NAME]; // lowercase wire format
} wm_dns_rule_t;

typedef struct {
    uint8_t addr[4];    // the address every name resolves to, network order
    uint32_t ttl;       // seconds, for the A record
    uint16_t rule_count;
    wm_dns_rule_t rules[WM_DNS_MAX_RULES];
} wm_dns_config_t;

// Sets cfg to answer every A query with addr (4 bytes, network order) and the given TTL, with
// no rules.
void wm_dns_config_init(wm_dns_config_t *cfg, const uint8_t addr[4], uint32_t ttl);

// Adds a rule for a dotted name ("example.com", "*.example.com" for its subdomains; a trailing
// dot is allowed; matched without regard to ASCII case). The first matching rule wins. addr is
// used by WM_DNS_ACTION_ADDRESS only (may be NULL otherwise). Returns 0, or
// WM_DNS_ERR_NAME for a name that is empty, has an empty label, a label over 63 bytes or is over
// 255 bytes in wire format, WM_DNS_ERR_ACTION for an unknown action or a missing address,
// WM_DNS_ERR_FULL when WM_DNS_MAX_RULES rules are already set.
#define WM_DNS_ERR_NAME (-1)
#define WM_DNS_ERR_ACTION (-2)
#define WM_DNS_ERR_FULL (-3)
int wm_dns_config_add_rule(wm_dns_config_t *cfg, const char *name, size_t name_len,
    wm_dns_action_t action, const uint8_t *addr);

// Parses dotted-quad IPv4 text of len bytes ("192.168.4.1": four decimal parts of 1 to 3 digits,
// each at most 255) into out (network order). Returns 1, or 0 for anything else (out untouched).
int wm_dns_parse_ipv4(const char *text, size_t len, uint8_t out[4]);

// Writes the response to one query of len bytes into out and returns its length, or returns 0
// when the query must get no response at all (shorter than a header, longer than
// WM_DNS_MAX_PACKET, a response rather than a query, or out_cap too small). Never reads or writes
// outside query[0, len) and out[0, out_cap). Behaviour:
// - A (or ANY) in class IN/ANY: one A record with cfg's address (or an override's), the owner
//   name a compression pointer to the question, whose bytes (and so their case) are copied.
// - every other type: NOERROR with no answer (NODATA).
// - allow-listed names: NXDOMAIN or REFUSED; classes other than IN/ANY: REFUSED.
// - EDNS0: a query with one valid OPT record gets our own OPT back (payload size
//   WM_DNS_MAX_PACKET, DO bit copied, no options); an OPT version above 0 gets BADVERS.
// - malformed: FORMERR (qdcount other than 1, bad label type, name too long, pointer in the
//   question, bad or looping pointers in other sections, truncated records, trailing bytes,
//   more than one OPT or an OPT outside the additional section); opcode other than QUERY: NOTIMP.
size_t wm_dns_answer(const wm_dns_config_t *cfg, const uint8_t *query, size_t len, uint8_t *out,
    size_t out_cap);

#endif // WM_DNS_H
