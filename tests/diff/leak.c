/* wmdiff leak accounting (Windows): handles in use, probed one value at a
 * time because GetProcessHandleCount answers 0 under Wine, and heap bytes in
 * use over every process heap (less Wine's cache of empty block groups).
 * Natively both are -1 (not compared). */
#include "diff.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#ifdef _WIN32
#include <windows.h>

long wd_handles(void)
{
    if (getenv("WMDIFF_NOLEAK"))
        return -1;
    /* Handle values are multiples of 4, handed out lowest free first.  The
     * first count looks far; later ones up to 1 024 values past the highest
     * live handle seen (each probe is a wineserver call). */
    static uintptr_t bound = 4 * 16384;
    uintptr_t top = 0;
    long n = 0;
    for (uintptr_t h = 4; h < bound; h += 4) {
        DWORD flags;
        if (GetHandleInformation((HANDLE)h, &flags)) {
            n++;
            top = h;
        }
    }
    if (top + 4 * 1024 < bound)
        bound = top + 4 * 1024;
    return n;
}

/* Wine 10's heap (its low-fragmentation front end) allocates blocks of 31
 * equal small blocks as "groups", heap blocks of their own that HeapWalk
 * reports busy, and keeps groups that became wholly free cached per thread
 * affinity and per size: a bounded cache whose size depends on how threads
 * interleaved, not memory anyone holds.  Such a group: 24 bytes of header
 * (list entry, free bits, affinity) then 31 blocks; free bits 0x7fffffff
 * (all 31 free, the group not handed back). */
static bool wine_free_lfh_group(const PROCESS_HEAP_ENTRY *e)
{
    static int wine = -1;
    if (wine < 0)
        wine = GetProcAddress(GetModuleHandleA("ntdll.dll"), "wine_get_version") != NULL;
    if (!wine || e->cbData < 24 + 31 * 16 || (e->cbData - 24) % 31 != 0)
        return false;
    LONG free_bits;
    memcpy(&free_bits, (const char *)e->lpData + 16, sizeof free_bits);
    return free_bits == 0x7fffffff;
}

static bool in_use(const PROCESS_HEAP_ENTRY *e)
{
    return (e->wFlags & PROCESS_HEAP_ENTRY_BUSY) && !wine_free_lfh_group(e);
}

/* Call visit for every block in use in every process heap. */
static void walk_heaps(void (*visit)(const PROCESS_HEAP_ENTRY *e, void *ctx), void *ctx)
{
    HANDLE heaps[64];
    DWORD n = GetProcessHeaps(64, heaps);
    for (DWORD h = 0; h < n && h < 64; h++) {
        PROCESS_HEAP_ENTRY e = {0};
        HeapLock(heaps[h]);
        while (HeapWalk(heaps[h], &e))
            if (in_use(&e))
                visit(&e, ctx);
        HeapUnlock(heaps[h]);
    }
}

static void add_size(const PROCESS_HEAP_ENTRY *e, void *ctx)
{
    *(long long *)ctx += e->cbData;
}

long long wd_heap(void)
{
    if (getenv("WMDIFF_NOLEAK"))
        return -1;
    long long total = 0;
    walk_heaps(add_size, &total);
    return total;
}

/* The blocks in use, kept in memory of their own (so taking the snapshot
 * does not change the heap). */
enum { MAX_BLOCKS = 1 << 20 };
struct snapshot {
    size_t n;
    struct {
        const void *at;
        unsigned long size;
    } b[MAX_BLOCKS];
};

static void add_block(const PROCESS_HEAP_ENTRY *e, void *ctx)
{
    struct snapshot *s = ctx;
    if (s->n < MAX_BLOCKS) {
        s->b[s->n].at = e->lpData;
        s->b[s->n++].size = e->cbData;
    }
}

static struct snapshot *heap_blocks(void)
{
    struct snapshot *s = VirtualAlloc(NULL, sizeof *s, MEM_RESERVE | MEM_COMMIT, PAGE_READWRITE);
    if (s)
        walk_heaps(add_block, s);
    return s;
}

void *wd_heap_snapshot(void)
{
    return getenv("WMDIFF_NOLEAK") ? NULL : heap_blocks();
}

void wd_heap_report_new(void *snapshot, FILE *out, int max)
{
    const struct snapshot *old = snapshot;
    struct snapshot *now = old ? heap_blocks() : NULL;
    if (!now)
        return;
    int shown = 0;
    long long total = 0;
    size_t count = 0;
    for (size_t i = 0; i < now->n; i++) {
        bool known = false;
        for (size_t j = 0; j < old->n && !known; j++)
            known = old->b[j].at == now->b[i].at && old->b[j].size == now->b[i].size;
        if (known)
            continue;
        count++;
        total += now->b[i].size;
        if (shown++ < max) {
            fprintf(out, "  new heap block %p, %lu bytes:", now->b[i].at, now->b[i].size);
            const unsigned char *p = now->b[i].at;
            for (unsigned long k = 0; k < now->b[i].size && k < 32; k++)
                fprintf(out, " %02x", p[k]);
            fprintf(out, "\n");
        }
    }
    fprintf(out, "  %zu heap blocks not in the snapshot, %lld bytes\n", count, total);
    VirtualFree(now, 0, MEM_RELEASE);
}

void wd_heap_forget(void *snapshot)
{
    if (snapshot)
        VirtualFree(snapshot, 0, MEM_RELEASE);
}
#else
long wd_handles(void) { return -1; }
long long wd_heap(void) { return -1; }
void *wd_heap_snapshot(void) { return NULL; }
void wd_heap_report_new(void *snapshot, FILE *out, int max) { (void)snapshot, (void)out, (void)max; }
void wd_heap_forget(void *snapshot) { (void)snapshot; }
#endif
