// The practical ceiling for a UDP responder: the same recvfrom/sendto loop as
// port/dns_task.c with the core replaced by sending the datagram back.
// usage: udp_echo [--port N]; prints "ready PORT", runs until SIGTERM/SIGINT.

#include <arpa/inet.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static volatile sig_atomic_t stop;

static void on_signal(int sig) {
    (void)sig;
    stop = 1;
}

int main(int argc, char **argv) {
    unsigned port = argc > 2 && strcmp(argv[1], "--port") == 0 ? (unsigned)atoi(argv[2]) : 0;
    int sock = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in addr;
    memset(&addr, 0, sizeof(addr));
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons((uint16_t)port);
    socklen_t len = sizeof(addr);
    if (bind(sock, (struct sockaddr *)&addr, sizeof(addr)) != 0
        || getsockname(sock, (struct sockaddr *)&addr, &len) != 0) {
        perror("udp_echo: bind");
        return 1;
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal; // no SA_RESTART: recvfrom returns EINTR
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    printf("ready %u\n", ntohs(addr.sin_port));
    fflush(stdout);
    unsigned char buf[513];
    unsigned long echoed = 0;
    while (!stop) {
        struct sockaddr_in peer;
        socklen_t peer_len = sizeof(peer);
        ssize_t n = recvfrom(sock, buf, sizeof(buf), 0, (struct sockaddr *)&peer, &peer_len);
        if (n < 0) {
            continue;
        }
        if (sendto(sock, buf, (size_t)n, 0, (struct sockaddr *)&peer, peer_len) == n) {
            echoed++;
        }
    }
    printf("{\"answers\": %lu}\n", echoed);
    return 0;
}
