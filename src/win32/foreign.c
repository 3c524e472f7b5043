/* Pages the library did not map: heap, stacks, static data, program images,
 * other code's VirtualAlloc.  Linux applies mprotect, mlock, msync, madvise
 * and mincore to every mapped page of the process, so these calls treat any
 * page Windows has committed or reserved as mapped and act on it directly;
 * only free pages are ENOMEM.  The region table is not involved: what these
 * pages are is asked of VirtualQuery each time. */
#include "internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* The next part of [*p, hi) outside every region: [*glo, *ghi); false when
 * none is left.  *p moves past it. */
static bool next_gap(uintptr_t *p, uintptr_t hi, uintptr_t *glo, uintptr_t *ghi)
{
    while (*p < hi) {
        struct wm_region *r = wm_region_first_from(&wm_engine.regions, *p);
        if (r && r->start <= *p) {
            *p = r->end;
            continue;
        }
        *glo = *p;
        *ghi = r && r->start < hi ? r->start : hi;
        *p = *ghi;
        return true;
    }
    return false;
}

/* What VirtualQuery says of addr, cut to [addr, hi).  ENOMEM for free pages
 * (and addresses outside the user address space, where VirtualQuery fails). */
static int query(uintptr_t addr, uintptr_t hi, struct wm_foreign *f)
{
    MEMORY_BASIC_INFORMATION mi;
    /* The exact strategy's spare placeholders are unmapped in POSIX terms. */
    if (wm_engine.place->spare_end(addr) ||
        !wm_sys.VirtualQuery((void *)addr, &mi, sizeof mi) || mi.State == MEM_FREE)
        return ENOMEM;
    uintptr_t end = (uintptr_t)mi.BaseAddress + mi.RegionSize;
    *f = (struct wm_foreign){addr, end < hi ? end : hi, mi.State, mi.Protect, mi.Type};
    return 0;
}

int wm_foreign_list(uintptr_t lo, uintptr_t hi, struct wm_foreign **out, size_t *n)
{
    struct wm_foreign *list = NULL, f;
    size_t count = 0, cap = 0;
    uintptr_t p = lo, glo, ghi;
    int err = 0;
    while (!err && next_gap(&p, hi, &glo, &ghi)) {
        for (uintptr_t a = glo; a < ghi && !err; a = f.end) {
            if ((err = query(a, ghi, &f)))
                break;
            if (count == cap) {
                size_t ncap = cap ? 2 * cap : 8;
                struct wm_foreign *l = realloc(list, ncap * sizeof *l);
                if (!l) {
                    err = ENOMEM;
                    break;
                }
                list = l, cap = ncap;
            }
            list[count++] = f;
        }
    }
    if (err) {
        free(list);
        list = NULL, count = 0;
    }
    *out = list;
    *n = count;
    return err;
}

bool wm_foreign_covers_gaps(uintptr_t lo, uintptr_t hi)
{
    uintptr_t p = lo, glo, ghi;
    struct wm_foreign f;
    while (next_gap(&p, hi, &glo, &ghi))
        for (uintptr_t a = glo; a < ghi; a = f.end)
            if (query(a, ghi, &f))
                return false;
    return true;
}

static bool committed(const struct wm_foreign *f)
{
    return f->state == MEM_COMMIT;
}

/* ---- mprotect ---- */

/* Windows protection for prot on foreign pages.  Image pages and
 * copy-on-write views stay copy-on-write when made writable, so a write
 * never reaches the file behind them (MAP_PRIVATE). */
static DWORD win_prot(const struct wm_foreign *f, int prot)
{
    DWORD p;
    if (prot & PROT_WRITE) {
        bool cow = f->type == MEM_IMAGE ||
                   (f->protect & (PAGE_WRITECOPY | PAGE_EXECUTE_WRITECOPY));
        p = cow ? PAGE_WRITECOPY : PAGE_READWRITE;
    } else if (prot & (PROT_READ | PROT_EXEC)) {
        p = PAGE_READONLY;
    } else {
        return PAGE_NOACCESS;
    }
    return (prot & PROT_EXEC) ? p << 4 : p; /* PAGE_EXECUTE_X is PAGE_X << 4 */
}

/* Undo wm_foreign_protect on the first n entries of list. */
void wm_foreign_unprotect(const struct wm_foreign *list, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const struct wm_foreign *f = &list[i];
        DWORD old;
        if (committed(f))
            wm_sys.VirtualProtect((void *)f->start, f->end - f->start, f->protect, &old);
        else
            wm_sys.VirtualFree((void *)f->start, f->end - f->start, MEM_DECOMMIT);
    }
}

int wm_foreign_protect(const struct wm_foreign *list, size_t n, int prot)
{
    size_t i;
    int err = 0;
    for (i = 0; i < n && !err; i++) {
        const struct wm_foreign *f = &list[i];
        void *a = (void *)f->start;
        size_t len = f->end - f->start;
        DWORD old;
        if (committed(f)) {
            if (!wm_sys.VirtualProtect(a, len, win_prot(f, prot), &old))
                err = wm_last_errno();
        } else if (prot == PROT_NONE) {
            /* Reserved pages are inaccessible already; nothing to undo either,
             * but wm_foreign_unprotect decommits, which leaves them as they were. */
        } else if (!wm_sys.VirtualAlloc(a, len, MEM_COMMIT, win_prot(f, prot))) {
            /* A reserved page is a PROT_NONE mapping: giving it access commits it. */
            err = wm_last_errno();
        }
    }
    if (err)
        wm_foreign_unprotect(list, i - 1);
    return err;
}

/* ---- mlock ---- */

int wm_foreign_lock(const struct wm_foreign *list, size_t n, int (*lock)(void *, size_t))
{
    for (size_t i = 0; i < n; i++) {
        /* Linux cannot fault in inaccessible pages, so mlock fails on them. */
        if (!committed(&list[i]) || (list[i].protect & (PAGE_NOACCESS | PAGE_GUARD)))
            return ENOMEM;
    }
    size_t i;
    int err = 0;
    for (i = 0; i < n && !err; i++)
        err = lock((void *)list[i].start, list[i].end - list[i].start);
    if (err)
        wm_foreign_unlock(list, i - 1);
    return err;
}

void wm_foreign_unlock(const struct wm_foreign *list, size_t n)
{
    /* VirtualUnlock fails on pages that were not locked: nothing to do there. */
    for (size_t i = 0; i < n; i++)
        if (committed(&list[i]))
            wm_sys.VirtualUnlock((void *)list[i].start, list[i].end - list[i].start);
}

/* ---- msync ---- */

int wm_foreign_sync(const struct wm_foreign *list, size_t n)
{
    /* Only another code's file views have anything to write back; Linux's
     * msync of anonymous memory succeeds and does nothing. */
    for (size_t i = 0; i < n; i++)
        if (committed(&list[i]) && list[i].type == MEM_MAPPED &&
            !wm_sys.FlushViewOfFile((void *)list[i].start, list[i].end - list[i].start))
            return wm_last_errno();
    return 0;
}

/* ---- madvise ---- */

static bool writable(DWORD protect)
{
    return (protect & (PAGE_READWRITE | PAGE_EXECUTE_READWRITE)) && !(protect & PAGE_GUARD);
}

/* DONTNEED in two steps around the library's own part, so that a failure in
 * either changes no byte.  Private pages read zeros afterwards, as on Linux;
 * pages of images and other code's views keep their data (Linux would reset
 * them to the file's bytes, which Windows does not let us find). */
static bool resets(const struct wm_foreign *f)
{
    return committed(f) && f->type == MEM_PRIVATE;
}

static void close_pages(const struct wm_foreign *list, size_t n)
{
    DWORD old;
    for (size_t i = 0; i < n; i++)
        if (resets(&list[i]) && !writable(list[i].protect))
            wm_sys.VirtualProtect((void *)list[i].start, list[i].end - list[i].start,
                                  list[i].protect, &old);
}

int wm_foreign_dontneed_begin(const struct wm_foreign *list, size_t n)
{
    size_t i;
    int err = 0;
    DWORD old;
    for (i = 0; i < n && !err; i++) {
        const struct wm_foreign *f = &list[i];
        if (resets(f) && !writable(f->protect) &&
            !wm_sys.VirtualProtect((void *)f->start, f->end - f->start, PAGE_READWRITE, &old))
            err = wm_last_errno();
    }
    if (err)
        close_pages(list, i - 1);
    return err;
}

void wm_foreign_dontneed_end(const struct wm_foreign *list, size_t n, bool reset)
{
    if (reset)
        for (size_t i = 0; i < n; i++)
            if (resets(&list[i]))
                memset((void *)list[i].start, 0, list[i].end - list[i].start);
    close_pages(list, n);
}

bool wm_foreign_all_private(const struct wm_foreign *list, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (list[i].type != MEM_PRIVATE)
            return false;
    return true;
}
