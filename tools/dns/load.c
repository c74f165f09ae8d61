// Bounded, self-stopping UDP load generator for the DNS benchmarks.
// usage: dns_load PORT SECONDS [WINDOW]
// Keeps WINDOW queries in flight to 127.0.0.1:PORT (a new one for each reply; the whole window
// again after 20 ms of silence, counting the missing ones as lost) for SECONDS, then prints
// {"sent", "received", "lost", "seconds", "qps"} as JSON. Queries are A and AAAA for
// mixed-case names, half with an EDNS0 OPT, each with its own id.

#include <arpa/inet.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static const unsigned char templates[4][64] = {
    // A www.Example.COM
    { 0, 0, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 3, 'w', 'w', 'w', 7, 'E', 'x', 'a', 'm', 'p', 'l', 'e',
      3, 'C', 'O', 'M', 0, 0, 1, 0, 1 },
    // AAAA connectivitycheck.gstatic.com
    { 0, 0, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 17, 'c', 'o', 'n', 'n', 'e', 'c', 't', 'i', 'v', 'i',
      't', 'y', 'c', 'h', 'e', 'c', 'k', 7, 'g', 's', 't', 'a', 't', 'i', 'c', 3, 'c', 'o', 'm', 0,
      0, 28, 0, 1 },
    // A captive.apple.com + OPT
    { 0, 0, 1, 0, 0, 1, 0, 0, 0, 0, 0, 1, 7, 'c', 'a', 'p', 't', 'i', 'v', 'e', 5, 'a', 'p', 'p',
      'l', 'e', 3, 'c', 'o', 'm', 0, 0, 1, 0, 1, 0, 0, 41, 16, 0, 0, 0, 0, 0, 0, 0 },
    // AAAA www.Example.COM + OPT
    { 0, 0, 1, 0, 0, 1, 0, 0, 0, 0, 0, 1, 3, 'w', 'w', 'w', 7, 'E', 'x', 'a', 'm', 'p', 'l', 'e',
      3, 'C', 'O', 'M', 0, 0, 28, 0, 1, 0, 0, 41, 16, 0, 0, 0, 0, 0, 0, 0 },
};
static const size_t sizes[4] = { 33, 47, 46, 44 };

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: dns_load PORT SECONDS [WINDOW]\n");
        return 2;
    }
    int port = atoi(argv[1]);
    double seconds = atof(argv[2]);
    int window = argc > 3 ? atoi(argv[3]) : 32;
    if (port <= 0 || port > 65535 || seconds <= 0 || seconds > 600 || window < 1) {
        fprintf(stderr, "dns_load: bad arguments\n");
        return 2;
    }
    int sock = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in addr;
    memset(&addr, 0, sizeof(addr));
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons((uint16_t)port);
    if (connect(sock, (struct sockaddr *)&addr, sizeof(addr)) != 0) {
        perror("dns_load: connect");
        return 1;
    }
    unsigned long sent = 0, received = 0, lost = 0;
    unsigned char q[64], buf[600];
    int in_flight = 0;
    double start = now(), end = start + seconds;
    while (now() < end) {
        while (in_flight < window) {
            unsigned k = (unsigned)(sent & 3);
            memcpy(q, templates[k], sizes[k]);
            q[0] = (unsigned char)(sent >> 8);
            q[1] = (unsigned char)sent;
            if (send(sock, q, sizes[k], 0) == (ssize_t)sizes[k]) {
                sent++;
                in_flight++;
            } else {
                break;
            }
        }
        struct pollfd p = { sock, POLLIN, 0 };
        if (poll(&p, 1, 20) <= 0) {
            lost += (unsigned long)in_flight;
            in_flight = 0;
            continue;
        }
        ssize_t n;
        while ((n = recv(sock, buf, sizeof(buf), MSG_DONTWAIT)) > 0) {
            received++;
            if (in_flight > 0) {
                in_flight--;
            }
        }
    }
    double took = now() - start;
    // Replies still on their way are neither received nor lost.
    printf("{\"sent\": %lu, \"received\": %lu, \"lost\": %lu, \"seconds\": %.3f, \"qps\": %.1f}\n",
        sent, received, lost, took, (double)received / took);
    return 0;
}
