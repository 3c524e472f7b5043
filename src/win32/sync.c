/* msync: Windows keeps one cache for mapped and read()/write() file data, so
 * a shared view's writes are already what read() sees; what msync adds is
 * getting them to the disk.  MS_ASYNC starts writing the dirty pages
 * (FlushViewOfFile); MS_SYNC also waits for the file's data to be durable
 * (FlushFileBuffers).  Anonymous and private pages never reach a file.
 * Pages the library did not map: other code's file views are written back;
 * the rest (heap, stacks, images) succeed as anonymous memory does on Linux. */
#include "internal.h"

#include <errno.h>
#include <io.h>
#include <stdlib.h>
#include <unistd.h>

/* The part of region r inside [lo, hi) that Windows mapped from the file. */
static size_t file_bytes(const struct wm_region *r, uintptr_t lo, uintptr_t hi, uintptr_t *from)
{
    uintptr_t a = r->start > lo ? r->start : lo, e = r->start + wm_region_mapped_len(r);
    if (e > hi)
        e = hi;
    *from = a;
    return e > a ? e - a : 0;
}

static int do_msync(uintptr_t lo, size_t len, int flags)
{
    if ((flags & ~(MS_ASYNC | MS_SYNC | MS_INVALIDATE)) ||
        ((flags & MS_ASYNC) && (flags & MS_SYNC)))
        return EINVAL;
    uintptr_t hi;
    int err = wm_range_bounds(lo, len, &hi);
    /* Linux: MS_INVALIDATE cannot drop locked pages (EBUSY, also before a
     * hole in the range). */
    for (struct wm_region *r = wm_region_first_from(&wm_engine.regions, lo);
         (!err || err == ENOMEM) && r && r->start < hi; r = wm_region_next(&wm_engine.regions, r))
        if ((flags & MS_INVALIDATE) && (r->flags & WM_R_LOCKED))
            return EBUSY;
    if (err)
        return err;
    struct wm_foreign *foreign;
    size_t nf;
    if ((err = wm_foreign_list(lo, hi, &foreign, &nf)))
        return err;
    err = wm_foreign_sync(foreign, nf);
    free(foreign);
    if (err)
        return err;
    for (struct wm_region *r = wm_region_first_from(&wm_engine.regions, lo); r && r->start < hi;
         r = wm_region_next(&wm_engine.regions, r)) {
        struct wm_backing *b = r->backing;
        if (!(r->flags & WM_R_SHARED) || (r->flags & (WM_R_ANON | WM_R_PAST_EOF)) || !b->writable)
            continue;
        uintptr_t a;
        size_t n = file_bytes(r, lo, hi, &a);
        if (n && !wm_sys.FlushViewOfFile((void *)a, n))
            return wm_last_errno();
        if (flags & MS_SYNC) {
            HANDLE f = wm_backing_file_handle(b);
            if (!f) {
                /* The file cannot be reached to wait for the disk. */
                int err = wm_last_errno();
                return err == ENOMEM ? err : EIO;
            }
            if (!wm_sys.FlushFileBuffers(f))
                return wm_last_errno();
        }
    }
    return 0;
}

int msync(void *addr, size_t len, int flags)
{
    wm_init();
    /* Shared: flushing changes no table entry, and may take long. */
    wm_lock_range_shared((uintptr_t)addr, len);
    int err = do_msync((uintptr_t)addr, len, flags);
    wm_unlock_shared();
    return wm_status(err);
}

int fsync(int fd)
{
    wm_init();
    intptr_t osf = _get_osfhandle(fd);
    if (osf == -1 || osf == -2)
        return wm_status(EBADF);
    HANDLE h = (HANDLE)osf;
    if (GetFileType(h) != FILE_TYPE_DISK)
        return wm_status(EINVAL); /* Linux: pipes, sockets, consoles */
    if (wm_sys.FlushFileBuffers(h))
        return 0;
    if (GetLastError() != ERROR_ACCESS_DENIED)
        return wm_status(wm_last_errno());
    /* FlushFileBuffers needs write access, which Linux's fsync does not:
     * flush through a second handle of the file.  A file this process may
     * not open for writing holds no writes of this process to flush. */
    HANDLE w = wm_sys.ReOpenFile(h, GENERIC_WRITE, FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE, 0);
    if (w == INVALID_HANDLE_VALUE)
        return 0;
    int err = wm_sys.FlushFileBuffers(w) ? 0 : wm_last_errno();
    wm_sys.CloseHandle(w);
    return wm_status(err);
}

int fdatasync(int fd)
{
    return fsync(fd);
}
