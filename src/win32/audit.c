/* Self-check for tests and debugging: the region table's invariants, and its
 * agreement with what VirtualQuery says about each region. */
#include "internal.h"

#include <stdio.h>

static char msg[256];

static bool same_prot(DWORD want, DWORD got)
{
    /* A written page of a copy-on-write view reads back as private
     * read-write; the reserved part of a SEC_RESERVE view reports 0. */
    if (want == got)
        return true;
    return (want == PAGE_WRITECOPY && got == PAGE_READWRITE) ||
           (want == PAGE_EXECUTE_WRITECOPY && got == PAGE_EXECUTE_READWRITE);
}

static const char *check_region(const struct wm_region *r)
{
    MEMORY_BASIC_INFORMATION mi;
    if (r->vstart > r->start || r->vend < r->end)
        return "region outside its view";
    if (!VirtualQuery((void *)r->start, &mi, sizeof mi))
        return "VirtualQuery failed";
    if (r->flags & WM_R_PAST_EOF)
        return mi.State == MEM_RESERVE ? NULL : "range past EOF is not reserved";
    if (mi.Type != (r->backing->priv ? MEM_PRIVATE : MEM_MAPPED))
        return r->backing->priv ? "not private memory" : "not a mapped view";
    if ((uintptr_t)mi.AllocationBase != r->vstart)
        return "view starts elsewhere than recorded";
    if (!wm_region_committed(r))
        return mi.State == MEM_RESERVE ? NULL : "uncommitted range is committed";
    if (mi.State != MEM_COMMIT)
        return "range is not committed";
    if (!same_prot(wm_win_prot(r->backing, r->prot), mi.Protect))
        return "protection differs";
    return NULL;
}

const char *wm_audit(void)
{
    wm_init();
    const char *err = NULL;
    const struct wm_region *bad = NULL;
    wm_lock_all_shared(); /* Windows agrees with the table once nothing is busy */
    err = wm_region_check(&wm_engine.regions, wm_engine.page);
    for (struct wm_region *r = wm_region_first_from(&wm_engine.regions, 0); !err && r;
         r = wm_region_next(&wm_engine.regions, r)) {
        if ((err = check_region(r)))
            bad = r;
    }
    if (err && bad) {
        MEMORY_BASIC_INFORMATION mi = {0};
        VirtualQuery((void *)bad->start, &mi, sizeof mi);
        snprintf(msg, sizeof msg,
                 "%s: region %p-%p view %p-%p prot %d flags %#x; Windows: base %p state %#lx "
                 "type %#lx protect %#lx",
                 err, (void *)bad->start, (void *)bad->end, (void *)bad->vstart, (void *)bad->vend,
                 bad->prot, bad->flags, mi.AllocationBase, mi.State, mi.Type, mi.Protect);
        err = msg;
    }
    wm_unlock_shared();
    return err;
}

void wm_dump(FILE *out)
{
    wm_init();
    wm_lock_all_shared();
    for (struct wm_region *r = wm_region_first_from(&wm_engine.regions, 0); r;
         r = wm_region_next(&wm_engine.regions, r)) {
        MEMORY_BASIC_INFORMATION mi = {0};
        VirtualQuery((void *)r->start, &mi, sizeof mi);
        fprintf(out, "%p-%p view %p-%p off %#llx prot %d flags %#x | base %p state %#lx type %#lx prot %#lx size %#zx\n",
                (void *)r->start, (void *)r->end, (void *)r->vstart, (void *)r->vend,
                (unsigned long long)r->offset, r->prot, r->flags, mi.AllocationBase, mi.State, mi.Type,
                mi.Protect, (size_t)mi.RegionSize);
    }
    wm_unlock_shared();
}
