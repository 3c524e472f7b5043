/* Helpers shared by the conformance tests (see wmtest.h). */
#define _GNU_SOURCE
#include "wmtest.h"

#include <CUnit/CUnit.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/mman.h>
#include <unistd.h>

#ifndef O_ACCMODE
#define O_ACCMODE (O_RDONLY | O_WRONLY | O_RDWR)
#endif

#ifdef _WIN32
#if WMT_HAVE_HOOKS
#include "win32/internal.h"
#endif
#include <io.h>
#include <malloc.h>
#include <windows.h>
#else
#include <dirent.h>
#include <malloc.h>
#endif

void wmt_fail(int line, const char *file, const char *fmt, ...)
{
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    CU_assertImplementation(CU_FALSE, (unsigned)line, buf, file, "", CU_FALSE);
    /* In an isolated run the parent collects the failures for its report. */
    const char *path = getenv("WMT_FAILURES");
    FILE *f = path ? fopen(path, "a") : NULL;
    if (f) {
        const char *base = strrchr(file, '/');
        fprintf(f, "%s:%d: %s\n", base ? base + 1 : file, line, buf);
        fclose(f);
    }
}

const char *wmt_windows_only(void)
{
    if (!WMT_WINDOWS)
        return "checks the Windows engine's own bookkeeping";
    return WMT_HAVE_HOOKS ? NULL : "checks winmmap's own Windows engine (needs its test hooks)";
}

/* The reason a wmt_needs_* predicate gives, NULL when have is 1. */
static const char *needs(int have, const char *why)
{
    return have ? NULL : why;
}

const char *wmt_needs_signals(void)
{
    return needs(WMT_HAVE_SIGNALS, "the implementation has no sigaction/sigsetjmp/siglongjmp for memory faults");
}

const char *wmt_needs_hooks(void)
{
    return needs(WMT_HAVE_HOOKS, "looks into winmmap's region table (needs its test hooks)");
}

const char *wmt_needs_pagesize(void)
{
    return needs(WMT_HAVE_PAGESIZE, "the implementation has no sysconf(_SC_PAGESIZE)/getpagesize");
}

const char *wmt_needs_fsync(void)
{
    return needs(WMT_HAVE_FSYNC, "the implementation has no fsync/fdatasync");
}

const char *wmt_needs_mlock(void)
{
    return needs(WMT_HAVE_MLOCK && WMT_HAVE_MUNLOCK, "the implementation has no mlock/munlock");
}

const char *wmt_needs_mlockall(void)
{
    return needs(WMT_HAVE_MLOCKALL && WMT_HAVE_MUNLOCKALL, "the implementation has no mlockall/munlockall");
}

const char *wmt_needs_mremap(void)
{
    return needs(WMT_HAVE_MREMAP, "the implementation has no mremap");
}

const char *wmt_needs_shm(void)
{
    return needs(WMT_HAVE_SHM_OPEN && WMT_HAVE_SHM_UNLINK, "the implementation has no shm_open/shm_unlink");
}

const char *wmt_needs_posix_madvise(void)
{
    return needs(WMT_HAVE_POSIX_MADVISE, "the implementation has no posix_madvise");
}

const char *wmt_native_only(void)
{
    return WMT_WINDOWS ? "checks a rule that only the native kernel keeps" : NULL;
}

const char *wmt_windows_heaps(void)
{
    return WMT_WINDOWS ? NULL : "locks the Windows heaps (HeapLock): Windows only";
}

const char *wmt_not_root(void)
{
#ifndef _WIN32
    if (geteuid() == 0)
        return "runs as root, which permission bits do not bind";
#endif
    return NULL;
}

const char *wmt_exact_only(void)
{
    return wmt_page() == 4096 ? NULL : "needs 4 KiB pages (legacy strategy uses 64 KiB)";
}

const char *wmt_ranges_held(void)
{
    return wmt_page() == 4096 ? NULL
                              : "legacy strategy: a range it releases and takes again can be lost to another "
                                "thread's allocation meanwhile (README, Known limits)";
}

size_t wmt_page(void)
{
#if WMT_HAVE_PAGESIZE
    return (size_t)sysconf(_SC_PAGESIZE);
#else
    /* The implementation names no page size: the system's. */
    SYSTEM_INFO si;
    GetSystemInfo(&si);
    return si.dwPageSize;
#endif
}

unsigned char wmt_pattern(size_t i, unsigned char seed)
{
    return (unsigned char)(seed + i * 7 + (i >> 12));
}

int wmt_has_pattern(const void *p, size_t len, size_t first, unsigned char seed)
{
    const unsigned char *c = p;
    for (size_t i = 0; i < len; i++)
        if (c[i] != wmt_pattern(first + i, seed))
            return 0;
    return 1;
}

#define MAX_FILES 64
static char files[MAX_FILES][260];
static int nfiles;

int wmt_temp_file(size_t len, unsigned char seed, int oflags, char *path, size_t pathlen)
{
    char name[260];
    static unsigned counter;
#ifdef _WIN32
    char dir[MAX_PATH];
    GetTempPathA(sizeof dir, dir);
    snprintf(name, sizeof name, "%swmt-%lu-%u.tmp", dir, GetCurrentProcessId(), counter++);
    oflags |= O_BINARY;
#else
    snprintf(name, sizeof name, "/tmp/wmt-%d-%u.tmp", (int)getpid(), counter++);
#endif
    int fd = open(name, O_RDWR | O_CREAT | O_TRUNC | (oflags & ~O_ACCMODE & ~O_RDWR), 0600);
    if (fd < 0)
        return -1;
    unsigned char buf[4096];
    for (size_t done = 0; done < len;) {
        size_t n = len - done < sizeof buf ? len - done : sizeof buf;
        for (size_t i = 0; i < n; i++)
            buf[i] = wmt_pattern(done + i, seed);
        if (write(fd, buf, (unsigned)n) != (long)n) {
            close(fd);
            return -1;
        }
        done += n;
    }
    close(fd);
    if (nfiles < MAX_FILES)
        snprintf(files[nfiles++], sizeof files[0], "%s", name);
    if (path)
        snprintf(path, pathlen, "%s", name);
    return open(name, oflags);
}

void wmt_cleanup_files(void)
{
    for (int i = 0; i < nfiles; i++)
        unlink(files[i]);
    nfiles = 0;
}

#ifdef _WIN32
#define seek _lseeki64
#else
#define seek lseek
#endif

long wmt_pread(int fd, void *buf, size_t n, long long off)
{
    if (seek(fd, off, SEEK_SET) != off)
        return -1;
    return (long)read(fd, buf, (unsigned)n);
}

long wmt_pwrite(int fd, const void *buf, size_t n, long long off)
{
    if (seek(fd, off, SEEK_SET) != off)
        return -1;
    return (long)write(fd, buf, (unsigned)n);
}

long long wmt_file_size(int fd)
{
    struct stat st;
    if (fstat(fd, &st) != 0)
        return -1;
    return (long long)st.st_size;
}

void wmt_audit_at(int line, const char *file)
{
#if defined(_WIN32) && WMT_HAVE_HOOKS
    const char *why = wm_audit();
    if (why)
        wmt_fail(line, file, "region table audit: %s", why);
    else
        CU_PASS("region table audit");
#else
    (void)line, (void)file; /* no table to check (native, or not winmmap): asserts nothing */
#endif
}

#if defined(_WIN32) && WMT_HAVE_HOOKS
int wmt_inject_verdict(long n, long calls, int rc, int err)
{
    const char *audit = wm_audit();
    if (audit)
        wmt_fail(__LINE__, __FILE__, "failure point %ld: %s", n, audit);
    if (calls < n) {
        if (rc != 0)
            wmt_fail(__LINE__, __FILE__, "fails with errno %d without injection", err);
        return 1;
    }
    if (rc != 0 && err != ENOMEM)
        wmt_fail(__LINE__, __FILE__, "failure point %ld: errno %d, not ENOMEM", n, err);
    return 0;
}
#endif

unsigned char *wmt_foreign_then_mapped(size_t *unit)
{
    /* Windows places allocations on 64 KiB boundaries. */
    size_t u = wmt_page() > 65536 ? wmt_page() : 65536;
    *unit = u;
#ifdef _WIN32
    unsigned char *r = VirtualAlloc(NULL, 4 * u, MEM_RESERVE, PAGE_NOACCESS);
    if (!r)
        return NULL;
    VirtualFree(r, 0, MEM_RELEASE);
    if (VirtualAlloc(r, 2 * u, MEM_RESERVE | MEM_COMMIT, PAGE_READWRITE) != r)
        return NULL;
    if (mmap(r + 2 * u, 2 * u, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) !=
        r + 2 * u) {
        VirtualFree(r, 0, MEM_RELEASE);
        return NULL;
    }
    return r;
#else
    unsigned char *r = mmap(NULL, 4 * u, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    return r == MAP_FAILED ? NULL : r;
#endif
}

void wmt_foreign_then_mapped_free(unsigned char *p, size_t unit)
{
    munmap(p + 2 * unit, 2 * unit);
#ifdef _WIN32
    VirtualFree(p, 0, MEM_RELEASE);
#else
    munmap(p, 2 * unit);
#endif
}

void *wmt_system_alloc(size_t len, int reserve_only)
{
#ifdef _WIN32
    return VirtualAlloc(NULL, len, reserve_only ? MEM_RESERVE : MEM_RESERVE | MEM_COMMIT,
                        reserve_only ? PAGE_NOACCESS : PAGE_READWRITE);
#else
    void *p = mmap(NULL, len, reserve_only ? PROT_NONE : PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    return p == MAP_FAILED ? NULL : p;
#endif
}

void wmt_system_free(void *p, size_t len)
{
#ifdef _WIN32
    (void)len;
    VirtualFree(p, 0, MEM_RELEASE);
#else
    munmap(p, len);
#endif
}

#if defined(_WIN32) && WMT_HAVE_HOOKS
void *wmt_hold_busy_range(void *arg)
{
    struct wmt_busy_hold *h = arg;
    struct wm_busy b;
    wm_lock_exclusive();
    bool marked = wm_busy_mark(&b, h->lo, h->hi);
    wm_unlock_exclusive();
    SetEvent(h->taken);
    Sleep(h->ms);
    InterlockedExchange(&h->released, 1);
    wm_lock_exclusive();
    if (marked)
        wm_busy_clear(&b);
    wm_unlock_exclusive();
    return NULL;
}
#endif

long wmt_handle_count(void)
{
#ifdef _WIN32
    DWORD n = 0;
    if (GetProcessHandleCount(GetCurrentProcess(), &n) && n)
        return (long)n;
    /* Wine answers 0: count the handle values that are open instead.  Both
     * give out the lowest free value, so a long run of closed values past the
     * last open one ends the search. */
    DWORD flags;
    long open = 0, gap = 0;
    for (uintptr_t h = 4; gap < 1024; h += 4) {
        if (GetHandleInformation((HANDLE)h, &flags))
            open++, gap = 0;
        else
            gap++;
    }
    return open;
#else
    long n = 0;
    DIR *d = opendir("/proc/self/fd");
    if (!d)
        return -1;
    while (readdir(d))
        n++;
    closedir(d);
    return n;
#endif
}

int wmt_pipe(int fds[2])
{
#ifdef _WIN32
    return _pipe(fds, 4096, O_BINARY);
#else
    return pipe(fds);
#endif
}

long long wmt_heap_in_use(void)
{
#ifdef _WIN32
    _HEAPINFO hi = {0};
    long long used = 0;
    int rc;
    while ((rc = _heapwalk(&hi)) == _HEAPOK)
        if (hi._useflag == _USEDENTRY)
            used += (long long)hi._size;
    return rc == _HEAPEND || rc == _HEAPEMPTY ? used : -1;
#else
    return (long long)mallinfo2().uordblks;
#endif
}

unsigned char *wmt_anon_filled(size_t len, unsigned char seed)
{
    unsigned char *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p != MAP_FAILED)
        for (size_t i = 0; i < len; i++)
            p[i] = wmt_pattern(i, seed);
    return p;
}
