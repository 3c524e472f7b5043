/* Private anonymous memory (MAP_PRIVATE | MAP_ANONYMOUS), the memory ported
 * allocators and caches ask for: its bytes, protection and holes follow the
 * POSIX rules through every operation, whatever the implementation backs it
 * with (winmmap: private memory with no section, copied into one only when
 * it must be split or moved). */
#define _GNU_SOURCE
#include "wmtest.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#ifdef _WIN32
#include <windows.h>
#endif

#define RW (PROT_READ | PROT_WRITE)
#define ANON (MAP_PRIVATE | MAP_ANONYMOUS)

/* The file's byte at off (mingw has no pread). */
static int file_byte(int fd, off_t off)
{
    unsigned char b;
    if (lseek(fd, off, SEEK_SET) != off || read(fd, &b, 1) != 1)
        return -1;
    return b;
}

static int all_zero(const unsigned char *p, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (p[i])
            return 0;
    return 1;
}

void test_private__keeps_its_bytes_through_every_operation(void)
{
    size_t pg = wmt_page();
    unsigned char *p = wmt_anon_filled(16 * pg, 7);
    WMT_REQUIRE(p != MAP_FAILED);
    /* Protection per page, a lock, pages reset. */
    WMT_EQ(mprotect(p + 2 * pg, pg, PROT_READ), 0);
    WMT_EQ(mprotect(p + 3 * pg, pg, PROT_NONE), 0);
    WMT_EQ(mlock(p + 4 * pg, pg), 0);
    WMT_EQ(madvise(p + 6 * pg, 2 * pg, MADV_DONTNEED), 0);
    WMT_AUDIT();
    WMT_TRUE(wmt_has_pattern(p, 3 * pg, 0, 7));
    WMT_TRUE(wmt_has_pattern(p + 4 * pg, 2 * pg, 4 * pg, 7));
    WMT_TRUE(all_zero(p + 6 * pg, 2 * pg));
    WMT_TRUE(wmt_has_pattern(p + 8 * pg, 8 * pg, 8 * pg, 7));
    unsigned char vec[16];
    WMT_EQ(mincore(p, 16 * pg, (void *)vec), 0);
    WMT_EQ(vec[0] & 1, 1); /* written, so resident */
    /* A hole in the middle, then a fresh mapping over one page. */
    WMT_EQ(munmap(p + 10 * pg, 2 * pg), 0);
    WMT_ERRNO(mincore(p + 10 * pg, pg, (void *)vec), -1, ENOMEM);
    unsigned char *z = mmap(p + 13 * pg, pg, RW, ANON | MAP_FIXED, -1, 0);
    WMT_PTR_EQ(z, p + 13 * pg);
    WMT_AUDIT();
    WMT_TRUE(wmt_has_pattern(p + 8 * pg, 2 * pg, 8 * pg, 7));
    WMT_TRUE(wmt_has_pattern(p + 12 * pg, pg, 12 * pg, 7));
    WMT_TRUE(all_zero(p + 13 * pg, pg));
    WMT_TRUE(wmt_has_pattern(p + 14 * pg, 2 * pg, 14 * pg, 7));
    /* The last four pages grow to eight, here or elsewhere. */
    unsigned char *q = mremap(p + 12 * pg, 4 * pg, 8 * pg, MREMAP_MAYMOVE);
    WMT_REQUIRE(q != MAP_FAILED);
    WMT_TRUE(wmt_has_pattern(q, pg, 12 * pg, 7));
    WMT_TRUE(all_zero(q + pg, pg));
    WMT_TRUE(wmt_has_pattern(q + 2 * pg, 2 * pg, 14 * pg, 7));
    WMT_TRUE(all_zero(q + 4 * pg, 4 * pg));
    q[8 * pg - 1] = 1;
    WMT_AUDIT();
    /* The inaccessible page kept its bytes; the lock goes as it came. */
    WMT_EQ(mprotect(p + 3 * pg, pg, PROT_READ), 0);
    WMT_TRUE(wmt_has_pattern(p + 3 * pg, pg, 3 * pg, 7));
    WMT_EQ(munlock(p + 4 * pg, pg), 0);
    WMT_TRUE(wmt_has_pattern(p, 3 * pg, 0, 7));
    WMT_EQ(munmap(p, 10 * pg), 0);
    WMT_EQ(munmap(q, 8 * pg), 0);
    WMT_AUDIT();
}

void test_private__file_view_fixed_into_a_hole_keeps_the_rest(void)
{
    size_t pg = wmt_page();
    int fd = wmt_temp_file(4 * pg, 3, O_RDWR, NULL, 0);
    WMT_REQUIRE(fd >= 0);
    unsigned char *p = wmt_anon_filled(12 * pg, 9);
    WMT_REQUIRE(p != MAP_FAILED);
    WMT_EQ(mprotect(p + pg, pg, PROT_READ), 0);
    WMT_EQ(munmap(p + 4 * pg, 4 * pg), 0);
    unsigned char *f = mmap(p + 4 * pg, 4 * pg, RW, MAP_SHARED | MAP_FIXED, fd, 0);
    WMT_PTR_EQ(f, p + 4 * pg);
    WMT_REQUIRE(f != MAP_FAILED);
    WMT_TRUE(wmt_has_pattern(f, 4 * pg, 0, 3));
    f[5] = 0xab;
    WMT_EQ(file_byte(fd, 5), 0xab);
    WMT_TRUE(wmt_has_pattern(p, 4 * pg, 0, 9));
    WMT_TRUE(wmt_has_pattern(p + 8 * pg, 4 * pg, 8 * pg, 9));
    p[0] = 1, p[12 * pg - 1] = 2; /* still writable on both sides */
    WMT_AUDIT();
    /* And the file view is replaced by private memory again. */
    unsigned char *a = mmap(p + 4 * pg, 4 * pg, RW, ANON | MAP_FIXED, -1, 0);
    WMT_PTR_EQ(a, p + 4 * pg);
    WMT_TRUE(all_zero(p + 4 * pg, 4 * pg));
    WMT_EQ(file_byte(fd, 5), 0xab);
    WMT_AUDIT();
    WMT_EQ(munmap(p, 12 * pg), 0);
    close(fd);
}

void test_private__prot_none_reservation_commits_nothing_until_mprotect(void)
{
    size_t pg = wmt_page();
    /* Far more than this machine could commit, as allocators and language
     * runtimes reserve their heaps. */
    size_t big = sizeof(void *) == 8 ? (size_t)64 << 30 : (size_t)512 << 20;
    unsigned char *p = mmap(NULL, big, PROT_NONE, ANON | MAP_NORESERVE, -1, 0);
    WMT_REQUIRE(p != MAP_FAILED);
    unsigned char *mid = p + big / 2;
    WMT_EQ(mprotect(mid, 2 * pg, RW), 0);
    mid[0] = 1, mid[2 * pg - 1] = 2;
    WMT_EQ(mid[0] + mid[2 * pg - 1], 3);
    WMT_EQ(mprotect(p + big - pg, pg, PROT_READ), 0);
    WMT_EQ(p[big - 1], 0);
#ifdef _WIN32
    /* The rest is only reserved. */
    MEMORY_BASIC_INFORMATION mi;
    WMT_REQUIRE(VirtualQuery(p, &mi, sizeof mi) == sizeof mi);
    WMT_EQ(mi.State, MEM_RESERVE);
#endif
    WMT_AUDIT();
    /* Back to inaccessible, and a fixed mapping in the middle of it. */
    WMT_EQ(mprotect(mid, 2 * pg, PROT_NONE), 0);
    unsigned char *f = mmap(mid + 4 * pg, pg, RW, ANON | MAP_FIXED, -1, 0);
    WMT_PTR_EQ(f, mid + 4 * pg);
    WMT_REQUIRE(f != MAP_FAILED);
    f[0] = 5;
    WMT_EQ(mprotect(mid, 2 * pg, PROT_READ), 0);
    WMT_EQ(mid[0] + mid[2 * pg - 1], 3);
    WMT_AUDIT();
    WMT_EQ(munmap(p, big), 0);
    WMT_AUDIT();
}

void test_private__hundred_thousand_live_mappings(void)
{
    size_t pg = wmt_page(), n = 100000, i;
    unsigned char **v = malloc(n * sizeof *v);
    WMT_REQUIRE(v != NULL);
    for (i = 0; i < n; i++) {
        v[i] = mmap(NULL, pg, RW, ANON, -1, 0);
        if (v[i] == MAP_FAILED)
            break;
    }
    WMT_EQ(i, n); /* Linux's default limit is 65 530 VMAs, which merging neighbours never reaches */
    for (size_t j = 0; j < i; j += 997)
        v[j][pg - 1] = (unsigned char)(j % 251 + 1);
    /* Every other one goes; the rest keep their bytes and stay apart. */
    int bad = 0;
    for (size_t j = 0; j < i; j += 2)
        bad += munmap(v[j], pg) != 0;
    WMT_EQ(bad, 0);
    for (size_t j = 1; j < i; j += 2 * 997)
        bad += v[j][0] != 0;
    for (size_t j = 997; j < i; j += 2 * 997) /* odd multiples of 997 */
        bad += v[j][pg - 1] != (unsigned char)(j % 251 + 1);
    WMT_EQ(bad, 0);
    WMT_AUDIT();
    for (size_t j = 1; j < i; j += 2)
        bad += munmap(v[j], pg) != 0;
    WMT_EQ(bad, 0);
    free(v);
}

void test_private__large_mapping_split_keeps_its_bytes(void)
{
    size_t pg = wmt_page(), len = (size_t)64 << 20, n = len / pg;
    unsigned char *p = mmap(NULL, len, RW, ANON, -1, 0);
    WMT_REQUIRE(p != MAP_FAILED);
    for (size_t i = 0; i < n; i += n / 8)
        p[i * pg] = (unsigned char)(i + 1);
    p[len - 1] = 0x5a;
    /* A hole in the middle and the last page replaced. */
    WMT_EQ(munmap(p + (n / 2) * pg, pg), 0);
    unsigned char *q = mmap(p + len - pg, pg, RW, ANON | MAP_FIXED, -1, 0);
    WMT_PTR_EQ(q, p + len - pg);
    int bad = 0;
    for (size_t i = 0; i < n; i += n / 8)
        if (i != n / 2)
            bad += p[i * pg] != (unsigned char)(i + 1);
    WMT_EQ(bad, 0);
    WMT_EQ(p[len - 1], 0);
    WMT_AUDIT();
    WMT_EQ(munmap(p, len), 0);
}
