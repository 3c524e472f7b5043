/* The region table: one record per page range the library manages, ordered by
 * address.  It knows nothing about Windows (it compiles and is unit-tested
 * natively); what a region's backing and view mean is the engine's business.
 * Callers serialise access to a table (see wm_lock in internal.h): lookups may
 * run side by side, changes need the table to themselves.
 *
 * Records come from a pool owned by the table code (wm_region_alloc) and keep
 * their address for as long as they live, so the engine may hold a pointer to
 * one across inserts, splits and removals of others.  The index over them is
 * a B+tree whose leaves name records by a 32-bit pool number rather than a
 * pointer (see region.c for why).  A pool holds heap memory only while it has
 * records: once every table of it is empty, all of it is given back. */
#ifndef WM_REGION_H
#define WM_REGION_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

struct wm_backing;
struct wm_node;

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

/* The region's attributes and one link of the table's (in what would be
 * padding on 64-bit).  A record may be copied whole (*x = *r) into one not
 * yet inserted: inserting sets the link.  start must not change while the
 * record is in a table (it is the index's key); end may, as long as regions
 * do not overlap. */
struct wm_region {
    uintptr_t start, end;       /* [start, end), page aligned */
    uint64_t offset;            /* byte offset of start within the backing */
    struct wm_backing *backing; /* reference counted by the engine */
    uintptr_t vstart, vend;     /* the Windows view (or reservation) holding it */
    uint16_t flags;             /* WM_R_* */
    uint8_t prot;               /* PROT_* */
    uint8_t advice;             /* MADV_* (NORMAL/RANDOM/SEQUENTIAL) */
    uint32_t next;              /* the table's: pool number of the next region, 0 for none */
};

/* Called when a split duplicates a region, so the engine can take another
 * reference on the backing; may be NULL. */
typedef void (*wm_region_dup_fn)(struct wm_region *copy);

/* Zero-initialised is an empty table.  Set small (before the first insert)
 * for a table that stays small and may outlive every mapping, such as a
 * cache of the placement code's: its records come from a pool of their own,
 * in chunks of a few, so that they neither keep the chunks of the big table
 * alive when it empties nor hold a big chunk for a handful of entries. */
struct wm_region_table {
    struct wm_node *root;   /* NULL when empty */
    size_t count;
    wm_region_dup_fn on_dup;
    uintptr_t last[2];      /* starts of the two regions inserted last: how a split is made */
    unsigned height;        /* levels of the tree, 1 when the root is a leaf */
    int small;              /* records from the pool for small tables */
    /* The region the last lookup found, tried first by the next (faults and
     * msync come back to the same region); written by lookups, which may
     * run side by side, hence atomic. */
    _Atomic(struct wm_region *) hint;
};

/* A zeroed record from the pool of t (to be inserted into t or another table
 * of the same pool), or NULL when out of memory.  Allocating also sets aside
 * the index nodes its insertion may need, which is why wm_region_insert cannot
 * fail. */
struct wm_region *wm_region_alloc(const struct wm_region_table *t);
/* Return r (not in any table; NULL is ignored) to the pool. */
void wm_region_dispose(struct wm_region *r);

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

/* Insert r (which must not overlap any region).  The table owns r afterwards.
 * r must come from wm_region_alloc and not have been in a table before: the
 * nodes set aside for it are what makes this unable to fail. */
void wm_region_insert(struct wm_region_table *t, struct wm_region *r);
/* Unlink r from the table; the caller disposes of it. */
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
 * page; for the tree: node fill, separators equal to the first start of the
 * subtree on their right, every leaf at the same depth, records live in the
 * pool, count).  Returns 0 if sound, else a short description. */
const char *wm_region_check(const struct wm_region_table *t, size_t page);

/* What a pool holds, for tests and the bench: heap blocks and their bytes
 * (the heap's own per-block overhead not included).  t names the pool (that
 * of t); NULL sums both. */
struct wm_region_pool_stats {
    size_t live;          /* records allocated */
    size_t pending;       /* of which not yet inserted */
    size_t chunks;        /* record chunks */
    size_t leaves, inners; /* index nodes, in tables or set aside */
    size_t free_leaves, free_inners;
    size_t unplanned;     /* nodes an insert found not set aside: 0 unless a record was inserted twice */
    size_t blocks, bytes; /* every heap block the pool holds, and their size */
};
void wm_region_pool_stats(const struct wm_region_table *t, struct wm_region_pool_stats *s);

#endif
