// Host build of the captive DNS responder (core/dns.c + port/dns_task.c) for tests and benches.
// usage: wm_dns_server IP [--port N] [--bind ADDR] [--ttl S] [--nxdomain NAME]... [--refused NAME]...
//        [--override NAME=IP]...
// Prints "ready PORT" once serving; on SIGTERM/SIGINT stops and prints the counters and the time
// stop took as one JSON line. SIGUSR1 is left alone (tools/dns/malloc_count.c uses it).

#include <arpa/inet.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "port/dns_task.h"

static wm_dns_task_t task;

static int parse_ip(const char *text, uint8_t out[4]) {
    struct in_addr a;
    if (inet_pton(AF_INET, text, &a) != 1) {
        fprintf(stderr, "wm_dns_server: not an IPv4 address: %s\n", text);
        exit(2);
    }
    memcpy(out, &a.s_addr, 4);
    return 0;
}

static void add_rule(wm_dns_config_t *cfg, const char *name, size_t len, wm_dns_action_t action,
    const uint8_t *addr) {
    int err = wm_dns_config_add_rule(cfg, name, len, action, addr);
    if (err != 0) {
        fprintf(stderr, "wm_dns_server: rule %s rejected (%d)\n", name, err);
        exit(2);
    }
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: wm_dns_server IP [--port N] [--bind ADDR] [--ttl S] "
            "[--nxdomain NAME] [--refused NAME] [--override NAME=IP]\n");
        return 2;
    }
    wm_dns_config_t cfg;
    uint8_t ip[4], bind_ip[4] = { 127, 0, 0, 1 };
    parse_ip(argv[1], ip);
    wm_dns_config_init(&cfg, ip, WM_DNS_DEFAULT_TTL);
    unsigned port = 5353;
    for (int i = 2; i + 1 < argc; i += 2) {
        const char *opt = argv[i], *val = argv[i + 1];
        if (strcmp(opt, "--port") == 0) {
            port = (unsigned)atoi(val);
        } else if (strcmp(opt, "--bind") == 0) {
            parse_ip(val, bind_ip);
        } else if (strcmp(opt, "--ttl") == 0) {
            cfg.ttl = (uint32_t)strtoul(val, NULL, 10);
        } else if (strcmp(opt, "--nxdomain") == 0) {
            add_rule(&cfg, val, strlen(val), WM_DNS_ACTION_NXDOMAIN, NULL);
        } else if (strcmp(opt, "--refused") == 0) {
            add_rule(&cfg, val, strlen(val), WM_DNS_ACTION_REFUSED, NULL);
        } else if (strcmp(opt, "--override") == 0 && strchr(val, '=')) {
            const char *eq = strchr(val, '=');
            uint8_t addr[4];
            parse_ip(eq + 1, addr);
            add_rule(&cfg, val, (size_t)(eq - val), WM_DNS_ACTION_ADDRESS, addr);
        } else {
            fprintf(stderr, "wm_dns_server: bad option %s %s\n", opt, val);
            return 2;
        }
    }
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set, NULL); // the server thread inherits the mask
    uint32_t bind_addr;
    memcpy(&bind_addr, bind_ip, 4);
    int err = wm_dns_task_start(&task, &cfg, bind_addr, htons((uint16_t)port));
    if (err != 0) {
        fprintf(stderr, "wm_dns_server: cannot serve on port %u: %s\n", port, strerror(err));
        return 1;
    }
    printf("ready %u\n", wm_dns_task_port(&task));
    fflush(stdout);
    int sig;
    sigwait(&set, &sig);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    wm_dns_task_stop(&task);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    wm_dns_stats_t st;
    wm_dns_task_stats(&task, &st);
    double stop_ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
    printf("{\"queries\": %u, \"answers\": %u, \"drops\": %u, \"stop_ms\": %.3f}\n",
        (unsigned)st.queries, (unsigned)st.answers, (unsigned)st.drops, stop_ms);
    return 0;
}
