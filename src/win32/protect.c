/* mprotect: per-page-range protection recorded in the region table (split as
 * needed) and applied with VirtualProtect, or by committing pages of a
 * reserve-only section on first access permission. */
#include "internal.h"

#include <errno.h>
#include <stdlib.h>

/* Every page of [lo, hi) belongs to some region. */
int wm_range_fully_mapped(uintptr_t lo, uintptr_t hi)
{
    uintptr_t p = lo;
    while (p < hi) {
        struct wm_region *r = wm_region_find(&wm_engine.regions, p);
        if (!r)
            return 0;
        p = r->end;
    }
    return 1;
}

/* Merge the regions around [lo, hi) that the change left equal. */
void wm_merge_range(uintptr_t lo, uintptr_t hi)
{
    struct wm_region *r = wm_region_find(&wm_engine.regions, lo);
    struct wm_region *p = r ? wm_region_prev(&wm_engine.regions, r) : NULL;
    if (p && p->end == lo)
        r = p;
    while (r && r->start <= hi) {
        if (!wm_region_try_merge_next(&wm_engine.regions, r, wm_region_free))
            r = wm_region_next(&wm_engine.regions, r);
    }
}

static int do_mprotect(uintptr_t lo, size_t len, int prot)
{
    size_t page = wm_engine.page;
    if (lo % page || (prot & ~(PROT_READ | PROT_WRITE | PROT_EXEC)))
        return EINVAL;
    if (len == 0)
        return 0;
    if (len > SIZE_MAX - page || lo + ((len + page - 1) & ~(page - 1)) < lo)
        return ENOMEM;
    uintptr_t hi = lo + ((len + page - 1) & ~(page - 1));
    if (!wm_range_fully_mapped(lo, hi))
        return ENOMEM;
    for (struct wm_region *r = wm_region_find(&wm_engine.regions, lo); r && r->start < hi;
         r = wm_region_next(&wm_engine.regions, r)) {
        const struct wm_backing *b = r->backing;
        /* A shared view of a file opened read-only can never be written;
         * an executable view needs a section created executable. */
        if ((prot & PROT_WRITE) && !b->writable && !b->cow)
            return EACCES;
        if ((prot & PROT_EXEC) && !b->exec && !(r->flags & WM_R_PAST_EOF))
            return EACCES;
    }
    int err = wm_split_region_at(lo);
    if (!err)
        err = wm_split_region_at(hi);
    if (err)
        return err;
    size_t n = 0;
    for (struct wm_region *r = wm_region_find(&wm_engine.regions, lo); r && r->start < hi;
         r = wm_region_next(&wm_engine.regions, r))
        n++;
    uint8_t *old = malloc(n);
    if (!old)
        return ENOMEM;
    size_t done = 0;
    for (struct wm_region *r = wm_region_find(&wm_engine.regions, lo); r && r->start < hi;
         r = wm_region_next(&wm_engine.regions, r), done++) {
        old[done] = r->prot;
        r->prot = (uint8_t)prot;
        if ((err = wm_apply_prot(r))) {
            r->prot = old[done];
            break;
        }
    }
    if (err) {
        /* Put back what was changed before the failure. */
        struct wm_region *r = wm_region_find(&wm_engine.regions, lo);
        for (size_t i = 0; i < done; i++, r = wm_region_next(&wm_engine.regions, r)) {
            r->prot = old[i];
            wm_apply_prot(r);
        }
    }
    free(old);
    wm_merge_range(lo, hi);
    return err;
}

int mprotect(void *addr, size_t len, int prot)
{
    wm_init();
    wm_lock_exclusive();
    int err = do_mprotect((uintptr_t)addr, len, prot);
    wm_unlock_exclusive();
    if (err) {
        errno = err;
        return -1;
    }
    return 0;
}
