/* ports shim: <grp.h>, which mingw-w64 lacks.  Like pwd.h: Windows has no
 * Unix group database, every lookup finds nothing (NULL). */
#ifndef PORTS_GRP_H
#define PORTS_GRP_H
#include <sys/types.h>
#include <stddef.h>

#ifndef PORTS_HAVE_UID_T
#define PORTS_HAVE_UID_T
typedef int uid_t;
typedef int gid_t;
#endif

struct group {
    char *gr_name;
    char *gr_passwd;
    gid_t gr_gid;
    char **gr_mem;
};

static inline struct group *getgrgid(gid_t gid) { (void)gid; return NULL; }
static inline struct group *getgrnam(const char *name) { (void)name; return NULL; }
#endif
