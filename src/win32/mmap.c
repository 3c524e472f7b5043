/* mmap and munmap: argument rules, then placement of the new range as a
 * sequence of "pieces" (reserved ranges that become views), as one
 * transaction: every fallible step comes first and is undone on failure;
 * only releases, which cannot fail, come after the point of no return. */
#include "internal.h"

#include <errno.h>
#include <io.h>
#include <stdlib.h>

#define KNOWN_FLAGS                                                                                \
    (MAP_TYPE | MAP_FIXED | MAP_ANONYMOUS | MAP_NORESERVE | MAP_POPULATE | MAP_FIXED_NOREPLACE |  \
     MAP_DENYWRITE | MAP_EXECUTABLE | MAP_STACK | MAP_LOCKED)

struct request {
    uintptr_t lo, hi;      /* the range being mapped */
    uintptr_t file_end;    /* lo + mapped part: beyond it lie whole pages past EOF */
    struct wm_backing *b;
    uint64_t offset;
    int prot;
    uint16_t rflags;
};

/* Can every part of [lo, hi) outside our regions be taken?  Memory the
 * library did not map (heap, images, stacks) never can. */
static bool gaps_are_free(uintptr_t lo, uintptr_t hi)
{
    uintptr_t p = lo;
    while (p < hi) {
        struct wm_region *r = wm_region_first_from(&wm_engine.regions, p);
        if (r && r->start <= p) {
            p = r->end;
            continue;
        }
        uintptr_t gap_end = r && r->start < hi ? r->start : hi;
        if (!wm_engine.place->available(p, gap_end))
            return false;
        p = gap_end;
    }
    return true;
}

/* Map the new backing into every piece below file_end; undo on failure. */
static int map_pieces(const struct request *q, struct wm_piece *pc, size_t n)
{
    const struct wm_place *pl = wm_engine.place;
    struct wm_maparg m = wm_backing_maparg(q->b, 0);
    for (size_t i = 0; i < n; i++) {
        if (pc[i].start >= q->file_end)
            break;
        m.offset = q->offset + (pc[i].start - q->lo);
        size_t len = pc[i].end - pc[i].start;
        if (q->b->size - m.offset < len)
            len = (size_t)(q->b->size - m.offset);
        int err = pl->map(pc[i].start, len, &m);
        if (err) {
            while (i-- > 0)
                if (pc[i].mapped && !pl->unmap(pc[i].start, pc[i].end - pc[i].start, q->b->priv))
                    pc[i].mapped = false;
            return err;
        }
        pc[i].mapped = true;
    }
    return 0;
}

/* Put back what the pieces held before: old views mapped again, gaps freed. */
static void undo_pieces(struct wm_piece *pc, size_t n)
{
    const struct wm_place *pl = wm_engine.place;
    for (size_t i = 0; i < n; i++) {
        if (!pc[i].old) {
            pl->free_reserved(pc[i].start, pc[i].end - pc[i].start);
        } else if (!(pc[i].old->flags & WM_R_PAST_EOF)) {
            wm_restore_view(pc[i].old);
        } else {
            pl->ensure_reserved(pc[i].start, pc[i].end - pc[i].start);
        }
    }
}

/* Where a gap piece starting at p must end (at most e): one piece is taken
 * as one reservation, and the exact strategy cannot join reservations made
 * apart (spare placeholders and fresh ones). */
static uintptr_t gap_piece_end(uintptr_t p, uintptr_t e)
{
    uintptr_t b = wm_engine.place->reservation_end(p, e);
    return b < e ? b : e;
}

/* Collect [lo, hi) as pieces: old views (already isolated to lie inside) and
 * gaps.  pc has room for every piece plus one. */
static size_t collect_pieces(uintptr_t lo, uintptr_t hi, struct wm_piece *pc)
{
    size_t n = 0;
    uintptr_t p = lo;
    while (p < hi) {
        struct wm_region *r = wm_region_first_from(&wm_engine.regions, p);
        if (r && r->start <= p) {
            pc[n++] = (struct wm_piece){r->vstart, r->vend, r, false};
            p = r->vend;
        } else {
            uintptr_t e = gap_piece_end(p, r && r->start < hi ? r->start : hi);
            pc[n++] = (struct wm_piece){p, e, NULL, false};
            p = e;
        }
    }
    return n;
}

static size_t count_pieces(uintptr_t lo, uintptr_t hi)
{
    size_t n = 0;
    uintptr_t p = lo;
    while (p < hi) {
        struct wm_region *r = wm_region_first_from(&wm_engine.regions, p);
        p = r && r->start <= p ? r->vend : gap_piece_end(p, r && r->start < hi ? r->start : hi);
        n++;
    }
    return n;
}

/* Turn every piece into a reserved range: old views are unmapped (their data
 * stays in their sections), gaps are reserved.  Undo on failure. */
static int reserve_pieces(struct wm_piece *pc, size_t n)
{
    const struct wm_place *pl = wm_engine.place;
    for (size_t i = 0; i < n; i++) {
        int err = 0;
        uintptr_t got;
        if (!pc[i].old)
            err = pl->reserve(pc[i].start, pc[i].end - pc[i].start, true, &got);
        else if (!(pc[i].old->flags & WM_R_PAST_EOF))
            err = pl->unmap(pc[i].start, pc[i].end - pc[i].start, pc[i].old->backing->priv);
        if (err) {
            undo_pieces(pc, i);
            return err;
        }
    }
    return 0;
}

/* Give the piece containing q->file_end a boundary there.  Returns the index
 * of the piece that was split, or n when none was. */
static size_t split_at_eof(const struct request *q, struct wm_piece *pc, size_t *n, int *err)
{
    *err = 0;
    for (size_t i = 0; i < *n; i++) {
        if (pc[i].start < q->file_end && q->file_end < pc[i].end) {
            *err = wm_engine.place->split(pc[i].start, pc[i].end - pc[i].start,
                                          q->file_end - pc[i].start);
            if (*err)
                return *n;
            for (size_t j = *n; j > i + 1; j--)
                pc[j] = pc[j - 1];
            pc[i + 1] = (struct wm_piece){q->file_end, pc[i].end, NULL, false};
            pc[i].end = q->file_end;
            (*n)++;
            return i;
        }
    }
    return *n;
}

static void fill_region(struct wm_region *r, const struct request *q, const struct wm_piece *p)
{
    r->start = r->vstart = p->start;
    r->end = r->vend = p->end;
    r->offset = q->offset + (p->start - q->lo);
    r->backing = q->b;
    r->prot = (uint8_t)q->prot;
    r->flags = q->rflags | (p->start >= q->file_end ? WM_R_PAST_EOF : 0);
    wm_backing_hold(q->b);
}

/* Drop the old regions in [lo, hi) from the table without touching Windows
 * (their address range now belongs to the new pieces). */
static void forget_range(uintptr_t lo, uintptr_t hi)
{
    struct wm_region *r = wm_region_first_from(&wm_engine.regions, lo);
    while (r && r->start < hi) {
        struct wm_region *next = wm_region_next(&wm_engine.regions, r);
        wm_region_remove(&wm_engine.regions, r);
        wm_backing_release(r->backing);
        wm_region_free(r);
        r = next;
    }
}

/* Map q into the pieces pc[0..n) (room for n+1).  With take_pieces the pieces
 * are old views and gaps still to be reserved; without, pc[0] is one range
 * the caller reserved and which is freed on failure. */
static int place_pieces(struct request *q, struct wm_piece *pc, size_t n, bool take_pieces)
{
    const struct wm_place *pl = wm_engine.place;
    size_t cap = n + 1, split;
    struct wm_region **nr = calloc(cap, sizeof *nr);
    int err = nr ? 0 : ENOMEM;
    for (size_t i = 0; !err && i < cap; i++)
        if (!(nr[i] = wm_region_new(&wm_engine.regions)))
            err = ENOMEM;
    if (!err && take_pieces)
        err = reserve_pieces(pc, n); /* undoes itself on failure */
    if (err) {
        if (!take_pieces)
            pl->free_reserved(pc[0].start, pc[0].end - pc[0].start);
        goto out;
    }
    split = split_at_eof(q, pc, &n, &err);
    if (err)
        goto undo;
    if ((err = map_pieces(q, pc, n)))
        goto unsplit;
    for (size_t i = 0; i < n && !err; i++)
        if (pc[i].start >= q->file_end)
            err = pl->ensure_reserved(pc[i].start, pc[i].end - pc[i].start);
    if (err) {
        for (size_t i = 0; i < n; i++)
            if (pc[i].mapped && !pl->unmap(pc[i].start, pc[i].end - pc[i].start, q->b->priv))
                pc[i].mapped = false;
        goto unsplit;
    }
    for (size_t i = 0; i < n; i++)
        fill_region(nr[i], q, &pc[i]);
    for (size_t i = 0; i < n && !err; i++)
        err = wm_apply_prot(nr[i]);
    if (err) {
        for (size_t i = 0; i < n; i++) {
            wm_backing_release(q->b);
            if (pc[i].mapped && !pl->unmap(pc[i].start, pc[i].end - pc[i].start, q->b->priv))
                pc[i].mapped = false;
        }
        goto unsplit;
    }
    /* Point of no return: the new pieces replace the old regions. */
    forget_range(q->lo, q->hi);
    for (size_t i = 0; i < n; i++) {
        wm_region_insert(&wm_engine.regions, nr[i]);
        nr[i] = NULL;
    }
    goto out;
unsplit:
    if (split < n) {
        pl->join(pc[split].start, pc[split + 1].end - pc[split].start);
        pc[split].end = pc[split + 1].end;
        for (size_t j = split + 1; j + 1 < n; j++)
            pc[j] = pc[j + 1];
        n--;
    }
undo:
    if (take_pieces)
        undo_pieces(pc, n);
    else
        pl->free_reserved(pc[0].start, pc[0].end - pc[0].start);
out:
    if (nr)
        for (size_t i = 0; i < cap; i++)
            wm_region_free(nr[i]);
    free(nr);
    return err;
}

/* A whole new view, made without the lock: its range (or, where Windows
 * chooses the address, the call) is busy until the caller publishes the
 * region and clears *busy (when *marked). */
static int map_new_unlocked(uintptr_t hint, size_t len, const struct wm_maparg *m, struct wm_busy *busy,
                            bool *marked, uintptr_t *out)
{
    const struct wm_place *pl = wm_engine.place;
    uintptr_t at;
    size_t rlen = wm_round_up(len, wm_engine.page);
    int err = pl->claim(hint, len, &at);
    if (err)
        return err;
    *marked = wm_busy_mark(busy, at, at ? at + rlen : 0);
    uintptr_t got = 0;
    if (*marked) {
        struct wm_closer *c = wm_suspend_closing();
        wm_unlock_exclusive();
        err = pl->map_claimed(at, hint, len, m, &got);
        wm_lock_exclusive();
        wm_resume_closing(c);
    } else {
        err = pl->map_claimed(at, hint, len, m, &got);
    }
    if (!err) {
        *out = got;
        return 0;
    }
    pl->unclaim(got, len);
    if (*marked) {
        wm_busy_clear(busy);
        *marked = false;
    }
    return err;
}

/* A new range where Windows chooses (or at the hint when free). */
static int place_anywhere(struct request *q, uintptr_t hint, size_t rlen)
{
    const struct wm_place *pl = wm_engine.place;
    uintptr_t a;
    int err;
    size_t mapped = q->file_end - q->lo;
    if (mapped == rlen) {
        /* The common case: one view and nothing past EOF. */
        struct wm_region *r = wm_region_new(&wm_engine.regions);
        if (!r)
            return ENOMEM;
        struct wm_maparg m = wm_backing_maparg(q->b, q->offset);
        size_t len = q->b->size - q->offset < rlen ? (size_t)(q->b->size - q->offset) : rlen;
        struct wm_busy busy;
        bool marked = false;
        err = map_new_unlocked(hint, len, &m, &busy, &marked, &a);
        if (err) {
            wm_region_free(r);
            return err;
        }
        q->lo = a;
        q->hi = q->file_end = a + rlen;
        struct wm_piece p = {a, a + rlen, NULL, true};
        fill_region(r, q, &p);
        if ((err = wm_apply_fresh_prot(r))) {
            pl->free_view(a, rlen, q->b->priv);
            wm_backing_release(q->b);
            wm_region_free(r);
        } else {
            wm_region_insert(&wm_engine.regions, r);
        }
        if (marked)
            wm_busy_clear(&busy); /* published, or gone */
        return err;
    }
    if ((err = pl->reserve(hint, rlen, false, &a)))
        return err;
    q->lo = a;
    q->hi = a + rlen;
    q->file_end = a + mapped;
    struct wm_piece pc[2] = {{a, a + rlen, NULL, false}};
    return place_pieces(q, pc, 1, false);
}

/* Make [lo, hi) ready to receive new views: view boundaries at lo and hi,
 * bytes that live in no section (private pages of copy-on-write views,
 * committed private memory) copied into one (they could not be put back
 * once their view is unmapped), and its pieces (old views and gaps) in *pc
 * (malloc'd, room for one more), not yet reserved. */
static int prepare_range(uintptr_t lo, uintptr_t hi, struct wm_piece **pc, size_t *n)
{
    int err;
    if ((err = wm_isolate_range(lo, hi))) {
        wm_merge_range(lo, hi);
        return err;
    }
    for (struct wm_region *r = wm_region_first_from(&wm_engine.regions, lo); r && r->start < hi;
         r = wm_region_first_from(&wm_engine.regions, r->vend))
        if (wm_view_has_private_pages(r->vstart) && (err = wm_materialize_view(r->vstart)))
            return err;
    *n = count_pieces(lo, hi);
    if (!(*pc = malloc((*n + 1) * sizeof **pc)))
        return ENOMEM;
    collect_pieces(lo, hi, *pc);
    return 0;
}

/* MAP_FIXED / MAP_FIXED_NOREPLACE at [q->lo, q->hi). */
static int place_fixed(struct request *q, bool noreplace)
{
    int err;
    if (noreplace) {
        if (wm_region_overlaps(&wm_engine.regions, q->lo, q->hi))
            return EEXIST;
        err = gaps_are_free(q->lo, q->hi) ? 0 : EEXIST;
    } else {
        /* Linux would replace anything; we refuse to replace memory the
         * library did not map (heap, images, stacks) with ENOMEM. */
        err = gaps_are_free(q->lo, q->hi) ? 0 : ENOMEM;
    }
    struct wm_piece *pc;
    size_t n;
    if (err || (err = prepare_range(q->lo, q->hi, &pc, &n)))
        return err;
    err = place_pieces(q, pc, n, true);
    free(pc);
    /* A gap that looked free but was taken by another allocation meanwhile
     * (see reserve): as if gaps_are_free had seen it. */
    return err == EEXIST && !noreplace ? ENOMEM : err;
}

int wm_take_range(uintptr_t lo, uintptr_t hi, struct wm_piece **pc, size_t *n)
{
    int err = gaps_are_free(lo, hi) ? 0 : ENOMEM;
    if (err || (err = prepare_range(lo, hi, pc, n)))
        return err;
    if ((err = reserve_pieces(*pc, *n))) /* undoes itself */
        free(*pc);
    return err == EEXIST ? ENOMEM : err;
}

void wm_untake_range(struct wm_piece *pc, size_t n)
{
    undo_pieces(pc, n);
    if (n)
        wm_merge_range(pc[0].start, pc[n - 1].end);
    free(pc);
}

void wm_forget_range(uintptr_t lo, uintptr_t hi)
{
    forget_range(lo, hi);
}

int wm_map_fixed(uintptr_t lo, uintptr_t hi, struct wm_backing *b, uint64_t offset, int prot,
                 uint16_t rflags, bool noreplace)
{
    size_t page = wm_engine.page, len = hi - lo;
    size_t mapped = b->size <= offset ? 0
                    : b->size - offset < len ? wm_round_up((size_t)(b->size - offset), page)
                                             : len;
    struct request q = {lo, hi, lo + mapped, b, offset, prot, rflags};
    return place_fixed(&q, noreplace);
}

static int do_mmap(void *addr, size_t len, int prot, int flags, int fd, int64_t off, void **out)
{
    size_t page = wm_engine.page;
    int type = flags & MAP_TYPE;
    bool anon = (flags & MAP_ANONYMOUS) != 0;
    if (type == MAP_SHARED_VALIDATE) {
        /* Linux validates flags only for files; anonymous memory rejects the type. */
        if (anon)
            return EINVAL;
        if (flags & ~KNOWN_FLAGS)
            return EOPNOTSUPP;
        type = MAP_SHARED;
    } else if (flags & ~KNOWN_FLAGS) {
        return EINVAL;
    }
    if (type != MAP_SHARED && type != MAP_PRIVATE)
        return EINVAL;
    if (len == 0 || (prot & ~(PROT_READ | PROT_WRITE | PROT_EXEC)))
        return EINVAL;
    if ((uint64_t)off % page)
        return EINVAL;
    if (anon)
        off = 0; /* Linux ignores the offset of anonymous memory */
    else if (off < 0)
        return EOVERFLOW; /* past the largest file offset */
    if (len > SIZE_MAX - page)
        return ENOMEM;
    size_t rlen = wm_round_up(len, page);
    bool fixed = (flags & (MAP_FIXED | MAP_FIXED_NOREPLACE)) != 0;
    uintptr_t a = (uintptr_t)addr;
    if (fixed && (a % page || a == 0))
        return a % page ? EINVAL : EPERM;
    if (a + rlen < a)
        return ENOMEM;
    HANDLE h = NULL;
    if (!anon) {
        if ((uint64_t)off > (uint64_t)INT64_MAX - rlen)
            return EOVERFLOW;
        intptr_t osf = fd >= 0 ? _get_osfhandle(fd) : -1;
        if (osf == -1 || osf == -2)
            return EBADF;
        h = (HANDLE)osf;
        if (GetFileType(h) != FILE_TYPE_DISK)
            return ENODEV;
    }
    struct wm_backing *b = NULL;
    /* The backing is made outside the lock: a section is a wineserver round
     * trip that other threads' calls need not wait for.  Anonymous memory
     * commits nothing while it is PROT_NONE: private memory is only
     * reserved; a shared section is SEC_RESERVE where uncommitted pages of
     * a view really are inaccessible (not under Wine).  A file's section is
     * made under the lock while a truncation is under way (ftruncate takes
     * down every section of the file before it shrinks it, because Windows
     * and Wine refuse while one exists, and must not miss one). */
    int err = 0;
    bool file_early = !anon && wm_file_section_begin();
    if (anon && type == MAP_PRIVATE)
        err = wm_backing_private_anon(rlen, prot, &b);
    else if (anon)
        err = wm_backing_anon(rlen, prot == PROT_NONE && !wm_engine.reserve_unenforced, &b);
    else if (file_early && (err = wm_backing_file(h, type == MAP_SHARED, prot, &b)))
        b = NULL;
    struct request q;
    struct wm_closer c;
    if (fixed)
        wm_lock_range(a, rlen);
    else
        wm_lock_exclusive(); /* a busy range at the hint is not free: Windows chooses */
    /* Handles the call lets go (views replaced by MAP_FIXED, or this
     * backing if the mapping fails) are closed after unlocking. */
    wm_defer_closing(&c);
    if (!err && !b)
        err = wm_backing_file(h, type == MAP_SHARED, prot, &b);
    if (!err) {
        size_t mapped = rlen;
        if (!anon)
            mapped = b->size <= (uint64_t)off ? 0
                     : b->size - (uint64_t)off < rlen ? wm_round_up((size_t)(b->size - (uint64_t)off), page)
                                                      : rlen;
        q = (struct request){a, a + rlen, a + mapped, b, anon ? 0 : (uint64_t)off, prot,
                             (uint16_t)((type == MAP_SHARED ? WM_R_SHARED : 0) | (anon ? WM_R_ANON : 0))};
        if (fixed)
            err = place_fixed(&q, (flags & MAP_FIXED_NOREPLACE) != 0);
        else
            err = place_anywhere(&q, a - a % page, rlen);
        if (!err)
            wm_lock_new_mapping(q.lo, q.hi, (flags & MAP_LOCKED) != 0);
    }
    /* Under the lock: once in the table, b's count is shared with other
     * threads' calls.  The regions hold their own references. */
    if (b)
        wm_backing_release(b);
    if (file_early)
        wm_file_section_end();
    wm_close_deferred(&c); /* unlocks */
    if (err)
        return err;
    if ((flags & MAP_POPULATE) && wm_sys.PrefetchVirtualMemory) {
        struct { void *va; SIZE_T n; } e = {(void *)q.lo, q.file_end - q.lo};
        if (e.n)
            wm_sys.PrefetchVirtualMemory(GetCurrentProcess(), 1, &e, 0); /* a hint only */
    }
    *out = (void *)q.lo;
    return 0;
}

void *mmap64(void *addr, size_t len, int prot, int flags, int fd, int64_t off)
{
    void *out;
    wm_init();
    int err = do_mmap(addr, len, prot, flags, fd, off, &out);
    if (err) {
        errno = err;
        return MAP_FAILED;
    }
    return out;
}

#undef mmap
void *mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
    return mmap64(addr, len, prot, flags, fd, off);
}

int munmap(void *addr, size_t len)
{
    wm_init();
    size_t page = wm_engine.page;
    uintptr_t lo = (uintptr_t)addr;
    int err = 0;
    /* Linux: EINVAL also for a range outside the user address space. */
    if (lo % page || len == 0 || len > SIZE_MAX - page || lo + wm_round_up(len, page) < lo ||
        lo + wm_round_up(len, page) - 1 > wm_engine.max_address)
        err = EINVAL;
    if (!err) {
        uintptr_t hi = lo + wm_round_up(len, page);
        struct wm_closer c;
        wm_lock_range(lo, hi - lo);
        wm_defer_closing(&c);
        c.views = true; /* whole views are unmapped after unlocking */
        err = wm_isolate_range(lo, hi);
        if (!err)
            wm_remove_range(lo, hi);
        else
            wm_merge_range(lo, hi); /* undo the region splits of a failed isolation */
        wm_close_deferred(&c); /* unlocks */
    }
    return wm_status(err);
}
