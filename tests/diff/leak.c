/* wmdiff leak accounting (Windows): handles in use, probed one value at a
 * time because GetProcessHandleCount answers 0 under Wine, and heap bytes in
 * use over every process heap.  Natively both are -1 (not compared). */
#include "diff.h"

#include <stdlib.h>

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

long long wd_heap(void)
{
    if (getenv("WMDIFF_NOLEAK"))
        return -1;
    HANDLE heaps[64];
    DWORD n = GetProcessHeaps(64, heaps);
    long long total = 0;
    for (DWORD h = 0; h < n && h < 64; h++) {
        PROCESS_HEAP_ENTRY e = {0};
        HeapLock(heaps[h]);
        while (HeapWalk(heaps[h], &e))
            if (e.wFlags & PROCESS_HEAP_ENTRY_BUSY)
                total += e.cbData;
        HeapUnlock(heaps[h]);
    }
    return total;
}
#else
long wd_handles(void) { return -1; }
long long wd_heap(void) { return -1; }
#endif
