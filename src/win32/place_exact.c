/* Exact placement on placeholders (Windows 10 1803+, Wine >= 10): views and
 * reservations at any 4 KiB boundary, split and joined without ever letting
 * go of the address range, so no other thread can slip in.
 *
 * A new reservation must start on a 64 KiB boundary (VirtualAlloc2 fails with
 * ERROR_INVALID_ADDRESS otherwise: Windows, and Wine 10 as verified), so a
 * hole released at a 4 KiB boundary could never be taken again and MAP_FIXED
 * into it would fail.  Released pieces that do not start where a reservation
 * could are therefore kept as "spare" placeholders and handed out again by
 * the next fixed reservation there; they are released once the range before
 * them is free back to a 64 KiB boundary. */
#include "internal.h"

#include <errno.h>
#include <string.h>

#define GRAN 65536u

/* Guarded by the engine lock.  Small: it outlives every mapping (see
 * region.h). */
static struct wm_region_table spare = {.small = 1};

static HANDLE self(void)
{
    return GetCurrentProcess();
}

static void *new_placeholder(uintptr_t at, size_t len)
{
    return wm_sys.VirtualAlloc2(self(), (void *)at, len, MEM_RESERVE | MEM_RESERVE_PLACEHOLDER,
                                PAGE_NOACCESS, NULL, 0);
}

/* Is [lo, hi) free in the Windows sense (nobody's)? */
static bool windows_free(uintptr_t lo, uintptr_t hi)
{
    while (lo < hi) {
        MEMORY_BASIC_INFORMATION mi;
        if (!wm_sys.VirtualQuery((void *)lo, &mi, sizeof mi) || mi.State != MEM_FREE)
            return false;
        lo = (uintptr_t)mi.BaseAddress + mi.RegionSize;
    }
    return true;
}

/* Where the free run from lo ends, at most at hi (lo itself if lo is not free). */
static uintptr_t free_run_end(uintptr_t lo, uintptr_t hi)
{
    MEMORY_BASIC_INFORMATION mi;
    if (!wm_sys.VirtualQuery((void *)lo, &mi, sizeof mi) || mi.State != MEM_FREE)
        return lo;
    uintptr_t e = (uintptr_t)mi.BaseAddress + mi.RegionSize;
    return e < hi ? e : hi;
}

/* A released range starting at lo could be reserved again. */
static bool retakeable(uintptr_t lo)
{
    return lo % GRAN == 0 || windows_free(lo - lo % GRAN, lo);
}

/* Wine 10 keeps a list of the free 64 KiB granules (dlls/ntdll/unix/
 * virtual.c), and free_ranges_insert_view and free_ranges_remove_view look it
 * up from the granule where the view starts.  When another view lies before
 * the view in that granule and the granule below is free, the lookup finds
 * the free range that ends exactly there: inserting the view then leaves its
 * later granules listed as free, removing it adds them before that range, out
 * of order, so that later lookups miss ranges.  Either way an allocation
 * anywhere in the process may later land on our placeholders, and Wine
 * aborts in create_view ("view->protect & VPROT_SYSTEM").  Splitting and
 * joining placeholders removes and inserts views: when the case can arise,
 * the granule below [lo, hi) is reserved for the duration of the call, so
 * that no free range ends where the lookups start.  A join also removes the
 * views after its first one, which may start inside lo's granule.  Outside
 * failure injection, like the undo steps: it changes nothing we keep.  Only
 * under Wine: the lookups are Wine's own. */
static uintptr_t plug_below(uintptr_t lo, uintptr_t hi, bool join)
{
    uintptr_t g = lo - lo % GRAN;
    MEMORY_BASIC_INFORMATION mi;
    if (!wm_engine.placeholder_free_list_bug || hi <= g + GRAN || g < GRAN)
        return 0; /* views within one granule list none of theirs as free */
    bool before = lo % GRAN && (!VirtualQuery((void *)g, &mi, sizeof mi) || mi.State != MEM_FREE ||
                                (uintptr_t)mi.BaseAddress + mi.RegionSize < lo);
    bool inside = join && VirtualQuery((void *)lo, &mi, sizeof mi) &&
                  (uintptr_t)mi.BaseAddress + mi.RegionSize < g + GRAN;
    if (!before && !inside)
        return 0;
    /* A munmap let go without the lock (its range busy) may be freeing the
     * granule below: let those calls land before looking (they need no
     * lock to, and no new one starts while we hold it). */
    if (wm_busy_over(g - GRAN, g))
        while (wm_unmaps_under_way)
            SwitchToThread();
    if (!VirtualQuery((void *)(g - GRAN), &mi, sizeof mi) || mi.State != MEM_FREE ||
        (uintptr_t)mi.BaseAddress + mi.RegionSize < g)
        return 0; /* the granule below is not free */
    return VirtualAlloc((void *)(g - GRAN), GRAN, MEM_RESERVE, PAGE_NOACCESS) ? g - GRAN : 0;
}

static void unplug(uintptr_t plug)
{
    if (plug)
        VirtualFree((void *)plug, 0, MEM_RELEASE);
}

/* VirtualFree(MEM_PRESERVE_PLACEHOLDER) of the first len bytes of the
 * placeholder [a, end); VirtualFree(MEM_COALESCE_PLACEHOLDERS) of [a, end). */
static bool cut_placeholder(uintptr_t a, size_t len, uintptr_t end)
{
    uintptr_t plug = plug_below(a, end, false);
    BOOL ok = wm_sys.VirtualFree((void *)a, len, MEM_RELEASE | MEM_PRESERVE_PLACEHOLDER);
    DWORD e = GetLastError();
    unplug(plug);
    SetLastError(e);
    return ok;
}

static bool coalesce(uintptr_t a, uintptr_t end)
{
    uintptr_t plug = plug_below(a, end, true);
    BOOL ok = wm_sys.VirtualFree((void *)a, end - a, MEM_RELEASE | MEM_COALESCE_PLACEHOLDERS);
    DWORD e = GetLastError();
    unplug(plug);
    SetLastError(e);
    return ok;
}

/* Release spare placeholders that have become retakeable, from s onwards. */
static void release_spare_from(struct wm_region *s)
{
    while (s && retakeable(s->start)) {
        struct wm_region *next = wm_region_next(&spare, s);
        bool adjacent = next && next->start == s->end;
        VirtualFree((void *)s->start, 0, MEM_RELEASE);
        wm_region_remove(&spare, s);
        wm_region_free(s);
        s = adjacent ? next : NULL;
    }
}

/* Record the placeholder [a, a+len) as spare; out of memory, it is released
 * instead (a lost hole at worst) and NULL returned. */
static struct wm_region *add_spare(uintptr_t a, size_t len)
{
    struct wm_region *s = wm_region_new(&spare);
    if (!s) {
        VirtualFree((void *)a, 0, MEM_RELEASE);
        return NULL;
    }
    s->start = s->vstart = a;
    s->end = s->vend = a + len;
    wm_region_insert(&spare, s);
    return s;
}

static void give_back(uintptr_t a, size_t len)
{
    struct wm_region *s = add_spare(a, len);
    if (s)
        release_spare_from(s);
}

/* Release every placeholder in [lo, hi) (a failed reservation's pieces).
 * An undo step: it asks VirtualQuery directly, outside failure injection. */
static void release_all(uintptr_t lo, uintptr_t hi)
{
    while (lo < hi) {
        MEMORY_BASIC_INFORMATION mi;
        if (!VirtualQuery((void *)lo, &mi, sizeof mi))
            return;
        VirtualFree((void *)lo, 0, MEM_RELEASE);
        lo = (uintptr_t)mi.BaseAddress + mi.RegionSize;
    }
}

/* Whether [lo, hi) can be taken: every byte is spare or free, and free runs
 * can be reserved from a 64 KiB boundary. */
static bool available(uintptr_t lo, uintptr_t hi)
{
    uintptr_t p = lo;
    while (p < hi) {
        struct wm_region *s = wm_region_first_from(&spare, p);
        if (s && s->start <= p) {
            p = s->end;
            continue;
        }
        uintptr_t e = s && s->start < hi ? s->start : hi;
        if (!windows_free(p, e) || !retakeable(p))
            return false;
        p = e;
    }
    return true;
}

/* Split the spare placeholder s at a (s->start < a < s->end); the part from a
 * becomes a spare entry of its own, which is returned. */
static struct wm_region *split_spare(struct wm_region *s, uintptr_t a)
{
    if (!cut_placeholder(s->start, a - s->start, s->end))
        return NULL;
    struct wm_region *hi = wm_region_split_at(&spare, s, a);
    if (!hi) /* two placeholders, one entry: harmless, it only delays reuse */
        return NULL;
    return hi;
}

/* Take [lo, hi) as one placeholder, from spare pieces and free runs. */
static int take(uintptr_t lo, uintptr_t hi)
{
    if (!available(lo, hi))
        return EEXIST;
    uintptr_t p = lo;
    int pieces = 0, err = 0;
    while (p < hi && !err) {
        struct wm_region *s = wm_region_first_from(&spare, p);
        if (s && s->start <= p) {
            struct wm_region *tail = NULL;
            if (s->start < p && !(s = split_spare(s, p)))
                err = wm_last_errno();
            else if (s->end > hi && !(tail = split_spare(s, hi)))
                err = wm_last_errno();
            if (err)
                break;
            /* What is left after the range goes back to Windows if it starts
             * on a boundary (as give_back would), so that undoing this take
             * later finds the same state to restore. */
            if (tail)
                release_spare_from(tail);
            p = s->end;
            wm_region_remove(&spare, s);
            wm_region_free(s);
        } else {
            /* Reserve from the 64 KiB boundary, through the rest of the free
             * run (up to the next boundary), and keep what lies outside
             * [p, e) as spare: a free page left after this placeholder in
             * the same granule could never be reserved again, and a later
             * fixed mapping next to this one could not reserve an unaligned
             * start itself. */
            uintptr_t e = s && s->start < hi ? s->start : hi, base = p - p % GRAN;
            uintptr_t end = free_run_end(e, (e + GRAN - 1) / GRAN * GRAN);
            if (!new_placeholder(base, end - base)) {
                /* Free to VirtualQuery, yet taken: another thread got there
                 * first, or (Wine) a Linux mapping Wine lists as free. */
                err = wm_taken_errno();
                break;
            }
            if ((end > e && !wm_sys.VirtualFree((void *)base, e - base,
                                                MEM_RELEASE | MEM_PRESERVE_PLACEHOLDER)) ||
                (base < p && !wm_sys.VirtualFree((void *)base, p - base,
                                                 MEM_RELEASE | MEM_PRESERVE_PLACEHOLDER))) {
                err = wm_last_errno();
                release_all(base, end);
                break;
            }
            if (end > e)
                give_back(e, end - e);
            if (base < p)
                give_back(base, p - base);
            p = e;
        }
        pieces++;
    }
    if (!err && pieces > 1 && !coalesce(lo, hi))
        err = wm_last_errno();
    if (err) {
        /* What was taken goes back: placeholders [lo, p), possibly several. */
        for (uintptr_t q = lo; q < p;) {
            MEMORY_BASIC_INFORMATION mi;
            if (!VirtualQuery((void *)q, &mi, sizeof mi))
                break;
            size_t n = mi.RegionSize < p - q ? mi.RegionSize : p - q;
            give_back(q, n);
            q += n;
        }
    }
    return err;
}

/* Placeholders that freed private memory left, kept (as spare entries too)
 * for the next reservation of the same size: replacing one costs Wine 10
 * less than VirtualAlloc, while a new placeholder and its replacement cost
 * 1.4 times as much.  Newest last; an entry is checked against the spare
 * table when taken, since fixed reservations may have used or released it. */
#define REUSE_MAX 16
static struct {
    uintptr_t addr;
    size_t len;
} reuse[REUSE_MAX];
static int nreuse;

static void keep_for_reuse(uintptr_t a, size_t len)
{
    if (!add_spare(a, len))
        return;
    if (nreuse == REUSE_MAX) {
        /* The oldest goes back to Windows (when it is still spare). */
        struct wm_region *old = wm_region_find(&spare, reuse[0].addr);
        memmove(reuse, reuse + 1, (REUSE_MAX - 1) * sizeof reuse[0]);
        nreuse--;
        if (old)
            release_spare_from(old);
    }
    reuse[nreuse].addr = a;
    reuse[nreuse].len = len;
    nreuse++;
}

/* A kept placeholder of exactly len bytes, taken out of the spare table. */
static bool reuse_placeholder(size_t len, uintptr_t *out)
{
    for (int i = nreuse - 1; i >= 0; i--) {
        if (reuse[i].len != len)
            continue;
        uintptr_t a = reuse[i].addr;
        memmove(reuse + i, reuse + i + 1, (size_t)(nreuse - i - 1) * sizeof reuse[0]);
        nreuse--;
        struct wm_region *s = wm_region_find(&spare, a);
        if (!s || s->start != a || s->end != a + len)
            continue; /* used or released since */
        wm_region_remove(&spare, s);
        wm_region_free(s);
        *out = a;
        return true;
    }
    return false;
}

/* Reservations smaller than 64 KiB are carved one after another, from the
 * end down, out of a 1 MiB placeholder instead of each starting a granule
 * of its own, so small mappings lie side by side: no address space is wasted, and under
 * Wine neighbouring private pages with one protection are one Linux
 * mapping (vm.max_map_count, 65 530, stopped 4 KiB mappings at 65 091
 * when each had its granule).  What is left of the current placeholder is a
 * spare entry [carve_at, carve_end). */
#define CARVE ((size_t)1 << 20)
static uintptr_t carve_at, carve_end;

static bool carve(size_t len, uintptr_t *out)
{
    struct wm_region *s = carve_at ? wm_region_find(&spare, carve_at) : NULL;
    if (!s || s->start != carve_at || s->end != carve_end || carve_end - carve_at < len) {
        void *p = new_placeholder(0, CARVE);
        if (!p || !(s = add_spare((uintptr_t)p, CARVE)))
            return false;
        carve_at = s->start, carve_end = s->end;
    }
    if (s->end - s->start == len) {
        carve_at = carve_end = 0; /* used up */
    } else {
        /* From the end: what is left keeps its 64 KiB-aligned start.  A
         * placeholder left starting inside a granule after cuts from its
         * front made Wine 10's list of free ranges go wrong (an assertion
         * in free_ranges_remove_view). */
        struct wm_region *piece = split_spare(s, s->end - len);
        if (!piece)
            return false;
        carve_end = piece->start;
        s = piece;
    }
    *out = s->start;
    wm_region_remove(&spare, s);
    wm_region_free(s);
    return true;
}

/* reserve() short of a new placeholder: *out is 0 when one is needed. */
static int reserve_kept(uintptr_t hint, size_t len, bool fixed, uintptr_t *out)
{
    int err = hint ? take(hint, hint + len) : EEXIST;
    *out = hint;
    if (!err)
        return 0;
    if (fixed)
        return err;
    if (!reuse_placeholder(len, out) && !(len < GRAN && carve(len, out)))
        *out = 0;
    return 0;
}

static int reserve(uintptr_t hint, size_t len, bool fixed, uintptr_t *out)
{
    int err = reserve_kept(hint, len, fixed, out);
    if (err || *out)
        return err;
    void *p = new_placeholder(0, len);
    if (!p)
        return wm_last_errno();
    *out = (uintptr_t)p;
    return 0;
}

static int map(uintptr_t addr, size_t len, const struct wm_maparg *m)
{
    void *p;
    if (!m->section) {
        DWORD type = MEM_RESERVE | MEM_REPLACE_PLACEHOLDER | (m->reserve_only ? 0 : MEM_COMMIT);
        p = wm_sys.VirtualAlloc2(self(), (void *)addr, len, type,
                                 m->reserve_only ? PAGE_NOACCESS : PAGE_READWRITE, NULL, 0);
        return p ? 0 : wm_last_errno();
    }
    DWORD prot = (m->access & FILE_MAP_COPY) == FILE_MAP_COPY ? PAGE_WRITECOPY
                 : (m->access & FILE_MAP_WRITE)                ? PAGE_READWRITE
                                                               : PAGE_READONLY;
    if (m->access & FILE_MAP_EXECUTE)
        prot <<= 4; /* PAGE_X -> PAGE_EXECUTE_X */
    p = wm_sys.MapViewOfFile3(m->section, self(), (void *)addr, m->offset, len,
                              MEM_REPLACE_PLACEHOLDER, prot, NULL, 0);
    return p ? 0 : wm_last_errno();
}

static void free_reserved(uintptr_t addr, size_t len)
{
    give_back(addr, len);
}

/* Claimed: a placeholder, out of the spare table until it is a view.  When
 * the view needs a new placeholder (no hint taken, none kept to reuse),
 * *at is 0 and map_claimed makes it without the lock: Windows chooses its
 * address, so nothing of ours is in the way, and under Wine VirtualAlloc2
 * costs about what the view call does. */
static int claim(uintptr_t hint, size_t len, uintptr_t *at)
{
    return reserve_kept(hint, wm_round_up(len, 4096), false, at);
}

static int map_claimed(uintptr_t at, uintptr_t hint, size_t len, const struct wm_maparg *m, uintptr_t *out)
{
    (void)hint;
    /* A new placeholder whose view fails goes back through unclaim, under
     * the lock, like a claimed one: plug_below waits only for munmap's
     * frees made without it. */
    if (!at && !(at = (uintptr_t)new_placeholder(0, wm_round_up(len, 4096))))
        return wm_last_errno();
    *out = at;
    return map(at, len, m);
}

static void unclaim(uintptr_t at, size_t len)
{
    if (at)
        free_reserved(at, wm_round_up(len, 4096));
}

static int split(uintptr_t addr, size_t len, size_t at)
{
    if (!cut_placeholder(addr, at, addr + len))
        return wm_last_errno();
    return 0;
}

static int join(uintptr_t addr, size_t len)
{
    if (!coalesce(addr, addr + len))
        return wm_last_errno();
    return 0;
}

static int ensure_reserved(uintptr_t addr, size_t len)
{
    (void)addr, (void)len;
    return 0; /* an unmapped view is always a placeholder here */
}

/* Private memory that replaced a placeholder goes back to one with
 * MEM_PRESERVE_PLACEHOLDER (Wine 10 wants its size, not 0). */
static bool unmap_to_placeholder(uintptr_t addr, size_t len, bool priv)
{
    if (priv)
        return wm_sys.VirtualFree((void *)addr, len, MEM_RELEASE | MEM_PRESERVE_PLACEHOLDER);
    return wm_sys.UnmapViewOfFile2(self(), (void *)addr, MEM_PRESERVE_PLACEHOLDER);
}

static int unmap(uintptr_t addr, size_t len, bool priv)
{
    return unmap_to_placeholder(addr, len, priv) ? 0 : wm_last_errno();
}

/* A section view from a 64 KiB boundary is unmapped outright, without the
 * lock: give_back would release its placeholder at once anyway (it can be
 * reserved again).  Private memory keeps its placeholder, for reuse. */
static bool outright(uintptr_t addr, bool priv)
{
    return !priv && addr % GRAN == 0;
}

static bool unmap_view(uintptr_t addr, size_t len, bool priv)
{
    if (outright(addr, priv))
        return wm_sys.UnmapViewOfFile((void *)addr);
    return unmap_to_placeholder(addr, len, priv);
}

static void unmapped(uintptr_t addr, size_t len, bool priv, bool ok)
{
    if (!ok) {
        if (priv)
            VirtualFree((void *)addr, 0, MEM_RELEASE);
        else
            wm_sys.UnmapViewOfFile((void *)addr);
    } else if (priv && addr % GRAN == 0) {
        keep_for_reuse(addr, len);
    } else if (outright(addr, priv)) {
        /* What give_back's release would have gone on to: a spare
         * placeholder right after, reservable now. */
        struct wm_region *s = wm_region_first_from(&spare, addr + len);
        if (s && s->start == addr + len)
            release_spare_from(s);
    } else {
        give_back(addr, len);
    }
}

/* Both steps, under the lock. */
static void free_view(uintptr_t addr, size_t len, bool priv)
{
    unmapped(addr, len, priv, unmap_view(addr, len, priv));
}

static uintptr_t spare_end(uintptr_t addr)
{
    struct wm_region *s = wm_region_find(&spare, addr);
    return s ? s->end : 0;
}

static void adopt_reserved(uintptr_t addr, size_t len)
{
    /* Kept as it is, not released as give_back would: nothing may take the
     * range before the mappings are placed on it. */
    add_spare(addr, len);
}

static uintptr_t reservation_end(uintptr_t addr, uintptr_t e)
{
    /* A spare placeholder, or a free run up to the next one: each is one
     * reservation; MEM_COALESCE_PLACEHOLDERS cannot join them (Windows and
     * Wine 10 join only placeholders split from one reservation). */
    struct wm_region *s = wm_region_first_from(&spare, addr);
    if (s && s->start <= addr)
        return s->end < e ? s->end : e;
    return s && s->start < e ? s->start : e;
}

static bool is_available(uintptr_t lo, uintptr_t hi)
{
    return available(lo, hi);
}

const struct wm_place wm_place_exact = {
    .name = "exact",
    .page = 4096,
    .reserve = reserve,
    .available = is_available,
    .split = split,
    .join = join,
    .ensure_reserved = ensure_reserved,
    .map = map,
    .unmap = unmap,
    .free_view = free_view,
    .free_reserved = free_reserved,
    .spare_end = spare_end,
    .reservation_end = reservation_end,
    .adopt_reserved = adopt_reserved,
    .claim = claim,
    .map_claimed = map_claimed,
    .unclaim = unclaim,
    .unmap_view = unmap_view,
    .unmapped = unmapped,
};
