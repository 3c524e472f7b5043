/* winmmap: POSIX <sys/mman.h> for Windows.
 *
 * On POSIX systems this header only adds winmmap's extensions to the system's
 * own <sys/mman.h> (found with #include_next).  On Windows it is the whole
 * interface; constants have their Linux values.  Compile with
 * -D_FILE_OFFSET_BITS=64 to get a 64-bit off_t, as on Linux, or call mmap64. */
#ifndef WINMMAP_SYS_MMAN_H
#define WINMMAP_SYS_MMAN_H

#include <winmmap_extern.h>

#ifndef _WIN32
#include_next <sys/mman.h>
#else

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

#define PROT_NONE 0x0
#define PROT_READ 0x1
#define PROT_WRITE 0x2
#define PROT_EXEC 0x4

#define MAP_SHARED 0x01
#define MAP_PRIVATE 0x02
#define MAP_SHARED_VALIDATE 0x03
#define MAP_TYPE 0x0f
#define MAP_FIXED 0x10
#define MAP_ANONYMOUS 0x20
#define MAP_ANON MAP_ANONYMOUS
#define MAP_DENYWRITE 0x0800   /* accepted and ignored, as on Linux */
#define MAP_EXECUTABLE 0x1000  /* accepted and ignored, as on Linux */
#define MAP_LOCKED 0x2000
#define MAP_NORESERVE 0x4000
#define MAP_POPULATE 0x8000
#define MAP_STACK 0x20000      /* accepted and ignored, as on Linux */
#define MAP_FIXED_NOREPLACE 0x100000

#define MAP_FAILED ((void *)-1)

#define MS_ASYNC 1
#define MS_INVALIDATE 2
#define MS_SYNC 4

#define MADV_NORMAL 0
#define MADV_RANDOM 1
#define MADV_SEQUENTIAL 2
#define MADV_WILLNEED 3
#define MADV_DONTNEED 4
#define MADV_FREE 8
#define MADV_DONTFORK 10
#define MADV_DOFORK 11
#define MADV_WIPEONFORK 18
#define MADV_KEEPONFORK 19

#define POSIX_MADV_NORMAL 0
#define POSIX_MADV_RANDOM 1
#define POSIX_MADV_SEQUENTIAL 2
#define POSIX_MADV_WILLNEED 3
#define POSIX_MADV_DONTNEED 4

#define MCL_CURRENT 1
#define MCL_FUTURE 2
#define MCL_ONFAULT 4

#define MREMAP_MAYMOVE 1
#define MREMAP_FIXED 2
#define MREMAP_DONTUNMAP 4

WINMMAP_EXTERN void *mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off);
WINMMAP_EXTERN void *mmap64(void *addr, size_t len, int prot, int flags, int fd, int64_t off);
WINMMAP_EXTERN int munmap(void *addr, size_t len);
WINMMAP_EXTERN int mprotect(void *addr, size_t len, int prot);
WINMMAP_EXTERN int msync(void *addr, size_t len, int flags);
WINMMAP_EXTERN int madvise(void *addr, size_t len, int advice);
WINMMAP_EXTERN int posix_madvise(void *addr, size_t len, int advice);
WINMMAP_EXTERN int mlock(const void *addr, size_t len);
WINMMAP_EXTERN int munlock(const void *addr, size_t len);
WINMMAP_EXTERN int mlockall(int flags);
WINMMAP_EXTERN int munlockall(void);
WINMMAP_EXTERN int mincore(void *addr, size_t len, unsigned char *vec);
WINMMAP_EXTERN void *mremap(void *old_addr, size_t old_len, size_t new_len, int flags, ...);
WINMMAP_EXTERN int shm_open(const char *name, int oflag, mode_t mode);
WINMMAP_EXTERN int shm_unlink(const char *name);

#if defined(_FILE_OFFSET_BITS) && _FILE_OFFSET_BITS == 64
#define mmap mmap64
#endif

#ifdef __cplusplus
}
#endif

#endif /* _WIN32 */
#endif /* WINMMAP_SYS_MMAN_H */
