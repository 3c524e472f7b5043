/* Memory the library did not map (heap, stack, static data, memory from the
 * system's own allocator): mprotect, mlock, msync, madvise and mincore work
 * on every mapped page of the process, as on Linux; only free pages are
 * ENOMEM; faults there reach the program's SIGSEGV handler. */
#define _GNU_SOURCE
#include "wmtest.h"

#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#ifdef _WIN32
#include "win32/internal.h"
#endif

#define RW (PROT_READ | PROT_WRITE)

static sigjmp_buf jump;
static siginfo_t last;

static void record_and_jump(int sig, siginfo_t *si, void *uc)
{
    (void)sig, (void)uc;
    last = *si;
    siglongjmp(jump, 1);
}

static void catch_segv(int on)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sigemptyset(&sa.sa_mask);
    if (on) {
        sa.sa_sigaction = record_and_jump;
        sa.sa_flags = SA_SIGINFO;
    } else {
        sa.sa_handler = SIG_DFL;
    }
    sigaction(SIGSEGV, &sa, NULL);
}

static int faults_on_write(volatile unsigned char *p)
{
    if (sigsetjmp(jump, 1) == 0) {
        *p = 1;
        return 0;
    }
    return 1;
}

static int faults_on_read(volatile unsigned char *p)
{
    if (sigsetjmp(jump, 1) == 0) {
        (void)*p;
        return 0;
    }
    return 1;
}

/* n whole pages inside a malloc'd block (*block is what to free). */
static unsigned char *heap_pages(size_t n, void **block)
{
    size_t pg = wmt_page();
    unsigned char *b = malloc((n + 1) * pg);
    *block = b;
    if (!b)
        return NULL;
    return (unsigned char *)(((uintptr_t)b + pg - 1) & ~(uintptr_t)(pg - 1));
}

static void fill(unsigned char *p, size_t len, unsigned char seed)
{
    for (size_t i = 0; i < len; i++)
        p[i] = wmt_pattern(i, seed);
}

static int all_zero(const unsigned char *p, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (p[i])
            return 0;
    return 1;
}

void test_foreign__mprotect_guard_page_in_heap_block_faults_accerr(void)
{
    size_t pg = wmt_page();
    void *block;
    unsigned char *p = heap_pages(3, &block);
    WMT_REQUIRE(p);
    fill(p, 3 * pg, 5);
    WMT_EQ(mprotect(p + pg, pg, PROT_NONE), 0);
    catch_segv(1);
    WMT_TRUE(faults_on_write(p + pg + 8));
    WMT_EQ(last.si_signo, SIGSEGV);
    WMT_EQ(last.si_code, SEGV_ACCERR);
    WMT_PTR_EQ(last.si_addr, p + pg + 8);
    WMT_TRUE(faults_on_read(p + pg));
    WMT_TRUE(!faults_on_write(p + 2 * pg)); /* the pages around it stay usable */
    catch_segv(0);
    WMT_EQ(mprotect(p + pg, pg, RW), 0);
    p[2 * pg] = wmt_pattern(2 * pg, 5);
    WMT_TRUE(wmt_has_pattern(p, 3 * pg, 0, 5));
    free(block);
}

void test_foreign__mprotect_heap_buffer_to_exec_runs_code(void)
{
#if defined(__x86_64__) || defined(_M_X64)
    size_t pg = wmt_page();
    void *block;
    unsigned char *p = heap_pages(1, &block);
    WMT_REQUIRE(p);
    static const unsigned char code[] = {0xb8, 42, 0, 0, 0, 0xc3}; /* mov eax, 42; ret */
    memcpy(p, code, sizeof code);
    WMT_EQ(mprotect(p, pg, PROT_READ | PROT_EXEC), 0);
    int (*fn)(void);
    memcpy(&fn, &p, sizeof fn);
    WMT_EQ(fn(), 42);
    WMT_EQ(mprotect(p, pg, RW), 0);
    free(block);
#else
    WMT_TRUE(!"this test knows only x86-64 machine code");
#endif
}

static unsigned char static_data[3 * 65536];

void test_foreign__mlock_heap_stack_and_static_data(void)
{
    size_t pg = wmt_page();
    void *block;
    unsigned char *h = heap_pages(2, &block);
    WMT_REQUIRE(h);
    memset(h, 1, 2 * pg);
    volatile unsigned char stack[256];
    stack[0] = 1;
    static_data[0] = 1;
    WMT_EQ(mlock(h, 2 * pg), 0);
    WMT_EQ(mlock((const void *)stack, sizeof stack), 0);
    WMT_EQ(mlock(static_data, 100), 0);
    WMT_EQ(munlock(h, 2 * pg), 0);
    WMT_EQ(munlock((const void *)stack, sizeof stack), 0);
    WMT_EQ(munlock(static_data, 100), 0);
    free(block);
}

void test_foreign__msync_of_memory_not_from_mmap_succeeds(void)
{
    size_t pg = wmt_page();
    void *block;
    unsigned char *h = heap_pages(2, &block);
    WMT_REQUIRE(h);
    unsigned char *s = wmt_system_alloc(2 * pg, 0);
    WMT_REQUIRE(s);
    s[0] = 1;
    WMT_EQ(msync(h, 2 * pg, MS_SYNC), 0);
    WMT_EQ(msync(s, 2 * pg, MS_ASYNC), 0);
    uintptr_t st = (uintptr_t)static_data & ~(uintptr_t)(pg - 1);
    WMT_EQ(msync((void *)st, pg, MS_SYNC | MS_INVALIDATE), 0);
    wmt_system_free(s, 2 * pg);
    free(block);
}

void test_foreign__madvise_dontneed_zeroes_private_memory(void)
{
    size_t pg = wmt_page();
    unsigned char *s = wmt_system_alloc(4 * pg, 0);
    WMT_REQUIRE(s);
    fill(s, 4 * pg, 7);
    WMT_EQ(mprotect(s + 2 * pg, pg, PROT_READ), 0);
    WMT_EQ(madvise(s + pg, 2 * pg, MADV_DONTNEED), 0);
    WMT_TRUE(all_zero(s + pg, 2 * pg));
    WMT_TRUE(wmt_has_pattern(s, pg, 0, 7));
    WMT_TRUE(wmt_has_pattern(s + 3 * pg, pg, 3 * pg, 7));
    catch_segv(1);
    WMT_TRUE(faults_on_write(s + 2 * pg)); /* the protection is kept */
    catch_segv(0);
    WMT_EQ(madvise(s, 4 * pg, MADV_WILLNEED), 0);
    WMT_EQ(madvise(s, 4 * pg, MADV_FREE), 0);
    WMT_EQ(posix_madvise(s, 4 * pg, POSIX_MADV_SEQUENTIAL), 0);
    wmt_system_free(s, 4 * pg);
}

void test_foreign__mincore_reports_residency_of_stack_and_heap(void)
{
    size_t pg = wmt_page();
    unsigned char *s = wmt_system_alloc(2 * pg, 0);
    WMT_REQUIRE(s);
    s[0] = 1;
    unsigned char vec[2] = {0xff, 0xff};
    WMT_EQ(mincore(s, 2 * pg, vec), 0);
    WMT_EQ(vec[0] & 1, 1);
    WMT_EQ(vec[1] & ~1, 0); /* only the low bit is defined */
    volatile unsigned char here = 1;
    uintptr_t sp = (uintptr_t)&here & ~(uintptr_t)(pg - 1);
    WMT_EQ(mincore((void *)sp, 1, vec), 0);
    WMT_EQ(vec[0] & 1, 1);
    wmt_system_free(s, 2 * pg);
}

void test_foreign__reserved_memory_is_a_prot_none_mapping(void)
{
    size_t pg = wmt_page();
    unsigned char *s = wmt_system_alloc(2 * pg, 1);
    WMT_REQUIRE(s);
    catch_segv(1);
    WMT_TRUE(faults_on_read(s));
    WMT_EQ(last.si_code, SEGV_ACCERR); /* mapped, not free */
    catch_segv(0);
    WMT_ERRNO(mlock(s, pg), -1, ENOMEM); /* Linux cannot lock inaccessible pages */
    WMT_EQ(msync(s, 2 * pg, MS_SYNC), 0);
    WMT_EQ(mprotect(s, pg, RW), 0);
    s[10] = 3;
    WMT_EQ(s[10], 3);
    WMT_EQ(mlock(s, pg), 0);
    WMT_EQ(munlock(s, pg), 0);
    wmt_system_free(s, 2 * pg);
}

void test_foreign__free_pages_stay_enomem(void)
{
    size_t pg = wmt_page();
    unsigned char *s = wmt_system_alloc(2 * pg, 0);
    WMT_REQUIRE(s);
    wmt_system_free(s, 2 * pg);
    unsigned char vec[2];
    WMT_ERRNO(mprotect(s, pg, PROT_READ), -1, ENOMEM);
    WMT_ERRNO(mlock(s, pg), -1, ENOMEM);
    WMT_ERRNO(munlock(s, pg), -1, ENOMEM);
    WMT_ERRNO(msync(s, pg, MS_SYNC), -1, ENOMEM);
    WMT_ERRNO(madvise(s, pg, MADV_DONTNEED), -1, ENOMEM);
    WMT_ERRNO(mincore(s, pg, vec), -1, ENOMEM);
}

void test_foreign__range_mixing_library_and_foreign_pages_works_page_by_page(void)
{
    size_t u;
    unsigned char *p = wmt_foreign_then_mapped(&u);
    WMT_REQUIRE(p);
    fill(p, 4 * u, 9);
    WMT_EQ(mprotect(p, 4 * u, PROT_READ), 0);
    catch_segv(1);
    WMT_TRUE(faults_on_write(p + u));
    WMT_EQ(last.si_code, SEGV_ACCERR);
    WMT_TRUE(faults_on_write(p + 3 * u));
    WMT_EQ(last.si_code, SEGV_ACCERR);
    catch_segv(0);
    WMT_EQ(mprotect(p, 4 * u, RW), 0);
    WMT_EQ(mlock(p, 4 * u), 0);
    WMT_EQ(munlock(p, 4 * u), 0);
    WMT_EQ(msync(p, 4 * u, MS_SYNC), 0);
    unsigned char *vec = malloc(4 * u / wmt_page());
    WMT_REQUIRE(vec);
    WMT_EQ(mincore(p, 4 * u, vec), 0);
    WMT_EQ(vec[0] & 1, 1);
    WMT_EQ(vec[4 * u / wmt_page() - 1] & 1, 1);
    free(vec);
    WMT_EQ(madvise(p + u, 2 * u, MADV_DONTNEED), 0);
    WMT_TRUE(all_zero(p + u, 2 * u));
    WMT_TRUE(wmt_has_pattern(p, u, 0, 9));
    WMT_TRUE(wmt_has_pattern(p + 3 * u, u, 3 * u, 9));
    WMT_AUDIT();
    wmt_foreign_then_mapped_free(p, u);
}

void test_foreign__call_on_a_range_with_a_free_page_changes_nothing(void)
{
    size_t u;
    unsigned char *p = wmt_foreign_then_mapped(&u);
    WMT_REQUIRE(p);
    fill(p, 4 * u, 11);
    WMT_REQUIRE(munmap(p + 3 * u, u) == 0);
    WMT_ERRNO(mprotect(p, 4 * u, PROT_READ), -1, ENOMEM);
    WMT_ERRNO(madvise(p, 4 * u, MADV_DONTNEED), -1, ENOMEM);
    WMT_ERRNO(mlock(p, 4 * u), -1, ENOMEM);
    catch_segv(1);
    WMT_TRUE(!faults_on_write(p + u));
    WMT_TRUE(!faults_on_write(p + 2 * u));
    catch_segv(0);
    p[u] = wmt_pattern(u, 11);
    p[2 * u] = wmt_pattern(2 * u, 11);
    WMT_TRUE(wmt_has_pattern(p, 3 * u, 0, 11));
    /* The library's part was not locked by the failed mlock: DONTNEED,
     * refused on locked pages, works there. */
    WMT_EQ(madvise(p + 2 * u, u, MADV_DONTNEED), 0);
    WMT_AUDIT();
    wmt_foreign_then_mapped_free(p, u);
}

/* ---- failure injection over a mixed range (Windows) ---- */
#ifdef _WIN32
/* Windows' state and protection at n evenly spread points of the 4 units. */
static void mixed_snap(unsigned char *p, size_t u, DWORD *state, DWORD *protect, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        MEMORY_BASIC_INFORMATION mi = {0};
        VirtualQuery(p + i * (4 * u / n), &mi, sizeof mi);
        state[i] = mi.State;
        protect[i] = mi.Protect;
    }
}

static void inject_mixed(int (*op)(unsigned char *, size_t))
{
    long n;
    enum { SAMPLES = 64 };
    for (n = 1; n < 500; n++) {
        size_t u;
        unsigned char *p = wmt_foreign_then_mapped(&u);
        WMT_REQUIRE(p);
        fill(p, 4 * u, 13);
        WMT_REQUIRE(mprotect(p + u, u, PROT_READ) == 0);     /* foreign, read-only */
        WMT_REQUIRE(mprotect(p + 3 * u, u, PROT_READ) == 0); /* library, read-only */
        DWORD s0[SAMPLES], p0[SAMPLES], s1[SAMPLES], p1[SAMPLES];
        mixed_snap(p, u, s0, p0, SAMPLES);
        long handles = wmt_handle_count();
        wm_sys_inject_fail_at(n);
        errno = 0;
        int rc = op(p, u);
        int e = errno;
        long calls = wm_sys_inject_calls();
        wm_sys_inject_fail_at(0);
        if (wmt_inject_verdict(n, calls, rc, e)) {
            wmt_foreign_then_mapped_free(p, u);
            break;
        }
        if (rc != 0) {
            if (!wmt_has_pattern(p, 4 * u, 0, 13))
                wmt_fail(__LINE__, __FILE__, "failure point %ld: bytes changed", n);
            mixed_snap(p, u, s1, p1, SAMPLES);
            for (int i = 0; i < SAMPLES; i++)
                if (s0[i] != s1[i] || p0[i] != p1[i]) {
                    wmt_fail(__LINE__, __FILE__,
                             "failure point %ld: sample %d was state %#lx protect %#lx, is %#lx %#lx",
                             n, i, s0[i], p0[i], s1[i], p1[i]);
                    break;
                }
            if (wmt_handle_count() != handles)
                wmt_fail(__LINE__, __FILE__, "failure point %ld: %ld handles, was %ld", n,
                         wmt_handle_count(), handles);
        }
        wmt_foreign_then_mapped_free(p, u);
    }
    printf("(%ld failure points) ", n - 1);
    WMT_TRUE(n > 1 && n < 500);
}

static int op_mprotect(unsigned char *p, size_t u)
{
    return mprotect(p + u, 2 * u, PROT_NONE);
}

static int op_dontneed(unsigned char *p, size_t u)
{
    return madvise(p, 3 * u, MADV_DONTNEED);
}

static int op_mlock(unsigned char *p, size_t u)
{
    int rc = mlock(p, 3 * u);
    if (rc == 0)
        munlock(p, 3 * u);
    return rc;
}

static int op_msync(unsigned char *p, size_t u)
{
    return msync(p, 4 * u, MS_SYNC);
}
#endif

void test_foreign__failed_call_on_a_mixed_range_changes_nothing(void)
{
#ifdef _WIN32
    inject_mixed(op_mprotect);
    inject_mixed(op_dontneed);
    inject_mixed(op_mlock);
    inject_mixed(op_msync);
#endif
}
