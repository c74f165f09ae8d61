// Server loop for the captive DNS responder: see dns_task.h. No allocation after start: both
// packet buffers live on the thread's stack.

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>
#include <netinet/in.h>

#include "port/dns_task.h"

static void *serve(void *arg) {
    wm_dns_task_t *task = arg;
    uint8_t in[WM_DNS_MAX_PACKET + 1]; // one more, so an oversized datagram shows as one
    uint8_t out[WM_DNS_MAX_RESPONSE];
    while (!__atomic_load_n(&task->stop, __ATOMIC_ACQUIRE)) {
        struct sockaddr_in peer;
        socklen_t peer_len = sizeof(peer);
        ssize_t n = recvfrom(task->sock, in, sizeof(in), 0, (struct sockaddr *)&peer, &peer_len);
        if (n < 0 || task->stop) {
            // Timeout (time to check stop), EINTR, an ICMP error reported late, or the wake-up
            // from wm_dns_task_stop.
            continue;
        }
        task->queries++;
        size_t len = wm_dns_answer(task->cfg, in, (size_t)n, out, sizeof(out));
        if (len > 0 && sendto(task->sock, out, len, 0, (struct sockaddr *)&peer, peer_len)
            == (ssize_t)len) {
            task->answers++;
        } else {
            task->drops++;
        }
    }
    if (task->abandoned) { // read after stop: wm_dns_task_abandon set it before
        close(task->sock);
        free(task->also);
        free(task);
    }
    return NULL;
}

int wm_dns_task_start(wm_dns_task_t *task, const wm_dns_config_t *cfg, uint32_t bind_addr,
    uint16_t port) {
    if (task->running) {
        return EALREADY;
    }
    task->cfg = cfg;
    task->abandoned = 0;
    task->stop = 0;
    task->queries = task->answers = task->drops = 0;
    task->sock = socket(AF_INET, SOCK_DGRAM, 0);
    if (task->sock < 0) {
        return errno;
    }
    struct sockaddr_in addr;
    memset(&addr, 0, sizeof(addr));
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = bind_addr;
    addr.sin_port = port;
    struct timeval timeout = { 0, WM_DNS_TASK_POLL_MS * 1000 };
    socklen_t addr_len = sizeof(addr);
    int err = 0;
    if (setsockopt(task->sock, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout)) != 0
        || bind(task->sock, (struct sockaddr *)&addr, sizeof(addr)) != 0
        || getsockname(task->sock, (struct sockaddr *)&addr, &addr_len) != 0) {
        err = errno;
    }
    if (err == 0) {
        pthread_attr_t attr;
        size_t stack = WM_DNS_TASK_STACK;
        #ifdef PTHREAD_STACK_MIN
        if (stack < (size_t)PTHREAD_STACK_MIN) {
            stack = (size_t)PTHREAD_STACK_MIN;
        }
        #endif
        err = pthread_attr_init(&attr);
        if (err == 0) {
            err = pthread_attr_setstacksize(&attr, stack);
            if (err == 0) {
                #if defined(__unix__) || defined(__APPLE__)
                // Signals (the unix port's SIGINT for KeyboardInterrupt, its GC signal) go to
                // the threads that expect them: the server thread starts with all blocked.
                sigset_t all, old;
                sigfillset(&all);
                pthread_sigmask(SIG_SETMASK, &all, &old);
                err = pthread_create(&task->thread, &attr, serve, task);
                pthread_sigmask(SIG_SETMASK, &old, NULL);
                #else
                err = pthread_create(&task->thread, &attr, serve, task);
                #endif
            }
            pthread_attr_destroy(&attr);
        }
    }
    if (err != 0) {
        close(task->sock);
        task->sock = -1;
        return err;
    }
    task->port = ntohs(addr.sin_port);
    task->running = 1;
    return 0;
}

void wm_dns_task_stop(wm_dns_task_t *task) {
    if (!task->running) {
        return;
    }
    task->stop = 1;
    // Wakes a blocked recvfrom at once where the stack supports it (Linux); otherwise the
    // receive timeout does within WM_DNS_TASK_POLL_MS.
    shutdown(task->sock, SHUT_RDWR);
    pthread_join(task->thread, NULL);
    close(task->sock);
    task->sock = -1;
    task->port = 0;
    task->running = 0;
}

void wm_dns_task_abandon(wm_dns_task_t *task, void *also) {
    if (!task->running) {
        free(also);
        free(task);
        return;
    }
    task->also = also;
    task->abandoned = 1;
    pthread_detach(task->thread);
    // Wakes the thread where the stack supports it (Linux); before stop, since after it the
    // thread may close the socket and free the task.
    shutdown(task->sock, SHUT_RDWR);
    __atomic_store_n(&task->stop, 1, __ATOMIC_RELEASE);
}

void wm_dns_task_stats(const wm_dns_task_t *task, wm_dns_stats_t *out) {
    out->queries = task->queries;
    out->answers = task->answers;
    out->drops = task->drops;
}

uint16_t wm_dns_task_port(const wm_dns_task_t *task) {
    return task->running ? task->port : 0;
}
