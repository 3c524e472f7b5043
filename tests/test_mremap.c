/* mremap (Linux): shrink, grow in place, move, MREMAP_FIXED, MREMAP_DONTUNMAP. */
#define _GNU_SOURCE
#include "wmtest.h"

#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <sys/mman.h>
#include <unistd.h>

#define RW (PROT_READ | PROT_WRITE)
#define ANON (MAP_PRIVATE | MAP_ANONYMOUS)

static int is_free(void *p, size_t len)
{
    void *q = mmap(p, len, PROT_READ, ANON | MAP_FIXED_NOREPLACE, -1, 0);
    if (q == MAP_FAILED)
        return 0;
    munmap(q, len);
    return q == p;
}

void test_mremap__shrink_in_place_keeps_data(void)
{
    size_t pg = wmt_page();
    unsigned char *p = wmt_anon_filled(4 * pg, 1);
    WMT_REQUIRE(p != MAP_FAILED);
    WMT_PTR_EQ(mremap(p, 4 * pg, 2 * pg, 0), p);
    WMT_TRUE(wmt_has_pattern(p, 2 * pg, 0, 1));
    WMT_TRUE(is_free(p + 2 * pg, 2 * pg));
    WMT_AUDIT();
    munmap(p, 2 * pg);
}

void test_mremap__grow_in_place_when_the_next_pages_are_free(void)
{
    size_t pg = wmt_page();
    unsigned char *p = wmt_anon_filled(4 * pg, 2);
    WMT_REQUIRE(p != MAP_FAILED);
    WMT_REQUIRE(munmap(p + 2 * pg, 2 * pg) == 0);
    WMT_PTR_EQ(mremap(p, 2 * pg, 4 * pg, 0), p);
    WMT_TRUE(wmt_has_pattern(p, 2 * pg, 0, 2));
    WMT_EQ(p[3 * pg + 7], 0);
    p[3 * pg + 7] = 1;
    WMT_AUDIT();
    munmap(p, 4 * pg);
}

void test_mremap__grow_blocked_without_maymove_enomem(void)
{
    size_t pg = wmt_page();
    unsigned char *p = wmt_anon_filled(4 * pg, 3);
    WMT_REQUIRE(p != MAP_FAILED);
    WMT_REQUIRE(munmap(p + 2 * pg, 2 * pg) == 0);
    void *q = mmap(p + 2 * pg, pg, PROT_READ, ANON | MAP_FIXED_NOREPLACE, -1, 0);
    WMT_REQUIRE(q == p + 2 * pg);
    WMT_ERRNO(mremap(p, 2 * pg, 4 * pg, 0), MAP_FAILED, ENOMEM);
    WMT_TRUE(wmt_has_pattern(p, 2 * pg, 0, 3));
    WMT_AUDIT();
    munmap(p, 3 * pg);
}

void test_mremap__maymove_moves_with_data_and_protection(void)
{
    size_t pg = wmt_page();
    unsigned char *p = wmt_anon_filled(3 * pg, 4);
    WMT_REQUIRE(p != MAP_FAILED);
    WMT_REQUIRE(munmap(p + 2 * pg, pg) == 0);
    void *q = mmap(p + 2 * pg, pg, PROT_READ, ANON | MAP_FIXED_NOREPLACE, -1, 0);
    WMT_REQUIRE(q == p + 2 * pg);
    unsigned char *r = mremap(p, 2 * pg, 5 * pg, MREMAP_MAYMOVE);
    WMT_REQUIRE(r != MAP_FAILED);
    WMT_TRUE(r != p);
    WMT_TRUE(wmt_has_pattern(r, 2 * pg, 0, 4));
    WMT_EQ(r[4 * pg], 0);
    r[0] = 9;      /* still writable */
    r[4 * pg] = 9; /* the new pages too */
    WMT_TRUE(is_free(p, 2 * pg));
    WMT_AUDIT();
    munmap(r, 5 * pg);
    munmap(q, pg);
}

void test_mremap__moved_shared_file_mapping_still_writes_the_file(void)
{
    size_t pg = wmt_page();
    int fd = wmt_temp_file(4 * pg, 5, O_RDWR, NULL, 0);
    WMT_REQUIRE(fd >= 0);
    /* Three pages: the file over the first two, the third blocks growth. */
    unsigned char *p = mmap(NULL, 3 * pg, PROT_READ, ANON, -1, 0);
    WMT_REQUIRE(p != MAP_FAILED);
    WMT_REQUIRE(mmap(p, 2 * pg, RW, MAP_SHARED | MAP_FIXED, fd, 0) == p);
    void *q = p + 2 * pg;
    unsigned char *r = mremap(p, 2 * pg, 4 * pg, MREMAP_MAYMOVE);
    WMT_REQUIRE(r != MAP_FAILED);
    WMT_TRUE(wmt_has_pattern(r, 4 * pg, 0, 5));
    r[3 * pg + 1] = 0x77;
    unsigned char c;
    WMT_EQ(wmt_pread(fd, &c, 1, 3 * (long long)pg + 1), 1);
    WMT_EQ(c, 0x77);
    WMT_AUDIT();
    munmap(r, 4 * pg);
    munmap(q, pg);
    close(fd);
}

void test_mremap__moved_private_file_mapping_keeps_its_private_pages(void)
{
    size_t pg = wmt_page();
    int fd = wmt_temp_file(3 * pg, 6, O_RDWR, NULL, 0);
    WMT_REQUIRE(fd >= 0);
    unsigned char *p = mmap(NULL, 3 * pg, PROT_READ, ANON, -1, 0);
    WMT_REQUIRE(p != MAP_FAILED);
    WMT_REQUIRE(mmap(p, 2 * pg, RW, MAP_PRIVATE | MAP_FIXED, fd, 0) == p);
    void *q = p + 2 * pg;
    p[5] = 0x55;
    unsigned char *r = mremap(p, 2 * pg, 3 * pg, MREMAP_MAYMOVE);
    WMT_REQUIRE(r != MAP_FAILED);
    WMT_EQ(r[5], 0x55);
    WMT_TRUE(wmt_has_pattern(r + pg, 2 * pg, pg, 6));
    unsigned char c;
    WMT_EQ(wmt_pread(fd, &c, 1, 5), 1);
    WMT_EQ(c, wmt_pattern(5, 6)); /* the file never saw the private write */
    WMT_AUDIT();
    munmap(r, 3 * pg);
    munmap(q, pg);
    close(fd);
}

void test_mremap__fixed_moves_to_the_given_address(void)
{
    size_t pg = wmt_page();
    unsigned char *p = wmt_anon_filled(2 * pg, 7);
    unsigned char *t = mmap(NULL, 2 * pg, PROT_READ, ANON, -1, 0);
    WMT_REQUIRE(p != MAP_FAILED && t != MAP_FAILED);
    WMT_PTR_EQ(mremap(p, 2 * pg, 2 * pg, MREMAP_MAYMOVE | MREMAP_FIXED, t), t);
    WMT_TRUE(wmt_has_pattern(t, 2 * pg, 0, 7));
    WMT_TRUE(is_free(p, 2 * pg));
    WMT_AUDIT();
    munmap(t, 2 * pg);
}

/* Some Linux kernels (this sandbox's among them) refuse MREMAP_DONTUNMAP. */
const char *wmt_dontunmap_refused(void)
{
#ifndef _WIN32
    void *p = mmap(NULL, 4096, RW, ANON, -1, 0);
    void *r = mremap(p, 4096, 4096, MREMAP_MAYMOVE | MREMAP_DONTUNMAP);
    munmap(p, 4096);
    if (r == MAP_FAILED)
        return "this kernel refuses MREMAP_DONTUNMAP on private anonymous memory";
    munmap(r, 4096);
#endif
    return NULL;
}

void test_mremap__dontunmap_leaves_the_old_range_empty(void)
{
    size_t pg = wmt_page();
    unsigned char *p = wmt_anon_filled(2 * pg, 8);
    WMT_REQUIRE(p != MAP_FAILED);
    unsigned char *r = mremap(p, 2 * pg, 2 * pg, MREMAP_MAYMOVE | MREMAP_DONTUNMAP);
    WMT_REQUIRE(r != MAP_FAILED);
    WMT_TRUE(r != p);
    WMT_TRUE(wmt_has_pattern(r, 2 * pg, 0, 8));
    WMT_EQ(p[10], 0); /* still mapped, its pages gone */
    WMT_EQ(p[pg + 10], 0);
    WMT_AUDIT();
    munmap(r, 2 * pg);
    munmap(p, 2 * pg);
}

void test_mremap__bad_arguments(void)
{
    size_t pg = wmt_page();
    unsigned char *p = wmt_anon_filled(2 * pg, 9);
    WMT_REQUIRE(p != MAP_FAILED);
    WMT_ERRNO(mremap(p + 1, pg, 2 * pg, MREMAP_MAYMOVE), MAP_FAILED, EINVAL);
    WMT_ERRNO(mremap(p, pg, 2 * pg, 0x100), MAP_FAILED, EINVAL);
    WMT_ERRNO(mremap(p, pg, 2 * pg, MREMAP_FIXED, p + 8 * pg), MAP_FAILED, EINVAL);
    WMT_ERRNO(mremap(p, pg, 0, MREMAP_MAYMOVE), MAP_FAILED, EINVAL);
    WMT_ERRNO(mremap(p, 2 * pg, 2 * pg, MREMAP_MAYMOVE | MREMAP_FIXED, p + pg), MAP_FAILED, EINVAL);
    WMT_REQUIRE(munmap(p + pg, pg) == 0);
    WMT_ERRNO(mremap(p, 2 * pg, 3 * pg, MREMAP_MAYMOVE), MAP_FAILED, EFAULT);
    WMT_TRUE(wmt_has_pattern(p, pg, 0, 9));
    munmap(p, pg);
}

#if WMT_HAVE_SIGNALS
static sigjmp_buf bus_jump;
static volatile int bus_sig;

static void on_bus(int sig)
{
    bus_sig = sig;
    siglongjmp(bus_jump, 1);
}

/* The signal a read of *p raises (0: none). */
static int signal_on_read(volatile unsigned char *p)
{
    struct sigaction sa, old_bus, old_segv;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_bus;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGBUS, &sa, &old_bus);
    sigaction(SIGSEGV, &sa, &old_segv);
    bus_sig = 0;
    if (sigsetjmp(bus_jump, 1) == 0)
        (void)*p;
    sigaction(SIGBUS, &old_bus, NULL);
    sigaction(SIGSEGV, &old_segv, NULL);
    return bus_sig;
}
#else
/* Only reached by tests that are skipped without signals (wmt_needs_signals). */
#ifndef SIGBUS
#define SIGBUS 7
#endif
static int signal_on_read(volatile unsigned char *p)
{
    (void)p;
    WMT_LACKS("sigaction");
    return -1;
}
#endif

void test_mremap__moving_pages_past_end_of_file_raises_no_signal(void)
{
    size_t pg = wmt_page();
    for (int shared = 0; shared < 2; shared++) {
        int fd = wmt_temp_file(4 * pg, 3, O_RDWR, NULL, 0);
        WMT_REQUIRE(fd >= 0);
        unsigned char *p = mmap(NULL, 2 * pg, PROT_READ | PROT_WRITE, shared ? MAP_SHARED : MAP_PRIVATE, fd, 0);
        unsigned char *dst = mmap(NULL, pg, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        WMT_REQUIRE(p != MAP_FAILED && dst != MAP_FAILED);
        WMT_REQUIRE(ftruncate(fd, 0) == 0);
        unsigned char *q = mremap(p, pg, pg, MREMAP_MAYMOVE | MREMAP_FIXED, dst);
        WMT_PTR_EQ(q, dst);
        WMT_TRUE(is_free(p, pg));
        if (shared)
            WMT_EQ(signal_on_read(q), SIGBUS); /* past end of file, where it moved */
        WMT_AUDIT();
        munmap(p + pg, pg);
        munmap(dst, pg);
        close(fd);
    }
}

void test_mremap__part_of_a_file_mapping_moves_with_its_offsets(void)
{
    size_t pg = wmt_page();
    int fd = wmt_temp_file(4 * pg, 4, O_RDWR, NULL, 0);
    WMT_REQUIRE(fd >= 0);
    unsigned char *p = mmap(NULL, 4 * pg, PROT_READ, MAP_SHARED, fd, 0);
    unsigned char *dst = mmap(NULL, 2 * pg, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    WMT_REQUIRE(p != MAP_FAILED && dst != MAP_FAILED);
    unsigned char *q = mremap(p + pg, 2 * pg, 2 * pg, MREMAP_MAYMOVE | MREMAP_FIXED, dst);
    WMT_PTR_EQ(q, dst);
    WMT_TRUE(wmt_has_pattern(q, 2 * pg, pg, 4));
    WMT_TRUE(wmt_has_pattern(p, pg, 0, 4));
    WMT_TRUE(wmt_has_pattern(p + 3 * pg, pg, 3 * pg, 4));
    WMT_TRUE(is_free(p + pg, 2 * pg));
    WMT_AUDIT();
    munmap(p, 4 * pg);
    munmap(dst, 2 * pg);
    close(fd);
}

void test_mremap__range_beyond_one_mapping_efault(void)
{
    size_t pg = wmt_page();
    int fa = wmt_temp_file(2 * pg, 5, O_RDWR, NULL, 0), fb = wmt_temp_file(2 * pg, 6, O_RDWR, NULL, 0);
    WMT_REQUIRE(fa >= 0 && fb >= 0);
    unsigned char *arena = mmap(NULL, 6 * pg, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    WMT_REQUIRE(arena != MAP_FAILED);
    unsigned char *a = mmap(arena, 2 * pg, PROT_READ, MAP_SHARED | MAP_FIXED, fa, 0);
    unsigned char *b = mmap(arena + 2 * pg, 2 * pg, PROT_READ, MAP_SHARED | MAP_FIXED, fb, 0);
    WMT_REQUIRE(a == arena && b == arena + 2 * pg);
    WMT_REQUIRE(munmap(arena + 4 * pg, 2 * pg) == 0);
    /* Two mappings (two files). */
    WMT_ERRNO(mremap(a + pg, 2 * pg, 3 * pg, MREMAP_MAYMOVE), MAP_FAILED, EFAULT);
    /* Past the end of a mapping, into unmapped pages. */
    WMT_ERRNO(mremap(b, 3 * pg, 4 * pg, MREMAP_MAYMOVE), MAP_FAILED, EFAULT);
    /* Into a PROT_NONE guard page: another mapping as Linux counts them. */
    unsigned char *g = mmap(NULL, 3 * pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    WMT_REQUIRE(g != MAP_FAILED);
    WMT_REQUIRE(mprotect(g + 2 * pg, pg, PROT_NONE) == 0);
    WMT_ERRNO(mremap(g, 3 * pg, 4 * pg, MREMAP_MAYMOVE), MAP_FAILED, EFAULT);
    WMT_TRUE(wmt_has_pattern(a, 2 * pg, 0, 5) && wmt_has_pattern(b, 2 * pg, 0, 6));
    WMT_AUDIT();
    munmap(g, 3 * pg);
    munmap(arena, 4 * pg);
    close(fa);
    close(fb);
}

void test_mremap__growing_in_place_before_a_mapped_page_enomem(void)
{
    size_t pg = wmt_page();
    int fd = wmt_temp_file(4 * pg, 7, O_RDWR, NULL, 0);
    WMT_REQUIRE(fd >= 0);
    unsigned char *p = mmap(NULL, 3 * pg, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
    WMT_REQUIRE(p != MAP_FAILED);
    WMT_REQUIRE(mmap(p + 2 * pg, pg, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) == p + 2 * pg);
    WMT_ERRNO(mremap(p, 2 * pg, 3 * pg, 0), MAP_FAILED, ENOMEM);
    /* Inside a mapping: the next page is the mapping's own. */
    unsigned char *q = mmap(NULL, 3 * pg, PROT_READ, MAP_PRIVATE, fd, 0);
    WMT_REQUIRE(q != MAP_FAILED);
    WMT_ERRNO(mremap(q, pg, 2 * pg, 0), MAP_FAILED, ENOMEM);
    WMT_AUDIT();
    munmap(p, 3 * pg);
    munmap(q, 3 * pg);
    close(fd);
}

void test_mremap__shared_anonymous_grown_past_its_object_sigbus(void)
{
    size_t pg = wmt_page();
    unsigned char *p = mmap(NULL, 2 * pg, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    WMT_REQUIRE(p != MAP_FAILED);
    memset(p, 9, 2 * pg);
    unsigned char *q = mremap(p, 2 * pg, 3 * pg, MREMAP_MAYMOVE);
    WMT_REQUIRE(q != MAP_FAILED);
    WMT_EQ(q[0] + q[2 * pg - 1], 18);
    WMT_EQ(signal_on_read(q + 2 * pg), SIGBUS);
    WMT_AUDIT();
    munmap(q, 3 * pg);
}

void test_mremap__pages_it_frees_take_a_fixed_mapping(void)
{
    /* Found by random testing: moves free pages of a reserved range, a later
     * move lands inside them, and a MAP_FIXED mapping then covers the pieces
     * left free on each side of it. */
    size_t pg = wmt_page();
    int fd = wmt_temp_file(2 * pg, 11, O_RDWR, NULL, 0);
    WMT_REQUIRE(fd >= 0);
    unsigned char *a = mmap(NULL, 40 * pg, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    WMT_REQUIRE(a != MAP_FAILED);
    WMT_PTR_EQ(mremap(a + 15 * pg, 9 * pg, pg, MREMAP_MAYMOVE | MREMAP_FIXED, a + 32 * pg), a + 32 * pg);
    WMT_PTR_EQ(mremap(a + 34 * pg, pg, 4 * pg, MREMAP_MAYMOVE | MREMAP_FIXED, a + 19 * pg), a + 19 * pg);
    unsigned char *p = mmap(a + 17 * pg, 12 * pg, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, fd, 0);
    WMT_PTR_EQ(p, a + 17 * pg);
    if (p == a + 17 * pg)
        WMT_EQ(p[pg + 5], wmt_pattern(pg + 5, 11));
    WMT_AUDIT();
    munmap(a, 40 * pg);
    close(fd);
}
