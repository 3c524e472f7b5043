/* The region table (see region.h): records in a pool, indexed by a B+tree.
 *
 * Memory is the constraint that shapes it.  A record is 56 bytes on 64-bit
 * Windows and the target is 64 heap bytes per region, table included, so:
 *
 * - Records live in chunks of CHUNK_RECS, allocated and freed whole, with no
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
 * The pool is shared by every table and may be used from any thread, under a
 * spinlock of its own (held for a few dozen instructions).  Lookups take no
 * lock: the directory entries they read were written before the record was
 * inserted, and the caller's own locking orders inserts before lookups. */
#include "region.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/* ---- Sizes ---- */

#define CHUNK_RECS 128  /* 7 KiB on 64-bit: a partly used chunk is little waste */
#define MAX_CHUNKS ((uint32_t)1 << 24) /* pool numbers are 32-bit: 2^31 records */
#define LEAF_BYTES 256
#define INNER_BYTES 1024 /* wide, so that 100 000 regions need only three levels */
#define LEAF_CAP ((LEAF_BYTES - 4) / 4)
#define FANOUT ((INNER_BYTES - 8 + sizeof(uintptr_t)) / (sizeof(uintptr_t) + sizeof(void *)))
#define MAX_HEIGHT 32
#define SPARE_NODES 4   /* kept beyond the reservation, against churn at a node's edge */

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
    uint64_t live[CHUNK_RECS / 64];    /* slots handed out */
    uint64_t pending[CHUNK_RECS / 64]; /* handed out and not inserted yet */
    struct chunk *prev, *next;          /* the list of chunks with a free slot */
    uint32_t index, nlive;
    struct wm_region rec[CHUNK_RECS];
};

/* ---- The pool ---- */

static atomic_flag pool_lock = ATOMIC_FLAG_INIT;

/* Chunks by index, read without the lock by lookups (see the top of the
 * file).  It grows by doubling; the old copies are kept, untouched, since a
 * lookup may still be reading one: at most as much again as the directory. */
static _Atomic(struct chunk **) dir;
static size_t dir_cap;
static struct chunk **dir_old[32];
static unsigned ndir_old;

static struct {
    struct chunk *partial;    /* chunks with a free slot */
    struct chunk **by_addr;   /* every chunk, by address: a record's chunk */
    size_t nchunks, cap_by_addr;
    uint32_t *free_index;     /* chunk indices given back */
    size_t nfree_index, cap_free_index;
    uint32_t next_index;
    size_t live, pending;
    struct leaf *free_leaves; /* linked through their first bytes */
    struct inner *free_inners;
    size_t nleaves, ninners, nfree_leaves, nfree_inners;
    unsigned max_height;      /* the tallest any table has been */
} pool;

static void lock(void)
{
    while (atomic_flag_test_and_set_explicit(&pool_lock, memory_order_acquire))
        ;
}

static void unlock(void)
{
    atomic_flag_clear_explicit(&pool_lock, memory_order_release);
}

static inline struct chunk **directory(void)
{
    return atomic_load_explicit(&dir, memory_order_acquire);
}

/* Record number id (0 is none) found through directory d. */
static inline struct wm_region *rec_in(struct chunk *const *d, uint32_t id)
{
    uint32_t x = id - 1;
    return &d[x / CHUNK_RECS]->rec[x % CHUNK_RECS];
}

static inline struct wm_region *rec(uint32_t id)
{
    return rec_in(directory(), id);
}

static inline uintptr_t start_of(uint32_t id)
{
    return rec(id)->start;
}

/* The chunk holding r; with the lock held. */
static struct chunk *chunk_of(const struct wm_region *r)
{
    size_t lo = 0, n = pool.nchunks;
    while (n) { /* the last chunk starting at or below r */
        size_t h = n / 2;
        if ((uintptr_t)pool.by_addr[lo + h] <= (uintptr_t)r) {
            lo += h + 1;
            n -= h + 1;
        } else {
            n = h;
        }
    }
    if (!lo)
        return NULL;
    struct chunk *c = pool.by_addr[lo - 1];
    if ((uintptr_t)r >= (uintptr_t)(c->rec + CHUNK_RECS))
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

static void partial_push(struct chunk *c)
{
    c->prev = NULL;
    c->next = pool.partial;
    if (pool.partial)
        pool.partial->prev = c;
    pool.partial = c;
}

static void partial_unlink(struct chunk *c)
{
    if (c->prev)
        c->prev->next = c->next;
    else
        pool.partial = c->next;
    if (c->next)
        c->next->prev = c->prev;
}

static bool grow(void **a, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap)
        return true;
    size_t n = *cap ? *cap * 2 : 64;
    while (n < need)
        n *= 2;
    void *p = realloc(*a, n * elem);
    if (!p)
        return false;
    *a = p;
    *cap = n;
    return true;
}

/* A new, empty chunk on the partial list; with the lock held. */
static struct chunk *chunk_new(void)
{
    if (!grow((void **)&pool.by_addr, &pool.cap_by_addr, pool.nchunks + 1, sizeof *pool.by_addr))
        return NULL;
    uint32_t index;
    if (pool.nfree_index)
        index = pool.free_index[pool.nfree_index - 1];
    else if (pool.next_index < MAX_CHUNKS)
        index = pool.next_index;
    else
        return NULL;
    struct chunk **d = atomic_load_explicit(&dir, memory_order_relaxed);
    if (index >= dir_cap) {
        size_t cap = dir_cap ? dir_cap * 2 : 64;
        struct chunk **nd = calloc(cap, sizeof *nd);
        if (!nd)
            return NULL;
        if (d) {
            memcpy(nd, d, dir_cap * sizeof *d);
            dir_old[ndir_old++] = d;
        }
        atomic_store_explicit(&dir, nd, memory_order_release);
        d = nd;
        dir_cap = cap;
    }
    struct chunk *c = malloc(sizeof *c);
    if (!c)
        return NULL;
    if (pool.nfree_index)
        pool.nfree_index--;
    else
        pool.next_index++;
    memset(c, 0, offsetof(struct chunk, rec));
    c->index = index;
    d[index] = c;
    size_t at = pool.nchunks;
    while (at && (uintptr_t)pool.by_addr[at - 1] > (uintptr_t)c)
        at--;
    memmove(pool.by_addr + at + 1, pool.by_addr + at, (pool.nchunks - at) * sizeof *pool.by_addr);
    pool.by_addr[at] = c;
    pool.nchunks++;
    partial_push(c);
    return c;
}

static void chunk_free(struct chunk *c)
{
    /* The index goes on the free stack; if that cannot grow the index is
     * simply not reused. */
    if (grow((void **)&pool.free_index, &pool.cap_free_index, pool.nfree_index + 1,
             sizeof *pool.free_index))
        pool.free_index[pool.nfree_index++] = c->index;
    atomic_load_explicit(&dir, memory_order_relaxed)[c->index] = NULL;
    partial_unlink(c);
    size_t at = 0;
    while (pool.by_addr[at] != c)
        at++;
    memmove(pool.by_addr + at, pool.by_addr + at + 1, (pool.nchunks - at - 1) * sizeof *pool.by_addr);
    pool.nchunks--;
    free(c);
}

/* Nodes that inserting every pending record could take, at most.  An insert
 * splits at most one node per level and may add a root: one leaf and
 * height inner nodes.  The pending inserts may make a tree taller, but a new
 * root has two children and must gain FANOUT - 2 more before it splits, each
 * from an insert: so the height grows by at most 1 + pending / (FANOUT - 2).
 * The tallest tree so far stands for every table. */
static size_t leaves_needed(void)
{
    return pool.pending;
}

static size_t inners_needed(void)
{
    size_t h = pool.max_height + 1 + pool.pending / (FANOUT - 2);
    return pool.pending * h;
}

static bool reserve_nodes(void)
{
    while (pool.nfree_leaves < leaves_needed()) {
        struct leaf *l = malloc(sizeof *l);
        if (!l)
            return false;
        *(struct leaf **)(void *)l = pool.free_leaves;
        pool.free_leaves = l;
        pool.nfree_leaves++;
        pool.nleaves++;
    }
    while (pool.nfree_inners < inners_needed()) {
        struct inner *in = malloc(sizeof *in);
        if (!in)
            return false;
        *(struct inner **)(void *)in = pool.free_inners;
        pool.free_inners = in;
        pool.nfree_inners++;
        pool.ninners++;
    }
    return true;
}

struct wm_region *wm_region_alloc(void)
{
    lock();
    struct chunk *c = pool.partial;
    if (!c && !(c = chunk_new())) {
        unlock();
        return NULL;
    }
    pool.pending++;
    if (!reserve_nodes()) {
        /* What was set aside stays for the next time; the chunk too. */
        pool.pending--;
        unlock();
        return NULL;
    }
    unsigned slot = 0;
    for (unsigned w = 0; w < CHUNK_RECS / 64; w++)
        if (~c->live[w]) {
            slot = w * 64 + (unsigned)__builtin_ctzll(~c->live[w]);
            break;
        }
    set_bit(c->live, slot, true);
    set_bit(c->pending, slot, true);
    if (++c->nlive == CHUNK_RECS)
        partial_unlink(c);
    pool.live++;
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
    struct chunk *c = chunk_of(r);
    if (!c || !test_bit(c->live, (unsigned)(r - c->rec))) {
        unlock();
        abort(); /* not a live record of the pool */
    }
    unsigned slot = (unsigned)(r - c->rec);
    if (test_bit(c->pending, slot)) {
        set_bit(c->pending, slot, false);
        pool.pending--;
    }
    set_bit(c->live, slot, false);
    if (c->nlive-- == CHUNK_RECS)
        partial_push(c);
    pool.live--;
    /* An empty chunk goes back to the heap unless it is the only one with
     * room (then the next allocation would make it again). */
    if (!c->nlive && (c->prev || c->next))
        chunk_free(c);
    unlock();
}

/* r's pool number, marking it inserted. */
static uint32_t take_id(const struct wm_region *r)
{
    lock();
    struct chunk *c = chunk_of(r);
    if (!c) {
        unlock();
        abort(); /* not a record of the pool */
    }
    unsigned slot = (unsigned)(r - c->rec);
    if (test_bit(c->pending, slot)) {
        set_bit(c->pending, slot, false);
        pool.pending--;
    }
    unlock();
    return c->index * CHUNK_RECS + slot + 1;
}

static struct leaf *leaf_get(void)
{
    lock();
    struct leaf *l = pool.free_leaves;
    if (l) {
        pool.free_leaves = *(struct leaf **)(void *)l;
        pool.nfree_leaves--;
    } else if ((l = malloc(sizeof *l))) { /* only for a record inserted twice */
        pool.nleaves++;
    }
    unlock();
    if (!l)
        abort();
    l->n = 0;
    l->kind = KIND_LEAF;
    return l;
}

static struct inner *inner_get(void)
{
    lock();
    struct inner *in = pool.free_inners;
    if (in) {
        pool.free_inners = *(struct inner **)(void *)in;
        pool.nfree_inners--;
    } else if ((in = malloc(sizeof *in))) {
        pool.ninners++;
    }
    unlock();
    if (!in)
        abort();
    in->n = 0;
    in->kind = KIND_INNER;
    return in;
}

static void leaf_put(struct leaf *l)
{
    l->kind = 0;
    lock();
    if (pool.nfree_leaves >= leaves_needed() + SPARE_NODES) {
        pool.nleaves--;
        free(l);
    } else {
        *(struct leaf **)(void *)l = pool.free_leaves;
        pool.free_leaves = l;
        pool.nfree_leaves++;
    }
    unlock();
}

static void inner_put(struct inner *in)
{
    in->kind = 0;
    lock();
    if (pool.nfree_inners >= inners_needed() + SPARE_NODES) {
        pool.ninners--;
        free(in);
    } else {
        *(struct inner **)(void *)in = pool.free_inners;
        pool.free_inners = in;
        pool.nfree_inners++;
    }
    unlock();
}

static void note_height(unsigned h)
{
    lock();
    if (h > pool.max_height)
        pool.max_height = h;
    unlock();
}

void wm_region_pool_stats(struct wm_region_pool_stats *s)
{
    lock();
    s->live = pool.live;
    s->pending = pool.pending;
    s->chunks = pool.nchunks;
    s->leaves = pool.nleaves;
    s->inners = pool.ninners;
    s->free_leaves = pool.nfree_leaves;
    s->free_inners = pool.nfree_inners;
    /* The directories: the current one and each half-size copy before it. */
    size_t dirs = dir_cap ? 1 + ndir_old : 0, dir_bytes = dir_cap ? (2 * dir_cap - 64) * sizeof(void *) : 0;
    s->blocks = pool.nchunks + pool.nleaves + pool.ninners + dirs + (pool.by_addr != NULL) +
                (pool.free_index != NULL);
    s->bytes = pool.nchunks * sizeof(struct chunk) + pool.nleaves * sizeof(struct leaf) +
               pool.ninners * sizeof(struct inner) + dir_bytes + pool.cap_by_addr * sizeof *pool.by_addr +
               pool.cap_free_index * sizeof *pool.free_index;
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
static inline unsigned leaf_upper(const struct leaf *l, uintptr_t a)
{
    struct chunk *const *d = directory();
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
    const void *n = t->root;
    for (unsigned d = 1; d < t->height; d++) {
        const struct inner *in = n;
        n = in->child[inner_upper(in, addr)];
    }
    const struct leaf *l = n;
    unsigned j = leaf_upper(l, addr);
    if (!j)
        return NULL;
    struct wm_region *r = rec(l->id[j - 1]);
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
    struct path p;
    struct leaf *l = descend(t, addr, &p);
    unsigned j = leaf_upper(l, addr);
    if (j) {
        struct wm_region *r = rec(l->id[j - 1]);
        if (addr < r->end) {
            set_hint(t, r);
            return r;
        }
        return r->next ? rec(r->next) : NULL;
    }
    return rec(l->id[0]); /* addr is below every region */
}

struct wm_region *wm_region_next(const struct wm_region_table *t, const struct wm_region *r)
{
    (void)t;
    return r->next ? rec(r->next) : NULL;
}

struct wm_region *wm_region_prev(const struct wm_region_table *t, const struct wm_region *r)
{
    if (!t->root || !r->start)
        return NULL;
    /* The last region starting at or below start - 1: the descent ends in
     * a leaf holding it, if there is one (see descend). */
    struct path p;
    struct leaf *l = descend(t, r->start - 1, &p);
    unsigned j = leaf_upper(l, r->start - 1);
    return j ? rec(l->id[j - 1]) : NULL;
}

int wm_region_overlaps(const struct wm_region_table *t, uintptr_t start, uintptr_t end)
{
    struct wm_region *r = wm_region_first_from(t, start);
    return r && r->start < end;
}

/* ---- Inserting ---- */

/* Put (key, child) into the parents on p, splitting them as needed. */
static void insert_above(struct wm_region_table *t, struct path *p, uintptr_t key, void *child)
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
        struct inner *right = inner_get();
        in->n = (uint16_t)m;
        memcpy(in->key, keys, (m - 1) * sizeof *keys);
        memcpy(in->child, kids, m * sizeof *kids);
        right->n = (uint16_t)(FANOUT + 1 - m);
        memcpy(right->key, keys + m, (FANOUT - m) * sizeof *keys);
        memcpy(right->child, kids + m, (FANOUT + 1 - m) * sizeof *kids);
        key = keys[m - 1];
        child = right;
    }
    struct inner *root = inner_get();
    root->n = 2;
    root->key[0] = key;
    root->child[0] = t->root;
    root->child[1] = child;
    t->root = (struct wm_node *)(void *)root;
    if (++t->height > MAX_HEIGHT)
        abort();
    note_height(t->height);
}

static void leaf_put_at(struct leaf *l, unsigned pos, uint32_t id)
{
    memmove(l->id + pos + 1, l->id + pos, (l->n - pos) * sizeof *l->id);
    l->id[pos] = id;
    l->n++;
}

void wm_region_insert(struct wm_region_table *t, struct wm_region *r)
{
    uint32_t id = take_id(r);
    uintptr_t s = r->start, last0 = t->last[0], last1 = t->last[1];
    t->count++;
    t->last[1] = last0;
    t->last[0] = s;
    r->next = 0;
    if (!t->root) {
        struct leaf *l = leaf_get();
        l->n = 1;
        l->id[0] = id;
        t->root = (struct wm_node *)(void *)l;
        t->height = 1;
        note_height(1);
        return;
    }
    struct path p;
    struct leaf *l = descend(t, s, &p);
    unsigned pos = leaf_upper(l, s);
    /* Linked after the region before it; with none before, it is first (the
     * descent only ends at a leaf's front in the first leaf). */
    if (pos) {
        struct wm_region *pred = rec(l->id[pos - 1]);
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
    uintptr_t pred = pos > 0 ? start_of(l->id[pos - 1]) : 0;
    uintptr_t succ = pos < l->n ? start_of(l->id[pos]) : turn >= 0 ? p.node[turn]->key[p.idx[turn]] : 0;
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
    struct leaf *right = leaf_get();
    l->n = (uint16_t)m;
    memcpy(l->id, ids, m * sizeof *ids);
    right->n = (uint16_t)(LEAF_CAP + 1 - m);
    memcpy(right->id, ids + m, right->n * sizeof *ids);
    insert_above(t, &p, start_of(right->id[0]), right);
}

struct wm_region *wm_region_split_at(struct wm_region_table *t, struct wm_region *r, uintptr_t addr)
{
    struct wm_region *hi = wm_region_alloc();
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
static void rebalance(struct wm_region_table *t, struct path *p, struct leaf *leaf)
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
                leaf_put(n);
            else
                inner_put(n);
        } else if (cnt < cap / 2 && par->n > 1) {
            unsigned a = i ? i - 1 : i, b = a + 1; /* siblings a, b: b into a */
            if (is_leaf) {
                struct leaf *la = par->child[a], *lb = par->child[b];
                if (la->n + lb->n > LEAF_CAP)
                    return;
                memcpy(la->id + la->n, lb->id, lb->n * sizeof *lb->id);
                la->n = (uint16_t)(la->n + lb->n);
                leaf_put(lb);
            } else {
                struct inner *ia = par->child[a], *ib = par->child[b];
                if (ia->n + ib->n > FANOUT)
                    return;
                ia->key[ia->n - 1] = par->key[a];
                memcpy(ia->key + ia->n, ib->key, (ib->n - 1u) * sizeof *ib->key);
                memcpy(ia->child + ia->n, ib->child, ib->n * sizeof *ib->child);
                ia->n = (uint16_t)(ia->n + ib->n);
                inner_put(ib);
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
        inner_put(old);
    }
    if (t->height == 1 && !((struct leaf *)(void *)t->root)->n) {
        leaf_put((struct leaf *)(void *)t->root);
        t->root = NULL;
        t->height = 0;
    }
}

void wm_region_remove(struct wm_region_table *t, struct wm_region *r)
{
    uintptr_t s = r->start;
    struct path p;
    struct leaf *l = descend(t, s, &p);
    unsigned pos = leaf_upper(l, s);
    if (!pos || rec(l->id[pos - 1]) != r)
        abort(); /* r is not in t */
    pos--;
    if (atomic_load_explicit(&t->hint, memory_order_relaxed) == r)
        atomic_store_explicit(&t->hint, NULL, memory_order_relaxed);
    /* Unlinked from the region before it: in this leaf, or last in the leaf
     * before. */
    struct wm_region *pred = NULL;
    if (pos) {
        pred = rec(l->id[pos - 1]);
    } else {
        for (int d = (int)p.depth - 1; d >= 0; d--)
            if (p.idx[d]) {
                void *n = p.node[d]->child[p.idx[d] - 1];
                for (unsigned e = (unsigned)d + 1; e < p.depth; e++)
                    n = ((struct inner *)n)->child[((struct inner *)n)->n - 1];
                struct leaf *pl = n;
                pred = rec(pl->id[pl->n - 1]);
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
        next = start_of(l->id[1]);
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
    rebalance(t, &p, l);
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
};

static bool live_record(uint32_t id)
{
    if (!id)
        return false;
    uint32_t x = id - 1;
    lock();
    struct chunk *c = x / CHUNK_RECS < dir_cap ? directory()[x / CHUNK_RECS] : NULL;
    bool ok = c && test_bit(c->live, x % CHUNK_RECS) && !test_bit(c->pending, x % CHUNK_RECS);
    unlock();
    return ok;
}

/* Checks the subtree n at depth d; returns its lowest start. */
static uintptr_t check_node(const void *n, size_t d, bool root, struct check_state *s)
{
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
            if (!live_record(l->id[i])) {
                s->err = "leaf names a record not live in the pool";
                break;
            }
            const struct wm_region *r = rec(l->id[i]);
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
        return s->err ? 0 : start_of(l->id[0]);
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
        unsigned j = leaf_upper(l, h->start);
        if (!j || rec(l->id[j - 1]) != h)
            s.err = "the lookup hint is not a region of the table";
    }
    return s.err;
}
