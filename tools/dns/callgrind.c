// Calls wm_dns_answer on a fixed mix of queries, for `valgrind --tool=callgrind
// --toggle-collect=wm_dns_answer`: instructions per query = the collected total / the calls.
// usage: dns_callgrind ROUNDS; prints the number of calls made.

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/dns.h"

static const unsigned char queries[4][64] = {
    { 0, 1, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 3, 'w', 'w', 'w', 7, 'E', 'x', 'a', 'm', 'p', 'l', 'e',
      3, 'C', 'O', 'M', 0, 0, 1, 0, 1 },
    { 0, 2, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 17, 'c', 'o', 'n', 'n', 'e', 'c', 't', 'i', 'v', 'i',
      't', 'y', 'c', 'h', 'e', 'c', 'k', 7, 'g', 's', 't', 'a', 't', 'i', 'c', 3, 'c', 'o', 'm', 0,
      0, 28, 0, 1 },
    { 0, 3, 1, 0, 0, 1, 0, 0, 0, 0, 0, 1, 7, 'c', 'a', 'p', 't', 'i', 'v', 'e', 5, 'a', 'p', 'p',
      'l', 'e', 3, 'c', 'o', 'm', 0, 0, 1, 0, 1, 0, 0, 41, 16, 0, 0, 0, 0, 0, 0, 0 },
    { 0, 4, 1, 0, 0, 1, 0, 0, 0, 0, 0, 1, 3, 'w', 'w', 'w', 7, 'E', 'x', 'a', 'm', 'p', 'l', 'e',
      3, 'C', 'O', 'M', 0, 0, 28, 0, 1, 0, 0, 41, 16, 0, 0, 0, 0, 0, 0, 0 },
};
static const size_t sizes[4] = { 33, 47, 46, 44 };

int main(int argc, char **argv) {
    long rounds = argc > 1 ? atol(argv[1]) : 1000;
    wm_dns_config_t cfg;
    const uint8_t ip[4] = { 192, 168, 4, 1 }, dev[4] = { 10, 0, 0, 7 };
    wm_dns_config_init(&cfg, ip, 60);
    // The rules a real captive setup has: the device's own name and a few allow-listed names.
    const char *names[] = { "wifimgr.local", "*.nx.example", "allowed.example", "refused.example" };
    wm_dns_config_add_rule(&cfg, names[0], strlen(names[0]), WM_DNS_ACTION_ADDRESS, dev);
    wm_dns_config_add_rule(&cfg, names[1], strlen(names[1]), WM_DNS_ACTION_NXDOMAIN, NULL);
    wm_dns_config_add_rule(&cfg, names[2], strlen(names[2]), WM_DNS_ACTION_NXDOMAIN, NULL);
    wm_dns_config_add_rule(&cfg, names[3], strlen(names[3]), WM_DNS_ACTION_REFUSED, NULL);
    unsigned char out[WM_DNS_MAX_RESPONSE];
    unsigned long calls = 0, bytes = 0;
    for (long r = 0; r < rounds; r++) {
        for (int k = 0; k < 4; k++) {
            bytes += wm_dns_answer(&cfg, queries[k], sizes[k], out, sizeof(out));
            calls++;
        }
    }
    printf("%lu calls %lu bytes\n", calls, bytes);
    return bytes ? 0 : 1;
}
