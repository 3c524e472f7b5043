/* winmmap benchmarks.  Each row times an operation through winmmap and, on
 * Windows, the raw Win32 calls doing the same work in the same run; the
 * ratio is what matters (absolute times on a shared machine are noise).
 * Natively the POSIX calls are timed alone, for shape.
 *
 *   winmmap_bench [--smoke] [--csv FILE] [--label NAME] [--only GROUP]
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
#include <sys/wait.h>
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
static const char *only;
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

/* The raw Win32 version of an operation; natively there is none. */
#ifdef _WIN32
#define RAW(fn) fn
#else
#define RAW(fn) NULL
#endif

/* Time lib and raw n times each, in alternating rounds so that the load of a
 * shared machine hits both alike.  Gives the median times and the median of
 * the rounds' ratios (0 without raw). */
struct timing {
    double lib, raw, ratio, lib_min;
};

static struct timing measure(void (*lib)(void *), void (*raw)(void *), void *arg, int n)
{
    enum { ROUNDS = 9 };
    double tl[ROUNDS], tr[ROUNDS], q[ROUNDS];
    int rounds = smoke ? 1 : ROUNDS;
    if (smoke)
        n = n / 50 + 1;
    for (int r = 0; r < rounds; r++) {
        double t0 = now_ns();
        for (int i = 0; i < n; i++)
            lib(arg);
        tl[r] = (now_ns() - t0) / n;
        tr[r] = 0;
        if (raw) {
            t0 = now_ns();
            for (int i = 0; i < n; i++)
                raw(arg);
            tr[r] = (now_ns() - t0) / n;
        }
        q[r] = raw ? tl[r] / tr[r] : 0;
    }
    qsort(tl, rounds, sizeof tl[0], cmp_double);
    qsort(tr, rounds, sizeof tr[0], cmp_double);
    qsort(q, rounds, sizeof q[0], cmp_double);
    return (struct timing){tl[rounds / 2], tr[rounds / 2], q[rounds / 2], tl[0]};
}

/* measure() and print the row. */
static void compare(const char *name, void (*lib)(void *), void (*raw)(void *), void *arg, int n)
{
    struct timing t = measure(lib, raw, arg, n);
    if (raw)
        printf("  %-44s %12.0f %12.0f %8.2f\n", name, t.lib, t.raw, t.ratio);
    else
        printf("  %-44s %12.0f %12s %8s\n", name, t.lib, "-", "-");
    if (csv)
        fprintf(csv, "%s,%s,%s,%.1f,%.1f,%.3f,ns\n", label, winmmap_strategy(), name, t.lib, t.raw, t.ratio);
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

static void lib_shared_anon(void *a)
{
    struct mapping_case *c = a;
    void *p = mmap(NULL, c->len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
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

/* Shared anonymous memory as winmmap makes it: a pagefile section (so a
 * child can map the same bytes) and a view. */
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

/* What a hand-written port calls for private anonymous memory. */
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
#endif
    compare("64 KiB shared file view", lib_file_view, RAW(raw_file_view), &f, 200);
    size_t sizes[] = {4096, 1 << 20};
    const char *names[] = {"4 KiB", "1 MiB"};
    for (int i = 0; i < 2; i++) {
        struct mapping_case c = {.fd = -1, .len = sizes[i]};
        char name[64];
        snprintf(name, sizeof name, "%s private anonymous vs VirtualAlloc", names[i]);
        compare(name, lib_anon, RAW(raw_virtualalloc), &c, 200);
        snprintf(name, sizeof name, "%s shared anonymous vs section", names[i]);
        compare(name, lib_shared_anon, RAW(raw_anon_section), &c, 200);
    }
    close(f.fd);
    unlink(temp_path);
}

/* ---- cost per operation with many live mappings ---- */

struct scaled {
    unsigned char *spare; /* 2 pages used by the timed operations */
};

/* Calls of the timed operations that failed, with the last errno: a level
 * where any failed is not reported (under Wine, a split needs Linux
 * mappings, of which the process may have vm.max_map_count already). */
static long op_failures;
static int op_errno;

static void op_check(int failed)
{
    if (failed) {
        op_failures++;
        op_errno = errno;
    }
}

static void op_map_unmap(void *a)
{
    (void)a;
    void *p = mmap(NULL, pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    op_check(p == MAP_FAILED);
    if (p != MAP_FAILED)
        op_check(munmap(p, pg) != 0);
}

static void op_partial_munmap(void *a)
{
    (void)a;
    unsigned char *p = mmap(NULL, 2 * pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    op_check(p == MAP_FAILED);
    if (p == MAP_FAILED)
        return;
    int e1 = munmap(p + pg, pg), e2 = munmap(p, pg);
    op_check(e1 || e2);
    if (e1 || e2)
        munmap(p, 2 * pg); /* try whole, not to leave it behind */
}

static void op_mprotect(void *a)
{
    struct scaled *s = a;
    op_check(mprotect(s->spare, pg, PROT_READ) != 0);
    op_check(mprotect(s->spare, pg, PROT_READ | PROT_WRITE) != 0);
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

enum { NOPS = 4 };
static const char *op_names[NOPS] = {"mmap + munmap", "partial munmap (map 2; unmap 1+1)", "mprotect x2",
                                     "lookup (msync of anon)"};

#ifdef _WIN32
/* Private anonymous memory: VirtualAlloc of the same size (Windows cannot
 * free part of an allocation, so the partial munmap is set against allocating
 * and freeing its two pages). */
static void raw_map_1(void *a)
{
    (void)a;
    struct mapping_case c = {.fd = -1, .len = pg};
    raw_virtualalloc(&c);
}

static void raw_map_2(void *a)
{
    (void)a;
    struct mapping_case c = {.fd = -1, .len = 2 * pg};
    raw_virtualalloc(&c);
}

static void raw_protect_spare(void *a)
{
    struct scaled *s = a;
    DWORD old;
    VirtualProtect(s->spare, pg, PAGE_READONLY, &old);
    VirtualProtect(s->spare, pg, PAGE_READWRITE, &old);
}
#endif

/* The four operations' cost at the current number of live mappings.  On
 * Windows each is divided by the raw calls closest to it, timed alternately
 * (wineserver's latency on a shared machine drifts by 3x between levels;
 * the quotient does not); the lookup has no Win32 part and stays in ns. */
static void time_ops(struct scaled *s, double *t)
{
    struct timing m[NOPS] = {
        measure(op_map_unmap, RAW(raw_map_1), s, 100),
        measure(op_partial_munmap, RAW(raw_map_2), s, 100),
        measure(op_mprotect, RAW(raw_protect_spare), s, 2000),
        measure(op_lookup, NULL, s, 50000),
    };
    for (int i = 0; i < NOPS; i++)
        t[i] = m[i].raw > 0 ? m[i].ratio : m[i].lib;
    /* Pure CPU work of ~50 ns: other processes' load only ever adds to it,
     * so the fastest round is the measurement. */
    t[3] = m[3].lib_min;
}

/* Print the table of t[op][level] and the ratio of the last level to the first. */
static void scaling_rows(const char *what, double t[NOPS][3], const size_t *counts, int nc)
{
    for (int i = 0; i < NOPS; i++) {
        printf("  %-40s", op_names[i]);
        for (int k = 0; k < 3; k++) {
            if (k < nc)
                printf(t[i][k] < 100 ? " %12.2f" : " %12.0f", t[i][k]);
            else
                printf(" %12s", "-");
        }
        if (nc < 2) {
            printf(" %8s\n", "-");
            continue;
        }
        double ratio = t[i][nc - 1] / t[i][0];
        printf(" %8.2f\n", ratio);
        if (csv)
            fprintf(csv, "%s,%s,%s %s %zuk/1k,%.1f,%.1f,%.3f,ratio\n", label, winmmap_strategy(), op_names[i],
                    what, counts[nc - 1] / 1000, t[i][nc - 1], t[i][0], ratio);
    }
}

static void bytes_row(const char *name, double bytes)
{
    printf("  %-40s %12.0f\n", name, bytes);
    if (csv)
        fprintf(csv, "%s,%s,%s,%.1f,96,%.3f,bytes\n", label, winmmap_strategy(), name, bytes, bytes / 96);
}

/* Separate private anonymous mappings, one page each, up to 100 000: each is
 * a mapping of its own in the library (a region); under Wine each Windows
 * allocation is part of a Linux mapping of the Wine process, whose count
 * vm.max_map_count (65 530) limits. */
static void scaling_mappings(struct scaled *s)
{
    printf("\nwith N live mappings (Windows: winmmap/raw; lookup: ns)   N=1000      N=10000     N=100000  100k/1k\n");
    size_t counts[3] = {1000, 10000, 100000};
    int nc = smoke ? 1 : 3;
    double t[NOPS][3] = {{0}}, at[NOPS];
    size_t heap[2] = {0}, have = 0;
    void **live = calloc(counts[nc - 1], sizeof *live);
    for (int k = 0; k < nc; k++) {
        for (; have < counts[k]; have++) {
            live[have] = mmap(NULL, pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
            if (live[have] == MAP_FAILED) {
                printf("  (only %zu live mappings possible: %s)\n", have, strerror(errno));
                nc = k;
                break;
            }
        }
        if (k == nc)
            break;
        if (k < 2)
            heap[k] = heap_bytes();
        op_failures = 0;
        time_ops(s, at);
        if (op_failures) {
            printf("  (at %zu live mappings %ld operations failed: %s)\n", have, op_failures, strerror(op_errno));
            nc = k;
            break;
        }
        for (int i = 0; i < NOPS; i++)
            t[i][k] = at[i];
    }
    scaling_rows("mappings", t, counts, nc);
    if (nc >= 2) /* the growth between the levels: no start-up allocations in it */
        bytes_row("heap bytes per live mapping", ((double)heap[1] - (double)heap[0]) / (double)(counts[1] - counts[0]));
    for (size_t i = 0; i < have; i++)
        munmap(live[i], pg);
    free(live);
}

/* Many regions at little cost to the host: one mapping whose every other
 * page gets different advice, so the table holds one region per page while
 * Windows (and Linux, for Wine) still see one view. */
static void scaling_regions(struct scaled *s)
{
    printf("\nwith N live regions (one mapping, madvise)   N=1000      N=10000     N=100000  100k/1k\n");
    size_t counts[3] = {1000, 10000, 100000};
    int nc = smoke ? 1 : 3;
    double t[NOPS][3] = {{0}}, at[NOPS];
    size_t pages = counts[nc - 1] + 1, done = 1, heap0 = 0, heap1 = 0;
    unsigned char *big = mmap(NULL, pages * pg, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (big == MAP_FAILED)
        die("mmap of the big mapping");
    for (int k = 0; k < nc; k++) {
        if (k == 1)
            heap0 = heap_bytes();
        for (; done < counts[k]; done += 2)
            if (madvise(big + done * pg, pg, MADV_RANDOM)) {
                /* Linux: each region is a VMA, limited by vm.max_map_count. */
                printf("  (only %zu regions possible: %s)\n", done, strerror(errno));
                nc = k;
                break;
            }
        if (k == nc)
            break;
        if (k == 1)
            heap1 = heap_bytes();
        op_failures = 0;
        time_ops(s, at);
        if (op_failures) {
            printf("  (at %zu regions %ld operations failed: %s)\n", counts[k], op_failures, strerror(op_errno));
            nc = k;
            break;
        }
        for (int i = 0; i < NOPS; i++)
            t[i][k] = at[i];
    }
    scaling_rows("regions", t, counts, nc);
    if (nc >= 2 && heap1 > heap0)
        bytes_row("heap bytes per extra region", ((double)heap1 - (double)heap0) / (double)(counts[1] - counts[0]));
    munmap(big, pages * pg);
}

static void bench_scaling(void)
{
    struct scaled s;
    s.spare = mmap(NULL, pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (s.spare == MAP_FAILED)
        die("mmap");
    scaling_mappings(&s);
    scaling_regions(&s);
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
    compare("mprotect 1 page in 256 (x2) vs VirtualProtect", lib_protect_one, RAW(raw_protect_one), &b, 3000);
    munmap(b.p, b.len);
    b.len = 1 << 20;
    b.fd = temp_file(b.len);
    b.p = mmap(NULL, b.len, PROT_READ | PROT_WRITE, MAP_SHARED, b.fd, 0);
    if (b.p == MAP_FAILED)
        die("mmap");
#ifdef _WIN32
    b.file = (HANDLE)_get_osfhandle(b.fd);
#endif
    compare("msync 1 MiB dirty vs FlushViewOfFile+FlushFileBuffers", lib_msync, RAW(raw_msync), &b, 20);
    munmap(b.p, b.len);
    close(b.fd);
    unlink(temp_path);
}

/* ---- threads ---- */

/* k threads each doing n operations on their own mappings (disjoint
 * ranges); measure() times one such burst per round.  The threads are
 * started once per row and wait at a barrier between bursts: under Wine a
 * thread's start and exit cost more than a hundred of the operations, and
 * would be timed as well. */
struct pool {
    pthread_t th[4];
    pthread_barrier_t start, done;
    void (*op)(void *); /* set before each burst; NULL: exit */
    void *arg;
    int k, n;
};

static void *pool_worker(void *a)
{
    struct pool *p = a;
    for (;;) {
        pthread_barrier_wait(&p->start);
        void (*op)(void *) = p->op;
        if (!op)
            return NULL;
        for (int i = 0; i < p->n; i++)
            op(p->arg);
        pthread_barrier_wait(&p->done);
    }
}

static void pool_start(struct pool *p, int k, int n, void *arg)
{
    p->k = k, p->n = n, p->arg = arg;
    if (pthread_barrier_init(&p->start, NULL, (unsigned)k + 1) ||
        pthread_barrier_init(&p->done, NULL, (unsigned)k + 1))
        die("pthread_barrier_init");
    for (int i = 0; i < k; i++)
        if (pthread_create(&p->th[i], NULL, pool_worker, p))
            die("pthread_create");
}

static void pool_run(struct pool *p, void (*op)(void *))
{
    p->op = op;
    pthread_barrier_wait(&p->start);
    pthread_barrier_wait(&p->done);
}

static void pool_stop(struct pool *p)
{
    p->op = NULL;
    pthread_barrier_wait(&p->start);
    for (int i = 0; i < p->k; i++)
        pthread_join(p->th[i], NULL);
    pthread_barrier_destroy(&p->start);
    pthread_barrier_destroy(&p->done);
}

/* One kind of mapping timed in 1, 2 and 4 threads against its raw Win32
 * sequence. */
struct thread_case {
    const char *what;      /* row name prefix */
    void (*lib)(void *);   /* one mmap + munmap */
    void (*raw)(void *);   /* the raw calls doing the same work; NULL natively */
    const char *suffix;    /* of the throughput rows: "" or " shared" */
    size_t len;
};

static const struct thread_case *burst_case;

static void lib_burst(void *a)
{
    pool_run(a, burst_case->lib);
}

static void raw_burst(void *a)
{
    pool_run(a, burst_case->raw);
}

static void thread_rows(const struct thread_case *tc)
{
    int counts[] = {1, 2, 4};
    double lib[3], raw[3] = {0};
    struct mapping_case c = {.fd = -1, .len = tc->len};
    burst_case = tc;
    for (int k = 0; k < 3; k++) {
        char name[80];
        struct pool pool;
        pool_start(&pool, counts[k], smoke ? 5 : 100, &c);
        snprintf(name, sizeof name, "%s: %d thread%s", tc->what, counts[k], counts[k] > 1 ? "s" : "");
        struct timing t = measure(lib_burst, tc->raw ? raw_burst : NULL, &pool, 1);
        pool_stop(&pool);
        double per = (double)pool.k * pool.n;
        lib[k] = t.lib / per;
        raw[k] = t.raw / per;
        if (t.raw > 0)
            printf("  %-44s %12.0f %12.0f %8.2f\n", name, t.lib / per, t.raw / per, t.ratio);
        else
            printf("  %-44s %12.0f %12s %8s\n", name, t.lib / per, "-", "-");
        if (csv)
            fprintf(csv, "%s,%s,%s,%.1f,%.1f,%.3f,ns\n", label, winmmap_strategy(), name, t.lib / per,
                    t.raw / per, t.ratio);
    }
    /* Throughput of 4 threads over 1 (2 cores: 2 at best). */
    printf("  winmmap throughput 4 threads / 1 thread%-7s %9.2f\n", tc->suffix, lib[0] / lib[2]);
    if (csv)
        fprintf(csv, "%s,%s,threads 4/1 throughput%s,%.1f,%.1f,%.3f,ratio\n", label, winmmap_strategy(),
                tc->suffix, lib[2], lib[0], lib[0] / lib[2]);
    if (raw[2] > 0) {
        printf("  raw throughput 4 threads / 1 thread%-11s %9.2f\n", tc->suffix, raw[0] / raw[2]);
        if (csv)
            fprintf(csv, "%s,%s,threads 4/1 throughput raw%s,%.1f,%.1f,%.3f,ratio\n", label,
                    winmmap_strategy(), tc->suffix, raw[2], raw[0], raw[0] / raw[2]);
    }
}

static void bench_threads(void)
{
    printf("\nthreads doing mmap + munmap on disjoint ranges (wall ns per pair, all threads)\n");
    /* Private anonymous pages against VirtualAlloc/VirtualFree. */
    struct thread_case priv = {"mmap + munmap", lib_anon, RAW(raw_virtualalloc), "", pg};
    thread_rows(&priv);
    /* Shared anonymous 64 KiB against CreateFileMapping + MapViewOfFile +
     * UnmapViewOfFile + CloseHandle: wineserver round trips, which winmmap
     * makes outside its lock where it can. */
    struct thread_case shared = {"shared 64 KiB mmap + munmap", lib_shared_anon, RAW(raw_anon_section),
                                 " shared", 65536};
    thread_rows(&shared);
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

#ifdef _WIN32
/* What a port that handles its own faults does: a vectored handler that
 * makes the page accessible with one VirtualProtect.  Installed first, so
 * winmmap's faults pass through it too (a cost counted against winmmap). */
static unsigned char *raw_fault_page;
static LONG WINAPI raw_fault_handler(EXCEPTION_POINTERS *ep)
{
    EXCEPTION_RECORD *er = ep->ExceptionRecord;
    DWORD old;
    if (er->ExceptionCode != EXCEPTION_ACCESS_VIOLATION || er->NumberParameters < 2 ||
        (unsigned char *)er->ExceptionInformation[1] != raw_fault_page)
        return EXCEPTION_CONTINUE_SEARCH;
    VirtualProtect(raw_fault_page, pg, PAGE_READWRITE, &old);
    return EXCEPTION_CONTINUE_EXECUTION;
}

static void raw_fault_round_trip(void *a)
{
    (void)a;
    DWORD old;
    VirtualProtect(raw_fault_page, pg, PAGE_NOACCESS, &old);
    *(volatile unsigned char *)raw_fault_page = 1;
}

static void bench_raw_fault(void)
{
    raw_fault_page = VirtualAlloc(NULL, pg, MEM_RESERVE | MEM_COMMIT, PAGE_READWRITE);
    void *h = AddVectoredExceptionHandler(1, raw_fault_handler);
    if (!raw_fault_page || !h)
        die("VirtualAlloc/AddVectoredExceptionHandler");
    compare("fault round trip vs a vectored handler", fault_round_trip, raw_fault_round_trip, NULL, 2000);
    RemoveVectoredExceptionHandler(h);
    VirtualFree(raw_fault_page, 0, MEM_RELEASE);
}
#endif

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
    compare("fault round trip vs the two mprotects in it", fault_round_trip, protect_pair, NULL, 2000);
#ifdef _WIN32
    bench_raw_fault();
#endif
    sa.sa_handler = SIG_DFL;
    sa.sa_flags = 0;
    sigaction(SIGSEGV, &sa, NULL);
    munmap(fault_page, pg);
}

/* ---- fork-style inheritance ---- */

static int child_nothing(void *a)
{
    (void)a;
    return 0;
}

static void lib_fork(void *a)
{
    (void)a;
    pid_t pid = winmmap_fork_call(child_nothing, NULL, 0);
    int st;
    if (pid < 0 || waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
        die("winmmap_fork_call");
}

#ifdef _WIN32
/* The baseline: start the same program (which exits at once) and wait. */
static void raw_create_process(void *a)
{
    (void)a;
    WCHAR exe[MAX_PATH], cmd[MAX_PATH + 16];
    GetModuleFileNameW(NULL, exe, MAX_PATH);
    swprintf(cmd, sizeof cmd / sizeof cmd[0], L"\"%ls\" --exit", exe);
    STARTUPINFOW si = {.cb = sizeof si};
    PROCESS_INFORMATION pi;
    if (!CreateProcessW(exe, cmd, NULL, NULL, TRUE, 0, NULL, NULL, &si, &pi))
        die("CreateProcessW");
    WaitForSingleObject(pi.hProcess, INFINITE);
    CloseHandle(pi.hThread);
    CloseHandle(pi.hProcess);
}
#endif

static void bench_fork(void)
{
    printf("\nwinmmap_fork_call + waitpid (ns)           winmmap  CreateProcess    ratio\n");
    static const int counts[] = {0, 100, 1000};
    for (int k = 0; k < 3; k++) {
        unsigned char **m = calloc(counts[k] + 1, sizeof *m);
        if (!m)
            die("calloc");
        for (int i = 0; i < counts[k]; i++) {
            m[i] = mmap(NULL, pg, PROT_READ | PROT_WRITE, (i % 2 ? MAP_SHARED : MAP_PRIVATE) | MAP_ANONYMOUS,
                        -1, 0);
            if (m[i] == MAP_FAILED)
                die("mmap");
            m[i][0] = 1;
        }
        char name[64];
        snprintf(name, sizeof name, "fork with %d inherited mappings", counts[k]);
        compare(name, lib_fork, RAW(raw_create_process), NULL, 10);
        for (int i = 0; i < counts[k]; i++)
            munmap(m[i], pg);
        free(m);
    }
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "--exit") == 0)
        return 0; /* the baseline child of bench_fork */
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--smoke") == 0)
            smoke = 1;
        else if (strcmp(argv[i], "--csv") == 0 && i + 1 < argc)
            csv = fopen(argv[++i], "a");
        else if (strcmp(argv[i], "--label") == 0 && i + 1 < argc)
            label = argv[++i];
        else if (strcmp(argv[i], "--only") == 0 && i + 1 < argc)
            only = argv[++i];
    }
    setvbuf(stdout, NULL, _IONBF, 0);
    pg = (size_t)sysconf(_SC_PAGESIZE);
    printf("winmmap %s bench: %s, strategy %s, page %zu%s\n", winmmap_version(), label, winmmap_strategy(),
           pg, smoke ? " (smoke: one short round)" : "");
    /* --only NAME runs one group (map, protect, fault, threads, scaling, fork). */
    static const struct { const char *name; void (*run)(void); } groups[] = {
        {"map", bench_map_unmap}, {"protect", bench_protect_sync}, {"fault", bench_fault},
        {"threads", bench_threads}, {"scaling", bench_scaling}, {"fork", bench_fork}};
    for (size_t i = 0; i < sizeof groups / sizeof groups[0]; i++)
        if (!only || strcmp(only, groups[i].name) == 0)
            groups[i].run();
    if (csv)
        fclose(csv);
    return 0;
}
