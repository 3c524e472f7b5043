/* Mapped files that change size: growth seen through existing mappings,
 * truncation while mapped, SIGBUS past the new end. */
#define _GNU_SOURCE
#include "wmtest.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#define RW (PROT_READ | PROT_WRITE)

#ifndef O_BINARY
#define O_BINARY 0
#endif

#if WMT_HAVE_SIGNALS
static sigjmp_buf jump;
static volatile int bus_hits;

static void on_bus(int sig, siginfo_t *si, void *uc)
{
    (void)si, (void)uc;
    bus_hits += sig == SIGBUS;
    siglongjmp(jump, 1);
}

/* Whether reading *p raises SIGBUS. */
static int sigbus_on_read(volatile unsigned char *p)
{
    struct sigaction sa, old;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_bus;
    sa.sa_flags = SA_SIGINFO;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGBUS, &sa, &old);
    int hit = 0;
    if (sigsetjmp(jump, 1) == 0)
        (void)*p;
    else
        hit = 1;
    sigaction(SIGBUS, &old, NULL);
    return hit;
}
#else
/* Only reached by tests that are skipped without signals (wmt_needs_signals). */
static int sigbus_on_read(volatile unsigned char *p)
{
    (void)p;
    WMT_LACKS("sigaction");
    return -1;
}
#endif
#if !WMT_HAVE_SHM_OPEN || !WMT_HAVE_SHM_UNLINK
/* Only reached by a test that is skipped without them (wmt_needs_shm). */
#define shm_open wmt_no_shm_open
#define shm_unlink wmt_no_shm_unlink
static int shm_open(const char *name, int oflag, int mode)
{
    (void)name, (void)oflag, (void)mode;
    WMT_LACKS("shm_open");
    return -1;
}

static int shm_unlink(const char *name)
{
    (void)name;
    WMT_LACKS("shm_unlink");
    return -1;
}
#endif

void test_truncate__ftruncate_growth_shows_in_a_longer_mapping(void)
{
    size_t pg = wmt_page();
    int fd = wmt_temp_file(pg, 1, O_RDWR, NULL, 0);
    WMT_REQUIRE(fd >= 0);
    unsigned char *p = mmap(NULL, 3 * pg, RW, MAP_SHARED, fd, 0);
    WMT_REQUIRE(p != MAP_FAILED);
    WMT_TRUE(sigbus_on_read(p + 2 * pg));
    WMT_EQ(ftruncate(fd, (off_t)(3 * pg)), 0);
    WMT_TRUE(!sigbus_on_read(p + 2 * pg));
    WMT_EQ(p[2 * pg + 5], 0);
    p[2 * pg + 5] = 0x6b;
    unsigned char c;
    WMT_EQ(wmt_pread(fd, &c, 1, 2 * (long long)pg + 5), 1);
    WMT_EQ(c, 0x6b);
    WMT_TRUE(wmt_has_pattern(p, pg, 0, 1));
    WMT_AUDIT();
    munmap(p, 3 * pg);
    close(fd);
}

/* The file grows through another descriptor after the mapping's own was
 * closed: the pages it now covers are mapped when touched. */
void test_truncate__growth_after_the_descriptor_is_closed_shows_in_the_mapping(void)
{
    size_t pg = wmt_page();
    char path[256];
    int fd = wmt_temp_file(pg, 1, O_RDWR, path, sizeof path);
    WMT_REQUIRE(fd >= 0);
    unsigned char *p = mmap(NULL, 3 * pg, RW, MAP_SHARED, fd, 0);
    WMT_REQUIRE(p != MAP_FAILED);
    close(fd);
    WMT_TRUE(sigbus_on_read(p + 2 * pg));
    int again = open(path, O_RDWR | O_BINARY);
    WMT_REQUIRE(again >= 0);
    WMT_EQ(ftruncate(again, (off_t)(3 * pg)), 0);
    close(again);
    WMT_TRUE(!sigbus_on_read(p + 2 * pg));
    p[2 * pg + 5] = 0x6b;
    WMT_EQ(msync(p, 3 * pg, MS_SYNC), 0);
    again = open(path, O_RDONLY | O_BINARY);
    WMT_REQUIRE(again >= 0);
    unsigned char c = 0;
    WMT_EQ(wmt_pread(again, &c, 1, 2 * (long long)pg + 5), 1);
    WMT_EQ(c, 0x6b);
    close(again);
    WMT_TRUE(wmt_has_pattern(p, pg, 0, 1));
    WMT_AUDIT();
    munmap(p, 3 * pg);
}

void test_truncate__write_growth_shows_in_a_longer_mapping(void)
{
    size_t pg = wmt_page();
    int fd = wmt_temp_file(pg, 2, O_RDWR, NULL, 0);
    WMT_REQUIRE(fd >= 0);
    unsigned char *p = mmap(NULL, 3 * pg, PROT_READ, MAP_SHARED, fd, 0);
    WMT_REQUIRE(p != MAP_FAILED);
    WMT_EQ(wmt_pwrite(fd, "grown", 5, 2 * (long long)pg + 10), 5);
    WMT_TRUE(!sigbus_on_read(p + 2 * pg + 10));
    WMT_TRUE(memcmp(p + 2 * pg + 10, "grown", 5) == 0);
    WMT_EQ(p[pg + 3], 0); /* the hole the write left reads zeros */
    WMT_AUDIT();
    munmap(p, 3 * pg);
    close(fd);
}

void test_truncate__shrink_while_mapped_keeps_data_before_the_new_end(void)
{
    size_t pg = wmt_page();
    int fd = wmt_temp_file(4 * pg, 3, O_RDWR, NULL, 0);
    WMT_REQUIRE(fd >= 0);
    unsigned char *s = mmap(NULL, 4 * pg, RW, MAP_SHARED, fd, 0);
    unsigned char *q = mmap(NULL, 4 * pg, RW, MAP_PRIVATE, fd, 0);
    WMT_REQUIRE(s != MAP_FAILED && q != MAP_FAILED);
    s[10] = 0x11;
    q[20] = 0x22; /* a private page */
    size_t end = pg + pg / 2 + 100;
    WMT_EQ(ftruncate(fd, (off_t)end), 0);
    WMT_EQ(wmt_file_size(fd), end);
    WMT_EQ(s[10], 0x11);
    WMT_TRUE(wmt_has_pattern(s + 11, end - 11, 11, 3));
    WMT_EQ(q[20], 0x22);
    WMT_EQ(s[end], 0); /* the partial last page reads zeros past the end */
    WMT_TRUE(sigbus_on_read(s + 3 * pg));
    /* (q's written view was copied before the truncation, so its pages past
     * the new end stay readable on Windows; Linux raises SIGBUS there too.
     * See README, known limits.) */
    s[pg] = 0x33; /* still shared with the file */
    unsigned char c;
    WMT_EQ(wmt_pread(fd, &c, 1, (long long)pg), 1);
    WMT_EQ(c, 0x33);
    WMT_AUDIT();
    munmap(s, 4 * pg);
    munmap(q, 4 * pg);
    close(fd);
}

void test_truncate__shrink_to_zero_then_grow_again(void)
{
    size_t pg = wmt_page();
    int fd = wmt_temp_file(2 * pg, 4, O_RDWR, NULL, 0);
    WMT_REQUIRE(fd >= 0);
    unsigned char *p = mmap(NULL, 2 * pg, RW, MAP_SHARED, fd, 0);
    WMT_REQUIRE(p != MAP_FAILED);
    WMT_EQ(ftruncate(fd, 0), 0);
    WMT_TRUE(sigbus_on_read(p));
    WMT_EQ(ftruncate(fd, (off_t)(2 * pg)), 0);
    WMT_TRUE(!sigbus_on_read(p + pg));
    WMT_EQ(p[0], 0);
    WMT_EQ(p[pg], 0);
    WMT_AUDIT();
    munmap(p, 2 * pg);
    close(fd);
}

void test_truncate__bad_arguments(void)
{
    int fd = wmt_temp_file(100, 5, O_RDONLY, NULL, 0);
    WMT_REQUIRE(fd >= 0);
    WMT_ERRNO(ftruncate(fd, 10), -1, EINVAL); /* not open for writing */
    WMT_ERRNO(ftruncate(fd, -1), -1, EINVAL);
    close(fd);
    WMT_ERRNO(ftruncate(fd, 10), -1, EBADF);
}

void test_truncate__descriptor_not_open_for_writing_einval(void)
{
    size_t pg = wmt_page();
    char path[260];
    int fd = wmt_temp_file(2 * pg, 6, O_RDWR, path, sizeof path);
    WMT_REQUIRE(fd >= 0);
    unsigned char *p = mmap(NULL, 2 * pg, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    WMT_REQUIRE(p != MAP_FAILED);
    int ro = open(path, O_RDONLY | O_BINARY);
    WMT_REQUIRE(ro >= 0);
    WMT_ERRNO(ftruncate(ro, (off_t)pg), -1, EINVAL);
    WMT_EQ(wmt_file_size(fd), (long long)(2 * pg));
    p[2 * pg - 1] = 1; /* the mapping is untouched */
    WMT_AUDIT();
    close(ro);
    const char *n = "/wmt-truncate-ro";
    int w = shm_open(n, O_RDWR | O_CREAT, 0600);
    int r = shm_open(n, O_RDONLY, 0);
    WMT_REQUIRE(w >= 0 && r >= 0);
    WMT_ERRNO(ftruncate(r, 100), -1, EINVAL);
    WMT_EQ(ftruncate(w, 100), 0);
    close(r);
    close(w);
    shm_unlink(n);
    munmap(p, 2 * pg);
    close(fd);
}

void test_truncate__after_partial_mprotect_munmap_and_fixed_maps_never_ebusy(void)
{
    /* A sequence found by random testing (in pages of an arena). */
    size_t pg = wmt_page();
    int fd = wmt_temp_file(4 * pg, 8, O_RDWR, NULL, 0);
    WMT_REQUIRE(fd >= 0);
    unsigned char *a = mmap(NULL, 64 * pg, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    WMT_REQUIRE(a != MAP_FAILED);
    WMT_REQUIRE(mmap(a + 56 * pg, 4 * pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_FIXED, fd,
                     (off_t)(2 * pg)) == a + 56 * pg);
    WMT_EQ(mprotect(a + 60 * pg, pg, PROT_READ), 0);
    WMT_EQ(mprotect(a + 55 * pg, 4 * pg, PROT_READ), 0);
    WMT_EQ(munmap(a + 39 * pg, 20 * pg), 0);
    WMT_REQUIRE(mmap(a + 58 * pg, 5 * pg, PROT_NONE, MAP_PRIVATE | MAP_FIXED, fd, (off_t)(4 * pg)) ==
                a + 58 * pg);
    WMT_EQ(ftruncate(fd, (off_t)pg), 0);
    WMT_EQ(wmt_file_size(fd), (long long)pg);
    WMT_AUDIT();
    munmap(a, 64 * pg);
    close(fd);
}

void test_truncate__shrink_back_after_write_growth_never_ebusy(void)
{
    /* Found by random testing: the file grows by write() past what its
     * mappings were made from, then shrinks back to a size they still cover. */
    size_t pg = wmt_page();
    static unsigned char two[2 * 65536];
    memset(two, 0x5a, sizeof two);
    for (int type = 0; type < 2; type++) {
        int fd = wmt_temp_file(3 * pg, 10, O_RDWR, NULL, 0);
        WMT_REQUIRE(fd >= 0);
        unsigned char *p = mmap(NULL, 9 * pg, PROT_READ | PROT_WRITE, type ? MAP_SHARED : MAP_PRIVATE, fd,
                                (off_t)(2 * pg));
        WMT_REQUIRE(p != MAP_FAILED);
        WMT_EQ(wmt_pwrite(fd, two, 2 * pg, 6 * (long long)pg), (long)(2 * pg));
        WMT_EQ(p[5 * pg], 0x5a); /* file page 7, grown into the mapping */
        WMT_EQ(ftruncate(fd, (off_t)(3 * pg)), 0);
        WMT_EQ(wmt_file_size(fd), (long long)(3 * pg));
        WMT_EQ(p[0], wmt_pattern(2 * pg, 10)); /* the page the file still has */
        WMT_AUDIT();
        munmap(p, 9 * pg);
        close(fd);
    }
}

void test_truncate__length_past_the_largest_file_efbig(void)
{
    int fd = wmt_temp_file(100, 9, O_RDWR, NULL, 0);
    WMT_REQUIRE(fd >= 0);
    WMT_ERRNO(ftruncate(fd, (off_t)1 << 62), -1, EFBIG);
    WMT_EQ(wmt_file_size(fd), 100);
    close(fd);
}

struct mapper {
    int fd;
    _Atomic int stop;
    long failures;
};

static void *map_and_unmap(void *arg)
{
    struct mapper *m = arg;
    size_t pg = wmt_page();
    while (!atomic_load(&m->stop)) {
        unsigned char *p = mmap(NULL, pg, PROT_READ | PROT_WRITE, MAP_SHARED, m->fd, 0);
        if (p == MAP_FAILED) {
            m->failures++;
            continue;
        }
        p[1]++;
        m->failures += munmap(p, pg) != 0;
    }
    return NULL;
}

void test_truncate__never_ebusy_while_another_thread_maps_and_unmaps(void)
{
    /* The section a munmap lets go of is closed after the engine lock is
     * released; an ftruncate at that moment must still shrink the file. */
    size_t pg = wmt_page();
    struct mapper m = {wmt_temp_file(pg, 11, O_RDWR, NULL, 0), 0, 0};
    WMT_REQUIRE(m.fd >= 0);
    pthread_t t;
    WMT_REQUIRE(pthread_create(&t, NULL, map_and_unmap, &m) == 0);
    int failed = 0, first_errno = 0;
    for (int i = 0; i < 300; i++) {
        for (int k = 2; k >= 1; k--) {
            if (ftruncate(m.fd, (off_t)(k * pg)) != 0 && !failed++)
                first_errno = errno;
        }
    }
    atomic_store(&m.stop, 1);
    pthread_join(t, NULL);
    WMT_EQ(failed, 0);
    WMT_EQ(first_errno, 0);
    WMT_EQ(m.failures, 0);
    WMT_EQ(wmt_file_size(m.fd), (long long)pg);
    WMT_AUDIT();
    close(m.fd);
}
