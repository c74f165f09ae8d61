// The captive DNS responder's server loop: one UDP socket and one pthread around core/dns.
// pthreads and BSD sockets exist on ESP-IDF (lwIP) and POSIX alike.
#ifndef WM_DNS_TASK_H
#define WM_DNS_TASK_H

#include <pthread.h>
#include <stdint.h>

#include "core/dns.h"

// Stack for the server thread: its two packet buffers plus the core's few locals.
#ifndef WM_DNS_TASK_STACK
#define WM_DNS_TASK_STACK (4096)
#endif

// How long the thread waits for a datagram before it checks for a stop request, in ms.
#ifndef WM_DNS_TASK_POLL_MS
#define WM_DNS_TASK_POLL_MS (50)
#endif

typedef struct {
    uint32_t queries; // datagrams received
    uint32_t answers; // responses sent
    uint32_t drops;   // datagrams left unanswered (malformed per the core, or send failed)
} wm_dns_stats_t;

typedef struct {
    const wm_dns_config_t *cfg; // the caller's, read by the server thread while it runs
    int sock;
    int running;
    uint16_t port;
    pthread_t thread;
    void *also; // abandoned: freed by the thread with the task
    int abandoned; // set before stop: the thread then closes and frees on its way out
    // Written by the server thread, read by the owner: word-sized, so reads never tear.
    volatile int stop;
    volatile uint32_t queries;
    volatile uint32_t answers;
    volatile uint32_t drops;
} wm_dns_task_t;

// task must be zeroed before its first start (static storage or memset).
// Binds a UDP socket to bind_addr:port (both network order; port 0 picks a free one) and starts
// the server thread, which answers from cfg: cfg must stay unchanged until wm_dns_task_stop(). Returns 0, or an errno value (socket, bind or thread
// creation failed, EALREADY if task is running); on failure nothing is left open.
int wm_dns_task_start(wm_dns_task_t *task, const wm_dns_config_t *cfg, uint32_t bind_addr,
    uint16_t port);

// Stops the thread (within WM_DNS_TASK_POLL_MS, usually at once) and closes the socket. Safe to
// call on a task that is not running.
void wm_dns_task_stop(wm_dns_task_t *task);

// Stops the thread without waiting for it, for a finaliser that must not hold the GC: the
// thread closes the socket and frees `task` and `also` (malloc'd by the owner; `also` may be
// NULL, e.g. the config it reads) when it ends, within WM_DNS_TASK_POLL_MS. The port is free
// again only then. The owner must not touch `task` or `also` after the call; a task that is
// not running is freed at once.
void wm_dns_task_abandon(wm_dns_task_t *task, void *also);

// Copies the counters; they keep their values after stop until the next start.
void wm_dns_task_stats(const wm_dns_task_t *task, wm_dns_stats_t *out);

// The port the socket is bound to (host order), 0 when not running.
uint16_t wm_dns_task_port(const wm_dns_task_t *task);

#endif // WM_DNS_TASK_H
