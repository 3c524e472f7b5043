/* mlock family.  VirtualLock keeps pages in the working set, limited by the
 * process's minimum working-set size: when it refuses for quota, the quota
 * is raised by the size asked for and the call tried once more.  Lock state
 * lives in the region table (WM_R_LOCKED), so remapped views are locked again
 * (wm_apply_prot) and MCL_FUTURE applies to later mappings.  Pages the
 * library did not map are locked and unlocked directly (foreign.c); their
 * lock state is Windows' alone, and mlockall covers the library's mappings
 * only. */
#include "internal.h"

#include <errno.h>
#include <stdlib.h>

static bool lock_future; /* mlockall(MCL_FUTURE); guarded by the engine lock */

/* Bytes of r that VirtualLock can take: none when PROT_NONE (Windows refuses
 * inaccessible pages; Linux locks them when they become accessible, and so
 * does wm_apply_prot) or past EOF. */
static size_t lockable(const struct wm_region *r)
{
    return r->prot == PROT_NONE ? 0 : wm_region_mapped_len(r);
}

static int lock_pages(void *a, size_t len)
{
    if (wm_sys.VirtualLock(a, len))
        return 0;
    if (GetLastError() != ERROR_WORKING_SET_QUOTA)
        return wm_last_errno();
    SIZE_T lo, hi;
    HANDLE self = GetCurrentProcess();
    if (!wm_sys.GetProcessWorkingSetSize(self, &lo, &hi) ||
        !wm_sys.SetProcessWorkingSetSize(self, lo + len, hi > lo + len ? hi + len : lo + 2 * len))
        return ENOMEM; /* Linux: over the locked-memory limit */
    if (wm_sys.VirtualLock(a, len))
        return 0;
    int err = wm_last_errno();
    wm_sys.SetProcessWorkingSetSize(self, lo, hi); /* a failed call leaves the quota as it was */
    return err;
}

/* Lock every page of [lo, hi) that is not locked yet; on failure unlock
 * what this call locked. */
static int lock_range(uintptr_t lo, uintptr_t hi)
{
    struct wm_region *r;
    int err = 0;
    for (r = wm_region_first_from(&wm_engine.regions, lo); r && r->start < hi;
         r = wm_region_next(&wm_engine.regions, r)) {
        if (!(r->flags & WM_R_LOCKED) && lockable(r) &&
            (err = lock_pages((void *)r->start, lockable(r))))
            break;
    }
    if (err) {
        for (struct wm_region *u = wm_region_first_from(&wm_engine.regions, lo); u != r;
             u = wm_region_next(&wm_engine.regions, u))
            if (!(u->flags & WM_R_LOCKED) && lockable(u))
                wm_sys.VirtualUnlock((void *)u->start, lockable(u));
        return err;
    }
    for (r = wm_region_first_from(&wm_engine.regions, lo); r && r->start < hi;
         r = wm_region_next(&wm_engine.regions, r))
        r->flags |= WM_R_LOCKED;
    return 0;
}

static void unlock_range(uintptr_t lo, uintptr_t hi)
{
    for (struct wm_region *r = wm_region_first_from(&wm_engine.regions, lo); r && r->start < hi;
         r = wm_region_next(&wm_engine.regions, r)) {
        if ((r->flags & WM_R_LOCKED) && lockable(r))
            wm_sys.VirtualUnlock((void *)r->start, lockable(r)); /* cannot fail usefully */
        r->flags &= (uint16_t)~WM_R_LOCKED;
    }
}

/* Linux rounds addr down to a page (mlock and munlock need no alignment). */
static int bounds(const void *addr, size_t len, uintptr_t *lo, uintptr_t *hi)
{
    size_t page = wm_engine.page;
    *lo = (uintptr_t)addr & ~(uintptr_t)(page - 1);
    if (len > SIZE_MAX - page)
        return ENOMEM;
    return wm_range_bounds(*lo, len + ((uintptr_t)addr - *lo), hi);
}

static int change(const void *addr, size_t len, bool lock)
{
    uintptr_t lo, hi;
    int err = bounds(addr, len, &lo, &hi);
    if (err || lo == hi)
        return err;
    if (lock) {
        /* Linux cannot fault in inaccessible pages or pages past EOF, so
         * mlock of them fails (mlockall skips them). */
        for (struct wm_region *r = wm_region_first_from(&wm_engine.regions, lo); r && r->start < hi;
             r = wm_region_next(&wm_engine.regions, r))
            if (r->prot == PROT_NONE || (r->flags & WM_R_PAST_EOF))
                return ENOMEM;
    }
    struct wm_foreign *foreign;
    size_t nf;
    if ((err = wm_foreign_list(lo, hi, &foreign, &nf)))
        return err;
    if (lock)
        err = wm_foreign_lock(foreign, nf, lock_pages);
    else
        wm_foreign_unlock(foreign, nf);
    if (err) {
        free(foreign);
        return err;
    }
    if (!(err = wm_range_split(lo, hi))) {
        if (lock)
            err = lock_range(lo, hi);
        else
            unlock_range(lo, hi);
        wm_merge_range(lo, hi);
    }
    if (err && lock)
        wm_foreign_unlock(foreign, nf);
    free(foreign);
    return err;
}

static int finish(int err)
{
    wm_unlock_exclusive();
    return wm_status(err);
}

int mlock(const void *addr, size_t len)
{
    wm_init();
    wm_lock_range((uintptr_t)addr, len);
    return finish(change(addr, len, true));
}

int munlock(const void *addr, size_t len)
{
    wm_init();
    wm_lock_range((uintptr_t)addr, len);
    return finish(change(addr, len, false));
}

int mlockall(int flags)
{
    wm_init();
    if (!(flags & (MCL_CURRENT | MCL_FUTURE)) || (flags & ~(MCL_CURRENT | MCL_FUTURE | MCL_ONFAULT))) {
        errno = EINVAL;
        return -1;
    }
    wm_lock_all();
    int err = 0;
    if (flags & MCL_CURRENT) {
        struct wm_region *first = wm_region_first_from(&wm_engine.regions, 0);
        if (first) {
            struct wm_region *last = first;
            for (struct wm_region *r = first; r; r = wm_region_next(&wm_engine.regions, r))
                last = r;
            err = lock_range(first->start, last->end);
            wm_merge_range(first->start, last->end);
        }
    }
    if (!err && (flags & MCL_FUTURE))
        lock_future = true;
    return finish(err);
}

int munlockall(void)
{
    wm_init();
    wm_lock_all();
    struct wm_region *r = wm_region_first_from(&wm_engine.regions, 0);
    for (; r; r = wm_region_next(&wm_engine.regions, r)) {
        if ((r->flags & WM_R_LOCKED) && lockable(r))
            wm_sys.VirtualUnlock((void *)r->start, lockable(r));
        r->flags &= (uint16_t)~WM_R_LOCKED;
    }
    lock_future = false;
    if ((r = wm_region_first_from(&wm_engine.regions, 0)))
        wm_merge_range(r->start, UINTPTR_MAX);
    return finish(0);
}

void wm_lock_new_mapping(uintptr_t lo, uintptr_t hi, bool map_locked)
{
    /* Best effort, as on Linux: MAP_LOCKED does not fail the mmap when the
     * pages cannot be locked; the region is marked locked either way. */
    if (!map_locked && !lock_future)
        return;
    for (struct wm_region *r = wm_region_first_from(&wm_engine.regions, lo); r && r->start < hi;
         r = wm_region_next(&wm_engine.regions, r)) {
        if (lockable(r))
            lock_pages((void *)r->start, lockable(r));
        r->flags |= WM_R_LOCKED;
    }
}
