/* ports shim: what mingw-w64's <sys/stat.h> lacks for Unix file code, on top
 * of the real header: the blksize_t type (mingw's struct stat has no
 * st_blksize; programs that read it check for it, but declare the type) and
 * fchmod(), which mingw lacks (it has only _chmod on a path).  Windows has no
 * Unix permission bits beyond read-only; fchmod keeps what the file has and
 * succeeds, as chmod on a filesystem without modes does. */
#ifndef PORTS_SYS_STAT_H
#define PORTS_SYS_STAT_H
#include_next <sys/stat.h>
#include <errno.h>
#include <io.h>

typedef long blksize_t;

static inline int fchmod(int fd, mode_t mode)
{
    (void)mode;
    if (_get_osfhandle(fd) == -1) {
        errno = EBADF;
        return -1;
    }
    return 0;
}
#endif
