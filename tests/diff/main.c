/* wmdiff: differential sequences of mapping calls (tests/diff/README.md).
 *   wmdiff gen SEED COUNT            print the generated operations
 *   wmdiff run FILE [w]              run the operations in FILE, print the trace
 *   wmdiff seeds FROM TO COUNT [w]   generate and run seeds FROM..TO-1
 *   wmdiff c FILE                    print the operations as C statements
 * "w" also probes every page for writes after every operation (writing its
 * first byte back, which makes private pages the process's own copies). */
#include "diff.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <winmmap.h>

void wd_setup(void);

/* Every kind of operation once, before the leak baseline: the library's
 * one-time allocations (fault handler, shm directory, ...) are not leaks. */
static const char *const warmup[] = {
    "TRUNC src=0 n=3", "TRUNC src=1 n=2", "TRUNC src=2 n=2", "WRITE src=0 off=0 n=2 v=1",
    "MAP a=0 n=4 prot=3 sh=2 src=-1 off=0 fixed=1", "POKE a=0 n=2 v=2", "PROT a=1 n=1 prot=0",
    "POKE a=1 n=1 v=3", "PROT a=1 n=1 prot=3", "MAP a=4 n=3 prot=3 sh=1 src=0 off=0 fixed=1",
    "MAP a=8 n=2 prot=3 sh=2 src=1 off=0 fixed=1", "MAP a=10 n=2 prot=3 sh=1 src=2 off=0 fixed=1",
    "POKE a=4 n=8 v=4", "SYNC a=4 n=3 fl=4", "ADV a=4 n=3 adv=4", "LOCK a=0 n=2", "UNLOCK a=0 n=2",
    "CORE a=0 n=12", "REMAP a=0 n=2 m=3 fl=3 d=20", "UNMAP a=5 n=1", "TRUNC src=0 n=1",
    "MAP a=30 n=2 prot=1 sh=2 src=0 off=0 fixed=0", "UNMAP a=0 n=40",
};
void wd_teardown(void);

enum { MAXOPS = 4096 };
static struct wd_op ops[MAXOPS];

static int load(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        perror(path);
        exit(2);
    }
    char line[512];
    int n = 0;
    while (n < MAXOPS && fgets(line, sizeof line, f)) {
        if (line[0] == '#' || line[0] == '\n')
            continue;
        if (wd_op_parse(line, &ops[n]) != 0) {
            fprintf(stderr, "wmdiff: bad operation: %s", line);
            exit(2);
        }
        n++;
    }
    fclose(f);
    return n;
}

static void warm_up(void)
{
    enum { N = sizeof warmup / sizeof warmup[0] };
    struct wd_op w[N];
    for (int i = 0; i < N; i++)
        wd_op_parse(warmup[i], &w[i]);
    FILE *null = fopen(getenv("WMDIFF_NULL") ? getenv("WMDIFF_NULL") : "wmdiff-warmup.txt", "w");
    if (!null || wd_run(w, N, 0, null, "warmup") != 0) {
        printf("# warm-up failed\n");
        fflush(stdout);
        _exit(2);
    }
    fclose(null);
    remove("wmdiff-warmup.txt");
}

int main(int argc, char **argv)
{
    if (argc >= 4 && !strcmp(argv[1], "gen")) {
        int n = atoi(argv[3]);
        n = n > MAXOPS ? MAXOPS : n;
        wd_gen(strtoull(argv[2], NULL, 0), n, ops);
        char text[160];
        for (int i = 0; i < n; i++) {
            wd_op_text(&ops[i], text, sizeof text);
            printf("%s\n", text);
        }
        return 0;
    }
    if (argc >= 3 && !strcmp(argv[1], "c")) {
        int n = load(argv[2]);
        for (int i = 0; i < n; i++) {
            printf("    ");
            wd_op_c(&ops[i], stdout);
            printf("\n");
        }
        return 0;
    }
    int wprobe = 0, status = 0;
    if (argc >= 3 && !strcmp(argv[1], "run")) {
        wprobe = argc >= 4 && !strcmp(argv[3], "w");
        int n = load(argv[2]);
        printf("# wmdiff page=%ld strategy=%s\n", (long)sysconf(_SC_PAGESIZE), winmmap_strategy());
        fflush(stdout);
        wd_setup();
        warm_up();
        status = wd_run(ops, n, wprobe, stdout, "r");
    } else if (argc >= 5 && !strcmp(argv[1], "seeds")) {
        unsigned long long from = strtoull(argv[2], NULL, 0), to = strtoull(argv[3], NULL, 0);
        int n = atoi(argv[4]);
        n = n > MAXOPS ? MAXOPS : n;
        wprobe = argc >= 6 && !strcmp(argv[5], "w");
        printf("# wmdiff page=%ld strategy=%s\n", (long)sysconf(_SC_PAGESIZE), winmmap_strategy());
        fflush(stdout);
        wd_setup();
        warm_up();
        for (unsigned long long s = from; s < to && status == 0; s++) {
            char tag[32];
            snprintf(tag, sizeof tag, "s%llu", s);
            wd_gen(s, n, ops);
            status = wd_run(ops, n, wprobe, stdout, tag);
        }
    } else {
        fprintf(stderr, "usage: wmdiff gen SEED COUNT | run FILE [w] | seeds FROM TO COUNT [w] | c FILE\n");
        return 2;
    }
    if (status == 0)
        wd_teardown();
    /* After a signal inside a call the library may hold its lock: leave
     * without touching it again. */
    fflush(stdout);
    _exit(status);
}
