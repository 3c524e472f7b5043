/* The page range named by a POSIX call on existing mappings: bounds checks,
 * region splits at its ends, and merging back what became equal. */
#include "internal.h"

#include <errno.h>

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

int wm_range_bounds(uintptr_t lo, size_t len, uintptr_t *hi)
{
    size_t page = wm_engine.page;
    *hi = lo;
    if (lo % page)
        return EINVAL;
    if (len == 0)
        return 0;
    if (len > SIZE_MAX - page || lo + ((len + page - 1) & ~(page - 1)) < lo)
        return ENOMEM;
    *hi = lo + ((len + page - 1) & ~(page - 1));
    return wm_range_fully_mapped(lo, *hi) || wm_foreign_covers_gaps(lo, *hi) ? 0 : ENOMEM;
}

int wm_range_split(uintptr_t lo, uintptr_t hi)
{
    int err = wm_split_region_at(lo);
    if (!err && (err = wm_split_region_at(hi)))
        wm_merge_range(lo, lo);
    return err;
}

/* A region merged into its neighbour: its reference on the (same) backing
 * goes with it, as a split took one (init.c: on_dup). */
static void drop_merged(struct wm_region *r)
{
    wm_backing_release(r->backing);
    wm_region_free(r);
}

void wm_merge_range(uintptr_t lo, uintptr_t hi)
{
    struct wm_region *r = wm_region_first_from(&wm_engine.regions, lo);
    struct wm_region *p = r ? wm_region_prev(&wm_engine.regions, r) : NULL;
    if (p && p->end == lo)
        r = p;
    while (r && r->start <= hi) {
        if (!wm_region_try_merge_next(&wm_engine.regions, r, drop_merged))
            r = wm_region_next(&wm_engine.regions, r);
    }
}
