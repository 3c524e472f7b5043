/* shm_open / shm_unlink. */
#define _GNU_SOURCE
#include "wmtest.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#ifdef _WIN32
#include <io.h>
#include <windows.h>
#endif

#define RW (PROT_READ | PROT_WRITE)

/* A name no other run uses at the same time. */
static const char *name(const char *base)
{
    static char buf[128];
    snprintf(buf, sizeof buf, "/wmt-%s-%ld", base, (long)getpid());
    return buf;
}

void test_shm__object_persists_without_open_descriptors_until_unlink(void)
{
    size_t pg = wmt_page();
    const char *n = name("persist");
    int fd = shm_open(n, O_RDWR | O_CREAT | O_EXCL, 0600);
    WMT_REQUIRE(fd >= 0);
    WMT_EQ(ftruncate(fd, (off_t)(2 * pg)), 0);
    WMT_EQ(wmt_file_size(fd), 2 * pg);
    unsigned char *p = mmap(NULL, 2 * pg, RW, MAP_SHARED, fd, 0);
    WMT_REQUIRE(p != MAP_FAILED);
    memcpy(p + pg, "kept", 4);
    WMT_EQ(close(fd), 0);
    WMT_EQ(munmap(p, 2 * pg), 0);
    /* Nobody has it open now; it is still there with its contents. */
    fd = shm_open(n, O_RDONLY, 0);
    WMT_REQUIRE(fd >= 0);
    char buf[4];
    WMT_EQ(wmt_pread(fd, buf, 4, (long long)pg), 4);
    WMT_TRUE(memcmp(buf, "kept", 4) == 0);
    close(fd);
    WMT_EQ(shm_unlink(n), 0);
    WMT_ERRNO(shm_open(n, O_RDONLY, 0), -1, ENOENT);
}

void test_shm__exclusive_create_of_an_existing_object_eexist(void)
{
    const char *n = name("excl");
    int fd = shm_open(n, O_RDWR | O_CREAT | O_EXCL, 0600);
    WMT_REQUIRE(fd >= 0);
    WMT_ERRNO(shm_open(n, O_RDWR | O_CREAT | O_EXCL, 0600), -1, EEXIST);
    int fd2 = shm_open(n, O_RDWR | O_CREAT, 0600); /* without O_EXCL: the same object */
    WMT_TRUE(fd2 >= 0);
    close(fd2);
    close(fd);
    shm_unlink(n);
}

void test_shm__missing_object_enoent(void)
{
    const char *n = name("missing");
    WMT_ERRNO(shm_open(n, O_RDWR, 0), -1, ENOENT);
    WMT_ERRNO(shm_unlink(n), -1, ENOENT);
}

void test_shm__object_created_read_only_cannot_be_opened_for_writing(void)
{
    const char *n = name("ro");
    int fd = shm_open(n, O_RDWR | O_CREAT | O_EXCL, 0400);
    WMT_REQUIRE(fd >= 0);
    WMT_EQ(write(fd, "x", 1), 1); /* the creator's descriptor is writable */
    WMT_ERRNO(shm_open(n, O_RDWR, 0), -1, EACCES);
    int r = shm_open(n, O_RDONLY, 0);
    WMT_TRUE(r >= 0);
    if (r >= 0)
        close(r);
    close(fd);
    WMT_EQ(shm_unlink(n), 0);
}

void test_shm__bad_names_einval_and_too_long_enametoolong(void)
{
    const char *bad[] = {"/", "", "/.", "/..", "/a/b", "/../x"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        WMT_ERRNO(shm_open(bad[i], O_RDWR | O_CREAT, 0600), -1, EINVAL);
    char n[300] = "/";
    memset(n + 1, 'q', 256);
    WMT_ERRNO(shm_open(n, O_RDWR | O_CREAT, 0600), -1, ENAMETOOLONG);
    n[256] = 0; /* 255 bytes after the slash: allowed */
    int fd = shm_open(n, O_RDWR | O_CREAT, 0600);
    WMT_TRUE(fd >= 0);
    if (fd >= 0) {
        close(fd);
        WMT_EQ(shm_unlink(n), 0);
    }
}

/* Names that would mean something else to Windows' file system stay
 * distinct objects inside the library's namespace. */
void test_shm__names_never_leave_the_namespace_and_keep_their_case(void)
{
    const char *tricky[] = {"/CON", "/nul", "/com1", "/a.", "/a ", "/..\\x", "/c:x", "/A", "/a", "/%41"};
    size_t n = sizeof tricky / sizeof tricky[0];
    int fds[16];
    char full[64];
    for (size_t i = 0; i < n; i++) {
        snprintf(full, sizeof full, "%s-%ld", tricky[i], (long)getpid());
        fds[i] = shm_open(full, O_RDWR | O_CREAT | O_EXCL, 0600);
        WMT_TRUE(fds[i] >= 0);
        if (fds[i] >= 0)
            WMT_EQ(write(fds[i], &i, sizeof i), sizeof i);
    }
    for (size_t i = 0; i < n; i++) {
        if (fds[i] < 0)
            continue;
        size_t got = 99;
        WMT_EQ(wmt_pread(fds[i], &got, sizeof got, 0), sizeof got);
        WMT_EQ(got, i); /* every name its own object: "/A" is not "/a" */
        close(fds[i]);
        snprintf(full, sizeof full, "%s-%ld", tricky[i], (long)getpid());
        WMT_EQ(shm_unlink(full), 0);
    }
}

void test_shm__unlink_keeps_descriptors_and_mappings_and_frees_the_name(void)
{
    size_t pg = wmt_page();
    const char *n = name("unlink");
    int fd = shm_open(n, O_RDWR | O_CREAT | O_EXCL, 0600);
    WMT_REQUIRE(fd >= 0);
    WMT_REQUIRE(ftruncate(fd, (off_t)pg) == 0);
    unsigned char *p = mmap(NULL, pg, RW, MAP_SHARED, fd, 0);
    WMT_REQUIRE(p != MAP_FAILED);
    WMT_EQ(shm_unlink(n), 0);
    p[0] = 0x5e;
    unsigned char c = 0;
    WMT_EQ(wmt_pread(fd, &c, 1, 0), 1);
    WMT_EQ(c, 0x5e);
    int again = shm_open(n, O_RDWR | O_CREAT | O_EXCL, 0600);
    WMT_TRUE(again >= 0);
    if (again >= 0) {
        WMT_EQ(wmt_file_size(again), 0); /* a new, empty object */
        close(again);
        shm_unlink(n);
    }
    munmap(p, pg);
    close(fd);
}

void test_shm__o_trunc_empties_the_object(void)
{
    const char *n = name("trunc");
    int fd = shm_open(n, O_RDWR | O_CREAT, 0600);
    WMT_REQUIRE(fd >= 0);
    WMT_EQ(write(fd, "abc", 3), 3);
    close(fd);
    fd = shm_open(n, O_RDWR | O_TRUNC, 0);
    WMT_REQUIRE(fd >= 0);
    WMT_EQ(wmt_file_size(fd), 0);
    close(fd);
    shm_unlink(n);
}

int child_shm_reply(const char *arg)
{
    int fd = shm_open(arg, O_RDWR, 0);
    if (fd < 0)
        return 2;
    unsigned char *p = mmap(NULL, 16, RW, MAP_SHARED, fd, 0);
    if (p == MAP_FAILED)
        return 3;
    int ok = memcmp(p, "ping", 4) == 0;
    memcpy(p + 4, "pong", 4);
    munmap(p, 16);
    close(fd);
    return ok ? 0 : 4;
}

void test_shm__another_process_sees_the_object(void)
{
    size_t pg = wmt_page();
    const char *n = name("xproc");
    int fd = shm_open(n, O_RDWR | O_CREAT | O_EXCL, 0600);
    WMT_REQUIRE(fd >= 0);
    WMT_REQUIRE(ftruncate(fd, (off_t)pg) == 0);
    unsigned char *p = mmap(NULL, pg, RW, MAP_SHARED, fd, 0);
    WMT_REQUIRE(p != MAP_FAILED);
    memcpy(p, "ping", 4);
    struct wmt_child_status st;
    WMT_REQUIRE(wmt_spawn_child("shm_reply", n, &st) == 0);
    WMT_TRUE(st.exited);
    WMT_EQ(st.code, 0);
    WMT_TRUE(memcmp(p + 4, "pong", 4) == 0);
    munmap(p, pg);
    close(fd);
    shm_unlink(n);
}

void test_shm__descriptor_is_close_on_exec(void)
{
    const char *n = name("cloexec");
    int fd = shm_open(n, O_RDWR | O_CREAT | O_EXCL, 0600);
    WMT_REQUIRE(fd >= 0);
#ifdef _WIN32
    /* FD_CLOEXEC on Windows: the handle is not inherited by child processes. */
    DWORD flags = 0;
    WMT_TRUE(GetHandleInformation((HANDLE)_get_osfhandle(fd), &flags));
    WMT_EQ(flags & HANDLE_FLAG_INHERIT, 0);
#else
    WMT_TRUE(fcntl(fd, F_GETFD) & FD_CLOEXEC);
#endif
    close(fd);
    shm_unlink(n);
}
