/* mlock, munlock, mlockall, munlockall and MAP_LOCKED. */
#define _GNU_SOURCE
#include "wmtest.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <sys/mman.h>
#include <unistd.h>
#ifndef _WIN32
#include <sys/resource.h>
#endif

#define RW (PROT_READ | PROT_WRITE)

void test_mlock__lock_and_unlock_keep_data_and_protection(void)
{
    size_t pg = wmt_page();
    unsigned char *p = mmap(NULL, 4 * pg, RW, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    WMT_REQUIRE(p != MAP_FAILED);
    memset(p, 0x31, 4 * pg);
    WMT_EQ(mprotect(p + 3 * pg, pg, PROT_READ), 0);
    WMT_EQ(mlock(p + pg, 3 * pg), 0);
    WMT_AUDIT();
    p[pg] = 1;
    /* A locked page made inaccessible and accessible again. */
    WMT_EQ(mprotect(p + 2 * pg, pg, PROT_NONE), 0);
    WMT_EQ(mprotect(p + 2 * pg, pg, RW), 0);
    WMT_EQ(p[2 * pg], 0x31);
    WMT_EQ(munlock(p, 4 * pg), 0); /* unlocking never-locked pages is fine */
    WMT_EQ(p[pg], 1);
    WMT_EQ(p[3 * pg], 0x31);
    WMT_AUDIT();
    munmap(p, 4 * pg);
}

void test_mlock__prot_none_pages_enomem(void)
{
    size_t pg = wmt_page();
    unsigned char *p = mmap(NULL, 2 * pg, RW, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    WMT_REQUIRE(p != MAP_FAILED);
    WMT_EQ(mprotect(p + pg, pg, PROT_NONE), 0);
    WMT_ERRNO(mlock(p, 2 * pg), -1, ENOMEM);
    WMT_EQ(mlock(p, pg), 0);
    WMT_EQ(munlock(p, 2 * pg), 0);
    munmap(p, 2 * pg);
}

void test_mlock__address_is_rounded_down_to_a_page(void)
{
    size_t pg = wmt_page();
    unsigned char *p = mmap(NULL, 2 * pg, RW, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    WMT_REQUIRE(p != MAP_FAILED);
    /* Locked pages refuse MADV_DONTNEED (EINVAL, Linux): that shows which
     * pages a call locked. */
    WMT_EQ(mlock(p + 10, pg), 0); /* covers the first two pages */
    WMT_ERRNO(madvise(p, pg, MADV_DONTNEED), -1, EINVAL);
    WMT_ERRNO(madvise(p + pg, pg, MADV_DONTNEED), -1, EINVAL);
    WMT_EQ(munlock(p + pg + 10, 1), 0); /* the second page only */
    WMT_EQ(madvise(p + pg, pg, MADV_DONTNEED), 0);
    WMT_ERRNO(madvise(p, pg, MADV_DONTNEED), -1, EINVAL);
    WMT_EQ(munlock(p + 10, pg), 0);
    WMT_EQ(madvise(p, 2 * pg, MADV_DONTNEED), 0);
    WMT_AUDIT();
    munmap(p, 2 * pg);
}

void test_mlock__unmapped_pages_enomem(void)
{
    size_t pg = wmt_page();
    unsigned char *p = mmap(NULL, 3 * pg, RW, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    WMT_REQUIRE(p != MAP_FAILED);
    WMT_REQUIRE(munmap(p + pg, pg) == 0);
    WMT_ERRNO(mlock(p, 3 * pg), -1, ENOMEM);
    WMT_ERRNO(munlock(p, 3 * pg), -1, ENOMEM);
    /* Nothing was locked by the failed call: DONTNEED (refused on locked
     * pages) still works on the first page. */
    WMT_EQ(madvise(p, pg, MADV_DONTNEED), 0);
    WMT_AUDIT();
    munmap(p, 3 * pg);
}

void test_mlock__file_pages_lock_and_pages_past_eof_enomem(void)
{
    size_t pg = wmt_page();
    int fd = wmt_temp_file(pg + 10, 15, O_RDWR, NULL, 0);
    WMT_REQUIRE(fd >= 0);
    unsigned char *p = mmap(NULL, 3 * pg, RW, MAP_SHARED, fd, 0); /* page 2 is past EOF */
    WMT_REQUIRE(p != MAP_FAILED);
    WMT_ERRNO(mlock(p, 3 * pg), -1, ENOMEM);
    WMT_EQ(mlock(p, 2 * pg), 0);
    WMT_TRUE(wmt_has_pattern(p, pg + 10, 0, 15));
    WMT_EQ(munlock(p, 3 * pg), 0);
    WMT_AUDIT();
    munmap(p, 3 * pg);
    close(fd);
}

#if !WMT_HAVE_MLOCKALL || !WMT_HAVE_MUNLOCKALL
/* Only reached by tests that are skipped without them (wmt_needs_mlockall). */
#define mlockall wmt_no_mlockall
#define munlockall wmt_no_munlockall
static int mlockall(int flags)
{
    (void)flags;
    WMT_LACKS("mlockall");
    return -1;
}

static int munlockall(void)
{
    WMT_LACKS("munlockall");
    return -1;
}
#endif

void test_mlockall__bad_flags_einval(void)
{
    WMT_ERRNO(mlockall(0), -1, EINVAL);
    WMT_ERRNO(mlockall(0x100), -1, EINVAL);
    WMT_ERRNO(mlockall(MCL_ONFAULT), -1, EINVAL);
}

void test_mlockall__current_and_future_until_munlockall(void)
{
    size_t pg = wmt_page();
    unsigned char *p = mmap(NULL, 2 * pg, RW, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    WMT_REQUIRE(p != MAP_FAILED);
    WMT_EQ(mlockall(MCL_CURRENT | MCL_FUTURE), 0);
    unsigned char *q = mmap(NULL, 2 * pg, RW, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    WMT_TRUE(q != MAP_FAILED);
    /* Both are locked now: Linux refuses MADV_DONTNEED on locked pages. */
    WMT_ERRNO(madvise(p, pg, MADV_DONTNEED), -1, EINVAL);
    if (q != MAP_FAILED)
        WMT_ERRNO(madvise(q, pg, MADV_DONTNEED), -1, EINVAL);
    WMT_EQ(munlockall(), 0);
    WMT_EQ(madvise(p, pg, MADV_DONTNEED), 0);
    unsigned char *r = mmap(NULL, pg, RW, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    WMT_TRUE(r != MAP_FAILED);
    if (r != MAP_FAILED)
        WMT_EQ(madvise(r, pg, MADV_DONTNEED), 0); /* MCL_FUTURE is over */
    WMT_AUDIT();
    munmap(p, 2 * pg);
    if (q != MAP_FAILED)
        munmap(q, 2 * pg);
    if (r != MAP_FAILED)
        munmap(r, pg);
}

void test_mlock__map_locked_maps_locked_memory(void)
{
    size_t pg = wmt_page();
    unsigned char *p = mmap(NULL, 2 * pg, RW, MAP_PRIVATE | MAP_ANONYMOUS | MAP_LOCKED, -1, 0);
    WMT_REQUIRE(p != MAP_FAILED);
    p[pg] = 4;
    WMT_ERRNO(madvise(p, pg, MADV_DONTNEED), -1, EINVAL);
    WMT_EQ(munlock(p, 2 * pg), 0);
    WMT_EQ(madvise(p, 2 * pg, MADV_DONTNEED), 0);
    WMT_EQ(p[pg], 0);
    WMT_AUDIT();
    munmap(p, 2 * pg);
}

/* 16 MiB: far above Windows' default minimum working set (about 200 KiB), so
 * VirtualLock needs the quota raised. */
#define BIG_LOCK ((size_t)16 << 20)

const char *wmt_memlock_limited(void)
{
#ifndef _WIN32
    struct rlimit rl;
    if (geteuid() != 0 && getrlimit(RLIMIT_MEMLOCK, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
        rl.rlim_cur < BIG_LOCK)
        return "RLIMIT_MEMLOCK is below 16 MiB for this unprivileged user (Linux: ENOMEM/EPERM)";
#endif
    return NULL;
}

void test_mlock__large_range_grows_the_quota(void)
{
    unsigned char *p = mmap(NULL, BIG_LOCK, RW, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    WMT_REQUIRE(p != MAP_FAILED);
    memset(p, 0x5a, BIG_LOCK);
    WMT_EQ(mlock(p, BIG_LOCK), 0);
    WMT_ERRNO(madvise(p, wmt_page(), MADV_DONTNEED), -1, EINVAL); /* it is locked */
    WMT_EQ(p[0], 0x5a);
    WMT_EQ(p[BIG_LOCK - 1], 0x5a);
    WMT_EQ(munlock(p, BIG_LOCK), 0);
    WMT_AUDIT();
    munmap(p, BIG_LOCK);
}

#if !WMT_HAVE_MREMAP
/* Only reached by a test that is skipped without it (wmt_needs_mremap). */
#define mremap wmt_no_mremap
static void *mremap(void *p, size_t old_len, size_t new_len, int flags)
{
    (void)p, (void)old_len, (void)new_len, (void)flags;
    WMT_LACKS("mremap");
    return MAP_FAILED;
}
#endif

void test_mlock__mremap_keeps_the_lock(void)
{
    size_t pg = wmt_page();
    unsigned char *p = mmap(NULL, 2 * pg, RW, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    WMT_REQUIRE(p != MAP_FAILED);
    p[0] = 7;
    WMT_EQ(mlock(p, 2 * pg), 0);
    /* Something right after it, so growing has to move. */
    unsigned char *after = mmap(p + 2 * pg, pg, RW, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
    unsigned char *q = mremap(p, 2 * pg, 4 * pg, MREMAP_MAYMOVE);
    WMT_REQUIRE(q != MAP_FAILED);
    WMT_EQ(q[0], 7);
    /* Locked pages refuse MADV_DONTNEED: the moved and the new pages. */
    WMT_ERRNO(madvise(q, pg, MADV_DONTNEED), -1, EINVAL);
    WMT_ERRNO(madvise(q + 3 * pg, pg, MADV_DONTNEED), -1, EINVAL);
    WMT_EQ(munlock(q, 4 * pg), 0);
    WMT_AUDIT();
    munmap(q, 4 * pg);
    if (after != MAP_FAILED)
        munmap(after, pg);
}
