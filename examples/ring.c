/* A producer and a consumer process sharing a ring buffer in anonymous
 * shared memory: plain POSIX code (mmap, C11 atomics, waitpid), with the one
 * change a Windows port needs at the fork site (winmmap_fork_call).  Builds
 * unchanged on Linux and, with winmmap, on Windows.
 *   ring [messages]   prints what the consumer received; exit 0 when all
 *                     arrived in order. */
#define _DEFAULT_SOURCE /* MAP_ANONYMOUS under -std=c11 */
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <winmmap.h>

#define SLOTS 64

struct ring {
    _Atomic uint64_t head; /* next slot the producer writes */
    _Atomic uint64_t tail; /* next slot the consumer reads */
    uint64_t slot[SLOTS];
};

struct job {
    struct ring *ring;
    uint64_t messages;
};

/* The consumer: takes every message, checks the order, returns 0 if all
 * arrived as sent. */
static int consume(void *arg)
{
    const struct job *j = arg;
    struct ring *r = j->ring;
    uint64_t sum = 0;
    for (uint64_t want = 0; want < j->messages; want++) {
        while (atomic_load_explicit(&r->head, memory_order_acquire) == want)
            ; /* empty: wait for the producer */
        uint64_t v = r->slot[want % SLOTS];
        if (v != want * 3 + 1)
            return 1;
        sum += v;
        atomic_store_explicit(&r->tail, want + 1, memory_order_release);
    }
    printf("consumer: %llu messages, sum %llu\n", (unsigned long long)j->messages,
           (unsigned long long)sum);
    fflush(stdout);
    return 0;
}

int main(int argc, char **argv)
{
    uint64_t n = argc > 1 ? strtoull(argv[1], NULL, 10) : 100000;
    struct ring *r = mmap(NULL, sizeof *r, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (r == MAP_FAILED) {
        perror("mmap");
        return 1;
    }
    struct job j = {r, n};
    /* POSIX: pid_t pid = fork(); if (pid == 0) _exit(consume(&j)); */
    pid_t pid = winmmap_fork_call(consume, &j, sizeof j);
    if (pid < 0) {
        perror("winmmap_fork_call");
        return 1;
    }
    for (uint64_t i = 0; i < n; i++) {
        while (i - atomic_load_explicit(&r->tail, memory_order_acquire) == SLOTS)
            ; /* full: wait for the consumer */
        r->slot[i % SLOTS] = i * 3 + 1;
        atomic_store_explicit(&r->head, i + 1, memory_order_release);
    }
    int status;
    if (waitpid(pid, &status, 0) != pid) {
        perror("waitpid");
        return 1;
    }
    printf("producer: %llu messages sent; consumer %s %d\n", (unsigned long long)n,
           WIFEXITED(status) ? "exited with" : "killed by signal",
           WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
    munmap(r, sizeof *r);
    return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : 1;
}
