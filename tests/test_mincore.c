/* mincore: one byte per page, low bit set when resident. */
#define _GNU_SOURCE
#include "wmtest.h"

#include <errno.h>
#include <stdint.h>
#include <sys/mman.h>
#include <unistd.h>

#define RW (PROT_READ | PROT_WRITE)

void test_mincore__touched_pages_are_resident(void)
{
    size_t pg = wmt_page();
    unsigned char *p = mmap(NULL, 4 * pg, RW, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    WMT_REQUIRE(p != MAP_FAILED);
    p[0] = 1;
    p[2 * pg] = 1;
    unsigned char vec[5];
    memset(vec, 0xee, sizeof vec);
    WMT_EQ(mincore(p, 4 * pg, vec), 0);
    WMT_EQ(vec[0] & 1, 1);
    WMT_EQ(vec[2] & 1, 1);
    for (int i = 0; i < 4; i++)
        WMT_EQ(vec[i] & ~1, 0); /* only the low bit is defined */
    WMT_EQ(vec[4], 0xee);       /* one byte per page, no more */
    munmap(p, 4 * pg);
}

void test_mincore__length_rounded_up_to_a_page(void)
{
    size_t pg = wmt_page();
    unsigned char *p = mmap(NULL, 2 * pg, RW, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    WMT_REQUIRE(p != MAP_FAILED);
    p[pg] = 1;
    unsigned char vec[3] = {0xee, 0xee, 0xee};
    WMT_EQ(mincore(p, pg + 1, vec), 0);
    WMT_EQ(vec[1] & 1, 1);
    WMT_EQ(vec[2], 0xee);
    munmap(p, 2 * pg);
}

void test_mincore__unmapped_pages_enomem(void)
{
    size_t pg = wmt_page();
    unsigned char *p = mmap(NULL, 3 * pg, RW, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    WMT_REQUIRE(p != MAP_FAILED);
    WMT_REQUIRE(munmap(p + pg, pg) == 0);
    unsigned char vec[3];
    WMT_ERRNO(mincore(p, 3 * pg, vec), -1, ENOMEM);
    munmap(p, 3 * pg);
}

void test_mincore__unaligned_address_einval(void)
{
    size_t pg = wmt_page();
    unsigned char *p = mmap(NULL, pg, RW, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    WMT_REQUIRE(p != MAP_FAILED);
    unsigned char vec[2];
    WMT_ERRNO(mincore(p + 1, 10, vec), -1, EINVAL);
    munmap(p, pg);
}

void test_mincore__unwritable_vector_efault_and_the_library_stays_usable(void)
{
    size_t pg = wmt_page();
    unsigned char *p = mmap(NULL, 3 * pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    WMT_REQUIRE(p != MAP_FAILED);
    p[0] = 1;
    WMT_REQUIRE(mprotect(p + pg, pg, PROT_READ) == 0);
    WMT_REQUIRE(mprotect(p + 2 * pg, pg, PROT_NONE) == 0);
    WMT_ERRNO(mincore(p, pg, NULL), -1, EFAULT);
    WMT_ERRNO(mincore(p, pg, p + pg), -1, EFAULT);
    WMT_ERRNO(mincore(p, pg, p + 2 * pg), -1, EFAULT);
    WMT_ERRNO(mincore(p, 3 * pg, p + 2 * pg - 1), -1, EFAULT); /* runs into the read-only page */
    /* Nothing was left locked: mapping still works. */
    void *q = mmap(NULL, pg, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    WMT_TRUE(q != MAP_FAILED);
    munmap(q, pg);
    munmap(p, 3 * pg);
}
