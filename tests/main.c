/* The conformance suite's runner: registers every test of test-list.h with
 * CUnit (one suite per function), marks tests that cannot hold on this
 * platform inactive with a printed reason, runs them, and prints CUnit's
 * summary plus one closing line "N passed, N failed, N skipped". */
#include "runner.h"

#include <CUnit/Basic.h>
#include <stdlib.h>
#if WMT_HAVE_INFO
#include <winmmap.h>
#endif

#define WMT(suite, name, skip, rule) void test_##suite##__##name(void);
#include "test-list.h"
#undef WMT

const struct wmt_entry wmt_tests[] = {
#define WMT(suite, name, skip, rule) {#suite, #suite "/" #name, rule, test_##suite##__##name, skip},
#include "test-list.h"
#undef WMT
};
const size_t wmt_ntests = sizeof wmt_tests / sizeof wmt_tests[0];

int wmt_child_main(int argc, char **argv);

const char *wmt_skip_reason(const struct wmt_entry *t)
{
    static char buf[512];
    for (const struct wmt_unbuilt *u = wmt_unbuilt; u->fn; u++)
        if (u->fn == t->fn) {
            snprintf(buf, sizeof buf, "not built, skipped: %s", u->why);
            return buf;
        }
    return t->skip ? t->skip() : NULL;
}

/* The suite's closing line starts with this name. */
static const char *run_name(void)
{
#ifdef WMT_IMPL_NAME
    return WMT_IMPL_NAME;
#else
    return winmmap_strategy();
#endif
}

/* "suite/" selects exactly that suite (ctest runs one entry per suite; a
 * substring would let madvise/ also pick posix_madvise/), anything else is a
 * substring of "suite/name". */
static int selected(const char *id, const char *filter, int exact)
{
    if (!filter)
        return 1;
    if (exact)
        return strcmp(id, filter) == 0;
    size_t n = strlen(filter);
    if (n && filter[n - 1] == '/')
        return strncmp(id, filter, n) == 0;
    return strstr(id, filter) != NULL;
}

static int init_suite(void)
{
    return 0;
}

static int clean_suite(void)
{
    wmt_cleanup_files();
    return 0;
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "--child") == 0)
        return wmt_child_main(argc, argv);
    if (argc > 1 && (strcmp(argv[1], "--isolated") == 0 || strcmp(argv[1], "--junit") == 0))
        return wmt_isolated_main(argc, argv);
    /* --run-one ID: the child of an isolated run, exactly one test. */
    int exact = argc > 2 && strcmp(argv[1], "--run-one") == 0;
    if (exact)
        wmt_child_quiet();
    const char *filter = exact ? argv[2] : argc > 1 ? argv[1] : NULL;
    setvbuf(stdout, NULL, _IONBF, 0);
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 2;
#ifdef WMT_IMPL_NAME
    printf("implementation under test: %s, page size %zu\n", WMT_IMPL_NAME, wmt_page());
#else
    printf("winmmap %s, strategy %s, page size %zu\n", winmmap_version(), winmmap_strategy(),
           wmt_page());
#endif
    unsigned skipped = 0;
    const struct wmt_entry *self_test = exact ? wmt_selftest(filter) : NULL;
    if (self_test) {
        CU_pSuite st = CU_add_suite(self_test->suite, init_suite, clean_suite);
        CU_add_test(st, self_test->rule, self_test->fn);
    }
    CU_pSuite suite = NULL;
    const char *suite_name = NULL;
    for (size_t i = 0; i < wmt_ntests; i++) {
        const struct wmt_entry *t = &wmt_tests[i];
        if (!selected(t->id, filter, exact))
            continue;
        if (!suite_name || strcmp(suite_name, t->suite) != 0) {
            suite_name = t->suite;
            suite = CU_get_suite(t->suite);
            if (!suite)
                suite = CU_add_suite(t->suite, init_suite, clean_suite);
        }
        CU_pTest test = CU_add_test(suite, t->rule, t->fn);
        if (!test)
            return 2;
        const char *why = wmt_skip_reason(t);
        if (why) {
            printf("SKIP %s: %s\n", t->id, why);
            CU_set_test_active(test, CU_FALSE);
            skipped++;
        }
    }
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_set_fail_on_inactive(CU_FALSE);
    CU_basic_run_tests();
    unsigned run = CU_get_number_of_tests_run(), failed = CU_get_number_of_tests_failed();
    unsigned suites_failed = CU_get_number_of_suites_failed();
    /* CUnit records a failed assertion in a malloc'd list: when that malloc
     * fails (a test that exhausts memory), the test still counts as passed,
     * but the assertion count does not lie. */
    unsigned asserts_failed = CU_get_number_of_failures();
    if (asserts_failed && !failed)
        printf("\n%u assertions failed in tests reported as passed (out of memory in CUnit?)\n",
               asserts_failed);
    printf("\n%s: %u passed, %u failed, %u skipped\n", run_name(), run - failed, failed,
           skipped);
    CU_cleanup_registry();
    return failed || suites_failed || asserts_failed ? 1 : 0;
}
