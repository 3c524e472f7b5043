/* msync: flags, errors, and writes reaching the file. */
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

#ifndef O_BINARY
#define O_BINARY 0
#endif

void test_msync__after_ms_sync_read_returns_the_mapped_writes(void)
{
    size_t pg = wmt_page();
    int fd = wmt_temp_file(2 * pg, 1, O_RDWR, NULL, 0);
    WMT_REQUIRE(fd >= 0);
    unsigned char *p = mmap(NULL, 2 * pg, RW, MAP_SHARED, fd, 0);
    WMT_REQUIRE(p != MAP_FAILED);
    memcpy(p + pg + 3, "durable", 7);
    WMT_EQ(msync(p, 2 * pg, MS_SYNC), 0);
    char buf[8] = {0};
    WMT_EQ(wmt_pread(fd, buf, 7, (long long)pg + 3), 7);
    WMT_TRUE(memcmp(buf, "durable", 7) == 0);
    munmap(p, 2 * pg);
    close(fd);
}

#if defined(_WIN32) && WMT_HAVE_HOOKS
/* What reaches the disk cannot be seen from here; what can is that msync
 * asks Windows for it.  Counting wrappers in the engine's call table. */
static BOOL(WINAPI *real_flush_view)(LPCVOID, SIZE_T);
static BOOL(WINAPI *real_flush_file)(HANDLE);
static int flushed_views, flushed_files;
static uintptr_t flushed_lo, flushed_hi;

static BOOL WINAPI count_flush_view(LPCVOID a, SIZE_T n)
{
    flushed_views++;
    if ((uintptr_t)a < flushed_lo)
        flushed_lo = (uintptr_t)a;
    if ((uintptr_t)a + n > flushed_hi)
        flushed_hi = (uintptr_t)a + n;
    return real_flush_view(a, n);
}

static BOOL WINAPI count_flush_file(HANDLE h)
{
    flushed_files++;
    return real_flush_file(h);
}

/* The file index of the handle FlushFileBuffers was last given. */
static uint64_t flushed_index;
static uint64_t index_of(HANDLE h)
{
    BY_HANDLE_FILE_INFORMATION fi;
    return GetFileInformationByHandle(h, &fi) ? (uint64_t)fi.nFileIndexHigh << 32 | fi.nFileIndexLow : 0;
}

static BOOL WINAPI note_flushed_file(HANDLE h)
{
    flushed_files++;
    flushed_index = index_of(h);
    return real_flush_file(h);
}
#endif

void test_msync__ms_sync_writes_the_pages_and_flushes_the_file(void)
{
#if defined(_WIN32) && !WMT_HAVE_HOOKS
    WMT_LACKS("winmmap's test hooks");
#elif defined(_WIN32)
    size_t pg = wmt_page();
    int fd = wmt_temp_file(2 * pg, 1, O_RDWR, NULL, 0);
    WMT_REQUIRE(fd >= 0);
    unsigned char *p = mmap(NULL, 2 * pg, RW, MAP_SHARED, fd, 0);
    WMT_REQUIRE(p != MAP_FAILED);
    p[pg + 1] = 9;
    real_flush_view = wm_sys.FlushViewOfFile;
    real_flush_file = wm_sys.FlushFileBuffers;
    wm_sys.FlushViewOfFile = count_flush_view;
    wm_sys.FlushFileBuffers = count_flush_file;
    flushed_views = flushed_files = 0;
    flushed_lo = UINTPTR_MAX, flushed_hi = 0;
    int rc_async = msync(p, 2 * pg, MS_ASYNC);
    int views_async = flushed_views, files_async = flushed_files;
    int rc_sync = msync(p + pg, pg, MS_SYNC);
    wm_sys.FlushViewOfFile = real_flush_view;
    wm_sys.FlushFileBuffers = real_flush_file;
    WMT_EQ(rc_async, 0);
    WMT_EQ(rc_sync, 0);
    WMT_TRUE(views_async >= 1); /* MS_ASYNC starts writing the pages... */
    WMT_EQ(files_async, 0);     /* ...without waiting for the disk */
    WMT_TRUE(flushed_views > views_async);
    WMT_EQ(flushed_files, 1); /* MS_SYNC waits for the file's data */
    WMT_TRUE(flushed_lo <= (uintptr_t)p + pg + 1 && flushed_hi > (uintptr_t)p + pg + 1);
    munmap(p, 2 * pg);
    close(fd);
#endif
}

/* POSIX lets the descriptor be closed right after mmap: MS_SYNC still waits
 * for that file, also when the descriptor's number (on Windows its handle
 * value) now belongs to another file. */
void test_msync__ms_sync_after_the_descriptor_is_closed_syncs_the_mapped_file(void)
{
    size_t pg = wmt_page();
    char path[256];
    int fd = wmt_temp_file(2 * pg, 1, O_RDWR, path, sizeof path);
    WMT_REQUIRE(fd >= 0);
    unsigned char *p = mmap(NULL, 2 * pg, RW, MAP_SHARED, fd, 0);
    WMT_REQUIRE(p != MAP_FAILED);
#if defined(_WIN32) && WMT_HAVE_HOOKS
    uint64_t mapped_index = index_of((HANDLE)_get_osfhandle(fd));
#endif
    close(fd);
    int other = wmt_temp_file(pg, 2, O_RDWR, NULL, 0); /* likely the number (and handle) just freed */
    WMT_REQUIRE(other >= 0);
    p[pg + 3] = 0x5c;
#if defined(_WIN32) && WMT_HAVE_HOOKS
    real_flush_file = wm_sys.FlushFileBuffers;
    wm_sys.FlushFileBuffers = note_flushed_file;
    flushed_files = 0;
    flushed_index = 0;
#endif
    int rc = msync(p, 2 * pg, MS_SYNC);
#if defined(_WIN32) && WMT_HAVE_HOOKS
    wm_sys.FlushFileBuffers = real_flush_file;
    WMT_EQ(flushed_files, 1);
    WMT_TRUE(flushed_index == mapped_index); /* the mapped file's, not the other's */
#endif
    WMT_EQ(rc, 0);
    int again = open(path, O_RDONLY | O_BINARY);
    WMT_REQUIRE(again >= 0);
    unsigned char c = 0;
    WMT_EQ(wmt_pread(again, &c, 1, (long long)pg + 3), 1);
    WMT_EQ(c, 0x5c);
    WMT_EQ(wmt_pread(other, &c, 1, 3), 1);
    WMT_EQ(c, wmt_pattern(3, 2)); /* the other file is untouched */
    close(again);
    munmap(p, 2 * pg);
    close(other);
}

void test_msync__fsync_and_fdatasync(void)
{
#if !WMT_HAVE_FSYNC
    WMT_LACKS("fsync");
#else
    int fd = wmt_temp_file(100, 1, O_RDWR, NULL, 0);
    int ro = wmt_temp_file(100, 1, O_RDONLY, NULL, 0);
    WMT_REQUIRE(fd >= 0 && ro >= 0);
    WMT_EQ(write(fd, "x", 1), 1);
    WMT_EQ(fsync(fd), 0);
    WMT_EQ(fdatasync(fd), 0);
    WMT_EQ(fsync(ro), 0); /* Linux needs no write access to flush */
    int fds[2];
    WMT_REQUIRE(wmt_pipe(fds) == 0);
    WMT_ERRNO(fsync(fds[0]), -1, EINVAL);
    close(fds[0]);
    close(fds[1]);
    close(ro);
    close(fd);
    WMT_ERRNO(fsync(fd), -1, EBADF);
    WMT_ERRNO(fdatasync(fd), -1, EBADF);
#endif
}

void test_msync__ms_async_and_ms_invalidate_succeed(void)
{
    size_t pg = wmt_page();
    int fd = wmt_temp_file(pg, 1, O_RDWR, NULL, 0);
    WMT_REQUIRE(fd >= 0);
    unsigned char *p = mmap(NULL, pg, RW, MAP_SHARED, fd, 0);
    WMT_REQUIRE(p != MAP_FAILED);
    p[0] = 0x42;
    WMT_EQ(msync(p, pg, MS_ASYNC), 0);
    WMT_EQ(msync(p, pg, MS_INVALIDATE), 0);
    WMT_EQ(msync(p, pg, MS_SYNC | MS_INVALIDATE), 0);
    WMT_EQ(p[0], 0x42); /* invalidation keeps the (already written) data */
    unsigned char c;
    WMT_EQ(wmt_pread(fd, &c, 1, 0), 1);
    WMT_EQ(c, 0x42);
    munmap(p, pg);
    close(fd);
}

void test_msync__sync_and_async_together_einval(void)
{
    size_t pg = wmt_page();
    unsigned char *p = mmap(NULL, pg, RW, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    WMT_REQUIRE(p != MAP_FAILED);
    WMT_ERRNO(msync(p, pg, MS_SYNC | MS_ASYNC), -1, EINVAL);
    munmap(p, pg);
}

void test_msync__unknown_flag_einval(void)
{
    size_t pg = wmt_page();
    unsigned char *p = mmap(NULL, pg, RW, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    WMT_REQUIRE(p != MAP_FAILED);
    WMT_ERRNO(msync(p, pg, MS_SYNC | 0x100), -1, EINVAL);
    munmap(p, pg);
}

void test_msync__unaligned_address_einval(void)
{
    size_t pg = wmt_page();
    unsigned char *p = mmap(NULL, pg, RW, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    WMT_REQUIRE(p != MAP_FAILED);
    WMT_ERRNO(msync(p + 1, pg - 1, MS_SYNC), -1, EINVAL);
    munmap(p, pg);
}

void test_msync__unmapped_pages_enomem(void)
{
    size_t pg = wmt_page();
    unsigned char *p = mmap(NULL, 3 * pg, RW, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    WMT_REQUIRE(p != MAP_FAILED);
    WMT_REQUIRE(munmap(p + pg, pg) == 0);
    WMT_ERRNO(msync(p, 3 * pg, MS_SYNC), -1, ENOMEM);
    WMT_ERRNO(msync(p + pg, pg, MS_ASYNC), -1, ENOMEM);
    munmap(p, 3 * pg);
}

void test_msync__anonymous_and_private_ranges_succeed(void)
{
    size_t pg = wmt_page();
    int fd = wmt_temp_file(pg, 4, O_RDWR, NULL, 0);
    WMT_REQUIRE(fd >= 0);
    unsigned char *a = mmap(NULL, pg, RW, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    unsigned char *f = mmap(NULL, pg, RW, MAP_PRIVATE, fd, 0);
    WMT_REQUIRE(a != MAP_FAILED && f != MAP_FAILED);
    a[0] = 1;
    f[0] ^= 0xff;
    WMT_EQ(msync(a, pg, MS_SYNC), 0);
    WMT_EQ(msync(f, pg, MS_SYNC), 0);
    unsigned char c;
    WMT_EQ(wmt_pread(fd, &c, 1, 0), 1);
    WMT_EQ(c, wmt_pattern(0, 4)); /* a private write never reaches the file */
    munmap(a, pg);
    munmap(f, pg);
    close(fd);
}

void test_msync__range_across_mappings_and_read_only_file(void)
{
    size_t pg = wmt_page();
    int rw = wmt_temp_file(pg + 100, 5, O_RDWR, NULL, 0), ro = wmt_temp_file(pg, 6, O_RDONLY, NULL, 0);
    WMT_REQUIRE(rw >= 0 && ro >= 0);
    unsigned char *p = mmap(NULL, 3 * pg, PROT_READ, MAP_SHARED, ro, 0); /* 1 page in the file */
    WMT_REQUIRE(p != MAP_FAILED);
    WMT_REQUIRE(mmap(p + pg, 2 * pg, RW, MAP_SHARED | MAP_FIXED, rw, 0) == p + pg);
    p[pg + 50] = 0x33;
    p[2 * pg + 10] = 0x44; /* the partial last page, inside the file */
    WMT_EQ(msync(p, 3 * pg, MS_SYNC), 0);
    unsigned char c;
    WMT_EQ(wmt_pread(rw, &c, 1, 50), 1);
    WMT_EQ(c, 0x33);
    WMT_EQ(wmt_pread(rw, &c, 1, (long long)pg + 10), 1);
    WMT_EQ(c, 0x44);
    WMT_EQ(wmt_file_size(rw), (long long)pg + 100);
    munmap(p, 3 * pg);
    close(rw);
    close(ro);
}

void test_msync__invalidate_of_locked_pages_ebusy(void)
{
    size_t pg = wmt_page();
    unsigned char *p = mmap(NULL, 2 * pg, RW, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    WMT_REQUIRE(p != MAP_FAILED);
#if !WMT_HAVE_MLOCK || !WMT_HAVE_MUNLOCK
    WMT_LACKS("mlock");
#else
    WMT_REQUIRE(mlock(p + pg, pg) == 0);
    WMT_ERRNO(msync(p, 2 * pg, MS_INVALIDATE), -1, EBUSY);
    WMT_EQ(msync(p, pg, MS_INVALIDATE), 0);
    WMT_EQ(msync(p, 2 * pg, MS_SYNC), 0);
    munlock(p, 2 * pg);
#endif
    munmap(p, 2 * pg);
}
