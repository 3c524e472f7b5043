/* mincore: residency from the process's working set (QueryWorkingSetEx),
 * one byte per page, low bit set when resident.  Windows answers per 4 KiB
 * page; with the legacy strategy's 64 KiB pages a page counts as resident
 * when any of its 4 KiB pages is.  Unlike Linux, file pages that are cached
 * but not yet touched through this mapping count as not resident. */
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

static int do_mincore(uintptr_t lo, size_t len, unsigned char *vec)
{
    uintptr_t hi;
    int err = wm_range_bounds(lo, len, &hi);
    if (err || lo == hi)
        return err;
    if (!wm_sys.QueryWorkingSetEx)
        return ENOSYS;
    size_t page = wm_engine.page, n4k = (hi - lo) / 4096;
    struct ws_entry *q = malloc(BATCH * sizeof *q);
    if (!q)
        return ENOMEM;
    /* Fill a private copy first: vec is only written once all queries worked. */
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
    if (!err)
        memcpy(vec, res, (hi - lo) / page);
    free(res);
    free(q);
    return err;
}

int mincore(void *addr, size_t len, unsigned char *vec)
{
    wm_init();
    wm_lock_shared();
    int err = do_mincore((uintptr_t)addr, len, vec);
    wm_unlock_shared();
    return wm_status(err);
}
