/* Backings: the section (and file) behind a range, shared by reference count
 * between the regions that map it.  Each backing is one section handle plus
 * an offset in the regions, which is what a child process needs to map the
 * same bytes at the same address. */
#include "internal.h"

#include <errno.h>
#include <stdlib.h>

static int new_backing(struct wm_backing **out)
{
    struct wm_backing *b = calloc(1, sizeof *b);
    if (!b)
        return ENOMEM;
    b->refs = 1;
    *out = b;
    return 0;
}

static HANDLE section(HANDLE file, DWORD prot, uint64_t size)
{
    return wm_sys.CreateFileMappingW(file, NULL, prot, (DWORD)(size >> 32), (DWORD)size, NULL);
}

int wm_backing_anon(uint64_t size, bool reserve_only, struct wm_backing **out)
{
    struct wm_backing *b;
    int err = new_backing(&b);
    if (err)
        return err;
    DWORD sec = reserve_only ? SEC_RESERVE : SEC_COMMIT;
    /* Executable so a later mprotect(PROT_EXEC) works; systems that forbid
     * executable sections (Arbitrary Code Guard) get a plain one. */
    b->section = section(INVALID_HANDLE_VALUE, PAGE_EXECUTE_READWRITE | sec, size);
    b->exec = b->section != NULL;
    if (!b->section && GetLastError() == ERROR_ACCESS_DENIED)
        b->section = section(INVALID_HANDLE_VALUE, PAGE_READWRITE | sec, size);
    if (!b->section) {
        err = wm_last_errno();
        free(b);
        return err;
    }
    b->kind = WM_B_ANON;
    b->writable = 1;
    b->reserve_only = reserve_only;
    b->size = size;
    *out = b;
    return 0;
}

/* Private memory keeps its bytes in its views, not in the backing, so two
 * backings (committed and only reserved) serve every private mapping: no
 * allocation per mapping, and they are never released.  Their size lets
 * any offset in the address space fit (size_t, for the 32-bit build). */
static struct wm_backing private_backing[2] = {
    {.size = SIZE_MAX & ~(size_t)0xffff, .refs = 1, .kind = WM_B_ANON, .writable = 1, .exec = 1, .priv = 1},
    {.size = SIZE_MAX & ~(size_t)0xffff, .refs = 1, .kind = WM_B_ANON, .writable = 1, .exec = 1, .priv = 1,
     .reserve_only = 1},
};

int wm_backing_private_anon(uint64_t size, int prot, struct wm_backing **out)
{
    if (prot == PROT_NONE || size <= WM_PRIVATE_MAX) {
        /* VirtualProtect gives private memory any protection (exec). */
        *out = &private_backing[prot == PROT_NONE];
        return 0;
    }
    return wm_backing_anon(size, false, out);
}

bool wm_handle_allows(HANDLE h, ACCESS_MASK need)
{
    struct wm_object_basic_information info;
    if (!wm_sys.NtQueryObject || wm_sys.NtQueryObject(h, 0, &info, sizeof info, NULL) < 0)
        return true;
    ACCESS_MASK a = info.GrantedAccess;
    /* Generic rights, should a handle still carry them unmapped. */
    if (a & GENERIC_ALL)
        a |= FILE_READ_DATA | FILE_WRITE_DATA | FILE_EXECUTE;
    if (a & GENERIC_READ)
        a |= FILE_READ_DATA;
    if (a & GENERIC_WRITE)
        a |= FILE_WRITE_DATA;
    if (a & GENERIC_EXECUTE)
        a |= FILE_EXECUTE;
    return (a & need) == need;
}

/* An empty file has no section to refuse what the descriptor does not
 * allow, so check as Linux does: reading always, writing for a shared
 * writable mapping; and a directory is no file to map. */
static int check_empty(HANDLE h, bool shared, int prot, struct wm_backing *b)
{
    FILE_BASIC_INFO bi;
    if (wm_sys.GetFileInformationByHandleEx(h, FileBasicInfo, &bi, sizeof bi) &&
        (bi.FileAttributes & FILE_ATTRIBUTE_DIRECTORY))
        return ENODEV;
    if (!wm_handle_allows(h, FILE_READ_DATA))
        return EACCES;
    b->writable = shared && wm_handle_allows(h, FILE_WRITE_DATA);
    if (shared && (prot & PROT_WRITE) && !b->writable)
        return EACCES;
    return 0;
}

/* The file index (inode) behind h: FileInternalInformation, a few
 * microseconds under Wine (its descriptor is cached), where the volume and
 * id of FileIdInformation cost 0.7 ms. */
static bool file_index(HANDLE h, uint64_t *index)
{
    IO_STATUS_BLOCK io;
    LARGE_INTEGER i;
    if (!wm_sys.NtQueryInformationFile || wm_sys.NtQueryInformationFile(h, &io, &i, sizeof i, 6) < 0)
        return false;
    *index = (uint64_t)i.QuadPart;
    return true;
}

/* A handle of our own to the object behind h. */
static bool duplicate(HANDLE h, HANDLE *out)
{
    HANDLE self = GetCurrentProcess();
    return wm_sys.DuplicateHandle(self, h, self, out, 0, FALSE, DUPLICATE_SAME_ACCESS);
}

int wm_backing_file(HANDLE h, bool shared, int prot, struct wm_backing **out)
{
    struct wm_backing *b;
    LARGE_INTEGER size;
    int err = new_backing(&b);
    if (err)
        return err;
    b->kind = WM_B_FILE;
    /* The caller may close the descriptor right after mmap, but a handle of
     * our own per mapping (DuplicateHandle, and CloseHandle at munmap) costs
     * Wine two wineserver round trips, a third of a file mapping: the
     * descriptor's handle is borrowed, and ours made only when the file is
     * needed later (wm_backing_file_handle).  Without the index, ours now. */
    if (file_index(h, &b->index)) {
        b->borrowed = h;
    } else if (!duplicate(h, &b->file)) {
        err = wm_last_errno();
        goto fail;
    }
    if (!wm_sys.GetFileSizeEx(h, &size)) {
        err = wm_last_errno();
        goto fail;
    }
    b->size = (uint64_t)size.QuadPart;
    b->cow = !shared;
    b->exec = (prot & PROT_EXEC) != 0;
    if (b->size == 0) {
        /* Nothing to map: every page lies past end of file. */
        if ((err = check_empty(h, shared, prot, b)))
            goto fail;
        goto done;
    }
    DWORD x = b->exec ? 4 : 0; /* PAGE_X << 4 == PAGE_EXECUTE_X */
    if (!shared) {
        b->section = section(h, PAGE_WRITECOPY << x, 0);
    } else {
        /* Read-write when the handle allows it, so a later mprotect can add
         * PROT_WRITE; a section never grows the file because its size is
         * the file's own. */
        b->section = section(h, PAGE_READWRITE << x, 0);
        b->writable = b->section != NULL;
        if (!b->section && GetLastError() == ERROR_ACCESS_DENIED && !(prot & PROT_WRITE))
            b->section = section(h, PAGE_READONLY << x, 0);
    }
    if (!b->section) {
        err = wm_last_errno();
        goto fail;
    }
done:
    *out = b;
    return 0;
fail:
    if (b->file)
        wm_sys.CloseHandle(b->file);
    free(b);
    return err;
}

/* A view of b's section, to ask Windows for the file's name. */
static void *view_of(const struct wm_backing *b)
{
    for (struct wm_region *r = wm_region_first_from(&wm_engine.regions, 0); r;
         r = wm_region_next(&wm_engine.regions, r))
        if (r->backing == b && wm_region_mapped_len(r))
            return (void *)r->start;
    return NULL;
}

/* Say why an ntdll call failed: out of memory, or the file is not there. */
static HANDLE not_reached(LONG status)
{
    SetLastError(status == (LONG)0xC0000017 /* STATUS_NO_MEMORY */ ? ERROR_NOT_ENOUGH_MEMORY
                                                                 : ERROR_FILE_NOT_FOUND);
    return NULL;
}

/* The file behind the view at v, opened again by the name Windows gives the
 * view ("\Device\HarddiskVolume3\..." on Windows, "\??\Z:\..." under
 * Wine), if it is still the file of that index. */
static HANDLE reopen_by_name(const struct wm_backing *b, void *v)
{
    union {
        UNICODE_STRING name;
        WCHAR buf[1024 + sizeof(UNICODE_STRING) / sizeof(WCHAR)];
    } u;
    enum { MEMORY_MAPPED_FILENAME_INFORMATION = 2 };
    if (!v || !wm_sys.NtQueryVirtualMemory || !wm_sys.NtOpenFile)
        return not_reached(0);
    LONG st = wm_sys.NtQueryVirtualMemory(GetCurrentProcess(), v, MEMORY_MAPPED_FILENAME_INFORMATION, &u,
                                          sizeof u, NULL);
    if (st < 0)
        return not_reached(st);
    OBJECT_ATTRIBUTES oa;
    InitializeObjectAttributes(&oa, &u.name, OBJ_CASE_INSENSITIVE, NULL, NULL);
    IO_STATUS_BLOCK io;
    HANDLE h = NULL;
    ACCESS_MASK access = SYNCHRONIZE | FILE_READ_DATA | FILE_READ_ATTRIBUTES |
                         (b->writable ? FILE_WRITE_DATA | FILE_WRITE_ATTRIBUTES : 0);
    const ULONG share = FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE;
    enum { SYNC_IO = 0x20 /* FILE_SYNCHRONOUS_IO_NONALERT */, NON_DIRECTORY = 0x40 };
    if ((st = wm_sys.NtOpenFile(&h, access, &oa, &io, share, SYNC_IO | NON_DIRECTORY)) < 0)
        return not_reached(st);
    uint64_t index;
    if (!file_index(h, &index) || index != b->index) {
        wm_sys.CloseHandle(h); /* another file has that name now */
        return not_reached(0);
    }
    return h;
}

HANDLE wm_backing_file_handle(struct wm_backing *b)
{
    if (b->file || b->kind != WM_B_FILE)
        return b->file;
    HANDLE h = NULL;
    uint64_t index;
    /* The borrowed handle, while it still names the file: its descriptor
     * may have been closed and the handle value given to another object. */
    if (!b->borrowed || !file_index(b->borrowed, &index) || index != b->index || !duplicate(b->borrowed, &h))
        h = reopen_by_name(b, view_of(b));
    if (!h)
        return NULL;
    /* msync holds the lock shared: another thread may have been first. */
    if (InterlockedCompareExchangePointer(&b->file, h, NULL) != NULL)
        wm_sys.CloseHandle(h);
    return b->file;
}

int wm_backing_adopt(HANDLE section, HANDLE file, uint64_t size, const struct wm_backing *like,
                     struct wm_backing **out)
{
    struct wm_backing *b;
    int err = new_backing(&b);
    if (err)
        return err;
    b->section = section;
    b->file = file;
    b->size = size;
    b->kind = like->kind;
    b->writable = like->writable;
    b->cow = like->cow;
    b->exec = like->exec;
    *out = b;
    return 0;
}

int wm_backing_reopen(struct wm_backing *b)
{
    LARGE_INTEGER size;
    HANDLE f = wm_backing_file_handle(b);
    if (!f || !wm_sys.GetFileSizeEx(f, &size))
        return wm_last_errno();
    HANDLE s = NULL;
    if (size.QuadPart > 0) {
        DWORD base = b->cow ? PAGE_WRITECOPY : b->writable ? PAGE_READWRITE : PAGE_READONLY;
        if (!(s = section(f, base << (b->exec ? 4 : 0), 0)))
            return wm_last_errno();
    }
    if (b->section)
        wm_sys.CloseHandle(b->section);
    b->section = s;
    b->size = (uint64_t)size.QuadPart;
    return 0;
}

int wm_backing_identity(struct wm_backing *b, uint32_t *volume, uint64_t *index)
{
    BY_HANDLE_FILE_INFORMATION fi;
    HANDLE f = wm_backing_file_handle(b);
    if (!f || !wm_sys.GetFileInformationByHandle(f, &fi))
        return wm_last_errno();
    *volume = fi.dwVolumeSerialNumber;
    *index = (uint64_t)fi.nFileIndexHigh << 32 | fi.nFileIndexLow;
    return 0;
}

struct wm_backing *wm_region_file(const struct wm_region *r, uint64_t *off)
{
    struct wm_backing *b = r->backing;
    if (b->kind == WM_B_FILE) {
        *off = r->offset;
        return b;
    }
    if (b->origin) {
        *off = b->origin->offset + r->offset;
        return b->origin->file;
    }
    return NULL;
}

void wm_backing_hold(struct wm_backing *b)
{
    if (!b->priv)
        b->refs++;
}

/* The handles the thread holding the engine lock releases are collected
 * here while it defers closing (munmap), and closed after it unlocks: each
 * CloseHandle is a wineserver round trip that other threads need not wait
 * for.  Only the lock holder uses it: a global guarded by the lock, not a
 * thread-local (mingw's first use of one on a thread that pthread_create did
 * not start opens a handle that stays). */
static struct wm_closer *closer;
static volatile LONG pending_closes; /* collected or being closed, all threads */

void wm_defer_closing(struct wm_closer *c)
{
    c->n = 0;
    c->nv = 0;
    c->views = false;
    closer = c;
}

struct wm_closer *wm_suspend_closing(void)
{
    struct wm_closer *c = closer;
    closer = NULL;
    return c;
}

void wm_resume_closing(struct wm_closer *c)
{
    closer = c;
}

bool wm_defer_unmap(uintptr_t start, uintptr_t end, bool priv)
{
    if (!closer || !closer->views || closer->nv == sizeof closer->v / sizeof closer->v[0])
        return false;
    closer->v[closer->nv].start = start;
    closer->v[closer->nv].end = end;
    closer->v[closer->nv].priv = priv;
    closer->nv++;
    return true;
}

volatile LONG wm_unmaps_under_way;

/* Unmap the views c collected without the lock, their range busy; under
 * the lock when the range cannot be marked (a thread waits for every busy
 * range).  Returns with the lock let go. */
static void unmap_deferred(struct wm_closer *c)
{
    const struct wm_place *pl = wm_engine.place;
    uintptr_t lo = UINTPTR_MAX, hi = 0;
    for (size_t i = 0; i < c->nv; i++) {
        lo = c->v[i].start < lo ? c->v[i].start : lo;
        hi = c->v[i].end > hi ? c->v[i].end : hi;
    }
    struct wm_busy busy;
    if (!c->nv || !wm_busy_mark(&busy, lo, hi)) {
        for (size_t i = 0; i < c->nv; i++)
            pl->free_view(c->v[i].start, c->v[i].end - c->v[i].start, c->v[i].priv);
        wm_unlock_exclusive();
        return;
    }
    InterlockedExchangeAdd(&wm_unmaps_under_way, (LONG)c->nv);
    wm_unlock_exclusive();
    bool ok[sizeof c->v / sizeof c->v[0]];
    for (size_t i = 0; i < c->nv; i++) {
        ok[i] = pl->unmap_view(c->v[i].start, c->v[i].end - c->v[i].start, c->v[i].priv);
        InterlockedDecrement(&wm_unmaps_under_way);
    }
    wm_lock_exclusive();
    for (size_t i = 0; i < c->nv; i++)
        pl->unmapped(c->v[i].start, c->v[i].end - c->v[i].start, c->v[i].priv, ok[i]);
    wm_busy_clear(&busy);
    wm_unlock_exclusive();
}

static void close_handle(HANDLE h)
{
    if (closer && wm_lock_held_by_me() && closer->n < sizeof closer->h / sizeof closer->h[0]) {
        closer->h[closer->n++] = h;
        InterlockedIncrement(&pending_closes);
    } else {
        wm_sys.CloseHandle(h);
    }
}

void wm_close_deferred(struct wm_closer *c)
{
    closer = NULL;
    unmap_deferred(c); /* unlocks */
    for (size_t i = 0; i < c->n; i++) {
        wm_sys.CloseHandle(c->h[i]);
        InterlockedDecrement(&pending_closes);
    }
}

void wm_await_deferred_closes(void)
{
    while (pending_closes)
        SwitchToThread();
}

void wm_backing_release(struct wm_backing *b)
{
    if (b->priv || --b->refs > 0)
        return;
    if (b->section)
        close_handle(b->section);
    if (b->file)
        close_handle(b->file);
    if (b->origin) {
        wm_backing_release(b->origin->file);
        free(b->origin);
    }
    free(b);
}

struct wm_maparg wm_backing_maparg(const struct wm_backing *b, uint64_t offset)
{
    return (struct wm_maparg){b->section, offset, wm_backing_access(b), b->priv && b->reserve_only};
}

DWORD wm_backing_access(const struct wm_backing *b)
{
    DWORD a = b->cow ? FILE_MAP_COPY : b->writable ? FILE_MAP_WRITE : FILE_MAP_READ;
    return b->exec ? a | FILE_MAP_EXECUTE : a;
}
