/* Exact placement on placeholders (Windows 10 1803+, Wine >= 10): views and
 * reservations at any 4 KiB boundary, split and joined without ever letting
 * go of the address range, so no other thread can slip in. */
#include "internal.h"

static HANDLE self(void)
{
    return GetCurrentProcess();
}

static int reserve(uintptr_t hint, size_t len, bool fixed, uintptr_t *out)
{
    void *p = wm_sys.VirtualAlloc2(self(), (void *)hint, len, MEM_RESERVE | MEM_RESERVE_PLACEHOLDER,
                                   PAGE_NOACCESS, NULL, 0);
    if (!p && hint && !fixed)
        p = wm_sys.VirtualAlloc2(self(), NULL, len, MEM_RESERVE | MEM_RESERVE_PLACEHOLDER,
                                 PAGE_NOACCESS, NULL, 0);
    if (!p)
        return wm_last_errno();
    *out = (uintptr_t)p;
    return 0;
}

static int map(uintptr_t addr, size_t len, const struct wm_maparg *m)
{
    DWORD prot = (m->access & FILE_MAP_COPY) == FILE_MAP_COPY ? PAGE_WRITECOPY
                 : (m->access & FILE_MAP_WRITE)                ? PAGE_READWRITE
                                                               : PAGE_READONLY;
    if (m->access & FILE_MAP_EXECUTE)
        prot <<= 4; /* PAGE_X -> PAGE_EXECUTE_X */
    void *p = wm_sys.MapViewOfFile3(m->section, self(), (void *)addr, m->offset, len,
                                    MEM_REPLACE_PLACEHOLDER, prot, NULL, 0);
    return p ? 0 : wm_last_errno();
}

static void free_reserved(uintptr_t addr, size_t len)
{
    (void)len;
    VirtualFree((void *)addr, 0, MEM_RELEASE);
}

static int map_new(uintptr_t hint, size_t len, const struct wm_maparg *m, uintptr_t *out)
{
    uintptr_t a;
    int err = reserve(hint, len, false, &a);
    if (err)
        return err;
    err = map(a, len, m);
    if (err) {
        free_reserved(a, len);
        return err;
    }
    *out = a;
    return 0;
}

static int split(uintptr_t addr, size_t len, size_t at)
{
    (void)len;
    if (!wm_sys.VirtualFree((void *)addr, at, MEM_RELEASE | MEM_PRESERVE_PLACEHOLDER))
        return wm_last_errno();
    return 0;
}

static int join(uintptr_t addr, size_t len)
{
    if (!wm_sys.VirtualFree((void *)addr, len, MEM_RELEASE | MEM_COALESCE_PLACEHOLDERS))
        return wm_last_errno();
    return 0;
}

static int ensure_reserved(uintptr_t addr, size_t len)
{
    (void)addr, (void)len;
    return 0; /* an unmapped view is always a placeholder here */
}

static int unmap(uintptr_t addr, size_t len)
{
    (void)len;
    if (!wm_sys.UnmapViewOfFile2(self(), (void *)addr, MEM_PRESERVE_PLACEHOLDER))
        return wm_last_errno();
    return 0;
}

static void free_view(uintptr_t addr)
{
    /* Without MEM_PRESERVE_PLACEHOLDER the address range is released too. */
    wm_sys.UnmapViewOfFile((void *)addr);
}

const struct wm_place wm_place_exact = {
    .name = "exact",
    .page = 4096,
    .map_new = map_new,
    .reserve = reserve,
    .split = split,
    .join = join,
    .ensure_reserved = ensure_reserved,
    .map = map,
    .unmap = unmap,
    .free_view = free_view,
    .free_reserved = free_reserved,
};
