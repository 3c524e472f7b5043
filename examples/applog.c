/* A memory-mapped append-only log: records are written through a MAP_SHARED
 * mapping of the file and made durable with msync(MS_SYNC) before append
 * returns; after a crash, opening the log keeps every complete record and
 * discards a torn one.  Plain POSIX code (open, ftruncate, mmap, msync,
 * munmap), with the one change a Windows port needs at the fork site; builds
 * unchanged on Linux and, with winmmap, on Windows.
 *
 *   applog FILE              the crash test: appends, lets a writer process
 *                            crash in the middle of a record, recovers,
 *                            appends again; prints "applog: ok" on success
 *
 * File layout: an 8-byte magic, then records [u32 length][u32 crc32][bytes],
 * each padded to 8 bytes.  A length of 0 ends the log (the file grows in
 * zero-filled chunks); the first record whose checksum fails ends it too. */
#define _DEFAULT_SOURCE /* MAP_ANONYMOUS, ftruncate under -std=c11 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <winmmap.h>

#define MAGIC "APPLOG1"
#define HEAD 8
#define CHUNK (256 * 1024)

struct applog {
    int fd;
    unsigned char *base;
    size_t size; /* mapped = file size */
    size_t end;  /* where the next record goes */
    size_t records;
};

static uint32_t crc32(const unsigned char *p, size_t n)
{
    uint32_t c = 0xffffffffu;
    while (n--) {
        c ^= *p++;
        for (int k = 0; k < 8; k++)
            c = (c >> 1) ^ (0xedb88320u & (0u - (c & 1)));
    }
    return ~c;
}

static size_t padded(size_t n)
{
    return (8 + n + 7) & ~(size_t)7;
}

static uint32_t get32(const unsigned char *p)
{
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}

static void put32(unsigned char *p, uint32_t v)
{
    memcpy(p, &v, 4);
}

/* Map the whole file (size bytes), replacing the old mapping. */
static int remap(struct applog *log, size_t size)
{
    if (log->base && munmap(log->base, log->size) != 0)
        return -1;
    log->base = NULL;
    if (ftruncate(log->fd, (off_t)size) != 0)
        return -1;
    void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, log->fd, 0);
    if (p == MAP_FAILED)
        return -1;
    log->base = p;
    log->size = size;
    return 0;
}

/* Open (creating) the log and recover it: find the end of the complete
 * records and clear whatever a crash left after it. */
static int applog_open(struct applog *log, const char *path, size_t *discarded)
{
    memset(log, 0, sizeof *log);
    log->fd = open(path, O_RDWR | O_CREAT, 0644);
    if (log->fd < 0)
        return -1;
    struct stat st;
    if (fstat(log->fd, &st) != 0)
        return -1;
    size_t size = (size_t)st.st_size;
    if (remap(log, size < CHUNK ? CHUNK : size) != 0)
        return -1;
    if (size == 0) {
        memcpy(log->base, MAGIC, HEAD);
    } else if (memcmp(log->base, MAGIC, HEAD) != 0) {
        errno = EINVAL;
        return -1;
    }
    size_t at = HEAD;
    for (;;) {
        if (at + 8 > log->size)
            break;
        uint32_t len = get32(log->base + at);
        if (len == 0 || padded(len) > log->size - at ||
            crc32(log->base + at + 8, len) != get32(log->base + at + 4))
            break;
        at += padded(len);
        log->records++;
    }
    /* A torn record (and anything after it) is cleared, durably, so that a
     * later append cannot make it look complete. */
    size_t torn = log->size - at;
    while (torn && !log->base[at + torn - 1])
        torn--;
    *discarded = torn;
    if (torn) {
        memset(log->base + at, 0, log->size - at);
        if (msync(log->base, log->size, MS_SYNC) != 0)
            return -1;
    }
    log->end = at;
    return 0;
}

/* Append one record; it is on disk when this returns 0. */
static int applog_append(struct applog *log, const void *data, uint32_t len)
{
    if (log->end + padded(len) + 8 > log->size &&
        remap(log, (log->end + padded(len) + 8 + CHUNK) / CHUNK * CHUNK) != 0)
        return -1;
    unsigned char *r = log->base + log->end;
    memcpy(r + 8, data, len);
    put32(r + 4, crc32(r + 8, len));
    put32(r, len);
    /* msync wants a page-aligned start. */
    long page = sysconf(_SC_PAGESIZE);
    size_t from = log->end / (size_t)page * (size_t)page;
    if (msync(log->base + from, log->end + padded(len) - from, MS_SYNC) != 0)
        return -1;
    log->end += padded(len);
    log->records++;
    return 0;
}

static int applog_close(struct applog *log)
{
    int rc = munmap(log->base, log->size);
    return close(log->fd) || rc ? -1 : 0;
}

/* Record i's bytes: its number and a length that varies with it. */
static uint32_t make_record(size_t i, char *buf)
{
    int n = snprintf(buf, 200, "record %zu ", i);
    for (size_t k = 0; k < i % 90; k++)
        buf[n++] = (char)('a' + (i + k) % 26);
    return (uint32_t)n;
}

/* Every record must be the one append wrote, in order. */
static int verify(const struct applog *log)
{
    char want[200];
    size_t at = HEAD;
    for (size_t i = 0; i < log->records; i++) {
        uint32_t len = get32(log->base + at), n = make_record(i, want);
        if (len != n || memcmp(log->base + at + 8, want, n) != 0) {
            printf("applog: record %zu differs\n", i);
            return -1;
        }
        at += padded(len);
    }
    return 0;
}

struct writer {
    char path[512];
    size_t first, count;
};

/* The writer that crashes: appends its records, then dies in the middle of
 * writing the next one (its length, checksum and half its bytes written). */
static int crashing_writer(void *arg)
{
    const struct writer *w = arg;
    struct applog log;
    size_t discarded;
    char buf[200];
    if (applog_open(&log, w->path, &discarded) != 0 || log.records != w->first)
        return 1;
    for (size_t i = w->first; i < w->first + w->count; i++)
        if (applog_append(&log, buf, make_record(i, buf)) != 0)
            return 2;
    uint32_t len = make_record(w->first + w->count, buf);
    unsigned char *r = log.base + log.end;
    put32(r, len);
    put32(r + 4, crc32((unsigned char *)buf, len));
    memcpy(r + 8, buf, len / 2);
    volatile int *volatile nowhere = NULL;
    *nowhere = 1; /* the crash: SIGSEGV */
    return 3;
}

#define CHECK(c)                                                                                   \
    do {                                                                                           \
        if (!(c)) {                                                                                \
            printf("applog: failed: %s (line %d, errno %d)\n", #c, __LINE__, errno);               \
            return 1;                                                                              \
        }                                                                                          \
    } while (0)

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: applog FILE\n");
        return 2;
    }
    struct writer w = {.first = 1000, .count = 300};
    snprintf(w.path, sizeof w.path, "%s", argv[1]);
    unlink(w.path);
    struct applog log;
    size_t discarded;
    char buf[200];

    CHECK(applog_open(&log, w.path, &discarded) == 0 && log.records == 0);
    for (size_t i = 0; i < w.first; i++)
        CHECK(applog_append(&log, buf, make_record(i, buf)) == 0);
    CHECK(applog_close(&log) == 0);

    /* POSIX: pid_t pid = fork(); if (pid == 0) _exit(crashing_writer(&w)); */
    pid_t pid = winmmap_fork_call(crashing_writer, &w, sizeof w);
    CHECK(pid > 0);
    int status;
    CHECK(waitpid(pid, &status, 0) == pid);
    if (!WIFSIGNALED(status))
        printf("applog: the writer exited with %d instead of crashing\n", WEXITSTATUS(status));
    CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGSEGV);

    CHECK(applog_open(&log, w.path, &discarded) == 0);
    printf("applog: recovered %zu records after the writer's crash; torn record of %zu bytes "
           "discarded\n",
           log.records, discarded);
    CHECK(log.records == w.first + w.count && discarded > 0);
    CHECK(verify(&log) == 0);
    size_t total = w.first + w.count + 200;
    for (size_t i = log.records; i < total; i++)
        CHECK(applog_append(&log, buf, make_record(i, buf)) == 0);
    CHECK(applog_close(&log) == 0);

    CHECK(applog_open(&log, w.path, &discarded) == 0);
    CHECK(log.records == total && discarded == 0);
    CHECK(verify(&log) == 0);
    printf("applog: %zu records after reopening, file %zu bytes\n", log.records, log.size);
    CHECK(applog_close(&log) == 0);
    unlink(w.path);
    printf("applog: ok\n");
    return 0;
}
