/* shm_open / shm_unlink.  A shared memory object is a file in a per-user
 * directory (<user temp>\winmmap-shm), so it is visible to the user's other
 * processes, persists with its contents while no process has it open, and
 * works with ftruncate, fstat, read, write, close and mmap like any file.
 *
 * Names follow glibc: leading slashes are dropped; the rest must be 1 to
 * NAME_MAX bytes, contain no '/', and not be "." or "..".  Windows file names
 * are case-insensitive and have reserved forms (CON, NUL, trailing dots), so
 * the file name is "shm-" plus the name with every byte outside [a-z0-9_-]
 * written as %XX; it cannot leave the directory or name a device.  An encoded
 * name too long for one path component is shortened with a hash.
 *
 * Descriptors are opened with FILE_SHARE_DELETE, so shm_unlink works while
 * the object is open: the file is renamed to a unique tombstone (the name is
 * free at once) and deleted, which Windows completes when the last handle
 * closes; existing descriptors and mappings keep working. */
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <io.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#define NAME_MAX_BYTES 255
#define COMPONENT_MAX 240 /* NTFS allows 255 UTF-16 units per component */

static int shm_dir(wchar_t *out, size_t n)
{
    wchar_t tmp[MAX_PATH + 1];
    DWORD len = GetTempPathW(MAX_PATH + 1, tmp);
    if (len == 0 || len > MAX_PATH)
        return ENOENT;
    if (_snwprintf(out, n, L"\\\\?\\%lswinmmap-shm", tmp) < 0)
        return ENAMETOOLONG;
    if (!CreateDirectoryW(out, NULL) && GetLastError() != ERROR_ALREADY_EXISTS)
        return wm_last_errno();
    return 0;
}

static uint64_t fnv1a(const char *s)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 0x100000001b3ull;
    return h;
}

/* The object's file path for name, or an errno value. */
static int object_path(const char *name, wchar_t *out, size_t n)
{
    if (!name)
        return EINVAL;
    while (*name == '/')
        name++;
    size_t len = strlen(name);
    if (len == 0 || strchr(name, '/') || strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
        return EINVAL;
    if (len > NAME_MAX_BYTES)
        return ENAMETOOLONG;
    char enc[3 * NAME_MAX_BYTES + 1];
    size_t e = 0;
    for (const unsigned char *p = (const unsigned char *)name; *p; p++) {
        if ((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_' || *p == '-')
            enc[e++] = (char)*p;
        else
            e += (size_t)sprintf(enc + e, "%%%02X", *p);
    }
    enc[e] = 0;
    wchar_t dir[MAX_PATH + 32];
    int err = shm_dir(dir, sizeof dir / sizeof dir[0]);
    if (err)
        return err;
    int w = e <= COMPONENT_MAX ? _snwprintf(out, n, L"%ls\\shm-%hs", dir, enc)
                               : _snwprintf(out, n, L"%ls\\shm-%016llx-%.200hs", dir,
                                            (unsigned long long)fnv1a(name), enc);
    return w < 0 ? ENAMETOOLONG : 0;
}

int shm_open(const char *name, int oflag, mode_t mode)
{
    wm_init();
    wchar_t path[MAX_PATH + 1024];
    int err = object_path(name, path, sizeof path / sizeof path[0]);
    int acc = oflag & O_ACCMODE;
    if (!err && ((oflag & ~(O_ACCMODE | O_CREAT | O_EXCL | O_TRUNC | O_APPEND | O_BINARY | O_NOINHERIT)) ||
                 acc == O_ACCMODE))
        err = EINVAL;
    if (err)
        return wm_status(err);
    DWORD access = acc == O_RDONLY ? GENERIC_READ : acc == O_WRONLY ? GENERIC_WRITE
                                                                    : GENERIC_READ | GENERIC_WRITE;
    DWORD disp = (oflag & O_CREAT) ? ((oflag & O_EXCL) ? CREATE_NEW : OPEN_ALWAYS) : OPEN_EXISTING;
    /* The mode's owner write bit is the only one Windows can keep: an object
     * created without it cannot be opened for writing later. */
    DWORD attrs = (mode & S_IWUSR) ? FILE_ATTRIBUTE_NORMAL : FILE_ATTRIBUTE_READONLY;
    /* POSIX: FD_CLOEXEC is set on the new descriptor, so the handle is not
     * inheritable (child processes reopen objects by name). */
    SECURITY_ATTRIBUTES sa = {sizeof sa, NULL, FALSE};
    HANDLE h = wm_sys.CreateFileW(path, access, FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE, &sa,
                           disp, attrs, NULL);
    if (h == INVALID_HANDLE_VALUE) {
        errno = wm_last_errno();
        return -1;
    }
    /* Windows (and Wine) may open a read-only file for writing when the
     * handle asks at creation; opening an existing one is checked here. */
    bool existed = disp == OPEN_EXISTING || GetLastError() == ERROR_ALREADY_EXISTS;
    BY_HANDLE_FILE_INFORMATION fi;
    if (existed && acc != O_RDONLY && wm_sys.GetFileInformationByHandle(h, &fi) &&
        (fi.dwFileAttributes & FILE_ATTRIBUTE_READONLY)) {
        wm_sys.CloseHandle(h);
        errno = EACCES;
        return -1;
    }
    if ((oflag & O_TRUNC) && acc != O_RDONLY) {
        FILE_END_OF_FILE_INFO eof = {{.QuadPart = 0}};
        if (!wm_sys.SetFileInformationByHandle(h, FileEndOfFileInfo, &eof, sizeof eof)) {
            errno = wm_last_errno();
            wm_sys.CloseHandle(h);
            return -1;
        }
    }
    int fd = _open_osfhandle((intptr_t)h,
                             (acc == O_RDONLY ? _O_RDONLY : 0) | (oflag & O_APPEND) | _O_NOINHERIT);
    if (fd < 0) {
        wm_sys.CloseHandle(h);
        errno = EMFILE;
    }
    return fd;
}

/* Tombstones whose delete Windows refused (a file with a mapped view cannot
 * be deleted) are retried here, at the next shm_unlink. */
static void sweep_tombstones(const wchar_t *dir)
{
    wchar_t pat[MAX_PATH + 1024], f[MAX_PATH + 1024];
    _snwprintf(pat, sizeof pat / sizeof pat[0], L"%ls\\.deleted-*", dir);
    WIN32_FIND_DATAW fd;
    HANDLE it = FindFirstFileW(pat, &fd);
    if (it == INVALID_HANDLE_VALUE)
        return;
    do {
        _snwprintf(f, sizeof f / sizeof f[0], L"%ls\\%ls", dir, fd.cFileName);
        wm_sys.DeleteFileW(f);
    } while (FindNextFileW(it, &fd));
    FindClose(it);
}

int shm_unlink(const char *name)
{
    wm_init();
    static volatile LONG counter;
    wchar_t path[MAX_PATH + 1024], tomb[MAX_PATH + 1024];
    int err = object_path(name, path, sizeof path / sizeof path[0]);
    if (!err) {
        wchar_t *slash = wcsrchr(path, L'\\');
        *slash = 0;
        sweep_tombstones(path);
        _snwprintf(tomb, sizeof tomb / sizeof tomb[0], L"%ls\\.deleted-%lu-%ld-%llu", path,
                   GetCurrentProcessId(), InterlockedIncrement(&counter),
                   (unsigned long long)GetTickCount64());
        *slash = L'\\';
        /* Rename first: the name is free at once, even while the object is
         * open; then delete (completed when the last handle closes). */
        if (!wm_sys.MoveFileExW(path, tomb, 0))
            err = wm_last_errno();
    }
    if (err)
        return wm_status(err);
    SetFileAttributesW(tomb, FILE_ATTRIBUTE_NORMAL); /* a read-only file cannot be deleted */
    wm_sys.DeleteFileW(tomb);
    return 0;
}
