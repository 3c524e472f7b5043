/* madvise and posix_madvise.  Access-pattern advice is recorded per region
 * (Windows has no per-range read-ahead hint beyond prefetching); WILLNEED
 * prefetches; DONTNEED has the Linux meaning: private pages are reset (zeros
 * for anonymous memory, the file's bytes for a private file mapping), shared
 * pages keep their data.  Fork advice is recorded for the fork-style API.
 * Pages the library did not map (foreign.c) take DONTNEED, WILLNEED and the
 * private-memory checks; the rest of the advice has nothing to record there. */
#include "internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* One private region whose pages MADV_DONTNEED resets. */
struct reset {
    struct wm_region *r;
    size_t len;               /* bytes of r Windows mapped */
    const unsigned char *src; /* the file's bytes for r->start, or NULL: zeros */
    size_t src_len;           /* bytes of src inside the file; the rest are zeros */
    void *view;               /* temporary view holding src */
    bool opened;              /* made writable for the reset */
};

static bool needs_reset(const struct wm_region *r)
{
    if (r->flags & (WM_R_SHARED | WM_R_PAST_EOF))
        return false; /* shared pages keep their data; past EOF has none */
    if (r->backing->cow)
        return (r->flags & WM_R_COW_WRITTEN) != 0; /* unwritten pages are the file's */
    if (!wm_region_committed(r))
        return false; /* never committed: still zeros */
    return true;
}

/* Prepare a reset: map the file's bytes and make the pages writable.  Undone
 * by finish_reset, which also puts the region's protection back. */
static int begin_reset(struct reset *x)
{
    struct wm_region *r = x->r;
    size_t len = r->end - r->start;
    uint64_t off;
    const struct wm_backing *src = wm_region_file(r, &off);
    x->len = len = wm_region_mapped_len(r);
    if (src && src->section && off < src->size) {
        uint64_t base = off & ~(uint64_t)0xffff; /* views start on 64 KiB */
        uint64_t avail = src->size - off;
        x->src_len = avail < len ? (size_t)avail : len;
        x->view = wm_sys.MapViewOfFileEx(src->section, FILE_MAP_READ, (DWORD)(base >> 32),
                                         (DWORD)base, (SIZE_T)(off - base + x->src_len), NULL);
        if (!x->view)
            return wm_last_errno();
        x->src = (const unsigned char *)x->view + (off - base);
    }
    DWORD old;
    if (!wm_sys.VirtualProtect((void *)r->start, len, r->backing->cow ? PAGE_WRITECOPY : PAGE_READWRITE,
                               &old))
        return wm_last_errno();
    x->opened = true;
    return 0;
}

static void finish_reset(struct reset *x)
{
    if (x->opened)
        wm_apply_prot(x->r);
    if (x->view)
        wm_sys.UnmapViewOfFile(x->view);
}

static int dontneed(uintptr_t lo, uintptr_t hi)
{
    size_t n = 0;
    for (struct wm_region *r = wm_region_first_from(&wm_engine.regions, lo); r && r->start < hi;
         r = wm_region_next(&wm_engine.regions, r))
        n += needs_reset(r);
    if (n == 0)
        return 0;
    struct reset *xs = calloc(n, sizeof *xs);
    if (!xs)
        return ENOMEM;
    size_t i = 0;
    for (struct wm_region *r = wm_region_first_from(&wm_engine.regions, lo); r && r->start < hi;
         r = wm_region_next(&wm_engine.regions, r))
        if (needs_reset(r))
            xs[i++].r = r;
    /* Every fallible step first, so a failure changes no byte. */
    int err = 0;
    for (i = 0; i < n && !err; i++)
        err = begin_reset(&xs[i]);
    if (!err) {
        for (i = 0; i < n; i++) {
            unsigned char *p = (unsigned char *)xs[i].r->start;
            size_t len = xs[i].len;
            if (xs[i].src)
                memcpy(p, xs[i].src, xs[i].src_len);
            memset(p + xs[i].src_len, 0, len - xs[i].src_len);
        }
    }
    for (i = 0; i < n; i++)
        finish_reset(&xs[i]);
    free(xs);
    return err;
}

static void prefetch_one(uintptr_t a, uintptr_t e)
{
    struct { void *va; SIZE_T n; } entry = {(void *)a, e - a};
    wm_sys.PrefetchVirtualMemory(GetCurrentProcess(), 1, &entry, 0); /* a hint only */
}

static void prefetch(uintptr_t lo, uintptr_t hi, const struct wm_foreign *f, size_t nf)
{
    if (!wm_sys.PrefetchVirtualMemory)
        return;
    for (struct wm_region *r = wm_region_first_from(&wm_engine.regions, lo); r && r->start < hi;
         r = wm_region_next(&wm_engine.regions, r)) {
        if ((r->flags & WM_R_PAST_EOF) || r->prot == PROT_NONE)
            continue;
        prefetch_one(r->start > lo ? r->start : lo, r->end < hi ? r->end : hi);
    }
    for (size_t i = 0; i < nf; i++)
        if (f[i].state == MEM_COMMIT && !(f[i].protect & (PAGE_NOACCESS | PAGE_GUARD)))
            prefetch_one(f[i].start, f[i].end);
}

/* Record advice or a fork flag on every region of [lo, hi). */
static int record(uintptr_t lo, uintptr_t hi, int advice, uint16_t set, uint16_t clear)
{
    int err = wm_range_split(lo, hi);
    if (err)
        return err;
    for (struct wm_region *r = wm_region_first_from(&wm_engine.regions, lo); r && r->start < hi;
         r = wm_region_next(&wm_engine.regions, r)) {
        if (advice >= 0)
            r->advice = (uint8_t)advice;
        r->flags = (uint16_t)((r->flags | set) & ~clear);
    }
    wm_merge_range(lo, hi);
    return 0;
}

/* Whether a region in [lo, hi) refuses the advice (EINVAL): locked pages
 * cannot be dropped, and only private anonymous memory takes MADV_FREE and
 * MADV_WIPEONFORK. */
static bool refused(uintptr_t lo, uintptr_t hi, int advice)
{
    for (struct wm_region *r = wm_region_first_from(&wm_engine.regions, lo); r && r->start < hi;
         r = wm_region_next(&wm_engine.regions, r)) {
        if (advice == MADV_DONTNEED && (r->flags & WM_R_LOCKED))
            return true;
        if ((advice == MADV_FREE || advice == MADV_WIPEONFORK) &&
            ((r->flags & WM_R_SHARED) || !(r->flags & WM_R_ANON)))
            return true;
    }
    return false;
}

static int advise(uintptr_t lo, uintptr_t hi, int advice, const struct wm_foreign *f, size_t nf)
{
    int err;
    switch (advice) {
    case MADV_NORMAL: case MADV_RANDOM: case MADV_SEQUENTIAL:
        return record(lo, hi, advice, 0, 0);
    case MADV_WILLNEED:
        prefetch(lo, hi, f, nf);
        return 0;
    case MADV_DONTNEED:
        if (refused(lo, hi, advice))
            return EINVAL;
        if ((err = wm_foreign_dontneed_begin(f, nf)))
            return err;
        if (!(err = wm_range_split(lo, hi))) {
            err = dontneed(lo, hi);
            wm_merge_range(lo, hi);
        }
        wm_foreign_dontneed_end(f, nf, !err);
        return err;
    case MADV_FREE:
        /* Linux: private anonymous memory only.  Freeing lazily may keep the
         * data, and keeping it is what we do. */
        return !refused(lo, hi, advice) && wm_foreign_all_private(f, nf) ? 0 : EINVAL;
    case MADV_DONTFORK:
        return record(lo, hi, -1, WM_R_DONTFORK, 0);
    case MADV_DOFORK:
        return record(lo, hi, -1, 0, WM_R_DONTFORK);
    case MADV_WIPEONFORK:
        return !refused(lo, hi, advice) && wm_foreign_all_private(f, nf)
                   ? record(lo, hi, -1, WM_R_WIPEONFORK, 0)
                   : EINVAL;
    default: /* MADV_KEEPONFORK */
        return record(lo, hi, -1, 0, WM_R_WIPEONFORK);
    }
}

/* Linux: a length that wraps when rounded to pages is EINVAL for madvise,
 * where mprotect and the others say ENOMEM. */
static bool wraps(uintptr_t lo, size_t len)
{
    size_t page = wm_engine.page;
    return len > SIZE_MAX - (page - 1) || lo + ((len + page - 1) & ~(page - 1)) < lo;
}

static int do_madvise(uintptr_t lo, size_t len, int advice)
{
    if (wraps(lo, len))
        return EINVAL;
    switch (advice) {
    case MADV_NORMAL: case MADV_RANDOM: case MADV_SEQUENTIAL: case MADV_WILLNEED:
    case MADV_DONTNEED: case MADV_FREE: case MADV_DONTFORK: case MADV_DOFORK:
    case MADV_WIPEONFORK: case MADV_KEEPONFORK:
        break;
    default:
        return EINVAL;
    }
    uintptr_t hi;
    int err = wm_range_bounds(lo, len, &hi);
    if (err == ENOMEM && refused(lo, hi, advice))
        return EINVAL; /* Linux: a mapping that refuses the advice wins over a hole */
    if (err || lo == hi)
        return err;
    struct wm_foreign *f;
    size_t nf;
    if ((err = wm_foreign_list(lo, hi, &f, &nf)))
        return err;
    err = advise(lo, hi, advice, f, nf);
    free(f);
    return err;
}

int madvise(void *addr, size_t len, int advice)
{
    wm_init();
    wm_lock_range((uintptr_t)addr, len);
    int err = do_madvise((uintptr_t)addr, len, advice);
    wm_unlock_exclusive();
    return wm_status(err);
}

int posix_madvise(void *addr, size_t len, int advice)
{
    /* POSIX_MADV_DONTNEED is a hint that must not lose data (glibc ignores
     * it too); the others mean what their MADV_ twins mean.  The result is
     * an error number, not -1 and errno. */
    if (advice == POSIX_MADV_DONTNEED)
        advice = -1;
    else if (advice < POSIX_MADV_NORMAL || advice > POSIX_MADV_WILLNEED)
        return EINVAL;
    wm_init();
    wm_lock_range((uintptr_t)addr, len);
    uintptr_t hi;
    int err = wraps((uintptr_t)addr, len) ? EINVAL : wm_range_bounds((uintptr_t)addr, len, &hi);
    if (!err && advice >= 0 && hi != (uintptr_t)addr)
        err = do_madvise((uintptr_t)addr, len, advice);
    wm_unlock_exclusive();
    return err;
}
