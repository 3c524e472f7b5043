/* mprotect: per-page-range protection recorded in the region table (split as
 * needed) and applied with VirtualProtect, or by committing pages of a
 * reserve-only section on first access permission.  Pages the library did
 * not map are changed directly (foreign.c), first, so that a failure in the
 * library's part can put them back. */
#include "internal.h"

#include <errno.h>
#include <stdlib.h>

/* The library's regions in [lo, hi) (all or none changed). */
static int protect_regions(uintptr_t lo, uintptr_t hi, int prot)
{
    int err;
    if ((err = wm_range_split(lo, hi)))
        return err;
    size_t n = 0;
    for (struct wm_region *r = wm_region_first_from(&wm_engine.regions, lo); r && r->start < hi;
         r = wm_region_next(&wm_engine.regions, r))
        n++;
    if (n == 0)
        return 0;
    uint8_t *old = malloc(n);
    if (!old)
        return ENOMEM;
    size_t done = 0;
    for (struct wm_region *r = wm_region_first_from(&wm_engine.regions, lo); r && r->start < hi;
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
        struct wm_region *r = wm_region_first_from(&wm_engine.regions, lo);
        for (size_t i = 0; i < done; i++, r = wm_region_next(&wm_engine.regions, r)) {
            r->prot = old[i];
            wm_apply_prot(r);
        }
    }
    free(old);
    wm_merge_range(lo, hi);
    return err;
}

static int do_mprotect(uintptr_t lo, size_t len, int prot)
{
    if (prot & ~(PROT_READ | PROT_WRITE | PROT_EXEC))
        return EINVAL;
    uintptr_t hi;
    int err = wm_range_bounds(lo, len, &hi);
    if (lo == hi)
        return err;
    for (struct wm_region *r = wm_region_first_from(&wm_engine.regions, lo); r && r->start < hi;
         r = wm_region_next(&wm_engine.regions, r)) {
        const struct wm_backing *b = r->backing;
        /* A shared view of a file opened read-only can never be written;
         * an executable view needs a section created executable. */
        if (((prot & PROT_WRITE) && !b->writable && !b->cow) ||
            ((prot & PROT_EXEC) && !b->exec && !(r->flags & WM_R_PAST_EOF))) {
            /* Linux answers for the first problem in address order: this
             * refusal, unless a hole (ENOMEM) comes before it. */
            uintptr_t at = r->start > lo ? r->start : lo;
            if (!err || wm_range_fully_mapped(lo, at) || wm_foreign_covers_gaps(lo, at))
                return EACCES;
            break;
        }
    }
    if (err)
        return err;
    struct wm_foreign *foreign;
    size_t nf;
    if ((err = wm_foreign_list(lo, hi, &foreign, &nf)))
        return err;
    if ((err = wm_foreign_protect(foreign, nf, prot))) {
        free(foreign);
        return err;
    }
    err = protect_regions(lo, hi, prot);
    if (err)
        wm_foreign_unprotect(foreign, nf);
    free(foreign);
    return err;
}

int mprotect(void *addr, size_t len, int prot)
{
    wm_init();
    wm_lock_range((uintptr_t)addr, len);
    int err = do_mprotect((uintptr_t)addr, len, prot);
    wm_unlock_exclusive();
    return wm_status(err);
}
