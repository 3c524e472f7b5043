/* Mapped files that change size.
 *
 * Growth: pages of a mapping wholly past end of file are kept reserved
 * (WM_R_PAST_EOF).  When one is touched, the fault handler asks
 * wm_resolve_past_eof(); if the file has grown meanwhile (write, ftruncate,
 * another process) the pages the file now covers get a view of a new section
 * of the file's current size, and the access is retried.
 *
 * Truncation: Windows refuses to shrink a file while a section larger than
 * the new size exists (ERROR_USER_MAPPED_FILE).  winmmap_ftruncate (the
 * ftruncate of <unistd.h> on Windows) unmaps every view of such a section,
 * closes the sections, truncates, and maps the views again from sections of
 * the new size; their pages wholly past the new end become reserved, so
 * touching them raises SIGBUS as on POSIX.  Private pages of copy-on-write
 * views are copied first (wm_materialize_view) and so survive. */
#include "internal.h"

#include <errno.h>
#include <io.h>
#include <stdlib.h>
#include <unistd.h>

static int grow_into(uintptr_t addr)
{
    size_t page = wm_engine.page;
    struct wm_region *r = wm_region_find(&wm_engine.regions, addr);
    if (!r || !(r->flags & WM_R_PAST_EOF) || r->backing->kind != WM_B_FILE)
        return ENXIO;
    struct wm_backing *b = r->backing;
    LARGE_INTEGER size;
    HANDLE f = wm_backing_file_handle(b);
    if (!f || !wm_sys.GetFileSizeEx(f, &size))
        return wm_last_errno();
    uint64_t fsize = (uint64_t)size.QuadPart;
    uintptr_t lo = r->start;
    uint64_t off = r->offset; /* file offset of lo */
    if (fsize <= off + ((addr & ~(uintptr_t)(page - 1)) - lo))
        return ENXIO; /* the touched page is still past end of file */
    uint64_t covered = (fsize - off + page - 1) / page * page;
    uintptr_t hi = covered < (uint64_t)(r->end - lo) ? lo + (uintptr_t)covered : r->end;
    /* A new backing: the mapping's other views keep the old section, whose
     * size their extent was computed from. */
    struct wm_backing *nb;
    int prot = (b->exec ? PROT_EXEC : 0) | (b->writable ? PROT_WRITE : 0);
    int err = wm_backing_file(f, !b->cow, prot, &nb);
    if (err)
        return err;
    /* nb borrowed b's handle, which goes with b: a handle of its own. */
    if (!wm_backing_file_handle(nb)) {
        err = wm_last_errno();
        wm_backing_release(nb);
        return err;
    }
    if ((err = wm_isolate_range(lo, hi))) {
        wm_merge_range(lo, hi);
        wm_backing_release(nb);
        return err;
    }
    struct wm_maparg m = wm_backing_maparg(nb, off);
    uint64_t len = nb->size - off < (uint64_t)(hi - lo) ? nb->size - off : hi - lo;
    if ((err = wm_engine.place->map(lo, (size_t)len, &m))) {
        wm_merge_range(lo, hi);
        wm_backing_release(nb);
        return err;
    }
    r = wm_region_find(&wm_engine.regions, lo);
    wm_backing_release(r->backing);
    r->backing = nb; /* takes over the creation reference */
    r->flags &= (uint16_t)~WM_R_PAST_EOF;
    wm_set_view(lo, hi, lo, hi);
    return wm_apply_prot(r);
}

bool wm_resolve_past_eof(uintptr_t addr)
{
    wm_lock_exclusive();
    int err = grow_into(addr);
    wm_unlock_exclusive();
    return err == 0;
}

/* ---- truncation ---- */

/* Truncations under way; file sections made outside the engine lock and not
 * yet in a region (wm_file_section_begin). */
static volatile LONG truncating, unpublished_sections;

/* Set the match bit of every backing (and private copy's origin) that maps
 * the file fi describes; clear it on the others. */
static int mark_file(const BY_HANDLE_FILE_INFORMATION *fi)
{
    for (struct wm_region *r = wm_region_first_from(&wm_engine.regions, 0); r;
         r = wm_region_next(&wm_engine.regions, r)) {
        struct wm_backing *bs[2] = {r->backing, r->backing->origin ? r->backing->origin->file : NULL};
        for (int i = 0; i < 2; i++) {
            struct wm_backing *b = bs[i];
            uint32_t volume;
            uint64_t index;
            if (!b)
                continue;
            b->match = 0;
            if (b->kind != WM_B_FILE)
                continue;
            int err = wm_backing_identity(b, &volume, &index);
            if (err)
                return err;
            b->match = volume == fi->dwVolumeSerialNumber &&
                       index == ((uint64_t)fi->nFileIndexHigh << 32 | fi->nFileIndexLow);
        }
    }
    return 0;
}

/* Set the file's size.  Linux: EINVAL for a descriptor not open for
 * writing; growth the file system refuses is EFBIG (POSIX: longer than the
 * largest file), which Windows reports as ERROR_DISK_FULL or
 * ERROR_FILE_TOO_LARGE and Wine (from Linux's EFBIG) as
 * ERROR_NOT_ENOUGH_MEMORY. */
static int set_size(HANDLE h, uint64_t len, bool growing)
{
    FILE_END_OF_FILE_INFO eof = {{.QuadPart = (LONGLONG)len}};
    if (len > INT64_MAX)
        return EFBIG;
    if (wm_sys.SetFileInformationByHandle(h, FileEndOfFileInfo, &eof, sizeof eof))
        return 0;
    switch (GetLastError()) {
    case ERROR_ACCESS_DENIED:
        return EINVAL;
    case ERROR_DISK_FULL:
    case ERROR_HANDLE_DISK_FULL:
    case ERROR_FILE_TOO_LARGE:
    case ERROR_NOT_ENOUGH_MEMORY:
    case ERROR_INVALID_PARAMETER:
        if (growing)
            return EFBIG;
        /* fall through */
    default:
        return wm_last_errno();
    }
}

/* Views (by first region) mapping a section of the file. */
static size_t file_views(uintptr_t *out)
{
    size_t n = 0;
    for (struct wm_region *r = wm_region_first_from(&wm_engine.regions, 0); r;
         r = wm_region_next(&wm_engine.regions, r))
        if (r->start == r->vstart && !(r->flags & WM_R_PAST_EOF) && r->backing->match &&
            r->backing->size) {
            if (out)
                out[n] = r->start;
            n++;
        }
    return n;
}

static int close_or_reopen(struct wm_backing *b, bool reopen)
{
    if (!b || !b->match || !b->size)
        return 0; /* no section: an empty file when mapped */
    if (reopen) {
        int err = wm_backing_reopen(b); /* now of the file's size */
        return err ? wm_backing_reopen(b) : 0; /* a second try, as in remap() */
    }
    if (b->section) {
        wm_sys.CloseHandle(b->section);
        b->section = NULL;
    }
    return 0;
}

/* Close (or open again at the file's current size) the sections of the
 * file: of its mappings, and of the private copies' origins. */
static int file_sections(bool reopen)
{
    int err = 0;
    for (struct wm_region *r = wm_region_first_from(&wm_engine.regions, 0); r;
         r = wm_region_next(&wm_engine.regions, r)) {
        int e1 = close_or_reopen(r->backing, reopen);
        int e2 = r->backing->origin ? close_or_reopen(r->backing->origin->file, reopen) : 0;
        if (!err)
            err = e1 ? e1 : e2;
    }
    return err;
}

/* Map the view at vs again from its backing's (new) section; the pages
 * wholly past the backing's end become reserved. */
static int remap(uintptr_t vs)
{
    const struct wm_place *pl = wm_engine.place;
    size_t page = wm_engine.page;
    struct wm_region *r = wm_region_find(&wm_engine.regions, vs);
    struct wm_backing *b = r->backing;
    uintptr_t ve = r->vend;
    uint64_t voff = wm_view_offset(r);
    uintptr_t p = vs;
    if (voff < b->size) {
        uint64_t in = (b->size - voff + page - 1) / page * page;
        p = in < (uint64_t)(ve - vs) ? vs + (uintptr_t)in : ve;
    }
    /* There is no way back once the file has changed size: each step gets a
     * second try, which covers a transient failure. */
    int err = 0;
    if (p > vs && p < ve) {
        if ((err = pl->split(vs, ve - vs, p - vs)) && (err = pl->split(vs, ve - vs, p - vs)))
            return err;
        if ((err = wm_split_region_at(p)))
            return err;
        wm_set_view(vs, p, vs, p);
        wm_set_view(p, ve, p, ve);
    }
    for (r = wm_region_find(&wm_engine.regions, p); r && r->start < ve; r = wm_region_next(&wm_engine.regions, r))
        r->flags |= WM_R_PAST_EOF;
    /* Legacy unmapping leaves the range free: take the part past EOF again. */
    if (p < ve && (err = pl->ensure_reserved(p, ve - p)) && (err = pl->ensure_reserved(p, ve - p)))
        return err;
    if (p == vs)
        return 0;
    struct wm_maparg m = wm_backing_maparg(b, voff);
    uint64_t len = b->size - voff < (uint64_t)(p - vs) ? b->size - voff : p - vs;
    if ((err = pl->map(vs, (size_t)len, &m)) && (err = pl->map(vs, (size_t)len, &m)))
        return err;
    return wm_apply_view_prots(vs);
}

static int truncate_mapped(HANDLE h, uint64_t len)
{
    BY_HANDLE_FILE_INFORMATION fi;
    LARGE_INTEGER size;
    if (!wm_sys.GetFileInformationByHandle(h, &fi) || !wm_sys.GetFileSizeEx(h, &size))
        return wm_last_errno();
    if (len >= (uint64_t)size.QuadPart)
        return set_size(h, len, true); /* growing is allowed; mappings see it on access */
    int err = mark_file(&fi);
    if (err)
        return err;
    /* Private copies of copy-on-write views first: their pages are the
     * process's own and stay (inside the new size; Linux drops the rest). */
    for (struct wm_region *r = wm_region_first_from(&wm_engine.regions, 0); r;) {
        if (r->start == r->vstart && !(r->flags & WM_R_PAST_EOF) && r->backing->match &&
            r->backing->cow && wm_view_has_private_pages(r->vstart)) {
            int err = wm_materialize_view(r->vstart);
            if (err)
                return err;
            r = wm_region_find(&wm_engine.regions, r->vstart);
        }
        r = wm_region_next(&wm_engine.regions, r);
    }
    /* Every section of the file goes, not only those larger than len: Wine
     * refuses to shrink a file while any section of it exists, even one
     * that the new size still covers. */
    uintptr_t *views = malloc((wm_engine.regions.count + 1) * sizeof *views);
    if (!views)
        return ENOMEM;
    size_t n = file_views(views);
    size_t done;
    for (done = 0; done < n && !err; done++) {
        struct wm_region *r = wm_region_find(&wm_engine.regions, views[done]);
        err = wm_engine.place->unmap(r->vstart, r->vend - r->vstart, false);
    }
    if (err) {
        done--; /* the failed one is still mapped */
    } else {
        /* No view left: drop every section of the file (also those kept
         * for reverting private copies), so Windows lets the file shrink. */
        file_sections(false);
        err = set_size(h, len, false);
    }
    /* Sections of the file's size now (the new one, or the old one if the
     * truncation failed), and every view mapped again. */
    int err2 = file_sections(true);
    for (size_t i = 0; i < done; i++) {
        int e = remap(views[i]);
        if (!err2)
            err2 = e;
    }
    for (size_t i = 0; i < done; i++)
        wm_merge_range(views[i], views[i]);
    free(views);
    return err ? err : err2;
}

int winmmap_ftruncate(int fd, int64_t len)
{
    wm_init();
    intptr_t osf = _get_osfhandle(fd);
    int err = 0;
    if (osf == -1 || osf == -2)
        err = EBADF;
    else if (len < 0 || GetFileType((HANDLE)osf) != FILE_TYPE_DISK)
        err = EINVAL;
    else
        /* Linux: EINVAL for a descriptor not open for writing.  Windows
         * would say so only after the mapped file's views were taken down
         * (and Wine says ERROR_INVALID_HANDLE), so ask the handle first. */
        err = wm_handle_allows((HANDLE)osf, FILE_WRITE_DATA) ? 0 : EINVAL;
    if (!err) {
        InterlockedIncrement(&truncating);
        wm_lock_all(); /* views munmap is unmapping go first */
        /* Sections other threads' mmap made before taking the lock: each
         * becomes a region's (or is closed) once its thread has the lock. */
        while (unpublished_sections) {
            wm_unlock_exclusive();
            SwitchToThread();
            wm_lock_all();
        }
        wm_await_deferred_closes(); /* sections another thread's munmap let go */
        err = truncate_mapped((HANDLE)osf, (uint64_t)len);
        wm_unlock_exclusive();
        InterlockedDecrement(&truncating);
    }
    return wm_status(err);
}

/* mmap makes a file's section before it takes the engine lock (a wineserver
 * round trip other threads need not wait for).  Such a section exists
 * before any region holds it, where a truncation, which must close every
 * section of the file, would not find it (Windows then refuses to shrink
 * the file).  So truncations wait for these sections to be published, and
 * while one is under way, mmap makes its section under the lock instead:
 * both sides raise their own counter before reading the other's (Dekker;
 * Interlocked calls are full barriers). */
bool wm_file_section_begin(void)
{
    InterlockedIncrement(&unpublished_sections);
    if (!truncating)
        return true;
    InterlockedDecrement(&unpublished_sections);
    return false;
}

void wm_file_section_end(void)
{
    InterlockedDecrement(&unpublished_sections);
}
