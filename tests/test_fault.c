/* Memory faults as signals: SIGSEGV (MAPERR/ACCERR) and SIGBUS past end of
 * file, with siginfo, handler return (retry), siglongjmp, SA_RESETHAND,
 * SA_NODEFER, several threads at once, and the default action. */
#define _GNU_SOURCE
#include "wmtest.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#if defined(_WIN32) && WMT_HAVE_HOOKS
#include "win32/internal.h"
#endif

#define RW (PROT_READ | PROT_WRITE)

static sigjmp_buf jump;
static volatile int hits;
static siginfo_t last;

static void record_and_jump(int sig, siginfo_t *si, void *uc)
{
    (void)sig, (void)uc;
    last = *si;
    hits++;
    siglongjmp(jump, 1);
}

static void install(int sig, void (*fn)(int, siginfo_t *, void *), int flags)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = fn;
    sa.sa_flags = SA_SIGINFO | flags;
    sigemptyset(&sa.sa_mask);
    sigaction(sig, &sa, NULL);
}

static void restore_default(int sig)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = SIG_DFL;
    sigaction(sig, &sa, NULL);
}

/* Read *p and report whether a signal interrupted it. */
static int faults_on_read(volatile unsigned char *p)
{
    if (sigsetjmp(jump, 1) == 0) {
        (void)*p;
        return 0;
    }
    return 1;
}

static int faults_on_write(volatile unsigned char *p)
{
    if (sigsetjmp(jump, 1) == 0) {
        *p = 1;
        return 0;
    }
    return 1;
}

void test_fault__prot_none_is_sigsegv_accerr_with_address(void)
{
    size_t pg = wmt_page();
    unsigned char *p = mmap(NULL, 2 * pg, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    WMT_REQUIRE(p != MAP_FAILED);
    WMT_REQUIRE(mprotect(p + pg, pg, PROT_NONE) == 0);
    install(SIGSEGV, record_and_jump, 0);
    hits = 0;
    WMT_TRUE(faults_on_read(p + pg + 5));
    WMT_EQ(last.si_signo, SIGSEGV);
    WMT_EQ(last.si_code, SEGV_ACCERR);
    WMT_PTR_EQ(last.si_addr, p + pg + 5);
    WMT_TRUE(faults_on_write(p + 7)); /* read-only page: write is ACCERR too */
    WMT_EQ(last.si_code, SEGV_ACCERR);
    WMT_PTR_EQ(last.si_addr, p + 7);
    WMT_TRUE(!faults_on_read(p + 7));
    WMT_EQ(hits, 2);
    restore_default(SIGSEGV);
    munmap(p, 2 * pg);
}

void test_fault__unmapped_is_sigsegv_maperr_with_address(void)
{
    size_t pg = wmt_page();
    unsigned char *p = mmap(NULL, pg, RW, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    WMT_REQUIRE(p != MAP_FAILED);
    WMT_REQUIRE(munmap(p, pg) == 0);
    install(SIGSEGV, record_and_jump, 0);
    WMT_TRUE(faults_on_read(p + 3));
    WMT_EQ(last.si_signo, SIGSEGV);
    WMT_EQ(last.si_code, SEGV_MAPERR);
    WMT_PTR_EQ(last.si_addr, p + 3);
    restore_default(SIGSEGV);
}

void test_fault__page_past_eof_is_sigbus_adrerr(void)
{
    size_t pg = wmt_page();
    int fd = wmt_temp_file(pg, 1, O_RDWR, NULL, 0);
    WMT_REQUIRE(fd >= 0);
    unsigned char *p = mmap(NULL, 3 * pg, PROT_READ, MAP_SHARED, fd, 0);
    WMT_REQUIRE(p != MAP_FAILED);
    install(SIGBUS, record_and_jump, 0);
    WMT_TRUE(!faults_on_read(p + pg - 1));
    WMT_TRUE(faults_on_read(p + 2 * pg + 9));
    WMT_EQ(last.si_signo, SIGBUS);
    WMT_EQ(last.si_code, BUS_ADRERR);
    WMT_PTR_EQ(last.si_addr, p + 2 * pg + 9);
    restore_default(SIGBUS);
    munmap(p, 3 * pg);
    close(fd);
}

void test_fault__forbidden_access_past_eof_is_sigsegv_not_sigbus(void)
{
    size_t pg = wmt_page();
    int fd = wmt_temp_file(0, 1, O_RDWR, NULL, 0);
    WMT_REQUIRE(fd >= 0);
    unsigned char *ro = mmap(NULL, 2 * pg, PROT_READ, MAP_SHARED, fd, 0);
    unsigned char *none = mmap(NULL, 2 * pg, PROT_NONE, MAP_SHARED, fd, 0);
    WMT_REQUIRE(ro != MAP_FAILED && none != MAP_FAILED);
    install(SIGSEGV, record_and_jump, 0);
    install(SIGBUS, record_and_jump, 0);
    WMT_TRUE(faults_on_write(ro + 5)); /* the protection forbids it: SIGSEGV */
    WMT_EQ(last.si_signo, SIGSEGV);
    WMT_EQ(last.si_code, SEGV_ACCERR);
    WMT_TRUE(faults_on_read(none + pg));
    WMT_EQ(last.si_signo, SIGSEGV);
    WMT_TRUE(faults_on_read(ro + pg)); /* allowed by the protection: SIGBUS */
    WMT_EQ(last.si_signo, SIGBUS);
    restore_default(SIGSEGV);
    restore_default(SIGBUS);
    munmap(ro, 2 * pg);
    munmap(none, 2 * pg);
    close(fd);
}

static size_t fix_len;
static void make_writable(int sig, siginfo_t *si, void *uc)
{
    (void)sig, (void)uc;
    hits++;
    uintptr_t page = (uintptr_t)si->si_addr & ~(uintptr_t)(fix_len - 1);
    mprotect((void *)page, fix_len, RW);
}

void test_fault__handler_return_retries_the_access(void)
{
    size_t pg = fix_len = wmt_page();
    unsigned char *p = mmap(NULL, 2 * pg, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    WMT_REQUIRE(p != MAP_FAILED);
    install(SIGSEGV, make_writable, 0);
    hits = 0;
    volatile unsigned char *v = p;
    v[pg + 1] = 42; /* faults, the handler unprotects, the write is retried */
    WMT_EQ(hits, 1);
    WMT_EQ(v[pg + 1], 42);
    v[1] = 7;
    WMT_EQ(hits, 2);
    WMT_EQ(v[1], 7);
    restore_default(SIGSEGV);
    WMT_AUDIT();
    munmap(p, 2 * pg);
}

static volatile unsigned char *second;
static volatile int nested_depth, max_depth;
static void nested(int sig, siginfo_t *si, void *uc)
{
    (void)sig, (void)uc;
    hits++;
    nested_depth++;
    if (nested_depth > max_depth)
        max_depth = nested_depth;
    if (nested_depth == 1)
        (void)*second; /* a fault inside the handler: delivered again with SA_NODEFER */
    mprotect((void *)((uintptr_t)si->si_addr & ~(uintptr_t)(fix_len - 1)), fix_len, RW);
    nested_depth--;
}

void test_fault__sa_nodefer_allows_a_fault_inside_the_handler(void)
{
    size_t pg = fix_len = wmt_page();
    unsigned char *p = mmap(NULL, 2 * pg, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    WMT_REQUIRE(p != MAP_FAILED);
    second = p + pg;
    install(SIGSEGV, nested, SA_NODEFER);
    hits = 0;
    max_depth = 0;
    volatile unsigned char *v = p;
    v[0] = 1;
    WMT_EQ(hits, 2);
    WMT_EQ(max_depth, 2);
    WMT_EQ(v[0], 1);
    restore_default(SIGSEGV);
    munmap(p, 2 * pg);
}

static void plain_jump(int sig)
{
    hits += sig == SIGSEGV;
    siglongjmp(jump, 1);
}

void test_fault__signal_installs_a_handler_and_siglongjmp_leaves_it(void)
{
    size_t pg = wmt_page();
    unsigned char *p = mmap(NULL, pg, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    WMT_REQUIRE(p != MAP_FAILED);
    WMT_TRUE(signal(SIGSEGV, plain_jump) != SIG_ERR);
    hits = 0;
    /* Three times: the mask saved by sigsetjmp(env, 1) comes back each time,
     * so SIGSEGV is not left blocked after leaving the handler. */
    for (int i = 0; i < 3; i++)
        WMT_TRUE(faults_on_read(p));
    WMT_EQ(hits, 3);
    signal(SIGSEGV, SIG_DFL);
    munmap(p, pg);
}

void test_fault__guard_page_stops_an_overrun(void)
{
    size_t pg = wmt_page();
    unsigned char *buf = mmap(NULL, 5 * pg, RW, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    WMT_REQUIRE(buf != MAP_FAILED);
    WMT_REQUIRE(mprotect(buf + 4 * pg, pg, PROT_NONE) == 0);
    install(SIGSEGV, record_and_jump, 0);
    volatile size_t written = 0;
    if (sigsetjmp(jump, 1) == 0) {
        for (;;)
            buf[written++] = 0xab; /* runs off the end of the buffer */
    }
    WMT_TRUE(written >= 4 * pg); /* whether the index moved before the fault is the compiler's */
    WMT_PTR_EQ(last.si_addr, buf + 4 * pg);
    size_t bad = 0;
    for (size_t i = 0; i < 4 * pg; i++)
        bad += buf[i] != 0xab;
    WMT_EQ(bad, 0);
    WMT_EQ(last.si_code, SEGV_ACCERR);
    restore_default(SIGSEGV);
    munmap(buf, 5 * pg);
}

/* ---- threads ---- */

static __thread void *volatile my_fault;
static void note_and_fix(int sig, siginfo_t *si, void *uc)
{
    (void)sig, (void)uc;
    my_fault = si->si_addr;
    mprotect((void *)((uintptr_t)si->si_addr & ~(uintptr_t)(fix_len - 1)), fix_len, RW);
}

struct faulter {
    unsigned char *page;
    int ok, rounds;
};

static void *fault_loop(void *arg)
{
    struct faulter *f = arg;
    for (int i = 0; i < f->rounds; i++) {
        if (mprotect(f->page, fix_len, PROT_NONE) != 0)
            return NULL;
        my_fault = NULL;
        volatile unsigned char *v = f->page;
        v[i % 64] = (unsigned char)i;
        if (my_fault != f->page + i % 64 || v[i % 64] != (unsigned char)i)
            return NULL;
        f->ok++;
    }
    return NULL;
}

enum { FAULT_ROUNDS = 300 };

/* Start n threads, thread i taking and fixing FAULT_ROUNDS faults on page i
 * of p (note_and_fix must be the SIGSEGV handler). */
static int start_faulters(unsigned char *p, int n, struct faulter *f, pthread_t *t)
{
    for (int i = 0; i < n; i++) {
        f[i] = (struct faulter){p + i * fix_len, 0, FAULT_ROUNDS};
        if (pthread_create(&t[i], NULL, fault_loop, &f[i]) != 0)
            return -1;
    }
    return 0;
}

/* Wait for them: each must have seen every one of its faults. */
static void join_faulters(int n, struct faulter *f, pthread_t *t)
{
    for (int i = 0; i < n; i++)
        pthread_join(t[i], NULL);
    for (int i = 0; i < n; i++)
        WMT_EQ(f[i].ok, FAULT_ROUNDS);
}

void test_fault__four_threads_fault_at_once_each_with_its_own_siginfo(void)
{
    size_t pg = fix_len = wmt_page();
    unsigned char *p = mmap(NULL, 4 * pg, RW, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    WMT_REQUIRE(p != MAP_FAILED);
    install(SIGSEGV, note_and_fix, 0);
    struct faulter f[4];
    pthread_t t[4];
    WMT_REQUIRE(start_faulters(p, 4, f, t) == 0);
    join_faulters(4, f, t);
    restore_default(SIGSEGV);
    WMT_AUDIT();
    munmap(p, 4 * pg);
}

/* A thread that took a fault and ends leaves nothing behind: the signal
 * state of each ended thread is freed (about 5 KB each when it leaked). */
void test_fault__ended_threads_leave_no_signal_state(void)
{
    size_t pg = fix_len = wmt_page();
    unsigned char *p = mmap(NULL, pg, RW, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    WMT_REQUIRE(p != MAP_FAILED);
    install(SIGSEGV, note_and_fix, 0);
    long long before = 0;
    int ok = 0;
    enum { WARMUP = 2, THREADS = 40 };
    for (int i = 0; i < WARMUP + THREADS; i++) {
        if (i == WARMUP)
            before = wmt_heap_in_use(); /* after the one-time allocations */
        struct faulter f = {p, 0, 1};
        pthread_t t;
        WMT_REQUIRE(pthread_create(&t, NULL, fault_loop, &f) == 0);
        pthread_join(t, NULL);
        ok += f.ok;
    }
    long long grown = wmt_heap_in_use() - before;
    WMT_EQ(ok, WARMUP + THREADS);
    WMT_TRUE(before >= 0);
    if (grown >= 1024 * THREADS / 4)
        wmt_fail(__LINE__, __FILE__, "the heap grew by %lld bytes over %d ended threads", grown, THREADS);
    else
        CU_PASS("the heap did not grow with the ended threads");
    restore_default(SIGSEGV);
    munmap(p, pg);
}

/* Other threads map, protect and unmap memory of their own while faults
 * are taken and fixed: every fault is still delivered, once, with its own
 * address, and the churn never fails. */
struct churner {
    int rounds, failures;
};

/* The churn starts once every thread exists: a thread created while munmap
 * splits a legacy view can take its range (ENOMEM, the strategy's
 * documented window), which is not what this checks. */
static _Atomic int churn_go;

static void *churn(void *arg)
{
    struct churner *c = arg;
    size_t pg = wmt_page();
    while (!atomic_load(&churn_go))
        sched_yield();
    for (int i = 0; i < c->rounds; i++) {
        int flags = (i & 1 ? MAP_SHARED : MAP_PRIVATE) | MAP_ANONYMOUS;
        unsigned char *m = mmap(NULL, 3 * pg, RW, flags, -1, 0);
        if (m == MAP_FAILED) {
            c->failures++;
            continue;
        }
        m[pg] = 1;
        c->failures += mprotect(m + pg, pg, PROT_READ) != 0;
        c->failures += m[pg] != 1;
        c->failures += munmap(m, pg) != 0;     /* a piece */
        c->failures += munmap(m, 3 * pg) != 0; /* the rest */
    }
    return NULL;
}

void test_fault__faults_race_with_mmap_and_munmap_in_other_threads(void)
{
    size_t pg = fix_len = wmt_page();
    unsigned char *p = mmap(NULL, 2 * pg, RW, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    WMT_REQUIRE(p != MAP_FAILED);
    install(SIGSEGV, note_and_fix, 0);
    enum { CHURNERS = 3, FAULTERS = 2 };
    struct churner c[CHURNERS];
    struct faulter f[FAULTERS];
    pthread_t tc[CHURNERS], tf[FAULTERS];
    atomic_store(&churn_go, 0);
    for (int i = 0; i < CHURNERS; i++) {
        c[i] = (struct churner){200, 0};
        WMT_REQUIRE(pthread_create(&tc[i], NULL, churn, &c[i]) == 0);
    }
    int started = start_faulters(p, FAULTERS, f, tf);
    atomic_store(&churn_go, 1);
    WMT_REQUIRE(started == 0);
    join_faulters(FAULTERS, f, tf);
    for (int i = 0; i < CHURNERS; i++)
        pthread_join(tc[i], NULL);
    for (int i = 0; i < CHURNERS; i++)
        WMT_EQ(c[i].failures, 0);
    restore_default(SIGSEGV);
    WMT_AUDIT();
    munmap(p, 2 * pg);
}

#if defined(_WIN32) && WMT_HAVE_HOOKS
/* A fault taken while another thread holds the engine's lock is decided
 * once the table is consistent again (outside Windows' exception
 * dispatch): SIGSEGV for PROT_NONE, SIGBUS past end of file. */
static volatile LONG lock_released;
static HANDLE lock_taken;

static void *hold_engine_lock(void *arg)
{
    (void)arg;
    wm_lock_exclusive();
    SetEvent(lock_taken);
    Sleep(200);
    InterlockedExchange(&lock_released, 1);
    wm_unlock_exclusive();
    return NULL;
}

static volatile LONG released_at_handler;
static void record_release_and_jump(int sig, siginfo_t *si, void *uc)
{
    released_at_handler = lock_released;
    record_and_jump(sig, si, uc);
}

static int fault_while_locked(volatile unsigned char *p, int sig)
{
    lock_released = 0;
    released_at_handler = -1;
    hits = 0;
    lock_taken = CreateEventW(NULL, TRUE, FALSE, NULL);
    pthread_t t;
    if (!lock_taken || pthread_create(&t, NULL, hold_engine_lock, NULL) != 0)
        return -1;
    WaitForSingleObject(lock_taken, INFINITE);
    install(sig, record_release_and_jump, 0);
    int faulted = faults_on_read(p);
    pthread_join(t, NULL);
    CloseHandle(lock_taken);
    restore_default(sig);
    return faulted;
}
#endif

void test_fault__fault_while_the_table_is_locked_waits_for_it(void)
{
#if defined(_WIN32) && WMT_HAVE_HOOKS
    size_t pg = wmt_page();
    unsigned char *p = mmap(NULL, pg, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    WMT_REQUIRE(p != MAP_FAILED);
    WMT_EQ(fault_while_locked(p, SIGSEGV), 1);
    WMT_EQ(hits, 1);
    WMT_EQ(released_at_handler, 1);
    WMT_EQ(last.si_signo, SIGSEGV);
    WMT_EQ(last.si_code, SEGV_ACCERR);
    WMT_PTR_EQ(last.si_addr, p);
    munmap(p, pg);

    int fd = wmt_temp_file(10, 1, O_RDWR, NULL, 0);
    WMT_REQUIRE(fd >= 0);
    unsigned char *f = mmap(NULL, 2 * pg, PROT_READ, MAP_SHARED, fd, 0);
    WMT_REQUIRE(f != MAP_FAILED);
    WMT_EQ(fault_while_locked(f + pg, SIGBUS), 1);
    WMT_EQ(hits, 1);
    WMT_EQ(released_at_handler, 1);
    WMT_EQ(last.si_signo, SIGBUS);
    WMT_PTR_EQ(last.si_addr, f + pg);
    WMT_AUDIT();
    munmap(f, 2 * pg);
    close(fd);
#else
    WMT_LACKS("winmmap's test hooks on Windows");
#endif
}

#if defined(_WIN32) && WMT_HAVE_HOOKS
/* A range another thread is mapping or unmapping without the engine lock
 * is busy; a fault there is decided once it is published (a thread holds
 * it busy for 200 ms). */
static volatile long *busy_released;
static void record_busy_release_and_jump(int sig, siginfo_t *si, void *uc)
{
    released_at_handler = *busy_released;
    record_and_jump(sig, si, uc);
}
#endif

void test_fault__fault_on_a_busy_range_waits_until_it_is_published(void)
{
#if defined(_WIN32) && WMT_HAVE_HOOKS
    size_t pg = wmt_page();
    unsigned char *p = mmap(NULL, pg, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    WMT_REQUIRE(p != MAP_FAILED);
    struct wmt_busy_hold h = {(uintptr_t)p, (uintptr_t)p + pg, CreateEventW(NULL, TRUE, FALSE, NULL), 200, 0};
    WMT_REQUIRE(h.taken != NULL);
    busy_released = &h.released;
    released_at_handler = -1;
    hits = 0;
    pthread_t t;
    WMT_REQUIRE(pthread_create(&t, NULL, wmt_hold_busy_range, &h) == 0);
    WaitForSingleObject(h.taken, INFINITE);
    install(SIGSEGV, record_busy_release_and_jump, 0);
    WMT_EQ(faults_on_read(p), 1);
    pthread_join(t, NULL);
    restore_default(SIGSEGV);
    CloseHandle(h.taken);
    WMT_EQ(hits, 1);
    WMT_EQ(released_at_handler, 1);
    WMT_EQ(last.si_signo, SIGSEGV);
    WMT_EQ(last.si_code, SEGV_ACCERR);
    WMT_PTR_EQ(last.si_addr, p);
    WMT_AUDIT();
    munmap(p, pg);
#else
    WMT_LACKS("winmmap's test hooks on Windows");
#endif
}

#ifdef _WIN32
/* A thread's first fault must not need the heap: here another thread holds
 * every heap of the process locked while it is taken.  (mingw's __thread,
 * which the signal state used to be, allocates on a thread's first use.) */
static volatile LONG heapless_hits;
static sigjmp_buf heapless_jump; /* one thread uses it: no __thread, which allocates */

static void count_without_heap(int sig, siginfo_t *si, void *uc)
{
    (void)sig, (void)si, (void)uc;
    InterlockedIncrement(&heapless_hits);
    siglongjmp(heapless_jump, 1);
}

struct heapless {
    volatile unsigned char *page;
    HANDLE ready, go, done;
};

static void *first_fault(void *arg)
{
    struct heapless *h = arg;
    SetEvent(h->ready); /* its start-up (which allocates) is over */
    WaitForSingleObject(h->go, INFINITE);
    if (sigsetjmp(heapless_jump, 1) == 0)
        (void)*h->page;
    SetEvent(h->done);
    return NULL;
}
#endif

void test_fault__first_fault_of_a_thread_needs_no_heap(void)
{
#ifdef _WIN32
    unsigned char *p = mmap(NULL, wmt_page(), PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    WMT_REQUIRE(p != MAP_FAILED);
    install(SIGSEGV, count_without_heap, 0);
    struct heapless h = {p, CreateEventW(NULL, FALSE, FALSE, NULL), CreateEventW(NULL, FALSE, FALSE, NULL),
                         CreateEventW(NULL, FALSE, FALSE, NULL)};
    WMT_REQUIRE(h.ready && h.go && h.done);
    heapless_hits = 0;
    pthread_t t;
    WMT_REQUIRE(pthread_create(&t, NULL, first_fault, &h) == 0);
    WaitForSingleObject(h.ready, INFINITE);
    HANDLE heaps[64];
    DWORD n = GetProcessHeaps(64, heaps);
    if (n > 64)
        n = 64;
    for (DWORD i = 0; i < n; i++)
        HeapLock(heaps[i]);
    SetEvent(h.go);
    /* Nothing here may allocate until the heaps are unlocked. */
    DWORD waited = WaitForSingleObject(h.done, 10000);
    for (DWORD i = 0; i < n; i++)
        HeapUnlock(heaps[i]);
    pthread_join(t, NULL);
    WMT_EQ(waited, WAIT_OBJECT_0); /* else the fault waited for a heap */
    WMT_EQ(heapless_hits, 1);
    CloseHandle(h.ready);
    CloseHandle(h.go);
    CloseHandle(h.done);
    restore_default(SIGSEGV);
    munmap(p, wmt_page());
#else
    WMT_LACKS("the Windows heap API");
#endif
}

/* ---- default actions, seen from a parent ---- */

static int died_of(const struct wmt_child_status *st, int sig)
{
#ifdef _WIN32
    return st->exited && st->code == (sig == SIGBUS ? 0xC0000006UL : 0xC0000005UL);
#else
    return !st->exited && st->signal == sig;
#endif
}

int child_touch_prot_none(const char *arg)
{
    (void)arg;
    volatile unsigned char *p = mmap(NULL, wmt_page(), PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        return 2;
    return p[0] == 99 ? 3 : 4; /* must not get here */
}

int child_touch_past_eof(const char *arg)
{
    (void)arg;
    size_t pg = wmt_page();
    int fd = wmt_temp_file(10, 1, O_RDWR, NULL, 0);
    volatile unsigned char *p = mmap(NULL, 2 * pg, PROT_READ, MAP_SHARED, fd, 0);
    /* This process dies of the fault: remove the file now (POSIX allows it
     * while mapped; Windows refuses and its temporary directory keeps it). */
    wmt_cleanup_files();
    if (p == MAP_FAILED)
        return 2;
    return p[pg] == 99 ? 3 : 4;
}

int child_null_dereference(const char *arg)
{
    volatile unsigned char *p = (volatile unsigned char *)(uintptr_t)strtoul(arg, NULL, 10);
    return p[0] == 99 ? 3 : 4;
}

static void count_only(int sig, siginfo_t *si, void *uc)
{
    (void)sig, (void)si, (void)uc;
    siglongjmp(jump, 1);
}

int child_fault_twice_with_resethand(const char *arg)
{
    (void)arg;
    volatile unsigned char *p = mmap(NULL, wmt_page(), PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        return 2;
    install(SIGSEGV, count_only, SA_RESETHAND);
    if (sigsetjmp(jump, 1) == 0) {
        (void)p[0];
        return 5; /* the handler did not run */
    }
    (void)p[0]; /* the handler is gone: default action */
    return 6;
}

void test_fault__no_handler_sigsegv_kills_the_process(void)
{
    struct wmt_child_status st;
    WMT_REQUIRE(wmt_spawn_child("touch_prot_none", "", &st) == 0);
    WMT_TRUE(died_of(&st, SIGSEGV));
    WMT_REQUIRE(wmt_spawn_child("null_dereference", "0", &st) == 0);
    WMT_TRUE(died_of(&st, SIGSEGV)); /* outside library memory: normal behaviour */
}

void test_fault__no_handler_sigbus_kills_the_process(void)
{
    struct wmt_child_status st;
    WMT_REQUIRE(wmt_spawn_child("touch_past_eof", "", &st) == 0);
    WMT_TRUE(died_of(&st, SIGBUS));
}

void test_fault__sa_resethand_second_fault_takes_the_default(void)
{
    struct wmt_child_status st;
    WMT_REQUIRE(wmt_spawn_child("fault_twice_with_resethand", "", &st) == 0);
    WMT_TRUE(died_of(&st, SIGSEGV));
}
