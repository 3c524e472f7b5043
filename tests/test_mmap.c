/* mmap: each test checks one rule of POSIX (or Linux, where POSIX leaves
 * room); the rule is the test's name in test-list.h. */
#define _GNU_SOURCE
#include "wmtest.h"

#ifdef _WIN32
#include <io.h>
#include <windows.h>
#endif

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#ifndef MAP_FIXED_NOREPLACE
#define MAP_FIXED_NOREPLACE 0x100000
#endif

static void *anon(size_t len, int prot)
{
    return mmap(NULL, len, prot, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
}

int child_exit_with(const char *arg)
{
    return atoi(arg);
}

void test_mmap__child_exit_status(void)
{
    struct wmt_child_status st;
    WMT_REQUIRE(wmt_spawn_child("exit_with", "7", &st) == 0);
    WMT_EQ(st.exited, 1);
    WMT_EQ(st.code, 7);
}

void test_mmap__anon_private_zero_filled(void)
{
    size_t len = 3 * wmt_page();
    unsigned char *p = anon(len, PROT_READ | PROT_WRITE);
    WMT_REQUIRE(p != MAP_FAILED);
    size_t nonzero = 0;
    for (size_t i = 0; i < len; i++)
        nonzero += p[i] != 0;
    WMT_EQ(nonzero, 0);
    memset(p, 0xab, len);
    WMT_EQ(p[len - 1], 0xab);
    WMT_EQ(munmap(p, len), 0);
    WMT_AUDIT();
}

void test_mmap__anon_shared_rw(void)
{
    size_t len = wmt_page();
    unsigned char *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    WMT_REQUIRE(p != MAP_FAILED);
    p[0] = 1;
    p[len - 1] = 2;
    WMT_EQ(p[0] + p[len - 1], 3);
    WMT_EQ(munmap(p, len), 0);
}

void test_mmap__length_rounded_up_to_page(void)
{
    unsigned char *p = anon(1, PROT_READ | PROT_WRITE);
    WMT_REQUIRE(p != MAP_FAILED);
    p[wmt_page() - 1] = 9; /* the whole page is mapped */
    WMT_EQ(p[wmt_page() - 1], 9);
    WMT_EQ(munmap(p, 1), 0);
}

void test_mmap__zero_length_einval(void)
{
    WMT_ERRNO(anon(0, PROT_READ), MAP_FAILED, EINVAL);
}

void test_mmap__no_type_einval(void)
{
    WMT_ERRNO(mmap(NULL, wmt_page(), PROT_READ, MAP_ANONYMOUS, -1, 0), MAP_FAILED, EINVAL);
}

void test_mmap__unknown_flag_einval(void)
{
    WMT_ERRNO(mmap(NULL, wmt_page(), PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | 0x00800000, -1, 0),
              MAP_FAILED, EINVAL);
}

void test_mmap__shared_validate_unknown_flag_eopnotsupp(void)
{
    int fd = wmt_temp_file(wmt_page(), 1, O_RDWR, NULL, 0);
    WMT_REQUIRE(fd >= 0);
    WMT_ERRNO(mmap(NULL, wmt_page(), PROT_READ, MAP_SHARED_VALIDATE | 0x00800000, fd, 0), MAP_FAILED,
              EOPNOTSUPP);
    close(fd);
}

void test_mmap__unknown_prot_einval(void)
{
    WMT_ERRNO(anon(wmt_page(), 0x80), MAP_FAILED, EINVAL);
}

void test_mmap__unaligned_offset_einval(void)
{
    int fd = wmt_temp_file(2 * wmt_page(), 1, O_RDWR, NULL, 0);
    WMT_REQUIRE(fd >= 0);
    WMT_ERRNO(mmap(NULL, wmt_page(), PROT_READ, MAP_SHARED, fd, 100), MAP_FAILED, EINVAL);
    close(fd);
}

void test_mmap__unaligned_fixed_address_einval(void)
{
    size_t pg = wmt_page();
    char *p = anon(2 * pg, PROT_READ);
    WMT_REQUIRE(p != MAP_FAILED);
    WMT_ERRNO(mmap(p + 1, pg, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0),
              MAP_FAILED, EINVAL);
    munmap(p, 2 * pg);
}

void test_mmap__bad_fd_ebadf(void)
{
    WMT_ERRNO(mmap(NULL, wmt_page(), PROT_READ, MAP_SHARED, -1, 0), MAP_FAILED, EBADF);
    int fd = wmt_temp_file(16, 1, O_RDWR, NULL, 0);
    WMT_REQUIRE(fd >= 0);
    close(fd);
    WMT_ERRNO(mmap(NULL, wmt_page(), PROT_READ, MAP_SHARED, fd, 0), MAP_FAILED, EBADF);
}

void test_mmap__pipe_enodev(void)
{
    int fds[2];
    WMT_REQUIRE(wmt_pipe(fds) == 0);
    WMT_ERRNO(mmap(NULL, wmt_page(), PROT_READ, MAP_SHARED, fds[0], 0), MAP_FAILED, ENODEV);
    close(fds[0]);
    close(fds[1]);
}

void test_mmap__write_only_fd_eacces(void)
{
    int fd = wmt_temp_file(wmt_page(), 1, O_WRONLY, NULL, 0);
    WMT_REQUIRE(fd >= 0);
    WMT_ERRNO(mmap(NULL, wmt_page(), PROT_READ, MAP_SHARED, fd, 0), MAP_FAILED, EACCES);
    close(fd);
}

void test_mmap__shared_write_on_readonly_fd_eacces(void)
{
    int fd = wmt_temp_file(wmt_page(), 1, O_RDONLY, NULL, 0);
    WMT_REQUIRE(fd >= 0);
    WMT_ERRNO(mmap(NULL, wmt_page(), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0), MAP_FAILED,
              EACCES);
    close(fd);
}

void test_mmap__private_write_on_readonly_fd_ok(void)
{
    size_t pg = wmt_page();
    int fd = wmt_temp_file(pg, 3, O_RDONLY, NULL, 0);
    WMT_REQUIRE(fd >= 0);
    unsigned char *p = mmap(NULL, pg, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
    WMT_REQUIRE(p != MAP_FAILED);
    WMT_TRUE(wmt_has_pattern(p, pg, 0, 3));
    p[0] ^= 0xff;
    unsigned char c;
    WMT_EQ(wmt_pread(fd, &c, 1, 0), 1);
    WMT_EQ(c, wmt_pattern(0, 3));
    munmap(p, pg);
    close(fd);
}

void test_mmap__shared_write_seen_by_read(void)
{
    size_t pg = wmt_page();
    int fd = wmt_temp_file(2 * pg, 5, O_RDWR, NULL, 0);
    WMT_REQUIRE(fd >= 0);
    unsigned char *p = mmap(NULL, 2 * pg, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    WMT_REQUIRE(p != MAP_FAILED);
    memcpy(p + pg + 10, "hello", 5);
    char buf[6] = {0};
    WMT_EQ(wmt_pread(fd, buf, 5, (off_t)pg + 10), 5);
    WMT_TRUE(memcmp(buf, "hello", 5) == 0);
    WMT_EQ(munmap(p, 2 * pg), 0);
    close(fd);
}

void test_mmap__shared_write_seen_by_other_mapping(void)
{
    size_t pg = wmt_page();
    int fd = wmt_temp_file(pg, 5, O_RDWR, NULL, 0);
    WMT_REQUIRE(fd >= 0);
    unsigned char *a = mmap(NULL, pg, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    unsigned char *b = mmap(NULL, pg, PROT_READ, MAP_SHARED, fd, 0);
    WMT_REQUIRE(a != MAP_FAILED && b != MAP_FAILED);
    WMT_TRUE(a != b);
    a[123] = 0x5a;
    WMT_EQ(b[123], 0x5a);
    munmap(a, pg);
    munmap(b, pg);
    close(fd);
}

void test_mmap__file_write_seen_by_shared_mapping(void)
{
    size_t pg = wmt_page();
    int fd = wmt_temp_file(pg, 5, O_RDWR, NULL, 0);
    WMT_REQUIRE(fd >= 0);
    unsigned char *p = mmap(NULL, pg, PROT_READ, MAP_SHARED, fd, 0);
    WMT_REQUIRE(p != MAP_FAILED);
    WMT_EQ(wmt_pwrite(fd, "xyz", 3, 40), 3);
    WMT_TRUE(memcmp(p + 40, "xyz", 3) == 0);
    munmap(p, pg);
    close(fd);
}

void test_mmap__private_write_never_reaches_file(void)
{
    size_t pg = wmt_page();
    int fd = wmt_temp_file(2 * pg, 9, O_RDWR, NULL, 0);
    WMT_REQUIRE(fd >= 0);
    unsigned char *shared = mmap(NULL, 2 * pg, PROT_READ, MAP_SHARED, fd, 0);
    unsigned char *priv = mmap(NULL, 2 * pg, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
    WMT_REQUIRE(shared != MAP_FAILED && priv != MAP_FAILED);
    memset(priv, 0, 2 * pg);
    WMT_TRUE(wmt_has_pattern(shared, 2 * pg, 0, 9));
    WMT_EQ(munmap(priv, 2 * pg), 0);
    unsigned char buf[64];
    WMT_EQ(wmt_pread(fd, buf, sizeof buf, (off_t)pg), (long)sizeof buf);
    WMT_TRUE(wmt_has_pattern(buf, sizeof buf, pg, 9));
    munmap(shared, 2 * pg);
    close(fd);
}

void test_mmap__offset_maps_bytes_from_offset(void)
{
    size_t pg = wmt_page();
    int fd = wmt_temp_file(4 * pg, 11, O_RDONLY, NULL, 0);
    WMT_REQUIRE(fd >= 0);
    unsigned char *p = mmap(NULL, pg, PROT_READ, MAP_PRIVATE, fd, (off_t)(2 * pg));
    WMT_REQUIRE(p != MAP_FAILED);
    WMT_TRUE(wmt_has_pattern(p, pg, 2 * pg, 11));
    munmap(p, pg);
    close(fd);
}

void test_mmap__partial_last_page_reads_zeros_and_never_extends_file(void)
{
    size_t pg = wmt_page();
    int fd = wmt_temp_file(100, 13, O_RDWR, NULL, 0);
    WMT_REQUIRE(fd >= 0);
    unsigned char *p = mmap(NULL, 100, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    WMT_REQUIRE(p != MAP_FAILED);
    WMT_TRUE(wmt_has_pattern(p, 100, 0, 13));
    /* Windows maps 4 KiB pages; the legacy strategy's 64 KiB page has its
     * first 4 KiB page mapped and the rest reserved. */
    size_t tail = pg < 4096 ? pg : 4096;
    size_t nonzero = 0;
    for (size_t i = 100; i < tail; i++)
        nonzero += p[i] != 0;
    WMT_EQ(nonzero, 0);
    p[200] = 1;
    WMT_EQ(munmap(p, 100), 0);
    WMT_EQ(wmt_file_size(fd), 100);
    close(fd);
}

void test_mmap__pages_past_eof_are_reserved(void)
{
    size_t pg = wmt_page();
    int fd = wmt_temp_file(pg, 2, O_RDWR, NULL, 0);
    WMT_REQUIRE(fd >= 0);
    unsigned char *p = mmap(NULL, 4 * pg, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    WMT_REQUIRE(p != MAP_FAILED);
    WMT_TRUE(wmt_has_pattern(p, pg, 0, 2));
    WMT_AUDIT();
    /* Nothing else may be placed inside the mapping's range. */
    void *q = mmap(p + 2 * pg, pg, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
    WMT_PTR_EQ(q, MAP_FAILED);
    WMT_EQ(munmap(p, 4 * pg), 0);
    WMT_EQ(wmt_file_size(fd), (long long)pg);
    close(fd);
}

void test_mmap__empty_file_maps_all_past_eof(void)
{
    int fd = wmt_temp_file(0, 2, O_RDWR, NULL, 0);
    WMT_REQUIRE(fd >= 0);
    void *p = mmap(NULL, 2 * wmt_page(), PROT_READ, MAP_SHARED, fd, 0);
    WMT_TRUE(p != MAP_FAILED);
    WMT_AUDIT();
    if (p != MAP_FAILED)
        WMT_EQ(munmap(p, 2 * wmt_page()), 0);
    close(fd);
}

void test_mmap__descriptor_may_be_closed_after_mmap(void)
{
    size_t pg = wmt_page();
    int fd = wmt_temp_file(pg, 21, O_RDWR, NULL, 0);
    WMT_REQUIRE(fd >= 0);
    unsigned char *p = mmap(NULL, pg, PROT_READ, MAP_SHARED, fd, 0);
    close(fd);
    WMT_REQUIRE(p != MAP_FAILED);
    WMT_TRUE(wmt_has_pattern(p, pg, 0, 21));
    WMT_EQ(munmap(p, pg), 0);
}

void test_mmap__prot_none_then_mprotect_rw(void)
{
    size_t len = 4 * wmt_page();
    unsigned char *p = anon(len, PROT_NONE);
    WMT_REQUIRE(p != MAP_FAILED);
    WMT_AUDIT();
    WMT_EQ(mprotect(p + wmt_page(), wmt_page(), PROT_READ | PROT_WRITE), 0);
    p[wmt_page()] = 4;
    WMT_EQ(p[wmt_page()], 4);
    WMT_AUDIT();
    WMT_EQ(munmap(p, len), 0);
}

void test_mmap__hint_used_when_free(void)
{
    size_t len = 2 * wmt_page();
    char *p = anon(len, PROT_READ);
    WMT_REQUIRE(p != MAP_FAILED);
    munmap(p, len);
    char *q = mmap(p, len, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    WMT_PTR_EQ(q, p);
    munmap(q, len);
}

void test_mmap__fixed_noreplace_over_mapping_eexist(void)
{
    size_t pg = wmt_page();
    char *p = anon(2 * pg, PROT_READ);
    WMT_REQUIRE(p != MAP_FAILED);
    WMT_ERRNO(mmap(p + pg, pg, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0),
              MAP_FAILED, EEXIST);
    munmap(p, 2 * pg);
}

void test_mmap__fixed_noreplace_on_free_range_maps_there(void)
{
    size_t pg = wmt_page();
    char *p = anon(3 * pg, PROT_READ);
    WMT_REQUIRE(p != MAP_FAILED);
    munmap(p, 3 * pg);
    char *q = mmap(p + pg, pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE,
                   -1, 0);
    WMT_PTR_EQ(q, p + pg);
    if (q != MAP_FAILED) {
        q[0] = 1;
        munmap(q, pg);
    }
}

static void fill(unsigned char *p, size_t len, unsigned char seed)
{
    for (size_t i = 0; i < len; i++)
        p[i] = wmt_pattern(i, seed);
}

void test_mmap__fixed_replaces_exactly_the_covered_pages(void)
{
    size_t pg = wmt_page();
    unsigned char *p = anon(3 * pg, PROT_READ | PROT_WRITE);
    WMT_REQUIRE(p != MAP_FAILED);
    fill(p, 3 * pg, 1);
    unsigned char *q = mmap(p + pg, pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
    WMT_PTR_EQ(q, p + pg);
    WMT_TRUE(wmt_has_pattern(p, pg, 0, 1));
    WMT_EQ(q[0], 0);
    WMT_EQ(q[pg - 1], 0);
    WMT_TRUE(wmt_has_pattern(p + 2 * pg, pg, 2 * pg, 1));
    WMT_AUDIT();
    WMT_EQ(munmap(p, 3 * pg), 0);
    WMT_AUDIT();
}

void test_mmap__fixed_over_several_mappings_and_holes(void)
{
    size_t pg = wmt_page();
    unsigned char *p = anon(6 * pg, PROT_READ | PROT_WRITE);
    WMT_REQUIRE(p != MAP_FAILED);
    /* Three mappings with holes: [0,1) [2,3) [4,6) */
    munmap(p + pg, pg);
    munmap(p + 3 * pg, pg);
    fill(p, pg, 3);
    fill(p + 4 * pg, 2 * pg, 4);
    int fd = wmt_temp_file(3 * pg, 6, O_RDWR, NULL, 0);
    WMT_REQUIRE(fd >= 0);
    unsigned char *q = mmap(p + pg, 4 * pg, PROT_READ, MAP_SHARED | MAP_FIXED, fd, 0);
    WMT_PTR_EQ(q, p + pg);
    WMT_TRUE(wmt_has_pattern(p, pg, 0, 3));
    WMT_TRUE(wmt_has_pattern(q, 3 * pg, 0, 6));
    WMT_TRUE(wmt_has_pattern(p + 5 * pg, pg, pg, 4));
    WMT_AUDIT();
    WMT_EQ(munmap(p, 6 * pg), 0);
    WMT_AUDIT();
    close(fd);
}

void test_mmap__fixed_over_written_private_file_keeps_the_rest(void)
{
    size_t pg = wmt_page();
    int fd = wmt_temp_file(3 * pg, 8, O_RDWR, NULL, 0);
    WMT_REQUIRE(fd >= 0);
    unsigned char *p = mmap(NULL, 3 * pg, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
    WMT_REQUIRE(p != MAP_FAILED);
    fill(p, 3 * pg, 50);
    unsigned char *q = mmap(p + pg, pg, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
    WMT_PTR_EQ(q, p + pg);
    WMT_TRUE(wmt_has_pattern(p, pg, 0, 50));
    WMT_TRUE(wmt_has_pattern(p + 2 * pg, pg, 2 * pg, 50));
    WMT_EQ(q[5], 0);
    unsigned char buf[16];
    WMT_EQ(wmt_pread(fd, buf, sizeof buf, 0), (long)sizeof buf);
    WMT_TRUE(wmt_has_pattern(buf, sizeof buf, 0, 8));
    WMT_AUDIT();
    munmap(p, 3 * pg);
    close(fd);
}

void test_mmap__fixed_over_foreign_memory_enomem(void)
{
    /* Linux would replace whatever is there; winmmap refuses to overwrite
     * memory it did not map (heap, images, stacks). */
    size_t pg = wmt_page();
    char *heap = malloc(4 * pg);
    WMT_REQUIRE(heap != NULL);
    uintptr_t a = ((uintptr_t)heap + pg - 1) & ~(uintptr_t)(pg - 1);
    WMT_ERRNO(mmap((void *)a, pg, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0),
              MAP_FAILED, ENOMEM);
    free(heap);
}

void test_mmap__offset_overflow_eoverflow(void)
{
    size_t pg = wmt_page();
    int fd = wmt_temp_file(pg, 1, O_RDWR, NULL, 0);
    WMT_REQUIRE(fd >= 0);
    int64_t off = INT64_MAX - (int64_t)pg + 1;
    WMT_ERRNO(mmap(NULL, 2 * pg, PROT_READ, MAP_SHARED, fd, (off_t)off), MAP_FAILED, EOVERFLOW);
    close(fd);
}

void test_mmap__huge_length_enomem(void)
{
    WMT_ERRNO(anon(SIZE_MAX - 10, PROT_READ), MAP_FAILED, ENOMEM);
}

void test_mmap__pagesize_matches_strategy(void)
{
#if !WMT_HAVE_PAGESIZE
    WMT_LACKS("sysconf(_SC_PAGESIZE)");
#else
    long sc = sysconf(_SC_PAGESIZE);
    WMT_EQ(sc, getpagesize());
#if defined(_WIN32) && WMT_HAVE_INFO
    const char *want = getenv("WINMMAP_STRATEGY");
    if (want && strcmp(want, "exact") == 0)
        WMT_EQ(sc, 4096);
    else if (want && strcmp(want, "legacy") == 0)
        WMT_EQ(sc, 65536);
    else
        WMT_TRUE(sc == 4096 || sc == 65536);
#else
    WMT_TRUE(sc >= 4096 && (sc & (sc - 1)) == 0);
#endif
#endif
}

void test_mmap__every_prot_combination_maps(void)
{
    size_t pg = wmt_page();
    int fd = wmt_temp_file(pg, 1, O_RDWR, NULL, 0);
    WMT_REQUIRE(fd >= 0);
    for (int prot = 0; prot <= (PROT_READ | PROT_WRITE | PROT_EXEC); prot++) {
        int kinds[3] = {MAP_PRIVATE | MAP_ANONYMOUS, MAP_PRIVATE, MAP_SHARED};
        for (int k = 0; k < 3; k++) {
            void *p = mmap(NULL, pg, prot, kinds[k], kinds[k] & MAP_ANONYMOUS ? -1 : fd, 0);
            if (p == MAP_FAILED)
                wmt_fail(__LINE__, __FILE__, "prot %d flags %#x: errno %d", prot, kinds[k], errno);
            else
                WMT_EQ(munmap(p, pg), 0);
        }
    }
    WMT_AUDIT();
    close(fd);
}

void test_mmap__prot_exec_runs_code(void)
{
#if defined(__x86_64__) || defined(_M_X64)
    size_t pg = wmt_page();
    unsigned char *p = mmap(NULL, pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    WMT_REQUIRE(p != MAP_FAILED);
    /* mov eax, 42; ret */
    static const unsigned char code[] = {0xb8, 42, 0, 0, 0, 0xc3};
    memcpy(p, code, sizeof code);
    WMT_EQ(mprotect(p, pg, PROT_READ | PROT_EXEC), 0);
    int (*fn)(void);
    memcpy(&fn, &p, sizeof fn);
    WMT_EQ(fn(), 42);
    munmap(p, pg);
#else
    WMT_TRUE(!"this test knows only x86-64 machine code");
#endif
}

void test_mmap__populate_and_noreserve_are_accepted(void)
{
    size_t pg = wmt_page();
    int fd = wmt_temp_file(2 * pg, 17, O_RDWR, NULL, 0);
    WMT_REQUIRE(fd >= 0);
    unsigned char *p = mmap(NULL, 2 * pg, PROT_READ, MAP_SHARED | MAP_POPULATE, fd, 0);
    WMT_REQUIRE(p != MAP_FAILED);
    WMT_TRUE(wmt_has_pattern(p, 2 * pg, 0, 17));
    munmap(p, 2 * pg);
    unsigned char *q = mmap(NULL, 8 * pg, PROT_READ | PROT_WRITE,
                            MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    WMT_REQUIRE(q != MAP_FAILED);
    q[7 * pg] = 3;
    WMT_EQ(q[7 * pg] + q[0], 3);
    munmap(q, 8 * pg);
    close(fd);
}

void test_mmap__map_anon_maps_zeroed_anonymous_memory(void)
{
    size_t pg = wmt_page();
    WMT_EQ(MAP_ANON, MAP_ANONYMOUS);
    /* The descriptor is ignored with MAP_ANON, as with MAP_ANONYMOUS. */
    unsigned char *p = mmap(NULL, 2 * pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANON, -1, 0);
    unsigned char *q = mmap(NULL, pg, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANON, -1, 0);
    WMT_REQUIRE(p != MAP_FAILED && q != MAP_FAILED);
    WMT_EQ(p[0] + p[2 * pg - 1] + q[pg - 1], 0);
    p[2 * pg - 1] = 7;
    q[0] = 8;
    WMT_EQ(p[2 * pg - 1] + q[0], 15);
    munmap(p, 2 * pg);
    munmap(q, pg);
}

void test_mmap__negative_file_offset_eoverflow(void)
{
    size_t pg = wmt_page();
    int fd = wmt_temp_file(pg, 1, O_RDWR, NULL, 0);
    WMT_REQUIRE(fd >= 0);
    WMT_ERRNO(mmap(NULL, pg, PROT_READ, MAP_SHARED, fd, -(off_t)pg), MAP_FAILED, EOVERFLOW);
    /* Anonymous memory ignores the offset. */
    void *a = mmap(NULL, pg, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, -(off_t)pg);
    WMT_TRUE(a != MAP_FAILED);
    if (a != MAP_FAILED)
        munmap(a, pg);
    close(fd);
}

void test_mmap__directory_enodev(void)
{
#ifdef _WIN32
    /* The C runtime's open() refuses directories; a handle can still become
     * a descriptor. */
    char dir[MAX_PATH];
    GetTempPathA(sizeof dir, dir);
    HANDLE h = CreateFileA(dir, GENERIC_READ, FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE,
                           NULL, OPEN_EXISTING, FILE_FLAG_BACKUP_SEMANTICS, NULL);
    WMT_REQUIRE(h != INVALID_HANDLE_VALUE);
    int fd = _open_osfhandle((intptr_t)h, _O_RDONLY);
#else
    int fd = open("/tmp", O_RDONLY);
#endif
    WMT_REQUIRE(fd >= 0);
    WMT_ERRNO(mmap(NULL, wmt_page(), PROT_READ, MAP_PRIVATE, fd, 0), MAP_FAILED, ENODEV);
    close(fd);
}

void test_mmap__empty_read_only_file_shared_write_eacces(void)
{
    size_t pg = wmt_page();
    int fd = wmt_temp_file(0, 1, O_RDONLY, NULL, 0);
    WMT_REQUIRE(fd >= 0);
    WMT_ERRNO(mmap(NULL, pg, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0), MAP_FAILED, EACCES);
    void *p = mmap(NULL, pg, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
    WMT_TRUE(p != MAP_FAILED);
    if (p != MAP_FAILED)
        munmap(p, pg);
    void *r = mmap(NULL, pg, PROT_READ, MAP_SHARED, fd, 0);
    WMT_TRUE(r != MAP_FAILED);
    if (r != MAP_FAILED) {
        WMT_ERRNO(mprotect(r, pg, PROT_READ | PROT_WRITE), -1, EACCES);
        munmap(r, pg);
    }
    close(fd);
}

void test_mmap__fixed_over_a_mapping_and_holes_in_a_reserved_range(void)
{
    size_t pg = wmt_page();
    unsigned char *arena = mmap(NULL, 48 * pg, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    WMT_REQUIRE(arena != MAP_FAILED);
    WMT_REQUIRE(munmap(arena + 32 * pg, 16 * pg) == 0); /* free memory after the range */
    unsigned char *a = mmap(arena + 4 * pg, 8 * pg, PROT_READ | PROT_WRITE,
                            MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
    WMT_REQUIRE(a == arena + 4 * pg);
    memset(a, 1, 8 * pg);
    WMT_REQUIRE(munmap(arena + 7 * pg, pg) == 0);   /* a hole inside the mapping */
    WMT_REQUIRE(munmap(arena + 13 * pg, 3 * pg) == 0); /* and one after it in the arena */
    for (int round = 0; round < 3; round++) {
        /* Pages of the mapping, its hole, more of it, the arena's hole. */
        size_t from = 5 + (size_t)round, to = 15 + (size_t)round;
        unsigned char *f = mmap(arena + from * pg, (to - from) * pg, PROT_READ | PROT_WRITE,
                                MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
        WMT_PTR_EQ(f, arena + from * pg);
        if (f == MAP_FAILED)
            break;
        WMT_EQ(f[0] + f[(to - from) * pg - 1], 0);
        WMT_EQ(arena[4 * pg], 1); /* what lies before is kept */
        WMT_REQUIRE(munmap(arena + 7 * pg, pg) == 0);
        WMT_REQUIRE(munmap(arena + 13 * pg, 3 * pg) == 0);
        WMT_AUDIT();
    }
    /* A hole at the end of the range, running on into free memory. */
    WMT_REQUIRE(munmap(arena + 28 * pg, 4 * pg) == 0);
    unsigned char *g = mmap(arena + 26 * pg, 12 * pg, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
    WMT_PTR_EQ(g, arena + 26 * pg);
    WMT_AUDIT();
    munmap(arena, 38 * pg);
}
