/* Shared declarations of the Windows engine.  Every wm_ function that can fail
 * returns 0 or a POSIX errno value; Win32 errors become errno values only in
 * wm_errno_from_win32() (errno.c). */
#ifndef WM_INTERNAL_H
#define WM_INTERNAL_H

#include <stdbool.h>
#include <stdio.h>
#include <stdint.h>
#include <sys/mman.h>

#include "region.h"
#include "sys.h"

/* v rounded up to a multiple of page (a power of two). */
static inline size_t wm_round_up(size_t v, size_t page)
{
    return (v + page - 1) & ~(page - 1);
}

/* ---- errno.c ---- */
int wm_errno_from_win32(DWORD err);
/* wm_errno_from_win32(GetLastError()) */
int wm_last_errno(void);
/* wm_last_errno for a failed fixed reservation: EEXIST when Windows says
 * the range is not free. */
int wm_taken_errno(void);
/* The POSIX result of a call that failed with err (0: success): 0, or -1
 * with errno set. */
int wm_status(int err);

/* ---- backing.c: what the bytes of a range come from ---- */
enum { WM_B_ANON, WM_B_FILE };

struct wm_backing {
    HANDLE section;     /* NULL when the file part is empty (all past EOF), and for priv */
    /* The file: our own handle, made when first needed (wm_backing_file_handle);
     * until then the descriptor's handle, borrowed, and the file's index to
     * tell whether that handle still names the file.  NULL for anonymous. */
    HANDLE file, borrowed;
    uint64_t index;
    uint64_t size;      /* bytes the section covers (file: its size at creation) */
    /* Only for the anonymous copy of a private file view: where its bytes
     * came from (kept apart: few backings need it). */
    struct wm_origin *origin;
    int32_t refs;               /* regions using it */
    uint8_t kind : 1;           /* WM_B_* */
    uint8_t writable : 1;       /* section allows shared writes */
    uint8_t cow : 1;            /* file section mapped copy-on-write (MAP_PRIVATE) */
    uint8_t exec : 1;           /* section allows execute */
    uint8_t reserve_only : 1;   /* SEC_RESERVE: pages are committed on demand */
    uint8_t match : 1;          /* scratch: maps the file being truncated (file_size.c) */
    /* Private anonymous memory with no section (VirtualAlloc): its bytes
     * live in the view itself and are lost when it is unmapped, so the
     * engine turns it into a section view before it splits or moves it
     * (wm_materialize_view). */
    uint8_t priv : 1;
};

/* The file a copied private view came from (wm_materialize_view), so its
 * pages can still revert to the file (MADV_DONTNEED) or be remapped. */
struct wm_origin {
    struct wm_backing *file; /* held by reference */
    uint64_t offset;         /* file offset of the copy's byte 0 */
};

/* An anonymous (pagefile) section of size bytes.  reserve_only when nothing
 * should be committed yet (PROT_NONE, MAP_NORESERVE). */
int wm_backing_anon(uint64_t size, bool reserve_only, struct wm_backing **out);
/* The most bytes of private memory a split copies aside (view.c).  Private
 * anonymous memory holding more is copied into a section once instead,
 * reading every page; so an accessible private anonymous mapping larger
 * than this is a section from the start, and splitting it never copies. */
#define WM_PRIVATE_MAX ((size_t)4 << 20)
/* Backing for new private anonymous memory of size bytes and protection
 * prot: private memory without a section (priv; only reserved while
 * PROT_NONE) unless it is accessible and larger than WM_PRIVATE_MAX. */
int wm_backing_private_anon(uint64_t size, int prot, struct wm_backing **out);
/* A section over the file behind handle h, for a mapping of the given kind. */
int wm_backing_file(HANDLE h, bool shared, int prot, struct wm_backing **out);
/* A backing over handles this process already owns (a fork child's), with
 * the kind and access bits of like. */
int wm_backing_adopt(HANDLE section, HANDLE file, uint64_t size, const struct wm_backing *like,
                     struct wm_backing **out);
/* Replace b's section by one of the file's current size (none if empty);
 * views of the old section stay valid. */
int wm_backing_reopen(struct wm_backing *b);
/* The identity of the file behind b (volume serial, file index).  Queried
 * when needed (truncation, mremap), not kept: it costs Wine ~190 us and
 * every mapping 16 bytes more. */
int wm_backing_identity(struct wm_backing *b, uint32_t *volume, uint64_t *index);
/* The file backing behind region r and the file offset of r->start, for a
 * file mapping or a private copy of one; NULL for anonymous memory. */
struct wm_backing *wm_region_file(const struct wm_region *r, uint64_t *off);
/* b's file as a handle of ours (NULL with GetLastError set when the file
 * cannot be reached: its descriptor closed and the file renamed or deleted
 * since).  With the engine lock held, shared or exclusive. */
HANDLE wm_backing_file_handle(struct wm_backing *b);
/* Whether handle h was opened with every access right in need (FILE_*_DATA).
 * True when that cannot be asked (no NtQueryObject): Windows refuses later. */
bool wm_handle_allows(HANDLE h, ACCESS_MASK need);
void wm_backing_hold(struct wm_backing *b);
void wm_backing_release(struct wm_backing *b);
/* With the engine lock held exclusively: handles released from now on are
 * collected in c, and wm_close_deferred unlocks and then closes them
 * (munmap: other threads go on meanwhile). */
struct wm_closer {
    size_t n;
    HANDLE h[32];
    /* With views set (munmap): whole views removed from the table (of a
     * section, or private memory) are unmapped after unlocking too, their
     * range busy meanwhile. */
    bool views;
    size_t nv;
    struct {
        uintptr_t start, end;
        bool priv;
    } v[8];
};
void wm_defer_closing(struct wm_closer *c);
void wm_close_deferred(struct wm_closer *c);
/* Whether the view [start, end) (priv: of private memory), out of the
 * table now, is left to wm_close_deferred to unmap. */
bool wm_defer_unmap(uintptr_t start, uintptr_t end, bool priv);
/* How many such unmap calls have been let go and not yet returned: counted
 * up under the lock, so a thread holding it that waits for 0 waits for
 * those calls only (place_exact.c, plug_below). */
extern volatile LONG wm_unmaps_under_way;
/* Around letting go of the lock in the middle of a call that defers
 * closing: the collector is the lock holder's. */
struct wm_closer *wm_suspend_closing(void);
void wm_resume_closing(struct wm_closer *c);
/* Wait until every deferred handle of every thread is closed: Windows and
 * Wine refuse to shrink a file while a section of it exists (ftruncate). */
void wm_await_deferred_closes(void);
/* FILE_MAP_* access for a view of b. */
DWORD wm_backing_access(const struct wm_backing *b);

/* ---- place_*.c: how views and reservations are put in the address space ---- */
/* What a view shows: a section from offset, or (section NULL) fresh private
 * memory, read-write, or only reserved when reserve_only. */
struct wm_maparg {
    HANDLE section;
    uint64_t offset;
    DWORD access; /* FILE_MAP_* */
    bool reserve_only;
};
/* The maparg for a view of b from offset. */
struct wm_maparg wm_backing_maparg(const struct wm_backing *b, uint64_t offset);

/* A range is "reserved" (ours, inaccessible) or a "view".  Reserved ranges can
 * be split; views are mapped into and unmapped back to reserved ranges whole. */
struct wm_place {
    const char *name;
    size_t page;
    /* Reserve len bytes: exactly at hint when fixed, else at hint if free or
     * anywhere.  A fixed range found taken by another allocation gives
     * EEXIST (wm_taken_errno), so that callers that replace nothing can say
     * so and the others report ENOMEM. */
    int (*reserve)(uintptr_t hint, size_t len, bool fixed, uintptr_t *out);
    /* Whether [lo, hi), outside the library's regions, can be taken. */
    bool (*available)(uintptr_t lo, uintptr_t hi);
    /* Split the reserved range [addr, addr+len) at addr+at into two. */
    int (*split)(uintptr_t addr, size_t len, size_t at);
    /* Join adjacent reserved ranges that together are [addr, addr+len). */
    int (*join)(uintptr_t addr, size_t len);
    /* Replace the reserved range [addr, addr+len) by a view. */
    int (*map)(uintptr_t addr, size_t len, const struct wm_maparg *m);
    /* Make sure an unmapped range past EOF is reserved (legacy leaves the
     * range of an unmapped view free). */
    int (*ensure_reserved)(uintptr_t addr, size_t len);
    /* Turn the view at [addr, addr+len) back into a reserved range (priv:
     * a view of private memory, whose bytes are lost). */
    int (*unmap)(uintptr_t addr, size_t len, bool priv);
    /* Free a view or a reserved range for good (cannot fail). */
    void (*free_view)(uintptr_t addr, size_t len, bool priv);
    void (*free_reserved)(uintptr_t addr, size_t len);
    /* If addr lies in address space the strategy keeps outside every region
     * (exact: spare placeholders), the end of that range; else 0. */
    uintptr_t (*spare_end)(uintptr_t addr);
    /* Outside every region, from addr: where what one reserve() takes must
     * end (at most e), because reservations made apart cannot be joined. */
    uintptr_t (*reservation_end)(uintptr_t addr, uintptr_t e);
    /* Take over [addr, addr+len), reserved for this process by another
     * (winmmap_fork_call): exact keeps the placeholder as spare, legacy
     * frees it (its mappings take their ranges again one by one). */
    void (*adopt_reserved)(uintptr_t addr, size_t len);
    /* Free [addr, addr+len) of an adopted reservation (legacy; NULL in exact,
     * which adopts whole granules only: see fork.c, join_gaps). */
    void (*release_adopted)(uintptr_t addr, size_t len);
    /* A whole new view anywhere (at hint if free) and free_view, in steps,
     * so that the Win32 calls (a wineserver round trip for a section view
     * under Wine; for private memory, Wine's own lock) run without the
     * engine lock.  claim (locked): take what the view needs (*at: where it
     * will go, 0 if Windows chooses); map_claimed (unlocked): the view, at
     * *out; unclaim (locked): after map_claimed failed, give back what it
     * left in *out (claimed or made; 0: nothing). */
    int (*claim)(uintptr_t hint, size_t len, uintptr_t *at);
    int (*map_claimed)(uintptr_t at, uintptr_t hint, size_t len, const struct wm_maparg *m,
                       uintptr_t *out);
    void (*unclaim)(uintptr_t at, size_t len);
    /* unmap_view (unlocked): the Win32 call, false if it failed; then
     * unmapped (locked) does what free_view does besides. */
    bool (*unmap_view)(uintptr_t addr, size_t len, bool priv);
    void (*unmapped)(uintptr_t addr, size_t len, bool priv, bool ok);
};

extern const struct wm_place wm_place_exact;
extern const struct wm_place wm_place_legacy;

/* ---- engine state (init.c) ---- */
struct wm_engine {
    const struct wm_place *place;
    size_t page;
    struct wm_region_table regions;
    SRWLOCK lock;
    /* Wine (8 and 10) lets a program read and write the uncommitted pages
     * of a SEC_RESERVE view, so there PROT_NONE cannot rest on them. */
    bool reserve_unenforced;
    /* Wine 10's list of free granules can be corrupted by placeholder splits
     * and joins (place_exact.c: plug_below). */
    bool placeholder_free_list_bug;
    uintptr_t max_address; /* the highest address of the user address space */
};
extern struct wm_engine wm_engine;

/* One-time start-up: load Win32 functions, choose the placement strategy. */
void wm_init(void);
void wm_lock_exclusive(void);
void wm_unlock_exclusive(void);
void wm_lock_shared(void);
void wm_unlock_shared(void);
/* True while this thread holds the engine lock (the fault handler must not wait). */
bool wm_lock_held_by_me(void);
/* Busy ranges (init.c): a call marks its range busy with the lock held
 * exclusively, lets go of the lock for its slow Win32 calls, and clears
 * the mark with the lock held again once the result is in the table.  An
 * empty range (lo == hi) is a call whose address Windows has not chosen
 * yet: it holds up only wm_busy_wait_all.  Mark returns false (nothing
 * marked: make the call under the lock) while a thread waits for all. */
struct wm_busy {
    uintptr_t lo, hi;
    struct wm_busy *next;
};
bool wm_busy_mark(struct wm_busy *b, uintptr_t lo, uintptr_t hi);
void wm_busy_clear(struct wm_busy *b);
/* With the lock held (shared or exclusively): whether addr, or anything in
 * [lo, hi), is busy; wait until nothing in [lo, hi) is, or nothing at all. */
bool wm_busy_at(uintptr_t addr);
bool wm_busy_over(uintptr_t lo, uintptr_t hi);
void wm_busy_wait(uintptr_t lo, uintptr_t hi, bool shared);
void wm_busy_wait_all(bool shared);
/* Take the lock for a call on [addr, addr+len) (or on the whole table),
 * once no busy range lies there. */
void wm_lock_range(uintptr_t addr, size_t len);
void wm_lock_range_shared(uintptr_t addr, size_t len);
void wm_lock_all(void);
void wm_lock_all_shared(void);

/* ---- mmap.c: placing views into a range (shared with mremap) ---- */
/* A part of a range being taken: an old view (old: its first region) or a
 * gap (old NULL), each one reservation once taken; mapped: holds a new view. */
struct wm_piece {
    uintptr_t start, end;
    struct wm_region *old;
    bool mapped;
};
/* Take [lo, hi) for new views: each piece becomes a reserved range (old
 * views are unmapped, their regions stay in the table).  ENOMEM if memory
 * the library did not map lies there.  *pc is malloc'd.  Undo with
 * wm_untake_range (which frees pc); once the new views are in place,
 * wm_forget_range drops the old regions. */
int wm_take_range(uintptr_t lo, uintptr_t hi, struct wm_piece **pc, size_t *n);
void wm_untake_range(struct wm_piece *pc, size_t n);
void wm_forget_range(uintptr_t lo, uintptr_t hi);
/* mmap of backing b from offset at exactly [lo, hi) (MAP_FIXED, or
 * MAP_FIXED_NOREPLACE), pages past b's end reserved; rflags are WM_R_*. */
int wm_map_fixed(uintptr_t lo, uintptr_t hi, struct wm_backing *b, uint64_t offset, int prot,
                 uint16_t rflags, bool noreplace);

/* ---- view.c: regions inside Windows views ---- */
struct wm_region *wm_region_new(const struct wm_region_table *t);
void wm_region_free(struct wm_region *r);
/* Byte offset in its backing of the start of the view holding r. */
uint64_t wm_view_offset(const struct wm_region *r);
/* Record [vs, ve) as the view of every region in [lo, hi). */
void wm_set_view(uintptr_t lo, uintptr_t hi, uintptr_t vs, uintptr_t ve);
/* Split the region containing addr at addr (no-op if addr is a region boundary or unmapped). */
int wm_split_region_at(uintptr_t addr);
/* Split the view containing addr at addr, invisibly to POSIX (data and
 * protection preserved); no-op at a view boundary or outside any region. */
int wm_split_view_at(uintptr_t addr);
/* Page protection for prot on backing b. */
DWORD wm_win_prot(const struct wm_backing *b, int prot);
/* Bytes from r->start that Windows has mapped: 0 past EOF, less than the
 * region in the legacy strategy's last 64 KiB page of a file. */
size_t wm_region_mapped_len(const struct wm_region *r);
/* Give [r->start, r->end) its protection (commit on demand where needed). */
int wm_apply_prot(struct wm_region *r);
/* wm_apply_prot for a region in a view just mapped: nothing to do when the
 * view's initial access is the protection wanted. */
int wm_apply_fresh_prot(struct wm_region *r);
/* Apply protections to every region of the view starting at vstart. */
int wm_apply_view_prots(uintptr_t vstart);
/* Whether r's pages are committed (not a reserve-only backing's pages that
 * mprotect never opened): only then can they hold bytes other than zeros. */
bool wm_region_committed(const struct wm_region *r);
/* Whether the view at vstart holds bytes that live in no section: a
 * copy-on-write view that was ever writable, or private memory that holds
 * committed pages. */
bool wm_view_has_private_pages(uintptr_t vstart);
/* Map the whole view holding r back into its (reserved or free) range, with
 * its regions' protections: the undo step after a failed split or replace. */
void wm_restore_view(const struct wm_region *r);
/* Replace a view whose bytes live in no section (wm_view_has_private_pages)
 * by a view of an anonymous section holding the same bytes, so it can be
 * split and remapped. */
int wm_materialize_view(uintptr_t vstart);
/* Copy n bytes (whole 4 KiB blocks) into dst, which holds zeros, leaving
 * out blocks that are all zeros: each page written there is a page
 * committed and faulted in (a 64 KiB legacy page with one byte written
 * costs a sixteenth).  Returns the length of the prefix that holds every
 * block copied (0: all zeros). */
size_t wm_copy_nonzero(unsigned char *dst, const unsigned char *src, size_t n);
/* Remove every region in [lo, hi) (which must start and end on view
 * boundaries) and free the views and backings left unused. */
void wm_remove_range(uintptr_t lo, uintptr_t hi);
/* Make [lo, hi) start and end on view boundaries. */
int wm_isolate_range(uintptr_t lo, uintptr_t hi);

/* ---- range.c: the page range a POSIX call names ---- */
/* Whether every page of [lo, hi) belongs to some region. */
int wm_range_fully_mapped(uintptr_t lo, uintptr_t hi);
/* For calls on mapped memory (mprotect, msync, madvise, mlock, mincore):
 * *hi = lo + len rounded up to pages; EINVAL if lo is not page aligned,
 * ENOMEM if the range wraps or any page of it is free (pages outside the
 * library's regions count as mapped when Windows has them: foreign.c).  len 0 gives
 * *hi == lo and success.  Call with the engine lock held. */
int wm_range_bounds(uintptr_t lo, size_t len, uintptr_t *hi);
/* Split regions so that lo and hi are region boundaries (views stay whole). */
int wm_range_split(uintptr_t lo, uintptr_t hi);
/* Merge the regions in and around [lo, hi) that have become equal. */
void wm_merge_range(uintptr_t lo, uintptr_t hi);

/* ---- foreign.c: pages the library did not map ---- */
/* A run of foreign pages as VirtualQuery describes it. */
struct wm_foreign {
    uintptr_t start, end;
    DWORD state, protect, type; /* MEM_COMMIT or MEM_RESERVE; PAGE_*; MEM_PRIVATE/MAPPED/IMAGE */
};
/* Whether every page of [lo, hi) outside the library's regions is committed
 * or reserved (a "mapped" page in POSIX terms). */
bool wm_foreign_covers_gaps(uintptr_t lo, uintptr_t hi);
/* The foreign pages of [lo, hi) in address order (*out is malloc'd, NULL
 * when there are none); ENOMEM if any of them is free. */
int wm_foreign_list(uintptr_t lo, uintptr_t hi, struct wm_foreign **out, size_t *n);
/* Each call acts on every entry or, failing, on none. */
int wm_foreign_protect(const struct wm_foreign *list, size_t n, int prot);
void wm_foreign_unprotect(const struct wm_foreign *list, size_t n);
int wm_foreign_lock(const struct wm_foreign *list, size_t n, int (*lock)(void *, size_t));
void wm_foreign_unlock(const struct wm_foreign *list, size_t n);
int wm_foreign_sync(const struct wm_foreign *list, size_t n);
/* MADV_DONTNEED: _begin makes the private pages writable (the step that can
 * fail); _end zeros them when reset and puts their protection back. */
int wm_foreign_dontneed_begin(const struct wm_foreign *list, size_t n);
void wm_foreign_dontneed_end(const struct wm_foreign *list, size_t n, bool reset);
/* True if every entry is private memory (heap, stacks, VirtualAlloc). */
bool wm_foreign_all_private(const struct wm_foreign *list, size_t n);

/* ---- lock.c ---- */
/* Lock the new mapping [lo, hi) if MAP_LOCKED or mlockall(MCL_FUTURE) asks. */
void wm_lock_new_mapping(uintptr_t lo, uintptr_t hi, bool map_locked);

/* ---- fork.c ---- */
/* How many children winmmap_fork_call starts before it gives up with
 * EAGAIN when a child's own start-up took an address it must inherit
 * (3; tests set 1 to see a single conflict fail). */
extern int wm_fork_attempts;

/* ---- wait.c: the children of winmmap_fork_call ---- */
int wm_wait_register(HANDLE process, DWORD pid);
void wm_wait_forget(DWORD pid);

/* ---- audit.c ---- */
/* NULL when the region table is sound and agrees with VirtualQuery, else a
 * description of the first disagreement (static storage). */
const char *wm_audit(void);
/* Print the region table with what VirtualQuery says of each region. */
void wm_dump(FILE *out);

/* ---- fault.c ---- */
/* Install the vectored exception handler (from wm_init). */
void wm_fault_init(void);

/* ---- file_size.c: mapped files that change size ---- */
/* Called by the fault handler for an access at addr inside a range past end
 * of file: if the file has grown since (write, ftruncate), map the pages of
 * that mapping the file now covers and return true so the access is retried;
 * false means the page is still past EOF (SIGBUS).  Takes the engine lock. */
bool wm_resolve_past_eof(uintptr_t addr);
/* Before making a file's section without the engine lock: false when a
 * truncation is under way (then make it under the lock).  After true, call
 * wm_file_section_end with the lock held once a region holds the section or
 * it has been released. */
bool wm_file_section_begin(void);
void wm_file_section_end(void);

#endif
