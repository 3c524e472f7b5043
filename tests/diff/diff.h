/* wmdiff: random sequences of mapping calls, run natively (the oracle) and
 * against winmmap, traced in page units so the two traces compare line by
 * line (tests/diff/README.md).  This header is shared by the generator
 * (ops.c), the runner (run.c), the probes (probe.c) and leak accounting
 * (leak.c). */
#ifndef WMDIFF_H
#define WMDIFF_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <setjmp.h>

/* The arena every fixed operation lands in, in pages. */
#define WD_ARENA 40
/* Files: f0 and f1 are plain files, f2 a shm_open object; src 3 is f0
 * opened O_RDONLY; src -1 is anonymous memory. */
#define WD_FILES 3
#define WD_MAXFILEPG 24

enum wd_kind {
    WD_MAP, WD_UNMAP, WD_PROT, WD_SYNC, WD_ADV, WD_REMAP, WD_LOCK, WD_UNLOCK,
    WD_CORE, WD_TRUNC, WD_WRITE, WD_POKE, WD_BAD, WD_NKINDS
};

/* One operation.  Fields by kind (all in pages):
 *   MAP a n prot sh(1 shared/2 private) src off fixed(0: addr NULL)
 *   UNMAP/LOCK/UNLOCK/CORE a n;  PROT a n prot;  SYNC a n fl;  ADV a n adv
 *   REMAP a n m(new len) fl d(dest, with MREMAP_FIXED)
 *   TRUNC src n;  WRITE src off n v;  POKE a n v (memset each page to v)
 *   BAD sub (an invalid-argument case, see ops.c) */
struct wd_op {
    int kind;
    int a, n, m, d, prot, sh, src, off, fixed, fl, adv, v, sub;
};

struct wd_rng { uint64_t s; };
uint64_t wd_rand(struct wd_rng *r);

/* ops.c: generation, text form (one line) and the C form. */
void wd_gen(uint64_t seed, int count, struct wd_op *ops);
void wd_op_text(const struct wd_op *op, char *buf, size_t len);
int wd_op_parse(const char *line, struct wd_op *op);
void wd_op_c(const struct wd_op *op, FILE *out);
const char *wd_bad_name(int sub);
int wd_bad_count(void);

/* run.c: one sequence, its trace to out.  wprobe: also probe writes of
 * every page after every operation.  Returns 0, or 3 when a signal was
 * raised inside a library call (the trace says so; the run stops). */
int wd_run(const struct wd_op *ops, int count, int wprobe, FILE *out, const char *tag);

/* probe.c: fault class of reading / writing one page: '.' none,
 * 'M' SEGV_MAPERR, 'A' SEGV_ACCERR, 'B' SIGBUS, '?' other.  The read probe
 * also returns the page's summary byte (uniform pages) or -1 (mixed). */
void wd_probe_init(void);
char wd_probe_read(const unsigned char *p, size_t len, int *summary);
char wd_probe_write(unsigned char *p, size_t len, int v);
/* A signal raised inside a library call (wd_armed set) jumps to wd_cenv
 * with the signal number; Linux never raises one there. */
extern volatile int wd_armed;
extern sigjmp_buf wd_cenv;
const char *wd_errno_name(int e);

/* leak.c: handles and heap bytes in use (Windows); -1 natively. */
long wd_handles(void);
long long wd_heap(void);
/* The heap's busy blocks now (NULL natively); wd_heap_report_new prints up to
 * max blocks that were not in it (address, size, first bytes) and a count. */
void *wd_heap_snapshot(void);
void wd_heap_report_new(void *snapshot, FILE *out, int max);
void wd_heap_forget(void *snapshot);

#endif
