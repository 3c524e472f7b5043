/* mprotect over any page range (issue: protection). */
#define _GNU_SOURCE
#include "wmtest.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <sys/mman.h>
#include <unistd.h>

#define RW (PROT_READ | PROT_WRITE)

void test_mprotect__range_across_mappings_splits_and_keeps_data(void)
{
    size_t pg = wmt_page();
    int fd = wmt_temp_file(3 * pg, 7, O_RDWR, NULL, 0);
    WMT_REQUIRE(fd >= 0);
    unsigned char *p = mmap(NULL, 6 * pg, RW, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    WMT_REQUIRE(p != MAP_FAILED);
    memset(p, 0x5a, 3 * pg);
    /* The upper half becomes a second mapping, of the file. */
    WMT_REQUIRE(mmap(p + 3 * pg, 3 * pg, RW, MAP_SHARED | MAP_FIXED, fd, 0) == p + 3 * pg);
    WMT_EQ(mprotect(p + 2 * pg, 2 * pg, PROT_READ), 0);
    WMT_AUDIT();
    WMT_EQ(p[2 * pg], 0x5a);
    WMT_TRUE(wmt_has_pattern(p + 3 * pg, pg, 0, 7));
    p[pg] = 1;          /* outside the range: still writable */
    p[4 * pg] = 2;
    WMT_EQ(mprotect(p + 2 * pg, 2 * pg, RW), 0);
    p[2 * pg] = 3;
    p[3 * pg] = 4;
    unsigned char c;
    WMT_EQ(wmt_pread(fd, &c, 1, 0), 1);
    WMT_EQ(c, 4);
    WMT_AUDIT();
    WMT_EQ(munmap(p, 6 * pg), 0);
    close(fd);
}

void test_mprotect__range_with_a_hole_enomem(void)
{
    size_t pg = wmt_page();
    unsigned char *p = mmap(NULL, 3 * pg, RW, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    WMT_REQUIRE(p != MAP_FAILED);
    WMT_REQUIRE(munmap(p + pg, pg) == 0);
    /* Linux may have changed the pages before the hole; winmmap changes
     * nothing (engine/failed_mprotect_changes_nothing checks that). */
    WMT_ERRNO(mprotect(p, 3 * pg, PROT_READ), -1, ENOMEM);
    p[2 * pg] = 2; /* after the hole: never reached */
    WMT_AUDIT();
    munmap(p, 3 * pg);
}

void test_mprotect__unaligned_address_einval(void)
{
    size_t pg = wmt_page();
    unsigned char *p = mmap(NULL, 2 * pg, RW, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    WMT_REQUIRE(p != MAP_FAILED);
    WMT_ERRNO(mprotect(p + 1, pg, PROT_READ), -1, EINVAL);
    munmap(p, 2 * pg);
}

void test_mprotect__unknown_prot_bit_einval(void)
{
    size_t pg = wmt_page();
    unsigned char *p = mmap(NULL, pg, RW, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    WMT_REQUIRE(p != MAP_FAILED);
    WMT_ERRNO(mprotect(p, pg, PROT_READ | 0x100), -1, EINVAL);
    munmap(p, pg);
}

void test_mprotect__zero_length_succeeds(void)
{
    size_t pg = wmt_page();
    unsigned char *p = mmap(NULL, pg, RW, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    WMT_REQUIRE(p != MAP_FAILED);
    WMT_EQ(mprotect(p, 0, PROT_NONE), 0);
    p[0] = 1;
    munmap(p, pg);
}

void test_mprotect__write_on_shared_readonly_fd_eacces(void)
{
    size_t pg = wmt_page();
    int fd = wmt_temp_file(pg, 1, O_RDONLY, NULL, 0);
    WMT_REQUIRE(fd >= 0);
    unsigned char *p = mmap(NULL, pg, PROT_READ, MAP_SHARED, fd, 0);
    WMT_REQUIRE(p != MAP_FAILED);
    WMT_ERRNO(mprotect(p, pg, RW), -1, EACCES);
    WMT_TRUE(wmt_has_pattern(p, pg, 0, 1));
    WMT_AUDIT();
    munmap(p, pg);
    close(fd);
}

void test_mprotect__write_on_private_readonly_fd_is_copy_on_write(void)
{
    size_t pg = wmt_page();
    int fd = wmt_temp_file(2 * pg, 2, O_RDONLY, NULL, 0);
    WMT_REQUIRE(fd >= 0);
    unsigned char *p = mmap(NULL, 2 * pg, PROT_READ, MAP_PRIVATE, fd, 0);
    WMT_REQUIRE(p != MAP_FAILED);
    WMT_EQ(mprotect(p + pg, pg, RW), 0);
    p[pg] ^= 0xff;
    unsigned char c;
    WMT_EQ(wmt_pread(fd, &c, 1, (long long)pg), 1);
    WMT_EQ(c, wmt_pattern(pg, 2));
    WMT_EQ(p[pg], (unsigned char)(wmt_pattern(pg, 2) ^ 0xff));
    WMT_AUDIT();
    munmap(p, 2 * pg);
    close(fd);
}

void test_mprotect__prot_none_and_back_keeps_data(void)
{
    size_t pg = wmt_page();
    int fd = wmt_temp_file(2 * pg, 3, O_RDWR, NULL, 0);
    WMT_REQUIRE(fd >= 0);
    unsigned char *a = mmap(NULL, 2 * pg, RW, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    unsigned char *f = mmap(NULL, 2 * pg, RW, MAP_PRIVATE, fd, 0);
    WMT_REQUIRE(a != MAP_FAILED && f != MAP_FAILED);
    a[pg] = 9;
    f[pg] = 8;
    WMT_EQ(mprotect(a, 2 * pg, PROT_NONE), 0);
    WMT_EQ(mprotect(f, 2 * pg, PROT_NONE), 0);
    WMT_AUDIT();
    WMT_EQ(mprotect(a, 2 * pg, PROT_READ), 0);
    WMT_EQ(mprotect(f, 2 * pg, PROT_READ), 0);
    WMT_EQ(a[pg], 9);
    WMT_EQ(f[pg], 8);
    WMT_TRUE(wmt_has_pattern(f, pg, 0, 3));
    WMT_AUDIT();
    munmap(a, 2 * pg);
    munmap(f, 2 * pg);
    close(fd);
}

void test_mprotect__every_page_its_own_protection(void)
{
    size_t pg = wmt_page();
    static const int prots[] = {PROT_NONE, PROT_READ, RW, PROT_READ | PROT_EXEC, RW | PROT_EXEC,
                                PROT_READ, PROT_NONE, RW};
    size_t n = sizeof prots / sizeof prots[0];
    unsigned char *p = mmap(NULL, n * pg, RW, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    WMT_REQUIRE(p != MAP_FAILED);
    for (size_t i = 0; i < n; i++)
        p[i * pg] = (unsigned char)i;
    for (size_t i = 0; i < n; i++)
        WMT_EQ(mprotect(p + i * pg, pg, prots[i]), 0);
    WMT_AUDIT();
    for (size_t i = 0; i < n; i++)
        if (prots[i] & PROT_READ)
            WMT_EQ(p[i * pg], i);
    WMT_EQ(mprotect(p, n * pg, RW), 0); /* and one call puts them back together */
    for (size_t i = 0; i < n; i++)
        WMT_EQ(p[i * pg], i);
    WMT_AUDIT();
    munmap(p, n * pg);
}

void test_mprotect__shared_mapping_past_eof_of_a_writable_file_becomes_writable(void)
{
    size_t pg = wmt_page();
    int fd = wmt_temp_file(0, 1, O_RDWR, NULL, 0);
    WMT_REQUIRE(fd >= 0);
    unsigned char *p = mmap(NULL, 2 * pg, PROT_READ, MAP_SHARED, fd, 0);
    WMT_REQUIRE(p != MAP_FAILED);
    WMT_EQ(mprotect(p, 2 * pg, PROT_READ | PROT_WRITE), 0);
    WMT_EQ(ftruncate(fd, (off_t)pg), 0);
    p[1] = 5; /* the file now reaches the first page, writable */
    WMT_EQ(p[1], 5);
    munmap(p, 2 * pg);
    close(fd);
}

void test_mprotect__first_problem_in_address_order_decides_errno(void)
{
    size_t pg = wmt_page();
    int fd = wmt_temp_file(4 * pg, 12, O_RDONLY, NULL, 0);
    WMT_REQUIRE(fd >= 0);
    unsigned char *a = mmap(NULL, 12 * pg, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    WMT_REQUIRE(a != MAP_FAILED);
    WMT_REQUIRE(munmap(a + 5 * pg, 3 * pg) == 0); /* a hole: pages 5-7 */
    WMT_REQUIRE(mmap(a + 2 * pg, 3 * pg, PROT_READ, MAP_SHARED | MAP_FIXED, fd, 0) == a + 2 * pg);
    WMT_REQUIRE(mmap(a + 8 * pg, 2 * pg, PROT_READ, MAP_SHARED | MAP_FIXED, fd, 0) == a + 8 * pg);
    /* A read-only file's shared mapping, then the hole: EACCES. */
    WMT_ERRNO(mprotect(a + 3 * pg, 4 * pg, PROT_READ | PROT_WRITE), -1, EACCES);
    /* The hole, then such a mapping: ENOMEM. */
    WMT_ERRNO(mprotect(a + 6 * pg, 4 * pg, PROT_READ | PROT_WRITE), -1, ENOMEM);
    WMT_AUDIT();
    munmap(a, 12 * pg);
    close(fd);
}
