/* winmmap_fork_call on Windows: a child process of the same program that
 * inherits the mappings by fork's rules, at the same addresses.
 *
 * The parent, under the engine lock: starts the program again, suspended,
 * with the address of a description block on its command line; reserves
 * every inherited range in it, so that its loader and heap leave them alone,
 * and lets it start up (its loader and C runtime run meanwhile, on the other
 * core) up to winmmap_fork_child_start, where it waits for the block.  Then
 * gives it sections (DuplicateHandle): MAP_SHARED ranges their own (and the
 * file), MAP_PRIVATE ranges a piece of one anonymous section holding a copy
 * of their bytes as they are now (MADV_WIPEONFORK: zeros; MADV_DONTFORK ranges are
 * left out); writes the block (the ranges, fn, arg) into it and tells it to
 * go.  Until then any failure ends the child and changes nothing here.
 *
 * The child, before main (winmmap_fork_child_start): takes over the
 * reservations (the exact strategy keeps its placeholders, so no other
 * allocation can slip in) and maps each range through its own engine, so
 * that munmap, mprotect and the rest work there too (a private range is
 * private memory filled from the copies); then runs fn on its copy of arg and exits with
 * fn's result.  Function addresses are translated by the distance between
 * the two processes' image bases. */
#include "internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <wchar.h>
#include <winmmap.h>

#define MARK L"--winmmap-fork-child="
#define MAGIC 0x6b726f66u /* "fork" */
#define GRAN 65536u
/* Free gaps up to this size between inherited ranges are reserved in the
 * child with them (see join_gaps). */
#define JOIN_GAP ((uintptr_t)1 << 20)

/* One inherited range, as the child maps it. */
struct entry {
    uintptr_t start, end;
    uint64_t offset, size; /* in the section; the section's size (a private
                              copy: where it is in the copies, its length) */
    HANDLE section, file;  /* handle values in the child; section NULL: past EOF */
    uint16_t rflags;       /* WM_R_SHARED, WM_R_ANON, WM_R_WIPEONFORK; WM_R_DONTFORK: absent */
    uint8_t prot, advice;
    struct wm_backing like; /* kind and access bits only */
    bool joined;            /* reserved with the entry before, across the free gap between them */
};

struct block {
    uint32_t magic, n;
    HANDLE go, parent;   /* in the child: set when the block is written; the parent */
    uintptr_t fn_offset; /* fn minus the program's image base */
    size_t arg_size, size;
    HANDLE copies;        /* in the child: the section of every private copy */
    uint64_t copies_size; /* the copies one after the other, 4 KiB-aligned */
    char strategy[16];
    struct entry e[];    /* then the arg bytes */
};

static unsigned char *arg_bytes(struct block *b)
{
    return (unsigned char *)&b->e[b->n];
}

/* The reservations that keep the child's ranges free until it maps them,
 * one per run of touching ranges (each cross-process reservation costs Wine
 * a round trip through the child, ~0.3 ms): exact, runs of whole 64 KiB
 * granules (placeholders, split later); legacy, runs of adjacent ranges
 * (split again in the child as its mappings take them).  The next one from
 * entry *i: [*lo, *hi). */
static bool next_reservation(const struct block *blk, bool exact, uint32_t *i, uintptr_t *lo, uintptr_t *hi)
{
    if (*i >= blk->n)
        return false;
    *lo = blk->e[*i].start;
    *hi = blk->e[*i].end;
    (*i)++;
    const uintptr_t mask = exact ? GRAN - 1 : 0;
    *lo &= ~mask;
    *hi = (*hi + mask) & ~mask;
    for (; *i < blk->n && ((blk->e[*i].start & ~mask) <= *hi || blk->e[*i].joined); (*i)++)
        *hi = (blk->e[*i].end + mask) & ~mask;
    return true;
}

/* Under the legacy strategy the runs join across small gaps that are free
 * here: Wine 10 leaves 64 KiB between views it places, so 1 000 shared
 * mappings made 668 runs, and the cross-process reservations took half of
 * the fork.  The child frees the gaps once its ranges are mapped. */
static void join_gaps(struct block *blk)
{
    if (!wm_engine.place->release_adopted)
        return; /* exact: runs are whole granules already, kept as spare */
    for (uint32_t i = 1; i < blk->n; i++) {
        uintptr_t lo = blk->e[i - 1].end, hi = blk->e[i].start;
        MEMORY_BASIC_INFORMATION mi;
        blk->e[i].joined = lo < hi && hi - lo <= JOIN_GAP && wm_sys.VirtualQuery((void *)lo, &mi, sizeof mi) &&
                           mi.State == MEM_FREE && (uintptr_t)mi.BaseAddress + mi.RegionSize >= hi;
    }
}

/* ---- the parent ---- */

struct child {
    PROCESS_INFORMATION pi;
    bool started;
    HANDLE go;             /* set when the child may read its block */
    unsigned char *copies; /* a view of the private copies' section */
    uint64_t next;         /* where the next copy goes in it */
};

static int dup_into(const struct child *c, HANDLE h, HANDLE *out)
{
    *out = NULL;
    if (!h)
        return 0;
    if (!wm_sys.DuplicateHandle(GetCurrentProcess(), h, c->pi.hProcess, out, 0, FALSE,
                                DUPLICATE_SAME_ACCESS))
        return wm_last_errno();
    return 0;
}

/* The private copies share one section: one section and one handle for the
 * child instead of one per range (each a wineserver round trip or more).
 * Each copy takes only the prefix of its range that is not zeros, packed
 * after the previous one: the child reads few and adjacent pages (page
 * faults on a section's pages cost 15-30 us each under Wine; reads of
 * adjacent ones are mapped several at a time).  The section's size is the
 * most the copies can take. */
static uint64_t copy_slot(const struct wm_region *r)
{
    return ((uint64_t)(r->end - r->start) + 4095) / 4096 * 4096;
}

static bool is_private_copy(const struct wm_region *r)
{
    return !(r->flags & (WM_R_DONTFORK | WM_R_PAST_EOF | WM_R_SHARED));
}

/* The bytes of private region r, copied to offset c->next of the copies'
 * section; *used: how many the child copies back.  Unreadable anonymous pages
 * are read through their own section, or, private memory having none, made
 * readable for the copy. */
static int copy_private(struct child *c, const struct wm_region *r, uint64_t *used)
{
    size_t n = wm_region_mapped_len(r);
    unsigned char *dst = c->copies + c->next;
    const struct wm_backing *b = r->backing;
    *used = 0;
    if (!n || (r->flags & WM_R_WIPEONFORK) || !wm_region_committed(r))
        return 0; /* zeros */
    const unsigned char *src = (const unsigned char *)r->start;
    void *tmp = NULL;
    DWORD old;
    if (b->priv && r->prot == PROT_NONE) {
        /* No section to read through: the pages are readable for the copy
         * (another thread touching them meanwhile is not stopped). */
        if (!wm_sys.VirtualProtect((void *)r->start, n, PAGE_READONLY, &old))
            return wm_last_errno();
        *used = wm_copy_nonzero(dst, src, n);
        VirtualProtect((void *)r->start, n, old, &old);
        return 0;
    }
    if (!(r->prot & PROT_READ) && !b->priv) {
        if (b->cow)
            return EACCES; /* an unreadable private file view: no other way in */
        /* Anonymous memory: its own section holds the bytes. */
        uint64_t off = r->offset, base = off & ~(uint64_t)(GRAN - 1);
        tmp = wm_sys.MapViewOfFileEx(b->section, FILE_MAP_READ, (DWORD)(base >> 32), (DWORD)base,
                                     (SIZE_T)(off - base + n), NULL);
        if (!tmp)
            return wm_last_errno();
        src = (const unsigned char *)tmp + (off - base);
    }
    *used = wm_copy_nonzero(dst, src, n);
    if (tmp)
        wm_sys.UnmapViewOfFile(tmp);
    return 0;
}

/* The copies' section for every private range, mapped here and duplicated
 * into the child (blk->copies). */
static int open_copies(struct child *c, struct block *blk)
{
    uint64_t total = 0;
    for (struct wm_region *r = wm_region_first_from(&wm_engine.regions, 0); r;
         r = wm_region_next(&wm_engine.regions, r))
        if (is_private_copy(r))
            total += copy_slot(r);
    blk->copies_size = total;
    if (!total)
        return 0;
    HANDLE s = wm_sys.CreateFileMappingW(INVALID_HANDLE_VALUE, NULL, PAGE_EXECUTE_READWRITE | SEC_COMMIT,
                                         (DWORD)(total >> 32), (DWORD)total, NULL);
    if (!s)
        return wm_last_errno();
    int err = 0;
    if (!(c->copies = wm_sys.MapViewOfFileEx(s, FILE_MAP_WRITE, 0, 0, (SIZE_T)total, NULL)))
        err = wm_last_errno();
    if (!err)
        err = dup_into(c, s, &blk->copies);
    wm_sys.CloseHandle(s); /* the view and the child's handle keep it */
    return err;
}

/* What the child needs to map region r (e->joined is kept). */
static int describe(struct child *c, const struct wm_region *r, struct entry *e)
{
    struct wm_backing *b = r->backing;
    if (r->flags & WM_R_DONTFORK) {
        /* Absent in the child, but reserved there like the rest until it
         * runs: its start-up must not put memory of its own there. */
        *e = (struct entry){.start = r->start, .end = r->end, .rflags = WM_R_DONTFORK, .joined = e->joined};
        return 0;
    }
    *e = (struct entry){r->start, r->end, r->offset, b->size, NULL, NULL,
                        (uint16_t)(r->flags & (WM_R_SHARED | WM_R_ANON | WM_R_WIPEONFORK)),
                        r->prot, r->advice, {0}, e->joined};
    e->like.kind = b->kind;
    e->like.writable = b->writable;
    e->like.cow = b->cow;
    e->like.exec = b->exec;
    int err;
    if (r->flags & WM_R_PAST_EOF) {
        /* Reserved in the child too; the file, should it grow (none when
         * it cannot be reached: the child's pages past its end stay so). */
        e->size = 0;
        return dup_into(c, wm_backing_file_handle(b), &e->file);
    }
    if (r->flags & WM_R_SHARED) {
        if ((err = dup_into(c, b->section, &e->section)))
            return err;
        return dup_into(c, wm_backing_file_handle(b), &e->file);
    }
    /* A private copy: private memory in the child, filled from a piece of
     * the copies' section. */
    e->offset = c->next;
    e->rflags |= WM_R_ANON;
    e->like = (struct wm_backing){.kind = WM_B_ANON, .writable = 1, .exec = 1};
    err = copy_private(c, r, &e->size);
    c->next += (e->size + 4095) / 4096 * 4096;
    return err;
}

/* Reserve the child's copy of every range; taken already there: EAGAIN. */
static int reserve_in_child(const struct child *c, struct block *blk)
{
    bool exact = wm_engine.place == &wm_place_exact;
    uintptr_t lo, hi;
    for (uint32_t i = 0, from = 0; next_reservation(blk, exact, &i, &lo, &hi); from = i) {
        void *got = exact ? wm_sys.VirtualAlloc2(c->pi.hProcess, (void *)lo, hi - lo,
                                                 MEM_RESERVE | MEM_RESERVE_PLACEHOLDER, PAGE_NOACCESS, NULL, 0)
                          : wm_sys.VirtualAllocEx(c->pi.hProcess, (void *)lo, hi - lo, MEM_RESERVE,
                                                  PAGE_NOACCESS);
        if (got)
            continue;
        if (GetLastError() != ERROR_INVALID_ADDRESS)
            return wm_last_errno();
        /* The child's own memory may lie in a joined gap: the run again,
         * in parts without the gaps. */
        bool parted = false;
        for (uint32_t j = from + 1; j < i; j++)
            if (blk->e[j].joined)
                blk->e[j].joined = false, parted = true;
        if (!parted)
            return EAGAIN;
        i = from;
    }
    return 0;
}

/* Start the child suspended, with the block's address on its command line. */
static int start_child(struct child *c, struct block *blk)
{
    WCHAR exe[MAX_PATH];
    DWORD n = wm_sys.GetModuleFileNameW(NULL, exe, MAX_PATH);
    if (!n || n >= MAX_PATH)
        return n ? ENAMETOOLONG : wm_last_errno();
    WCHAR cmd[MAX_PATH + 64];
    swprintf(cmd, sizeof cmd / sizeof cmd[0], L"\"%ls\" " MARK L"%llx", exe,
             (unsigned long long)(uintptr_t)blk);
    STARTUPINFOW si = {.cb = sizeof si};
    /* Inheritable handles go to the child, as descriptors do with fork. */
    if (!wm_sys.CreateProcessW(exe, cmd, NULL, NULL, TRUE, CREATE_SUSPENDED, NULL, NULL, &si, &c->pi))
        return wm_last_errno();
    c->started = true;
    return 0;
}

static int do_fork(int (*fn)(void *), const void *arg, size_t arg_size, pid_t *pid)
{
    size_t n = 0;
    for (struct wm_region *r = wm_region_first_from(&wm_engine.regions, 0); r;
         r = wm_region_next(&wm_engine.regions, r))
        n++;
    size_t size = sizeof(struct block) + n * sizeof(struct entry) + arg_size;
    struct block *blk = wm_sys.VirtualAlloc(NULL, size, MEM_RESERVE | MEM_COMMIT, PAGE_READWRITE);
    if (!blk)
        return wm_last_errno();
    *blk = (struct block){.magic = MAGIC, .n = (uint32_t)n,
                          .fn_offset = (uintptr_t)fn - (uintptr_t)GetModuleHandleW(NULL),
                          .arg_size = arg_size, .size = size};
    strncpy(blk->strategy, wm_engine.place->name, sizeof blk->strategy - 1);
    memcpy(arg_bytes(blk), arg, arg_size);
    /* The ranges first: the reservations need only where they are. */
    size_t i = 0;
    for (struct wm_region *r = wm_region_first_from(&wm_engine.regions, 0); r;
         r = wm_region_next(&wm_engine.regions, r))
        blk->e[i++] = (struct entry){.start = r->start, .end = r->end};
    join_gaps(blk);
    struct child c = {0};
    int err = start_child(&c, blk);
    if (!err)
        err = reserve_in_child(&c, blk);
    /* The block at the same address in the child; its header now, with the
     * handles it waits on, the rest when it is written. */
    if (!err && wm_sys.VirtualAllocEx(c.pi.hProcess, blk, size, MEM_RESERVE | MEM_COMMIT, PAGE_READWRITE) !=
                    blk)
        err = GetLastError() == ERROR_INVALID_ADDRESS ? EAGAIN : wm_last_errno();
    if (!err && !(c.go = wm_sys.CreateEventW(NULL, TRUE, FALSE, NULL)))
        err = wm_last_errno();
    if (!err)
        err = dup_into(&c, c.go, &blk->go);
    /* Only to wait on: SYNCHRONIZE, not the pseudo-handle's full access. */
    if (!err && !wm_sys.DuplicateHandle(GetCurrentProcess(), GetCurrentProcess(), c.pi.hProcess, &blk->parent,
                                        SYNCHRONIZE, FALSE, 0))
        err = wm_last_errno();
    if (!err && !wm_sys.WriteProcessMemory(c.pi.hProcess, blk, blk, sizeof *blk, NULL))
        err = wm_last_errno();
    if (!err && wm_sys.ResumeThread(c.pi.hThread) == (DWORD)-1)
        err = wm_last_errno();
    if (!err)
        err = open_copies(&c, blk);
    i = 0;
    for (struct wm_region *r = wm_region_first_from(&wm_engine.regions, 0); !err && r;
         r = wm_region_next(&wm_engine.regions, r))
        err = describe(&c, r, &blk->e[i++]);
    if (!err && !wm_sys.WriteProcessMemory(c.pi.hProcess, blk, blk, size, NULL))
        err = wm_last_errno();
    if (!err)
        err = wm_wait_register(c.pi.hProcess, c.pi.dwProcessId);
    if (!err && !wm_sys.SetEvent(c.go)) {
        err = wm_last_errno();
        wm_wait_forget(c.pi.dwProcessId);
    }
    if (err && c.started && c.pi.hProcess) {
        /* Handles given to it die with it. */
        wm_sys.TerminateProcess(c.pi.hProcess, 127);
        WaitForSingleObject(c.pi.hProcess, INFINITE);
        wm_sys.CloseHandle(c.pi.hProcess);
    }
    if (c.copies)
        wm_sys.UnmapViewOfFile(c.copies);
    if (c.go)
        wm_sys.CloseHandle(c.go);
    if (c.started)
        wm_sys.CloseHandle(c.pi.hThread);
    if (!err)
        *pid = (pid_t)c.pi.dwProcessId;
    VirtualFree(blk, 0, MEM_RELEASE);
    return err;
}

int wm_fork_attempts = 3;

pid_t winmmap_fork_call(int (*fn)(void *arg), const void *arg, size_t arg_size)
{
    wm_init();
    if (!fn || (arg_size && !arg)) {
        errno = EINVAL;
        return -1;
    }
    pid_t pid = -1;
    /* Exclusive: the layout and the private bytes are those of one moment,
     * with no range half made (busy). */
    wm_lock_all();
    int err;
    /* EAGAIN: the child's loader or heap took an address it must inherit.
     * That is chance (seen under Wine 10 about once in a few hundred
     * children with 1 000 mappings): another child lays out differently. */
    for (int attempt = 1;; attempt++) {
        err = do_fork(fn, arg, arg_size, &pid);
        if (err != EAGAIN || attempt >= wm_fork_attempts)
            break;
    }
    wm_unlock_exclusive();
    if (err) {
        errno = err;
        return -1;
    }
    return pid;
}

/* ---- the child ---- */

static void fail(const char *what, int err)
{
    fprintf(stderr, "winmmap: fork child: %s: %s\n", what, strerror(err));
    _exit(127);
}

static bool is_copy(const struct entry *e)
{
    return (e->rflags & WM_R_ANON) && !(e->rflags & WM_R_SHARED);
}

/* Give the regions of [e->start, e->end) the entry's advice, wipe-on-fork
 * mark and, when mapped readable and writable for a copy, its protection. */
static void finish_entry(const struct entry *e, bool copy)
{
    for (struct wm_region *r = wm_region_first_from(&wm_engine.regions, e->start); r && r->start < e->end;
         r = wm_region_next(&wm_engine.regions, r)) {
        r->advice = e->advice;
        r->flags |= e->rflags & WM_R_WIPEONFORK;
        if (copy && r->prot != e->prot) {
            r->prot = e->prot;
            int err = wm_apply_prot(r);
            if (err)
                fail("cannot protect an inherited range", err);
        }
    }
}

/* Map the k adjacent private copies from e: one piece of private memory for
 * all of them (each mapping is a few Win32 calls), filled from their pieces
 * of the copies' section (copies: a view of it here; one view in all, not
 * one per range: each is a wineserver round trip under Wine), then cut at
 * the parent's boundaries, so that the table is the parent's. */
static void map_copies(const struct entry *e, uint32_t k, const unsigned char *copies)
{
    uintptr_t lo = e[0].start, hi = e[k - 1].end;
    struct wm_backing *b;
    int err = wm_backing_private_anon(hi - lo, PROT_READ | PROT_WRITE, &b);
    if (err)
        fail("out of memory", err);
    err = wm_map_fixed(lo, hi, b, 0, PROT_READ | PROT_WRITE, WM_R_ANON, false);
    wm_backing_release(b);
    if (err)
        fail("cannot map an inherited range at its address", err);
    for (uint32_t j = 1; j < k; j++)
        if ((err = wm_split_region_at(e[j].start)))
            fail("out of memory", err);
    for (uint32_t j = 0; j < k; j++)
        if (!(e[j].rflags & WM_R_WIPEONFORK))
            wm_copy_nonzero((unsigned char *)e[j].start, copies + e[j].offset, e[j].size);
    for (uint32_t j = 0; j < k; j++)
        finish_entry(&e[j], true);
}

/* Map entry e, a range of the parent's sections. */
static void map_entry(const struct entry *e)
{
    if (e->rflags & WM_R_DONTFORK)
        return; /* stays the adopted reservation: unmapped, as in a forked child */
    struct wm_backing *b;
    int err = wm_backing_adopt(e->section, e->file, e->size, &e->like, &b);
    if (err)
        fail("out of memory", err);
    err = wm_map_fixed(e->start, e->end, b, e->offset, e->prot, e->rflags & (WM_R_SHARED | WM_R_ANON), false);
    wm_backing_release(b);
    if (err)
        fail("cannot map an inherited range at its address", err);
    finish_entry(e, false);
}

/* Called before main by the hook every file including <winmmap.h> carries
 * (so also when the library is a DLL); only the first call looks. */
void winmmap_fork_child_start(void)
{
    static bool looked;
    if (looked)
        return;
    looked = true;
    const WCHAR *m = wcsstr(GetCommandLineW(), MARK);
    if (!m)
        return;
    struct block *blk = (struct block *)(uintptr_t)wcstoull(m + wcslen(MARK), NULL, 16);
    MEMORY_BASIC_INFORMATION mi;
    if (!VirtualQuery(blk, &mi, sizeof mi) || mi.State != MEM_COMMIT || blk->magic != MAGIC)
        return; /* not a child of winmmap_fork_call after all */
    /* The parent writes the rest of the block meanwhile; should it end
     * first (it ends us when it fails), there is nothing to run. */
    HANDLE wait[2] = {blk->go, blk->parent};
    if (WaitForMultipleObjects(2, wait, FALSE, INFINITE) != WAIT_OBJECT_0)
        fail("the parent ended before the child was set up", ECHILD);
    CloseHandle(blk->go);
    CloseHandle(blk->parent);
    /* The parent's strategy: its page size is the one the ranges follow. */
    char env[40];
    snprintf(env, sizeof env, "WINMMAP_STRATEGY=%s", blk->strategy);
    _putenv(env);
    wm_init();
    if (strcmp(wm_engine.place->name, blk->strategy) != 0)
        fail("the parent's placement strategy is not available", ENOSYS);
    wm_lock_exclusive();
    uintptr_t lo, hi;
    for (uint32_t i = 0; next_reservation(blk, wm_engine.place == &wm_place_exact, &i, &lo, &hi);)
        wm_engine.place->adopt_reserved(lo, hi - lo);
    const unsigned char *copies = NULL;
    if (blk->copies_size &&
        !(copies = MapViewOfFileEx(blk->copies, FILE_MAP_READ, 0, 0, (SIZE_T)blk->copies_size, NULL)))
        fail("cannot map the private copies", wm_last_errno());
    /* Last range first: each then takes the end of its run's reservation,
     * and what is left of the run keeps its 64 KiB-aligned start.  Cut from
     * the front, the rest of a run starts inside its first granule, which
     * by our reading of Wine's ntdll (virtual.c, free_ranges_insert_view)
     * can leave its later granules listed as free when the granule below is
     * free: the child's next allocation anywhere may then land on them and
     * Wine 10 aborts in create_view (seen in the fork bench, 1 000 ranges
     * side by side). */
    for (uint32_t i = blk->n; i-- > 0;) {
        if (!is_copy(&blk->e[i])) {
            map_entry(&blk->e[i]);
            continue;
        }
        uint32_t first = i;
        while (first > 0 && is_copy(&blk->e[first - 1]) && blk->e[first - 1].end == blk->e[first].start)
            first--;
        map_copies(&blk->e[first], i + 1 - first, copies);
        i = first;
    }
    if (copies) {
        UnmapViewOfFile(copies);
        CloseHandle(blk->copies);
    }
    /* The gaps reserved with the ranges are free in the parent. */
    for (uint32_t i = 1; i < blk->n; i++)
        if (blk->e[i].joined)
            wm_engine.place->release_adopted(blk->e[i - 1].end, blk->e[i].start - blk->e[i - 1].end);
    wm_unlock_exclusive();
    void *copy = malloc(blk->arg_size ? blk->arg_size : 1);
    if (!copy)
        fail("out of memory", ENOMEM);
    memcpy(copy, arg_bytes(blk), blk->arg_size);
    int (*fn)(void *) = (int (*)(void *))((uintptr_t)GetModuleHandleW(NULL) + blk->fn_offset);
    VirtualFree(blk, 0, MEM_RELEASE);
    _exit(fn(copy));
}
