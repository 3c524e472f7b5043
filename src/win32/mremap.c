/* mremap (Linux).  Built on the library's own mmap, munmap, mprotect and
 * madvise, so every rule of those holds for the result:
 *   shrink     munmap of the tail;
 *   grow       in place when the pages after the mapping are free (a new
 *              mapping continuing the old one: the file at the following
 *              offset, or zero pages), else (MREMAP_MAYMOVE) move;
 *   move       a shared file mapping is mapped again from the same file
 *              offsets; private and anonymous memory is copied into a new
 *              mapping (private file pages not yet written still come from
 *              the file); each part keeps its protection; then the old
 *              range is unmapped, or with MREMAP_DONTUNMAP emptied as
 *              MADV_DONTNEED does.
 * The old range must be one mapping: fully mapped, of one kind, and for a
 * file, consecutive offsets of one file (else EFAULT, as Linux). */
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <io.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct piece {
    uintptr_t start, end;
    size_t mapped; /* bytes Windows maps from start */
    int prot;
};

struct old_mapping {
    bool shared, anon, locked;
    uint32_t volume; /* the file's identity */
    uint64_t index;
    HANDLE file;   /* NULL for anonymous memory */
    uint64_t off;  /* file offset of the first page */
    size_t n;
    struct piece *pc;
};

static size_t round_up(size_t n, size_t page)
{
    return (n + page - 1) / page * page;
}

static int describe(uintptr_t lo, uintptr_t hi, struct old_mapping *m)
{
    memset(m, 0, sizeof *m);
    wm_lock_shared();
    int err = wm_range_fully_mapped(lo, hi) ? 0 : EFAULT;
    struct wm_region *first = wm_region_find(&wm_engine.regions, lo);
    struct wm_backing *fb = NULL;
    if (!err) {
        m->shared = (first->flags & WM_R_SHARED) != 0;
        m->anon = (first->flags & WM_R_ANON) != 0;
        m->locked = (first->flags & WM_R_LOCKED) != 0;
        if (!m->anon) {
            fb = wm_region_file(first, &m->off);
            if (!fb)
                err = EFAULT;
            else if (!(err = wm_backing_identity(fb, &m->volume, &m->index)))
                m->file = fb->file;
        }
    }
    for (struct wm_region *r = first; !err && r && r->start < hi; r = wm_region_next(&wm_engine.regions, r))
        m->n++;
    if (!err && !(m->pc = calloc(m->n, sizeof *m->pc)))
        err = ENOMEM;
    size_t i = 0;
    for (struct wm_region *r = first; !err && r && r->start < hi; r = wm_region_next(&wm_engine.regions, r), i++) {
        uint64_t off, index;
        uint32_t volume;
        struct wm_backing *b;
        if (((r->flags & WM_R_SHARED) != 0) != m->shared || ((r->flags & WM_R_ANON) != 0) != m->anon)
            err = EFAULT; /* more than one mapping */
        else if (!m->anon && !(b = wm_region_file(r, &off)))
            err = EFAULT;
        else if (!m->anon && !(err = wm_backing_identity(b, &volume, &index)) &&
                 (volume != m->volume || index != m->index || off != m->off + (r->start - lo)))
            err = EFAULT; /* another file, or not the next offsets */
        uintptr_t s = r->start < lo ? lo : r->start, e = r->end > hi ? hi : r->end;
        size_t mapped = wm_region_mapped_len(r);
        uintptr_t mend = r->start + mapped;
        m->pc[i] = (struct piece){s, e, mend <= s ? 0 : (mend < e ? mend : e) - s, r->prot};
    }
    wm_unlock_shared();
    if (err)
        free(m->pc);
    return err;
}

/* A descriptor for the old mapping's file (closed by the caller). */
static int file_fd(const struct old_mapping *m)
{
    HANDLE self = GetCurrentProcess(), h;
    if (!DuplicateHandle(self, m->file, self, &h, 0, FALSE, DUPLICATE_SAME_ACCESS))
        return -1;
    int fd = _open_osfhandle((intptr_t)h, 0);
    if (fd < 0)
        CloseHandle(h);
    return fd;
}

/* mmap of len bytes at addr continuing the old mapping from byte `from`. */
static void *map_like(const struct old_mapping *m, void *addr, size_t len, size_t from, int prot, int fixed)
{
    int type = m->shared ? MAP_SHARED : MAP_PRIVATE;
    if (m->anon)
        return mmap64(addr, len, prot, type | MAP_ANONYMOUS | fixed, -1, 0);
    int fd = file_fd(m);
    if (fd < 0)
        return MAP_FAILED;
    void *p = mmap64(addr, len, prot, type | fixed, fd, (int64_t)(m->off + from));
    int e = errno;
    close(fd);
    errno = e;
    return p;
}

static int move(const struct old_mapping *m, uintptr_t old, size_t osz, size_t nsz, void *target,
                int flags, void **out)
{
    int fixed = (flags & MREMAP_FIXED) ? MAP_FIXED : 0;
    bool copy = !(m->shared && !m->anon);
    int last = m->pc[m->n - 1].prot;
    unsigned char *q = map_like(m, target, nsz, 0, copy ? PROT_READ | PROT_WRITE : last, fixed);
    if (q == MAP_FAILED)
        return errno;
    size_t keep = osz < nsz ? osz : nsz;
    int err = 0;
    for (size_t i = 0; i < m->n && !err; i++) {
        const struct piece *p = &m->pc[i];
        size_t at = p->start - old;
        if (at >= keep)
            break;
        size_t len = (p->end - old > keep ? keep : p->end - old) - at;
        if (copy && p->mapped) {
            size_t n = p->mapped < len ? p->mapped : len;
            if (!(p->prot & PROT_READ) && mprotect((void *)p->start, round_up(n, wm_engine.page), PROT_READ))
                err = errno;
            if (!err)
                memcpy(q + at, (void *)p->start, n);
            if (!(p->prot & PROT_READ))
                mprotect((void *)p->start, round_up(n, wm_engine.page), p->prot);
        }
        if (!err && mprotect(q + at, len, p->prot))
            err = errno;
    }
    if (!err && nsz > keep && copy && mprotect(q + keep, nsz - keep, last))
        err = errno;
    if (err) {
        munmap(q, nsz);
        return err;
    }
    if (flags & MREMAP_DONTUNMAP) {
        /* Linux: the lock moves with the pages; the emptied range is unlocked. */
        munlock((void *)old, osz);
        madvise((void *)old, osz, MADV_DONTNEED);
    }
    else
        munmap((void *)old, osz);
    *out = q;
    return 0;
}

static int do_mremap(uintptr_t old, size_t old_size, size_t new_size, int flags, uintptr_t target,
                     void **out)
{
    size_t page = wm_engine.page;
    if ((flags & ~(MREMAP_MAYMOVE | MREMAP_FIXED | MREMAP_DONTUNMAP)) || old % page ||
        ((flags & (MREMAP_FIXED | MREMAP_DONTUNMAP)) && !(flags & MREMAP_MAYMOVE)) || new_size == 0 ||
        old_size == 0 || ((flags & MREMAP_DONTUNMAP) && old_size != new_size))
        return EINVAL;
    if (old_size > SIZE_MAX - page || new_size > SIZE_MAX - page)
        return ENOMEM;
    size_t osz = round_up(old_size, page), nsz = round_up(new_size, page);
    if (old + osz < old)
        return EINVAL;
    if (flags & MREMAP_FIXED) {
        if (target % page || target + nsz < target)
            return EINVAL;
        if (target < old + osz && old < target + nsz)
            return EINVAL; /* overlapping ranges */
    }
    struct old_mapping m;
    int err = describe(old, old + osz, &m);
    if (err)
        return err;
    *out = (void *)old;
    if (!(flags & (MREMAP_FIXED | MREMAP_DONTUNMAP)) && nsz <= osz) {
        if (nsz < osz && munmap((void *)(old + nsz), osz - nsz))
            err = errno;
    } else if (!(flags & (MREMAP_FIXED | MREMAP_DONTUNMAP)) &&
               map_like(&m, (void *)(old + osz), nsz - osz, osz, m.pc[m.n - 1].prot, MAP_FIXED_NOREPLACE) !=
                   MAP_FAILED) {
        /* grown in place */
    } else if (!(flags & MREMAP_MAYMOVE)) {
        err = ENOMEM;
    } else {
        err = move(&m, old, osz, nsz, (flags & MREMAP_FIXED) ? (void *)target : NULL, flags, out);
    }
    /* Linux: a locked mapping stays locked, grown or moved (best effort, as MAP_LOCKED). */
    if (!err && m.locked && (*out != (void *)old || nsz > osz))
        mlock(*out, nsz);
    free(m.pc);
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
    void *out;
    int err = do_mremap((uintptr_t)old_address, old_size, new_size, flags, target, &out);
    if (err) {
        errno = err;
        return MAP_FAILED;
    }
    return out;
}
