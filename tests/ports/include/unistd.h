/* ports shim: the user-id calls of <unistd.h> that mingw-w64 lacks, on top of
 * the next <unistd.h> on the path (winmmap's, then mingw's).  Windows files
 * have no Unix owner: mingw's stat() says uid 0 / gid 0 for every file, so
 * the process is uid 0 too, and chown to 0:0 succeeds and changes nothing;
 * any other owner fails with EPERM. */
#ifndef PORTS_UNISTD_H
#define PORTS_UNISTD_H
#include_next <unistd.h>
#include <errno.h>

#ifndef PORTS_HAVE_UID_T
#define PORTS_HAVE_UID_T
typedef int uid_t;
typedef int gid_t;
#endif

static inline uid_t getuid(void) { return 0; }
static inline uid_t geteuid(void) { return 0; }
static inline gid_t getgid(void) { return 0; }
static inline gid_t getegid(void) { return 0; }
static inline int fchown(int fd, uid_t uid, gid_t gid)
{
    (void)fd;
    if ((uid != 0 && uid != (uid_t)-1) || (gid != 0 && gid != (gid_t)-1)) {
        errno = EPERM;
        return -1;
    }
    return 0;
}
#endif
