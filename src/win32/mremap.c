/* mremap (Linux), as one operation of the engine under one hold of its lock.
 *
 * The old range must lie inside one mapping as Linux counts them (a vma: a
 * run of regions with the same protection, flags and advice that continues
 * one file or one shared object; private anonymous memory continues any),
 * else EFAULT.
 *   shrink  the tail is unmapped;
 *   grow    in place when the old range ends its mapping and the pages after
 *           it are free: the mapping continues there (the file's next pages,
 *           fresh zero pages, or past the end of a shared object: SIGBUS);
 *   move    (MREMAP_MAYMOVE when growing in place is not possible, or
 *           MREMAP_FIXED) the same sections are mapped at the new address.
 *           Nothing is copied: private file pages not yet written still
 *           follow the file, pages past end of file stay past it (SIGBUS only
 *           when touched).  Copy-on-write views holding private pages become
 *           anonymous copies first (wm_materialize_view).  The old range is
 *           then unmapped, or with MREMAP_DONTUNMAP mapped afresh: private
 *           anonymous memory reads zeros again, a file its bytes, a shared
 *           object its own bytes; it is no longer locked.
 * Every fallible step comes before the point of no return and is undone on
 * failure, so a failed call changes nothing. */
#include "internal.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

enum { VMA_FLAGS = WM_R_SHARED | WM_R_ANON | WM_R_LOCKED | WM_R_DONTFORK | WM_R_WIPEONFORK };

static bool same_file(struct wm_backing *a, struct wm_backing *b)
{
    uint32_t va, vb;
    uint64_t ia, ib;
    return a == b || (!wm_backing_identity(a, &va, &ia) && !wm_backing_identity(b, &vb, &ib) &&
                      va == vb && ia == ib);
}

/* Whether b continues the mapping that a ends. */
static bool continues(const struct wm_region *a, const struct wm_region *b)
{
    if (b->start != a->end || a->prot != b->prot || a->advice != b->advice ||
        (a->flags & VMA_FLAGS) != (b->flags & VMA_FLAGS))
        return false;
    if ((a->flags & WM_R_ANON) && !(a->flags & WM_R_SHARED))
        return true; /* Linux joins neighbouring private anonymous memory */
    if (a->flags & WM_R_ANON)
        return a->backing == b->backing && b->offset == a->offset + (a->end - a->start);
    uint64_t oa, ob;
    struct wm_backing *fa = wm_region_file(a, &oa), *fb = wm_region_file(b, &ob);
    return fa && fb && ob == oa + (a->end - a->start) && same_file(fa, fb);
}

/* The mapping's continuation past region last (from byte `at` of the
 * address space): its backing (held; a new zero section for private
 * anonymous memory) and the offset there. */
static int continuation(const struct wm_region *last, uintptr_t at, size_t len, struct wm_backing **b,
                        uint64_t *off)
{
    if ((last->flags & WM_R_ANON) && !(last->flags & WM_R_SHARED)) {
        *off = 0;
        return wm_backing_private_anon(len, last->prot, b);
    }
    if (last->flags & WM_R_ANON) {
        /* A shared object does not grow: pages past its end are SIGBUS. */
        *b = last->backing;
        *off = last->offset + (at - last->start);
    } else {
        *b = wm_region_file(last, off);
        *off += at - last->start;
    }
    wm_backing_hold(*b);
    return 0;
}

/* Give the regions of [lo, hi) the advice, fork flags and lock of tmpl. */
static void inherit(uintptr_t lo, uintptr_t hi, const struct wm_region *tmpl, bool locked)
{
    for (struct wm_region *r = wm_region_first_from(&wm_engine.regions, lo); r && r->start < hi;
         r = wm_region_next(&wm_engine.regions, r)) {
        r->advice = tmpl->advice;
        r->flags |= tmpl->flags & (WM_R_DONTFORK | WM_R_WIPEONFORK);
    }
    if (locked)
        wm_lock_new_mapping(lo, hi, true);
    wm_merge_range(lo, hi);
}

/* ---- move ---- */

/* A part of the target that becomes one view (or one reserved range). */
struct cut {
    uintptr_t start, end;  /* target addresses */
    uintptr_t src;         /* old address of start, or 0 for the grown tail */
    struct wm_backing *b;  /* NULL: reserved (past end of file) */
    uint64_t offset;       /* of start in b */
    bool mapped;
};

struct move {
    uintptr_t old, t;      /* old and new start */
    size_t osz, nsz, keep; /* keep: bytes moved */
    struct wm_region tmpl; /* the old mapping's last region, for the tail */
    struct wm_backing *tail_b;
    uint64_t tail_off;
    bool fixed;
    struct wm_piece *slots; /* the target's reserved ranges */
    size_t nslots;
    struct cut *cuts;
    size_t ncuts, cap;
    size_t *splits;         /* per slot: cuts it was split into (0: not split) */
};

static int add_cut(struct move *mv, struct cut c)
{
    if (mv->ncuts == mv->cap) {
        size_t ncap = mv->cap ? 2 * mv->cap : 16;
        struct cut *n = realloc(mv->cuts, ncap * sizeof *n);
        if (!n)
            return ENOMEM;
        mv->cuts = n, mv->cap = ncap;
    }
    mv->cuts[mv->ncuts++] = c;
    return 0;
}

/* Cut [start, end) of the target, showing b from offset (b NULL: reserved),
 * at every slot boundary: a view must lie inside one reservation. */
static int add_range(struct move *mv, uintptr_t start, uintptr_t end, uintptr_t src,
                     struct wm_backing *b, uint64_t offset)
{
    for (size_t i = 0; i < mv->nslots && start < end; i++) {
        const struct wm_piece *s = &mv->slots[i];
        if (s->end <= start || s->start >= end)
            continue;
        uintptr_t e = s->end < end ? s->end : end;
        int err = add_cut(mv, (struct cut){start, e, src, b, offset, false});
        if (err)
            return err;
        offset += e - start;
        src = src ? src + (e - start) : 0;
        start = e;
    }
    return 0;
}

/* [start, end) of the target showing b from offset: mapped up to the
 * section's end (in whole pages), reserved past it. */
static int add_part(struct move *mv, uintptr_t start, uintptr_t end, uintptr_t src, struct wm_backing *b,
                    uint64_t offset)
{
    uintptr_t m = start;
    if (b && (b->section || b->priv) && offset < b->size) {
        uint64_t avail = wm_round_up((size_t)(b->size - offset), wm_engine.page);
        m = avail < end - start ? start + (uintptr_t)avail : end;
    }
    int err = add_range(mv, start, m, src, b, offset);
    if (!err && m < end)
        err = add_range(mv, m, end, src ? src + (m - start) : 0, NULL, offset + (m - start));
    return err;
}

/* The target's parts: each old view (or reserved range) moved, then the
 * grown tail. */
static int plan(struct move *mv)
{
    uintptr_t hi = mv->old + mv->keep;
    int err = 0;
    for (struct wm_region *r = wm_region_find(&wm_engine.regions, mv->old); r && r->start < hi && !err;
         r = wm_region_first_from(&wm_engine.regions, r->vend)) {
        uintptr_t ts = mv->t + (r->vstart - mv->old), te = mv->t + (r->vend - mv->old);
        bool reserved = (r->flags & WM_R_PAST_EOF) != 0;
        err = add_part(mv, ts, te, r->vstart, reserved ? NULL : r->backing, wm_view_offset(r));
    }
    if (!err && mv->nsz > mv->keep)
        err = add_part(mv, mv->t + mv->keep, mv->t + mv->nsz, 0, mv->tail_b, mv->tail_off);
    return err;
}

/* Split the target's slots at the cuts' boundaries; undone by join_slots. */
static int split_slots(struct move *mv)
{
    const struct wm_place *pl = wm_engine.place;
    size_t c = 0;
    for (size_t i = 0; i < mv->nslots; i++) {
        struct wm_piece *s = &mv->slots[i];
        uintptr_t cur = s->start;
        for (; c < mv->ncuts && mv->cuts[c].start < s->end; c++) {
            if (mv->cuts[c].end < s->end) {
                int err = pl->split(cur, s->end - cur, mv->cuts[c].end - cur);
                if (err)
                    return err;
                cur = mv->cuts[c].end;
                mv->splits[i] = 1;
            }
        }
    }
    return 0;
}

static void join_slots(struct move *mv)
{
    for (size_t i = 0; i < mv->nslots; i++)
        if (mv->splits[i])
            wm_engine.place->join(mv->slots[i].start, mv->slots[i].end - mv->slots[i].start);
}

static int map_cuts(struct move *mv)
{
    const struct wm_place *pl = wm_engine.place;
    for (size_t i = 0; i < mv->ncuts; i++) {
        struct cut *c = &mv->cuts[i];
        if (!c->b)
            continue;
        size_t len = c->end - c->start;
        if (c->b->size - c->offset < len)
            len = (size_t)(c->b->size - c->offset);
        struct wm_maparg m = wm_backing_maparg(c->b, c->offset);
        int err = pl->map(c->start, len, &m);
        if (err)
            return err;
        c->mapped = true;
    }
    for (size_t i = 0; i < mv->ncuts; i++)
        if (!mv->cuts[i].b) {
            int err = pl->ensure_reserved(mv->cuts[i].start, mv->cuts[i].end - mv->cuts[i].start);
            if (err)
                return err;
        }
    return 0;
}

static void unmap_cuts(struct move *mv)
{
    for (size_t i = 0; i < mv->ncuts; i++)
        if (mv->cuts[i].mapped && !wm_engine.place->unmap(mv->cuts[i].start,
                                                          mv->cuts[i].end - mv->cuts[i].start,
                                                          mv->cuts[i].b->priv))
            mv->cuts[i].mapped = false;
}

static void drop_regions(struct wm_region **nr, size_t n);

/* A new region like r over [start, end) of the target, in cut c. */
static struct wm_region *region_like(const struct wm_region *r, const struct cut *c, uintptr_t start,
                                     uintptr_t end, uint64_t offset, struct wm_backing *b)
{
    struct wm_region *x = wm_region_new(&wm_engine.regions);
    if (!x)
        return NULL;
    *x = *r;
    x->start = start;
    x->end = end;
    x->offset = offset;
    x->backing = b;
    x->vstart = c->start;
    x->vend = c->end;
    if (!c->b)
        x->flags |= WM_R_PAST_EOF;
    wm_backing_hold(b);
    return x;
}

/* The new regions: each old region's part in each cut, and the tail, which
 * continues the mapping with fresh state. */
static int new_regions(struct move *mv, struct wm_region ***out, size_t *n)
{
    size_t cap = 0;
    for (size_t i = 0; i < mv->ncuts; i++) {
        const struct cut *c = &mv->cuts[i];
        uintptr_t hi = c->src + (c->end - c->start);
        cap++;
        for (struct wm_region *r = c->src ? wm_region_find(&wm_engine.regions, c->src) : NULL;
             r && r->start < hi; r = wm_region_next(&wm_engine.regions, r))
            cap++;
    }
    struct wm_region **nr = calloc(cap, sizeof *nr);
    if (!nr)
        return ENOMEM;
    size_t k = 0;
    struct wm_region tail = mv->tmpl;
    tail.flags &= VMA_FLAGS;
    for (size_t i = 0; i < mv->ncuts; i++) {
        const struct cut *c = &mv->cuts[i];
        if (!c->src) {
            if (!(nr[k] = region_like(&tail, c, c->start, c->end, c->offset, mv->tail_b)))
                goto oom;
            k++;
            continue;
        }
        uintptr_t lo = c->src, hi = c->src + (c->end - c->start);
        for (struct wm_region *r = wm_region_find(&wm_engine.regions, lo); r && r->start < hi;
             r = wm_region_next(&wm_engine.regions, r)) {
            uintptr_t s = r->start > lo ? r->start : lo, e = r->end < hi ? r->end : hi;
            if (!(nr[k] = region_like(r, c, c->start + (s - lo), c->start + (e - lo),
                                      r->offset + (s - r->start), r->backing)))
                goto oom;
            k++;
        }
    }
    *out = nr;
    *n = k;
    return 0;
oom:
    drop_regions(nr, k);
    return ENOMEM;
}

static void drop_regions(struct wm_region **nr, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        wm_backing_release(nr[i]->backing);
        wm_region_free(nr[i]);
    }
    free(nr);
}

/* MREMAP_DONTUNMAP: the old range mapped afresh (see the top of the file). */
static int refill(const struct move *mv)
{
    const struct wm_region *r = &mv->tmpl;
    struct wm_backing *b;
    uint64_t off;
    int err;
    if ((r->flags & WM_R_ANON) && !(r->flags & WM_R_SHARED)) {
        off = 0;
        err = wm_backing_private_anon(mv->osz, r->prot, &b);
    } else {
        struct wm_region *first = wm_region_find(&wm_engine.regions, mv->old);
        if (r->flags & WM_R_ANON) {
            b = first->backing;
            off = first->offset;
        } else {
            b = wm_region_file(first, &off);
        }
        wm_backing_hold(b);
        err = 0;
    }
    if (err)
        return err;
    err = wm_map_fixed(mv->old, mv->old + mv->osz, b, off, r->prot, r->flags & (WM_R_SHARED | WM_R_ANON),
                       false);
    wm_backing_release(b);
    if (!err)
        inherit(mv->old, mv->old + mv->osz, r, false);
    return err;
}

static int move(struct move *mv, int flags)
{
    const struct wm_place *pl = wm_engine.place;
    struct wm_region **nr = NULL;
    size_t nn = 0;
    int err;
    /* The target, as reserved ranges. */
    if (mv->fixed) {
        if ((err = wm_take_range(mv->t, mv->t + mv->nsz, &mv->slots, &mv->nslots)))
            return err;
    } else {
        if ((err = pl->reserve(0, mv->nsz, false, &mv->t)))
            return err;
        if (!(mv->slots = malloc(sizeof *mv->slots))) {
            pl->free_reserved(mv->t, mv->nsz);
            return ENOMEM;
        }
        mv->slots[0] = (struct wm_piece){mv->t, mv->t + mv->nsz, NULL, false};
        mv->nslots = 1;
    }
    if (!(mv->splits = calloc(mv->nslots, sizeof *mv->splits)))
        err = ENOMEM;
    if (!err)
        err = plan(mv);
    if (!err)
        err = new_regions(mv, &nr, &nn);
    if (!err && !(err = split_slots(mv)) && !(err = map_cuts(mv))) {
        for (size_t i = 0; i < nn && !err; i++)
            err = wm_apply_prot(nr[i]);
        if (!err && (flags & MREMAP_DONTUNMAP))
            err = refill(mv);
    }
    if (err) {
        unmap_cuts(mv);
        join_slots(mv);
        if (nr)
            drop_regions(nr, nn);
        if (mv->fixed)
            wm_untake_range(mv->slots, mv->nslots);
        else {
            pl->free_reserved(mv->t, mv->nsz);
            free(mv->slots);
        }
        mv->slots = NULL;
        return err;
    }
    /* Point of no return. */
    if (mv->fixed)
        wm_forget_range(mv->t, mv->t + mv->nsz);
    if (!(flags & MREMAP_DONTUNMAP))
        wm_remove_range(mv->old, mv->old + mv->osz);
    for (size_t i = 0; i < nn; i++)
        wm_region_insert(&wm_engine.regions, nr[i]);
    free(nr);
    free(mv->slots);
    mv->slots = NULL;
    wm_merge_range(mv->t, mv->t + mv->nsz);
    return 0;
}

/* ---- the call ---- */

static int do_mremap(uintptr_t old, size_t old_size, size_t new_size, int flags, uintptr_t target,
                     uintptr_t *out)
{
    size_t page = wm_engine.page;
    if ((flags & ~(MREMAP_MAYMOVE | MREMAP_FIXED | MREMAP_DONTUNMAP)) || old % page ||
        ((flags & (MREMAP_FIXED | MREMAP_DONTUNMAP)) && !(flags & MREMAP_MAYMOVE)) || new_size == 0 ||
        old_size == 0 || ((flags & MREMAP_DONTUNMAP) && old_size != new_size))
        return EINVAL;
    if (old_size > SIZE_MAX - page || new_size > SIZE_MAX - page)
        return ENOMEM;
    size_t osz = wm_round_up(old_size, page), nsz = wm_round_up(new_size, page);
    if (old + osz < old)
        return EINVAL;
    if (flags & MREMAP_FIXED) {
        if (target % page || target + nsz < target)
            return EINVAL;
        if (target < old + osz && old < target + nsz)
            return EINVAL; /* overlapping ranges */
    }
    *out = old;
    int err;
    if (!wm_region_find(&wm_engine.regions, old))
        return EFAULT; /* Linux: the address must lie in a mapping */
    if (!(flags & (MREMAP_FIXED | MREMAP_DONTUNMAP)) && nsz <= osz) {
        /* Shrink: the tail is unmapped, whatever lies there (Linux checks
         * nothing more). */
        if (nsz == osz)
            return 0;
        if ((err = wm_isolate_range(old + nsz, old + osz))) {
            wm_merge_range(old + nsz, old + osz);
            return err;
        }
        wm_remove_range(old + nsz, old + osz);
        return 0;
    }
    /* Growing or moving: the part that moves (all of the old range, or for
     * a shrinking move its first new_size bytes: Linux unmaps the rest)
     * lies inside one mapping. */
    size_t moved = nsz < osz ? nsz : osz;
    struct wm_region *last = wm_region_find(&wm_engine.regions, old);
    while (last->end < old + moved) {
        struct wm_region *n = wm_region_next(&wm_engine.regions, last);
        if (!n || !continues(last, n))
            return EFAULT;
        last = n;
    }
    struct wm_region *after = wm_region_next(&wm_engine.regions, last);
    bool ends_mapping = last->end == old + osz && !(after && continues(last, after));
    struct move mv = {.old = old, .t = target, .osz = osz, .nsz = nsz, .tmpl = *last,
                      .fixed = (flags & MREMAP_FIXED) != 0};
    mv.keep = osz < nsz ? osz : nsz;
    bool locked = (last->flags & WM_R_LOCKED) != 0;
    if (nsz > osz && (err = continuation(last, old + osz, nsz - osz, &mv.tail_b, &mv.tail_off)))
        return err;
    if (!(flags & (MREMAP_FIXED | MREMAP_DONTUNMAP)) && ends_mapping) {
        /* Grow in place, when the pages after the mapping are free. */
        err = wm_map_fixed(old + osz, old + nsz, mv.tail_b, mv.tail_off, last->prot,
                           last->flags & (WM_R_SHARED | WM_R_ANON), true);
        if (!err)
            inherit(old + osz, old + nsz, &mv.tmpl, locked);
        if (err != EEXIST) {
            wm_backing_release(mv.tail_b);
            return err;
        }
    }
    if (!(flags & MREMAP_MAYMOVE)) {
        if (mv.tail_b)
            wm_backing_release(mv.tail_b);
        return ENOMEM; /* Linux: cannot grow in place */
    }
    /* Move: view boundaries at the old range's ends and where the moved part
     * ends, and no private page left in a copy-on-write view. */
    err = wm_isolate_range(old, old + osz);
    if (!err && mv.keep < osz)
        err = wm_split_view_at(old + mv.keep);
    for (struct wm_region *r = wm_region_find(&wm_engine.regions, old); !err && r && r->start < old + mv.keep;
         r = wm_region_first_from(&wm_engine.regions, r->vend))
        if (wm_view_has_private_pages(r->vstart))
            err = wm_materialize_view(r->vstart);
    if (!err)
        err = move(&mv, flags);
    if (err)
        wm_merge_range(old, old + osz);
    else
        *out = mv.t;
    free(mv.cuts);
    free(mv.splits);
    if (mv.tail_b)
        wm_backing_release(mv.tail_b);
    return err;
}

void *mremap(void *old_address, size_t old_size, size_t new_size, int flags, ...)
{
    uintptr_t target = 0;
    if (flags & MREMAP_FIXED) {
        va_list ap;
        va_start(ap, flags);
        target = (uintptr_t)va_arg(ap, void *);
        va_end(ap);
    }
    wm_init();
    uintptr_t out;
    struct wm_closer c;
    wm_lock_all(); /* old, grown and target ranges: rare enough to wait for all */
    wm_defer_closing(&c); /* sections of views a fixed target replaces */
    int err = do_mremap((uintptr_t)old_address, old_size, new_size, flags, target, &out);
    wm_close_deferred(&c); /* unlocks */
    if (err) {
        errno = err;
        return MAP_FAILED;
    }
    return (void *)out;
}
