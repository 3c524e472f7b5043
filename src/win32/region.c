/* The region table (see region.h): records in a pool, indexed by a B+tree.
 *
 * Memory is the constraint that shapes it.  A record is 56 bytes on 64-bit
 * Windows and the target is 64 heap bytes per region, table included, so:
 *
 * - Records live in chunks of BIG_CHUNK, allocated and freed whole, with no
 *   heap header per record; a record never moves, because the engine keeps
 *   pointers to records across changes of the table.
 * - Leaves name records by a 32-bit pool number (chunk index and slot), 4
 *   bytes a region where a pointer would be 8; the chunk directory, an array
 *   that stays in cache, turns a number back into an address.  Leaves hold
 *   no keys (8 more bytes a region): a leaf search reads the starts from the
 *   records.  Inner nodes hold keys, so a lookup reads records only in its
 *   last step.
 * - A full leaf is split where the inserts are going (as the Linux maple tree
 *   does for appends): regions mapped one after another, upwards or downwards,
 *   fill leaves to the brim instead of leaving halves behind.
 *
 * Walks are cheap without a parent pointer: each record links to the next
 * (a pool number in what would be its padding), so wm_region_next does not
 * search.  And each table keeps the region its last lookup found, tried
 * first, as Linux's mm->mmap_cache and FreeBSD's vm_map hint did: a fault or
 * an msync looks up the same region several times, and a run of them often
 * does too, which then costs the same at 100 000 regions as at 1 000.
 *
 * wm_region_insert cannot fail: wm_region_alloc sets aside the nodes that
 * inserting every record not yet inserted could need (see reserve_nodes).
 *
 * Unmapping everything must give the memory back (tests/diff checks the heap
 * after every seed), so a pool keeps nothing that depends on its past: an
 * empty chunk is freed at once, chunk indices are reused lowest first, the
 * free nodes are what the pending records (or, with none pending, one
 * insert) need (settle_nodes), and a pool without records frees its
 * directories and nodes too (pool_release).  A pool's first chunk,
 * directory and a few nodes are static, so small programs and the step
 * between no mapping and one cost no heap.  Small tables that outlive the
 * mappings (the placement code's caches) have a pool of their own, with
 * small chunks, so that they hold on to nothing of the big table's.
 *
 * A pool is shared by the tables of its kind and may be used from any
 * thread, under a spinlock (held for a few dozen instructions).  Lookups take
 * no lock: the directory entries they read were written before the record was
 * inserted, and the caller's own locking orders inserts before lookups. */
#include "region.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/* ---- Sizes ---- */

#define CHUNK_SLOTS 128 /* pool numbers per chunk: index * CHUNK_SLOTS + slot + 1 */
#define BIG_CHUNK 128   /* records in a chunk of the main pool: 7 KiB on 64-bit */
#define SMALL_CHUNK 16  /* and of the pool for small tables: under 1 KiB */
#define MAX_CHUNKS ((uint32_t)1 << 24) /* pool numbers are 32-bit: 2^31 records */
#define LEAF_BYTES 256
#define INNER_BYTES 1024 /* wide, so that 100 000 regions need only three levels */
#define LEAF_CAP ((LEAF_BYTES - 4) / 4)
#define FANOUT ((INNER_BYTES - 8 + sizeof(uintptr_t)) / (sizeof(uintptr_t) + sizeof(void *)))
#define MAX_HEIGHT 32

enum { KIND_LEAF = 0x1eaf, KIND_INNER = 0x1a2e };

struct leaf {
    uint16_t n, kind;
    uint32_t id[LEAF_CAP]; /* pool numbers, in address order */
};

struct inner {
    uint16_t n, kind; /* n: children */
    uintptr_t key[FANOUT - 1]; /* key[i]: the lowest start in child[i + 1] */
    void *child[FANOUT];
};

_Static_assert(sizeof(struct leaf) == LEAF_BYTES, "leaf size");
_Static_assert(sizeof(struct inner) <= INNER_BYTES, "inner size");

struct chunk {
    uint64_t live[CHUNK_SLOTS / 64];    /* slots handed out */
    uint64_t pending[CHUNK_SLOTS / 64]; /* handed out and not inserted yet */
    struct chunk *prev, *next;           /* the list of chunks with a free slot */
    uint32_t index, nlive;
    struct wm_region rec[];              /* the pool's chunk_recs of them */
};

/* ---- The pools ---- */

/* Two pools, each with its own records, nodes and directory: one for the
 * engine's table of mappings, one for small tables (the placement code's
 * caches of placeholders and reservations, which outlive every mapping).
 * Sharing chunks, a few long-lived records of a small table would keep
 * chunks of the big one alive after everything was unmapped.
 *
 * Each pool's first chunk, first directory and chunk list and a few nodes
 * are static: a program with a handful of mappings needs no heap for them,
 * and going from no mapping to one and back allocates and frees nothing.
 * (Under Wine a heap that grows in the middle of a MAP_FIXED can take the
 * very range the call is about to reserve: a program that unmaps everything
 * and maps again at the same place would see ENOMEM.) */
#define FIRST_DIR 64 /* entries of the static directory and chunk list */
#define STATIC_LEAVES 4
#define STATIC_INNERS 8

struct pool_static {
    struct chunk *dir[FIRST_DIR];
    struct chunk *by_addr[FIRST_DIR];
    struct leaf leaves[STATIC_LEAVES];
    struct inner inners[STATIC_INNERS];
};

struct pool {
    unsigned chunk_recs;
    struct chunk *chunk0;     /* the static chunk */
    bool chunk0_used;
    uint64_t static_leaves, static_inners; /* static nodes taken, by bit */
    struct pool_static *st;
    /* Chunks by index, read without the lock by lookups (see the top of
     * the file).  It grows by doubling; the old copies are kept, untouched,
     * since a lookup may still be reading one: at most as much again as the
     * directory.  All go back to the heap when the pool is empty. */
    _Atomic(struct chunk **) dir;
    size_t dir_cap;
    struct chunk **dir_old[32]; /* on the heap; the static one is not listed */
    unsigned ndir_old;
    size_t dir_blocks, dir_bytes; /* the heap's part of them */
    struct chunk *partial;    /* chunks with a free slot */
    struct chunk **by_addr;   /* every chunk, by address: a record's chunk */
    size_t nchunks, cap_by_addr;
    uint32_t next_index;      /* indices in use lie below */
    uint32_t low_free;        /* no index below is free */
    size_t live, pending;
    struct leaf *free_leaves; /* heap nodes, linked through their first bytes */
    struct inner *free_inners;
    size_t nleaves, ninners, nfree_leaves, nfree_inners; /* heap nodes */
    unsigned max_height;      /* the tallest any table of the pool has been */
    size_t unplanned;         /* nodes taken that were not set aside (tests) */
};

_Static_assert(STATIC_LEAVES <= 64 && STATIC_INNERS <= 64, "static node bits");

#define CHUNK_BYTES(recs) (offsetof(struct chunk, rec) + (recs) * sizeof(struct wm_region))
static _Alignas(struct chunk) unsigned char big_chunk0[CHUNK_BYTES(BIG_CHUNK)];
static _Alignas(struct chunk) unsigned char small_chunk0[CHUNK_BYTES(SMALL_CHUNK)];

static struct pool_static statics[2];

static struct pool pools[2] = {
    {.chunk_recs = BIG_CHUNK, .chunk0 = (struct chunk *)(void *)big_chunk0, .st = &statics[0]},
    {.chunk_recs = SMALL_CHUNK, .chunk0 = (struct chunk *)(void *)small_chunk0, .st = &statics[1]},
};

static atomic_flag pool_lock = ATOMIC_FLAG_INIT; /* one for both pools */

static inline struct pool *pool_of(const struct wm_region_table *t)
{
    return &pools[t->small != 0];
}

static void lock(void)
{
    while (atomic_flag_test_and_set_explicit(&pool_lock, memory_order_acquire))
        ;
}

static void unlock(void)
{
    atomic_flag_clear_explicit(&pool_lock, memory_order_release);
}

static inline struct chunk **directory(const struct pool *P)
{
    return atomic_load_explicit(&P->dir, memory_order_acquire);
}

/* Record number id (0 is none) found through directory d. */
static inline struct wm_region *rec_in(struct chunk *const *d, uint32_t id)
{
    uint32_t x = id - 1;
    return &d[x / CHUNK_SLOTS]->rec[x % CHUNK_SLOTS];
}

static inline struct wm_region *rec(const struct pool *P, uint32_t id)
{
    return rec_in(directory(P), id);
}

static inline uintptr_t start_of(const struct pool *P, uint32_t id)
{
    return rec(P, id)->start;
}

static size_t chunk_bytes(const struct pool *P)
{
    return CHUNK_BYTES(P->chunk_recs);
}

/* The chunk of P holding r, or NULL; with the lock held. */
static struct chunk *chunk_of(const struct pool *P, const struct wm_region *r)
{
    size_t lo = 0, n = P->nchunks;
    while (n) { /* the last chunk starting at or below r */
        size_t h = n / 2;
        if ((uintptr_t)P->by_addr[lo + h] <= (uintptr_t)r) {
            lo += h + 1;
            n -= h + 1;
        } else {
            n = h;
        }
    }
    if (!lo)
        return NULL;
    struct chunk *c = P->by_addr[lo - 1];
    if ((uintptr_t)r >= (uintptr_t)(c->rec + P->chunk_recs))
        return NULL;
    return c;
}

static bool test_bit(const uint64_t *m, unsigned i)
{
    return (m[i / 64] >> (i % 64)) & 1;
}

static void set_bit(uint64_t *m, unsigned i, bool on)
{
    if (on)
        m[i / 64] |= (uint64_t)1 << (i % 64);
    else
        m[i / 64] &= ~((uint64_t)1 << (i % 64));
}

static void partial_push(struct pool *P, struct chunk *c)
{
    c->prev = NULL;
    c->next = P->partial;
    if (P->partial)
        P->partial->prev = c;
    P->partial = c;
}

static void partial_unlink(struct pool *P, struct chunk *c)
{
    if (c->prev)
        c->prev->next = c->next;
    else
        P->partial = c->next;
    if (c->next)
        c->next->prev = c->prev;
}

/* Make room for need entries in the array at *a, which starts as the static
 * array first (FIRST_DIR entries) and moves to the heap beyond. */
static bool grow(void **a, size_t *cap, size_t need, size_t elem, void *first)
{
    if (!*a) {
        *a = first;
        *cap = FIRST_DIR;
    }
    if (need <= *cap)
        return true;
    size_t n = *cap * 2;
    while (n < need)
        n *= 2;
    void *p = *a == first ? malloc(n * elem) : realloc(*a, n * elem);
    if (!p)
        return false;
    if (*a == first)
        memcpy(p, first, *cap * elem);
    *a = p;
    *cap = n;
    return true;
}

/* A new, empty chunk on the partial list; with the lock held. */
static struct chunk *chunk_new(struct pool *P)
{
    if (!grow((void **)&P->by_addr, &P->cap_by_addr, P->nchunks + 1, sizeof *P->by_addr, P->st->by_addr))
        return NULL;
    /* The lowest free index: numbers stay dense, so the directory stays
     * small.  (A stack of freed indices would be a block whose size
     * depended on the past.) */
    struct chunk **d = atomic_load_explicit(&P->dir, memory_order_relaxed);
    if (!d) {
        d = P->st->dir;
        P->dir_cap = FIRST_DIR;
        atomic_store_explicit(&P->dir, d, memory_order_release);
    }
    uint32_t index = P->low_free < P->next_index ? P->low_free : P->next_index;
    while (index < P->next_index && d[index])
        index++;
    if (index >= MAX_CHUNKS)
        return NULL;
    if (index >= P->dir_cap) {
        size_t cap = P->dir_cap * 2;
        struct chunk **nd = calloc(cap, sizeof *nd);
        if (!nd)
            return NULL;
        memcpy(nd, d, P->dir_cap * sizeof *d);
        if (d != P->st->dir)
            P->dir_old[P->ndir_old++] = d;
        P->dir_blocks++;
        P->dir_bytes += cap * sizeof *nd;
        atomic_store_explicit(&P->dir, nd, memory_order_release);
        d = nd;
        P->dir_cap = cap;
    }
    struct chunk *c = P->chunk0_used ? malloc(chunk_bytes(P)) : P->chunk0;
    if (!c)
        return NULL;
    if (c == P->chunk0)
        P->chunk0_used = true;
    if (index == P->next_index)
        P->next_index++;
    P->low_free = index + 1;
    memset(c, 0, offsetof(struct chunk, rec));
    c->index = index;
    d[index] = c;
    size_t at = P->nchunks;
    while (at && (uintptr_t)P->by_addr[at - 1] > (uintptr_t)c)
        at--;
    memmove(P->by_addr + at + 1, P->by_addr + at, (P->nchunks - at) * sizeof *P->by_addr);
    P->by_addr[at] = c;
    P->nchunks++;
    partial_push(P, c);
    return c;
}

static void chunk_free(struct pool *P, struct chunk *c)
{
    struct chunk **d = atomic_load_explicit(&P->dir, memory_order_relaxed);
    d[c->index] = NULL;
    if (c->index < P->low_free)
        P->low_free = c->index;
    while (P->next_index && !d[P->next_index - 1])
        P->next_index--;
    partial_unlink(P, c);
    size_t at = 0;
    while (P->by_addr[at] != c)
        at++;
    memmove(P->by_addr + at, P->by_addr + at + 1, (P->nchunks - at - 1) * sizeof *P->by_addr);
    P->nchunks--;
    if (c == P->chunk0)
        P->chunk0_used = false;
    else
        free(c);
}

/* How much taller n inserts can make a tree.  One level at once (a full
 * root splits); a new root has two children and must gain FANOUT - 2 more,
 * each a split below it, before it splits in turn; every node of the new
 * levels comes from a split, holds about FANOUT / 2 children and must gain
 * as many again to split, so each further level takes FANOUT / 2 times as
 * many inserts (counted as FANOUT / 2 - 1, to be safe).  Logarithmic: the
 * bound n / (FANOUT - 2) it replaces made mremap of a range of 10 000
 * regions set aside 1.6 GB of nodes. */
static size_t growth_for(size_t n)
{
    size_t g = 1;
    for (size_t need = FANOUT - 2; need <= n; need *= FANOUT / 2 - 1)
        g++;
    return g;
}

/* Nodes that inserting n records could take, at most.  An insert splits at
 * most one node per level and may add a root: one leaf and height inner
 * nodes, the height being at most the tallest tree of the pool so far (it
 * stands for every table) plus what the inserts add. */
static size_t leaves_for(const struct pool *P, size_t n)
{
    (void)P;
    return n;
}

static size_t inners_for(const struct pool *P, size_t n)
{
    return n * (P->max_height + growth_for(n));
}

/* What the free nodes come to between calls: what the pending records need,
 * or with none pending what one insert needs, so that allocating and
 * inserting one record takes nothing from the heap; nothing in an empty
 * pool.  The static nodes count first: while they suffice, no heap node is
 * kept free, so the pool's memory depends on its tables, not on the way they
 * got there. */
static size_t leaves_kept(const struct pool *P)
{
    return P->live ? leaves_for(P, P->pending ? P->pending : 1) : 0;
}

static size_t inners_kept(const struct pool *P)
{
    return P->live ? inners_for(P, P->pending ? P->pending : 1) : 0;
}

static uint64_t all_bits(unsigned n)
{
    return n >= 64 ? ~(uint64_t)0 : ((uint64_t)1 << n) - 1;
}

/* Free nodes, static and heap. */
static size_t free_leaves(const struct pool *P)
{
    return P->nfree_leaves + STATIC_LEAVES - (size_t)__builtin_popcountll(P->static_leaves);
}

static size_t free_inners(const struct pool *P)
{
    return P->nfree_inners + STATIC_INNERS - (size_t)__builtin_popcountll(P->static_inners);
}

static bool push_new_leaf(struct pool *P)
{
    struct leaf *l = malloc(sizeof *l);
    if (!l)
        return false;
    *(struct leaf **)(void *)l = P->free_leaves;
    P->free_leaves = l;
    P->nfree_leaves++;
    P->nleaves++;
    return true;
}

static bool push_new_inner(struct pool *P)
{
    struct inner *in = malloc(sizeof *in);
    if (!in)
        return false;
    *(struct inner **)(void *)in = P->free_inners;
    P->free_inners = in;
    P->nfree_inners++;
    P->ninners++;
    return true;
}

/* Set aside what the pending records need; with the lock held. */
static bool reserve_nodes(struct pool *P)
{
    while (free_leaves(P) < leaves_for(P, P->pending))
        if (!push_new_leaf(P))
            return false;
    while (free_inners(P) < inners_for(P, P->pending))
        if (!push_new_inner(P))
            return false;
    return true;
}

/* Free heap nodes beyond what is kept go back to the heap; with the lock
 * held. */
static void trim_nodes(struct pool *P)
{
    size_t kl = leaves_kept(P), ki = inners_kept(P);
    while (P->nfree_leaves && free_leaves(P) > kl) {
        struct leaf *l = P->free_leaves;
        P->free_leaves = *(struct leaf **)(void *)l;
        P->nfree_leaves--;
        P->nleaves--;
        free(l);
    }
    while (P->nfree_inners && free_inners(P) > ki) {
        struct inner *in = P->free_inners;
        P->free_inners = *(struct inner **)(void *)in;
        P->nfree_inners--;
        P->ninners--;
        free(in);
    }
}

/* Bring the free nodes to what is kept (see leaves_kept): trimmed, and
 * topped up if the heap allows (reserve_nodes, not this, is what inserting
 * relies on).  With the lock held. */
static void settle_nodes(struct pool *P)
{
    trim_nodes(P);
    while (free_leaves(P) < leaves_kept(P) && push_new_leaf(P))
        ;
    while (free_inners(P) < inners_kept(P) && push_new_inner(P))
        ;
}

/* The pool has no record left: every table of it is empty, so no lookup
 * reads its directories (a lookup reads them only in a table with regions,
 * and removing those needed the table to itself) and every node is free.
 * Everything goes back to the heap, the static parts are reset.  With the
 * lock held. */
static void pool_release(struct pool *P)
{
    while (P->partial)
        chunk_free(P, P->partial); /* none is left: an empty chunk is freed at once */
    trim_nodes(P);
    struct chunk **d = atomic_load_explicit(&P->dir, memory_order_relaxed);
    if (d != P->st->dir) { /* the static one still holds what it had then */
        free(d);
        memset(P->st->dir, 0, sizeof P->st->dir);
    }
    for (unsigned i = 0; i < P->ndir_old; i++)
        free(P->dir_old[i]);
    if (P->by_addr != P->st->by_addr)
        free(P->by_addr);
    /* The rest of the static parts needs no reset: every directory entry
     * was cleared as its chunk went, and every static node is free. */
    unsigned recs = P->chunk_recs;
    struct chunk *chunk0 = P->chunk0;
    struct pool_static *st = P->st;
    size_t unplanned = P->unplanned;
    memset(P, 0, sizeof *P);
    P->chunk_recs = recs;
    P->chunk0 = chunk0;
    P->st = st;
    P->unplanned = unplanned;
}

struct wm_region *wm_region_alloc(const struct wm_region_table *t)
{
    struct pool *P = pool_of(t);
    lock();
    struct chunk *c = P->partial;
    if (!c && !(c = chunk_new(P))) {
        if (!P->live)
            pool_release(P); /* the directory it may have made */
        unlock();
        return NULL;
    }
    P->live++;
    P->pending++;
    if (!reserve_nodes(P)) {
        P->live--;
        P->pending--;
        if (!c->nlive)
            chunk_free(P, c);
        if (P->live)
            settle_nodes(P);
        else
            pool_release(P);
        unlock();
        return NULL;
    }
    unsigned slot = 0;
    for (unsigned w = 0; w < CHUNK_SLOTS / 64; w++)
        if (~c->live[w]) {
            slot = w * 64 + (unsigned)__builtin_ctzll(~c->live[w]);
            break;
        }
    set_bit(c->live, slot, true);
    set_bit(c->pending, slot, true);
    if (++c->nlive == P->chunk_recs)
        partial_unlink(P, c);
    unlock();
    struct wm_region *r = &c->rec[slot];
    memset(r, 0, sizeof *r);
    return r;
}

void wm_region_dispose(struct wm_region *r)
{
    if (!r)
        return;
    lock();
    struct pool *P = &pools[0];
    struct chunk *c = chunk_of(P, r);
    if (!c) {
        P = &pools[1];
        c = chunk_of(P, r);
    }
    if (!c || !test_bit(c->live, (unsigned)(r - c->rec))) {
        unlock();
        abort(); /* not a live record of a pool */
    }
    unsigned slot = (unsigned)(r - c->rec);
    if (test_bit(c->pending, slot)) {
        set_bit(c->pending, slot, false);
        P->pending--;
    }
    set_bit(c->live, slot, false);
    if (c->nlive-- == P->chunk_recs)
        partial_push(P, c);
    P->live--;
    if (!c->nlive)
        chunk_free(P, c);
    if (P->live)
        settle_nodes(P); /* fewer pending records may need fewer nodes */
    else
        pool_release(P);
    unlock();
}

/* r's pool number in P, marking it inserted. */
static uint32_t take_id(struct pool *P, const struct wm_region *r)
{
    lock();
    struct chunk *c = chunk_of(P, r);
    if (!c) {
        unlock();
        abort(); /* not a record of this table's pool */
    }
    unsigned slot = (unsigned)(r - c->rec);
    if (test_bit(c->pending, slot)) {
        set_bit(c->pending, slot, false);
        P->pending--;
    }
    unlock();
    return c->index * CHUNK_SLOTS + slot + 1;
}

static struct leaf *leaf_get(struct pool *P)
{
    lock();
    struct leaf *l;
    uint64_t avail = ~P->static_leaves & all_bits(STATIC_LEAVES);
    if (avail) {
        unsigned i = (unsigned)__builtin_ctzll(avail);
        P->static_leaves |= (uint64_t)1 << i;
        l = &P->st->leaves[i];
    } else if ((l = P->free_leaves)) {
        P->free_leaves = *(struct leaf **)(void *)l;
        P->nfree_leaves--;
    } else if ((l = malloc(sizeof *l))) { /* only for a record inserted twice */
        P->nleaves++;
        P->unplanned++;
    }
    unlock();
    if (!l)
        abort();
    l->n = 0;
    l->kind = KIND_LEAF;
    return l;
}

static struct inner *inner_get(struct pool *P)
{
    lock();
    struct inner *in;
    uint64_t avail = ~P->static_inners & all_bits(STATIC_INNERS);
    if (avail) {
        unsigned i = (unsigned)__builtin_ctzll(avail);
        P->static_inners |= (uint64_t)1 << i;
        in = &P->st->inners[i];
    } else if ((in = P->free_inners)) {
        P->free_inners = *(struct inner **)(void *)in;
        P->nfree_inners--;
    } else if ((in = malloc(sizeof *in))) {
        P->ninners++;
        P->unplanned++;
    }
    unlock();
    if (!in)
        abort();
    in->n = 0;
    in->kind = KIND_INNER;
    return in;
}

static void leaf_put(struct pool *P, struct leaf *l)
{
    l->kind = 0;
    uintptr_t at = (uintptr_t)l, first = (uintptr_t)P->st->leaves;
    lock();
    if (at >= first && at < (uintptr_t)(P->st->leaves + STATIC_LEAVES)) {
        P->static_leaves &= ~((uint64_t)1 << ((at - first) / sizeof *l));
    } else {
        *(struct leaf **)(void *)l = P->free_leaves;
        P->free_leaves = l;
        P->nfree_leaves++;
    }
    trim_nodes(P);
    unlock();
}

static void inner_put(struct pool *P, struct inner *in)
{
    in->kind = 0;
    uintptr_t at = (uintptr_t)in, first = (uintptr_t)P->st->inners;
    lock();
    if (at >= first && at < (uintptr_t)(P->st->inners + STATIC_INNERS)) {
        P->static_inners &= ~((uint64_t)1 << ((at - first) / sizeof *in));
    } else {
        *(struct inner **)(void *)in = P->free_inners;
        P->free_inners = in;
        P->nfree_inners++;
    }
    trim_nodes(P);
    unlock();
}

static void note_height(struct pool *P, unsigned h)
{
    lock();
    if (h > P->max_height)
        P->max_height = h;
    unlock();
}

/* After an insert: nodes the remaining pending records no longer need go
 * back.  What was set aside for them still covers them (each insert takes at
 * most what was counted per record), although counting again from the
 * taller tree an insert may have made would ask for more: the growth
 * counted then would be counted twice.  With none pending, the nodes of one
 * insert are made up for (see settle_nodes). */
static void inserted(struct pool *P)
{
    lock();
    if (P->pending)
        trim_nodes(P);
    else
        settle_nodes(P);
    unlock();
}

/* Heap memory only: the static parts are not counted. */
static void add_stats(const struct pool *P, struct wm_region_pool_stats *s)
{
    s->live += P->live;
    s->pending += P->pending;
    s->chunks += P->nchunks - P->chunk0_used;
    s->leaves += P->nleaves;
    s->inners += P->ninners;
    s->free_leaves += P->nfree_leaves;
    s->free_inners += P->nfree_inners;
    s->unplanned += P->unplanned;
    s->blocks += P->nchunks - P->chunk0_used + P->nleaves + P->ninners + P->dir_blocks +
                 (P->by_addr && P->by_addr != P->st->by_addr);
    s->bytes += (P->nchunks - P->chunk0_used) * chunk_bytes(P) + P->nleaves * sizeof(struct leaf) +
                P->ninners * sizeof(struct inner) + P->dir_bytes +
                (P->by_addr && P->by_addr != P->st->by_addr ? P->cap_by_addr * sizeof *P->by_addr : 0);
}

void wm_region_pool_stats(const struct wm_region_table *t, struct wm_region_pool_stats *s)
{
    memset(s, 0, sizeof *s);
    lock();
    if (t) {
        add_stats(pool_of(t), s);
    } else {
        add_stats(&pools[0], s);
        add_stats(&pools[1], s);
    }
    unlock();
}

/* ---- Searching ---- */

/* Searches count the entries at most a, by halving.  (Rounds of three
 * independent probes were tried for the leaf, whose probes are two loads
 * each: slower when the branches are predicted, as for a lookup repeated.) */
#define SEARCH(KEY)                                                                                \
    while (n) {                                                                                    \
        unsigned h = n / 2;                                                                        \
        if (KEY(lo + h) <= a) {                                                                    \
            lo += h + 1;                                                                           \
            n -= h + 1;                                                                            \
        } else {                                                                                   \
            n = h;                                                                                 \
        }                                                                                          \
    }

/* Keys of in at most a: the child to take. */
static inline unsigned inner_upper(const struct inner *in, uintptr_t a)
{
    unsigned lo = 0, n = in->n - 1u;
#define INNER_KEY(i) in->key[i]
    SEARCH(INNER_KEY)
#undef INNER_KEY
    return lo;
}

/* Records of l starting at or below a. */
static inline unsigned leaf_upper(const struct pool *P, const struct leaf *l, uintptr_t a)
{
    struct chunk *const *d = directory(P);
    unsigned lo = 0, n = l->n;
#define LEAF_KEY(i) rec_in(d, l->id[i])->start
    SEARCH(LEAF_KEY)
#undef LEAF_KEY
    return lo;
}

/* The way down to a leaf: node[i] at depth i and the child taken there. */
struct path {
    struct inner *node[MAX_HEIGHT];
    unsigned idx[MAX_HEIGHT];
    unsigned depth; /* inner levels: height - 1 */
};

/* The leaf where a region starting at a belongs (t not empty).  Every key on
 * the way is the lowest start of the subtree on its right, so the leaf's
 * first record starts at or below a unless it is the first leaf. */
static struct leaf *descend(const struct wm_region_table *t, uintptr_t a, struct path *p)
{
    void *n = t->root;
    p->depth = t->height - 1;
    for (unsigned d = 0; d < p->depth; d++) {
        struct inner *in = n;
        unsigned i = inner_upper(in, a);
        p->node[d] = in;
        p->idx[d] = i;
        n = in->child[i];
    }
    return n;
}

static struct leaf *leftmost_leaf(void *n, unsigned levels)
{
    while (levels--)
        n = ((struct inner *)n)->child[0];
    return n;
}

/* The deepest level of p with a subtree to the right of the path, or -1. */
static int right_turn(const struct path *p)
{
    for (int d = (int)p->depth - 1; d >= 0; d--)
        if (p->idx[d] + 1u < p->node[d]->n)
            return d;
    return -1;
}

/* The leaf after p's, or NULL. */
static struct leaf *next_leaf(const struct path *p)
{
    int d = right_turn(p);
    if (d < 0)
        return NULL;
    return leftmost_leaf(p->node[d]->child[p->idx[d] + 1], p->depth - (unsigned)d - 1);
}

/* The hint is a region of the table (wm_region_remove clears it), so if it
 * holds addr it is the answer to both lookups. */
static inline struct wm_region *hinted(const struct wm_region_table *t, uintptr_t addr)
{
    struct wm_region *h = atomic_load_explicit(&t->hint, memory_order_relaxed);
    return h && h->start <= addr && addr < h->end ? h : NULL;
}

/* Written only when it changes: lookups of one region in several threads
 * then share the line, not pass it around. */
static inline void set_hint(const struct wm_region_table *t, struct wm_region *r)
{
    _Atomic(struct wm_region *) *h = &((struct wm_region_table *)t)->hint;
    if (atomic_load_explicit(h, memory_order_relaxed) != r)
        atomic_store_explicit(h, r, memory_order_relaxed);
}

struct wm_region *wm_region_find(const struct wm_region_table *t, uintptr_t addr)
{
    struct wm_region *h = hinted(t, addr);
    if (h)
        return h;
    if (!t->root)
        return NULL;
    const struct pool *P = pool_of(t);
    const void *n = t->root;
    for (unsigned d = 1; d < t->height; d++) {
        const struct inner *in = n;
        n = in->child[inner_upper(in, addr)];
    }
    const struct leaf *l = n;
    unsigned j = leaf_upper(P, l, addr);
    if (!j)
        return NULL;
    struct wm_region *r = rec(P, l->id[j - 1]);
    if (addr >= r->end)
        return NULL;
    set_hint(t, r);
    return r;
}

struct wm_region *wm_region_first_from(const struct wm_region_table *t, uintptr_t addr)
{
    struct wm_region *h = hinted(t, addr);
    if (h)
        return h;
    if (!t->root)
        return NULL;
    const struct pool *P = pool_of(t);
    struct path p;
    struct leaf *l = descend(t, addr, &p);
    unsigned j = leaf_upper(P, l, addr);
    if (j) {
        struct wm_region *r = rec(P, l->id[j - 1]);
        if (addr < r->end) {
            set_hint(t, r);
            return r;
        }
        return r->next ? rec(P, r->next) : NULL;
    }
    return rec(P, l->id[0]); /* addr is below every region */
}

struct wm_region *wm_region_next(const struct wm_region_table *t, const struct wm_region *r)
{
    return r->next ? rec(pool_of(t), r->next) : NULL;
}

struct wm_region *wm_region_prev(const struct wm_region_table *t, const struct wm_region *r)
{
    if (!t->root || !r->start)
        return NULL;
    /* The last region starting at or below start - 1: the descent ends in
     * a leaf holding it, if there is one (see descend). */
    const struct pool *P = pool_of(t);
    struct path p;
    struct leaf *l = descend(t, r->start - 1, &p);
    unsigned j = leaf_upper(P, l, r->start - 1);
    return j ? rec(P, l->id[j - 1]) : NULL;
}

int wm_region_overlaps(const struct wm_region_table *t, uintptr_t start, uintptr_t end)
{
    struct wm_region *r = wm_region_first_from(t, start);
    return r && r->start < end;
}

/* ---- Inserting ---- */

/* Put (key, child) into the parents on p, splitting them as needed. */
static void insert_above(struct wm_region_table *t, struct pool *P, struct path *p, uintptr_t key,
                         void *child)
{
    for (int d = (int)p->depth - 1; d >= 0; d--) {
        struct inner *in = p->node[d];
        unsigned q = p->idx[d] + 1; /* the new child's place */
        if (in->n < FANOUT) {
            memmove(in->key + q, in->key + q - 1, (in->n - q) * sizeof *in->key);
            memmove(in->child + q + 1, in->child + q, (in->n - q) * sizeof *in->child);
            in->key[q - 1] = key;
            in->child[q] = child;
            in->n++;
            return;
        }
        uintptr_t keys[FANOUT];
        void *kids[FANOUT + 1];
        memcpy(keys, in->key, (q - 1) * sizeof *keys);
        keys[q - 1] = key;
        memcpy(keys + q, in->key + q - 1, (FANOUT - q) * sizeof *keys);
        memcpy(kids, in->child, q * sizeof *kids);
        kids[q] = child;
        memcpy(kids + q + 1, in->child + q, (FANOUT - q) * sizeof *kids);
        /* Children kept on the left: all of them when the new one comes
         * last (appending, as a run of regions mapped upwards does), else
         * half. */
        unsigned m = q == FANOUT ? FANOUT : (FANOUT + 1) / 2;
        struct inner *right = inner_get(P);
        in->n = (uint16_t)m;
        memcpy(in->key, keys, (m - 1) * sizeof *keys);
        memcpy(in->child, kids, m * sizeof *kids);
        right->n = (uint16_t)(FANOUT + 1 - m);
        memcpy(right->key, keys + m, (FANOUT - m) * sizeof *keys);
        memcpy(right->child, kids + m, (FANOUT + 1 - m) * sizeof *kids);
        key = keys[m - 1];
        child = right;
    }
    struct inner *root = inner_get(P);
    root->n = 2;
    root->key[0] = key;
    root->child[0] = t->root;
    root->child[1] = child;
    t->root = (struct wm_node *)(void *)root;
    if (++t->height > MAX_HEIGHT)
        abort();
    note_height(P, t->height);
}

static void leaf_put_at(struct leaf *l, unsigned pos, uint32_t id)
{
    memmove(l->id + pos + 1, l->id + pos, (l->n - pos) * sizeof *l->id);
    l->id[pos] = id;
    l->n++;
}

static void insert_record(struct wm_region_table *t, struct pool *P, struct wm_region *r, uint32_t id)
{
    uintptr_t s = r->start, last0 = t->last[0], last1 = t->last[1];
    t->count++;
    t->last[1] = last0;
    t->last[0] = s;
    r->next = 0;
    if (!t->root) {
        struct leaf *l = leaf_get(P);
        l->n = 1;
        l->id[0] = id;
        t->root = (struct wm_node *)(void *)l;
        t->height = 1;
        note_height(P, 1);
        return;
    }
    struct path p;
    struct leaf *l = descend(t, s, &p);
    unsigned pos = leaf_upper(P, l, s);
    /* Linked after the region before it; with none before, it is first (the
     * descent only ends at a leaf's front in the first leaf). */
    if (pos) {
        struct wm_region *pred = rec(P, l->id[pos - 1]);
        r->next = pred->next;
        pred->next = id;
    } else {
        r->next = l->id[0];
    }
    if (l->n < LEAF_CAP) {
        leaf_put_at(l, pos, id);
        return;
    }
    /* Full.  Is this one of a run of inserts, each just after one of the
     * two before (mapping upwards; two for runs in pairs, as Wine 10 makes)
     * or just before it (downwards)?  Then split where the run goes on, so
     * the leaves it leaves behind are full. */
    int turn = right_turn(&p);
    uintptr_t pred = pos > 0 ? start_of(P, l->id[pos - 1]) : 0;
    uintptr_t succ = pos < l->n ? start_of(P, l->id[pos]) : turn >= 0 ? p.node[turn]->key[p.idx[turn]] : 0;
    bool up = pos > 0 && (pred == last0 || pred == last1);
    bool down = !up && (pos < l->n || turn >= 0) && (succ == last0 || succ == last1);
    if (down && pos == l->n && turn >= 0) {
        /* Downwards at the end of a full leaf: the run fills the next leaf
         * from its front, if it has room. */
        struct leaf *nb = next_leaf(&p);
        if (nb->n < LEAF_CAP) {
            leaf_put_at(nb, 0, id);
            p.node[turn]->key[p.idx[turn]] = s;
            return;
        }
    }
    uint32_t ids[LEAF_CAP + 1];
    memcpy(ids, l->id, pos * sizeof *ids);
    ids[pos] = id;
    memcpy(ids + pos + 1, l->id + pos, (LEAF_CAP - pos) * sizeof *ids);
    /* Records kept on the left: up to the new one going upwards (the run
     * continues after it), up to just before it going downwards. */
    unsigned m = up     ? (pos + 1 < LEAF_CAP ? pos + 1 : LEAF_CAP)
                 : down ? (pos > 1 ? pos : 1)
                        : (LEAF_CAP + 1) / 2;
    struct leaf *right = leaf_get(P);
    l->n = (uint16_t)m;
    memcpy(l->id, ids, m * sizeof *ids);
    right->n = (uint16_t)(LEAF_CAP + 1 - m);
    memcpy(right->id, ids + m, right->n * sizeof *ids);
    insert_above(t, P, &p, start_of(P, right->id[0]), right);
}

void wm_region_insert(struct wm_region_table *t, struct wm_region *r)
{
    struct pool *P = pool_of(t);
    insert_record(t, P, r, take_id(P, r));
    inserted(P);
}

struct wm_region *wm_region_split_at(struct wm_region_table *t, struct wm_region *r, uintptr_t addr)
{
    struct wm_region *hi = wm_region_alloc(t);
    if (!hi)
        return NULL;
    *hi = *r;
    hi->start = addr;
    hi->offset = r->offset + (addr - r->start);
    r->end = addr;
    if (t->on_dup)
        t->on_dup(hi);
    wm_region_insert(t, hi);
    return hi;
}

/* ---- Removing ---- */

/* Node n of p (a leaf when d == depth, else p->node[d]) has lost an entry:
 * drop it if empty, merge it with a sibling if together they fit in one and
 * it is under half full, and go on up for the parent that lost a child. */
static void rebalance(struct wm_region_table *t, struct pool *P, struct path *p, struct leaf *leaf)
{
    for (int d = (int)p->depth; d > 0; d--) {
        bool is_leaf = d == (int)p->depth;
        void *n = is_leaf ? (void *)leaf : (void *)p->node[d];
        struct inner *par = p->node[d - 1];
        unsigned i = p->idx[d - 1];
        unsigned cnt = is_leaf ? leaf->n : p->node[d]->n, cap = is_leaf ? LEAF_CAP : FANOUT;
        unsigned gone; /* the child of par that goes */
        if (!cnt) {
            gone = i;
            if (is_leaf)
                leaf_put(P, n);
            else
                inner_put(P, n);
        } else if (cnt < cap / 2 && par->n > 1) {
            unsigned a = i ? i - 1 : i, b = a + 1; /* siblings a, b: b into a */
            if (is_leaf) {
                struct leaf *la = par->child[a], *lb = par->child[b];
                if (la->n + lb->n > LEAF_CAP)
                    return;
                memcpy(la->id + la->n, lb->id, lb->n * sizeof *lb->id);
                la->n = (uint16_t)(la->n + lb->n);
                leaf_put(P, lb);
            } else {
                struct inner *ia = par->child[a], *ib = par->child[b];
                if (ia->n + ib->n > FANOUT)
                    return;
                ia->key[ia->n - 1] = par->key[a];
                memcpy(ia->key + ia->n, ib->key, (ib->n - 1u) * sizeof *ib->key);
                memcpy(ia->child + ia->n, ib->child, ib->n * sizeof *ib->child);
                ia->n = (uint16_t)(ia->n + ib->n);
                inner_put(P, ib);
            }
            gone = b;
        } else {
            return;
        }
        /* Remove child gone and the key beside it: the one on its left,
         * or for the first child the one on its right (the parent's lowest
         * start becomes that key, which the caller's fix-up relies on). */
        unsigned k = gone ? gone - 1 : 0;
        if (par->n > 1)
            memmove(par->key + k, par->key + k + 1, (par->n - 2u - k) * sizeof *par->key);
        memmove(par->child + gone, par->child + gone + 1, (par->n - 1u - gone) * sizeof *par->child);
        par->n--;
    }
    /* The root: an inner root keeps two children or gives way to its only
     * one; an empty leaf root leaves an empty table. */
    while (t->height > 1 && ((struct inner *)(void *)t->root)->n == 1) {
        struct inner *old = (struct inner *)(void *)t->root;
        t->root = old->child[0];
        t->height--;
        inner_put(P, old);
    }
    if (t->height == 1 && !((struct leaf *)(void *)t->root)->n) {
        leaf_put(P, (struct leaf *)(void *)t->root);
        t->root = NULL;
        t->height = 0;
    }
}

void wm_region_remove(struct wm_region_table *t, struct wm_region *r)
{
    struct pool *P = pool_of(t);
    uintptr_t s = r->start;
    struct path p;
    struct leaf *l = descend(t, s, &p);
    unsigned pos = leaf_upper(P, l, s);
    if (!pos || rec(P, l->id[pos - 1]) != r)
        abort(); /* r is not in t */
    pos--;
    if (atomic_load_explicit(&t->hint, memory_order_relaxed) == r)
        atomic_store_explicit(&t->hint, NULL, memory_order_relaxed);
    /* Unlinked from the region before it: in this leaf, or last in the leaf
     * before. */
    struct wm_region *pred = NULL;
    if (pos) {
        pred = rec(P, l->id[pos - 1]);
    } else {
        for (int d = (int)p.depth - 1; d >= 0; d--)
            if (p.idx[d]) {
                void *n = p.node[d]->child[p.idx[d] - 1];
                for (unsigned e = (unsigned)d + 1; e < p.depth; e++)
                    n = ((struct inner *)n)->child[((struct inner *)n)->n - 1];
                struct leaf *pl = n;
                pred = rec(P, pl->id[pl->n - 1]);
                break;
            }
    }
    if (pred)
        pred->next = r->next;
    /* The start that takes over s as a subtree's lowest (see below); only
     * a leaf's first record is one. */
    bool has_next = false;
    uintptr_t next = 0;
    if (pos == 0 && l->n > 1) {
        has_next = true;
        next = start_of(P, l->id[1]);
    } else if (pos == 0) {
        int d = right_turn(&p);
        if (d >= 0) {
            has_next = true;
            next = p.node[d]->key[p.idx[d]];
        }
    }
    memmove(l->id + pos, l->id + pos + 1, (l->n - pos - 1u) * sizeof *l->id);
    l->n--;
    t->count--;
    rebalance(t, P, &p, l);
    /* A key equal to s named r as the lowest start of the subtree on its
     * right; that subtree's lowest is now the next region.  Such a key lies
     * on the way down to s, wherever merges have moved it. */
    if (!has_next || !t->root)
        return;
    void *n = t->root;
    for (unsigned d = 1; d < t->height; d++) {
        struct inner *in = n;
        unsigned i = inner_upper(in, s);
        if (i && in->key[i - 1] == s) {
            in->key[i - 1] = next;
            break;
        }
        n = in->child[i];
    }
}

int wm_region_try_merge_next(struct wm_region_table *t, struct wm_region *r,
                             void (*free_fn)(struct wm_region *))
{
    struct wm_region *n = wm_region_next(t, r);
    if (!n || n->start != r->end || n->backing != r->backing || n->vstart != r->vstart ||
        n->flags != r->flags || n->prot != r->prot || n->advice != r->advice ||
        n->offset != r->offset + (r->end - r->start))
        return 0;
    wm_region_remove(t, n);
    r->end = n->end;
    free_fn(n);
    return 1;
}

/* ---- The self-check ---- */

struct check_state {
    size_t page, count, height;
    uintptr_t last_end;
    uint32_t prev_next;
    int any;
    const char *err;
    const struct pool *P;
};

static bool live_record(const struct pool *P, uint32_t id)
{
    if (!id)
        return false;
    uint32_t x = id - 1, slot = x % CHUNK_SLOTS;
    lock();
    struct chunk *c = x / CHUNK_SLOTS < P->dir_cap ? directory(P)[x / CHUNK_SLOTS] : NULL;
    bool ok = c && slot < P->chunk_recs && test_bit(c->live, slot) && !test_bit(c->pending, slot);
    unlock();
    return ok;
}

/* Checks the subtree n at depth d; returns its lowest start. */
static uintptr_t check_node(const void *n, size_t d, bool root, struct check_state *s)
{
    const struct pool *P = s->P;
    if (d + 1 == s->height) {
        const struct leaf *l = n;
        if (l->kind != KIND_LEAF) {
            s->err = "a leaf is not at the depth of the others";
            return 0;
        }
        if (!l->n || l->n > LEAF_CAP) {
            s->err = "leaf empty or over full";
            return 0;
        }
        for (unsigned i = 0; i < l->n && !s->err; i++) {
            if (!live_record(P, l->id[i])) {
                s->err = "leaf names a record not live in the pool";
                break;
            }
            const struct wm_region *r = rec(P, l->id[i]);
            if (r->start >= r->end)
                s->err = "empty or inverted region";
            else if (r->start % s->page || r->end % s->page)
                s->err = "region not page aligned";
            else if (s->any && r->start < s->last_end)
                s->err = "regions overlap or are out of order";
            if (s->any && s->prev_next != l->id[i])
                s->err = "a region's link does not name the next region";
            s->last_end = r->end;
            s->prev_next = r->next;
            s->any = 1;
            s->count++;
        }
        return s->err ? 0 : start_of(P, l->id[0]);
    }
    const struct inner *in = n;
    if (in->kind != KIND_INNER) {
        s->err = "an inner node where a leaf should be, or no node";
        return 0;
    }
    if (in->n < (root ? 2 : 1) || in->n > FANOUT) {
        s->err = "inner node with too few or too many children";
        return 0;
    }
    uintptr_t lowest = 0;
    for (unsigned i = 0; i < in->n && !s->err; i++) {
        uintptr_t low = check_node(in->child[i], d + 1, false, s);
        if (s->err)
            break;
        if (!i)
            lowest = low;
        else if (in->key[i - 1] != low)
            s->err = "separator is not the lowest start on its right";
    }
    return lowest;
}

const char *wm_region_check(const struct wm_region_table *t, size_t page)
{
    struct check_state s;
    memset(&s, 0, sizeof s);
    s.page = page;
    s.height = t->height;
    s.P = pool_of(t);
    if (!t->root) {
        if (t->height || t->count)
            return "empty tree with a height or a count";
        if (atomic_load_explicit(&t->hint, memory_order_relaxed))
            return "the lookup hint is not a region of the table";
        return NULL;
    }
    if (!t->height || t->height > MAX_HEIGHT)
        return "tree height out of range";
    check_node(t->root, 0, true, &s);
    if (!s.err && s.prev_next)
        s.err = "the last region links to another";
    if (!s.err && s.count != t->count)
        s.err = "count does not match the tree";
    struct wm_region *h = atomic_load_explicit(&t->hint, memory_order_relaxed);
    if (!s.err && h) {
        /* not through the lookups, which would answer with h itself */
        struct path p;
        struct leaf *l = descend(t, h->start, &p);
        unsigned j = leaf_upper(s.P, l, h->start);
        if (!j || rec(s.P, l->id[j - 1]) != h)
            s.err = "the lookup hint is not a region of the table";
    }
    return s.err;
}
