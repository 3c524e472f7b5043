/* The suite's table of tests, shared by main.c (CUnit in one process) and
 * isolate.c (one child process per test, JUnit report). */
#ifndef WMT_RUNNER_H
#define WMT_RUNNER_H
#include "wmtest.h"

#include <CUnit/CUnit.h>

struct wmt_entry {
    const char *suite, *id, *rule;
    CU_TestFunc fn;
    wmt_skip_fn skip;
};

extern const struct wmt_entry wmt_tests[];
extern const size_t wmt_ntests;

/* Tests whose file was not built against the implementation under test
 * (generated wmt_unbuilt.c; ends with {NULL, NULL}). */
struct wmt_unbuilt {
    CU_TestFunc fn;
    const char *why;
};
extern const struct wmt_unbuilt wmt_unbuilt[];

/* Why test t does not run here (its file not built, or its skip predicate),
 * or NULL: both runners ask this. */
const char *wmt_skip_reason(const struct wmt_entry *t);

/* Runs every selected test in its own child process with a time-out. */
int wmt_isolated_main(int argc, char **argv);
/* The runner's own crash/hang checks, only with WMT_SELFTEST set. */
const struct wmt_entry *wmt_selftest(const char *id);
void wmt_child_quiet(void);
#endif
