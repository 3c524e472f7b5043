/* madvise and posix_madvise. */
#define _GNU_SOURCE
#include "wmtest.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <sys/mman.h>
#include <unistd.h>

#if defined(_WIN32) && WMT_HAVE_HOOKS
#include "win32/internal.h"
#endif

#define RW (PROT_READ | PROT_WRITE)

static int all_bytes(const unsigned char *p, size_t n, unsigned char v)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] != v)
            return 0;
    return 1;
}

void test_madvise__dontneed_private_anonymous_reads_zeros(void)
{
    size_t pg = wmt_page();
    unsigned char *p = mmap(NULL, 3 * pg, RW, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    WMT_REQUIRE(p != MAP_FAILED);
    memset(p, 0x77, 3 * pg);
    WMT_EQ(mprotect(p + 2 * pg, pg, PROT_READ), 0);
    WMT_EQ(madvise(p + pg, 2 * pg, MADV_DONTNEED), 0);
    WMT_TRUE(all_bytes(p, pg, 0x77));
    WMT_TRUE(all_bytes(p + pg, 2 * pg, 0));
    p[pg] = 1; /* the page keeps its protection: still writable */
    WMT_AUDIT();
    munmap(p, 3 * pg);
}

void test_madvise__dontneed_private_file_reverts_to_the_file(void)
{
    size_t pg = wmt_page();
    int fd = wmt_temp_file(2 * pg + 100, 9, O_RDWR, NULL, 0);
    WMT_REQUIRE(fd >= 0);
    unsigned char *p = mmap(NULL, 3 * pg, RW, MAP_PRIVATE, fd, 0);
    WMT_REQUIRE(p != MAP_FAILED);
    memset(p, 0x11, 2 * pg + 100);
    WMT_EQ(madvise(p, 3 * pg, MADV_DONTNEED), 0);
    WMT_TRUE(wmt_has_pattern(p, 2 * pg + 100, 0, 9));
    WMT_EQ(p[2 * pg + 100], 0); /* past EOF on the partial last page */
    WMT_AUDIT();
    munmap(p, 3 * pg);
    close(fd);
}

void test_madvise__dontneed_after_split_still_reverts_to_the_file(void)
{
    size_t pg = wmt_page();
    int fd = wmt_temp_file(4 * pg, 10, O_RDWR, NULL, 0);
    WMT_REQUIRE(fd >= 0);
    unsigned char *p = mmap(NULL, 4 * pg, RW, MAP_PRIVATE, fd, 0);
    WMT_REQUIRE(p != MAP_FAILED);
    memset(p, 0x22, 4 * pg);
    WMT_REQUIRE(munmap(p + pg, pg) == 0); /* the written view is split */
    WMT_EQ(madvise(p + 2 * pg, 2 * pg, MADV_DONTNEED), 0);
    WMT_TRUE(all_bytes(p, pg, 0x22));
    WMT_TRUE(wmt_has_pattern(p + 2 * pg, 2 * pg, 2 * pg, 10));
    WMT_AUDIT();
    munmap(p, 4 * pg);
    close(fd);
}

void test_madvise__dontneed_shared_keeps_data(void)
{
    size_t pg = wmt_page();
    int fd = wmt_temp_file(pg, 11, O_RDWR, NULL, 0);
    WMT_REQUIRE(fd >= 0);
    unsigned char *f = mmap(NULL, pg, RW, MAP_SHARED, fd, 0);
    unsigned char *a = mmap(NULL, pg, RW, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    WMT_REQUIRE(f != MAP_FAILED && a != MAP_FAILED);
    f[5] = 0x99;
    memset(a, 0x44, pg);
    WMT_EQ(madvise(f, pg, MADV_DONTNEED), 0);
    WMT_EQ(madvise(a, pg, MADV_DONTNEED), 0);
    WMT_EQ(f[5], 0x99);
    WMT_TRUE(all_bytes(a, pg, 0x44));
    munmap(f, pg);
    munmap(a, pg);
    close(fd);
}

void test_madvise__access_pattern_advice_keeps_data(void)
{
    size_t pg = wmt_page();
    int fd = wmt_temp_file(4 * pg, 12, O_RDWR, NULL, 0);
    WMT_REQUIRE(fd >= 0);
    unsigned char *p = mmap(NULL, 4 * pg, PROT_READ, MAP_SHARED, fd, 0);
    WMT_REQUIRE(p != MAP_FAILED);
    WMT_EQ(madvise(p, pg, MADV_SEQUENTIAL), 0);
    WMT_EQ(madvise(p + pg, 2 * pg, MADV_RANDOM), 0);
    WMT_EQ(madvise(p, 4 * pg, MADV_WILLNEED), 0);
    WMT_AUDIT();
    WMT_EQ(madvise(p, 4 * pg, MADV_NORMAL), 0);
    WMT_TRUE(wmt_has_pattern(p, 4 * pg, 0, 12));
    WMT_AUDIT();
    munmap(p, 4 * pg);
    close(fd);
}

void test_madvise__unknown_advice_einval(void)
{
    size_t pg = wmt_page();
    unsigned char *p = mmap(NULL, pg, RW, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    WMT_REQUIRE(p != MAP_FAILED);
    WMT_ERRNO(madvise(p, pg, 999), -1, EINVAL);
    WMT_ERRNO(madvise(p, pg, -1), -1, EINVAL);
    munmap(p, pg);
}

void test_madvise__unaligned_address_einval(void)
{
    size_t pg = wmt_page();
    unsigned char *p = mmap(NULL, pg, RW, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    WMT_REQUIRE(p != MAP_FAILED);
    WMT_ERRNO(madvise(p + 1, 10, MADV_NORMAL), -1, EINVAL);
    munmap(p, pg);
}

void test_madvise__unmapped_pages_enomem(void)
{
    size_t pg = wmt_page();
    unsigned char *p = mmap(NULL, 3 * pg, RW, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    WMT_REQUIRE(p != MAP_FAILED);
    memset(p, 0x66, 3 * pg);
    WMT_REQUIRE(munmap(p + pg, pg) == 0);
    WMT_ERRNO(madvise(p + pg, pg, MADV_WILLNEED), -1, ENOMEM);
    munmap(p, 3 * pg);
}

/* The fork flags of the page at p: 1 DONTFORK, 2 WIPEONFORK (Linux: the
 * "dc" and "wf" VmFlags of /proc/self/smaps; Windows: the region table). */
static int fork_flags(const void *p)
{
#if defined(_WIN32) && WMT_HAVE_HOOKS
    struct wm_region *r = wm_region_find(&wm_engine.regions, (uintptr_t)p);
    if (!r)
        return -1;
    return ((r->flags & WM_R_DONTFORK) ? 1 : 0) | ((r->flags & WM_R_WIPEONFORK) ? 2 : 0);
#elif defined(_WIN32)
    (void)p;
    WMT_LACKS("winmmap's region table");
    return -1;
#else
    FILE *f = fopen("/proc/self/smaps", "r");
    if (!f)
        return -1;
    char line[512];
    int inside = 0, flags = -1;
    while (fgets(line, sizeof line, f)) {
        unsigned long lo, hi;
        if (sscanf(line, "%lx-%lx ", &lo, &hi) == 2 && strchr(line, '-') < strchr(line, ' '))
            inside = (uintptr_t)p >= lo && (uintptr_t)p < hi;
        else if (inside && strncmp(line, "VmFlags:", 8) == 0) {
            flags = (strstr(line, " dc") ? 1 : 0) | (strstr(line, " wf") ? 2 : 0);
            break;
        }
    }
    fclose(f);
    return flags;
#endif
}

void test_madvise__fork_advice_recorded(void)
{
    size_t pg = wmt_page();
    int fd = wmt_temp_file(pg, 13, O_RDWR, NULL, 0);
    WMT_REQUIRE(fd >= 0);
    unsigned char *a = mmap(NULL, 2 * pg, RW, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    unsigned char *f = mmap(NULL, pg, RW, MAP_PRIVATE, fd, 0);
    WMT_REQUIRE(a != MAP_FAILED && f != MAP_FAILED);
    a[0] = 5;
    WMT_EQ(fork_flags(a), 0);
    WMT_EQ(madvise(a, pg, MADV_DONTFORK), 0);
    WMT_EQ(fork_flags(a), 1);
    WMT_EQ(fork_flags(a + pg), 0);
    WMT_EQ(madvise(a, pg, MADV_DOFORK), 0);
    WMT_EQ(fork_flags(a), 0);
    WMT_EQ(madvise(a + pg, pg, MADV_WIPEONFORK), 0);
    WMT_EQ(fork_flags(a + pg), 2);
    WMT_EQ(madvise(a + pg, pg, MADV_KEEPONFORK), 0);
    WMT_EQ(fork_flags(a + pg), 0);
    WMT_EQ(madvise(f, pg, MADV_DONTFORK), 0);
    WMT_EQ(fork_flags(f), 1);
    /* Linux: wipe-on-fork is for private anonymous memory only. */
    WMT_ERRNO(madvise(f, pg, MADV_WIPEONFORK), -1, EINVAL);
    WMT_EQ(fork_flags(f), 1);
    WMT_EQ(a[0], 5);
    WMT_AUDIT();
    munmap(a, 2 * pg);
    munmap(f, pg);
    close(fd);
}

void test_madvise__free_on_private_anonymous_only(void)
{
    size_t pg = wmt_page();
    int fd = wmt_temp_file(pg, 14, O_RDWR, NULL, 0);
    WMT_REQUIRE(fd >= 0);
    unsigned char *a = mmap(NULL, pg, RW, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    unsigned char *f = mmap(NULL, pg, RW, MAP_SHARED, fd, 0);
    WMT_REQUIRE(a != MAP_FAILED && f != MAP_FAILED);
    a[0] = 3;
    WMT_EQ(madvise(a, pg, MADV_FREE), 0);
    WMT_TRUE(a[0] == 3 || a[0] == 0); /* freed lazily: either is allowed */
    WMT_ERRNO(madvise(f, pg, MADV_FREE), -1, EINVAL);
    munmap(a, pg);
    munmap(f, pg);
    close(fd);
}

void test_madvise__dontneed_on_locked_pages_einval(void)
{
    size_t pg = wmt_page();
    unsigned char *p = mmap(NULL, pg, RW, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    WMT_REQUIRE(p != MAP_FAILED);
    p[0] = 8;
#if !WMT_HAVE_MLOCK || !WMT_HAVE_MUNLOCK
    WMT_LACKS("mlock");
#else
    WMT_REQUIRE(mlock(p, pg) == 0);
    WMT_ERRNO(madvise(p, pg, MADV_DONTNEED), -1, EINVAL);
    WMT_EQ(p[0], 8);
    munlock(p, pg);
#endif
    munmap(p, pg);
}

#if !WMT_HAVE_POSIX_MADVISE
/* Only reached by tests that are skipped without it (wmt_needs_posix_madvise). */
#define posix_madvise wmt_no_posix_madvise
static int posix_madvise(void *p, size_t len, int advice)
{
    (void)p, (void)len, (void)advice;
    WMT_LACKS("posix_madvise");
    return EINVAL;
}
#endif

void test_posix_madvise__returns_an_error_number_not_errno(void)
{
    size_t pg = wmt_page();
    unsigned char *p = mmap(NULL, 2 * pg, RW, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    WMT_REQUIRE(p != MAP_FAILED);
    errno = 0;
    WMT_EQ(posix_madvise(p + 1, pg, POSIX_MADV_NORMAL), EINVAL);
    WMT_EQ(posix_madvise(p, pg, 99), EINVAL);
    WMT_EQ(errno, 0);
    WMT_REQUIRE(munmap(p + pg, pg) == 0);
    WMT_EQ(posix_madvise(p, 2 * pg, POSIX_MADV_WILLNEED), ENOMEM);
    WMT_EQ(errno, 0);
    munmap(p, pg);
}

void test_posix_madvise__every_advice_accepted_and_dontneed_keeps_data(void)
{
    size_t pg = wmt_page();
    unsigned char *p = mmap(NULL, 2 * pg, RW, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    WMT_REQUIRE(p != MAP_FAILED);
    memset(p, 0x21, 2 * pg);
    WMT_EQ(posix_madvise(p, 2 * pg, POSIX_MADV_SEQUENTIAL), 0);
    WMT_EQ(posix_madvise(p, pg, POSIX_MADV_RANDOM), 0);
    WMT_EQ(posix_madvise(p, 2 * pg, POSIX_MADV_WILLNEED), 0);
    WMT_EQ(posix_madvise(p, 2 * pg, POSIX_MADV_DONTNEED), 0);
    WMT_EQ(posix_madvise(p, 2 * pg, POSIX_MADV_NORMAL), 0);
    WMT_TRUE(all_bytes(p, 2 * pg, 0x21));
    WMT_AUDIT();
    munmap(p, 2 * pg);
}

void test_madvise__length_that_wraps_einval(void)
{
    size_t pg = wmt_page();
    unsigned char *p = mmap(NULL, pg, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    WMT_REQUIRE(p != MAP_FAILED);
    WMT_ERRNO(madvise(p, SIZE_MAX, MADV_NORMAL), -1, EINVAL);
    WMT_EQ(posix_madvise(p, SIZE_MAX, POSIX_MADV_NORMAL), EINVAL);
    WMT_ERRNO(mprotect(p, SIZE_MAX, PROT_READ), -1, ENOMEM); /* mprotect says ENOMEM */
    munmap(p, pg);
}
