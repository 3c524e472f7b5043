/* ports shim: <pwd.h>, which mingw-w64 lacks.  Windows has no Unix user
 * database: every lookup finds nobody (NULL), as for an unknown user on
 * POSIX.  Programs that print a file's owner then fall back to the number
 * (mingw's stat() reports uid 0 for every file).  uid_t is defined here too. */
#ifndef PORTS_PWD_H
#define PORTS_PWD_H
#include <sys/types.h>
#include <stddef.h>

#ifndef PORTS_HAVE_UID_T
#define PORTS_HAVE_UID_T
typedef int uid_t;
typedef int gid_t;
#endif

struct passwd {
    char *pw_name;
    char *pw_passwd;
    uid_t pw_uid;
    gid_t pw_gid;
    char *pw_gecos;
    char *pw_dir;
    char *pw_shell;
};

static inline struct passwd *getpwuid(uid_t uid) { (void)uid; return NULL; }
static inline struct passwd *getpwnam(const char *name) { (void)name; return NULL; }
#endif
