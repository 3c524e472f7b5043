/* winmmap: adds what mingw-w64's <unistd.h> lacks for memory-mapping code,
 * sysconf(_SC_PAGESIZE), getpagesize(), fsync and fdatasync, and an ftruncate
 * that works on mapped files, on top of the real header.  On
 * POSIX systems it is the system header unchanged. */
#ifndef WINMMAP_UNISTD_H
#define WINMMAP_UNISTD_H

#include <winmmap_extern.h>

#include_next <unistd.h>
#include <stdint.h>

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
WINMMAP_EXTERN long winmmap_sysconf(int name);
WINMMAP_EXTERN int getpagesize(void);
#define sysconf winmmap_sysconf

/* ftruncate that works on a file while it is mapped (Windows refuses to
 * shrink a mapped file): pages past the new end fault with SIGBUS, growth
 * shows in existing mappings.  Takes a 64-bit length whatever off_t is. */
WINMMAP_EXTERN int winmmap_ftruncate(int fd, int64_t len);
#undef ftruncate
#define ftruncate winmmap_ftruncate

/* fsync and fdatasync, which mingw-w64 lacks (it has _commit): the file's
 * data reaches the disk (FlushFileBuffers).  Windows flushes data and
 * metadata together, so fdatasync is fsync. */
WINMMAP_EXTERN int fsync(int fd);
WINMMAP_EXTERN int fdatasync(int fd);

#ifdef __cplusplus
}
#endif
#endif /* _WIN32 */
#endif /* WINMMAP_UNISTD_H */
