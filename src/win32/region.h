/* The region table: one record per page range the library manages, ordered by
 * address in an AVL tree.  It knows nothing about Windows (it compiles and is
 * unit-tested natively); what a region's backing and view mean is the engine's
 * business.  Callers serialise access (see wm_lock in internal.h). */
#ifndef WM_REGION_H
#define WM_REGION_H

#include <stddef.h>
#include <stdint.h>

struct wm_backing;

/* Region flags (internal, not the public MAP_* values). */
enum {
    WM_R_SHARED = 1u << 0,     /* MAP_SHARED (else private) */
    WM_R_ANON = 1u << 1,       /* no file behind it */
    WM_R_PAST_EOF = 1u << 2,   /* whole pages beyond end of file: access is SIGBUS */
    WM_R_LOCKED = 1u << 3,     /* mlock */
    WM_R_DONTFORK = 1u << 4,   /* MADV_DONTFORK */
    WM_R_WIPEONFORK = 1u << 5, /* MADV_WIPEONFORK */
    WM_R_COMMITTED = 1u << 6,  /* pages of a reserve-only section have been committed */
    WM_R_COW_WRITTEN = 1u << 7, /* copy-on-write view made writable: may hold private pages */
};

struct wm_region {
    uintptr_t start, end;       /* [start, end), page aligned */
    uint64_t offset;            /* byte offset of start within the backing */
    struct wm_backing *backing; /* reference counted by the engine */
    uintptr_t vstart, vend;     /* the Windows view (or reservation) holding it */
    struct wm_region *left, *right;
    uint16_t flags;             /* WM_R_* */
    uint8_t prot;               /* PROT_* */
    uint8_t advice;             /* MADV_* (NORMAL/RANDOM/SEQUENTIAL) */
    int8_t height;              /* AVL */
};

/* Called when a split duplicates a region, so the engine can take another
 * reference on the backing; may be NULL. */
typedef void (*wm_region_dup_fn)(struct wm_region *copy);

struct wm_region_table {
    struct wm_region *root;
    size_t count;
    wm_region_dup_fn on_dup;
};

/* Region containing addr, or NULL. */
struct wm_region *wm_region_find(const struct wm_region_table *t, uintptr_t addr);
/* Lowest region with end > addr (the first one touching [addr, ...)), or NULL. */
struct wm_region *wm_region_first_from(const struct wm_region_table *t, uintptr_t addr);
/* Region following r in address order, or NULL. */
struct wm_region *wm_region_next(const struct wm_region_table *t, const struct wm_region *r);
/* Region preceding r in address order, or NULL. */
struct wm_region *wm_region_prev(const struct wm_region_table *t, const struct wm_region *r);
/* True if any region overlaps [start, end). */
int wm_region_overlaps(const struct wm_region_table *t, uintptr_t start, uintptr_t end);

/* Insert r (which must not overlap any region).  The table owns r afterwards. */
void wm_region_insert(struct wm_region_table *t, struct wm_region *r);
/* Unlink r from the table; the caller frees it. */
void wm_region_remove(struct wm_region_table *t, struct wm_region *r);
/* Split r at addr (start < addr < end): r keeps [start, addr), the returned new
 * region holds [addr, end).  Returns NULL (table unchanged) if out of memory. */
struct wm_region *wm_region_split_at(struct wm_region_table *t, struct wm_region *r, uintptr_t addr);
/* If r and its successor are contiguous in address and backing, with equal
 * attributes and the same view, merge the successor into r.  Returns 1 if merged;
 * the merged-away region is passed to free_fn. */
int wm_region_try_merge_next(struct wm_region_table *t, struct wm_region *r,
                             void (*free_fn)(struct wm_region *));

/* Walk the table and verify its invariants (order, no overlap, alignment to
 * page, AVL balance, count).  Returns 0 if sound, else a short description. */
const char *wm_region_check(const struct wm_region_table *t, size_t page);

#endif
