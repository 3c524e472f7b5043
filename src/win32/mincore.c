/* mincore: residency from the process's working set (QueryWorkingSetEx),
 * one byte per page, low bit set when resident.  Windows answers per 4 KiB
 * page; with the legacy strategy's 64 KiB pages a page counts as resident
 * when any of its 4 KiB pages is.  Unlike Linux, file pages that are cached
 * but not yet touched through this mapping count as not resident.
 *
 * vec is written after the engine lock is released, and only once it is
 * known to be writable (else EFAULT, as Linux): a fault inside the library
 * while it holds the lock would leave the engine locked for good if the
 * program's handler leaves with siglongjmp. */
#include "internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* PSAPI_WORKING_SET_EX_INFORMATION without psapi.h: the address, then a
 * bit field whose bit 0 is Valid (in the working set). */
struct ws_entry {
    void *va;
    ULONG_PTR attributes;
};

enum { BATCH = 256 }; /* 4 KiB pages per query */

/* Whether the program may write [p, p + n): pages of the library's regions
 * by their protection (and inside the file), other pages by Windows'. */
static bool writable_buffer(uintptr_t p, size_t n)
{
    uintptr_t end = p + n;
    if (end < p)
        return false;
    for (uintptr_t a = p & ~(uintptr_t)4095; a < end;) {
        struct wm_region *r = wm_region_find(&wm_engine.regions, a);
        if (r) {
            if (!(r->prot & PROT_WRITE) || a >= r->start + wm_region_mapped_len(r))
                return false;
            a = r->end;
            continue;
        }
        MEMORY_BASIC_INFORMATION mi;
        if (!wm_sys.VirtualQuery((void *)a, &mi, sizeof mi) || mi.State != MEM_COMMIT ||
            (mi.Protect & PAGE_GUARD) ||
            !(mi.Protect & (PAGE_READWRITE | PAGE_WRITECOPY | PAGE_EXECUTE_READWRITE |
                            PAGE_EXECUTE_WRITECOPY)))
            return false;
        uintptr_t next = (uintptr_t)mi.BaseAddress + mi.RegionSize;
        struct wm_region *after = wm_region_first_from(&wm_engine.regions, a);
        a = after && after->start < next ? after->start : next;
    }
    return true;
}

/* One byte per page of [lo, lo + len) into *out (malloc'd, *n bytes). */
static int residency(uintptr_t lo, size_t len, unsigned char **out, size_t *n)
{
    uintptr_t hi;
    *out = NULL;
    *n = 0;
    int err = wm_range_bounds(lo, len, &hi);
    if (err || lo == hi)
        return err;
    if (!wm_sys.QueryWorkingSetEx)
        return ENOSYS;
    size_t page = wm_engine.page, n4k = (hi - lo) / 4096;
    struct ws_entry *q = malloc(BATCH * sizeof *q);
    if (!q)
        return ENOMEM;
    unsigned char *res = calloc((hi - lo) / page, 1);
    if (!res) {
        free(q);
        return ENOMEM;
    }
    for (size_t done = 0; done < n4k && !err; done += BATCH) {
        size_t k = n4k - done < BATCH ? n4k - done : BATCH;
        for (size_t i = 0; i < k; i++)
            q[i].va = (void *)(lo + (done + i) * 4096);
        if (!wm_sys.QueryWorkingSetEx(GetCurrentProcess(), q, (DWORD)(k * sizeof *q))) {
            err = wm_last_errno();
            break;
        }
        for (size_t i = 0; i < k; i++)
            if (q[i].attributes & 1)
                res[(done + i) * 4096 / page] = 1;
    }
    free(q);
    if (err) {
        free(res);
        return err;
    }
    *out = res;
    *n = (hi - lo) / page;
    return 0;
}

int mincore(void *addr, size_t len, unsigned char *vec)
{
    wm_init();
    unsigned char *res;
    size_t n;
    wm_lock_range_shared((uintptr_t)addr, len);
    int err = residency((uintptr_t)addr, len, &res, &n);
    if (!err && n && !writable_buffer((uintptr_t)vec, n))
        err = EFAULT;
    wm_unlock_shared();
    if (!err)
        memcpy(vec, res, n);
    free(res);
    return wm_status(err);
}
