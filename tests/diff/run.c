/* wmdiff runner: executes one sequence in a fresh arena and prints, after
 * every operation, its result and the state a program can observe: each
 * arena page's read fault and contents, each file's size and contents.
 * Every length is in pages (sysconf(_SC_PAGESIZE)), so a 4 KiB native run
 * and a 64 KiB legacy run print the same trace. */
#include "diff.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <winmmap.h>

#ifndef O_BINARY
#define O_BINARY 0
#endif

static size_t P;
static unsigned char *A;
static int fd[WD_FILES + 1];
static char fname[2][64], shmname[64];
static unsigned char wbuf[4 * 65536];
static unsigned char vec[WD_ARENA + 16];

static int generation;

static void open_files(void)
{
    int pid = (int)getpid();
    generation++;
    for (int f = 0; f < 2; f++) {
        snprintf(fname[f], sizeof fname[f], "wmdiff-%d-%d-f%d.dat", pid, generation, f);
        fd[f] = open(fname[f], O_RDWR | O_CREAT | O_TRUNC | O_BINARY, 0600);
    }
    snprintf(shmname, sizeof shmname, "/wmdiff-%d-%d", pid, generation);
    /* Wine reuses process ids: a run that stopped early left its object. */
    shm_unlink(shmname);
    fd[2] = shm_open(shmname, O_RDWR | O_CREAT | O_TRUNC, 0600);
    fd[3] = open(fname[0], O_RDONLY | O_BINARY);
    for (int f = 0; f <= WD_FILES; f++)
        if (fd[f] < 0) {
            perror("wmdiff: opening the files");
            _exit(2);
        }
}

void wd_setup(void)
{
    P = (size_t)sysconf(_SC_PAGESIZE);
    wd_probe_init();
    open_files();
}

void wd_teardown(void)
{
    for (int f = 0; f <= WD_FILES; f++)
        close(fd[f]);
    unlink(fname[0]);
    unlink(fname[1]);
    shm_unlink(shmname);
}

static void put(char **o, const char *end, const char *fmt, const char *s)
{
    int n = snprintf(*o, (size_t)(end - *o), fmt, s);
    if (n > 0)
        *o += n < end - *o ? n : end - *o - 1;
}

static char hexd(int v) { return "0123456789abcdef"[v & 15]; }

/* Read fault and contents of pages [p, p + n): classes into r, contents
 * (2 characters a page: the byte of a uniform page, "mx", or "..") into d. */
static void probe_range(unsigned char *p, int n, char *r, char *d)
{
    for (int i = 0; i < n; i++) {
        int s;
        r[i] = wd_probe_read(p + (size_t)i * P, P, &s);
        d[2 * i] = s >= 0 ? hexd(s >> 4) : r[i] == '.' ? 'm' : '.';
        d[2 * i + 1] = s >= 0 ? hexd(s) : r[i] == '.' ? 'x' : '.';
    }
    r[n] = d[2 * n] = 0;
}

static void file_state(char **o, const char *end)
{
    for (int f = 0; f < WD_FILES; f++) {
        struct stat st;
        if (fstat(fd[f], &st) != 0) {
            put(o, end, " f%s:?", "");
            continue;
        }
        long long size = (long long)st.st_size;
        char head[48];
        snprintf(head, sizeof head, " %lld%s", size / (long long)P, size % (long long)P ? "+" : "");
        put(o, end, "%s:", head);
        long long pages = size / (long long)P + (size % (long long)P != 0);
        if (pages > WD_MAXFILEPG + 8)
            pages = WD_MAXFILEPG + 8;
        lseek(fd[f], 0, SEEK_SET);
        for (long long i = 0; i < pages; i++) {
            long got = (long)read(fd[f], wbuf, P);
            int s = got > 0 ? wbuf[0] : -1;
            for (long j = 1; j < got && s >= 0; j++)
                if (wbuf[j] != wbuf[0])
                    s = -1;
            char pg[3] = {s >= 0 ? hexd(s >> 4) : 'm', s >= 0 ? hexd(s) : 'x', 0};
            put(o, end, "%s", pg);
        }
    }
}

static int inside(void *p) { return (unsigned char *)p >= A && (unsigned char *)p < A + WD_ARENA * P; }

static void pointer_result(void *p, char *ret, size_t len)
{
    if (p == MAP_FAILED)
        snprintf(ret, len, "FAILED");
    else if (inside(p))
        snprintf(ret, len, "@%d", (int)(((unsigned char *)p - A) / P));
    else
        snprintf(ret, len, "out");
}

/* A mapping placed by the system: its pages are probed into x, then it is
 * unmapped, so where each system put it does not matter. */
static void probe_and_drop(void *p, int n, char *x, size_t xlen)
{
    char r[WD_ARENA + 16], d[2 * WD_ARENA + 32];
    if (n > WD_ARENA + 15)
        n = WD_ARENA + 15;
    probe_range(p, n, r, d);
    snprintf(x, xlen, "%s %s", r, d);
    munmap(p, (size_t)n * P);
}

static long bad_call(int sub, char *ret, size_t rlen)
{
    void *p = NULL;
    long r = 0;
    int is_map = 0;
    wd_armed = 1;
    switch (sub) {
    case 0: p = mmap(NULL, 0, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0); is_map = 1; break;
    case 1: p = mmap(A + 1, P, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0); is_map = 1; break;
    case 2: p = mmap(NULL, P, PROT_READ | 0x100, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0); is_map = 1; break;
    case 3: p = mmap(NULL, P, PROT_READ, MAP_ANONYMOUS, -1, 0); is_map = 1; break;
    case 4: p = mmap(NULL, P, PROT_READ, MAP_PRIVATE, -1, 0); is_map = 1; break;
    case 5: p = mmap(NULL, P, PROT_READ, MAP_PRIVATE, fd[0], -(off_t)P); is_map = 1; break;
    case 6: p = mmap(NULL, P, PROT_READ, MAP_PRIVATE, fd[0], 1); is_map = 1; break;
    case 7: r = munmap(A + 1, P); break;
    case 8: r = munmap(A, 0); break;
    case 9: r = munmap((void *)((uintptr_t)1 << (sizeof(void *) == 8 ? 47 : 31)), P); break;
    case 10: r = mprotect(A + 1, P, PROT_READ); break;
    case 11: r = mprotect(A, P, PROT_READ | 0x100); break;
    case 12: r = msync(A, P, MS_ASYNC | MS_SYNC); break;
    case 13: r = msync(A + 1, P, MS_ASYNC); break;
    case 14: r = madvise(A, P, 999); break;
    case 15: r = madvise(A, SIZE_MAX, MADV_NORMAL); break;
    case 16: p = mremap(A, P, P, 0x100); is_map = 2; break;
    case 17: p = mremap(A, P, 0, MREMAP_MAYMOVE); is_map = 2; break;
    case 18: p = mremap(A, P, P, MREMAP_FIXED, A + 2 * P); is_map = 2; break;
    case 19: r = mincore(A + 1, P, vec); break;
    case 20: r = mincore(A, P, NULL); break;
    case 21: r = ftruncate(fd[0], (off_t)1 << 62); break;
    case 22: r = ftruncate(fd[0], -1); break;
    case 23: p = mmap(NULL, SIZE_MAX, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0); is_map = 1; break;
    case 24: p = mmap(NULL, P, PROT_READ | PROT_WRITE, MAP_SHARED, fd[3], 0); is_map = 1; break;
    case 25: p = mmap(NULL, P, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | 0x40000000, -1, 0); is_map = 1; break;
    }
    wd_armed = 0;
    int e = errno;
    if (is_map == 1) {
        snprintf(ret, rlen, p == MAP_FAILED ? "FAILED" : "new");
        if (p != MAP_FAILED)
            munmap(p, P); /* an accepted bad call must not change the arena */
    } else if (is_map == 2) {
        pointer_result(p, ret, rlen);
    } else {
        snprintf(ret, rlen, "%ld", r);
    }
    errno = e;
    return 0;
}

/* Runs one operation; its result into ret, extra observations into x. */
static void exec_op(const struct wd_op *op, char *ret, size_t rlen, char *x, size_t xlen)
{
    unsigned char *at = A + (size_t)op->a * P;
    size_t len = (size_t)op->n * P;
    long r = 0;
    void *p;
    x[0] = 0;
    errno = 0;
    switch (op->kind) {
    case WD_MAP: {
        int flags = (op->sh == 1 ? MAP_SHARED : MAP_PRIVATE) | (op->src < 0 ? MAP_ANONYMOUS : 0) |
                    (op->fixed ? MAP_FIXED : 0);
        wd_armed = 1;
        p = mmap(op->fixed ? at : NULL, len, op->prot, flags, op->src < 0 ? -1 : fd[op->src],
                 (off_t)op->off * (off_t)P);
        wd_armed = 0;
        int e = errno;
        if (!op->fixed && p != MAP_FAILED) {
            snprintf(ret, rlen, "new");
            probe_and_drop(p, op->n, x, xlen);
        } else {
            pointer_result(p, ret, rlen);
        }
        errno = e;
        return;
    }
    case WD_REMAP: {
        wd_armed = 1;
        if (op->fl & MREMAP_FIXED)
            p = mremap(at, len, (size_t)op->m * P, op->fl, A + (size_t)op->d * P);
        else
            p = mremap(at, len, (size_t)op->m * P, op->fl);
        wd_armed = 0;
        int e = errno;
        /* Moving without MREMAP_FIXED lets each system choose: in place or
         * elsewhere.  The result is probed and dropped either way. */
        if (p != MAP_FAILED && (op->fl & MREMAP_MAYMOVE) && !(op->fl & MREMAP_FIXED) &&
            (op->m > op->n || (op->fl & MREMAP_DONTUNMAP))) {
            snprintf(ret, rlen, "moved");
            probe_and_drop(p, op->m, x, xlen);
        } else {
            pointer_result(p, ret, rlen);
        }
        errno = e;
        return;
    }
    case WD_UNMAP: wd_armed = 1; r = munmap(at, len); break;
    case WD_PROT: wd_armed = 1; r = mprotect(at, len, op->prot); break;
    case WD_SYNC: wd_armed = 1; r = msync(at, len, op->fl); break;
    case WD_ADV: wd_armed = 1; r = madvise(at, len, op->adv); break;
    case WD_LOCK: wd_armed = 1; r = mlock(at, len); break;
    case WD_UNLOCK: wd_armed = 1; r = munlock(at, len); break;
    case WD_CORE:
        memset(vec, 0xee, sizeof vec);
        wd_armed = 1;
        r = mincore(at, len, vec);
        wd_armed = 0;
        if (r == 0) {
            size_t i;
            for (i = 0; i < (size_t)op->n && i + 1 < xlen; i++)
                x[i] = (char)('0' + (vec[i] & 1));
            x[i] = 0;
        }
        break;
    case WD_TRUNC: wd_armed = 1; r = ftruncate(fd[op->src], (off_t)op->n * (off_t)P); break;
    case WD_WRITE: {
        size_t wl = (size_t)op->n * P;
        memset(wbuf, op->v, wl);
        lseek(fd[op->src], (off_t)op->off * (off_t)P, SEEK_SET);
        wd_armed = 1;
        r = (long)write(fd[op->src], wbuf, (unsigned)wl);
        wd_armed = 0;
        if (r > 0)
            r /= (long)P;
        break;
    }
    case WD_POKE: {
        int i;
        for (i = 0; i < op->n && i + 1 < (int)xlen; i++)
            x[i] = wd_probe_write(at + (size_t)i * P, P, op->v);
        x[i] = 0;
        break;
    }
    case WD_BAD: r = bad_call(op->sub, ret, rlen); return;
    }
    wd_armed = 0;
    int e = errno;
    snprintf(ret, rlen, "%ld", r);
    errno = e;
}

int wd_run(const struct wd_op *ops, int count, int wprobe, FILE *out, const char *tag)
{
    static char line[4096], ret[32], x[512], text[160], r[WD_ARENA + 1], d[2 * WD_ARENA + 1];
    for (int f = 0; f < WD_FILES; f++)
        if (ftruncate(fd[f], 0) != 0) {
            /* Nothing is mapped, yet the file cannot be emptied (a leaked
             * view or section): say so, and go on with new files. */
            fprintf(out, "%s STALE f%d ftruncate 0 fails: %s\n", tag, f, wd_errno_name(errno));
            wd_teardown();
            open_files();
            break;
        }
    /* The thread's signal state is allocated once, on its first use (the
     * first fault); use it before counting, so it is not taken for a leak. */
    sigset_t mask;
    sigprocmask(SIG_BLOCK, NULL, &mask);
    long h0 = wd_handles();
    long long heap0 = wd_heap();
    A = mmap(NULL, WD_ARENA * P, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (A == MAP_FAILED) {
        fprintf(out, "%s SETUP arena mmap failed\n", tag);
        return 2;
    }
    for (volatile int i = 0; i < count; i++) {
        wd_op_text(&ops[i], text, sizeof text);
        int sig = sigsetjmp(wd_cenv, 1);
        if (sig) {
            /* The library raised a signal inside a call (Linux returns an
             * error instead); its lock may be held, so the run ends here. */
            fprintf(out, "%s %d %s | SIGNAL-IN-CALL %s\n", tag, (int)i, text,
                    sig == SIGBUS ? "SIGBUS" : "SIGSEGV");
            fflush(out);
            return 3;
        }
        exec_op(&ops[i], ret, sizeof ret, x, sizeof x);
        int e = errno;
        if (ret[0] != '-' && strcmp(ret, "FAILED"))
            e = 0; /* errno is meaningful only after a failure */
        char *o = line, *end = line + sizeof line;
        o += snprintf(o, sizeof line, "%s %d %s | ret=%s %s |", tag, (int)i, text, ret, wd_errno_name(e));
        probe_range(A, WD_ARENA, r, d);
        put(&o, end, " R=%s |", r);
        put(&o, end, " D=%s |", d);
        put(&o, end, " F=%s", "");
        file_state(&o, end);
        if (x[0])
            put(&o, end, " | %s=", ops[i].kind == WD_CORE ? "C" : ops[i].kind == WD_POKE ? "W1" : "X");
        if (x[0])
            put(&o, end, "%s", x);
        if (wprobe) {
            for (int k = 0; k < WD_ARENA; k++)
                r[k] = wd_probe_write(A + (size_t)k * P, P, -1);
            put(&o, end, " | W=%s", r);
        }
        fprintf(out, "%s\n", line);
        fflush(out);
    }
    munmap(A, WD_ARENA * P);
    long h1 = wd_handles();
    long long heap1 = wd_heap();
    fprintf(out, "%s END ops=%d handles=%+ld heap=%+lld regions=%lu\n", tag, count,
            h0 < 0 ? 0 : h1 - h0, heap0 < 0 ? 0 : heap1 - heap0, (unsigned long)winmmap_region_count());
    fflush(out);
    return 0;
}
