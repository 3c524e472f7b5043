/* winmmap: adds what mingw-w64's <unistd.h> lacks for memory-mapping code,
 * sysconf(_SC_PAGESIZE) and getpagesize(), on top of the real header.  On
 * POSIX systems it is the system header unchanged. */
#ifndef WINMMAP_UNISTD_H
#define WINMMAP_UNISTD_H

#include_next <unistd.h>

#ifdef _WIN32
#ifdef __cplusplus
extern "C" {
#endif

#ifndef _SC_PAGESIZE
#define _SC_PAGESIZE 30
#endif
#ifndef _SC_PAGE_SIZE
#define _SC_PAGE_SIZE _SC_PAGESIZE
#endif
#ifndef _SC_NPROCESSORS_ONLN
#define _SC_NPROCESSORS_ONLN 84
#endif

/* The page size is the placement strategy's: 4096 where views can be placed
 * at any page (exact), 65536 where only at allocation granularity (legacy). */
long winmmap_sysconf(int name);
int getpagesize(void);
#define sysconf winmmap_sysconf

#ifdef __cplusplus
}
#endif
#endif /* _WIN32 */
#endif /* WINMMAP_UNISTD_H */
