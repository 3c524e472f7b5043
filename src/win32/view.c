/* Regions inside Windows views.  A view (or, past end of file, a reserved
 * range) is recorded in each of its regions as [vstart, vend).  Windows can
 * only unmap a view whole, so splitting one means unmapping it and mapping its
 * parts again from the same section: the data survives because it lives in
 * the section, except for the private pages of a copy-on-write view, which are
 * first copied into an anonymous section (wm_materialize_view). */
#include "internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct wm_region *wm_region_new(const struct wm_region_table *t)
{
    return wm_region_alloc(t);
}

void wm_region_free(struct wm_region *r)
{
    wm_region_dispose(r);
}

static bool is_reserved(const struct wm_region *r)
{
    return (r->flags & WM_R_PAST_EOF) != 0;
}

/* Bytes of the section the view starting with region r maps.  Less than the
 * view's extent for the last view of a file whose size is not a multiple of
 * the page size: Windows maps up to the section's end only. */
uint64_t wm_view_offset(const struct wm_region *r)
{
    return r->offset - (r->start - r->vstart);
}

static size_t view_map_len(const struct wm_region *r)
{
    uint64_t off = wm_view_offset(r), len = r->vend - r->vstart;
    if (r->backing->size - off < len)
        len = r->backing->size - off;
    return (size_t)len;
}

static struct wm_maparg view_arg(const struct wm_region *r)
{
    return wm_backing_maparg(r->backing, wm_view_offset(r));
}

void wm_set_view(uintptr_t lo, uintptr_t hi, uintptr_t vs, uintptr_t ve)
{
    for (struct wm_region *r = wm_region_first_from(&wm_engine.regions, lo); r && r->start < hi;
         r = wm_region_next(&wm_engine.regions, r)) {
        r->vstart = vs;
        r->vend = ve;
    }
}

DWORD wm_win_prot(const struct wm_backing *b, int prot)
{
    DWORD p;
    if (prot & PROT_WRITE)
        p = b->cow ? PAGE_WRITECOPY : PAGE_READWRITE;
    else if (prot & (PROT_READ | PROT_EXEC))
        p = PAGE_READONLY;
    else
        return PAGE_NOACCESS;
    /* x86 cannot execute without reading; PAGE_EXECUTE_X is PAGE_X << 4. */
    return (prot & PROT_EXEC) ? p << 4 : p;
}

size_t wm_region_mapped_len(const struct wm_region *r)
{
    if (is_reserved(r))
        return 0;
    /* Legacy: the last view of a file may end inside the 64 KiB page; Windows
     * maps whole 4 KiB pages up to the section's end only. */
    uintptr_t mapped_end = r->vstart + wm_round_up(view_map_len(r), 4096);
    uintptr_t end = r->end < mapped_end ? r->end : mapped_end;
    return end > r->start ? end - r->start : 0;
}

int wm_apply_prot(struct wm_region *r)
{
    size_t len = wm_region_mapped_len(r);
    if (len == 0)
        return 0;
    struct wm_backing *b = r->backing;
    void *a = (void *)r->start;
    DWORD wp = wm_win_prot(b, r->prot), old;
    if (b->reserve_only && r->prot != PROT_NONE) {
        /* A SEC_RESERVE view has no usable pages until they are committed. */
        if (!wm_sys.VirtualAlloc(a, len, MEM_COMMIT, wp))
            return wm_last_errno();
        r->flags |= WM_R_COMMITTED;
    } else if (wm_region_committed(r)) {
        if (!wm_sys.VirtualProtect(a, len, wp, &old))
            return wm_last_errno();
    }
    if (b->cow && (r->prot & PROT_WRITE))
        r->flags |= WM_R_COW_WRITTEN;
    if ((r->flags & WM_R_LOCKED) && r->prot != PROT_NONE)
        wm_sys.VirtualLock(a, len); /* best effort: the lock was granted before */
    return 0;
}

int wm_apply_fresh_prot(struct wm_region *r)
{
    const struct wm_backing *b = r->backing;
    DWORD a = wm_backing_access(b), fresh;
    fresh = (a & FILE_MAP_COPY) == FILE_MAP_COPY && !(a & FILE_MAP_WRITE) ? PAGE_WRITECOPY
            : (a & FILE_MAP_WRITE)                                        ? PAGE_READWRITE
                                                                          : PAGE_READONLY;
    if ((a & FILE_MAP_EXECUTE) && !b->priv)
        fresh <<= 4; /* private memory is made read-write (place_*.c) */
    /* A new view already has its section's access: one server round trip
     * less under Wine when that is what was asked for. */
    if (b->reserve_only || (r->flags & WM_R_LOCKED) || wm_win_prot(b, r->prot) != fresh)
        return wm_apply_prot(r);
    if (b->cow && (r->prot & PROT_WRITE))
        r->flags |= WM_R_COW_WRITTEN;
    return 0;
}

int wm_apply_view_prots(uintptr_t vstart)
{
    int err = 0;
    for (struct wm_region *r = wm_region_find(&wm_engine.regions, vstart); r && r->vstart == vstart;
         r = wm_region_next(&wm_engine.regions, r)) {
        /* This puts back protections a remap reset: a second try covers a
         * transient failure. */
        int e = wm_apply_prot(r);
        if (e)
            e = wm_apply_prot(r);
        if (!err)
            err = e;
    }
    return err;
}

int wm_split_region_at(uintptr_t addr)
{
    struct wm_region *r = wm_region_find(&wm_engine.regions, addr);
    if (!r || r->start == addr)
        return 0;
    return wm_region_split_at(&wm_engine.regions, r, addr) ? 0 : ENOMEM;
}

bool wm_region_committed(const struct wm_region *r)
{
    return !r->backing->reserve_only || (r->flags & WM_R_COMMITTED);
}

bool wm_view_has_private_pages(uintptr_t vstart)
{
    for (struct wm_region *r = wm_region_find(&wm_engine.regions, vstart); r && r->vstart == vstart;
         r = wm_region_next(&wm_engine.regions, r))
        if ((r->flags & WM_R_COW_WRITTEN) || (r->backing->priv && wm_region_committed(r)))
            return true;
    return false;
}

/* The view at vs could not be mapped again: its range is free or, in the
 * legacy strategy, was taken by another allocation in the release-and-retake
 * window (a new thread's stack, say).  Either way it is not ours any more,
 * and its regions must never read, protect, decommit or release it again:
 * they are dropped, as if unmapped (their bytes are gone already). */
static void forget_view(uintptr_t vs)
{
    struct wm_region *r = wm_region_find(&wm_engine.regions, vs);
    while (r && r->vstart == vs) {
        struct wm_region *next = wm_region_next(&wm_engine.regions, r);
        wm_region_remove(&wm_engine.regions, r);
        wm_backing_release(r->backing);
        wm_region_free(r);
        r = next;
    }
}

/* Map the whole view holding r back into its range (a second try covers a
 * transient failure).  False when that cannot be done: the view's regions,
 * r among them, are forgotten then. */
static bool map_back(const struct wm_region *r)
{
    struct wm_maparg m = view_arg(r);
    uintptr_t vs = r->vstart;
    if (wm_engine.place->map(vs, view_map_len(r), &m) && wm_engine.place->map(vs, view_map_len(r), &m)) {
        forget_view(vs);
        return false;
    }
    return true;
}

void wm_restore_view(const struct wm_region *r)
{
    uintptr_t vs = r->vstart;
    if (map_back(r))
        wm_apply_view_prots(vs);
}

/* Private memory is split in place by keeping its bytes aside while its
 * view is unmapped and mapped again in two (allocations cannot be split):
 * a copy of what is committed, at most WM_PRIVATE_MAX bytes (mappings
 * larger than that are sections unless made accessible by mprotect).  A
 * view holding more is copied into a section instead, once, after which
 * every split costs no copy (wm_materialize_view). */

struct saved {
    size_t n;
    struct saved_part {
        uintptr_t at;
        size_t len;
        unsigned char *bytes;
    } *part;
};

static void free_saved(struct saved *sv)
{
    for (size_t i = 0; i < sv->n; i++)
        free(sv->part[i].bytes);
    free(sv->part);
    sv->n = 0;
    sv->part = NULL;
}

/* Keep the bytes of the private view at vs in sv; ENOMEM when there are
 * more than WM_PRIVATE_MAX (or no memory).  Unreadable pages are made readable;
 * wm_apply_view_prots puts them back. */
static int save_view(uintptr_t vs, struct saved *sv)
{
    size_t n = 0, total = 0;
    struct wm_region *first = wm_region_find(&wm_engine.regions, vs), *r;
    for (r = first; r && r->vstart == vs; r = wm_region_next(&wm_engine.regions, r))
        if (wm_region_committed(r))
            n++, total += r->end - r->start;
    sv->n = 0;
    if (total > WM_PRIVATE_MAX || !(sv->part = calloc(n ? n : 1, sizeof *sv->part)))
        return ENOMEM;
    int err = 0;
    for (r = first; r && r->vstart == vs && !err; r = wm_region_next(&wm_engine.regions, r)) {
        if (!wm_region_committed(r))
            continue;
        struct saved_part *p = &sv->part[sv->n];
        DWORD old;
        p->at = r->start;
        p->len = r->end - r->start;
        if (!(p->bytes = malloc(p->len)))
            err = ENOMEM;
        else if (r->prot == PROT_NONE &&
                 !wm_sys.VirtualProtect((void *)r->start, p->len, PAGE_READONLY, &old))
            err = wm_last_errno();
        else
            memcpy(p->bytes, (void *)r->start, p->len);
        sv->n++;
    }
    if (err) {
        free_saved(sv);
        wm_apply_view_prots(vs);
    }
    return err;
}

/* Put saved bytes back into fresh private memory (zeros: only the blocks
 * that are not zeros are written), committing what was committed; the
 * caller then gives every region its protection.  Not failure-injected:
 * the split it completes cannot be undone any more. */
static void restore_saved(const struct saved *sv)
{
    for (size_t i = 0; i < sv->n; i++) {
        const struct saved_part *p = &sv->part[i];
        if (VirtualAlloc((void *)p->at, p->len, MEM_COMMIT, PAGE_READWRITE))
            wm_copy_nonzero((unsigned char *)p->at, p->bytes, p->len);
    }
}

/* The undo step of a failed split: the whole view again, with its bytes
 * only once it is really mapped again (in the legacy strategy another
 * allocation may have taken the range meanwhile). */
static void put_back(const struct wm_region *r, const struct saved *sv)
{
    uintptr_t vs = r->vstart;
    if (!map_back(r))
        return; /* lost: its bytes go with it */
    restore_saved(sv);
    wm_apply_view_prots(vs);
}

int wm_split_view_at(uintptr_t addr)
{
    const struct wm_place *pl = wm_engine.place;
    struct wm_region *r = wm_region_find(&wm_engine.regions, addr);
    if (!r || r->vstart == addr)
        return 0;
    int err = wm_split_region_at(addr);
    if (err)
        return err;
    uintptr_t vs = r->vstart, ve = r->vend;
    struct saved sv = {0};
    bool priv = r->backing->priv;
    if (is_reserved(r)) {
        err = pl->split(vs, ve - vs, addr - vs);
    } else {
        if (wm_view_has_private_pages(vs)) {
            if (!priv || (err = save_view(vs, &sv)) == ENOMEM)
                err = wm_materialize_view(vs), priv = false;
            if (err)
                return err;
        }
        r = wm_region_find(&wm_engine.regions, vs);
        struct wm_maparg mlo = view_arg(r), mhi = mlo;
        mhi.offset += addr - vs;
        size_t whole = view_map_len(r), lolen = addr - vs;
        if (whole <= lolen) {
            free_saved(&sv);
            return EINVAL; /* cannot happen: addr lies within the mapped part */
        }
        if ((err = pl->unmap(vs, ve - vs, priv))) {
            wm_apply_view_prots(vs); /* still mapped: only save_view's opening to undo */
        } else if ((err = pl->split(vs, ve - vs, lolen))) {
            put_back(r, &sv);
        } else if ((err = pl->map(vs, lolen, &mlo))) {
            pl->join(vs, ve - vs);
            put_back(r, &sv);
        } else if ((err = pl->map(addr, whole - lolen, &mhi))) {
            pl->unmap(vs, lolen, priv);
            pl->join(vs, ve - vs);
            put_back(r, &sv);
        } else {
            restore_saved(&sv);
        }
        free_saved(&sv);
    }
    if (err)
        return err;
    wm_set_view(vs, addr, vs, addr);
    wm_set_view(addr, ve, addr, ve);
    if (!is_reserved(r)) {
        /* Fresh views come with the section's full access: put each region's
         * protection back. */
        int e1 = wm_apply_view_prots(vs), e2 = wm_apply_view_prots(addr);
        err = e1 ? e1 : e2;
    }
    return err;
}

size_t wm_copy_nonzero(unsigned char *dst, const unsigned char *src, size_t n)
{
    size_t used = 0;
    for (size_t at = 0; at < n; at += 4096) {
        const uint64_t *w = (const uint64_t *)(src + at);
        size_t j = 0;
        while (j < 4096 / 8 && !w[j])
            j++;
        if (j < 4096 / 8) {
            memcpy(dst + at, src + at, 4096);
            used = at + 4096;
        }
    }
    return used;
}

/* Copy the bytes of the regions of the view at vs into tmp, a fresh view of
 * an anonymous section (nb) of the view's size: only 4 KiB blocks that are
 * not all zeros (the section's pages are zeros already; each one written is
 * a page committed).  Unreadable regions are made readable; the caller puts
 * every protection back. */
static int copy_view(uintptr_t vs, unsigned char *tmp, const struct wm_backing *nb)
{
    for (struct wm_region *r = wm_region_find(&wm_engine.regions, vs); r && r->vstart == vs;
         r = wm_region_next(&wm_engine.regions, r)) {
        size_t n = wm_round_up(wm_region_mapped_len(r), 4096); /* whole 4 KiB pages */
        if (!n || !wm_region_committed(r))
            continue; /* nothing there but zeros */
        unsigned char *dst = tmp + (r->start - vs);
        if (nb->reserve_only && !wm_sys.VirtualAlloc(dst, n, MEM_COMMIT, PAGE_READWRITE))
            return wm_last_errno();
        DWORD old;
        if (r->prot == PROT_NONE && !wm_sys.VirtualProtect((void *)r->start, n, PAGE_READONLY, &old))
            return wm_last_errno();
        wm_copy_nonzero(dst, (const unsigned char *)r->start, n);
    }
    return 0;
}

int wm_materialize_view(uintptr_t vs)
{
    const struct wm_place *pl = wm_engine.place;
    struct wm_region *first = wm_region_find(&wm_engine.regions, vs);
    struct wm_backing *ob = first->backing;
    uintptr_t ve = first->vend;
    size_t len = ve - vs;
    struct wm_backing *nb;
    /* Uncommitted private memory stays uncommitted where a section can
     * keep pages inaccessible that way (not under Wine). */
    int err = wm_backing_anon(len, ob->priv && ob->reserve_only && !wm_engine.reserve_unenforced, &nb);
    if (err)
        return err;
    if (!ob->priv) {
        /* A copy-on-write file view: the copy remembers the file, and may
         * execute only if the file's section could. */
        nb->exec = ob->exec;
        if (!(nb->origin = malloc(sizeof *nb->origin))) {
            wm_backing_release(nb);
            return ENOMEM;
        }
        nb->origin->file = ob;
        nb->origin->offset = wm_view_offset(first);
        wm_backing_hold(ob);
    }
    unsigned char *tmp = wm_sys.MapViewOfFileEx(nb->section, FILE_MAP_WRITE, 0, 0, len, NULL);
    if (!tmp) {
        err = wm_last_errno();
        wm_backing_release(nb);
        return err;
    }
    err = copy_view(vs, tmp, nb);
    wm_sys.UnmapViewOfFile(tmp);
    if (!err)
        err = pl->unmap(vs, len, ob->priv);
    if (err) {
        wm_apply_view_prots(vs);
        wm_backing_release(nb);
        return err;
    }
    struct wm_maparg m = wm_backing_maparg(nb, 0);
    if ((err = pl->map(vs, len, &m)) && (err = pl->map(vs, len, &m))) {
        /* The private pages are gone with the old view; keep the address
         * range mapped (from the file, or fresh private memory) at least. */
        wm_restore_view(first);
        wm_backing_release(nb);
        return err;
    }
    for (struct wm_region *r = first; r && r->vstart == vs; r = wm_region_next(&wm_engine.regions, r)) {
        wm_backing_release(r->backing);
        wm_backing_hold(nb);
        r->backing = nb;
        r->offset = r->start - vs;
        r->flags &= (uint16_t)~WM_R_COW_WRITTEN;
    }
    wm_backing_release(nb); /* the regions hold it now */
    return wm_apply_view_prots(vs);
}

int wm_isolate_range(uintptr_t lo, uintptr_t hi)
{
    int err = wm_split_view_at(lo);
    return err ? err : wm_split_view_at(hi);
}

void wm_remove_range(uintptr_t lo, uintptr_t hi)
{
    struct wm_region *r = wm_region_first_from(&wm_engine.regions, lo);
    while (r && r->start < hi) {
        struct wm_region *next = wm_region_next(&wm_engine.regions, r);
        wm_region_remove(&wm_engine.regions, r);
        if (r->end == r->vend) {
            if (is_reserved(r))
                wm_engine.place->free_reserved(r->vstart, r->vend - r->vstart);
            else if (!wm_defer_unmap(r->vstart, r->vend, r->backing->priv))
                wm_engine.place->free_view(r->vstart, r->vend - r->vstart, r->backing->priv);
        }
        wm_backing_release(r->backing);
        wm_region_free(r);
        r = next;
    }
}
