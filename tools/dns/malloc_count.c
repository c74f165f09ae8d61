// LD_PRELOAD counter of heap allocations, to show the DNS server allocates nothing per query.
// Counts malloc/calloc/realloc/posix_memalign calls; on SIGUSR1 writes "mallocs N\n" to stderr.

#define _GNU_SOURCE
#include <dlfcn.h>
#include <signal.h>
#include <stddef.h>
#include <string.h>
#include <unistd.h>

static volatile unsigned long count;
static void *(*real_malloc)(size_t);
static void *(*real_calloc)(size_t, size_t);
static void *(*real_realloc)(void *, size_t);
static int (*real_memalign)(void **, size_t, size_t);

// dlsym may itself call calloc before real_calloc is known: serve it from a static buffer.
static char early[4096];
static size_t early_used;

static void report(int sig) {
    (void)sig;
    char text[32] = "mallocs ";
    char digits[21];
    int n = 0;
    unsigned long v = count;
    do {
        digits[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    size_t at = 8;
    while (n) {
        text[at++] = digits[--n];
    }
    text[at++] = '\n';
    ssize_t w = write(2, text, at);
    (void)w;
}

__attribute__((constructor)) static void init(void) {
    real_malloc = (void *(*)(size_t))dlsym(RTLD_NEXT, "malloc");
    real_calloc = (void *(*)(size_t, size_t))dlsym(RTLD_NEXT, "calloc");
    real_realloc = (void *(*)(void *, size_t))dlsym(RTLD_NEXT, "realloc");
    real_memalign = (int (*)(void **, size_t, size_t))dlsym(RTLD_NEXT, "posix_memalign");
    signal(SIGUSR1, report);
}

void *malloc(size_t n) {
    if (!real_malloc) {
        init();
    }
    __atomic_add_fetch(&count, 1, __ATOMIC_RELAXED);
    return real_malloc(n);
}

void *calloc(size_t a, size_t b) {
    if (!real_calloc) {
        size_t n = (a * b + 15) & ~(size_t)15;
        if (early_used + n > sizeof(early)) {
            return NULL;
        }
        void *p = early + early_used;
        early_used += n;
        memset(p, 0, n);
        return p;
    }
    __atomic_add_fetch(&count, 1, __ATOMIC_RELAXED);
    return real_calloc(a, b);
}

void *realloc(void *p, size_t n) {
    if (!real_realloc) {
        init();
    }
    __atomic_add_fetch(&count, 1, __ATOMIC_RELAXED);
    return real_realloc(p, n);
}

int posix_memalign(void **p, size_t align, size_t n) {
    if (!real_memalign) {
        init();
    }
    __atomic_add_fetch(&count, 1, __ATOMIC_RELAXED);
    return real_memalign(p, align, n);
}

void free(void *p) {
    static void (*real_free)(void *);
    if ((char *)p >= early && (char *)p < early + sizeof(early)) {
        return;
    }
    if (!real_free) {
        real_free = (void (*)(void *))dlsym(RTLD_NEXT, "free");
    }
    real_free(p);
}
