/* munmap: any page-aligned range, inside, across and between mappings. */
#define _GNU_SOURCE
#include "wmtest.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <sys/mman.h>
#include <unistd.h>

void test_munmap__middle_of_mapping_keeps_both_ends(void)
{
    size_t pg = wmt_page();
    unsigned char *p = wmt_anon_filled(5 * pg, 1);
    WMT_REQUIRE(p != MAP_FAILED);
    WMT_EQ(munmap(p + pg, 2 * pg), 0);
    WMT_TRUE(wmt_has_pattern(p, pg, 0, 1));
    WMT_TRUE(wmt_has_pattern(p + 3 * pg, 2 * pg, 3 * pg, 1));
    WMT_AUDIT();
    /* The hole is free again. */
    void *q = mmap(p + pg, 2 * pg, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
    WMT_PTR_EQ(q, p + pg);
    WMT_EQ(munmap(p, 5 * pg), 0);
    WMT_AUDIT();
}

void test_munmap__split_keeps_protection_of_each_part(void)
{
    size_t pg = wmt_page();
    unsigned char *p = wmt_anon_filled(4 * pg, 2);
    WMT_REQUIRE(p != MAP_FAILED);
    WMT_EQ(mprotect(p, pg, PROT_READ), 0);
    WMT_EQ(munmap(p + 2 * pg, pg), 0);
    WMT_TRUE(wmt_has_pattern(p, 2 * pg, 0, 2));
    p[pg] = 1; /* still writable */
    WMT_EQ(p[pg], 1);
    WMT_TRUE(wmt_has_pattern(p + 3 * pg, pg, 3 * pg, 2));
    WMT_AUDIT();
    munmap(p, 4 * pg);
}

void test_munmap__split_keeps_private_dirty_file_pages(void)
{
    size_t pg = wmt_page();
    int fd = wmt_temp_file(4 * pg, 3, O_RDWR, NULL, 0);
    WMT_REQUIRE(fd >= 0);
    unsigned char *p = mmap(NULL, 4 * pg, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
    WMT_REQUIRE(p != MAP_FAILED);
    p[0] = 0xee;
    p[3 * pg + 1] = 0xdd;
    WMT_EQ(munmap(p + pg, pg), 0);
    WMT_EQ(p[0], 0xee);
    WMT_EQ(p[3 * pg + 1], 0xdd);
    WMT_TRUE(wmt_has_pattern(p + 2 * pg, pg, 2 * pg, 3));
    unsigned char c;
    WMT_EQ(wmt_pread(fd, &c, 1, 0), 1);
    WMT_EQ(c, wmt_pattern(0, 3));
    WMT_AUDIT();
    munmap(p, 4 * pg);
    close(fd);
}

void test_munmap__shared_file_split_keeps_sharing(void)
{
    size_t pg = wmt_page();
    int fd = wmt_temp_file(3 * pg, 4, O_RDWR, NULL, 0);
    WMT_REQUIRE(fd >= 0);
    unsigned char *p = mmap(NULL, 3 * pg, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    WMT_REQUIRE(p != MAP_FAILED);
    WMT_EQ(munmap(p + pg, pg), 0);
    p[2 * pg] = 0x77;
    unsigned char c;
    WMT_EQ(wmt_pread(fd, &c, 1, (long long)(2 * pg)), 1);
    WMT_EQ(c, 0x77);
    munmap(p, 3 * pg);
    close(fd);
}

void test_munmap__across_several_mappings_and_holes(void)
{
    size_t pg = wmt_page();
    unsigned char *p = wmt_anon_filled(8 * pg, 5);
    WMT_REQUIRE(p != MAP_FAILED);
    WMT_EQ(munmap(p + 2 * pg, pg), 0); /* hole */
    unsigned char *q = mmap(p + 4 * pg, pg, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
    WMT_PTR_EQ(q, p + 4 * pg);
    WMT_EQ(munmap(p + pg, 5 * pg), 0);
    WMT_TRUE(wmt_has_pattern(p, pg, 0, 5));
    WMT_TRUE(wmt_has_pattern(p + 6 * pg, 2 * pg, 6 * pg, 5));
    WMT_AUDIT();
    munmap(p, 8 * pg);
    WMT_AUDIT();
}

void test_munmap__unmapped_range_succeeds(void)
{
    size_t pg = wmt_page();
    unsigned char *p = wmt_anon_filled(pg, 6);
    WMT_REQUIRE(p != MAP_FAILED);
    WMT_EQ(munmap(p, pg), 0);
    WMT_EQ(munmap(p, pg), 0);
}

void test_munmap__zero_length_einval(void)
{
    unsigned char *p = wmt_anon_filled(wmt_page(), 7);
    WMT_REQUIRE(p != MAP_FAILED);
    WMT_ERRNO(munmap(p, 0), -1, EINVAL);
    munmap(p, wmt_page());
}

void test_munmap__unaligned_address_einval(void)
{
    unsigned char *p = wmt_anon_filled(wmt_page(), 7);
    WMT_REQUIRE(p != MAP_FAILED);
    WMT_ERRNO(munmap(p + 1, 10), -1, EINVAL);
    munmap(p, wmt_page());
}

void test_munmap__past_eof_part_of_file_mapping(void)
{
    size_t pg = wmt_page();
    int fd = wmt_temp_file(pg + 10, 8, O_RDWR, NULL, 0);
    WMT_REQUIRE(fd >= 0);
    unsigned char *p = mmap(NULL, 5 * pg, PROT_READ, MAP_SHARED, fd, 0);
    WMT_REQUIRE(p != MAP_FAILED);
    WMT_EQ(munmap(p + 3 * pg, pg), 0); /* inside the reserved tail */
    WMT_AUDIT();
    WMT_EQ(munmap(p + pg, pg), 0); /* the partial last page */
    WMT_TRUE(wmt_has_pattern(p, pg, 0, 8));
    WMT_AUDIT();
    WMT_EQ(munmap(p, 5 * pg), 0);
    close(fd);
}

void test_munmap__outside_the_user_address_space_einval(void)
{
    size_t pg = wmt_page();
    /* The first address past user space: 2^47 (x86-64), 2^31 (x86 without
     * /LARGEADDRESSAWARE, as mingw links by default). */
    WMT_ERRNO(munmap((void *)((uintptr_t)1 << (sizeof(void *) == 8 ? 47 : 31)), pg), -1, EINVAL);
    WMT_ERRNO(munmap((void *)(UINTPTR_MAX - 16 * pg + 1), pg), -1, EINVAL);
}
