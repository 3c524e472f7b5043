/* Unit tests of the region table (src/win32/region.c), which compiles without
 * windows.h and so runs natively as well as under Wine. */
#include "win32/region.h"

#include <CUnit/Basic.h>
#include <CUnit/CUnit.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#if defined(__GLIBC__)
#include <malloc.h>
#endif

#define PG 4096u

static int dups;
static void count_dup(struct wm_region *r)
{
    (void)r;
    dups++;
}

/* A record for table t (from t's pool). */
static struct wm_region *mk_in(const struct wm_region_table *t, uintptr_t start, uintptr_t end)
{
    struct wm_region *r = wm_region_alloc(t);
    CU_ASSERT_PTR_NOT_NULL_FATAL(r);
    r->start = r->vstart = start;
    r->end = r->vend = end;
    r->prot = 1;
    return r;
}

/* A record of the main pool, for any table that is not small. */
static const struct wm_region_table any_table;
static struct wm_region *mk(uintptr_t start, uintptr_t end)
{
    return mk_in(&any_table, start, end);
}

static void free_all(struct wm_region_table *t)
{
    struct wm_region *r;
    while ((r = wm_region_first_from(t, 0))) {
        wm_region_remove(t, r);
        wm_region_dispose(r);
    }
    CU_ASSERT_EQUAL(t->count, 0);
    CU_ASSERT_PTR_NULL(t->root);
}

#define CHECK(t)                                                                                   \
    do {                                                                                           \
        const char *e = wm_region_check((t), PG);                                                  \
        if (e) {                                                                                   \
            printf("\n  self-check: %s\n", e);                                                     \
            CU_FAIL_FATAL(e);                                                                      \
        }                                                                                          \
        CU_PASS("table sound");                                                                    \
    } while (0)

/* Fails with both values shown. */
#define EXPECT_EQ(what, got, want)                                                                 \
    do {                                                                                           \
        unsigned long long g_ = (unsigned long long)(got), w_ = (unsigned long long)(want);        \
        if (g_ != w_) {                                                                            \
            printf("\n  %s: got %llu, want %llu\n", what, g_, w_);                                 \
            CU_FAIL_FATAL(what);                                                                   \
        }                                                                                          \
    } while (0)

static void find_returns_the_containing_region(void)
{
    struct wm_region_table t = {0};
    for (uintptr_t i = 0; i < 100; i++)
        wm_region_insert(&t, mk((2 * i + 1) * PG, (2 * i + 2) * PG));
    CHECK(&t);
    CU_ASSERT_EQUAL(t.count, 100);
    CU_ASSERT_PTR_NULL(wm_region_find(&t, 0));
    CU_ASSERT_PTR_NULL(wm_region_find(&t, 2 * PG));
    struct wm_region *r = wm_region_find(&t, 5 * PG + 17);
    CU_ASSERT_PTR_NOT_NULL_FATAL(r);
    CU_ASSERT_EQUAL(r->start, 5 * PG);
    CU_ASSERT_EQUAL(wm_region_first_from(&t, 6 * PG)->start, 7 * PG);
    CU_ASSERT_EQUAL(wm_region_next(&t, r)->start, 7 * PG);
    CU_ASSERT_EQUAL(wm_region_prev(&t, r)->start, 3 * PG);
    CU_ASSERT_TRUE(wm_region_overlaps(&t, 2 * PG, 4 * PG));
    CU_ASSERT_FALSE(wm_region_overlaps(&t, 2 * PG, 3 * PG));
    free_all(&t);
}

static void split_keeps_both_halves_and_offsets(void)
{
    struct wm_region_table t = {.on_dup = count_dup};
    struct wm_region *r = mk(10 * PG, 20 * PG);
    r->offset = 3 * PG;
    wm_region_insert(&t, r);
    dups = 0;
    struct wm_region *hi = wm_region_split_at(&t, r, 14 * PG);
    CU_ASSERT_PTR_NOT_NULL_FATAL(hi);
    CHECK(&t);
    CU_ASSERT_EQUAL(dups, 1);
    CU_ASSERT_EQUAL(r->end, 14 * PG);
    CU_ASSERT_EQUAL(hi->start, 14 * PG);
    CU_ASSERT_EQUAL(hi->end, 20 * PG);
    CU_ASSERT_EQUAL(hi->offset, 7 * PG);
    CU_ASSERT_PTR_EQUAL(wm_region_find(&t, 15 * PG), hi);
    free_all(&t);
}

static void merge_joins_only_equal_neighbours(void)
{
    struct wm_region_table t = {0};
    struct wm_region *a = mk(0, 4 * PG);
    wm_region_insert(&t, a);
    struct wm_region *b = wm_region_split_at(&t, a, 2 * PG);
    b->prot = 3;
    CU_ASSERT_EQUAL(wm_region_try_merge_next(&t, a, wm_region_dispose), 0);
    b->prot = a->prot;
    CU_ASSERT_EQUAL(wm_region_try_merge_next(&t, a, wm_region_dispose), 1);
    CU_ASSERT_EQUAL(t.count, 1);
    CU_ASSERT_EQUAL(a->end, 4 * PG);
    CHECK(&t);
    free_all(&t);
}

static void check_detects_overlap_and_misalignment(void)
{
    struct wm_region_table t = {0};
    struct wm_region *a = mk(0, 4 * PG), *b = mk(8 * PG, 12 * PG);
    wm_region_insert(&t, a);
    wm_region_insert(&t, b);
    CU_ASSERT_PTR_NULL(wm_region_check(&t, PG));
    a->end = 9 * PG;
    CU_ASSERT_PTR_NOT_NULL(wm_region_check(&t, PG));
    a->end = 4 * PG + 1;
    CU_ASSERT_PTR_NOT_NULL(wm_region_check(&t, PG));
    a->end = 4 * PG;
    t.count = 3;
    CU_ASSERT_PTR_NOT_NULL(wm_region_check(&t, PG));
    t.count = 2;
    free_all(&t);
}

/* A stale separator (one no longer equal to the first start on its right)
 * is found too. */
static void check_detects_a_stale_separator(void)
{
    struct wm_region_table t = {0};
    for (uintptr_t i = 0; i < 1000; i++)
        wm_region_insert(&t, mk((2 * i + 1) * PG, (2 * i + 2) * PG));
    CHECK(&t);
    CU_ASSERT_TRUE_FATAL(t.height >= 2);
    struct wm_region *last = wm_region_prev(&t, &(struct wm_region){.start = 4000 * PG});
    CU_ASSERT_PTR_NOT_NULL_FATAL(last);
    /* Move the first region of the second leaf down by a page: still in
     * order, but the separator above it now names the wrong start. */
    struct wm_region *r = wm_region_first_from(&t, 0);
    while (r && wm_region_check(&t, PG) == NULL) {
        struct wm_region *n = wm_region_next(&t, r);
        if (!n)
            break;
        n->start -= PG;
        if (wm_region_check(&t, PG))
            break;
        n->start += PG;
        r = n;
    }
    const char *e = wm_region_check(&t, PG);
    CU_ASSERT_PTR_NOT_NULL_FATAL(e);
    CU_ASSERT_STRING_EQUAL(e, "separator is not the lowest start on its right");
    wm_region_next(&t, r)->start += PG;
    CHECK(&t);
    free_all(&t);
}

/* The lookup hint (the region found last) is forgotten with its region:
 * the pool hands the same record out again at once, for another range. */
static void a_removed_region_is_not_found_through_the_hint(void)
{
    struct wm_region_table t = {0};
    for (uintptr_t i = 0; i < 200; i++)
        wm_region_insert(&t, mk((4 * i + 1) * PG, (4 * i + 3) * PG));
    struct wm_region *r = wm_region_find(&t, 41 * PG);
    CU_ASSERT_PTR_NOT_NULL_FATAL(r);
    CU_ASSERT_PTR_EQUAL(wm_region_first_from(&t, 42 * PG), r);
    wm_region_remove(&t, r);
    wm_region_dispose(r);
    CHECK(&t);
    CU_ASSERT_PTR_NULL(wm_region_find(&t, 41 * PG));
    CU_ASSERT_EQUAL(wm_region_first_from(&t, 41 * PG)->start, 45 * PG);
    struct wm_region *x = mk(1000 * PG, 1001 * PG);
    CU_ASSERT_PTR_EQUAL(x, r); /* the same record, reused */
    wm_region_insert(&t, x);
    CU_ASSERT_PTR_NULL(wm_region_find(&t, 41 * PG));
    CU_ASSERT_PTR_EQUAL(wm_region_find(&t, 1000 * PG), x);
    /* split and merge change the hinted region's end in place */
    struct wm_region *a = wm_region_find(&t, 1 * PG);
    struct wm_region *hi = wm_region_split_at(&t, a, 2 * PG);
    CU_ASSERT_PTR_EQUAL(wm_region_find(&t, 2 * PG), hi);
    CU_ASSERT_PTR_EQUAL(wm_region_find(&t, 1 * PG), a);
    CU_ASSERT_EQUAL(wm_region_try_merge_next(&t, a, wm_region_dispose), 1);
    CU_ASSERT_PTR_EQUAL(wm_region_find(&t, 2 * PG), a);
    CHECK(&t);
    free_all(&t);
}

/* ---- Against a model: a sorted array of the regions ---- */

struct model {
    struct wm_region *r[20000];
    uintptr_t start[20000], end[20000], vstart[20000];
    size_t n;
};

static unsigned long long rng_state;
static unsigned rnd(unsigned n)
{
    rng_state = rng_state * 6364136223846793005ull + 1442695040888963407ull;
    return (unsigned)((rng_state >> 33) % n);
}

/* Index of the first model region with end > a. */
static size_t model_first_from(const struct model *m, uintptr_t a)
{
    size_t lo = 0, n = m->n;
    while (n) {
        size_t h = n / 2;
        if (m->end[lo + h] <= a) {
            lo += h + 1;
            n -= h + 1;
        } else {
            n = h;
        }
    }
    return lo;
}

static void model_insert_at(struct model *m, size_t i, struct wm_region *r)
{
    memmove(m->r + i + 1, m->r + i, (m->n - i) * sizeof *m->r);
    memmove(m->start + i + 1, m->start + i, (m->n - i) * sizeof *m->start);
    memmove(m->end + i + 1, m->end + i, (m->n - i) * sizeof *m->end);
    memmove(m->vstart + i + 1, m->vstart + i, (m->n - i) * sizeof *m->vstart);
    m->r[i] = r;
    m->start[i] = r->start;
    m->end[i] = r->end;
    m->vstart[i] = r->vstart;
    m->n++;
}

static void model_remove_at(struct model *m, size_t i)
{
    m->n--;
    memmove(m->r + i, m->r + i + 1, (m->n - i) * sizeof *m->r);
    memmove(m->start + i, m->start + i + 1, (m->n - i) * sizeof *m->start);
    memmove(m->end + i, m->end + i + 1, (m->n - i) * sizeof *m->end);
    memmove(m->vstart + i, m->vstart + i + 1, (m->n - i) * sizeof *m->vstart);
}

/* The table and the model hold the same regions, the same records, in the
 * same order; each region's fields are what the model recorded. */
static void agree(const struct wm_region_table *t, const struct model *m)
{
    EXPECT_EQ("count", t->count, m->n);
    size_t i = 0;
    for (struct wm_region *r = wm_region_first_from(t, 0); r; r = wm_region_next(t, r), i++) {
        if (i >= m->n || r != m->r[i] || r->start != m->start[i] || r->end != m->end[i]) {
            printf("\n  region %zu differs from the model\n", i);
            CU_FAIL_FATAL("walk differs from the model");
        }
    }
    EXPECT_EQ("regions walked", i, m->n);
}

/* One random step on the table and the model, in pages [1, space). */
static void random_step(struct wm_region_table *t, struct model *m, unsigned space, unsigned grow)
{
    unsigned op = rnd(100);
    if (op < grow || m->n == 0) { /* insert */
        uintptr_t s = (uintptr_t)(1 + rnd(space - 9)) * PG;
        size_t i = model_first_from(m, s);
        if (i < m->n && m->start[i] <= s)
            return; /* taken */
        uintptr_t e = s + (uintptr_t)(1 + rnd(8)) * PG;
        if (i < m->n && m->start[i] < e)
            e = m->start[i];
        struct wm_region *r = mk(s, e);
        r->offset = s; /* so that split halves may merge back */
        wm_region_insert(t, r);
        model_insert_at(m, i, r);
    } else if (op < grow + 25) { /* remove */
        size_t i = rnd((unsigned)m->n);
        struct wm_region *r = m->r[i];
        wm_region_remove(t, r);
        wm_region_dispose(r);
        model_remove_at(m, i);
    } else if (op < grow + 40) { /* split */
        size_t i = rnd((unsigned)m->n);
        struct wm_region *r = m->r[i];
        size_t pages = (r->end - r->start) / PG;
        if (pages < 2)
            return;
        uintptr_t a = r->start + (1 + rnd((unsigned)pages - 1)) * PG;
        struct wm_region *hi = wm_region_split_at(t, r, a);
        CU_ASSERT_PTR_NOT_NULL_FATAL(hi);
        m->end[i] = a;
        model_insert_at(m, i + 1, hi);
    } else { /* merge with the next, where the model says they join */
        size_t i = rnd((unsigned)m->n);
        struct wm_region *r = m->r[i];
        int joins = i + 1 < m->n && m->start[i + 1] == m->end[i] && m->vstart[i + 1] == m->vstart[i];
        int merged = wm_region_try_merge_next(t, r, wm_region_dispose);
        EXPECT_EQ("merged", merged, joins);
        if (merged) {
            m->end[i] = m->end[i + 1];
            model_remove_at(m, i + 1);
        }
    }
}

static void lookups_agree(const struct wm_region_table *t, const struct model *m, unsigned space)
{
    for (int k = 0; k < 8; k++) {
        uintptr_t a = (uintptr_t)rnd(space) * PG + rnd(PG);
        size_t i = model_first_from(m, a);
        struct wm_region *want_first = i < m->n ? m->r[i] : NULL;
        struct wm_region *want_find = want_first && m->start[i] <= a ? want_first : NULL;
        if (wm_region_first_from(t, a) != want_first || wm_region_find(t, a) != want_find)
            CU_FAIL_FATAL("lookup differs from the model");
        if (want_first) {
            struct wm_region *want_prev = i ? m->r[i - 1] : NULL;
            if (wm_region_prev(t, want_first) != want_prev)
                CU_FAIL_FATAL("prev differs from the model");
        }
    }
}

static struct model the_model;

static void drain(struct wm_region_table *t, struct model *m)
{
    while (m->n) {
        wm_region_remove(t, m->r[m->n - 1]);
        wm_region_dispose(m->r[m->n - 1]);
        m->n--;
    }
    CHECK(t);
    EXPECT_EQ("count after draining", t->count, 0);
}

/* Thousands of random inserts, removals, splits and merges, the table
 * checked after every one and compared with the model. */
static void random_operations_agree_with_a_model(void)
{
    static const unsigned long long seeds[] = {1, 12345, 777, 31337, 20260101};
    struct model *m = &the_model;
    for (size_t s = 0; s < sizeof seeds / sizeof *seeds; s++) {
        struct wm_region_table t = {0};
        rng_state = seeds[s];
        m->n = 0;
        for (int step = 0; step < 4000; step++) {
            random_step(&t, m, 3000, step < 2000 ? 45 : 25);
            CHECK(&t);
            lookups_agree(&t, m, 3000);
            if (step % 50 == 0)
                agree(&t, m);
        }
        agree(&t, m);
        drain(&t, m);
    }
}

/* The same at a scale where the tree has three levels and inner nodes split
 * and merge: grow to ~12 000 regions, shrink to a few, grow again. */
static void random_operations_on_a_deep_tree_agree_with_a_model(void)
{
    struct model *m = &the_model;
    struct wm_region_table t = {0};
    rng_state = 4242;
    m->n = 0;
    unsigned max_height = 0;
    for (int phase = 0; phase < 3; phase++) {
        unsigned target = phase == 1 ? 50 : 12000;
        for (int step = 0; step < 200000 && (phase == 1 ? m->n > target : m->n < target); step++) {
            random_step(&t, m, 120000, phase == 1 ? 5 : 70);
            lookups_agree(&t, m, 120000);
            if (step % 500 == 0) {
                CHECK(&t);
                agree(&t, m);
            }
            if (t.height > max_height)
                max_height = t.height;
        }
        CHECK(&t);
        agree(&t, m);
    }
    CU_ASSERT_TRUE(max_height >= 3);
    drain(&t, m);
}

/* ---- Scale, memory, stability ---- */

#define MANY 100000
static struct wm_region *many[MANY];

static void insert_run(struct wm_region_table *t, size_t from, size_t to, int down)
{
    for (size_t k = from; k < to; k++) {
        size_t i = down ? MANY - 1 - k : k;
        /* a page apart, as one-page mappings with guard gaps */
        many[i] = mk((2 * i + 16) * PG, (2 * i + 17) * PG);
        wm_region_insert(t, many[i]);
    }
}

static void finds_all(const struct wm_region_table *t)
{
    size_t bad = 0;
    for (size_t i = 0; i < MANY; i++)
        if (wm_region_find(t, (2 * i + 16) * PG + 7) != many[i] || wm_region_find(t, (2 * i + 17) * PG))
            bad++;
    EXPECT_EQ("regions not found", bad, 0);
}

static void ascending_inserts_of_100000_regions_stay_sound(void)
{
    struct wm_region_table t = {0};
    insert_run(&t, 0, MANY, 0);
    CHECK(&t);
    EXPECT_EQ("count", t.count, MANY);
    finds_all(&t);
    CU_ASSERT_TRUE(t.height <= 3);
    free_all(&t);
}

static void descending_inserts_of_100000_regions_stay_sound(void)
{
    struct wm_region_table t = {0};
    insert_run(&t, 0, MANY, 1);
    CHECK(&t);
    EXPECT_EQ("count", t.count, MANY);
    finds_all(&t);
    CU_ASSERT_TRUE(t.height <= 3);
    free_all(&t);
}

/* Heap bytes in use: natively what glibc's malloc says (its own overhead
 * included); elsewhere the pool's own count plus 16 bytes a block, the
 * 64-bit Windows heap's header. */
static size_t heap_now(void)
{
#if defined(__GLIBC__) && (__GLIBC__ > 2 || __GLIBC_MINOR__ >= 33)
    return mallinfo2().uordblks;
#else
    struct wm_region_pool_stats s;
    wm_region_pool_stats(NULL, &s);
    return s.bytes + 16 * s.blocks;
#endif
}

/* As the bench measures: the heap's growth from 1 000 live regions to
 * 10 000, and from there to 100 000, per region. */
static void measure_bytes(int order, double *per_10k, double *per_100k)
{
    struct wm_region_table t = {0};
    static size_t perm[MANY];
    for (size_t i = 0; i < MANY; i++)
        perm[i] = i;
    rng_state = 99;
    for (size_t i = MANY - 1; i > 0; i--) {
        size_t j = rnd((unsigned)i + 1), x = perm[i];
        perm[i] = perm[j];
        perm[j] = x;
    }
    size_t h[3], at[3] = {1000, 10000, MANY}, k = 0;
    for (int lvl = 0; lvl < 3; lvl++) {
        for (; k < at[lvl]; k++) {
            /* 3: pairs going down, each pair upwards (+1, -3, +1, ...), as
             * Wine 10 places one-page private mappings in the legacy strategy */
            size_t i = order == 0   ? k
                       : order == 1 ? MANY - 1 - k
                       : order == 2 ? perm[k]
                                    : MANY - 2 - 2 * (k / 2) + k % 2;
            many[i] = mk((2 * i + 16) * PG, (2 * i + 17) * PG);
            wm_region_insert(&t, many[i]);
        }
        h[lvl] = heap_now();
    }
    CHECK(&t);
    *per_10k = (double)(h[1] - h[0]) / (double)(at[1] - at[0]);
    *per_100k = (double)(h[2] - h[1]) / (double)(at[2] - at[1]);
    free_all(&t);
}

static void heap_bytes_per_region_are_within_the_budget(void)
{
    static const char *names[] = {"ascending", "descending", "random", "pairs downwards"};
    static const double budget[] = {64, 64, 80, 64};
    for (int order = 0; order < 4; order++) {
        double a, b;
        measure_bytes(order, &a, &b);
        printf("\n  %s: %.1f heap bytes per region from 1 000 to 10 000, %.1f to 100 000 (budget %.0f)",
               names[order], a, b, budget[order]);
        if (a > budget[order] || b > budget[order])
            CU_FAIL("heap bytes per region over the budget");
    }
    printf("\n");
}

/* A record keeps its address, and its contents, while others come and go
 * around it: inserts that split its leaf, removals that merge it. */
static void records_keep_their_address_while_others_change(void)
{
    struct wm_region_table t = {0};
    struct wm_region *keep[64];
    for (size_t i = 0; i < 64; i++) {
        keep[i] = mk((1000 * i + 500) * PG, (1000 * i + 501) * PG);
        keep[i]->offset = 0xabc000 + i;
        wm_region_insert(&t, keep[i]);
    }
    rng_state = 5;
    static struct wm_region *others[60000];
    size_t n = 0;
    for (int round = 0; round < 2; round++) {
        for (size_t i = 0; i < 64 * 1000; i++) {
            if (i % 1000 == 500)
                continue;
            others[n++] = mk((uintptr_t)i * PG, (uintptr_t)(i + 1) * PG);
            wm_region_insert(&t, others[n - 1]);
            if (n == sizeof others / sizeof *others)
                break;
        }
        CHECK(&t);
        while (n) { /* removal in random order */
            size_t j = rnd((unsigned)n);
            wm_region_remove(&t, others[j]);
            wm_region_dispose(others[j]);
            others[j] = others[--n];
        }
        CHECK(&t);
        for (size_t i = 0; i < 64; i++) {
            if (wm_region_find(&t, (1000 * i + 500) * PG) != keep[i] || keep[i]->offset != 0xabc000 + i ||
                keep[i]->start != (1000 * i + 500) * PG)
                CU_FAIL_FATAL("a record moved or changed");
        }
    }
    free_all(&t);
}

/* wm_region_insert cannot fail: the records allocated beforehand set aside
 * every node their inserts take, so inserting allocates nothing. */
static void inserting_allocated_records_allocates_nothing(void)
{
    struct wm_region_table t = {0}, u = {0};
    static struct wm_region *rs[5000];
    for (size_t i = 0; i < 3000; i++) { /* a table tall enough to matter */
        wm_region_insert(&u, mk((3 * i + 1) * PG, (3 * i + 2) * PG));
    }
    for (size_t i = 0; i < 5000; i++)
        rs[i] = mk((3 * i + 2) * PG, (3 * i + 3) * PG);
    struct wm_region_pool_stats before, after;
    wm_region_pool_stats(&t, &before);
    EXPECT_EQ("pending records", before.pending, 5000);
    /* Linear in the pending records (the tree here is 2 inner levels tall):
     * the bound once grew with their square (420 000 nodes, 430 MB). */
    if (before.inners > 5000 * 8)
        CU_FAIL("more than 8 inner nodes set aside per pending record");
    for (size_t i = 0; i < 5000; i++) { /* into two tables, unevenly */
        wm_region_insert(i % 3 ? &t : &u, rs[(i * 7919) % 5000]);
        wm_region_pool_stats(&t, &after);
        if (after.leaves > before.leaves || after.inners > before.inners)
            CU_FAIL_FATAL("more nodes than were set aside");
    }
    EXPECT_EQ("nodes taken that were not set aside", after.unplanned, before.unplanned);
    EXPECT_EQ("pending records after", after.pending, 0);
    CHECK(&t);
    CHECK(&u);
    free_all(&t);
    free_all(&u);
}

/* Both pools' memory, or failure with what is left. */
static void pools_hold_nothing(const char *when)
{
    struct wm_region_pool_stats s;
    wm_region_pool_stats(NULL, &s);
    if (s.live || s.blocks || s.bytes) {
        printf("\n  %s: the pools hold %zu records (%zu pending), %zu heap blocks, %zu bytes: %zu chunks, "
               "%zu leaves (%zu free), %zu inner nodes (%zu free)\n",
               when, s.live, s.pending, s.blocks, s.bytes, s.chunks, s.leaves, s.free_leaves, s.inners,
               s.free_inners);
        CU_FAIL_FATAL("memory kept by an empty pool");
    }
}

/* What tests/diff checks after every seed: once every table is empty (and no
 * record is pending), every chunk, node and directory is back on the heap
 * (counted by the pool: glibc's own count keeps freed blocks in its caches),
 * also after tables tall enough for inner nodes and directories that grew,
 * splits, records never inserted, and a small table beside a big one. */
static void emptied_tables_give_all_memory_back(void)
{
    pools_hold_nothing("before the test (every test before empties its tables)");
    for (int round = 0; round < 2; round++) {
        struct wm_region_table t = {0}, s = {.small = 1};
        insert_run(&t, 0, 20000, round);
        for (uintptr_t i = 0; i < 2000; i++) { /* three-page regions, split */
            struct wm_region *r = mk((3000000 + 4 * i) * PG, (3000003 + 4 * i) * PG);
            wm_region_insert(&t, r);
            CU_ASSERT_PTR_NOT_NULL_FATAL(wm_region_split_at(&t, r, r->start + PG));
        }
        for (uintptr_t i = 0; i < 300; i++)
            wm_region_insert(&s, mk_in(&s, (1000000 + 3 * i) * PG, (1000001 + 3 * i) * PG));
        struct wm_region *never[2] = {wm_region_alloc(&t), wm_region_alloc(&s)};
        CU_ASSERT_PTR_NOT_NULL_FATAL(never[0]);
        CU_ASSERT_PTR_NOT_NULL_FATAL(never[1]);
        CHECK(&t);
        CHECK(&s);
        wm_region_dispose(never[0]);
        wm_region_dispose(never[1]);
        free_all(&t);
        free_all(&s);
        pools_hold_nothing("after emptying every table");
    }
}

/* A small table's records have a pool of their own: when the big table
 * empties, all of its memory goes back although the small one keeps
 * entries, and what the small one holds depends on its entries, not on how
 * many it had meanwhile (chunks and free nodes come and go with use). */
static void a_small_table_keeps_no_memory_of_the_big_one(void)
{
    pools_hold_nothing("before the test");
    struct wm_region_table t = {0}, s = {.small = 1};
    static struct wm_region *extra[400];
    for (uintptr_t i = 0; i < 100; i++)
        wm_region_insert(&s, mk_in(&s, (1000000 + 3 * i) * PG, (1000001 + 3 * i) * PG));
    struct wm_region_pool_stats s0, s1, b1;
    wm_region_pool_stats(&s, &s0);
    rng_state = 77;
    for (int round = 0; round < 3; round++) {
        size_t n = 0;
        for (size_t i = 0; i < 20000; i++) {
            many[i] = mk((2 * i + 16) * PG, (2 * i + 17) * PG);
            wm_region_insert(&t, many[i]);
            if (i % 50 == 0) { /* the small table grows too, in between */
                extra[n] = mk_in(&s, (2000000 + 2 * n) * PG, (2000001 + 2 * n) * PG);
                wm_region_insert(&s, extra[n]);
                n++;
            }
        }
        CHECK(&t);
        CHECK(&s);
        while (n) { /* back to its first entries, in random order */
            size_t j = rnd((unsigned)n);
            wm_region_remove(&s, extra[j]);
            wm_region_dispose(extra[j]);
            extra[j] = extra[--n];
        }
        free_all(&t);
        wm_region_pool_stats(&t, &b1);
        EXPECT_EQ("heap blocks of the big pool once its table is empty", b1.blocks, 0);
        EXPECT_EQ("heap bytes of the big pool once its table is empty", b1.bytes, 0);
        wm_region_pool_stats(&s, &s1);
        EXPECT_EQ("chunks of the small pool, as before", s1.chunks, s0.chunks);
        EXPECT_EQ("heap blocks of the small pool, as before", s1.blocks, s0.blocks);
        EXPECT_EQ("heap bytes of the small pool, as before", s1.bytes, s0.bytes);
    }
    CHECK(&s);
    free_all(&s);
    pools_hold_nothing("after emptying the small table");
}

/* A record of one pool cannot be inserted into a table of the other: the
 * self-check knows each table's pool. */
static void each_table_uses_the_records_of_its_pool(void)
{
    struct wm_region_table t = {0}, s = {.small = 1};
    struct wm_region *a = mk_in(&s, 4 * PG, 5 * PG), *b = mk(4 * PG, 5 * PG);
    wm_region_insert(&s, a);
    wm_region_insert(&t, b);
    CHECK(&s);
    CHECK(&t);
    CU_ASSERT_PTR_EQUAL(wm_region_find(&s, 4 * PG), a);
    CU_ASSERT_PTR_EQUAL(wm_region_find(&t, 4 * PG), b);
    free_all(&s);
    free_all(&t);
    pools_hold_nothing("after emptying both");
}

int main(void)
{
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 2;
    CU_pSuite s = CU_add_suite("region table", NULL, NULL);
    CU_add_test(s, "find returns the region containing an address", find_returns_the_containing_region);
    CU_add_test(s, "split keeps both halves and their offsets", split_keeps_both_halves_and_offsets);
    CU_add_test(s, "merge joins only equal, contiguous neighbours", merge_joins_only_equal_neighbours);
    CU_add_test(s, "the self-check detects overlap, misalignment and a wrong count",
                check_detects_overlap_and_misalignment);
    CU_add_test(s, "the self-check detects a stale separator", check_detects_a_stale_separator);
    CU_add_test(s, "a removed region is not found through the lookup hint",
                a_removed_region_is_not_found_through_the_hint);
    CU_add_test(s, "random inserts, removals, splits and merges agree with a model",
                random_operations_agree_with_a_model);
    CU_add_test(s, "random operations on a three-level tree agree with a model",
                random_operations_on_a_deep_tree_agree_with_a_model);
    CU_add_test(s, "ascending inserts of 100 000 regions stay sound and findable",
                ascending_inserts_of_100000_regions_stay_sound);
    CU_add_test(s, "descending inserts of 100 000 regions stay sound and findable",
                descending_inserts_of_100000_regions_stay_sound);
    CU_add_test(s, "heap bytes per region: at most 64 in address order (also in pairs), 80 in random order",
                heap_bytes_per_region_are_within_the_budget);
    CU_add_test(s, "a record keeps its address while others are inserted and removed",
                records_keep_their_address_while_others_change);
    CU_add_test(s, "inserting records already allocated allocates nothing",
                inserting_allocated_records_allocates_nothing);
    CU_add_test(s, "when every table is empty the pools hold no memory at all", emptied_tables_give_all_memory_back);
    CU_add_test(s, "a small table keeps no memory of the big one, nor of its own past",
                a_small_table_keeps_no_memory_of_the_big_one);
    CU_add_test(s, "each table uses the records of its own pool", each_table_uses_the_records_of_its_pool);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned failed = CU_get_number_of_tests_failed();
    unsigned run = CU_get_number_of_tests_run();
    printf("\nunit: %u passed, %u failed, 0 skipped\n", run - failed, failed);
    CU_cleanup_registry();
    return failed ? 1 : 0;
}
