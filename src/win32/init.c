/* Engine state, its lock, and the one-time choice of placement strategy. */
#include "internal.h"

#include <stdlib.h>
#include <string.h>

struct wm_engine wm_engine = {.lock = SRWLOCK_INIT};

static INIT_ONCE once = INIT_ONCE_STATIC_INIT;
static DWORD lock_owner; /* thread id holding the lock exclusively, 0 if none */

static void on_dup(struct wm_region *copy)
{
    wm_backing_hold(copy->backing);
}

/* Wine 8 exports VirtualAlloc2 but refuses MEM_RESERVE_PLACEHOLDER, so the
 * functions being present is not enough: try one placeholder round trip. */
static bool placeholders_work(void)
{
    if (!wm_sys.VirtualAlloc2 || !wm_sys.MapViewOfFile3 || !wm_sys.UnmapViewOfFile2)
        return false;
    size_t len = 2 * 65536;
    void *p = wm_sys.VirtualAlloc2(GetCurrentProcess(), NULL, len,
                                   MEM_RESERVE | MEM_RESERVE_PLACEHOLDER, PAGE_NOACCESS, NULL, 0);
    if (!p)
        return false;
    bool ok = VirtualFree(p, 4096, MEM_RELEASE | MEM_PRESERVE_PLACEHOLDER) != 0;
    if (ok)
        ok = VirtualFree(p, len, MEM_RELEASE | MEM_COALESCE_PLACEHOLDERS) != 0;
    VirtualFree(p, 0, MEM_RELEASE);
    return ok;
}

static BOOL CALLBACK init_once(PINIT_ONCE o, PVOID param, PVOID *ctx)
{
    (void)o, (void)param, (void)ctx;
    wm_sys_load();
    const char *want = getenv("WINMMAP_STRATEGY");
    bool exact_ok = placeholders_work();
    if (want && strcmp(want, "legacy") == 0)
        wm_engine.place = &wm_place_legacy;
    else if (want && strcmp(want, "exact") == 0 && exact_ok)
        wm_engine.place = &wm_place_exact;
    else
        wm_engine.place = exact_ok ? &wm_place_exact : &wm_place_legacy;
    wm_engine.page = wm_engine.place->page;
    wm_engine.regions.on_dup = on_dup;
    SYSTEM_INFO si;
    GetSystemInfo(&si);
    wm_engine.max_address = (uintptr_t)si.lpMaximumApplicationAddress;
    HMODULE ntdll = GetModuleHandleA("ntdll.dll");
    bool wine = ntdll && GetProcAddress(ntdll, "wine_get_version");
    wm_engine.reserve_unenforced = wine;
    wm_engine.placeholder_free_list_bug = wine;
    wm_fault_init();
    return TRUE;
}

void wm_init(void)
{
    InitOnceExecuteOnce(&once, init_once, NULL, NULL);
}

void wm_lock_exclusive(void)
{
    AcquireSRWLockExclusive(&wm_engine.lock);
    lock_owner = GetCurrentThreadId();
}

void wm_unlock_exclusive(void)
{
    lock_owner = 0;
    ReleaseSRWLockExclusive(&wm_engine.lock);
}

void wm_lock_shared(void)
{
    AcquireSRWLockShared(&wm_engine.lock);
}

void wm_unlock_shared(void)
{
    ReleaseSRWLockShared(&wm_engine.lock);
}

bool wm_lock_held_by_me(void)
{
    return lock_owner == GetCurrentThreadId();
}
