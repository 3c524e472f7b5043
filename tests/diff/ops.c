/* wmdiff operations: the random generator (a pure function of the seed, so
 * both sides run the same calls), the one-line text form the traces and the
 * driver use, and the C form printed for a reproducer. */
#include "diff.h"

#include <stdlib.h>
#include <string.h>

uint64_t wd_rand(struct wd_rng *r)
{
    /* splitmix64: the same numbers on every platform. */
    uint64_t z = (r->s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static int below(struct wd_rng *r, int n) { return (int)(wd_rand(r) % (uint64_t)n); }

/* A page count, mostly small. */
static int count(struct wd_rng *r, int room)
{
    int n = below(r, 4) ? 1 + below(r, 4) : 1 + below(r, 12);
    return n > room ? room : n;
}

static int pick_prot(struct wd_rng *r)
{
    static const int prots[] = {0, 1, 1, 3, 3, 3, 3, 2};
    return prots[below(r, 8)];
}

/* Invalid-argument cases; each has its C form in wd_op_c. */
static const char *const bad_names[] = {
    "mmap len 0", "mmap MAP_FIXED unaligned addr", "mmap unknown prot bit",
    "mmap neither shared nor private", "mmap bad fd", "mmap negative offset",
    "mmap unaligned offset", "munmap unaligned", "munmap len 0", "munmap at 2^47",
    "mprotect unaligned", "mprotect unknown bit", "msync MS_ASYNC|MS_SYNC", "msync unaligned",
    "madvise unknown advice", "madvise len SIZE_MAX", "mremap unknown flag",
    "mremap new_len 0", "mremap MREMAP_FIXED without MAYMOVE", "mincore unaligned",
    "mincore vec NULL", "ftruncate 2^62", "ftruncate negative", "mmap len SIZE_MAX",
    "mmap shared RW of O_RDONLY fd", "mmap unknown flag",
};
enum { NBAD = sizeof bad_names / sizeof bad_names[0] };
const char *wd_bad_name(int sub) { return sub >= 0 && sub < NBAD ? bad_names[sub] : "?"; }
int wd_bad_count(void) { return NBAD; }

static void gen_one(struct wd_rng *r, struct wd_op *op)
{
    static const int weights[WD_NKINDS] = {
        [WD_MAP] = 22, [WD_UNMAP] = 9, [WD_PROT] = 12, [WD_SYNC] = 4, [WD_ADV] = 6,
        [WD_REMAP] = 8, [WD_LOCK] = 3, [WD_UNLOCK] = 2, [WD_CORE] = 3, [WD_TRUNC] = 6,
        [WD_WRITE] = 6, [WD_POKE] = 12, [WD_BAD] = 3,
    };
    int total = 0, k = 0;
    for (int i = 0; i < WD_NKINDS; i++)
        total += weights[i];
    int x = below(r, total);
    while (x >= weights[k])
        x -= weights[k++];
    memset(op, 0, sizeof *op);
    op->kind = k;
    op->a = below(r, WD_ARENA);
    op->n = count(r, WD_ARENA - op->a);
    switch (k) {
    case WD_MAP: {
        static const int srcs[] = {-1, -1, -1, 0, 0, 1, 2, 2, 3};
        op->prot = pick_prot(r);
        op->sh = 1 + below(r, 2);
        op->src = srcs[below(r, 9)];
        op->off = op->src < 0 ? 0 : below(r, 3) ? below(r, 4) : below(r, 10);
        op->fixed = below(r, 8) != 0;
        break;
    }
    case WD_PROT: op->prot = pick_prot(r); break;
    case WD_SYNC: { static const int f[] = {1, 4, 4, 6, 2}; op->fl = f[below(r, 5)]; break; }
    case WD_ADV: { static const int a[] = {0, 1, 2, 3, 4, 4, 8}; op->adv = a[below(r, 7)]; break; }
    case WD_REMAP:
        op->m = count(r, WD_ARENA - op->a);
        switch (below(r, 6)) {
        case 0: op->fl = 0; break;
        case 1: op->fl = 1; break;
        case 2: case 3: op->fl = 3; break;
        case 4: op->fl = 7; op->m = op->n; break;
        default: op->fl = 5; op->m = op->n; break;
        }
        op->d = below(r, WD_ARENA - op->m + 1);
        break;
    case WD_TRUNC:
        op->src = below(r, WD_FILES);
        op->n = below(r, 3) ? below(r, 7) : below(r, WD_MAXFILEPG);
        break;
    case WD_WRITE:
        op->src = below(r, WD_FILES);
        op->off = below(r, 8);
        op->n = 1 + below(r, 3);
        op->v = 1 + below(r, 255);
        break;
    case WD_POKE: op->v = 1 + below(r, 255); break;
    case WD_BAD: op->sub = below(r, NBAD); break;
    default: break;
    }
}

void wd_gen(uint64_t seed, int n, struct wd_op *ops)
{
    struct wd_rng r = {seed * 0x2545f4914f6cdd1dull + 1};
    int i = 0;
    /* Files start with some pages, so mappings have something to show. */
    for (int f = 0; f < WD_FILES && i < n; f++) {
        ops[i++] = (struct wd_op){.kind = WD_TRUNC, .src = f, .n = 1 + below(&r, 6)};
        if (i < n)
            ops[i++] = (struct wd_op){.kind = WD_WRITE, .src = f, .off = 0, .n = 1 + below(&r, 4),
                                      .v = 0x10 * (f + 1) + below(&r, 16)};
    }
    for (; i < n; i++)
        gen_one(&r, &ops[i]);
}

/* Field names per kind, in text order. */
static const char *const kind_names[WD_NKINDS] = {
    "MAP", "UNMAP", "PROT", "SYNC", "ADV", "REMAP", "LOCK", "UNLOCK", "CORE", "TRUNC", "WRITE", "POKE", "BAD",
};
static const char *const kind_fields[WD_NKINDS] = {
    "a n prot sh src off fixed", "a n", "a n prot", "a n fl", "a n adv", "a n m fl d", "a n", "a n",
    "a n", "src n", "src off n v", "a n v", "sub",
};

static int *field(struct wd_op *op, const char *name, size_t len)
{
#define F(x) if (len == strlen(#x) && !strncmp(name, #x, len)) return &op->x;
    F(a) F(n) F(m) F(d) F(prot) F(sh) F(src) F(off) F(fixed) F(fl) F(adv) F(v) F(sub)
#undef F
    return NULL;
}

void wd_op_text(const struct wd_op *op, char *buf, size_t len)
{
    struct wd_op tmp = *op;
    size_t used = (size_t)snprintf(buf, len, "%s", kind_names[op->kind]);
    const char *f = kind_fields[op->kind];
    while (*f && used < len) {
        size_t fl = strcspn(f, " ");
        used += (size_t)snprintf(buf + used, len - used, " %.*s=%d", (int)fl, f, *field(&tmp, f, fl));
        f += fl;
        f += *f == ' ';
    }
}

int wd_op_parse(const char *line, struct wd_op *op)
{
    memset(op, 0, sizeof *op);
    size_t kl = strcspn(line, " \n");
    op->kind = -1;
    for (int k = 0; k < WD_NKINDS; k++)
        if (strlen(kind_names[k]) == kl && !strncmp(line, kind_names[k], kl))
            op->kind = k;
    if (op->kind < 0)
        return -1;
    const char *p = line + kl;
    while (*p == ' ') {
        p++;
        size_t nl = strcspn(p, "=");
        int *fp = field(op, p, nl);
        if (!fp || p[nl] != '=')
            return -1;
        *fp = atoi(p + nl + 1);
        p += nl + 1 + strcspn(p + nl + 1, " \n");
    }
    return 0;
}

static const char *prot_c(int prot)
{
    static const char *const names[] = {"PROT_NONE", "PROT_READ", "PROT_WRITE", "PROT_READ | PROT_WRITE"};
    return names[prot & 3];
}

static const char *remap_flags_c(int fl)
{
    switch (fl) {
    case 0: return "0";
    case 1: return "MREMAP_MAYMOVE";
    case 3: return "MREMAP_MAYMOVE | MREMAP_FIXED";
    case 5: return "MREMAP_MAYMOVE | MREMAP_DONTUNMAP";
    case 7: return "MREMAP_MAYMOVE | MREMAP_FIXED | MREMAP_DONTUNMAP";
    default: return "?";
    }
}

static const char *const adv_c[] = {"MADV_NORMAL", "MADV_RANDOM", "MADV_SEQUENTIAL", "MADV_WILLNEED",
                                    "MADV_DONTNEED", "5", "6", "7", "MADV_FREE"};
static const char *const sync_c[] = {"0", "MS_ASYNC", "MS_INVALIDATE", "MS_ASYNC | MS_INVALIDATE",
                                     "MS_SYNC", "5", "MS_SYNC | MS_INVALIDATE"};

static void bad_c(int sub, FILE *o)
{
    const char *s = "";
    switch (sub) {
    case 0: s = "mmap(NULL, 0, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)"; break;
    case 1: s = "mmap(A + 1, P, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0)"; break;
    case 2: s = "mmap(NULL, P, PROT_READ | 0x100, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)"; break;
    case 3: s = "mmap(NULL, P, PROT_READ, MAP_ANONYMOUS, -1, 0)"; break;
    case 4: s = "mmap(NULL, P, PROT_READ, MAP_PRIVATE, -1, 0)"; break;
    case 5: s = "mmap(NULL, P, PROT_READ, MAP_PRIVATE, fd[0], -(off_t)P)"; break;
    case 6: s = "mmap(NULL, P, PROT_READ, MAP_PRIVATE, fd[0], 1)"; break;
    case 7: s = "munmap(A + 1, P)"; break;
    case 8: s = "munmap(A, 0)"; break;
    case 9: s = "munmap((void *)((uintptr_t)1 << 47), P)"; break;
    case 10: s = "mprotect(A + 1, P, PROT_READ)"; break;
    case 11: s = "mprotect(A, P, PROT_READ | 0x100)"; break;
    case 12: s = "msync(A, P, MS_ASYNC | MS_SYNC)"; break;
    case 13: s = "msync(A + 1, P, MS_ASYNC)"; break;
    case 14: s = "madvise(A, P, 999)"; break;
    case 15: s = "madvise(A, SIZE_MAX, MADV_NORMAL)"; break;
    case 16: s = "mremap(A, P, P, 0x100)"; break;
    case 17: s = "mremap(A, P, 0, MREMAP_MAYMOVE)"; break;
    case 18: s = "mremap(A, P, P, MREMAP_FIXED, A + 2 * P)"; break;
    case 19: s = "mincore(A + 1, P, vec)"; break;
    case 20: s = "mincore(A, P, NULL)"; break;
    case 21: s = "ftruncate(fd[0], (off_t)1 << 62)"; break;
    case 22: s = "ftruncate(fd[0], -1)"; break;
    case 23: s = "mmap(NULL, SIZE_MAX, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)"; break;
    case 24: s = "mmap(NULL, P, PROT_READ | PROT_WRITE, MAP_SHARED, fd[3], 0)"; break;
    case 25: s = "mmap(NULL, P, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | 0x40000000, -1, 0)"; break;
    }
    fprintf(o, "r = (intptr_t)%s; /* %s */", s, wd_bad_name(sub));
}

void wd_op_c(const struct wd_op *op, FILE *o)
{
    char src[16];
    snprintf(src, sizeof src, op->src < 0 ? "-1" : "fd[%d]", op->src);
    switch (op->kind) {
    case WD_MAP:
        fprintf(o, "p = mmap(%s%d * P, %d * P, %s, %s%s%s, %s, %d * (off_t)P);",
                op->fixed ? "A + " : "NULL /* ", op->a, op->n, prot_c(op->prot),
                op->sh == 1 ? "MAP_SHARED" : "MAP_PRIVATE", op->src < 0 ? " | MAP_ANONYMOUS" : "",
                op->fixed ? " | MAP_FIXED" : "", src, op->off);
        if (!op->fixed)
            fprintf(o, " /* addr NULL (the hint comment above is the arena page) */");
        break;
    case WD_UNMAP: fprintf(o, "r = munmap(A + %d * P, %d * P);", op->a, op->n); break;
    case WD_PROT: fprintf(o, "r = mprotect(A + %d * P, %d * P, %s);", op->a, op->n, prot_c(op->prot)); break;
    case WD_SYNC: fprintf(o, "r = msync(A + %d * P, %d * P, %s);", op->a, op->n, sync_c[op->fl]); break;
    case WD_ADV: fprintf(o, "r = madvise(A + %d * P, %d * P, %s);", op->a, op->n, adv_c[op->adv]); break;
    case WD_REMAP:
        fprintf(o, "p = mremap(A + %d * P, %d * P, %d * P, %s", op->a, op->n, op->m, remap_flags_c(op->fl));
        if (op->fl & 2)
            fprintf(o, ", A + %d * P", op->d);
        fprintf(o, ");");
        break;
    case WD_LOCK: fprintf(o, "r = mlock(A + %d * P, %d * P);", op->a, op->n); break;
    case WD_UNLOCK: fprintf(o, "r = munlock(A + %d * P, %d * P);", op->a, op->n); break;
    case WD_CORE: fprintf(o, "r = mincore(A + %d * P, %d * P, vec);", op->a, op->n); break;
    case WD_TRUNC: fprintf(o, "r = ftruncate(fd[%d], %d * (off_t)P);", op->src, op->n); break;
    case WD_WRITE:
        fprintf(o, "memset(buf, 0x%02x, %d * P); lseek(fd[%d], %d * (off_t)P, SEEK_SET); r = write(fd[%d], buf, %d * P);",
                op->v, op->n, op->src, op->off, op->src, op->n);
        break;
    case WD_POKE:
        fprintf(o, "for (int i = %d; i < %d; i++) memset(A + i * P, 0x%02x, P); /* faults: see trace */",
                op->a, op->a + op->n, op->v);
        break;
    case WD_BAD: bad_c(op->sub, o); break;
    }
}
