// libFuzzer harness for core/dns.c: every input is one query. Built with
// -fsanitize=fuzzer,address,undefined by `make fuzz-dns`; the seed corpus is the query of every
// vector in tests/dns_vectors.json. Besides ASan/UBSan, it checks what the response must be.
// The same input also goes to wm_dns_parse_ipv4 and wm_dns_config_add_rule as text.

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/dns.h"

static wm_dns_config_t cfg;

static void setup(void) {
    const uint8_t ip[4] = { 192, 168, 4, 1 }, other[4] = { 10, 0, 0, 7 };
    wm_dns_config_init(&cfg, ip, 60);
    wm_dns_config_add_rule(&cfg, "device.lan", 10, WM_DNS_ACTION_ADDRESS, other);
    wm_dns_config_add_rule(&cfg, "*.override.test", 15, WM_DNS_ACTION_ADDRESS, other);
    wm_dns_config_add_rule(&cfg, "allowed.example", 15, WM_DNS_ACTION_NXDOMAIN, NULL);
    wm_dns_config_add_rule(&cfg, "*.nx.example", 12, WM_DNS_ACTION_NXDOMAIN, NULL);
    wm_dns_config_add_rule(&cfg, "refused.example", 15, WM_DNS_ACTION_REFUSED, NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (cfg.ttl == 0) {
        setup();
    }
    // An out buffer of exactly the largest response: ASan catches any write past it.
    uint8_t *out = malloc(WM_DNS_MAX_RESPONSE);
    size_t n = wm_dns_answer(&cfg, data, size, out, WM_DNS_MAX_RESPONSE);
    if (n > 0) {
        // A response: at least a header, to the same id, with QR set.
        if (n < 12 || n > WM_DNS_MAX_RESPONSE || out[0] != data[0] || out[1] != data[1]
            || !(out[2] & 0x80)) {
            abort();
        }
        // With less room it writes the same response or nothing, never a partial one.
        uint8_t *small = malloc(n - 1);
        if (wm_dns_answer(&cfg, data, size, small, n - 1) != 0) {
            abort();
        }
        free(small);
    } else if (size >= 12 && size <= WM_DNS_MAX_PACKET && !(data[2] & 0x80)) {
        // Only responses, runts and oversized datagrams are dropped.
        abort();
    }
    free(out);

    // The same bytes as text for the two other parsers of the core: an IPv4 address and a rule
    // name (what _wifimgr.DNSServer's arguments go through).
    uint8_t ip[4] = { 0, 0, 0, 0 };
    if (wm_dns_parse_ipv4((const char *)data, size, ip) && (size < 7 || size > 15)) {
        abort();
    }
    static wm_dns_config_t names;
    wm_dns_config_init(&names, ip, 1);
    if (wm_dns_config_add_rule(&names, (const char *)data, size, WM_DNS_ACTION_NXDOMAIN, NULL)
        == 0 && (names.rule_count != 1 || names.rules[0].name_len > WM_DNS_MAX_NAME)) {
        abort();
    }
    return 0;
}
