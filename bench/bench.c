/* winmmap benchmarks.  Each row times an operation through winmmap and, on
 * Windows, the raw Win32 calls doing the same work in the same run; the
 * ratio is what matters (absolute times on a shared machine are noise).
 * Natively the POSIX calls are timed alone, for shape.
 *
 *   winmmap_bench [--smoke] [--csv FILE] [--label NAME]
 *
 * Every time is the median of several rounds, in nanoseconds per operation. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <winmmap.h>

#ifdef _WIN32
#include <io.h>
#include <windows.h>
#else
#include <malloc.h>
#include <time.h>
#endif

static int smoke;
static FILE *csv;
static const char *label = "run";
static size_t pg;

static double now_ns(void)
{
#ifdef _WIN32
    static LARGE_INTEGER f;
    LARGE_INTEGER c;
    if (!f.QuadPart)
        QueryPerformanceFrequency(&f);
    QueryPerformanceCounter(&c);
    return (double)c.QuadPart * 1e9 / (double)f.QuadPart;
#else
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e9 + t.tv_nsec;
#endif
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Median over rounds of the time per call of fn(arg) run n times. */
static double time_op(void (*fn)(void *), void *arg, int n)
{
    enum { ROUNDS = 7 };
    double t[ROUNDS];
    int rounds = smoke ? 1 : ROUNDS;
    if (smoke)
        n = n / 50 + 1;
    for (int r = 0; r < rounds; r++) {
        double t0 = now_ns();
        for (int i = 0; i < n; i++)
            fn(arg);
        t[r] = (now_ns() - t0) / n;
    }
    qsort(t, rounds, sizeof t[0], cmp_double);
    return t[rounds / 2];
}

static void row(const char *name, double lib, double raw, const char *unit)
{
    if (raw > 0)
        printf("  %-44s %12.0f %12.0f %8.2f\n", name, lib, raw, lib / raw);
    else
        printf("  %-44s %12.0f %12s %8s\n", name, lib, "-", "-");
    if (csv)
        fprintf(csv, "%s,%s,%s,%.1f,%.1f,%.3f,%s\n", label, winmmap_strategy(), name, lib, raw,
                raw > 0 ? lib / raw : 0.0, unit);
}

static void die(const char *what)
{
    fprintf(stderr, "bench: %s failed: %s\n", what, strerror(errno));
    exit(1);
}

/* ---- mmap + munmap against the raw calls ---- */

struct mapping_case {
    int fd;
    size_t len;
#ifdef _WIN32
    HANDLE file;
#endif
};

static void lib_file_view(void *a)
{
    struct mapping_case *c = a;
    void *p = mmap(NULL, c->len, PROT_READ | PROT_WRITE, MAP_SHARED, c->fd, 0);
    if (p == MAP_FAILED)
        die("mmap");
    munmap(p, c->len);
}

static void lib_anon(void *a)
{
    struct mapping_case *c = a;
    void *p = mmap(NULL, c->len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        die("mmap");
    munmap(p, c->len);
}

#ifdef _WIN32
/* The same work as winmmap's: a section over the file, a view, and both gone. */
static void raw_file_view(void *a)
{
    struct mapping_case *c = a;
    HANDLE s = CreateFileMappingW(c->file, NULL, PAGE_READWRITE, 0, 0, NULL);
    void *p = s ? MapViewOfFile(s, FILE_MAP_WRITE, 0, 0, c->len) : NULL;
    if (!p)
        die("MapViewOfFile");
    UnmapViewOfFile(p);
    CloseHandle(s);
}

/* Anonymous memory as winmmap makes it: a pagefile section (so a child can
 * map the same bytes) and a view. */
static void raw_anon_section(void *a)
{
    struct mapping_case *c = a;
    HANDLE s = CreateFileMappingW(INVALID_HANDLE_VALUE, NULL, PAGE_READWRITE, 0, (DWORD)c->len, NULL);
    void *p = s ? MapViewOfFile(s, FILE_MAP_WRITE, 0, 0, c->len) : NULL;
    if (!p)
        die("MapViewOfFile");
    UnmapViewOfFile(p);
    CloseHandle(s);
}

/* What a hand-written port usually does instead (no sharing with a child). */
static void raw_virtualalloc(void *a)
{
    struct mapping_case *c = a;
    void *p = VirtualAlloc(NULL, c->len, MEM_RESERVE | MEM_COMMIT, PAGE_READWRITE);
    if (!p)
        die("VirtualAlloc");
    VirtualFree(p, 0, MEM_RELEASE);
}
#endif

/* A file of len zero bytes in the current directory; removed at once where
 * the system allows (POSIX), else by remove_temp() after close. */
static char temp_path[64];
static int temp_file(size_t len)
{
    char *path = strcpy(temp_path, "winmmap-bench-XXXXXX");
#ifdef _WIN32
    if (!_mktemp(path))
        die("mktemp");
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_BINARY, 0600);
#else
    int fd = mkstemp(path);
#endif
    if (fd < 0)
        die("open");
#ifndef _WIN32
    unlink(path);
#endif
    char *buf = calloc(1, len);
    if (write(fd, buf, len) != (ssize_t)len)
        die("write");
    free(buf);
    return fd;
}

static void bench_map_unmap(void)
{
    printf("mmap + munmap (ns per pair)                  winmmap          raw    ratio\n");
    struct mapping_case f = {.fd = temp_file(65536), .len = 65536};
#ifdef _WIN32
    f.file = (HANDLE)_get_osfhandle(f.fd);
    row("64 KiB shared file view", time_op(lib_file_view, &f, 300), time_op(raw_file_view, &f, 300), "ns");
#else
    row("64 KiB shared file view", time_op(lib_file_view, &f, 300), 0, "ns");
#endif
    size_t sizes[] = {4096, 1 << 20};
    const char *names[] = {"4 KiB anonymous", "1 MiB anonymous"};
    for (int i = 0; i < 2; i++) {
        struct mapping_case c = {.fd = -1, .len = sizes[i]};
        double lib = time_op(lib_anon, &c, 300);
#ifdef _WIN32
        char name[64];
        row(names[i], lib, time_op(raw_anon_section, &c, 300), "ns");
        snprintf(name, sizeof name, "%s vs VirtualAlloc", names[i]);
        row(name, lib, time_op(raw_virtualalloc, &c, 300), "ns");
#else
        row(names[i], lib, 0, "ns");
#endif
    }
    close(f.fd);
    unlink(temp_path);
}

/* ---- cost per operation with many live mappings ---- */

struct scaled {
    unsigned char *spare; /* 2 pages used by the timed operations */
};

static void op_map_unmap(void *a)
{
    (void)a;
    void *p = mmap(NULL, pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        die("mmap");
    munmap(p, pg);
}

static void op_partial_munmap(void *a)
{
    (void)a;
    unsigned char *p = mmap(NULL, 2 * pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        die("mmap");
    munmap(p + pg, pg);
    munmap(p, pg);
}

static void op_mprotect(void *a)
{
    struct scaled *s = a;
    mprotect(s->spare, pg, PROT_READ);
    mprotect(s->spare, pg, PROT_READ | PROT_WRITE);
}

static void op_lookup(void *a)
{
    struct scaled *s = a;
    /* msync of anonymous memory: the table walk and nothing else. */
    msync(s->spare, pg, MS_ASYNC);
}

static size_t heap_bytes(void)
{
#ifdef _WIN32
    HANDLE heaps[64];
    DWORD n = GetProcessHeaps(64, heaps);
    size_t total = 0;
    for (DWORD h = 0; h < n && h < 64; h++) {
        PROCESS_HEAP_ENTRY e = {0};
        HeapLock(heaps[h]);
        while (HeapWalk(heaps[h], &e))
            if (e.wFlags & PROCESS_HEAP_ENTRY_BUSY)
                total += e.cbData + e.cbOverhead;
        HeapUnlock(heaps[h]);
    }
    return total;
#else
    return mallinfo2().uordblks;
#endif
}

static void bench_scaling(void)
{
    printf("\nwith N live mappings (ns per op)             N=1000      N=10000     N=100000  100k/1k\n");
    size_t counts[] = {1000, 10000, 100000};
    int nc = smoke ? 1 : 3;
    double t[4][3] = {{0}};
    double bytes_per = 0;
    struct scaled s;
    s.spare = mmap(NULL, pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (s.spare == MAP_FAILED)
        die("mmap");
    void **live = calloc(counts[2], sizeof *live);
    size_t have = 0;
    for (int k = 0; k < nc; k++) {
        size_t before = heap_bytes(), from = have;
        /* Alternate protections so neighbours never merge into one region. */
        for (; have < counts[k]; have++) {
            live[have] = mmap(NULL, pg, have % 2 ? PROT_READ : PROT_READ | PROT_WRITE,
                              MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
            if (live[have] == MAP_FAILED)
                break;
        }
        if (have < counts[k]) {
            /* Linux: vm.max_map_count (65530 by default) stops it. */
            printf("  (only %zu live mappings possible: %s)\n", have, strerror(errno));
            nc = k;
            break;
        }
        if (k == 0)
            bytes_per = (double)(heap_bytes() - before) / (double)(have - from);
        t[0][k] = time_op(op_map_unmap, NULL, 300);
        t[1][k] = time_op(op_partial_munmap, NULL, 200);
        t[2][k] = time_op(op_mprotect, &s, 2000);
        t[3][k] = time_op(op_lookup, &s, 20000);
    }
    const char *names[] = {"mmap + munmap", "partial munmap (map 2, unmap 1+1)", "mprotect x2", "lookup (msync of anon)"};
    for (int i = 0; i < 4; i++) {
        if (nc < 3) {
            printf("  %-40s %10.0f %12.0f %12s %8s\n", names[i], t[i][0], t[i][1], "-", "-");
            continue;
        }
        printf("  %-40s %10.0f %12.0f %12.0f %8.2f\n", names[i], t[i][0], t[i][1], t[i][2], t[i][2] / t[i][0]);
        if (csv && nc == 3)
            fprintf(csv, "%s,%s,%s 100k/1k,%.1f,%.1f,%.3f,ratio\n", label, winmmap_strategy(), names[i],
                    t[i][2], t[i][0], t[i][2] / t[i][0]);
    }
    printf("  bookkeeping per live mapping: %.0f bytes\n", bytes_per);
    if (csv)
        fprintf(csv, "%s,%s,bytes per mapping,%.1f,96,%.3f,bytes\n", label, winmmap_strategy(), bytes_per,
                bytes_per / 96);
    for (size_t i = 0; i < have; i++)
        munmap(live[i], pg);
    free(live);
    munmap(s.spare, pg);
}

/* ---- mprotect and msync against the raw calls ---- */

struct big {
    unsigned char *p;
    size_t len;
    int fd;
#ifdef _WIN32
    HANDLE file;
#endif
};

static void lib_protect_one(void *a)
{
    struct big *b = a;
    mprotect(b->p + 100 * pg, pg, PROT_READ);
    mprotect(b->p + 100 * pg, pg, PROT_READ | PROT_WRITE);
}

static void lib_msync(void *a)
{
    struct big *b = a;
    for (size_t i = 0; i < b->len; i += 4096)
        b->p[i]++;
    msync(b->p, b->len, MS_SYNC);
}

#ifdef _WIN32
static void raw_protect_one(void *a)
{
    struct big *b = a;
    DWORD old;
    VirtualProtect(b->p + 100 * pg, pg, PAGE_READONLY, &old);
    VirtualProtect(b->p + 100 * pg, pg, PAGE_READWRITE, &old);
}

static void raw_msync(void *a)
{
    struct big *b = a;
    for (size_t i = 0; i < b->len; i += 4096)
        b->p[i]++;
    FlushViewOfFile(b->p, b->len);
    FlushFileBuffers(b->file);
}
#endif

static void bench_protect_sync(void)
{
    printf("\nprotection and sync (ns per op)              winmmap          raw    ratio\n");
    struct big b = {0};
    b.len = 256 * pg;
    b.p = mmap(NULL, b.len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (b.p == MAP_FAILED)
        die("mmap");
#ifdef _WIN32
    row("mprotect 1 page in 256 (x2) vs VirtualProtect", time_op(lib_protect_one, &b, 5000),
        time_op(raw_protect_one, &b, 5000), "ns");
#else
    row("mprotect 1 page in 256 (x2)", time_op(lib_protect_one, &b, 5000), 0, "ns");
#endif
    munmap(b.p, b.len);
    b.len = 1 << 20;
    b.fd = temp_file(b.len);
    b.p = mmap(NULL, b.len, PROT_READ | PROT_WRITE, MAP_SHARED, b.fd, 0);
    if (b.p == MAP_FAILED)
        die("mmap");
#ifdef _WIN32
    b.file = (HANDLE)_get_osfhandle(b.fd);
    row("msync 1 MiB dirty vs FlushViewOfFile+FlushFileBuffers", time_op(lib_msync, &b, 20),
        time_op(raw_msync, &b, 20), "ns");
#else
    row("msync 1 MiB dirty", time_op(lib_msync, &b, 20), 0, "ns");
#endif
    munmap(b.p, b.len);
    close(b.fd);
    unlink(temp_path);
}

/* ---- threads ---- */

struct worker {
    int n;
};

static void *map_loop(void *a)
{
    struct worker *w = a;
    for (int i = 0; i < w->n; i++)
        op_map_unmap(NULL);
    return NULL;
}

static void bench_threads(void)
{
    printf("\nthreads doing mmap + munmap (pairs per ms)   1 thread    2 threads    4 threads  4/1\n");
    int n = smoke ? 50 : 500;
    double rate[3];
    int counts[] = {1, 2, 4};
    for (int k = 0; k < 3; k++) {
        pthread_t t[4];
        struct worker w = {n};
        double t0 = now_ns();
        for (int i = 0; i < counts[k]; i++)
            pthread_create(&t[i], NULL, map_loop, &w);
        for (int i = 0; i < counts[k]; i++)
            pthread_join(t[i], NULL);
        rate[k] = counts[k] * (double)n / ((now_ns() - t0) / 1e6);
    }
    printf("  %-40s %10.0f %12.0f %12.0f %8.2f\n", "throughput", rate[0], rate[1], rate[2], rate[2] / rate[0]);
    if (csv)
        fprintf(csv, "%s,%s,threads 4/1 throughput,%.1f,%.1f,%.3f,ratio\n", label, winmmap_strategy(),
                rate[2], rate[0], rate[2] / rate[0]);
}

/* ---- fault round trip ---- */

static unsigned char *fault_page;
static void unprotect(int sig, siginfo_t *si, void *uc)
{
    (void)sig, (void)si, (void)uc;
    mprotect(fault_page, pg, PROT_READ | PROT_WRITE);
}

static void fault_round_trip(void *a)
{
    (void)a;
    mprotect(fault_page, pg, PROT_NONE);
    *(volatile unsigned char *)fault_page = 1; /* fault, handler unprotects, retry */
}

static void protect_pair(void *a)
{
    (void)a;
    mprotect(fault_page, pg, PROT_NONE);
    mprotect(fault_page, pg, PROT_READ | PROT_WRITE);
}

static void bench_fault(void)
{
    printf("\nfault -> handler -> retry (ns)               round trip  mprotect x2    ratio\n");
    fault_page = mmap(NULL, pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (fault_page == MAP_FAILED)
        die("mmap");
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = unprotect;
    sa.sa_flags = SA_SIGINFO;
    sigaction(SIGSEGV, &sa, NULL);
    row("fault round trip vs the two mprotects in it", time_op(fault_round_trip, NULL, 2000),
        time_op(protect_pair, NULL, 2000), "ns");
    sa.sa_handler = SIG_DFL;
    sa.sa_flags = 0;
    sigaction(SIGSEGV, &sa, NULL);
    munmap(fault_page, pg);
}

int main(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--smoke") == 0)
            smoke = 1;
        else if (strcmp(argv[i], "--csv") == 0 && i + 1 < argc)
            csv = fopen(argv[++i], "a");
        else if (strcmp(argv[i], "--label") == 0 && i + 1 < argc)
            label = argv[++i];
    }
    setvbuf(stdout, NULL, _IONBF, 0);
    pg = (size_t)sysconf(_SC_PAGESIZE);
    printf("winmmap %s bench: %s, strategy %s, page %zu%s\n", winmmap_version(), label, winmmap_strategy(),
           pg, smoke ? " (smoke: one short round)" : "");
    bench_map_unmap();
    bench_protect_sync();
    bench_fault();
    bench_threads();
    bench_scaling();
    if (csv)
        fclose(csv);
    return 0;
}
