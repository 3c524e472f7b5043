/* The conformance suite's helpers.  Test sources build unchanged against a
 * system libc (native run) and against winmmap (Windows runs).  Each test is
 * listed once in test-list.h with the rule it checks as its name. */
#ifndef WMTEST_H
#define WMTEST_H

/* WMT_HAVE_<function or extension>: 1 when the implementation under test
 * has it (always, against winmmap); see tests/impl.cmake. */
#include "wmt_config.h"

#include <CUnit/CUnit.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#ifdef _WIN32
#define WMT_WINDOWS 1
#else
#define WMT_WINDOWS 0
#endif

#ifdef WMT_IMPL_NAME
/* Another implementation: the suite checks Linux's rules, so a flag its
 * header does not name is passed with Linux's value (it must then refuse it,
 * or do what Linux does). */
#include <sys/mman.h>
#ifndef MAP_ANON
#define MAP_ANON MAP_ANONYMOUS
#endif
#ifndef MAP_SHARED_VALIDATE
#define MAP_SHARED_VALIDATE 0x03
#endif
#ifndef MAP_LOCKED
#define MAP_LOCKED 0x2000
#endif
#ifndef MAP_NORESERVE
#define MAP_NORESERVE 0x4000
#endif
#ifndef MAP_POPULATE
#define MAP_POPULATE 0x8000
#endif
#ifndef MAP_FIXED_NOREPLACE
#define MAP_FIXED_NOREPLACE 0x100000
#endif
#ifndef MS_ASYNC
#define MS_ASYNC 1
#endif
#ifndef MS_INVALIDATE
#define MS_INVALIDATE 2
#endif
#ifndef MS_SYNC
#define MS_SYNC 4
#endif
#ifndef MADV_NORMAL
#define MADV_NORMAL 0
#endif
#ifndef MADV_RANDOM
#define MADV_RANDOM 1
#endif
#ifndef MADV_SEQUENTIAL
#define MADV_SEQUENTIAL 2
#endif
#ifndef MADV_WILLNEED
#define MADV_WILLNEED 3
#endif
#ifndef MADV_DONTNEED
#define MADV_DONTNEED 4
#endif
#ifndef MADV_FREE
#define MADV_FREE 8
#endif
#ifndef MADV_DONTFORK
#define MADV_DONTFORK 10
#endif
#ifndef MADV_DOFORK
#define MADV_DOFORK 11
#endif
#ifndef MADV_WIPEONFORK
#define MADV_WIPEONFORK 18
#endif
#ifndef MADV_KEEPONFORK
#define MADV_KEEPONFORK 19
#endif
#ifndef POSIX_MADV_NORMAL
#define POSIX_MADV_NORMAL 0
#define POSIX_MADV_RANDOM 1
#define POSIX_MADV_SEQUENTIAL 2
#define POSIX_MADV_WILLNEED 3
#define POSIX_MADV_DONTNEED 4
#endif
#ifndef MCL_CURRENT
#define MCL_CURRENT 1
#define MCL_FUTURE 2
#endif
#ifndef MCL_ONFAULT
#define MCL_ONFAULT 4
#endif
#ifndef MREMAP_MAYMOVE
#define MREMAP_MAYMOVE 1
#define MREMAP_FIXED 2
#endif
#ifndef MREMAP_DONTUNMAP
#define MREMAP_DONTUNMAP 4
#endif
#endif

/* Assertions that show both values, so a failure explains itself under Wine. */
void wmt_fail(int line, const char *file, const char *fmt, ...);
#define WMT_EQ(a, b)                                                                               \
    do {                                                                                           \
        long long wmt_a = (long long)(a), wmt_b = (long long)(b);                                  \
        if (wmt_a != wmt_b)                                                                        \
            wmt_fail(__LINE__, __FILE__, "%s == %s: %lld != %lld", #a, #b, wmt_a, wmt_b);          \
        else                                                                                       \
            CU_PASS(#a " == " #b);                                                                 \
    } while (0)
#define WMT_PTR_EQ(a, b)                                                                           \
    do {                                                                                           \
        const void *wmt_a = (a), *wmt_b = (b);                                                     \
        if (wmt_a != wmt_b)                                                                        \
            wmt_fail(__LINE__, __FILE__, "%s == %s: %p != %p", #a, #b, wmt_a, wmt_b);              \
        else                                                                                       \
            CU_PASS(#a " == " #b);                                                                 \
    } while (0)
#define WMT_TRUE(c)                                                                                \
    do {                                                                                           \
        if (!(c))                                                                                  \
            wmt_fail(__LINE__, __FILE__, "%s", #c);                                                \
        else                                                                                       \
            CU_PASS(#c);                                                                           \
    } while (0)
/* A call that must fail with errno e; prints the errno it got otherwise. */
#define WMT_ERRNO(call, failval, e)                                                                \
    do {                                                                                           \
        errno = 0;                                                                                 \
        int wmt_ok = (call) == (failval);                                                          \
        int wmt_e = errno;                                                                         \
        if (!wmt_ok || wmt_e != (e))                                                               \
            wmt_fail(__LINE__, __FILE__, "%s: expected failure with %s (%d), got %s errno %d",     \
                     #call, #e, (e), wmt_ok ? "failure" : "success", wmt_e);                       \
        else                                                                                       \
            CU_PASS(#call);                                                                        \
    } while (0)
/* Stop the test when a precondition fails (e.g. a setup mmap). */
#define WMT_REQUIRE(c)                                                                             \
    do {                                                                                           \
        if (!(c)) {                                                                                \
            wmt_fail(__LINE__, __FILE__, "required: %s", #c);                                      \
            return;                                                                                \
        }                                                                                          \
    } while (0)

/* Skip predicates for test-list.h: return NULL to run, or the reason. */
typedef const char *(*wmt_skip_fn)(void);
const char *wmt_windows_only(void);  /* checks the Windows engine's own guarantees
                                      * (winmmap's, so only with its test hooks) */
const char *wmt_native_only(void);
const char *wmt_windows_heaps(void); /* the Windows heap API */
const char *wmt_exact_only(void);    /* needs 4 KiB placement */
const char *wmt_ranges_held(void);   /* no release-and-retake window (not legacy) */
const char *wmt_not_root(void);      /* permission bits do not bind root */
const char *wmt_dontunmap_refused(void); /* test_mremap.c */
const char *wmt_memlock_limited(void);   /* test_lock.c */
/* A test in a built file that also calls what the implementation under
 * test may lack (WMT_HAVE_*): the code that needs it is compiled only with
 * it, and the test is skipped without it. */
const char *wmt_needs_signals(void);       /* sigaction, sigsetjmp/siglongjmp */
const char *wmt_needs_hooks(void);         /* winmmap's white-box interface */
const char *wmt_needs_pagesize(void);      /* sysconf(_SC_PAGESIZE), getpagesize */
const char *wmt_needs_fsync(void);         /* fsync, fdatasync */
const char *wmt_needs_mlock(void);
const char *wmt_needs_mlockall(void);      /* mlockall, munlockall */
const char *wmt_needs_mremap(void);
const char *wmt_needs_shm(void);           /* shm_open, shm_unlink */
const char *wmt_needs_posix_madvise(void);
/* The body of such a test compiled without what it needs: fails (it is
 * skipped, so it never runs). */
#define WMT_LACKS(what) wmt_fail(__LINE__, __FILE__, "built without %s", what)

/* Page size in use. */
size_t wmt_page(void);
/* A new temporary file holding len bytes of pattern (byte i = seed + i),
 * opened with oflags (O_RDWR, O_RDONLY, ...); its path goes to path (may be
 * NULL) and is removed by wmt_cleanup_files() after each test. */
int wmt_temp_file(size_t len, unsigned char seed, int oflags, char *path, size_t pathlen);
void wmt_cleanup_files(void);
unsigned char wmt_pattern(size_t i, unsigned char seed);
/* A new private anonymous read-write mapping of len bytes holding the
 * pattern (MAP_FAILED if mmap fails). */
unsigned char *wmt_anon_filled(size_t len, unsigned char seed);
/* True if [p, p+len) holds the pattern starting at index first. */
int wmt_has_pattern(const void *p, size_t len, size_t first, unsigned char seed);
/* Size of the file at fd (fstat). */
long long wmt_file_size(int fd);
/* Windows: assert the region table's invariants and its agreement with
 * VirtualQuery, printing what is wrong.  Native: no table, no assertion. */
#define WMT_AUDIT() wmt_audit_at(__LINE__, __FILE__)
void wmt_audit_at(int line, const char *file);
#ifdef _WIN32
/* Failure injection: after an operation ran with the n-th injectable Win32
 * call failing (rc and err: its result and errno; calls: how many such calls
 * it made), assert what holds at every failure point: the region table is
 * sound, an operation that never reached the failure point succeeded, a
 * failed one says ENOMEM.  Returns 1 when the failure point was not reached
 * (every call of the operation has been failed once: the driver stops). */
int wmt_inject_verdict(long n, long calls, int rc, int err);
#endif
/* Memory the library did not map (Windows: VirtualAlloc; native: the
 * system's mmap), len bytes, read-write or (reserve_only) inaccessible. */
void *wmt_system_alloc(size_t len, int reserve_only);
void wmt_system_free(void *p, size_t len);
/* 4 units of address space: [p, p + 2 units) memory the library did not map
 * (read-write), then [p + 2 units, p + 4 units) a private anonymous mmap.
 * A unit is 64 KiB or the page size if larger.  NULL on failure. */
unsigned char *wmt_foreign_then_mapped(size_t *unit);
void wmt_foreign_then_mapped_free(unsigned char *p, size_t unit);
/* A pipe (mingw-w64: _pipe), as pipe(). */
int wmt_pipe(int fds[2]);
/* Bytes the C heap has handed out and not taken back (-1 if unknown). */
long long wmt_heap_in_use(void);
/* Windows: open handles of this process; native: open descriptors. */
long wmt_handle_count(void);
#ifdef _WIN32
/* A pthread start routine (needs the test hooks): holds [lo, hi) busy for
 * ms milliseconds, as a thread mapping or unmapping there without the
 * engine lock does; sets the event taken once it is marked, released
 * (to 1) just before it lets go. */
struct wmt_busy_hold {
    uintptr_t lo, hi;
    void *taken;
    unsigned ms;
    volatile long released;
};
void *wmt_hold_busy_range(void *arg);
#endif

/* Run this test program again as a child: "--child NAME ARG".  exited and
 * code: it returned or exited (on Windows, code is the raw exit code, an
 * NTSTATUS for a crash); signal: the signal that killed it (POSIX). */
struct wmt_child_status {
    int exited;
    unsigned long code;
    int signal;
};
int wmt_spawn_child(const char *name, const char *arg, struct wmt_child_status *st);

/* pread/pwrite (mingw-w64 has neither): seek and read or write. */
long wmt_pread(int fd, void *buf, size_t n, long long off);
long wmt_pwrite(int fd, const void *buf, size_t n, long long off);

#endif
