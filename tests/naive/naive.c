/* naive: mmap for Windows as most projects hand-write it, kept here so the
 * conformance suite has a second implementation to judge.  Its faults are on
 * purpose and typical:
 *   - one CreateFileMapping + MapViewOfFileEx per mapping, so addresses and
 *     offsets work only at the 64 KiB allocation granularity, and MAP_FIXED
 *     just passes the address on (it fails where something is mapped);
 *   - the mapping object is as large as offset + length: a writable mapping
 *     past end of file grows the file;
 *   - MAP_PRIVATE is a FILE_MAP_COPY view of an object made with the
 *     mapping's own protection;
 *   - munmap unmaps the whole view that holds addr (a partial munmap loses
 *     the rest), mprotect is VirtualProtect, msync is FlushViewOfFile,
 *     madvise does nothing, mlock is VirtualLock;
 *   - flags and arguments are not checked, and a failure leaves the raw
 *     GetLastError() code in errno (ERROR_INVALID_PARAMETER is 87, no errno
 *     at all; a bad descriptor leaves 0, as _get_osfhandle sets no Win32
 *     error);
 *   - no signals, no mremap, mincore, posix_madvise, mlockall or shm_open.
 * MIT licence, as winmmap. */
#include <sys/mman.h>

#include <errno.h>
#include <io.h>
#include <stdint.h>
#include <windows.h>

static int fail(void)
{
    errno = (int)GetLastError();
    return -1;
}

/* The protection for CreateFileMapping: what the mapping may do. */
static DWORD object_protection(int prot)
{
    if (prot & PROT_EXEC)
        return prot & PROT_WRITE ? PAGE_EXECUTE_READWRITE : PAGE_EXECUTE_READ;
    return prot & PROT_WRITE ? PAGE_READWRITE : PAGE_READONLY;
}

/* The access for MapViewOfFileEx. */
static DWORD view_access(int prot, int flags)
{
    DWORD access;
    if (flags & MAP_PRIVATE)
        access = FILE_MAP_COPY;
    else if (prot & PROT_WRITE)
        access = FILE_MAP_WRITE;
    else
        access = FILE_MAP_READ;
    if (prot & PROT_EXEC)
        access |= FILE_MAP_EXECUTE;
    return access;
}

/* The protection for VirtualProtect. */
static DWORD page_protection(int prot)
{
    switch (prot & (PROT_READ | PROT_WRITE | PROT_EXEC)) {
    case PROT_NONE:
        return PAGE_NOACCESS;
    case PROT_READ:
        return PAGE_READONLY;
    case PROT_EXEC:
        return PAGE_EXECUTE;
    case PROT_READ | PROT_EXEC:
        return PAGE_EXECUTE_READ;
    case PROT_WRITE | PROT_EXEC:
    case PROT_READ | PROT_WRITE | PROT_EXEC:
        return PAGE_EXECUTE_READWRITE;
    default:
        return PAGE_READWRITE;
    }
}

void *mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
    HANDLE file = INVALID_HANDLE_VALUE;
    if (!(flags & MAP_ANONYMOUS)) {
        file = (HANDLE)_get_osfhandle(fd);
        if (file == INVALID_HANDLE_VALUE) {
            fail();
            return MAP_FAILED;
        }
    }
    uint64_t end = (uint64_t)off + len;
    /* PROT_NONE: a readable mapping, closed afterwards. */
    int object_prot = prot == PROT_NONE ? PROT_READ : prot;
    HANDLE mapping = CreateFileMappingA(file, NULL, object_protection(object_prot),
                                        (DWORD)(end >> 32), (DWORD)end, NULL);
    if (!mapping) {
        fail();
        return MAP_FAILED;
    }
    void *p = MapViewOfFileEx(mapping, view_access(object_prot, flags), (DWORD)((uint64_t)off >> 32),
                              (DWORD)off, len, (flags & MAP_FIXED) ? addr : NULL);
    DWORD err = GetLastError();
    CloseHandle(mapping); /* the view keeps the object */
    if (!p) {
        errno = (int)err;
        return MAP_FAILED;
    }
    if (prot == PROT_NONE) {
        DWORD old;
        VirtualProtect(p, len, PAGE_NOACCESS, &old);
    }
    return p;
}

int munmap(void *addr, size_t len)
{
    (void)len; /* a view goes as a whole */
    return UnmapViewOfFile(addr) ? 0 : fail();
}

int mprotect(void *addr, size_t len, int prot)
{
    DWORD old;
    return VirtualProtect(addr, len, page_protection(prot), &old) ? 0 : fail();
}

int msync(void *addr, size_t len, int flags)
{
    (void)flags;
    return FlushViewOfFile(addr, len) ? 0 : fail();
}

int madvise(void *addr, size_t len, int advice)
{
    (void)addr, (void)len, (void)advice; /* advice is only advice */
    return 0;
}

int mlock(const void *addr, size_t len)
{
    return VirtualLock((void *)addr, len) ? 0 : fail();
}

int munlock(const void *addr, size_t len)
{
    return VirtualUnlock((void *)addr, len) ? 0 : fail();
}
