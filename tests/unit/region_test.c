/* Unit tests of the region table (src/win32/region.c), which compiles without
 * windows.h and so runs natively as well as under Wine. */
#include "win32/region.h"

#include <CUnit/Basic.h>
#include <CUnit/CUnit.h>
#include <stdio.h>
#include <stdlib.h>

#define PG 4096u

static int dups;
static void count_dup(struct wm_region *r)
{
    (void)r;
    dups++;
}

static struct wm_region *mk(uintptr_t start, uintptr_t end)
{
    struct wm_region *r = calloc(1, sizeof *r);
    r->start = r->vstart = start;
    r->end = r->vend = end;
    r->prot = 1;
    return r;
}

static void free_all(struct wm_region_table *t)
{
    while (t->root) {
        struct wm_region *r = t->root;
        wm_region_remove(t, r);
        free(r);
    }
}

#define CHECK(t)                                                                                   \
    do {                                                                                           \
        const char *e = wm_region_check((t), PG);                                                  \
        if (e)                                                                                     \
            CU_FAIL_FATAL(e);                                                                      \
        CU_PASS("table sound");                                                                    \
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
    CU_ASSERT_EQUAL(wm_region_try_merge_next(&t, a, (void (*)(struct wm_region *))free), 0);
    b->prot = a->prot;
    CU_ASSERT_EQUAL(wm_region_try_merge_next(&t, a, (void (*)(struct wm_region *))free), 1);
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

/* Random inserts and removals against a bitmap model; the tree stays
 * balanced (checked) and agrees with the model. */
static void random_operations_agree_with_a_model(void)
{
    enum { SLOTS = 4096 };
    static struct wm_region *model[SLOTS];
    struct wm_region_table t = {0};
    unsigned seed = 12345;
    for (int step = 0; step < 50000; step++) {
        seed = seed * 1103515245u + 12345u;
        unsigned s = (seed >> 8) % SLOTS;
        if (model[s]) {
            wm_region_remove(&t, model[s]);
            free(model[s]);
            model[s] = NULL;
        } else {
            model[s] = mk((uintptr_t)(s + 1) * PG, (uintptr_t)(s + 2) * PG);
            wm_region_insert(&t, model[s]);
        }
        if (step % 5000 == 0)
            CHECK(&t);
    }
    CHECK(&t);
    size_t n = 0, bad = 0;
    for (unsigned s = 0; s < SLOTS; s++) {
        n += model[s] != NULL;
        if (wm_region_find(&t, (uintptr_t)(s + 1) * PG + 5) != model[s])
            bad++;
    }
    CU_ASSERT_EQUAL(t.count, n);
    CU_ASSERT_EQUAL(bad, 0);
    free_all(&t);
    for (unsigned s = 0; s < SLOTS; s++)
        model[s] = NULL;
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
    CU_add_test(s, "random inserts and removals agree with a model", random_operations_agree_with_a_model);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned failed = CU_get_number_of_tests_failed();
    unsigned run = CU_get_number_of_tests_run();
    printf("\nunit: %u passed, %u failed, 0 skipped\n", run - failed, failed);
    CU_cleanup_registry();
    return failed ? 1 : 0;
}
