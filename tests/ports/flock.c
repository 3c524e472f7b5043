/* ports shim: flock() for mingw-w64 (see include/sys/file.h). */
#include <windows.h>
#include <errno.h>
#include <io.h>
#include <sys/file.h>

/* The locked byte: far beyond any file's data, where nothing else reads. */
#define PORTS_FLOCK_OFFSET 0x7fffffff00000000ULL

int flock(int fd, int operation)
{
    HANDLE h = (HANDLE)_get_osfhandle(fd);
    OVERLAPPED ov = {0};
    DWORD flags = 0;
    int kind = operation & (LOCK_SH | LOCK_EX | LOCK_UN);

    if (h == INVALID_HANDLE_VALUE) {
        errno = EBADF;
        return -1;
    }
    if (kind != LOCK_SH && kind != LOCK_EX && kind != LOCK_UN) {
        errno = EINVAL;
        return -1;
    }
    ov.Offset = (DWORD)PORTS_FLOCK_OFFSET;
    ov.OffsetHigh = (DWORD)(PORTS_FLOCK_OFFSET >> 32);
    /* flock converts an existing lock: drop ours first (fails harmlessly
     * when there is none). */
    UnlockFileEx(h, 0, 1, 0, &ov);
    if (kind == LOCK_UN)
        return 0;
    if (kind == LOCK_EX)
        flags |= LOCKFILE_EXCLUSIVE_LOCK;
    if (operation & LOCK_NB)
        flags |= LOCKFILE_FAIL_IMMEDIATELY;
    if (!LockFileEx(h, flags, 0, 1, 0, &ov)) {
        DWORD e = GetLastError();
        errno = (e == ERROR_LOCK_VIOLATION || e == ERROR_IO_PENDING) ? EWOULDBLOCK : EINVAL;
        return -1;
    }
    return 0;
}
