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

int wm_backing_file(HANDLE h, bool shared, int prot, struct wm_backing **out)
{
    struct wm_backing *b;
    LARGE_INTEGER size;
    int err = new_backing(&b);
    if (err)
        return err;
    b->kind = WM_B_FILE;
    HANDLE self = GetCurrentProcess();
    /* Our own handle: the caller may close the descriptor right after mmap. */
    if (!wm_sys.DuplicateHandle(self, h, self, &b->file, 0, FALSE, DUPLICATE_SAME_ACCESS)) {
        err = wm_last_errno();
        goto fail;
    }
    /* Only the size, from the caller's handle: Wine has its descriptor
     * cached, not our fresh duplicate's. */
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
        b->section = section(b->file, PAGE_WRITECOPY << x, 0);
    } else {
        /* Read-write when the handle allows it, so a later mprotect can add
         * PROT_WRITE; a section never grows the file because its size is
         * the file's own. */
        b->section = section(b->file, PAGE_READWRITE << x, 0);
        b->writable = b->section != NULL;
        if (!b->section && GetLastError() == ERROR_ACCESS_DENIED && !(prot & PROT_WRITE))
            b->section = section(b->file, PAGE_READONLY << x, 0);
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
    if (!wm_sys.GetFileSizeEx(b->file, &size))
        return wm_last_errno();
    HANDLE s = NULL;
    if (size.QuadPart > 0) {
        DWORD base = b->cow ? PAGE_WRITECOPY : b->writable ? PAGE_READWRITE : PAGE_READONLY;
        if (!(s = section(b->file, base << (b->exec ? 4 : 0), 0)))
            return wm_last_errno();
    }
    if (b->section)
        wm_sys.CloseHandle(b->section);
    b->section = s;
    b->size = (uint64_t)size.QuadPart;
    return 0;
}

int wm_backing_identity(const struct wm_backing *b, uint32_t *volume, uint64_t *index)
{
    BY_HANDLE_FILE_INFORMATION fi;
    if (!wm_sys.GetFileInformationByHandle(b->file, &fi))
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
    closer = c;
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
    wm_unlock_exclusive();
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
