/* wmdiff leak accounting (Windows): handles in use, probed one value at a
 * time because GetProcessHandleCount answers 0 under Wine, and heap bytes in
 * use over every process heap.  Natively both are -1 (not compared). */
#include "diff.h"

#ifdef _WIN32
#include <windows.h>

long wd_handles(void)
{
    long n = 0;
    /* Handle values are multiples of 4; a process with a few hundred
     * handles stays far below this bound. */
    for (uintptr_t h = 4; h < 4 * 16384; h += 4) {
        DWORD flags;
        if (GetHandleInformation((HANDLE)h, &flags))
            n++;
    }
    return n;
}

long long wd_heap(void)
{
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
