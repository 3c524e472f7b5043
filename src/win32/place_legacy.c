/* Legacy placement with plain MapViewOfFileEx (every Windows, Wine 8): views,
 * offsets and reservations on 64 KiB allocation-granularity boundaries, so the
 * library reports a 64 KiB page size.  Windows cannot split a view or a
 * reservation, so turning one range into another means releasing it and
 * taking it again at the same address: another thread allocating at that
 * moment can take the range, and the call then fails with ENOMEM.  That window
 * is the one race left in this strategy.  A view being replaced leaves its
 * range free, not reserved, until the next step takes it. */
#include "internal.h"

#include <errno.h>

/* Views and private memory being made without the engine lock (claim ..
 * map_claimed), where Windows chooses or next to the last private memory.
 * Such a call could take a range another thread has released to take it
 * again (split, join, map, unmap below, all with the lock held): those
 * steps first let the calls under way land (settle), and no new one starts
 * while the lock is held. */
static volatile LONG unlocked_maps;

static void settle(void)
{
    while (unlocked_maps)
        SwitchToThread();
}

/* Reservations made for this process by another (a fork child's runs of
 * adjacent ranges, adopt_reserved); guarded by the engine lock.  Small: it
 * may outlive the mappings (see region.h). */
static struct wm_region_table adopted = {.small = 1};

/* The adopted reservation holding all of [lo, hi), or NULL. */
static struct wm_region *adopted_over(uintptr_t lo, uintptr_t hi)
{
    struct wm_region *a = wm_region_find(&adopted, lo);
    return a && hi <= a->end ? a : NULL;
}

static void adopt_reserved(uintptr_t addr, size_t len);

/* Hand [lo, hi) of adopted reservation a to a fixed reservation.  A
 * reservation is taken whole, so when a holds more, all of it is released
 * and its parts reserved again (in-process calls: a cross-process
 * reservation per range costs Wine a round trip through the child). */
static int take_adopted(struct wm_region *a, uintptr_t lo, uintptr_t hi)
{
    uintptr_t s = a->start, e = a->end;
    wm_region_remove(&adopted, a);
    wm_region_free(a);
    if (s == lo && e == hi)
        return 0;
    VirtualFree((void *)s, 0, MEM_RELEASE);
    uintptr_t part[2][2] = {{s, lo}, {hi, e}};
    for (int i = 0; i < 2; i++)
        if (part[i][0] < part[i][1] &&
            VirtualAlloc((void *)part[i][0], part[i][1] - part[i][0], MEM_RESERVE, PAGE_NOACCESS))
            adopt_reserved(part[i][0], part[i][1] - part[i][0]);
    if (wm_sys.VirtualAlloc((void *)lo, hi - lo, MEM_RESERVE, PAGE_NOACCESS) != (void *)lo)
        return ENOMEM;
    return 0;
}

static int reserve(uintptr_t hint, size_t len, bool fixed, uintptr_t *out)
{
    settle();
    struct wm_region *a = hint ? adopted_over(hint, hint + len) : NULL;
    if (a) {
        *out = hint;
        return take_adopted(a, hint, hint + len);
    }
    void *p = wm_sys.VirtualAlloc((void *)hint, len, MEM_RESERVE, PAGE_NOACCESS);
    if (p && fixed && (uintptr_t)p != hint) {
        VirtualFree(p, 0, MEM_RELEASE);
        p = NULL;
        SetLastError(ERROR_INVALID_ADDRESS);
    }
    if (!p && hint && !fixed)
        p = wm_sys.VirtualAlloc(NULL, len, MEM_RESERVE, PAGE_NOACCESS);
    if (!p)
        return fixed ? wm_taken_errno() : wm_last_errno();
    *out = (uintptr_t)p;
    return 0;
}

static void free_reserved(uintptr_t addr, size_t len)
{
    (void)len;
    VirtualFree((void *)addr, 0, MEM_RELEASE);
}

/* Set once a range released for a split was taken by another allocation
 * (a new thread's stack, say) before we took it back.  From then on a range
 * is released only after checking that it is still our allocation. */
static volatile bool lost; /* read by munmap's VirtualFree without the lock */

/* Take [addr, addr+len) back after releasing it; on failure the range is lost
 * to whoever took it, which the caller reports as ENOMEM. */
static int retake(uintptr_t addr, size_t len)
{
    uintptr_t got;
    int err = reserve(addr, len, true, &got);
    if (err)
        lost = true;
    return err == EEXIST ? ENOMEM : err;
}

/* Whether [addr, addr+len) is still exactly one private allocation of
 * ours: another starting at addr (a thread's stack has its reserved part at
 * its base) goes on past addr+len.  Asked only once a range was lost (two
 * VirtualQuery calls cost munmap half the time of VirtualFree). */
static bool still_ours(uintptr_t addr, size_t len)
{
    MEMORY_BASIC_INFORMATION a, b;
    if (!VirtualQuery((void *)addr, &a, sizeof a) || (uintptr_t)a.AllocationBase != addr ||
        a.Type != MEM_PRIVATE)
        return false;
    return !VirtualQuery((void *)(addr + len), &b, sizeof b) || (uintptr_t)b.AllocationBase != addr;
}

/* Whether the allocation at addr (if any) holds reserved pages only, as
 * every reservation of ours does: one that took a lost range, such as a
 * thread's stack (reserved at its base, committed above), holds committed
 * pages too, and must be neither released nor committed into.  Asked only
 * once a range was lost. */
static bool only_reserved(uintptr_t addr)
{
    MEMORY_BASIC_INFORMATION mi;
    for (uintptr_t p = addr; VirtualQuery((void *)p, &mi, sizeof mi) && (uintptr_t)mi.AllocationBase == addr;
         p = (uintptr_t)mi.BaseAddress + mi.RegionSize)
        if (mi.State != MEM_RESERVE)
            return false;
    return true;
}

/* Also used on undo paths (ensure_reserved), so it asks VirtualQuery
 * directly, outside failure injection. */
static bool is_free(uintptr_t addr)
{
    MEMORY_BASIC_INFORMATION mi;
    return VirtualQuery((void *)addr, &mi, sizeof mi) && mi.State == MEM_FREE;
}

static int split(uintptr_t addr, size_t len, size_t at)
{
    settle();
    if (is_free(addr))
        return 0; /* an unmapped view's range: nothing to split */
    free_reserved(addr, len);
    int err = retake(addr, at);
    if (!err) {
        err = retake(addr + at, len - at);
        if (err)
            free_reserved(addr, at);
    }
    if (err)
        retake(addr, len); /* put back what was there */
    return err;
}

static int join(uintptr_t addr, size_t len)
{
    settle();
    /* Free every reservation inside the range, then take it as one. */
    bool any = false;
    for (uintptr_t p = addr; p < addr + len;) {
        MEMORY_BASIC_INFORMATION mi;
        if (!VirtualQuery((void *)p, &mi, sizeof mi))
            break;
        p = (uintptr_t)mi.BaseAddress + mi.RegionSize;
        /* Only reservations that start inside the range: one starting below
         * it is another allocation's (a thread stack's reserved part). */
        if (mi.State == MEM_RESERVE && (uintptr_t)mi.AllocationBase >= addr) {
            VirtualFree(mi.AllocationBase, 0, MEM_RELEASE);
            any = true;
        }
    }
    return any ? retake(addr, len) : 0;
}

static bool available(uintptr_t lo, uintptr_t hi)
{
    settle();
    if (adopted_over(lo, hi))
        return true;
    while (lo < hi) {
        MEMORY_BASIC_INFORMATION mi;
        if (!wm_sys.VirtualQuery((void *)lo, &mi, sizeof mi) || mi.State != MEM_FREE)
            return false;
        lo = (uintptr_t)mi.BaseAddress + mi.RegionSize;
    }
    return true;
}

static int ensure_reserved(uintptr_t addr, size_t len)
{
    settle();
    return is_free(addr) ? retake(addr, len) : 0;
}

/* Private memory in [addr, addr+len): committed inside our reservation
 * there, or allocated afresh when the range is free.  Anything else there
 * was taken by another allocation in the release-and-retake window: ENOMEM,
 * never a commit into it (its owner's memory would be overwritten). */
static int map_private(uintptr_t addr, size_t len, const struct wm_maparg *m)
{
    DWORD prot = m->reserve_only ? PAGE_NOACCESS : PAGE_READWRITE;
    MEMORY_BASIC_INFORMATION mi;
    if (!VirtualQuery((void *)addr, &mi, sizeof mi))
        return ENOMEM;
    if (mi.State == MEM_RESERVE && (uintptr_t)mi.AllocationBase == addr && mi.RegionSize >= len &&
        (!lost || only_reserved(addr))) {
        if (m->reserve_only || wm_sys.VirtualAlloc((void *)addr, len, MEM_COMMIT, prot))
            return 0;
        return wm_last_errno();
    }
    if (mi.State != MEM_FREE) {
        lost = true; /* another allocation's now: never commit into it */
        return ENOMEM;
    }
    DWORD type = MEM_RESERVE | (m->reserve_only ? 0 : MEM_COMMIT);
    void *p = wm_sys.VirtualAlloc((void *)addr, len, type, prot);
    if (p == (void *)addr)
        return 0;
    int err = p ? ENOMEM : wm_last_errno();
    if (p)
        VirtualFree(p, 0, MEM_RELEASE);
    return err;
}

static int map(uintptr_t addr, size_t len, const struct wm_maparg *m)
{
    if (!m->section)
        return map_private(addr, len, m);
    settle();
    if (lost && !only_reserved(addr))
        return ENOMEM; /* another allocation's now */
    free_reserved(addr, len);
    void *p = wm_sys.MapViewOfFileEx(m->section, m->access, (DWORD)(m->offset >> 32),
                                     (DWORD)m->offset, len, (void *)addr);
    if (p == (void *)addr)
        return 0;
    int err = p ? ENOMEM : wm_last_errno();
    if (p)
        UnmapViewOfFile(p);
    retake(addr, len);
    return err;
}

static void *new_view(const struct wm_maparg *m, size_t len, uintptr_t at)
{
    if (!m->section)
        return wm_sys.VirtualAlloc((void *)at, len, MEM_RESERVE | (m->reserve_only ? 0 : MEM_COMMIT),
                                   m->reserve_only ? PAGE_NOACCESS : PAGE_READWRITE);
    return wm_sys.MapViewOfFileEx(m->section, m->access, (DWORD)(m->offset >> 32), (DWORD)m->offset,
                                  len, (void *)at);
}

/* Where new private memory is tried first: next to the last, on the side
 * that worked last time.  Wine 8 gives each 64 KiB VirtualAlloc(NULL) of the
 * upper address space a Linux mapping of its own, 128 KiB below the previous
 * one; with ~95 000 of them the process has no Linux mapping left for its
 * heap.  Side by side, neighbours of one protection are one Linux mapping.
 * Guarded by a lock of its own: new memory is made without the engine's. */
static SRWLOCK last_lock = SRWLOCK_INIT;
static uintptr_t last_lo, last_hi;
static bool last_up;

static void *new_private_near_last(const struct wm_maparg *m, size_t len)
{
    AcquireSRWLockShared(&last_lock);
    uintptr_t lo = last_lo, hi = last_hi;
    bool last = last_up;
    ReleaseSRWLockShared(&last_lock);
    if (!hi)
        return NULL;
    uintptr_t at[2] = {lo - len, hi}; /* below, above */
    for (int k = 0; k < 2; k++) {
        bool up = k ? !last : last;
        if (!up && lo < len)
            continue;
        void *p = new_view(m, len, at[up]);
        if (p) {
            AcquireSRWLockExclusive(&last_lock);
            last_up = up;
            ReleaseSRWLockExclusive(&last_lock);
            return p;
        }
    }
    return NULL;
}

static int map_new(uintptr_t hint, size_t len, const struct wm_maparg *m, uintptr_t *out)
{
    void *p = hint ? new_view(m, len, hint) : !m->section ? new_private_near_last(m, len) : NULL;
    if (!p)
        p = new_view(m, len, 0);
    if (!p)
        return wm_last_errno();
    if (!m->section) {
        AcquireSRWLockExclusive(&last_lock);
        last_lo = (uintptr_t)p;
        last_hi = last_lo + len;
        ReleaseSRWLockExclusive(&last_lock);
    }
    *out = (uintptr_t)p;
    return 0;
}

/* A section view's range is left free rather than reserved: taking it back
 * could fail and leave neither view nor reservation.  The next step (map, or
 * ensure_reserved for a range past EOF) takes it again.  Private memory is
 * decommitted and stays reserved. */
static int unmap(uintptr_t addr, size_t len, bool priv)
{
    if (priv)
        return VirtualFree((void *)addr, len, MEM_DECOMMIT) ? 0 : wm_last_errno();
    settle();
    wm_sys.UnmapViewOfFile((void *)addr);
    return 0;
}

static int claim(uintptr_t hint, size_t len, uintptr_t *at)
{
    (void)hint, (void)len;
    InterlockedIncrement(&unlocked_maps);
    *at = 0;
    return 0;
}

static int map_claimed(uintptr_t at, uintptr_t hint, size_t len, const struct wm_maparg *m, uintptr_t *out)
{
    (void)at;
    int err = map_new(hint, len, m, out); /* no state of ours but last_lo's, locked apart */
    InterlockedDecrement(&unlocked_maps);
    return err;
}

static void unclaim(uintptr_t at, size_t len)
{
    (void)at, (void)len;
}

/* An unmapped view's range is free for good: nothing to settle. */
static bool unmap_view(uintptr_t addr, size_t len, bool priv)
{
    if (!priv)
        wm_sys.UnmapViewOfFile((void *)addr);
    else if (!lost || still_ours(addr, len))
        return wm_sys.VirtualFree((void *)addr, 0, MEM_RELEASE);
    return true;
}

static void unmapped(uintptr_t addr, size_t len, bool priv, bool ok)
{
    (void)len, (void)priv;
    if (!ok)
        VirtualFree((void *)addr, 0, MEM_RELEASE); /* free_view cannot fail */
}

static void free_view(uintptr_t addr, size_t len, bool priv)
{
    unmapped(addr, len, priv, unmap_view(addr, len, priv));
}

static uintptr_t spare_end(uintptr_t addr)
{
    struct wm_region *a = wm_region_find(&adopted, addr);
    return a ? a->end : 0;
}

static void adopt_reserved(uintptr_t addr, size_t len)
{
    struct wm_region *a = wm_region_new(&adopted);
    if (!a) {
        free_reserved(addr, len); /* out of memory: the mapping takes its chance */
        return;
    }
    a->start = a->vstart = addr;
    a->end = a->vend = addr + len;
    wm_region_insert(&adopted, a);
}

static void release_adopted(uintptr_t addr, size_t len)
{
    struct wm_region *a = adopted_over(addr, addr + len);
    if (a && !take_adopted(a, addr, addr + len))
        free_reserved(addr, len);
}

static uintptr_t reservation_end(uintptr_t addr, uintptr_t e)
{
    (void)addr;
    return e; /* any free range is one reservation */
}

const struct wm_place wm_place_legacy = {
    .name = "legacy",
    .page = 65536,
    .reserve = reserve,
    .split = split,
    .available = available,
    .join = join,
    .ensure_reserved = ensure_reserved,
    .map = map,
    .unmap = unmap,
    .free_view = free_view,
    .free_reserved = free_reserved,
    .spare_end = spare_end,
    .reservation_end = reservation_end,
    .adopt_reserved = adopt_reserved,
    .release_adopted = release_adopted,
    .claim = claim,
    .map_claimed = map_claimed,
    .unclaim = unclaim,
    .unmap_view = unmap_view,
    .unmapped = unmapped,
};
